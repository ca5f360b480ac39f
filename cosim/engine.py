"""The co-simulation engine: one case type, one play / compare / re-run-with-waveform loop,
one result class, one divergence log and one waveform path rule, for every block and every
back end.

A block's cosim module (``cosim/core.py``, ``cosim/encoders.py``, ``cosim/link.py``,
``cosim/aer.py``, ``cosim/fabric.py``, ...) only builds **cases**; :func:`run` plays a case
on a back end and compares it with the golden expectation the case carries;
:mod:`.registry` names every block.

A case is an object with

* ``block`` (its name), ``params`` (a dict, reported), ``top`` (the Verilog module name),
  ``input_events`` and ``synaptic_events`` (reported counts);
* ``plan(backend, *, gap, stall, seed)`` → :class:`Plan`: the transaction script
  (:mod:`.player`), what every phase is (``kinds``) and which phase ends which step
  (``progress``);
* ``dut(backend)`` → a fresh component under test (each run elaborates its own);
* ``compare(plan, result)`` → :class:`Verdict`: the divergences (in phase order) and the
  phase of the first, plus the counts the result reports.

:class:`StepCase` is the case almost every block is: a list of :class:`Step` s (inputs
offered, outputs expected, state after), the block's state words read through a
:class:`Probed` wrapper after every step, further state reads (:class:`StateRead`, e.g. a
neuron core's memory port) and set-up reads before step 0 (a configuration uploaded to an
empty-memory build, or the configuration read back). The router and the fabric compare
outputs whose interleaving depends on arbitration; their cases implement ``plan`` and
``compare`` themselves.

Back ends (:data:`BACKENDS`): the Amaranth simulator, Verilator (``cosim/verilator.py``) and
the synthesised netlists of ``synth_ice40`` / ``synth_ecp5`` with the vendor cell models
under Verilator (``cosim/gatelevel.py``). A case built with a memory-init factory and an
empty-memory factory (``StepCase.empty_factory``) gets the empty one on Verilator and gate
level, so one build serves every configuration of a geometry.

Waveforms: on a mismatch the run is repeated with tracing up to the phase that showed the
first divergence and the VCD written to :func:`default_vcd_path` (or ``vcd_path``);
``NEUROFAB_VCD=1`` traces every run; ``vcd_path=False`` never traces.
"""

import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from amaranth import Module, Signal, Value, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped
from amaranth.utils import ceil_log2

from neurofab import spec

from .player import Get, Mem, Phase, Put, Script, play_amaranth, play_verilator

__all__ = ["BACKENDS", "Divergence", "DivergenceLog", "CosimResult", "Plan", "Verdict",
           "Probed", "Step", "StateRead", "StepCase", "run", "default_vcd_path",
           "check_flow", "slowdown"]

#: Every back end a case can be played on.
BACKENDS = ("amaranth", "verilator", "gate-ice40", "gate-ecp5")


# ======================================================================================
# Divergences and results
# ======================================================================================
@dataclass
class Divergence:
    """A place where RTL and golden disagree."""
    step: int          #: step (0-based) whose output or end state differs; -1: before step 0
    block: str         #: block name ("core", "router", ...)
    where: str         #: "neuron 12", "o_spikes[3]", "register STEP", "SYNAPSE[7]", ...
    field: str         #: "v", "acc[slot 5]", "neuron", "eos", ...
    expected: object
    got: object

    def __str__(self):
        return (f"step {self.step}, {self.block}, {self.where}, {self.field}: expected "
                f"{self.expected}, got {self.got}")

    def as_dict(self):
        return {k: (v if isinstance(v, (int, str, type(None))) else str(v))
                for k, v in asdict(self).items()}


class DivergenceLog:
    """Divergences of one run in phase order, and the phase where the first appeared
    (the traced re-run replays the script up to that phase)."""

    def __init__(self):
        self.divs, self.first = [], None

    def found(self, phase, divergences):
        divergences = list(divergences)
        if divergences and self.first is None:
            self.first = phase
        self.divs.extend(divergences)


@dataclass
class Plan:
    """What :func:`run` plays: the script, what each phase is and the progress marks."""
    script: Script
    #: per phase: ``(kind, step)``; kinds are the case's own ("setup", "step", "state", ...)
    kinds: list
    #: phase index -> ``(done, total)`` passed to the progress callback when it ends
    progress: dict = field(default_factory=dict)
    #: steps the run reports
    steps: int = 0


