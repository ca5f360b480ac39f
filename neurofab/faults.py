"""Faults in the fabric: single-event upsets in a neuron core, how far they move its spike
trains, and which memory matters most (``docs/reliability.md``).

An **upset** inverts one stored bit. The campaign injects upsets into the Verilator model
of ``rtl.core.NeuronCore`` (``cosim/faults.py``: a model built with every signal public,
bits flipped right after a clock edge) into

* the five memories — ``state`` (the kernel state words with their profile index),
  ``acc`` (the 8 accumulator slots per neuron), ``synapse`` (target, weight, delay),
  ``rowptr`` (the stored start and count of every CSR row) and ``profile`` (the
  parameter table) — at the first clock edge of a step, before the core reads any memory
  of that step;
* the core's flip-flops (``registers``: the integrate and update pipelines, the kernel's
  pipeline, the output FIFO, the control registers, the memory-port registers) at a
  random clock edge inside a step.

A memory upset at a step boundary is something the golden model can express: the same
bit is flipped in :class:`UpsetCore`, a golden core that keeps the memories as the
hardware stores them (row pointers as start and count of ``spec.row_storage`` bits, the
whole synapse memory, 16 profile words, 24-bit accumulators that wrap), and the run is
compared with it bit for bit — spikes of every step, the full state — which proves that
the injection is what it claims to be. A flip-flop upset mid-step has no golden twin: its
run is measured only. Either way the RTL's spikes are compared with the fault-free golden
run: the raster's Hamming distance (spikes missing plus spikes extra, over the
reference's spike count) and the change of the total spike count; a run whose core hangs
(a step that does not finish within its clock budget) loses its remaining steps.

Two experiments (:func:`campaign`):

* **sensitivity** — one upset per run, at a random bit of the target and a random step:
  the probability that one upset changes the spike train, the mean raster error, hangs;
  times the target's bits, the *vulnerable bits* (bits whose upset shows);
* **bit-error rate** — upsets at ``ber`` per bit per step (Poisson), each target alone:
  raster error against BER.

A core built with parity on its configuration memories (``NeuronCore(parity=...)``,
``Geometry(parity=...)``) counts the words it finds wrong; :class:`UpsetCore` counts them
too, so detection is compared bit for bit, and the campaign reports the probability
that an upset was detected and that it changed the spike train undetected.
:func:`parity_board_builds` builds every board's top with and without parity (resources,
fmax).

``neurofab faults [--json]`` runs the default campaign; :func:`write_docs` writes its
table into ``docs/reliability.md`` and :func:`figure` its figure.
"""

import math
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from neurofab import spec
from neurofab.checks import check_int, check_pow2
from neurofab.config import CoreConfig, compile as compile_network, decode_state
from neurofab.examples import ei_network, poisson_inputs
from neurofab.golden.state import CoreState
from neurofab.spec import Region

__all__ = ["MEMORIES", "TARGETS", "BOARD_PARITY", "UpsetCore", "Geometry", "Workload",
           "Trial", "parity_board_top", "parity_board_builds", "builds_markdown",
           "register_group", "draw_upsets", "deviation", "mirror", "upset_case", "run_trial",
           "campaign",
           "Campaign", "figure", "markdown", "write_docs", "DEFAULTS"]

#: Memory targets: campaign name → the RTL memory (``rtl/core.py``).
MEMORIES = {"state": "state_mem", "acc": "acc_mem", "synapse": "syn_mem",
            "rowptr": "row_mem", "profile": "prof_mem"}
#: Every target: the five memories and the flip-flops.
TARGETS = (*MEMORIES, "registers")

#: The default campaign (``neurofab faults``): a 64-neuron E/I network (48 excitatory, 16
#: inhibitory, fan-out 6) driven by 16 Poisson channels at rate 0.25, on a core of 64
#: neurons, 16 inputs and 1024 synapses, 100 steps per run.
DEFAULTS = {"neurons": 64, "inputs": 16, "syn_capacity": 1024, "steps": 100,
            "networks": 4, "single": 40, "bers": (1e-7, 1e-6, 1e-5, 1e-4, 1e-3),
            "trials": 4, "seed": 0}


# ======================================================================================
# The golden twin of a core whose memories take upsets
# ======================================================================================
def _wrap(value, width, signed):
    """``value`` (int or int64 array) kept to ``width`` bits, two's complement if
    ``signed``: what a memory of that width stores."""
    mask = (1 << width) - 1
    value = np.asarray(value, dtype=np.int64) & mask
    if signed:
        value = np.where(value >> (width - 1), value - (1 << width), value)
    return value


def _field_widths(layout):
    from amaranth import Shape
    return {name: (Shape.cast(f.shape).width, Shape.cast(f.shape).signed)
            for name, f in layout}


