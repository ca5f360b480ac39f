"""Co-simulation of the neuron core: RTL (``neurofab.rtl.core``) against golden
(``neurofab.golden.core``), bit for bit, on the Amaranth simulator or on Verilator.

The same transactions go into both models. The RTL side gets random valid gaps on
``i_events`` and random back-pressure on ``o_spikes`` and ``o_mem`` (seeded). Compared are

* the configuration the RTL holds, read back through ``i_mem`` before step 0 (profiles, row
  pointers, synapses, ``W_SHIFT``) against the words of ``rtl.core.memory_init``;
* every ``o_spikes`` transaction of every step, in order (fired neurons, then ``eos``);
* the full architectural state at every step boundary (``check_state="every"``) or after
  the last step (``"end"``): ``i``, ``v``, ``ref`` (and ``profile``) of every ``STATE`` word,
  every ``ACC`` slot of every neuron and the ``STEP`` register, read back through ``i_mem``.

On the Amaranth back end the core's memories are initialised from the config. On Verilator
the core is built with zero memories for the config's geometry (neurons, inputs, synapse
capacity) — so one build serves every config of that geometry — and the config is uploaded
through ``i_mem`` with ``rtl.core.config_words`` before step 0, which exercises the upload
path too.

On a mismatch the result names the first divergence (step, block, neuron or port, field,
expected, got; step -1 is the configuration before step 0) and a VCD of the failing run is
written: the run is repeated with tracing, up to the phase that showed the divergence.
``NEUROFAB_VCD=1`` writes waveforms of passing runs too (then the first run is traced).
"""

import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from amaranth import Shape

from neurofab import spec
from neurofab.config import CoreConfig, random_config
from neurofab.golden.core import GoldenCore
from neurofab.spec import Ctrl, Region

from .player import Get, Mem, Phase, Put, Script, play_amaranth, play_verilator

__all__ = ["Divergence", "DivergenceLog", "CosimResult", "run_core_cosim", "cosim_core", "compare_backends",
           "random_inputs",
           "core_geometry", "default_vcd_path"]

BLOCK = "core"
#: Back ends of :func:`run_core_cosim`.
BACKENDS = ("amaranth", "verilator", "gate-ice40", "gate-ecp5")
_PORTS = ("i_events", "o_spikes", "i_mem", "o_mem")


# --- bit fields ------------------------------------------------------------------------
def _field(layout, name):
    f = layout[name]
    return f.offset, f.width, Shape.cast(f.shape).signed


def _extract(words, offset, width, signed_=False):
    """Field ``[offset, offset+width)`` of every word (an int64 array; words < 2**63)."""
    x = (np.asarray(words, dtype=np.int64) >> offset) & ((1 << width) - 1)
    if signed_:
        x = np.where(x >> (width - 1), x - (1 << width), x)
    return x


def _pack(layout, **values):
    word = 0
    for name, value in values.items():
        offset, width, _ = _field(layout, name)
        word |= (int(value) & ((1 << width) - 1)) << offset
    return word


_REQ = {name: _field(spec.MemRequest, name)[:2] for name in ("index", "region", "write", "data")}


def _mem_request(region, index, write=0, data=0):
    word = 0
    for name, value in (("index", index), ("region", Region(region).value), ("write", write),
                        ("data", data)):
        offset, width = _REQ[name]
        word |= (int(value) & ((1 << width) - 1)) << offset
    return word


_EOS_OFFSET = _field(spec.SpikeEvent, "eos")[0]
_NEURON = _field(spec.SpikeEvent, "neuron")


def _event(channel=0, eos=0):
    return _pack(spec.InputEvent, channel=channel, eos=eos)


# --- results -------------------------------------------------------------------------
@dataclass
class Divergence:
    """The first place where RTL and golden disagree."""
    step: int          #: timestep (0-based) whose output or end state differs; -1: config
    block: str         #: block name ("core")
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
        if divergences and self.first is None:
            self.first = phase
        self.divs.extend(divergences)


