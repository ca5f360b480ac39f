"""Neuron-core formats: fixed-point widths, parameter ranges, memory words, events.

``docs/numerics.md`` is the prose twin of this module: every constant below is
restated there with the equation that uses it.
"""

from amaranth import signed, unsigned
from amaranth.lib import data, enum
from amaranth.utils import ceil_log2

from .packing import pack, unpack

__all__ = [
    "STATE_WIDTH", "STATE_MIN", "STATE_MAX",
    "REF_WIDTH", "REF_MAX",
    "DECAY_FRAC_BITS", "DECAY_ONE", "DECAY_WIDTH",
    "WEIGHT_WIDTH", "WEIGHT_MIN", "WEIGHT_MAX",
    "W_SHIFT_WIDTH", "W_SHIFT_MAX",
    "DELAY_MIN", "DELAY_MAX", "DELAY_WIDTH", "DELAY_SLOTS",
    "ACC_WIDTH", "ACC_MIN", "ACC_MAX",
    "PROFILE_COUNT", "PROFILE_INDEX_WIDTH",
    "NEURON_ADDR_WIDTH", "MAX_NEURONS", "CHANNEL_WIDTH", "MAX_INPUTS",
    "SYN_ADDR_WIDTH", "MAX_SYNAPSES", "FANOUT_WIDTH", "MAX_FANOUT",
    "STEP_WIDTH",
    "Reset",
    "NeuronState", "Profile", "PROFILE_FIELDS", "RowPtr", "Synapse",
    "InputEvent", "SpikeEvent",
    "Region", "QUEUE_WIDTH", "LEARN_REGIONS", "RULE_COUNT", "Ctrl", "CTRL_RULE", "CTRL_HOMEO", "MEM_INDEX_WIDTH", "MEM_DATA_WIDTH", "MemRequest", "MemResponse",
    "region_depths", "row_storage", "store_rows", "mem_request", "state_word",
    "CONFIG_MAGIC", "CONFIG_VERSION", "KERNEL_IDS",
]

# --- neuron state ------------------------------------------------------------------
#: Width of the synaptic current ``i`` and membrane potential ``v`` (two's complement).
STATE_WIDTH = 16
STATE_MIN = -(1 << (STATE_WIDTH - 1))          # -32768, the low rail of sat16
STATE_MAX = (1 << (STATE_WIDTH - 1)) - 1       # +32767, the high rail of sat16
#: Width of the refractory down-counter ``ref`` (and of the ``refractory`` parameter).
REF_WIDTH = 4
REF_MAX = (1 << REF_WIDTH) - 1

# --- decay -------------------------------------------------------------------------
#: Decays are fractions of ``DECAY_ONE`` lost per step: 0 = no leak, 4096 = memoryless.
DECAY_FRAC_BITS = 12
DECAY_ONE = 1 << DECAY_FRAC_BITS
#: A decay field holds 0..4096 inclusive, so it is one bit wider than the fraction.
DECAY_WIDTH = DECAY_FRAC_BITS + 1

# --- synapses ----------------------------------------------------------------------
WEIGHT_WIDTH = 8
WEIGHT_MIN = -(1 << (WEIGHT_WIDTH - 1))
WEIGHT_MAX = (1 << (WEIGHT_WIDTH - 1)) - 1
#: Core-wide left shift applied to every weight before accumulation.
W_SHIFT_WIDTH = 3
W_SHIFT_MAX = (1 << W_SHIFT_WIDTH) - 1
#: Synaptic delay in steps, stored as ``delay - DELAY_MIN`` in ``DELAY_WIDTH`` bits.
DELAY_MIN = 1
DELAY_MAX = 8
DELAY_WIDTH = 3
#: One accumulator slot per possible delay; slot of update step ``t`` is ``t % DELAY_SLOTS``.
DELAY_SLOTS = DELAY_MAX
#: Accumulator width: the config validator proves no slot sum leaves this range.
ACC_WIDTH = 24
ACC_MIN = -(1 << (ACC_WIDTH - 1))
ACC_MAX = (1 << (ACC_WIDTH - 1)) - 1

# --- sizes -------------------------------------------------------------------------
# Architectural address spaces of one core. A board's capacity (memory) is smaller; the
# golden model simulates anything up to these limits.
PROFILE_COUNT = 16
PROFILE_INDEX_WIDTH = 4
NEURON_ADDR_WIDTH = 16
MAX_NEURONS = 1 << NEURON_ADDR_WIDTH
CHANNEL_WIDTH = 16
MAX_INPUTS = 1 << CHANNEL_WIDTH
SYN_ADDR_WIDTH = 24
MAX_SYNAPSES = 1 << SYN_ADDR_WIDTH
FANOUT_WIDTH = 16
MAX_FANOUT = (1 << FANOUT_WIDTH) - 1
#: Width of the core's step counter (the accumulator slot is its low bits).
STEP_WIDTH = 32