class UpsetCore:
    """The golden core (``golden.core.NeuronCore``) over the memories as the RTL stores
    them, so that an upset of any stored bit at a step boundary can be mirrored.

    Compared with the golden core it keeps the row pointers as stored start and count
    (``spec.row_storage(syn_capacity)``, so a flipped start or count walks other
    synapses, addresses wrapping at ``syn_capacity``), every word of the synapse memory
    (a target beyond the core's neurons is skipped, as the RTL does), all 16 profile
    words (a neuron's profile index may be flipped to an unused one), accumulators that
    wrap at ``ACC_WIDTH`` bits and state fields stored in their widths. Without upsets it
    computes exactly what ``golden.core.NeuronCore`` does.

    Parameters
    ----------
    cfg : CoreConfig
        A config without learning.
    syn_capacity : int
        The synapse memory's depth, a power of two, at least ``cfg.n_synapses``.
    n_inputs : int, optional
        Input channels of the core (default ``cfg.n_inputs``).
    parity : sequence of str
        Memories of ``spec.PARITY_MEMORIES`` the core protects with a parity bit
        (``NeuronCore(parity=...)``): their words are one bit wider, the top bit being
        the parity bit, and :attr:`parity_errors` counts, as the RTL does, every read of
        a word whose parity is wrong — the row pointer of every event delivered, every
        synapse walked, every neuron's profile at every update.
    """

    def __init__(self, cfg, *, syn_capacity, n_inputs=None, parity=()):
        if not isinstance(cfg, CoreConfig):
            raise TypeError(f"cfg must be a CoreConfig, not {cfg!r}")
        cfg.validate()
        if cfg.learning is not None:
            raise ValueError("UpsetCore models cores without learning (cfg.learning is set)")
        cap = check_pow2("syn_capacity", syn_capacity, 1, spec.MAX_SYNAPSES)
        if cap < cfg.n_synapses:
            raise ValueError(f"syn_capacity = {cap} is below the config's {cfg.n_synapses} "
                             f"synapses")
        n_inputs = cfg.n_inputs if n_inputs is None else n_inputs
        check_int("n_inputs", n_inputs, cfg.n_inputs, spec.MAX_INPUTS)
        self.cfg, self.kernel, self.cap = cfg, cfg.kernel, cap
        self.n, self.n_inputs = cfg.n_neurons, n_inputs
        state = CoreState.initial(cfg)
        self.neurons = state.neurons
        self.profile = cfg.profile.copy()
        self.acc = np.zeros((spec.DELAY_SLOTS, self.n), dtype=np.int64)
        self.params = {}
        for name in self.kernel.param_fields:
            col = np.zeros(spec.PROFILE_COUNT, dtype=np.int64)
            col[:cfg.n_profiles] = getattr(cfg, name)
            self.params[name] = col
        image = cfg.memory_image(n_inputs=n_inputs, syn_capacity=cap)
        rows = spec.unpack(spec.row_storage(cap), spec.store_rows(image[Region.ROWPTR], cap))
        self.row_start, self.row_count = rows["start"], rows["count"]
        self.syn = {"target": np.zeros(cap, np.int64), "weight": np.zeros(cap, np.int64),
                    "delay": np.zeros(cap, np.int64)}
        k = cfg.n_synapses
        self.syn["target"][:k] = cfg.syn_target
        self.syn["weight"][:k] = cfg.syn_weight
        self.syn["delay"][:k] = cfg.syn_delay - spec.DELAY_MIN
        self.w_shift = cfg.w_shift
        self.step_count = 0
        self.pending = np.zeros(0, dtype=np.int64)
        self.walked = 0             #: synapses the walker visited in the last step
        self._state_widths = _field_widths(self.kernel.state_word)
        parity = (parity,) if isinstance(parity, str) else tuple(parity)
        for name in parity:
            if name not in spec.PARITY_MEMORIES:
                raise ValueError(f"parity: {name!r} is not one of "
                                 f"{', '.join(spec.PARITY_MEMORIES)}")
        self.parity = tuple(m for m in spec.PARITY_MEMORIES if m in parity)
        depth = {"synapse": cap, "rowptr": self.n + n_inputs, "profile": spec.PROFILE_COUNT}
        #: per protected memory, the words whose parity is wrong
        self.bad = {m: np.zeros(depth[m], dtype=bool) for m in self.parity}
        self.parity_errors = 0      #: the parity-error counter (``CTRL_PARITY``)

    # --- memories ----------------------------------------------------------------------
    def layouts(self):
        """Memory → (word width in bits, words): the geometry the upsets are drawn from."""
        k = self.kernel
        out = {"state": (k.state_word.size, self.n),
               "acc": (spec.ACC_WIDTH, self.n * spec.DELAY_SLOTS),
               "synapse": (spec.Synapse.size, self.cap),
               "rowptr": (spec.row_storage(self.cap).size, self.n + self.n_inputs),
               "profile": (k.profile.size, spec.PROFILE_COUNT)}
        for m in self.parity:       # (the parity bit above the word)
            out[m] = (out[m][0] + 1, out[m][1])
        return out

    def flip(self, memory, index, bit):
        """Invert bit ``bit`` of word ``index`` of ``memory`` (one of :data:`MEMORIES`),
        as the RTL's memory word (``rtl/core.py``) lays it out."""
        layouts = self.layouts()
        if memory not in layouts:
            raise ValueError(f"memory = {memory!r} must be one of {', '.join(layouts)}")
        width, depth = layouts[memory]
        check_int(f"{memory} index", index, 0, depth - 1)
        check_int(f"{memory} bit", bit, 0, width - 1)
        if memory in self.parity:
            self.bad[memory][index] ^= True
            if bit == width - 1:    # the parity bit itself: detected, nothing else
                return
        if memory == "acc":
            neuron, slot = divmod(int(index), spec.DELAY_SLOTS)
            value = int(self.acc[slot, neuron]) ^ (1 << bit)
            self.acc[slot, neuron] = _wrap(value, spec.ACC_WIDTH, True)
            return
        if memory == "state":
            layout = self.kernel.state_word
            fields = {f: int(self.neurons[f][index]) for f in self.kernel.state_fields}
            word = spec.pack(layout, **fields, profile=int(self.profile[index]))
            new = spec.unpack(layout, word ^ (1 << bit))
            for f in self.kernel.state_fields:
                self.neurons[f][index] = new[f]
            self.profile[index] = new["profile"]
        elif memory == "profile":
            layout = self.kernel.profile
            word = spec.pack(layout, **{f: int(v[index]) for f, v in self.params.items()})
            for f, v in spec.unpack(layout, word ^ (1 << bit)).items():
                self.params[f][index] = v
        elif memory == "rowptr":
            layout = spec.row_storage(self.cap)
            word = spec.pack(layout, start=int(self.row_start[index]),
                             count=int(self.row_count[index]))
            new = spec.unpack(layout, word ^ (1 << bit))
            self.row_start[index], self.row_count[index] = new["start"], new["count"]
        else:
            word = spec.pack(spec.Synapse, **{f: int(v[index]) for f, v in self.syn.items()})
            for f, v in spec.unpack(spec.Synapse, word ^ (1 << bit)).items():
                self.syn[f][index] = v

    def field_of(self, memory, index, bit):
        """What bit ``bit`` of word ``index`` of ``memory`` holds: the field of the word's
        layout (``"weight"``, ``"count"``, ``"threshold"``, ...), a bit range of an
        accumulator (``"bits 16-23"``), ``"target (bits above the neurons)"`` for the
        synapse target bits a core of this size ignores, ``"unused word"`` for a
        synapse or profile word the configuration does not hold."""
        if memory == "acc":
            lo = bit // 8 * 8
            return f"bits {lo}-{min(lo + 7, spec.ACC_WIDTH - 1)}"
        if memory in self.parity and bit == self.layouts()[memory][0] - 1:
            return "parity bit"
        if ((memory == "synapse" and index >= self.cfg.n_synapses) or
                (memory == "profile" and index >= self.cfg.n_profiles)):
            return "unused word"
        layout = {"state": self.kernel.state_word, "profile": self.kernel.profile,
                  "rowptr": spec.row_storage(self.cap), "synapse": spec.Synapse}[memory]
        for name, (width, _) in _field_widths(layout).items():
            offset = layout[name].offset
            if offset <= bit < offset + width:
                if memory == "synapse" and name == "target" and bit - offset >= max(
                        1, (self.n - 1).bit_length()):
                    return "target (bits above the neurons)"
                return name
        raise ValueError(f"bit = {bit} is outside the {memory} word")

    def field_bits(self, memory):
        """Bits of ``memory`` per :meth:`field_of` name (a dict)."""
        width, depth = self.layouts()[memory]
        out = {}
        for index in range(depth):
            for bit in range(width):
                name = self.field_of(memory, index, bit)
                out[name] = out.get(name, 0) + 1
        return out

    def in_limits(self):
        """Whether every profile a neuron uses holds parameters inside the kernel's limits
        (``kernel.limits``): outside them the golden kernel is not specified to match the
        RTL (its text assumes the limits), so a mirrored upset that leaves them is
        expressed only approximately."""
        used = np.unique(self.profile)
        return all(((self.params[f][used] >= lo) & (self.params[f][used] <= hi)).all()
                   for f, (lo, hi) in self.kernel.limits.items())

    # --- a step --------------------------------------------------------------------------
    def step(self, channels):
        """Integrate the pending spikes and the external ``channels``, update every neuron;
        returns the sorted fired neurons."""
        n = self.n
        sources = np.concatenate([self.pending, n + np.asarray(channels, dtype=np.int64)])
        starts, counts = self.row_start[sources], self.row_count[sources]
        total = int(counts.sum())
        self.walked = total
        found = int(self.bad["rowptr"][sources].sum()) if "rowptr" in self.parity else 0
        if total:
            begin = np.cumsum(counts) - counts
            addr = (np.repeat(starts - begin, counts) + np.arange(total)) % self.cap
            if "synapse" in self.parity:
                found += int(self.bad["synapse"][addr].sum())
            target = self.syn["target"][addr]
            ok = target < n
            addr, target = addr[ok], target[ok]
            slot = (self.step_count + self.syn["delay"][addr]) % spec.DELAY_SLOTS
            contrib = self.syn["weight"][addr] << self.w_shift
            add = np.zeros(self.acc.size, dtype=np.int64)
            np.add.at(add, slot * n + target, contrib)
            self.acc = _wrap(self.acc + add.reshape(self.acc.shape), spec.ACC_WIDTH, True)
        if "profile" in self.parity:
            found += int(self.bad["profile"][self.profile].sum())
        if self.parity:
            self.parity_errors = min(self.parity_errors + found,
                                     (1 << spec.PARITY_COUNT_WIDTH) - 1)
        slot = self.step_count % spec.DELAY_SLOTS
        params = {f: v[self.profile] for f, v in self.params.items()}
        neurons, spike = self.kernel.step(self.neurons, self.acc[slot], params)
        self.neurons = {f: _wrap(neurons[f], *self._state_widths[f])
                        for f in self.kernel.state_fields}
        self.acc[slot] = 0
        self.step_count += 1
        self.pending = np.flatnonzero(spike).astype(np.int64)
        return self.pending.copy()

    def snapshot(self):
        """The architectural state the core's readback shows (``config.decode_state``
        form): the state fields, ``profile``, ``acc`` ``[slot, neuron]``, ``step``."""
        out = {**{f: v.copy() for f, v in self.neurons.items()},
               "profile": self.profile.copy(), "acc": self.acc.copy(),
               "step": self.step_count & ((1 << spec.STEP_WIDTH) - 1)}
        if self.parity:
            out["parity_errors"] = self.parity_errors
        return out