@dataclass
class CosimResult:
    """Outcome of one co-simulation run (see :meth:`summary`)."""
    bit_exact: bool
    backend: str
    neurons: int
    steps: int
    input_events: int
    synaptic_events: int
    output_spikes: int
    cycles: int
    wall_s: float
    sim_s: float
    seed: int = 0
    check_state: str = "every"
    states_checked: int = 0
    first_divergence: Divergence = None
    divergences: list = field(default_factory=list)
    vcd: str = None
    build: dict = None
    #: the RTL's spikes, one int64 array per step that completed
    spikes: list = field(default_factory=list)
    block: str = BLOCK

    @property
    def cycles_per_step(self):
        return self.cycles / self.steps if self.steps else 0.0

    def summary(self):
        """JSON-serialisable summary (the CLI prints it with ``--json``)."""
        return {
            "bit_exact": bool(self.bit_exact),
            "backend": self.backend,
            "block": self.block,
            "neurons": int(self.neurons),
            "steps": int(self.steps),
            "input_events": int(self.input_events),
            "synaptic_events": int(self.synaptic_events),
            "output_spikes": int(self.output_spikes),
            "cycles": int(self.cycles),
            "cycles_per_step": round(float(self.cycles_per_step), 3),
            "wall_s": round(float(self.wall_s), 3),
            "sim_s": round(float(self.sim_s), 3),
            "seed": int(self.seed),
            "check_state": self.check_state,
            "states_checked": int(self.states_checked),
            "first_divergence": (self.first_divergence.as_dict()
                                 if self.first_divergence is not None else None),
            "vcd": self.vcd,
            "build": self.build,
        }

    def report(self):
        """A readable verdict (several lines when the run diverged)."""
        head = (f"{self.block} cosim on {self.backend}: {self.neurons} neurons, {self.steps} "
                f"steps, {self.input_events} input events, {self.synaptic_events} synaptic "
                f"events, {self.output_spikes} spikes, {self.cycles} cycles "
                f"({self.cycles_per_step:.1f}/step), {self.wall_s:.2f} s")
        if self.bit_exact:
            return head + "\nbit-exact: RTL = golden"
        lines = [head, f"NOT bit-exact. First divergence: {self.first_divergence}"]
        more = self.divergences[1:6]
        if more:
            lines.append("then: " + "; ".join(str(d) for d in more))
        if self.vcd:
            lines.append(f"waveform of the failing run: {self.vcd}")
        return "\n".join(lines)


# --- stimulus ------------------------------------------------------------------------
def random_inputs(rng, n_inputs, steps, *, per_step=4):
    """``steps`` sorted arrays of unique input channels, ``per_step`` per step on average
    (uniform in 0 .. 2 * ``per_step``, at most ``n_inputs``)."""
    rng = np.random.default_rng(rng)
    if n_inputs == 0:
        return [np.zeros(0, dtype=np.int64) for _ in range(steps)]
    out = []
    for _ in range(steps):
        k = min(int(rng.integers(0, 2 * per_step + 1)), n_inputs)
        out.append(np.sort(rng.choice(n_inputs, size=k, replace=False)).astype(np.int64))
    return out


def core_geometry(cfg, syn_capacity=None):
    """(n_neurons, n_inputs, syn_capacity) of the Verilator build for ``cfg``: the synapse
    memory is rounded up to a power of two so that configs of similar size share a build."""
    if syn_capacity is None:
        syn_capacity = 1 << max(0, int(max(1, cfg.n_synapses) - 1).bit_length())
    if syn_capacity < cfg.n_synapses:
        raise ValueError(f"syn_capacity = {syn_capacity} is below the config's "
                         f"{cfg.n_synapses} synapses")
    return cfg.n_neurons, cfg.n_inputs, int(syn_capacity)


def default_vcd_path(backend, cfg, seed):
    base = Path(os.environ.get("NEUROFAB_VCD_DIR", "neurofab-cosim"))
    return base / f"{BLOCK}-{backend}-n{cfg.n_neurons}-seed{seed}.vcd"


def _readback_requests(n):
    reqs = [_mem_request(Region.STATE, k) for k in range(n)]
    reqs += [_mem_request(Region.ACC, k) for k in range(n * spec.DELAY_SLOTS)]
    reqs.append(_mem_request(Region.CTRL, Ctrl.STEP.value))
    return reqs


def _config_words(cfg, n_inputs):
    from neurofab.rtl.core import config_words
    return config_words(cfg, n_inputs=n_inputs)


def _upload_requests(words):
    return [_mem_request(region, index, write=1, data=word) for region, index, word in words]


