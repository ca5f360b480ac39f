"""ALIF kernel formats: per-neuron state, profile, legal ranges.

``docs/numerics.md``, "Kernel: alif", states the arithmetic.

Adaptive LIF (LSNN, Bellec et al. 2018; e-prop ALIF, Bellec et al. 2020) on top of the
CUBA-LIF arithmetic of ``docs/numerics.md``: a per-neuron adaptation variable ``a``
decays with its own factor every step and jumps on every spike; the neuron compares
``v`` with the adapted threshold ::

    theta = min(threshold + (a >> (ADAPT_FRAC_BITS + adapt_shift)), STATE_MAX)

``a`` is unsigned, 24 bits: a 16-bit integer part in units of ``2**-adapt_shift`` of the
``v`` unit and ``ADAPT_FRAC_BITS`` = 8 fraction bits that only its decay sees, so that
rounding the decay toward zero (at most one fraction unit per step) stays negligible
even for adaptation time constants of thousands of steps. A profile chooses, per
population, a fine integer part (small jumps) or a wide one (large threshold rises); the
shift is beta = 1 of the ``(beta * a) >> k`` form: no multiplier, a 4-way multiplexer.
A spike adds ``adapt_inc << ADAPT_FRAC_BITS``.

Budgets (``neurofab.kernels``): ``STATE`` 60 bits (76 allowed), ``PROFILE`` exactly 80.
To fit the three adaptation fields into the 80-bit profile word beside the full CUBA-LIF
parameter set, the voltage-like parameters are narrower than CUBA-LIF's (whose profile
alone is 79 bits); each width is argued in ``docs/numerics.md`` ("Kernel: alif", "Why
these widths"):

* ``threshold`` u10 (1 .. 1023): the *baseline*; ``v`` keeps 16 bits, so ``v`` and the
  adapted threshold have 32 times the largest baseline of headroom;
* ``v_reset`` s11 (-1024 .. 1023): plus or minus the largest baseline;
* ``bias`` s10 (-512 .. 511): half the largest baseline per step;
* ``decay_a`` u8 (0 .. 255, the same 1/4096 unit as ``decay_i``, ``decay_v``): adaptation
  time constants of at least 15.6 steps;
* ``adapt_inc`` u8 and ``adapt_shift`` u2: a threshold jump of
  ``adapt_inc * 2**-adapt_shift`` (1/8 .. 255) in ``v`` units per spike.

``decay_i``, ``decay_v``, ``reset`` and ``refractory`` keep their CUBA-LIF widths and
meaning.
"""

from amaranth import signed, unsigned
from amaranth.lib import data

from .core import DECAY_ONE, DECAY_WIDTH, REF_MAX, REF_WIDTH, Reset, STATE_MAX, STATE_WIDTH

__all__ = ["STATE", "PROFILE", "LIMITS", "SILENT", "LIF_FIELDS",
           "ADAPT_WIDTH", "ADAPT_MAX", "ADAPT_FRAC_BITS", "THETA_MAX",
           "THRESHOLD_WIDTH", "THRESHOLD_MAX", "BIAS_WIDTH", "V_RESET_WIDTH",
           "DECAY_A_WIDTH", "DECAY_A_MAX", "ADAPT_INC_WIDTH", "ADAPT_INC_MAX",
           "ADAPT_SHIFT_WIDTH", "ADAPT_SHIFT_MAX"]

# --- state ---------------------------------------------------------------------------
#: The adaptation variable ``a``: unsigned, saturating at ``ADAPT_MAX``; its low
#: ``ADAPT_FRAC_BITS`` bits are a fraction below the unit of the threshold's rise.
ADAPT_WIDTH = 24
ADAPT_MAX = (1 << ADAPT_WIDTH) - 1
ADAPT_FRAC_BITS = 8
#: The adapted threshold saturates at the high rail of ``v``: always a legal CUBA-LIF
#: threshold (1 .. 32767), which a ``v`` clipped at the rail still reaches.
THETA_MAX = STATE_MAX