# ======================================================================================
# Workloads, upsets, deviation
# ======================================================================================
@dataclass(frozen=True)
class Geometry:
    """The core the campaign runs on (``parity``: the memories it protects,
    ``NeuronCore(parity=...)``)."""
    neurons: int = DEFAULTS["neurons"]
    inputs: int = DEFAULTS["inputs"]
    syn_capacity: int = DEFAULTS["syn_capacity"]
    parity: tuple = ()

    def core(self, kernel=None):
        """The empty-memory ``rtl.core.NeuronCore`` of this geometry."""
        from neurofab.rtl.core import NeuronCore
        return NeuronCore(None, n_neurons=self.neurons, n_inputs=self.inputs,
                          syn_capacity=self.syn_capacity, kernel=kernel,
                          **({"parity": self.parity} if self.parity else {}))

    def upset_core(self, cfg):
        """The :class:`UpsetCore` of ``cfg`` on this geometry."""
        return UpsetCore(cfg, syn_capacity=self.syn_capacity, n_inputs=self.inputs,
                         parity=self.parity)


@dataclass
class Workload:
    """A network and its input: the config, per-step input channels and the fault-free
    golden spikes."""
    cfg: CoreConfig
    inputs: list
    reference: list
    seed: int

    @classmethod
    def make(cls, geometry, steps, seed):
        """The E/I network of ``examples.ei_network`` filling ``geometry`` (three quarters
        excitatory, fan-out 6, seeded) and Poisson input at rate 0.25 on every channel."""
        from neurofab import golden
        n_exc = geometry.neurons * 3 // 4
        net = ei_network(n_exc, geometry.neurons - n_exc, geometry.inputs, seed=seed,
                         fanout=6)
        cfg = compile_network(net, n_neurons=geometry.neurons)
        if cfg.n_synapses > geometry.syn_capacity:
            raise ValueError(f"the network of seed {seed} has {cfg.n_synapses} synapses, "
                             f"more than syn_capacity = {geometry.syn_capacity}")
        inputs = poisson_inputs(geometry.inputs, steps, rate=0.25, seed=seed)
        return cls(cfg, inputs, golden.run(cfg, inputs), seed)