def _config_readback(cfg, words):
    """(requests, expected words, names) reading back the configuration memories."""
    items = [(region, k, w) for region, k, w in words
             if region in (Region.PROFILE, Region.ROWPTR) or
             (region is Region.SYNAPSE and k < cfg.n_synapses) or
             (region is Region.CTRL and k == Ctrl.W_SHIFT.value)]
    reqs = [_mem_request(region, k) for region, k, _ in items]
    names = [f"{region.name}[{k}]" if region is not Region.CTRL else "register W_SHIFT"
             for region, k, _ in items]
    return reqs, [w for _, _, w in items], names


def _build_script(cfg, rtl_cfg, inputs, *, upload, n_inputs, gap, stall, check_state, seed):
    """The transaction script of a run; ``upload``: upload the config through i_mem."""
    n = cfg.n_neurons
    slow = 1.0 / max(0.05, 1.0 - max(gap, stall))
    phases = []

    def mem_phase(reqs, label, gap_):
        return Phase([Mem("i_mem", "o_mem", reqs, gap=gap_, stall=stall)], label,
                     timeout=int(100 + 8 * len(reqs) * slow))

    words = _config_words(rtl_cfg, n_inputs)
    if upload:
        phases.append(mem_phase(_upload_requests(words), "upload", gap))
    config_reqs, config_words_, config_names = _config_readback(rtl_cfg, words)
    phases.append(mem_phase(config_reqs, "config", 0.0))
    readback = _readback_requests(n)
    step_budget = int((2000 + 8 * (n + cfg.n_synapses + n_inputs)) * slow)
    for t, chans in enumerate(inputs):
        events = [_event(int(c)) for c in chans] + [_event(eos=1)]
        phases.append(Phase([Put("i_events", events, gap=gap),
                             Get("o_spikes", last_mask=1 << _EOS_OFFSET, stall=stall)],
                            f"step {t}", timeout=step_budget))
        if check_state == "every" or t == len(inputs) - 1:
            phases.append(mem_phase(readback, f"state {t}", 0.0))
    return Script(phases, seed=seed), (config_words_, config_names)


# --- comparison ----------------------------------------------------------------------
def _compare_spikes(t, expected, got, hung=None):
    """The first divergence of one step's o_spikes transactions, or None.

    ``hung``: the step did not finish within this many cycles."""
    exp = [(int(k), 0) for k in expected] + [(0, 1)]
    words = np.asarray(got, dtype=np.int64)
    neurons = _extract(words, _NEURON[0], _NEURON[1])
    eos = _extract(words, _EOS_OFFSET, 1)
    for j, (en, ee) in enumerate(exp):
        if j >= len(words):
            what = "eos" if ee else "neuron"
            return Divergence(t, BLOCK, f"o_spikes[{j}]", what,
                              "end-of-step" if ee else en,
                              f"nothing within {hung} cycles (hung)" if hung else "nothing")
        gn, ge = int(neurons[j]), int(eos[j])
        if ge != ee:
            return Divergence(t, BLOCK, f"o_spikes[{j}]", "eos",
                              f"eos={ee}" + ("" if ee else f" (neuron {en})"),
                              f"eos={ge}" + ("" if ge else f" (neuron {gn})"))
        if not ee and gn != en:
            return Divergence(t, BLOCK, f"o_spikes[{j}]", "neuron", en, gn)
    if len(words) > len(exp):
        return Divergence(t, BLOCK, f"o_spikes[{len(exp)}]", "eos", "nothing after eos",
                          int(words[len(exp)]))
    return None


def _decode_state(words, n):
    # STATE words are 40 bits wide; only the low ACC_WIDTH bits of an ACC word count
    st = np.array([int(w) & ((1 << 63) - 1) for w in words[:n]], dtype=np.int64)
    acc = np.array([int(w) & ((1 << spec.ACC_WIDTH) - 1) for w in
                    words[n:n + n * spec.DELAY_SLOTS]], dtype=np.int64)
    out = {name: _extract(st, *_field(spec.NeuronState, name))
           for name in ("i", "v", "ref", "profile")}
    out["acc"] = _extract(acc, 0, spec.ACC_WIDTH, True).reshape(n, spec.DELAY_SLOTS).T
    out["step"] = int(words[-1]) & ((1 << spec.STEP_WIDTH) - 1)
    return out