@dataclass
class Verdict:
    """What a case's ``compare`` found in one played script."""
    divergences: list
    first: int = None           #: phase of the first divergence (None: none)
    outputs: int = 0            #: output transactions (events, 1 bits, words) received
    states_checked: int = 0
    cycles: int = 0             #: clock cycles of the completed step phases
    #: RTL spikes per completed step, where the block emits spikes
    spikes: list = field(default_factory=list)
    #: block-specific figures merged into the summary (``dropped``, ``events_per_clock``...)
    extra: dict = field(default_factory=dict)


@dataclass
class CosimResult:
    """Outcome of one co-simulation run (see :meth:`summary`, :meth:`report`).

    Block-specific figures (``neurons``, ``check_state``, ``dropped``, ...) are in ``extra``
    and readable as attributes.
    """
    bit_exact: bool
    backend: str
    block: str
    steps: int
    input_events: int        #: input transactions (events, values, bit words) offered
    synaptic_events: int     #: synapses delivered (blocks with a neuron core), else 0
    output_spikes: int       #: output events (spikes, AER events), 1 bits or words
    cycles: int              #: clock cycles of the step phases
    wall_s: float
    sim_s: float             #: seconds of simulation (builds and golden excluded)
    seed: int = 0
    params: dict = field(default_factory=dict)
    states_checked: int = 0
    #: every clock cycle simulated (set-up, steps and state readback)
    sim_cycles: int = 0
    first_divergence: Divergence = None
    divergences: list = field(default_factory=list)
    vcd: str = None
    build: dict = None
    #: the RTL's spikes, one int64 array per completed step (blocks that emit spikes)
    spikes: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def __getattr__(self, name):
        extra = self.__dict__.get("extra") or {}
        if name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @property
    def cycles_per_step(self):
        return self.cycles / self.steps if self.steps else 0.0

    def summary(self):
        """JSON-serialisable summary (the CLI prints it with ``--json``)."""
        out = {
            "bit_exact": bool(self.bit_exact),
            "backend": self.backend,
            "block": self.block,
            "steps": int(self.steps),
            "input_events": int(self.input_events),
            "synaptic_events": int(self.synaptic_events),
            "output_spikes": int(self.output_spikes),
            "cycles": int(self.cycles),
            "cycles_per_step": round(float(self.cycles_per_step), 3),
            "wall_s": round(float(self.wall_s), 3),
            "sim_s": round(float(self.sim_s), 3),
            "sim_cycles": int(self.sim_cycles),
            "cycles_per_s": round(self.sim_cycles / self.sim_s) if self.sim_s else 0,
            "seed": int(self.seed),
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "states_checked": int(self.states_checked),
            "first_divergence": (self.first_divergence.as_dict()
                                 if self.first_divergence is not None else None),
            "vcd": self.vcd,
            "build": self.build,
        }
        out.update({k: _jsonable(v) for k, v in self.extra.items()})
        return out

    def report(self):
        """A readable verdict (several lines when the run diverged)."""
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        head = (f"{self.block} cosim on {self.backend} ({params}): {self.steps} steps, "
                f"{self.input_events} input transactions, "
                + (f"{self.synaptic_events} synaptic events, " if self.synaptic_events
                   else "")
                + f"{self.output_spikes} output events/bits, {self.cycles} cycles "
                f"({self.cycles_per_step:.1f}/step), {self.states_checked} state checks, "
                f"{self.wall_s:.2f} s")
        if self.bit_exact:
            return head + "\nbit-exact: RTL = golden"
        lines = [head, f"NOT bit-exact. First divergence: {self.first_divergence}"]
        more = self.divergences[1:6]
        if more:
            lines.append("then: " + "; ".join(str(d) for d in more))
        if self.vcd:
            lines.append(f"waveform of the failing run: {self.vcd}")
        return "\n".join(lines)


def _jsonable(v):
    if isinstance(v, (bool, int, float, str, type(None))):
        return v
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return str(v)


def default_vcd_path(block, backend, seed):
    """Where a run's waveform goes unless told: ``$NEUROFAB_VCD_DIR`` (default
    ``neurofab-cosim``) / ``<block>-<backend>-seed<seed>.vcd``."""
    base = Path(os.environ.get("NEUROFAB_VCD_DIR", "neurofab-cosim"))
    return base / f"{block}-{backend}-seed{seed}.vcd"