def register_group(path):
    """The part of the core a flip-flop (a path of ``FaultBuild.registers``) belongs to:
    ``"kernel"``, ``"update"``, ``"integrate"``, ``"output FIFO"``, ``"control"`` or
    ``"memory port"``."""
    name = path.rsplit(".", 1)[-1]
    if path.startswith("kernel."):
        return "kernel"
    if path.startswith("spike_fifo."):
        return "output FIFO"
    if name in ("core_fsm_state", "step", "w_shift", "sq_count", "sq_fill", "n_issue",
                "inflight", "wb_n", "eos_seen"):
        return "control"
    if name in ("req", "o_mem__payload", "cap_row") or name[:3] in ("rd_", "wr_"):
        return "memory port"
    if name.startswith(("u1_", "u2_", "u3_", "i_")):
        return "update"
    return "integrate"


def _target_bits(target, layouts, registers):
    if target == "registers":
        names = sorted(registers)
        return names, np.array([registers[k] for k in names], dtype=np.int64)
    width, depth = layouts[target]
    return None, np.array([width * depth], dtype=np.int64)


def draw_upsets(rng, target, *, count, steps, layouts, registers=None, step_cycles=None):
    """``count`` random upsets of ``target`` (one of :data:`TARGETS`) over ``steps``
    steps, uniform over the target's bits and the steps.

    Memory upsets strike at the first edge of their step (offset 0). Flip-flop upsets
    (``registers``: path → bits) strike at a uniform edge of the step, ``step_cycles[t]``
    being the length of step ``t`` (the fault-free run's). Returns a list of
    ``cosim.faults.Upset`` sorted by step and offset.
    """
    from neurofab.cosim.faults import Upset
    if target not in TARGETS:
        raise ValueError(f"target = {target!r} must be one of {', '.join(TARGETS)}")
    if target == "registers" and (not registers or step_cycles is None):
        raise ValueError("register upsets need the design's registers and step_cycles")
    out = []
    names, bits = _target_bits(target, layouts, registers)
    for _ in range(int(count)):
        t = int(rng.integers(steps))
        if target == "registers":
            k = int(rng.choice(len(names), p=bits / bits.sum()))
            offset = int(rng.integers(max(1, int(step_cycles[t]))))
            out.append(Upset(t, offset, names[k], -1, int(rng.integers(bits[k]))))
        else:
            width, depth = layouts[target]
            out.append(Upset(t, 0, MEMORIES[target], int(rng.integers(depth)),
                             int(rng.integers(width))))
    return sorted(out, key=lambda u: (u.event, u.offset))


def deviation(reference, got, steps=None):
    """How far spike trains ``got`` moved from ``reference`` (lists of per-step neuron
    arrays; ``got`` may be shorter — a hung run — and its missing steps count as silent).

    Returns a dict: ``raster_error`` (spikes missing plus spikes extra, over the
    reference's spike count), ``rate_change`` (relative change of the total spike count),
    ``deviated`` (any difference), ``first_step`` (the first step that differs, or None).
    """
    steps = len(reference) if steps is None else steps
    diff = n_ref = n_got = 0
    first = None
    for t in range(steps):
        r = np.asarray(reference[t], dtype=np.int64)
        g = np.asarray(got[t], dtype=np.int64) if t < len(got) else np.zeros(0, np.int64)
        d = np.setxor1d(r, g).size
        if d and first is None:
            first = t
        diff, n_ref, n_got = diff + d, n_ref + r.size, n_got + g.size
    return {"raster_error": diff / max(1, n_ref), "rate_change": (n_got - n_ref) / max(1, n_ref),
            "deviated": diff > 0, "first_step": first}


# ======================================================================================
# One run
# ======================================================================================
@dataclass
class Trial:
    """One run of a workload with upsets: what was injected, what came out."""
    target: str
    upsets: list
    injected: list
    spikes: list                 #: the RTL's (or, on the golden back end, the mirror's)
    hung: bool
    mirrored: bool               #: memory upsets: a golden mirror was compared
    mirror_exact: bool = None    #: RTL == mirror, bit for bit (None: not compared)
    in_limits: bool = True       #: the mirror's profiles stayed inside the kernel's limits
    first_divergence: str = None
    dev: dict = field(default_factory=dict)
    sim_s: float = 0.0
    #: clock cycles of every completed step (Verilator runs)
    step_cycles: list = field(default_factory=list)
    #: per upset, the field of the memory word it hit (``UpsetCore.field_of``) or the
    #: group of the flip-flop (:func:`register_group`)
    fields: list = field(default_factory=list)
    #: a core with parity: its parity-error counter after the run (None: no parity)
    parity_errors: int = None


def _event(channel=0, eos=0):
    return spec.pack(spec.InputEvent, channel=int(channel), eos=eos)


def _spike(neuron=0, eos=0):
    return spec.pack(spec.SpikeEvent, neuron=int(neuron), eos=eos)


def mirror(workload, geometry, upsets):
    """The golden mirror of memory ``upsets`` (each applied before its step):
    ``(spikes, snapshots, walked, core)`` — per step the fired neurons, the
    architectural state after it and the synapses walked, and the :class:`UpsetCore`
    after the last step."""
    core = geometry.upset_core(workload.cfg)
    rtl_names = {v: k for k, v in MEMORIES.items()}
    by_step = {}
    for u in upsets:
        by_step.setdefault(u.event, []).append(u)
    spikes, snaps, walked = [], [], []
    for t, chans in enumerate(workload.inputs):
        for u in by_step.get(t, ()):
            core.flip(rtl_names[u.var], u.index, u.bit)
        spikes.append(core.step(chans))
        snaps.append(core.snapshot())
        walked.append(core.walked)
    return spikes, snaps, walked, core