STATE = data.StructLayout({
    "i": signed(STATE_WIDTH),
    "v": signed(STATE_WIDTH),
    "ref": unsigned(REF_WIDTH),
    "a": unsigned(ADAPT_WIDTH),
})

# --- profile -------------------------------------------------------------------------
THRESHOLD_WIDTH = 10
THRESHOLD_MAX = (1 << THRESHOLD_WIDTH) - 1
BIAS_WIDTH = 10
V_RESET_WIDTH = 11
#: ``decay_a``: fraction of ``a`` lost per step, in 1/4096 (``DECAY_ONE``) like the
#: other decays, at most 255/4096 (adaptation time constant >= 15.6 steps).
DECAY_A_WIDTH = 8
DECAY_A_MAX = (1 << DECAY_A_WIDTH) - 1
#: ``adapt_inc``: jump of ``a`` per spike, in units of ``2**ADAPT_FRAC_BITS`` of ``a``.
ADAPT_INC_WIDTH = 8
ADAPT_INC_MAX = (1 << ADAPT_INC_WIDTH) - 1
#: ``adapt_shift``: the integer part of ``a`` counts in ``2**-adapt_shift`` of the ``v``
#: unit.
ADAPT_SHIFT_WIDTH = 2
ADAPT_SHIFT_MAX = (1 << ADAPT_SHIFT_WIDTH) - 1

PROFILE = data.StructLayout({
    "decay_i": unsigned(DECAY_WIDTH),
    "decay_v": unsigned(DECAY_WIDTH),
    "threshold": unsigned(THRESHOLD_WIDTH),
    "bias": signed(BIAS_WIDTH),
    "v_reset": signed(V_RESET_WIDTH),
    "reset": Reset,
    "refractory": unsigned(REF_WIDTH),
    "decay_a": unsigned(DECAY_A_WIDTH),
    "adapt_inc": unsigned(ADAPT_INC_WIDTH),
    "adapt_shift": unsigned(ADAPT_SHIFT_WIDTH),
})
assert STATE.size <= 76 and PROFILE.size <= 80

#: The profile fields the CUBA-LIF update takes (with ``threshold`` replaced by the
#: adapted threshold), in CUBA-LIF order.
LIF_FIELDS = ("decay_i", "decay_v", "threshold", "bias", "v_reset", "reset", "refractory")

#: Inclusive legal range of every profile field: every field over its whole width,
#: except the decays (at most ``DECAY_ONE``, 4096 = memoryless) and the baseline
#: threshold (at least 1).
LIMITS = {
    "decay_i": (0, DECAY_ONE),
    "decay_v": (0, DECAY_ONE),
    "threshold": (1, THRESHOLD_MAX),
    "bias": (-(1 << (BIAS_WIDTH - 1)), (1 << (BIAS_WIDTH - 1)) - 1),
    "v_reset": (-(1 << (V_RESET_WIDTH - 1)), (1 << (V_RESET_WIDTH - 1)) - 1),
    "reset": (0, 1),
    "refractory": (0, REF_MAX),
    "decay_a": (0, DECAY_A_MAX),
    "adapt_inc": (0, ADAPT_INC_MAX),
    "adapt_shift": (0, ADAPT_SHIFT_MAX),
}
assert list(LIMITS) == [name for name, _ in PROFILE]

#: ``i = v = a = 0`` without input and ``bias = 0``: ``v`` stays 0, below every threshold.
SILENT = {"decay_i": 0, "decay_v": 0, "threshold": THRESHOLD_MAX, "bias": 0, "v_reset": 0,
          "reset": Reset.TO_VRESET.value, "refractory": 0, "decay_a": 0, "adapt_inc": 0,
          "adapt_shift": 0}

#: The profile field a homeostatic offset moves, and its sign (``docs/numerics.md``,
#: "Learning"): a rising offset raises the threshold.
HOMEOSTASIS = ("threshold", 1)