def _compare_state(t, cfg, gstate, words):
    """All divergences of one state readback, sorted by neuron then field."""
    n = cfg.n_neurons
    expected_len = n + n * spec.DELAY_SLOTS + 1
    if len(words) != expected_len:
        return [Divergence(t, BLOCK, "o_mem", "responses", expected_len, len(words))]
    got = _decode_state(words, n)
    exp = {"i": gstate.i, "v": gstate.v, "ref": gstate.ref, "profile": cfg.profile,
           "acc": gstate.acc}
    found = []
    for name in ("i", "v", "ref", "profile"):
        for k in np.flatnonzero(got[name] != exp[name]):
            found.append((int(k), 0, Divergence(t, BLOCK, f"neuron {k}", name,
                                                int(exp[name][k]), int(got[name][k]))))
    bad = np.argwhere(got["acc"] != exp["acc"])
    for slot, k in bad:
        found.append((int(k), 1 + int(slot), Divergence(
            t, BLOCK, f"neuron {k}", f"acc[slot {slot}]", int(exp["acc"][slot, k]),
            int(got["acc"][slot, k]))))
    found.sort(key=lambda x: (x[0], x[1]))
    out = [d for _, _, d in found]
    if got["step"] != (gstate.step & ((1 << spec.STEP_WIDTH) - 1)):
        out.append(Divergence(t, BLOCK, "register STEP", "step", gstate.step, got["step"]))
    return out


def _compare(cfg, script, res, gold_spikes, gold_states, config):
    """(divergences, phase of the first, rtl spikes per completed step, states checked)."""
    log, rtl_spikes, checked = DivergenceLog(), [], 0
    found = log.found

    for k, ph in enumerate(res.phases):
        sph = script.phases[k]
        kind, _, t = sph.label.partition(" ")
        t = int(t) if t else -1
        if ph.end is None and kind != "step":
            found(k, [Divergence(t, BLOCK, "i_mem/o_mem", f"{kind} responses",
                                 len(sph.ops[0].data),
                                 f"{len(ph.data[0])} within {sph.timeout} cycles (hung)")])
            break
        if kind == "config":
            # what the RTL holds is the configuration it was given (upload/memory init)
            words, names = config
            got = ph.data[0]
            found(k, [Divergence(-1, BLOCK, names[j], "word", hex(words[j]), hex(got[j]))
                      for j in range(len(words)) if got[j] != words[j]][:1])
        elif kind == "step":
            got = ph.data[1] or []
            words = np.asarray(got, dtype=np.int64)
            eos = _extract(words, _EOS_OFFSET, 1)
            if ph.end is not None:
                rtl_spikes.append(_extract(words, *_NEURON[:2])[eos == 0])
            d = _compare_spikes(t, gold_spikes[t], got,
                                hung=sph.timeout if ph.end is None else None)
            found(k, [d] if d is not None else [])
            if ph.end is None:
                break
        elif kind == "state":
            checked += 1
            found(k, _compare_state(t, cfg, gold_states[t], ph.data[0]))
    return log.divs, log.first, rtl_spikes, checked


def _golden(cfg, inputs):
    core = GoldenCore(cfg)
    spikes, states = [], []
    for chans in inputs:
        spikes.append(core.step(chans))
        states.append(core.state.copy())
    return spikes, states, core.synaptic_events