def _state_compare(t, snap, words, n, kernel, block="core"):
    from neurofab.cosim.engine import Divergence
    expected_len = n + n * spec.DELAY_SLOTS + 1 + ("parity_errors" in snap)
    if len(words) != expected_len:
        return [Divergence(t, block, "o_mem", "responses", expected_len, len(words))]
    out = []
    if "parity_errors" in snap:
        words, counter = words[:-1], int(words[-1])
        if counter != snap["parity_errors"]:
            out.append(Divergence(t, block, f"CTRL[{spec.CTRL_PARITY}]", "parity_errors",
                                  snap["parity_errors"], counter))
    got = decode_state(words, n, kernel)
    for name in (*kernel.state_fields, "profile"):
        for k in np.flatnonzero(got[name] != snap[name]):
            out.append(Divergence(t, block, f"neuron {k}", name, int(snap[name][k]),
                                  int(got[name][k])))
    for slot, k in np.argwhere(got["acc"] != snap["acc"]):
        out.append(Divergence(t, block, f"neuron {k}", f"acc[slot {slot}]",
                              int(snap["acc"][slot, k]), int(got["acc"][slot, k])))
    if got["step"] != snap["step"]:
        out.append(Divergence(t, block, "register STEP", "step", snap["step"], got["step"]))
    return out


def upset_case(workload, geometry, spikes, snaps, walked, *, check_state="end"):
    """The ``cosim.engine.StepCase`` of ``workload`` on an empty-memory core of
    ``geometry`` whose expectation is ``spikes`` and ``snaps`` (:func:`mirror`): the
    upload, the configuration read back, every step's spikes, the full state after every
    step (``check_state="every"``) or the last (``"end"``). It is planned
    (``case.plan("verilator", ...)``) and compared (``case.compare``) around a fault
    player's run; it builds no component of its own."""
    from neurofab.cosim.core import config_read, readback_requests, upload_read
    from neurofab.cosim.engine import StateRead, Step, StepCase
    cfg, n, n_in = workload.cfg, geometry.neurons, geometry.inputs
    steps = []
    for t, chans in enumerate(workload.inputs):
        steps.append(Step({"i_events": [_event(c) for c in chans] + [_event(eos=1)]},
                          {"o_spikes": [_spike(k) for k in spikes[t]] + [_spike(eos=1)]},
                          clocks=225 + n + max(walked[t], cfg.n_synapses) + n_in))
    requests = readback_requests(n)
    if geometry.parity:
        requests.append(spec.mem_request(Region.CTRL, spec.CTRL_PARITY))
    read = StateRead("i_mem", "o_mem", requests,
                     lambda t, words: _state_compare(t, snaps[t], words, n, cfg.kernel),
                     label="state")
    # (played on a fault build, not through engine.run: the case is planned and compared
    # only, and needs no component)
    return StepCase("core", {"neurons": n, "inputs": n_in, "synapses": cfg.n_synapses},
                    lambda: None, steps, {"o_spikes": "spikes"},
                    reads=[read], empty_factory=lambda: None,
                    empty_setup=[upload_read(cfg, n_in), config_read(cfg, n_in)],
                    read_after=check_state, top="neurofab_core")


def run_trial(workload, geometry, target, upsets, *, fbuild=None, workdir=None,
              check_state="end"):
    """Run ``workload`` with ``upsets`` of ``target`` and measure the deviation.

    With ``fbuild`` (a ``cosim.faults.FaultBuild`` of ``geometry``'s core) the upsets
    are injected into the Verilator model; a memory target is compared with its golden
    mirror bit for bit. Without it (memory targets only) the mirror alone runs — the
    golden back end. Returns a :class:`Trial`.
    """
    if target not in TARGETS:
        raise ValueError(f"target = {target!r} must be one of {', '.join(TARGETS)}")
    memory = target != "registers"
    if fbuild is None and not memory:
        raise ValueError("register upsets need the Verilator fault build (fbuild)")
    t0 = time.perf_counter()
    spikes, snaps, walked, core = mirror(workload, geometry, upsets if memory else [])
    limits = core.in_limits()
    rtl_names = {v: k for k, v in MEMORIES.items()}
    fields = [register_group(u.var) if not memory else
              core.field_of(rtl_names[u.var], u.index, u.bit) for u in upsets]
    counter = snaps[-1].get("parity_errors") if snaps else None
    if fbuild is None:
        trial = Trial(target, list(upsets), list(upsets), spikes, False, True, None, limits,
                      fields=fields, parity_errors=counter)
        trial.dev = deviation(workload.reference, spikes)
        trial.sim_s = time.perf_counter() - t0
        return trial
    from neurofab.cosim.faults import play_upsets
    case = upset_case(workload, geometry, spikes, snaps, walked, check_state=check_state)
    plan = case.plan("verilator", gap=0.0, stall=0.0, seed=workload.seed)
    own = None
    if workdir is None:
        own = tempfile.TemporaryDirectory(prefix="neurofab-faults-")
        workdir = own.name
    try:
        res, injected = play_upsets(fbuild, plan.script, upsets, workdir=workdir)
    finally:
        if own is not None:
            own.cleanup()
    verdict = case.compare(plan, res)
    hung = res.timeout is not None
    first = str(verdict.divergences[0]) if verdict.divergences else None
    if geometry.parity:         # the RTL's counter: the last word of the last state read
        reads = [ph for k, ph in enumerate(res.phases) if plan.kinds[k][0] == "state"]
        words = reads[-1].data[0] if reads and reads[-1].end is not None else None
        counter = int(words[-1]) if words else None
    trial = Trial(target, list(upsets), injected, verdict.spikes, hung, memory,
                  (not verdict.divergences) if memory else None, limits, first,
                  fields=fields, parity_errors=counter)
    trial.dev = deviation(workload.reference, verdict.spikes, len(workload.reference))
    trial.sim_s = time.perf_counter() - t0
    trial.step_cycles = [ph.cycles for k, ph in enumerate(res.phases)
                         if plan.kinds[k][0] == "step" and ph.end is not None]
    return trial


# ======================================================================================
# The campaign
# ======================================================================================
@dataclass
class Campaign:
    """What :func:`campaign` measured (``summary()`` is the ``--json`` of ``neurofab
    faults``)."""
    params: dict
    bits: dict                   #: target → bits
    sensitivity: list            #: one row per target (and per register group)
    ber: list                    #: one row per (target, ber)
    mirror: dict                 #: memory runs compared with the golden mirror
    wall_s: float = 0.0

    def summary(self):
        return {"params": self.params, "bits": self.bits, "sensitivity": self.sensitivity,
                "ber": self.ber, "mirror": self.mirror, "wall_s": round(self.wall_s, 1)}

    @classmethod
    def from_summary(cls, summary):
        """The campaign of a :meth:`summary` (e.g. the ``--json`` of ``neurofab faults``),
        to redraw its figure or tables."""
        return cls(summary["params"], summary["bits"], summary["sensitivity"],
                   summary["ber"], summary["mirror"], summary.get("wall_s", 0.0))