def check_flow(gap, stall):
    """Refuse a ``gap`` or ``stall`` probability outside [0, 1)."""
    for name, p in (("gap", gap), ("stall", stall)):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"{name} = {p!r} must be a probability in [0, 1)")


def slowdown(gap, stall):
    """How much longer than its busy clocks a phase may take under ``gap``/``stall``."""
    return 1.0 / max(0.05, 1.0 - max(gap, stall))


# ======================================================================================
# The loop
# ======================================================================================
def _gate_ports(dut):
    """Name patterns of the top-level signals of ``dut`` (gate-level builds make only
    these public)."""
    out = ["clk", "rst"]
    for name, member in dut.signature.members.items():
        out.append(f"{name}__*" if member.is_signature else name)
    return tuple(out)


class _Player:
    """``play(script, vcd=None, progress=None)`` of one case on one back end; builds are
    made (or found in the cache) by :meth:`prepare` or on first use, and described in
    ``info``."""

    def __init__(self, case, backend, workdir):
        self.case, self.backend, self.info = case, backend, None
        self._tmp, self._ready = None, {}
        if backend != "amaranth" and workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="neurofab-cosim-")
            workdir = self._tmp.name
        self.workdir = workdir

    def close(self):
        if self._tmp is not None:
            self._tmp.cleanup()

    def prepare(self, trace=False):
        """The component (Amaranth) or the build (Verilator, gate level) the next
        :meth:`play` with this ``trace`` uses: made now, so that a caller can keep
        elaboration and compilation out of its simulation time."""
        if trace in self._ready:
            return self._ready[trace]
        dut = self.case.dut(self.backend)
        if self.backend == "amaranth":
            self._ready[trace] = dut
            return dut
        if self.backend.startswith("gate-"):
            from .gatelevel import gate_build
            b, net = gate_build(dut, self.backend[len("gate-"):], top=self.case.top,
                                trace=trace, ports=_gate_ports(dut))
        else:
            from .verilator import build
            b, net = build(dut, name=self.case.top, trace=trace), None
        if self.info is None:
            self.info = {"cached": b.cached, "build_s": round(b.build_s, 3), "key": b.key,
                         "trace": b.trace}
            if net is not None:
                self.info.update({"netlist_key": net.key, "synth_cached": net.cached,
                                  "synth_s": round(net.synth_s, 3), "cells": net.cells})
        self._ready[trace] = b
        return b

    def play(self, script, vcd=None, progress=None):
        target = self.prepare(vcd is not None)
        # an Amaranth component is elaborated by the run: the next run needs a fresh one
        if self.backend == "amaranth":
            del self._ready[vcd is not None]
            return play_amaranth(target, script, vcd_path=vcd, progress=progress)
        return play_verilator(target, script, workdir=self.workdir, vcd_path=vcd,
                              progress=progress)