def run_core_cosim(cfg, inputs, *, backend="amaranth", seed=0, gap=0.3, stall=0.3,
                   check_state="every", vcd_path=None, progress=None, rtl_cfg=None,
                   core_factory=None, syn_capacity=None, workdir=None):
    """Co-simulate the neuron core on ``cfg`` and per-step input channels ``inputs``.

    Parameters
    ----------
    cfg : CoreConfig
        What the golden model runs (and, unless ``rtl_cfg`` is given, the RTL).
    inputs : sequence of int arrays
        Input channels of every step (unique within a step).
    backend : "amaranth", "verilator", "gate-ice40" or "gate-ecp5"
        ``gate-*``: the core's netlist after ``synth_ice40``/``synth_ecp5`` with the vendor
        cell models, under Verilator (``neurofab.cosim.gatelevel``); otherwise as
        ``"verilator"``.
    seed : int
        Seeds the random valid gaps and back-pressure.
    gap, stall : float
        Probability of an idle cycle before each ``i_events`` transaction, and of ``ready``
        low in a cycle on ``o_spikes`` / ``o_mem``.
    check_state : "every" or "end"
        Read the full state back after every step, or only after the last.
    vcd_path : path, optional
        Where the waveform goes (written on a mismatch, or always with ``NEUROFAB_VCD=1``).
        Default :func:`default_vcd_path`. ``False``: no waveform at all (a mismatch is
        reported without the traced re-run, which saves a traced build).
    progress : callable(done, total), optional
        Called after every step (Amaranth: live; Verilator: live, polled from the child).
    rtl_cfg : CoreConfig, optional
        A different config for the RTL (tests of the harness itself).
    core_factory : callable, optional
        ``core_factory(cfg, n_neurons=, n_inputs=, syn_capacity=)`` → the component under
        test (default ``neurofab.rtl.core.NeuronCore``).
    syn_capacity : int, optional
        Synapse memory depth of the Verilator build (default: next power of two).
    workdir : path, optional
        Verilator work directory (default: a temporary directory).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend = {backend!r} must be one of {', '.join(BACKENDS)}")
    if check_state not in ("every", "end"):
        raise ValueError(f"check_state = {check_state!r} must be 'every' or 'end'")
    for name, p in (("gap", gap), ("stall", stall)):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"{name} = {p} must be in [0, 1)")
    if not isinstance(cfg, CoreConfig):
        raise TypeError(f"cfg must be a CoreConfig, not {cfg!r}")
    t_start = time.perf_counter()
    cfg.validate()
    inputs = cfg.check_inputs(inputs)
    rtl_cfg = cfg if rtl_cfg is None else rtl_cfg.validate()
    if core_factory is None:
        from neurofab.rtl.core import NeuronCore as core_factory
    steps = len(inputs)
    gold_spikes, gold_states, syn_events = _golden(cfg, inputs)
    no_vcd = vcd_path is False
    want_vcd = os.environ.get("NEUROFAB_VCD", "") not in ("", "0") and not no_vcd
    vcd_target = (Path(vcd_path) if vcd_path not in (None, False)
                  else default_vcd_path(backend, cfg, seed))

    def on_phase(script):
        if progress is None:
            return None
        steps_of = {}
        for k, ph in enumerate(script.phases):
            kind, _, t = ph.label.partition(" ")
            if kind == "step":
                last = k
                if check_state == "every" or int(t) == steps - 1:
                    last = k + 1
                steps_of[last] = int(t) + 1
        return lambda k: steps_of.get(k) and progress(steps_of[k], steps)

    build_info = None
    if backend == "amaranth":
        script, config = _build_script(cfg, rtl_cfg, inputs, upload=False,
                                       n_inputs=rtl_cfg.n_inputs, gap=gap, stall=stall,
                                       check_state=check_state, seed=seed)

        def play(script, vcd=None, progress_cb=None):
            dut = core_factory(rtl_cfg)
            return play_amaranth(dut, script, vcd_path=vcd, progress=progress_cb)
    else:
        from .verilator import build as vbuild
        n, n_in, cap = core_geometry(rtl_cfg, syn_capacity)
        script, config = _build_script(cfg, rtl_cfg, inputs,
                                       upload=True, n_inputs=n_in,
                                       gap=gap, stall=stall, check_state=check_state,
                                       seed=seed)
        tmp = None
        if workdir is None:
            tmp = tempfile.TemporaryDirectory(prefix="neurofab-cosim-")
            workdir = tmp.name

        def play(script, vcd=None, progress_cb=None):
            nonlocal build_info
            dut = core_factory(None, n_neurons=n, n_inputs=n_in, syn_capacity=cap)
            if backend.startswith("gate-"):
                from .gatelevel import gate_build
                b, net = gate_build(dut, backend[len("gate-"):], trace=vcd is not None)
            else:
                b, net = vbuild(dut, name="neurofab_core", trace=vcd is not None), None
            info = {"cached": b.cached, "build_s": round(b.build_s, 3), "key": b.key,
                    "trace": b.trace}
            if net is not None:
                info.update({"netlist_key": net.key, "synth_cached": net.cached,
                             "synth_s": round(net.synth_s, 3), "cells": net.cells})
            if build_info is None:
                build_info = info
            return play_verilator(b, script, workdir=workdir, vcd_path=vcd,
                                  progress=progress_cb)

    try:
        t_sim = time.perf_counter()
        res = play(script, vcd_target if want_vcd else None, on_phase(script))
        sim_s = time.perf_counter() - t_sim
        divs, first, rtl_spikes, checked = _compare(cfg, script, res, gold_spikes,
                                                    gold_states, config)
        vcd = str(vcd_target) if want_vcd else None
        if divs and not want_vcd and not no_vcd:
            # the same transactions again, traced, up to the phase that showed the divergence
            play(Script(script.phases[:first + 1], seed=script.seed), vcd_target)
            vcd = str(vcd_target)
    finally:
        if backend != "amaranth" and tmp is not None:
            tmp.cleanup()
    cycles = sum(ph.cycles for ph, sph in zip(res.phases, script.phases)
                 if sph.label.startswith("step ") and ph.end is not None)
    return CosimResult(
        bit_exact=not divs, backend=backend, neurons=cfg.n_neurons, steps=steps,
        input_events=int(sum(len(c) for c in inputs)), synaptic_events=int(syn_events),
        output_spikes=int(sum(len(s) for s in rtl_spikes)), cycles=int(cycles),
        wall_s=time.perf_counter() - t_start, sim_s=sim_s, seed=seed,
        check_state=check_state, states_checked=checked,
        first_divergence=divs[0] if divs else None, divergences=divs[:100], vcd=vcd,
        build=build_info, spikes=rtl_spikes)


def cosim_core(neurons=64, steps=50, seed=0, backend="amaranth", *, n_inputs=None,
               max_fanout=32, inputs_per_step=4, **kwargs):
    """Random config (``random_config``) + random inputs, then :func:`run_core_cosim`.

    ``n_inputs`` defaults to ``neurons // 4`` (at least 4); every step gets
    ``inputs_per_step`` unique channels on average (0 .. twice that). Other keyword arguments
    go to ``run_core_cosim``.
    """
    rng = np.random.default_rng(seed)
    n_inputs = max(4, neurons // 4) if n_inputs is None else n_inputs
    cfg = random_config(rng, n_neurons=neurons, n_inputs=n_inputs, max_fanout=max_fanout)
    inputs = random_inputs(rng, n_inputs, steps, per_step=inputs_per_step)
    return run_core_cosim(cfg, inputs, backend=backend, seed=seed, **kwargs)


def compare_backends(neurons=256, steps=50, seed=0, *, check_state="every", **kwargs):
    """The same random core run (config, inputs, flow-control seed) on both back ends.

    The Verilator build is made (or found in the cache) before timing, so the ratio compares
    simulation runs, not a one-off compile. Returns a JSON-serialisable dict with both
    summaries and ``ratio`` = Amaranth wall time / Verilator wall time.
    """
    from .verilator import build as vbuild
    from neurofab.rtl.core import NeuronCore
    rng = np.random.default_rng(seed)
    n_inputs = kwargs.pop("n_inputs", max(4, neurons // 4))
    cfg = random_config(rng, n_neurons=neurons, n_inputs=n_inputs,
                        max_fanout=kwargs.pop("max_fanout", 32))
    inputs = random_inputs(rng, n_inputs, steps, per_step=kwargs.pop("inputs_per_step", 4))
    n, n_in, cap = core_geometry(cfg, kwargs.get("syn_capacity"))
    b = vbuild(NeuronCore(None, n_neurons=n, n_inputs=n_in, syn_capacity=cap),
               name="neurofab_core")
    runs = {}
    for backend in ("verilator", "amaranth"):
        runs[backend] = run_core_cosim(cfg, inputs, backend=backend, seed=seed,
                                       check_state=check_state, **kwargs).summary()
    return {"neurons": neurons, "steps": steps, "check_state": check_state,
            "verilator_build_s": round(b.build_s, 3), "verilator_build_cached": b.cached,
            "amaranth": runs["amaranth"], "verilator": runs["verilator"],
            "bit_exact": runs["amaranth"]["bit_exact"] and runs["verilator"]["bit_exact"],
            "ratio": round(runs["amaranth"]["wall_s"] / runs["verilator"]["wall_s"], 2)}