def _mean_sem(values):
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return 0.0, 0.0
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0


def campaign(*, geometry=None, steps=DEFAULTS["steps"], networks=DEFAULTS["networks"],
             single=DEFAULTS["single"], bers=DEFAULTS["bers"], trials=DEFAULTS["trials"],
             targets=TARGETS, seed=DEFAULTS["seed"], backend="verilator", progress=None,
             say=None):
    """Run the fault campaign.

    Parameters
    ----------
    geometry : Geometry, optional
        The core (default 64 neurons, 16 inputs, 1024 synapses, no parity); with
        ``parity`` the runs also report detection.
    steps : int
        Steps per run.
    networks : int
        Workloads (E/I networks of seeds ``seed .. seed + networks - 1``); runs cycle
        through them.
    single : int
        Single-upset runs per target (the sensitivity experiment); 0 skips it.
    bers : sequence of float
        Bit-error rates (upsets per bit per step) of the BER experiment; empty skips it.
    trials : int
        Runs per target and BER.
    targets : sequence of str
        Of :data:`TARGETS`.
    seed : int
        Seeds the workloads and the upsets.
    backend : "verilator" or "golden"
        Inject into the Verilator model (memory runs compared with their golden mirror),
        or run the golden mirror alone (memory targets only; fast).
    progress : callable(done, total), optional
    say : callable(str), optional
        Progress messages (the build).

    Returns
    -------
    Campaign
    """
    t_start = time.perf_counter()
    geometry = geometry or Geometry()
    check_int("steps", steps, 1, 1 << 20)
    check_int("networks", networks, 1, 1000)
    check_int("single", single, 0, 100000)
    check_int("trials", trials, 0, 100000)
    if backend not in ("verilator", "golden"):
        raise ValueError(f"backend = {backend!r} must be 'verilator' or 'golden'")
    targets = tuple(targets)
    for t in targets:
        if t not in TARGETS:
            raise ValueError(f"target {t!r} must be one of {', '.join(TARGETS)}")
    if backend == "golden" and "registers" in targets:
        raise ValueError("the golden back end has no flip-flops: drop the target "
                         "'registers' or use backend='verilator'")
    for b in bers:
        if not 0 < float(b) < 1:
            raise ValueError(f"ber = {b} must be in (0, 1)")
    rng = np.random.default_rng(seed)
    works = [Workload.make(geometry, steps, seed + k) for k in range(networks)]
    fbuild = None
    layouts = geometry.upset_core(works[0].cfg).layouts()
    registers = {}
    if backend == "verilator":
        from neurofab.cosim.faults import fault_build
        if say is not None:
            say("building the Verilator fault player (cached after the first time)...")
        fbuild = fault_build(geometry.core(works[0].cfg.kernel), name="neurofab_core")
        registers = fbuild.registers
    bits = {t: (sum(registers.values()) if t == "registers" else
                layouts[t][0] * layouts[t][1]) for t in targets}
    total = len(targets) * (single + len(bers) * trials) + (networks if fbuild else 0)
    done = [0]

    def tick():
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    workdir = tempfile.TemporaryDirectory(prefix="neurofab-faults-")
    try:
        # the fault-free runs: step lengths (register upsets) and a clean baseline
        cycles = {}
        baseline_exact = []
        for w in works:
            if fbuild is not None:
                tr = run_trial(w, geometry, "state", [], fbuild=fbuild, workdir=workdir.name)
                cycles[w.seed] = tr.step_cycles
                baseline_exact.append(bool(tr.mirror_exact))
                tick()
        runs = []
        for target in targets:
            for k in range(single):
                w = works[k % networks]
                ups = draw_upsets(rng, target, count=1, steps=steps, layouts=layouts,
                                  registers=registers, step_cycles=cycles.get(w.seed))
                runs.append(("single", None,
                             run_trial(w, geometry, target, ups, fbuild=fbuild,
                                       workdir=workdir.name)))
                tick()
            for ber in bers:
                for k in range(trials):
                    w = works[k % networks]
                    count = rng.poisson(bits[target] * steps * float(ber))
                    ups = draw_upsets(rng, target, count=count, steps=steps, layouts=layouts,
                                      registers=registers, step_cycles=cycles.get(w.seed))
                    runs.append(("ber", float(ber),
                                 run_trial(w, geometry, target, ups, fbuild=fbuild,
                                           workdir=workdir.name)))
                    tick()
    finally:
        workdir.cleanup()
    core = geometry.upset_core(works[0].cfg)
    field_bits = {t: core.field_bits(t) for t in targets if t in MEMORIES}
    sens = _sensitivity_rows(runs, targets, bits, registers, field_bits)
    ber_rows = _ber_rows(runs, targets, bers, bits, steps)
    mem = [tr for _, _, tr in runs if tr.mirrored and tr.mirror_exact is not None]
    mirror_info = {
        "runs": len(mem), "exact": sum(bool(tr.mirror_exact) for tr in mem),
        "in_limits": sum(tr.in_limits for tr in mem),
        "exact_in_limits": sum(bool(tr.mirror_exact) for tr in mem if tr.in_limits),
        "baseline_exact": baseline_exact,
        "mismatches": [{"target": tr.target, "first_divergence": tr.first_divergence,
                        "in_limits": tr.in_limits} for tr in mem if not tr.mirror_exact][:10]}
    params = {"backend": backend, "neurons": geometry.neurons, "inputs": geometry.inputs,
              "syn_capacity": geometry.syn_capacity, "steps": steps, "networks": networks,
              "single": single, "bers": [float(b) for b in bers], "trials": trials,
              "seed": seed, "synapses": [w.cfg.n_synapses for w in works],
              "reference_spikes": [int(sum(len(s) for s in w.reference)) for w in works]}
    return Campaign(params, bits, sens, ber_rows, mirror_info,
                    time.perf_counter() - t_start)