def run(case, *, backend="amaranth", seed=0, gap=0.3, stall=0.3, vcd_path=None,
        progress=None, workdir=None):
    """Play ``case`` on ``backend`` and compare it with its golden expectation.

    Parameters
    ----------
    case : StepCase or another case (see the module docstring)
    backend : one of :data:`BACKENDS` the case supports (``case.backends``)
    seed : int
        Seeds the random valid gaps and back-pressure.
    gap, stall : float in [0, 1)
        Probability of an idle cycle before each input transaction, and of ``ready`` low
        in a cycle on an output.
    vcd_path : path, False or None
        Where the waveform goes (written on a mismatch, or always with ``NEUROFAB_VCD=1``);
        default :func:`default_vcd_path`. ``False``: no waveform (a mismatch is reported
        without the traced re-run, which saves a traced build).
    progress : callable(done, total), optional
        Called as steps finish.
    workdir : path, optional
        Verilator work directory (default: a temporary directory).

    Returns
    -------
    CosimResult
    """
    backends = getattr(case, "backends", BACKENDS)
    if backend not in backends:
        raise ValueError(f"backend = {backend!r} must be one of {', '.join(backends)}")
    check_flow(gap, stall)
    t_start = time.perf_counter()
    plan = case.plan(backend, gap=gap, stall=stall, seed=seed)
    no_vcd = vcd_path is False
    want_vcd = os.environ.get("NEUROFAB_VCD", "") not in ("", "0") and not no_vcd
    target = (Path(vcd_path) if vcd_path not in (None, False)
              else default_vcd_path(case.block, backend, seed))
    on_phase = None
    if progress is not None:
        def on_phase(k):
            if k in plan.progress:
                progress(*plan.progress[k])
    player = _Player(case, backend, workdir)
    try:
        player.prepare(want_vcd)                # builds are not simulation time
        t_sim = time.perf_counter()
        res = player.play(plan.script, target if want_vcd else None, on_phase)
        sim_s = time.perf_counter() - t_sim
        verdict = case.compare(plan, res)
        divs = verdict.divergences
        vcd = str(target) if want_vcd else None
        if divs and not want_vcd and not no_vcd:
            # the same transactions again, traced, up to the phase that showed the divergence
            first = len(plan.script.phases) - 1 if verdict.first is None else verdict.first
            player.play(Script(plan.script.phases[:first + 1], seed=plan.script.seed),
                        target)
            vcd = str(target)
    finally:
        player.close()
    return CosimResult(
        bit_exact=not divs, backend=backend, block=case.block, steps=plan.steps,
        input_events=int(case.input_events), synaptic_events=int(case.synaptic_events),
        output_spikes=int(verdict.outputs), cycles=int(verdict.cycles),
        wall_s=time.perf_counter() - t_start, sim_s=sim_s, seed=seed,
        params=dict(case.params), states_checked=verdict.states_checked,
        sim_cycles=sum(ph.cycles for ph in res.phases if ph.end is not None),
        first_divergence=divs[0] if divs else None, divergences=divs[:100], vcd=vcd,
        build=player.info, spikes=verdict.spikes, extra=dict(verdict.extra))


# ======================================================================================
# State probe wrapper
# ======================================================================================
class Probed(wiring.Component):
    """``dut`` with its ports forwarded and a state readback port pair.

    Parameters
    ----------
    dut : wiring.Component
    items : list of (name, Value or amaranth.lib.memory.Memory)
        The state words, in order: a value is one word, a memory is one word per entry
        (named ``name[k]``). Memory entries are read through an asynchronous read port
        added to the memory here (before it is elaborated).

    Attributes
    ----------
    every port of ``dut``, plus
    i_state : In(stream.Signature(unsigned(index_width)))
        Word index.
    o_state : Out(stream.Signature(unsigned(word_width)))
        One response per request.
    """

    def __init__(self, dut, items):
        self.dut = dut
        self.words = []          # (name, value) or (name, (read port, entry))
        self._mem_ports = []
        for name, item in items:
            if isinstance(item, memory.Memory):
                rd = item.read_port(domain="comb")
                self._mem_ports.append(rd)
                self.words += [(f"{name}[{k}]", (rd, k)) for k in range(item.depth)]
            else:
                self.words.append((name, Value.cast(item)))
        if not self.words:
            raise ValueError("a probe needs at least one state word")
        self.names = [n for n, _ in self.words]
        width = max(max(len(w[0].data) if isinstance(w, tuple) else len(w), 1)
                    for _, w in self.words)
        self.word_width = width
        members = dict(dut.signature.members)
        for name in ("i_state", "o_state"):
            if name in members:
                raise ValueError(f"{dut!r} already has a port named {name}")
        members["i_state"] = In(stream.Signature(unsigned(max(1, ceil_log2(len(self.words))))))
        members["o_state"] = Out(stream.Signature(unsigned(width)))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        for name, member in dut.signature.members.items():
            ours, theirs = getattr(self, name), getattr(dut, name)
            if member.is_signature:
                connect(m, flipped(ours), theirs)
            elif member.flow == Out:
                m.d.comb += ours.eq(theirs)
            else:
                m.d.comb += theirs.eq(ours)
        i, o = self.i_state, self.o_state
        word = Signal(self.word_width)
        for rd in self._mem_ports:
            m.d.comb += rd.addr.eq(0)
        with m.Switch(i.payload):
            for k, (_, w) in enumerate(self.words):
                with m.Case(k):
                    if isinstance(w, tuple):
                        rd, entry = w
                        m.d.comb += [rd.addr.eq(entry), word.eq(rd.data)]
                    else:
                        m.d.comb += word.eq(w)
        free = ~o.valid | o.ready
        m.d.comb += i.ready.eq(free)
        with m.If(o.valid & o.ready):
            m.d.sync += o.valid.eq(0)
        with m.If(i.valid & free):
            m.d.sync += [o.valid.eq(1), o.payload.eq(word)]
        return m