class Reset(enum.Enum, shape=1):
    """What happens to ``v`` after a spike."""
    TO_VRESET = 0   #: ``v' = v_reset``
    SUBTRACT = 1    #: ``v' = v' - threshold`` (never saturates: ``v' >= threshold > 0``)


# --- memory words ------------------------------------------------------------------
def state_word(state):
    """The state-memory word of a kernel whose per-neuron state is the layout ``state``:
    its fields, then the neuron's ``profile`` index (configuration that rides along so
    that the update pipeline needs one read per neuron)."""
    return data.StructLayout({**{name: field.shape for name, field in state},
                              "profile": unsigned(PROFILE_INDEX_WIDTH)})


#: One word of the state memory. ``profile`` is configuration that rides along so the
#: update pipeline needs one read per neuron.
NeuronState = data.StructLayout({
    "i": signed(STATE_WIDTH),
    "v": signed(STATE_WIDTH),
    "ref": unsigned(REF_WIDTH),
    "profile": unsigned(PROFILE_INDEX_WIDTH),
})

#: One word of the profile table (parameters shared by neurons of a profile).
Profile = data.StructLayout({
    "decay_i": unsigned(DECAY_WIDTH),
    "decay_v": unsigned(DECAY_WIDTH),
    "threshold": signed(STATE_WIDTH),
    "bias": signed(STATE_WIDTH),
    "v_reset": signed(STATE_WIDTH),
    "reset": Reset,
    "refractory": unsigned(REF_WIDTH),
})
#: Names of the profile parameters, in ``Profile`` order (the columns of a config's
#: profile table, the parameters of the golden kernel).
PROFILE_FIELDS = tuple(name for name, _ in Profile)

#: CSR row of one source: synapses ``start .. start+count-1``. Sources ``0..N-1`` are the
#: core's own neurons (recurrent spikes), ``N + c`` is external input channel ``c``.
RowPtr = data.StructLayout({
    "start": unsigned(SYN_ADDR_WIDTH),
    "count": unsigned(FANOUT_WIDTH),
})

#: One synapse of the fan-out memory. ``delay`` holds ``d - DELAY_MIN``.
Synapse = data.StructLayout({
    "target": unsigned(NEURON_ADDR_WIDTH),
    "weight": signed(WEIGHT_WIDTH),
    "delay": unsigned(DELAY_WIDTH),
})

# --- event streams -----------------------------------------------------------------
#: Core input: an external event on ``channel``, or (``eos=1``) the end of the step.
InputEvent = data.StructLayout({
    "channel": unsigned(CHANNEL_WIDTH),
    "eos": unsigned(1),
})

#: Core output: neuron ``neuron`` fired, or (``eos=1``) the step's update has finished.
SpikeEvent = data.StructLayout({
    "neuron": unsigned(NEURON_ADDR_WIDTH),
    "eos": unsigned(1),
})


# --- memory access port (config upload, state readback) ----------------------------
class Region(enum.Enum, shape=4):
    """Memory regions reachable through the core's memory-access port. ``PRE`` and ``POST``
    exist on learning cores only (``neurofab.spec.learning``), ``QUEUE`` on cores built
    with it (``NeuronCore(queue_port=True)``)."""
    STATE = 0     #: ``NeuronState`` words, index = neuron
    ACC = 1       #: accumulator words (``ACC_WIDTH`` signed), index = neuron * DELAY_SLOTS + slot
    PROFILE = 2   #: ``Profile`` words, index = profile
    ROWPTR = 3    #: ``RowPtr`` words, index = source
    SYNAPSE = 4   #: ``Synapse`` words (a learning core: ``PlasticSynapse``), index = address
    CTRL = 5      #: control registers, index = ``Ctrl``
    PRE = 6       #: ``PreTrace`` words, index = source
    POST = 7      #: ``PostTrace`` words, index = neuron
    #: the spike queue (``QUEUE_WIDTH``-bit words): index ``k < n_neurons`` the ``k``-th
    #: spike of the last update (a neuron, in increasing order), index ``n_neurons`` how
    #: many there are; what the next integrate phase delivers first
    QUEUE = 8


#: Width of a ``QUEUE`` word (a neuron, or the count ``0 .. n_neurons``).
QUEUE_WIDTH = NEURON_ADDR_WIDTH + 1


#: Rules of a learning core (region ``RULE``; rule 0 is static), ``neurofab.spec.learning``.
RULE_COUNT = 4

#: The regions of a learning core only.
LEARN_REGIONS = (Region.PRE, Region.POST)


class Ctrl(enum.Enum, shape=16):
    """Control registers (region ``CTRL``)."""
    W_SHIFT = 0   #: core-wide weight shift, ``W_SHIFT_WIDTH`` bits
    STEP = 1      #: step counter, ``STEP_WIDTH`` bits; slot of the next update = STEP % 8
    TRACES = 2    #: learning core: ``Traces`` word (trace decays, amplitudes, mode)
    MODULATOR = 3  #: learning core: the modulator ``M``, ``MOD_WIDTH`` bits signed
    LEARN_END = 4  #: learning core: the learn phase visits synapses 0 .. LEARN_END - 1