def _row(runs, **head):
    dev = [tr.dev for tr in runs]
    err, err_sem = _mean_sem([d["raster_error"] for d in dev])
    rate, _ = _mean_sem([d["rate_change"] for d in dev])
    row = {**head, "runs": len(runs),
           "p_deviate": float(np.mean([d["deviated"] for d in dev])) if dev else 0.0,
           "raster_error": err, "raster_error_sem": err_sem, "rate_change": rate,
           "hangs": int(sum(tr.hung for tr in runs)),
           "upsets": float(np.mean([len(tr.injected) for tr in runs])) if runs else 0.0}
    checked = [tr for tr in runs if tr.parity_errors is not None]
    if checked:                 # a core with parity: detected, and changed but not detected
        row["p_detected"] = float(np.mean([tr.parity_errors > 0 for tr in checked]))
        row["p_silent"] = float(np.mean([tr.dev["deviated"] and not tr.parity_errors
                                         for tr in checked]))
    return row


def _sensitivity_rows(runs, targets, bits, registers, field_bits):
    rows = []
    for target in targets:
        mine = [tr for kind, _, tr in runs if kind == "single" and tr.target == target]
        if not mine:
            continue
        row = _row(mine, target=target, bits=bits[target])
        row["vulnerable_bits"] = row["p_deviate"] * bits[target]
        rows.append(row)
        groups = {}
        for tr in mine:
            for f in dict.fromkeys(tr.fields):
                groups.setdefault(f, []).append(tr)
        order = list(field_bits.get(target, ()))
        for g in sorted(groups, key=lambda g: (order.index(g) if g in order else len(order),
                                               g)):
            sub = _row(groups[g], target=f"{target}: {g}", bits=None)
            if target == "registers":
                sub["bits"] = sum(b for name, b in registers.items()
                                  if register_group(name) == g)
            else:
                sub["bits"] = field_bits[target][g]
            sub["vulnerable_bits"] = sub["p_deviate"] * sub["bits"]
            rows.append(sub)
    return rows


def _ber_rows(runs, targets, bers, bits, steps):
    rows = []
    for target in targets:
        for ber in bers:
            mine = [tr for kind, b, tr in runs if kind == "ber" and b == float(ber)
                    and tr.target == target]
            if mine:
                rows.append(_row(mine, target=target, ber=float(ber),
                                 expected_upsets=bits[target] * steps * float(ber)))
    return rows