# ======================================================================================
# The step case
# ======================================================================================
@dataclass
class StateRead:
    """A state read through a request/response port pair: ``requests`` on ``req``, one
    response each on ``resp``; ``compare(t, words)`` returns the divergences of step ``t``
    (``t = -1`` for a set-up read; ``compare`` None: nothing to compare, e.g. an upload)."""
    req: str
    resp: str
    requests: list
    compare: object = None
    label: str = "setup"


@dataclass
class Step:
    """One step of a case: what goes in, what must come out, the state after it."""
    puts: dict                    #: input port -> payloads (ints)
    gets: dict                    #: output port -> expected payloads (ints)
    state: dict = field(default_factory=dict)   #: probe word name -> expected int
    clocks: int = 0               #: clocks the step needs without gaps (timeout budget)
    #: memory-port transactions (:class:`StateRead`) played before the step, e.g. a register
    #: the host writes between steps (a learning core's modulator)
    before: list = field(default_factory=list)


_EOS = spec.InputEvent["eos"].offset
_CHAN = (spec.InputEvent["channel"].offset, spec.InputEvent["channel"].width)
_SPIKE_EOS = spec.SpikeEvent["eos"].offset
_NEURON = (spec.SpikeEvent["neuron"].offset, spec.SpikeEvent["neuron"].width)


def _last_mask(kind):
    if isinstance(kind, tuple) and kind[0] == "frames":
        return 1 << kind[1]["last"].offset
    if isinstance(kind, tuple):
        return None
    return {"events": 1 << _EOS, "spikes": 1 << _SPIKE_EOS}.get(kind)


def _field_value(layout, name, word):
    f = layout[name]
    return (word >> f.offset) & ((1 << f.width) - 1)


def _event_parts(kind, word):
    """(eos, channel or neuron, name) of an events/spikes payload."""
    eos_bit = _EOS if kind == "events" else _SPIKE_EOS
    off, width = _CHAN if kind == "events" else _NEURON
    name = "channel" if kind == "events" else "neuron"
    return (word >> eos_bit) & 1, (word >> off) & ((1 << width) - 1), name


def _describe(kind, exp, got):
    """(field, expected, got) of two differing payloads of an output of ``kind``."""
    if kind in ("events", "spikes"):
        (ee, ec, name), (ge, gc, _) = _event_parts(kind, exp), _event_parts(kind, got)
        if ee != ge:
            return ("eos", f"eos={ee}" + ("" if ee else f" ({name} {ec})"),
                    f"eos={ge}" + ("" if ge else f" ({name} {gc})"))
        return name, ec, gc
    if kind == "bits":
        diff = exp ^ got
        lane = (diff & -diff).bit_length() - 1
        return f"lane {lane}", (exp >> lane) & 1, (got >> lane) & 1
    if isinstance(kind, tuple) and kind[0] in ("struct", "frames"):
        layout = kind[1]
        for name, _ in layout:
            e, g = (_field_value(layout, name, x) for x in (exp, got))
            if e != g:
                return name, e, g
    if isinstance(kind, tuple) and kind[0] == "line":
        _, cycles, divisor = kind
        diff = exp ^ got
        c = (diff & -diff).bit_length() - 1
        # cycle 0 is the idle (or last stop bit) cycle that accepted the byte
        where = "idle" if c == 0 else f"bit {(c - 1) // divisor}"
        return f"cycle {c} ({where})", (exp >> c) & 1, (got >> c) & 1
    if isinstance(kind, tuple) and kind[0] == "counts":
        _, width, lanes = kind
        for lane in range(lanes):
            e, g = ((x >> (width * lane)) & ((1 << width) - 1) for x in (exp, got))
            if e != g:
                return f"count[lane {lane}]", e, g
    return "value", exp, got


def _missing(kind, exp):
    """(field, expected) of an expected payload that never came."""
    if kind in ("events", "spikes"):
        eos, value, name = _event_parts(kind, exp)
        return ("eos", "end-of-step") if eos else (name, value)
    return "transaction", exp


