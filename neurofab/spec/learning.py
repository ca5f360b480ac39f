"""On-chip learning formats: traces, plastic synapses, rules, homeostasis.

``docs/numerics.md`` ("Learning") is the prose twin of this module: every constant below
is restated there with the equation that uses it. A core is built with or without
learning (``rtl.core.NeuronCore(learning=True)``); a learning core stores
``PlasticSynapse`` words in its ``SYNAPSE`` region and has the regions ``PRE``, ``POST``,
``RULE`` and ``HOMEO`` and the control registers ``TRACES``, ``MODULATOR`` and
``LEARN_END`` (``neurofab.spec.core``).
"""

from amaranth import signed, unsigned
from amaranth.lib import data, enum

from .core import (CHANNEL_WIDTH, DECAY_WIDTH, DELAY_WIDTH, NEURON_ADDR_WIDTH, RULE_COUNT,
                   WEIGHT_WIDTH)

__all__ = [
    "TRACE_WIDTH", "TRACE_MAX", "FRAC_BITS", "WFINE_WIDTH",
    "AMP_WIDTH", "AMP_MAX", "ELIG_WIDTH", "ELIG_MIN", "ELIG_MAX",
    "MOD_WIDTH", "MOD_MIN", "MOD_MAX", "M_SHIFT_WIDTH", "M_SHIFT_MAX",
    "THETA_WIDTH", "THETA_MIN", "THETA_MAX", "THETA_FRAC_BITS", "HOMEO_STEP_MAX",
    "RULE_INDEX_WIDTH", "SOURCE_WIDTH",
    "RuleKind", "TraceMode", "Traces", "Rule", "Homeo", "PreTrace", "PostTrace",
    "PlasticSynapse", "RULE_FIELDS", "HOMEO_FIELDS",
]

# --- traces ------------------------------------------------------------------------
#: Pre- and post-synaptic traces are unsigned 12-bit: 0 .. 4095.
TRACE_WIDTH = 12
TRACE_MAX = (1 << TRACE_WIDTH) - 1

# --- weights -----------------------------------------------------------------------
#: A plastic synapse keeps 8 fraction bits below its 8-bit weight: the fine weight
#: ``wf = weight * 256 + frac`` (signed 16 bits) is what learning changes; the integrate
#: phase uses ``weight = wf >> 8`` (floor), exactly as a static synapse's weight.
FRAC_BITS = 8
WFINE_WIDTH = WEIGHT_WIDTH + FRAC_BITS

#: STDP amplitudes ``a_plus``, ``a_minus`` (unsigned 16-bit): a pair changes ``wf`` by
#: ``(a * trace) >> TRACE_WIDTH``.
AMP_WIDTH = 16
AMP_MAX = (1 << AMP_WIDTH) - 1

#: Eligibility trace of a three-factor synapse: signed 16-bit, in ``wf`` units.
ELIG_WIDTH = 16
ELIG_MIN = -(1 << (ELIG_WIDTH - 1))
ELIG_MAX = (1 << (ELIG_WIDTH - 1)) - 1

#: The modulator (reward) register ``Ctrl.MODULATOR``: signed 16-bit.
MOD_WIDTH = 16
MOD_MIN = -(1 << (MOD_WIDTH - 1))
MOD_MAX = (1 << (MOD_WIDTH - 1)) - 1
#: A three-factor rule changes ``wf`` by ``(M * e) >> m_shift`` each step.
M_SHIFT_WIDTH = 5
M_SHIFT_MAX = 31

# --- homeostasis -------------------------------------------------------------------
#: Each neuron's homeostatic offset ``theta``: signed 16-bit with 4 fraction bits (in units
#: of the kernel's threshold field / 16): offsets of ±2048 field units at 1/16 resolution.
THETA_WIDTH = 16
THETA_MIN = -(1 << (THETA_WIDTH - 1))
THETA_MAX = (1 << (THETA_WIDTH - 1)) - 1
THETA_FRAC_BITS = 4
#: ``up`` and ``down`` steps of ``theta`` (unsigned 16-bit).
HOMEO_STEP_MAX = (1 << 16) - 1