#: Learning core: ``CTRL`` index of rule ``r``'s ``Rule`` word is ``CTRL_RULE + r``
#: (``r < RULE_COUNT``; rule 0, static, reads 0 and ignores writes) and of profile ``p``'s
#: ``Homeo`` word ``CTRL_HOMEO + p``. The tables are registers, next to the others.
CTRL_RULE = 8
CTRL_HOMEO = 16


MEM_INDEX_WIDTH = 24
#: Widest word of any region (``Profile`` is 79 bits), rounded to whole bytes.
MEM_DATA_WIDTH = 80

MemRequest = data.StructLayout({
    "index": unsigned(MEM_INDEX_WIDTH),
    "region": Region,
    "write": unsigned(1),
    "data": unsigned(MEM_DATA_WIDTH),
})

MemResponse = data.StructLayout({
    "data": unsigned(MEM_DATA_WIDTH),
})


def mem_request(region, index, write=0, data=0):
    """One ``MemRequest`` word (an int): read (``write=0``) or write ``data`` at ``index``
    of ``region``."""
    return pack(MemRequest, index=index, region=Region(region), write=write, data=data)


# --- memory map ----------------------------------------------------------------------
def region_depths(n_neurons, n_inputs, syn_capacity, *, n_profiles=PROFILE_COUNT,
                  learning=False, queue=False):
    """Words of every ``Region`` on a core of this geometry (indices ``0 .. depth - 1``):
    ``STATE`` one per neuron, ``ACC`` ``DELAY_SLOTS`` per neuron (index ``neuron *
    DELAY_SLOTS + slot``), ``PROFILE`` ``n_profiles``, ``ROWPTR`` one per source
    (``n_neurons + n_inputs``), ``SYNAPSE`` ``syn_capacity``, ``CTRL`` one per ``Ctrl``
    register (without learning: ``W_SHIFT`` and ``STEP``; a learning core: up to
    ``CTRL_HOMEO + PROFILE_COUNT``, the rule and homeostasis tables). A ``learning`` core
    adds ``PRE`` one per source and ``POST`` one per neuron; a core without learning has
    neither (depth 0). A core with the ``queue`` port has ``QUEUE``, ``n_neurons + 1``
    words (the spikes and their count), else depth 0."""
    return {Region.STATE: n_neurons, Region.ACC: n_neurons * DELAY_SLOTS,
            Region.PROFILE: n_profiles, Region.ROWPTR: n_neurons + n_inputs,
            Region.SYNAPSE: syn_capacity,
            Region.CTRL: CTRL_HOMEO + PROFILE_COUNT if learning else Ctrl.STEP.value + 1,
            Region.PRE: (n_neurons + n_inputs) * learning,
            Region.POST: n_neurons * learning,
            Region.QUEUE: (n_neurons + 1) * queue}


def row_storage(syn_capacity):
    """Layout of a row pointer as a core with ``syn_capacity`` synapses stores it.

    ``start`` holds ``0 .. syn_capacity`` (an empty row may start at the end of the
    synapse memory) and ``count`` ``0 .. min(syn_capacity, MAX_FANOUT)``: together
    ``ceil_log2(syn_capacity + 1)`` bits each (``count`` at most ``FANOUT_WIDTH``), not
    the ``RowPtr`` word's 24 + 16. The memory port still carries ``RowPtr`` words: a write
    keeps the low bits of each field (:func:`store_rows`), a read zero-extends them, so
    every row a valid configuration can hold (``start + count <= syn_capacity``) reads
    back as written.
    """
    bits = ceil_log2(syn_capacity + 1)
    return data.StructLayout({
        "start": unsigned(min(bits, SYN_ADDR_WIDTH)),
        "count": unsigned(min(bits, FANOUT_WIDTH)),
    })


def store_rows(words, syn_capacity):
    """``RowPtr`` words (an int or an array) as stored in ``row_storage(syn_capacity)``:
    the low bits of ``start`` and of ``count``."""
    layout = row_storage(syn_capacity)
    row = unpack(RowPtr, words)
    return pack(layout, **{name: row[name] & ((1 << layout[name].shape.width) - 1)
                           for name in ("start", "count")})

# --- neuron kernels ------------------------------------------------------------------
#: Number of every neuron kernel (``neurofab.kernels``) as IDENTIFY reports it and a
#: board's build records it. Never renumber: a number names one kernel forever.
KERNEL_IDS = {"cuba-lif": 0, "alif": 1, "izhikevich": 2, "adex": 3}

# --- config file -------------------------------------------------------------------
CONFIG_MAGIC = b"NFCFG\x00"
#: 3: learning (rules, homeostasis, plastic synapses) may be recorded; 2: the file records
#: its kernel (``neurofab.kernels``); 1: CUBA-LIF only.
CONFIG_VERSION = 3