def compare_output(t, block, port, kind, expected, got, hung=None):
    """The first divergence of one step's output transactions on ``port``, or None."""
    for j, e in enumerate(expected):
        if j >= len(got):
            f, ev = _missing(kind, e)
            return Divergence(t, block, f"{port}[{j}]", f, ev,
                              f"nothing within {hung} cycles (hung)" if hung else "nothing")
        if got[j] != e:
            f, ev, gv = _describe(kind, e, got[j])
            return Divergence(t, block, f"{port}[{j}]", f, ev, gv)
    if len(got) > len(expected):
        return Divergence(t, block, f"{port}[{len(expected)}]", "transaction", "nothing",
                          got[len(expected)])
    return None


def _output_count(kind, words):
    if kind == "bits":
        return sum(int(w).bit_count() for w in words)
    if kind in ("events", "spikes"):
        eos = _EOS if kind == "events" else _SPIKE_EOS
        return sum(1 for w in words if not (w >> eos) & 1)
    return len(words)


@dataclass
class StepCase:
    """A block instance, its stimulus and its golden expectation, step by step.

    ``factory()`` returns a fresh component under test; ``probe(dut)`` lists its state words
    (see :class:`Probed`), or is None. ``kinds`` maps an output port to how its payloads
    read: ``"bits"`` (one bit per lane), ``"events"`` (``spec.InputEvent``, a step ends with
    the end-of-step marker), ``"spikes"`` (``spec.SpikeEvent``, likewise), ``"words"``,
    ``("counts", width, lanes)``, ``("struct", layout)`` (a mismatch names the field),
    ``("frames", layout)`` (the same, and a step's output ends with the first payload whose
    ``last`` field is set) or ``("line", cycles, divisor)`` (``cycles`` line levels sampled
    one per clock, the first in bit 0: a mismatch names the cycle).

    ``reads`` (:class:`StateRead`) are played with the probe after the steps ``read_after``
    says: ``"every"`` step or only the last (``"end"``). ``setup`` reads are played before
    step 0 on a build of ``factory``; ``empty_setup`` before step 0 on a build of
    ``empty_factory`` (a core with empty memories, configured through its memory port),
    which Verilator and gate level use when given — one build per geometry.
    """
    block: str
    params: dict
    factory: object
    steps: list
    kinds: dict
    probe: object = None
    reads: list = field(default_factory=list)
    synaptic_events: int = 0
    setup: list = field(default_factory=list)
    empty_factory: object = None
    empty_setup: list = field(default_factory=list)
    #: input ports offered without random gaps: their timing is part of the stimulus (a
    #: UART line script), so both back ends and the golden model must see the same one
    timed: tuple = ()
    read_after: str = "every"
    top: str = None
    backends: tuple = BACKENDS

    def __post_init__(self):
        if self.read_after not in ("every", "end"):
            raise ValueError(f"read_after = {self.read_after!r} must be 'every' or 'end'")
        if self.top is None:
            self.top = "nf_" + self.block.replace("-", "_")
        self._built = []

    @property
    def input_events(self):
        return sum(len(d) for st in self.steps for d in st.puts.values())

    def _empty(self, backend):
        return backend != "amaranth" and self.empty_factory is not None

    def build(self, backend="amaranth"):
        """The component played: the block, wrapped in :class:`Probed` when it has state."""
        dut = (self.empty_factory if self._empty(backend) else self.factory)()
        if self.probe is None:
            return dut
        return Probed(dut, self.probe(dut))

    def dut(self, backend):
        return self._built.pop() if self._built else self.build(backend)

    def plan(self, backend, *, gap, stall, seed):
        first = self.build(backend)
        self._built = [first]
        names = first.names if isinstance(first, Probed) else []
        missing = [n for st in self.steps for n in st.state if n not in names]
        if missing:
            raise ValueError(f"{self.block}: golden state {missing[0]!r} is not a probed word")
        self._names = names
        slow = slowdown(gap, stall)
        phases, kinds, marks = [], [], {}
        setup = self.empty_setup if self._empty(backend) else self.setup
        for r in setup:
            phases.append(Phase([Mem(r.req, r.resp, r.requests, gap=gap if r.compare is None
                                     else 0.0, stall=stall)], r.label,
                                timeout=int((200 + 8 * len(r.requests)) * slow)))
            kinds.append(("setup", r))
        last = len(self.steps) - 1
        for t, st in enumerate(self.steps):
            for r in st.before:
                phases.append(Phase([Mem(r.req, r.resp, r.requests, gap=gap, stall=stall)],
                                    f"{r.label} {t}",
                                    timeout=int((200 + 8 * len(r.requests)) * slow)))
                kinds.append(("before", (t, r)))
            ops = [Put(port, data, gap=0.0 if port in self.timed else gap)
                   for port, data in st.puts.items()]
            for port, exp in st.gets.items():
                mask = _last_mask(self.kinds[port])
                ops.append(Get(port, last_mask=mask, stall=stall) if mask is not None else
                           Get(port, count=len(exp), stall=stall))
            work = max([st.clocks] + [len(d) for d in st.puts.values()] +
                       [len(d) for d in st.gets.values()])
            phases.append(Phase(ops, f"step {t}", timeout=int((200 + 8 * work) * slow)))
            kinds.append(("step", t))
            marks[len(phases) - 1] = (t + 1, len(self.steps))
            if self.read_after == "end" and t != last:
                continue
            reads = []
            if names:
                reads.append(Mem("i_state", "o_state", list(range(len(names))), stall=stall))
            reads += [Mem(r.req, r.resp, r.requests, stall=stall) for r in self.reads]
            if reads:
                n = max(len(r.data) for r in reads)
                phases.append(Phase(reads, f"state {t}", timeout=int((200 + 8 * n) * slow)))
                kinds.append(("state", t))
                del marks[len(phases) - 2]
                marks[len(phases) - 1] = (t + 1, len(self.steps))
        return Plan(Script(phases, seed=seed), kinds, marks, len(self.steps))

    def compare(self, plan, res):
        names, block, script = self._names, self.block, plan.script
        log, outputs, checked, cycles, spikes = DivergenceLog(), 0, 0, 0, []
        found = log.found
        spike_ports = [p for p, k in self.kinds.items() if k == "spikes"]
        for k, ph in enumerate(res.phases):
            kind, t = plan.kinds[k]
            sph = script.phases[k]
            hung = sph.timeout if ph.end is None else None
            if kind == "setup":
                r, got = t, ph.data[0] or []
                if hung:
                    found(k, [Divergence(-1, block, f"{r.req}/{r.resp}",
                                         f"{r.label} responses", len(r.requests),
                                         f"{len(got)} within {hung} cycles (hung)")])
                    break
                if r.compare is not None:
                    found(k, r.compare(-1, got))
                continue
            if kind == "before":
                (t, r), got = t, ph.data[0] or []
                if hung:
                    found(k, [Divergence(t, block, f"{r.req}/{r.resp}", f"{r.label} responses",
                                         len(r.requests), f"{len(got)} within {hung} cycles "
                                         "(hung)")])
                    break
                if r.compare is not None:
                    found(k, r.compare(t, got))
                continue
            if kind == "step":
                st = self.steps[t]
                if ph.end is not None:
                    cycles += ph.cycles
                for j, op in enumerate(sph.ops):
                    if not isinstance(op, Get):
                        continue
                    got = ph.data[j] or []
                    kind_ = self.kinds[op.port]
                    outputs += _output_count(kind_, got)
                    if op.port in spike_ports[:1] and ph.end is not None:
                        w = np.asarray(got, dtype=np.int64)
                        live = ((w >> _SPIKE_EOS) & 1) == 0
                        spikes.append((w[live] >> _NEURON[0]) & ((1 << _NEURON[1]) - 1))
                    d = compare_output(t, block, op.port, kind_, st.gets[op.port], got, hung)
                    found(k, [d] if d is not None else [])
                if ph.end is None and log.first is None:
                    found(k, [Divergence(t, block, "inputs", "transactions", "accepted",
                                         f"not all accepted within {hung} cycles (hung)")])
            else:
                st = self.steps[t]
                checked += 1
                j = 0
                if names:
                    got = ph.data[0] or []
                    ds = []
                    for i, name in enumerate(names):
                        if i >= len(got):
                            ds.append(Divergence(t, block, "state", name,
                                                 st.state.get(name),
                                                 "no response" + (" (hung)" if hung else "")))
                            break
                        if name in st.state and got[i] != st.state[name]:
                            ds.append(Divergence(t, block, "state", name, st.state[name],
                                                 got[i]))
                    found(k, ds)
                    j = 1
                for i, r in enumerate(self.reads):
                    found(k, r.compare(t, ph.data[j + i] or []))
            if ph.end is None:
                break
        return Verdict(log.divs, log.first, outputs, checked, cycles, spikes)