# ======================================================================================
# Reporting
# ======================================================================================
def markdown(result):
    """The campaign's two tables (Markdown); a core with parity adds the probability that
    an upset was detected and that it changed the spike train undetected."""
    par = any("p_detected" in r for r in result.sensitivity)
    extra = " P(detected) | P(changed, undetected) |" if par else ""
    lines = ["| target | bits | single-upset runs | P(spike train changes) | vulnerable bits | "
             "raster error (mean ± s.e.) | rate change | hangs |" + extra,
             "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if par else "")]
    for r in result.sensitivity:
        cells = (f"| {r['target']} | {r['bits']} | {r['runs']} | {r['p_deviate']:.2f} | "
                 f"{r['vulnerable_bits']:.0f} | {r['raster_error']:.3f} ± "
                 f"{r['raster_error_sem']:.3f} | {r['rate_change']:+.3f} | {r['hangs']} |")
        if par:
            cells += (f" {r['p_detected']:.2f} | {r['p_silent']:.2f} |" if "p_detected" in r
                      else " | |")
        lines.append(cells)
    if result.ber:
        bers = sorted({r["ber"] for r in result.ber})
        lines += ["", "| target | " + " | ".join(f"BER {b:.0e}" for b in bers) + " |",
                  "|---|" + "---:|" * len(bers)]
        for target in dict.fromkeys(r["target"] for r in result.ber):
            cells = []
            for b in bers:
                r = next((x for x in result.ber if x["target"] == target and x["ber"] == b),
                         None)
                cells.append("" if r is None else
                             f"{r['raster_error']:.3f} ({r['upsets']:.1f} upsets)")
            lines.append(f"| {target} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(result, path):
    """Raster error against bit-error rate per target — measured (markers, mean ± s.e.)
    and predicted from the single-upset runs (dashed: upsets per run × mean raster error
    of one upset, the low-rate limit) — and the vulnerable bits per target (PNG at
    ``path``)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurofab.plot import save
    p = result.params
    single = {r["target"]: r for r in result.sensitivity}
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.4), dpi=110,
                                 gridspec_kw={"width_ratios": [1.25, 1]})
    for k, target in enumerate(dict.fromkeys(r["target"] for r in result.ber)):
        rows = sorted((r for r in result.ber if r["target"] == target), key=lambda r: r["ber"])
        pos = [r for r in rows if r["raster_error"] > 0]
        mean = np.array([r["raster_error"] for r in pos])
        sem = np.array([r["raster_error_sem"] for r in pos])
        # (a log axis: the lower bar stops short of zero)
        ax.errorbar([r["ber"] for r in pos], mean, yerr=[np.minimum(sem, 0.9 * mean), sem],
                    marker="o", ms=4, capsize=2, ls="-", lw=1, label=target, color=f"C{k}")
        if target in single and single[target]["raster_error"] > 0:
            x = np.logspace(np.log10(rows[0]["ber"]), np.log10(rows[-1]["ber"]), 50)
            y = result.bits[target] * p["steps"] * x * single[target]["raster_error"]
            ax.plot(x[y < 3], y[y < 3], ls="--", lw=0.8, color=f"C{k}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("bit-error rate (upsets per bit per step)")
    ax.set_ylabel("raster error (Hamming distance / reference spikes)")
    ax.set_title("spike-train deviation against BER (dashed: from single upsets)", fontsize=9)
    if result.ber:
        ax.legend(fontsize=7, loc="upper left")
    else:
        ax.text(0.5, 0.5, "no BER sweep in this campaign", ha="center", va="center",
                transform=ax.transAxes, fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    rows = [r for r in result.sensitivity if ": " not in r["target"]]
    vb = [max(r["vulnerable_bits"], 0.5) for r in rows]
    bx.barh(range(len(rows)), vb, color=[f"C{k}" for k in range(len(rows))])
    bx.set_yticks(range(len(rows)), [r["target"] for r in rows], fontsize=8)
    bx.invert_yaxis()
    bx.set_xscale("log")
    bx.set_xlim(10, max(vb) * 8)
    bx.set_xlabel("vulnerable bits = bits × P(one upset changes the spike train)")
    bx.set_title("which memory matters", fontsize=9)
    for i, r in enumerate(rows):
        bx.text(vb[i] * 1.1, i, f"{r['p_deviate']:.2f} × {r['bits']}", va="center",
                fontsize=7)
    fig.suptitle(f"single-event upsets in a {p['neurons']}-neuron core ({p['backend']}, "
                 f"{p['steps']} steps per run, E/I network, Poisson input)", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def write_docs(result, path, marker="faults"):
    """Write :func:`markdown` of ``result`` (a :class:`Campaign`), or ``result`` itself
    if it is a str, between ``<!-- marker -->`` and ``<!-- /marker -->`` in the Markdown
    file ``path``."""
    from pathlib import Path
    path = Path(path)
    text = path.read_text()
    begin, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    if begin not in text or end not in text:
        raise ValueError(f"{path} has no {begin} ... {end} markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    body = result if isinstance(result, str) else markdown(result)
    path.write_text(f"{head}{begin}\n{body}\n{end}{tail}")
    return path


# ======================================================================================
# Protected builds: resources and fmax per board
# ======================================================================================
#: The configuration memories protected on each board (:func:`parity_board_builds`):
#: all three where block RAM is to spare (ULX3S, Tang Nano 9K); on the iCEBreaker, whose
#: 30 block RAMs are all in use, the synapses (27-bit words in 32-bit SPRAM pairs) and the
#: profiles (79-bit words in five 16-bit block RAMs), whose parity bits are free, but not
#: the row pointers (2 x 16 bits, 512 sources: two more block RAMs).
BOARD_PARITY = {"icebreaker": ("synapse", "profile"),
                "ulx3s": spec.PARITY_MEMORIES, "tang-nano-9k": spec.PARITY_MEMORIES}


#: Boards whose protected top leaves out the spike-queue region to make room for parity
#: (the iCEBreaker's top with both does not place: measured, ``docs/reliability.md``).
PARITY_WITHOUT_QUEUE = frozenset({"icebreaker"})


def parity_board_top(board, parity):
    """``boards.top.BoardTop(board, parity=parity)``: the board's top whose core protects
    ``parity``, its errors counted in STATUS (without the spike-queue region on the boards
    of :data:`PARITY_WITHOUT_QUEUE`)."""
    from neurofab.boards.top import BoardTop
    name = board if isinstance(board, str) else board.name
    return BoardTop(board, parity=parity,
                    **({"queue": False} if name in PARITY_WITHOUT_QUEUE else {}))


def parity_board_builds(boards=tuple(BOARD_PARITY), *, out_dir="build", progress=None):
    """Build every board's top without and with parity (:data:`BOARD_PARITY`), cached
    like ``neurofab build``; returns one row per board: ``board``, ``device``,
    ``protected`` (the memories) and, for ``plain`` and ``parity``, fmax, target,
    ``timing_met`` and resources. A top whose every placer seed misses the board's clock
    (``board_mhz``) is built again for the whole MHz below the best fmax it reached, and
    reported from that build (``timing_met`` False, ``target_mhz`` the lower clock)."""
    import functools

    from neurofab.boards import get_board
    from neurofab.boards.build import PlacementError, TimingError, build
    from neurofab.boards.top import board_top_factory
    rows = []
    for name in boards:
        board = get_board(name)
        row = {"board": board.name, "device": board.device,
               "protected": list(BOARD_PARITY[name])}
        for kind, factory in (("plain", board_top_factory),
                              ("parity", functools.partial(parity_board_top,
                                                           parity=BOARD_PARITY[name]))):
            if progress is not None:
                progress(f"{name} {kind}")
            try:
                rep, met = build(board, factory, out_dir=out_dir), True
            except TimingError as exc:
                # every placer seed missed the board's clock: build for the whole MHz
                # below the best fmax reached (the resources, and the clock it meets)
                f_core = math.floor(exc.achieved / 1e6) * 1e6
                rep, met = build(board, factory, out_dir=out_dir, f_core=f_core), False
            except PlacementError as exc:
                # no legal placement with any seed: a row that says so, not a traceback
                row[kind] = {"placed": False, "detail": str(exc),
                             "board_mhz": round(board.f_core / 1e6, 2)}
                continue
            row[kind] = {"fmax_mhz": round(rep.fmax / 1e6, 2),
                         "target_mhz": round(rep.f_target / 1e6, 2), "timing_met": met,
                         "board_mhz": round(board.f_core / 1e6, 2),
                         "resources": {k: [r.used, r.available]
                                       for k, r in rep.resources.items()},
                         "cached": rep.cached}
        rows.append(row)
    return rows


def builds_markdown(rows):
    """The table of :func:`parity_board_builds`: per board, the memories protected, and
    fmax and resources without and with parity."""
    keys = [k for k in ("lut", "ff", "lc", "bram", "spram", "lutram", "dsp")
            if any(k in r[kind].get("resources", {}) for r in rows
                   for kind in ("plain", "parity"))]
    lines = ["| board | device | parity on | build | fmax MHz (target) | "
             + " | ".join(keys) + " |", "|---|---|---|---|---:|" + "---:|" * len(keys)]
    for r in rows:
        for kind in ("plain", "parity"):
            b = r[kind]
            head = (f"| {r['board']} | {r['device']} | "
                    f"{', '.join(r['protected']) if kind == 'parity' else '—'} | {kind} | ")
            if not b.get("placed", True):
                lines.append(f"{head}no legal placement ({b['board_mhz']:.1f}) | "
                             + " | ".join("" for _ in keys) + " |")
                continue
            res = b["resources"]
            cells = [f"{res[k][0]} / {res[k][1]}" if k in res else "" for k in keys]
            missed = ("" if b.get("timing_met", True) else
                      f"; misses the board's {b['board_mhz']:.1f}")
            lines.append(f"{head}{b['fmax_mhz']:.1f} ({b['target_mhz']:.1f}{missed}) | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)