# --- rules -------------------------------------------------------------------------
#: Rules per core (``RULE_COUNT``, ``neurofab.spec.core``). Rule 0 is "static": a synapse
#: with ``rule = 0`` never learns.
RULE_INDEX_WIDTH = 2
assert RULE_COUNT == 1 << RULE_INDEX_WIDTH
#: The source (CSR row) of a plastic synapse is stored with it.
SOURCE_WIDTH = max(NEURON_ADDR_WIDTH, CHANNEL_WIDTH) + 1


class RuleKind(enum.Enum, shape=1):
    """What a rule's STDP term changes."""
    STDP = 0     #: the weight, directly (pair STDP)
    RSTDP = 1    #: the synapse's eligibility trace; the modulator turns it into weight


class TraceMode(enum.Enum, shape=1):
    """How a spike changes a trace."""
    ALL_TO_ALL = 0   #: ``x = min(x + amp, TRACE_MAX)`` — every earlier spike counts
    NEAREST = 1      #: ``x = amp`` — only the nearest spike counts


#: Core-wide trace parameters (``Ctrl.TRACES``): decays in 1/4096 lost per step, the
#: amplitude a spike adds (or sets), the mode.
Traces = data.StructLayout({
    "pre_decay": unsigned(DECAY_WIDTH),
    "pre_amp": unsigned(TRACE_WIDTH),
    "post_decay": unsigned(DECAY_WIDTH),
    "post_amp": unsigned(TRACE_WIDTH),
    "mode": TraceMode,
})

#: One word of the rule table (region ``RULE``; index = the synapses' ``rule``).
Rule = data.StructLayout({
    "kind": RuleKind,
    "a_plus": unsigned(AMP_WIDTH),
    "a_minus": unsigned(AMP_WIDTH),
    "w_min": signed(WEIGHT_WIDTH),
    "w_max": signed(WEIGHT_WIDTH),
    "elig_decay": unsigned(DECAY_WIDTH),
    "m_shift": unsigned(M_SHIFT_WIDTH),
})
#: Names of the rule parameters, in ``Rule`` order.
RULE_FIELDS = tuple(name for name, _ in Rule)

#: One word of the homeostasis table (region ``HOMEO``; index = profile): ``theta`` rises
#: by ``up`` on a spike and falls by ``down`` every step, inside ``[lo, hi]``.
Homeo = data.StructLayout({
    "up": unsigned(16),
    "down": unsigned(16),
    "lo": signed(THETA_WIDTH),
    "hi": signed(THETA_WIDTH),
})
HOMEO_FIELDS = tuple(name for name, _ in Homeo)

#: One word of region ``PRE`` (index = source): the pre-synaptic trace after the step.
PreTrace = data.StructLayout({
    "x": unsigned(TRACE_WIDTH),
})

#: One word of region ``POST`` (index = neuron): ``y``, the post-synaptic trace *before*
#: this step's spike (decayed), ``fired``: the neuron fired in the step, ``theta``: the
#: homeostatic offset.
PostTrace = data.StructLayout({
    "y": unsigned(TRACE_WIDTH),
    "fired": unsigned(1),
    "theta": signed(THETA_WIDTH),
})

#: One synapse of a learning core: the static ``Synapse`` fields first (same offsets),
#: then the rule index, the weight's fraction bits, the source and the eligibility.
PlasticSynapse = data.StructLayout({
    "target": unsigned(NEURON_ADDR_WIDTH),
    "weight": signed(WEIGHT_WIDTH),
    "delay": unsigned(DELAY_WIDTH),
    "rule": unsigned(RULE_INDEX_WIDTH),
    "frac": unsigned(FRAC_BITS),
    "source": unsigned(SOURCE_WIDTH),
    "elig": signed(ELIG_WIDTH),
})

