"""Co-simulation of the AER router and of the multi-core fabric against their golden
twins, on the Amaranth simulator or on Verilator, with the transaction scripts of
:mod:`.player` (the machinery of :mod:`.blocks`: :class:`~.blocks.Probed` state readback,
cached Verilator builds).

**Router** (:func:`run_router_cosim`, :func:`cosim_router`): the table is written through
``i_table`` (so one Verilator build serves every table of a geometry), then every input
offers its events of every step followed by end-of-step markers, with random valid gaps,
while every output is drained with random ``ready`` back-pressure. Because the interleaving
of different sources on an output depends on arbitration, the comparison is per output,
per step and per source: the same events in the same order (``golden.aer.compare_routed``),
hence the same multiset — nothing lost, duplicated or invented — and each step closed by
exactly one marker. The router's step counter and its dropped/unrouted counters are read
back through a probe. In bounded mode the deliveries must be a per-source subsequence of
golden and the shortfall must equal the dropped counter.
:func:`router_saturation` measures events per clock per output at full offered load.

**Fabric** (:func:`run_fabric_cosim`, :func:`cosim_fabric`): see the function.
"""

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurofab import spec

from .blocks import BlockCosimResult, Probed
from .harness import Divergence, DivergenceLog
from .player import Get, Mem, Phase, Put, Script, play_amaranth, play_verilator

__all__ = ["AerCosimResult", "run_router_cosim", "cosim_router", "router_saturation",
           "run_fabric_cosim", "cosim_fabric", "fabric_geometry",
           "random_traffic", "decode_aer", "aer_word"]

_ADDR = (spec.AerEvent["addr"].offset, spec.AerEvent["addr"].width)
_CORE = (spec.AerEvent["core"].offset, spec.AerEvent["core"].width)
_EOS = spec.AerEvent["eos"].offset


def aer_word(addr=0, core=0, eos=0):
    return spec.AerEvent.const({"addr": int(addr), "core": int(core),
                                "eos": int(eos)}).as_value().value


def decode_aer(words):
    """Transactions of one output → (per closed step an ``(m, 2)`` array of
    ``(core, addr)``, trailing events after the last marker)."""
    steps, cur = [], []
    for w in words:
        w = int(w)
        if (w >> _EOS) & 1:
            steps.append(np.array(cur, dtype=np.int64).reshape(-1, 2))
            cur = []
        else:
            cur.append(((w >> _CORE[0]) & ((1 << _CORE[1]) - 1),
                        (w >> _ADDR[0]) & ((1 << _ADDR[1]) - 1)))
    return steps, cur


@dataclass
class AerCosimResult(BlockCosimResult):
    """A router or fabric co-simulation (the block summary plus the router figures)."""
    events_per_clock: float = 0.0      #: delivered events / (clocks x output ports)
    dropped: int = 0
    unrouted: int = 0
    spikes: list = field(default_factory=list)

    def summary(self):
        s = super().summary()
        s.update({"events_per_clock": round(float(self.events_per_clock), 4),
                  "dropped": int(self.dropped), "unrouted": int(self.unrouted)})
        return s


def _vcd_target(vcd_path, block, backend, seed):
    if vcd_path is not None:
        return Path(vcd_path)
    base = Path(os.environ.get("NEUROFAB_VCD_DIR", "neurofab-cosim"))
    return base / f"{block}-{backend}-seed{seed}.vcd"


def _player(backend, factory, top, workdir):
    """``play(script, vcd=None, cb=None)`` on ``backend``, plus the build info dict."""
    info = {}
    if backend == "amaranth":
        def play(script, vcd=None, cb=None):
            return play_amaranth(factory(), script, vcd_path=vcd, progress=cb)
        return play, info
    from .verilator import build as vbuild

    def play(script, vcd=None, cb=None):
        b = vbuild(factory(), name=top, trace=vcd is not None)
        if not info:
            info.update({"cached": b.cached, "build_s": round(b.build_s, 3), "key": b.key,
                         "trace": b.trace})
        return play_verilator(b, script, workdir=workdir, vcd_path=vcd, progress=cb)
    return play, info


def _run(backend, factory, top, script, compare, *, vcd_path, block, seed, progress_map,
         progress, workdir):
    """Play, compare (``compare(res) -> (divs, first_phase, extra)``), re-run traced on a
    mismatch. Returns ``(res, divs, extra, vcd, build_info, sim_s)``."""
    if backend not in ("amaranth", "verilator"):
        raise ValueError(f"backend = {backend!r} must be 'amaranth' or 'verilator'")
    tmp = None
    if backend == "verilator" and workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="neurofab-cosim-")
        workdir = tmp.name
    want_vcd = os.environ.get("NEUROFAB_VCD", "") not in ("", "0")
    target = _vcd_target(vcd_path, block, backend, seed)
    cb = None
    if progress is not None:
        def cb(k):
            if k in progress_map:
                progress(*progress_map[k])
    try:
        play, info = _player(backend, factory, top, workdir)
        t0 = time.perf_counter()
        res = play(script, target if want_vcd else None, cb)
        sim_s = time.perf_counter() - t0
        divs, first, extra = compare(res)
        vcd = str(target) if want_vcd else None
        if divs and not want_vcd:
            play(Script(script.phases[:first + 1], seed=script.seed), target)
            vcd = str(target)
    finally:
        if tmp is not None:
            tmp.cleanup()
    return res, divs, extra, vcd, (info or None), sim_s


# ======================================================================================
# Router
# ======================================================================================
def random_traffic(rng, ports, steps, *, addr_bits=6, per_step=6, repeats=True):
    """``inputs[i][t]``: random addresses per port and step (0 .. 2 * ``per_step``
    events; with ``repeats`` an address may occur twice in a step)."""
    rng = np.random.default_rng(rng)
    out = []
    for _ in range(ports):
        port = []
        for _ in range(steps):
            n = int(rng.integers(0, 2 * per_step + 1))
            if repeats:
                port.append(rng.integers(0, 1 << addr_bits, n).astype(np.int64))
            else:
                n = min(n, 1 << addr_bits)
                port.append(np.sort(rng.choice(1 << addr_bits, n, replace=False)))
        out.append(port)
    return out


def _router_probe(d):
    return [("step", d.o_step), ("dropped", d.o_dropped), ("unrouted", d.o_unrouted)]


def run_router_cosim(table, inputs, *, backend="amaranth", seed=0, gap=0.3, stall=0.3,
                     lossless=True, depth=4, entries_per_port=None, check_state="end",
                     vcd_path=None, progress=None, workdir=None, block="router"):
    """Co-simulate ``AerRouter`` on ``table`` and ``inputs[i][t]`` (addresses).

    ``check_state``: ``"end"`` plays all steps as one continuous phase (inputs run ahead
    into the next step as the barrier allows) and reads the probe at the end; ``"every"``
    plays one phase per step and reads the probe after each. Bounded mode
    (``lossless=False``) always plays per step (the output counts are not known).
    """
    from neurofab.golden.aer import check_bounded, compare_routed, route
    from neurofab.rtl.aer import table_words
    if check_state not in ("every", "end"):
        raise ValueError(f"check_state = {check_state!r} must be 'every' or 'end'")
    for name, p in (("gap", gap), ("stall", stall)):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"{name} = {p} must be in [0, 1)")
    t_start = time.perf_counter()
    K = table.ports
    E = entries_per_port or table.entries_per_port
    gold = route(table, inputs)
    steps = gold.steps
    slow = 1.0 / max(0.05, 1.0 - max(gap, stall))
    words = [[[aer_word(a, i) for a in inputs[i][t]] + [aer_word(eos=1)]
              for t in range(steps)] for i in range(K)]
    per_step = check_state == "every" or not lossless
    phases, kinds = [Phase([Put("i_table", table_words(table, entries_per_port=E))],
                           "table", timeout=int(100 + 4 * K * E))], [("table", -1)]
    state_reads = Mem("i_state", "o_state", [0, 1, 2])
    progress_map = {}
    if per_step:
        for t in range(steps):
            ops = [Put(f"i_aer_{i}", words[i][t], gap=gap) for i in range(K)]
            ops += [Get(f"o_aer_{o}", last_mask=1 << _EOS, stall=stall) for o in range(K)]
            work = max(len(w[t]) for w in words) + sum(len(x) for x in
                                                       (gold.out[o][t] for o in range(K)))
            phases.append(Phase(ops, f"step {t}", timeout=int((200 + 4 * work) * slow)))
            kinds.append(("step", t))
            progress_map[len(phases) - 1] = (t + 1, steps)
            if check_state == "every" or t == steps - 1:
                phases.append(Phase([Mem("i_state", "o_state", [0, 1, 2], stall=stall)],
                                    f"state {t}", timeout=int(100 * slow)))
                kinds.append(("state", t))
    else:
        ops = [Put(f"i_aer_{i}", [w for st in words[i] for w in st], gap=gap)
               for i in range(K)]
        ops += [Get(f"o_aer_{o}", count=sum(len(x) for x in gold.out[o]) + steps,
                    stall=stall) for o in range(K)]
        work = sum(len(x) for o in range(K) for x in gold.out[o]) + \
            sum(len(w) for p in words for w in p)
        phases.append(Phase(ops, "run", timeout=int((200 + 4 * work + 20 * steps) * slow)))
        kinds.append(("run", steps - 1))
        progress_map[len(phases) - 1] = (steps, steps)
        phases.append(Phase([state_reads], f"state {steps - 1}", timeout=int(100 * slow)))
        kinds.append(("state", steps - 1))
    script = Script(phases, seed=seed)
    got = [[] for _ in range(K)]
    box = {"cycles": 0, "delivered": 0, "dropped": 0, "unrouted": 0, "checked": 0}

    def compare(res):
        log = DivergenceLog()
        found = log.found

        for k, ph in enumerate(res.phases):
            kind, t = kinds[k]
            sph = script.phases[k]
            hung = sph.timeout if ph.end is None else None
            if kind in ("step", "run"):
                if ph.end is not None:
                    box["cycles"] += ph.cycles
                for o in range(K):
                    closed, trailing = decode_aer(ph.data[K + o] or [])
                    got[o].extend(closed)
                    box["delivered"] += sum(len(x) for x in closed) + len(trailing)
                    if trailing:
                        found(k, [Divergence(t, block, f"o_aer_{o}", "eos", "end-of-step",
                                             f"{len(trailing)} events without a marker" +
                                             (f" within {hung} cycles (hung)" if hung else ""))])
                if hung and log.first is None:
                    found(k, [Divergence(t, block, "inputs/outputs", "transactions",
                                         "all transferred",
                                         f"not within {hung} cycles (hung)")])
            elif kind == "state":
                box["checked"] += 1
                vals = ph.data[0] or []
                if len(vals) < 3:
                    found(k, [Divergence(t, block, "state", "responses", 3, len(vals))])
                else:
                    box["dropped"], box["unrouted"] = int(vals[1]), int(vals[2])
                    exp_unrouted = int(sum(route(table, [p[:t + 1] for p in inputs])
                                           .unrouted)) if t < steps - 1 else \
                        int(gold.unrouted.sum())
                    ds = []
                    if vals[0] != t + 1:
                        ds.append(Divergence(t, block, "state", "step", t + 1, vals[0]))
                    if vals[2] != exp_unrouted:
                        ds.append(Divergence(t, block, "state", "unrouted", exp_unrouted,
                                             vals[2]))
                    if lossless and vals[1] != 0:
                        ds.append(Divergence(t, block, "state", "dropped", 0, vals[1]))
                    found(k, ds)
            if ph.end is None:
                break
        if log.first is None or lossless:
            done = min(len(g) for g in got)
            exp = [gold.out[o][:len(got[o])] for o in range(K)]
            if lossless:
                ms = compare_routed(exp, got)
            else:
                ms = check_bounded(exp, got, box["dropped"])
            for mm in ms:
                where = f"o_aer_{mm.port}" + (f" from input {mm.source}"
                                              if mm.source >= 0 else "")
                log.divs.append(Divergence(mm.step, block, where, mm.what, mm.expected,
                                           mm.got))
            if ms and log.first is None:
                # the phase of the first mismatching step
                t0 = min(mm.step for mm in ms if mm.step >= 0) if any(
                    mm.step >= 0 for mm in ms) else done
                log.first = next((k for k, (kind, t) in enumerate(kinds)
                                  if kind in ("step", "run") and t >= t0), len(kinds) - 1)
        log.divs.sort(key=lambda d: d.step)
        return log.divs, log.first, None

    def factory():
        return _probed_router(K, E, depth, lossless)

    res, divs, _, vcd, info, sim_s = _run(
        backend, factory, "nf_router", script, compare, vcd_path=vcd_path, block=block,
        seed=seed, progress_map=progress_map, progress=progress, workdir=workdir)
    cycles = box["cycles"]
    inputs_n = int(sum(len(x) for p in inputs for x in p))
    return AerCosimResult(
        bit_exact=not divs, backend=backend, block=block, steps=steps,
        input_events=inputs_n, synaptic_events=0, output_spikes=box["delivered"],
        cycles=cycles, wall_s=time.perf_counter() - t_start, sim_s=sim_s, seed=seed,
        params={"ports": K, "entries_per_port": E, "entries": table.n_entries,
                "depth": depth, "lossless": lossless, "gap": gap, "stall": stall},
        states_checked=box["checked"], first_divergence=divs[0] if divs else None,
        divergences=divs[:100], vcd=vcd, build=info,
        events_per_clock=box["delivered"] / (cycles * K) if cycles else 0.0,
        dropped=box["dropped"], unrouted=box["unrouted"])


def _probed_router(K, E, depth, lossless, leader=None):
    from neurofab.rtl.aer import AerRouter
    r = AerRouter(K, None, entries_per_port=E, depth=depth, lossless=lossless, leader=leader)
    return Probed(r, _router_probe(r))


def cosim_router(cores=3, steps=20, seed=0, backend="amaranth", *, entries_per_port=None,
                 per_step=6, **kwargs):
    """A random table (``partition.random_table``: overlapping ranges, multicast, sinks,
    misses) and random traffic for a router with ``cores + 1`` ports (the host port
    included), then :func:`run_router_cosim`."""
    from neurofab.partition import random_table
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xAE5])
    ports = cores + 1
    table = random_table(rng, ports, entries_per_port=entries_per_port or 4)
    inputs = random_traffic(rng, ports, steps, per_step=per_step)
    return run_router_cosim(table, inputs, backend=backend, seed=seed, **kwargs)


def router_saturation(ports=4, events=400, *, backend="amaranth", pattern="broadcast",
                      workdir=None):
    """Events per clock per output at full offered load (no gaps, no back-pressure).

    ``pattern``: ``"broadcast"`` (every event of every input to every output: each output
    has ``ports`` contending sources), ``"permutation"`` (input ``i`` to output
    ``i + 1 mod ports``) or ``"hotspot"`` (every input to output 0). Each input sends
    ``events`` events in one step. Returns a dict: per-output rates over the run phase
    (first offer to last marker) and their minimum, ``events_per_clock``.
    """
    from neurofab.partition import RoutingTable
    rows = []
    for i in range(ports):
        mask = {"broadcast": (1 << ports) - 1, "permutation": 1 << ((i + 1) % ports),
                "hotspot": 1}[pattern]
        rows.append((i, 0, (1 << spec.AER_ADDR_WIDTH) - 1, mask, 0))
    table = RoutingTable.from_entries(ports, rows, entries_per_port=1)
    rng = np.random.default_rng(0)
    inputs = [[rng.integers(0, 1 << 12, events)] for _ in range(ports)]
    from neurofab.golden.aer import route
    res = run_router_cosim(table, inputs, backend=backend, gap=0.0, stall=0.0,
                           workdir=workdir, block="router-saturation")
    per_out = max(len(x[0]) for x in route(table, inputs).out)      # the busiest output
    rate = per_out / res.cycles if res.cycles else 0.0
    return {"pattern": pattern, "ports": ports, "events_per_output": int(per_out),
            "cycles": res.cycles, "events_per_clock": round(rate, 4),
            "bit_exact": res.bit_exact, "backend": backend}


# ======================================================================================
# Fabric
# ======================================================================================
def _spike_word(neuron=0, eos=0):
    return spec.SpikeEvent.const({"neuron": int(neuron), "eos": int(eos)}).as_value().value


def _event_word(channel=0, eos=0):
    return spec.InputEvent.const({"channel": int(channel), "eos": int(eos)}).as_value().value


_S_EOS = spec.SpikeEvent["eos"].offset
_S_NEURON = (spec.SpikeEvent["neuron"].offset, spec.SpikeEvent["neuron"].width)


def fabric_geometry(fcfg, syn_capacity=None):
    """``(cores, n_neurons, n_inputs, syn_capacity)`` of the empty-memory build for
    ``fcfg`` (synapse memory: the largest core's, rounded up to a power of two)."""
    need = max(max(1, c.n_synapses) for c in fcfg.cores)
    cap = 1 << (need - 1).bit_length() if syn_capacity is None else int(syn_capacity)
    if cap < need:
        raise ValueError(f"syn_capacity = {cap} is below the largest core's {need} synapses")
    return (fcfg.n_cores, max(c.n_neurons for c in fcfg.cores),
            max(c.n_inputs for c in fcfg.cores), cap)


def _probed_fabric(fcfg, geometry=None):
    from neurofab.rtl.fabric import Fabric
    if geometry is None:
        f = Fabric(fcfg)
    else:
        cores, n, n_in, cap = geometry
        f = Fabric(None, cores=cores, n_neurons=n, n_inputs=n_in, syn_capacity=cap,
                   entries_per_port=fcfg.table.entries_per_port)
    return Probed(f, _router_probe(f))


def run_fabric_cosim(fcfg, inputs, *, backend="amaranth", seed=0, gap=0.3, stall=0.3,
                     check_state="every", vcd_path=None, progress=None, workdir=None,
                     syn_capacity=None, block="fabric"):
    """Co-simulate ``rtl.fabric.Fabric`` running ``fcfg`` on per-step host input channels
    against ``golden.fabric.GoldenFabric``.

    Host step ``t`` (``t = 0 .. len(inputs)``, the last one without inputs, so that the
    spikes of the last update come out) offers the step's channels and the end-of-step
    marker on ``i_events`` and drains ``o_spikes`` up to its marker: the spikes of update
    ``t - 1``, compared as a set with golden and, per core, in increasing neuron order
    (each core's order is kept through the router). Then (``check_state="every"``, or
    after the last step with ``"end"``) every core's full state is read through its
    ``i_mem_<k>`` port and compared with the golden core ``k`` (i, v, ref, profile, all
    accumulator slots, STEP), and the router's step and counters through the probe.

    On Verilator the fabric is built with empty memories and table for the geometry of
    :func:`fabric_geometry` (one build per geometry) and the cores' configurations and
    the table are uploaded first; on Amaranth they are memory init (the table is written
    through ``i_table`` on both).
    """
    from neurofab.golden.fabric import GoldenFabric
    from neurofab.rtl.aer import table_words
    from .blocks import _compare_core_state, _core_readback, _core_upload
    if check_state not in ("every", "end"):
        raise ValueError(f"check_state = {check_state!r} must be 'every' or 'end'")
    for name, p in (("gap", gap), ("stall", stall)):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"{name} = {p} must be in [0, 1)")
    t_start = time.perf_counter()
    fcfg.validate()
    K = fcfg.n_cores
    inputs = [np.asarray(c, dtype=np.int64).reshape(-1) for c in inputs]
    if fcfg.n_inputs:
        inputs = fcfg.cores[0].check_inputs(inputs)   # channels < n_axons; unique
    for t, c in enumerate(inputs):
        if c.size and (c.max() >= fcfg.n_inputs or c.min() < 0):
            raise ValueError(f"inputs[{t}] has channel {int(c.max())}, the network has "
                             f"{fcfg.n_inputs} input channels")
    steps = len(inputs)
    host_steps = inputs + [np.zeros(0, np.int64)]
    gold = GoldenFabric(fcfg)
    spikes, states = [], []
    for chans in host_steps:
        spikes.append(gold.step(chans))
        states.append(gold.states())
    geometry = fabric_geometry(fcfg, syn_capacity) if backend == "verilator" else None
    n_local, n_axons = max(c.n_neurons for c in fcfg.cores), max(c.n_inputs
                                                                  for c in fcfg.cores)
    slow = 1.0 / max(0.05, 1.0 - max(gap, stall))
    setup = [Put("i_table", table_words(fcfg.table))]
    if backend == "verilator":
        setup += [Mem(f"i_mem_{k}", f"o_mem_{k}", _core_upload(c, geometry[2]), gap=gap,
                      stall=stall) for k, c in enumerate(fcfg.cores)]
    n_up = max(len(op.data) for op in setup)
    phases = [Phase(setup, "setup", timeout=int((200 + 8 * n_up) * slow))]
    kinds = [("setup", -1)]
    progress_map = {}
    readback = _core_readback(n_local)
    cfg_syn = max(c.n_synapses for c in fcfg.cores)
    budget = int((3000 + 12 * (n_local + cfg_syn + n_axons)) * slow)
    for t, chans in enumerate(host_steps):
        phases.append(Phase([Put("i_events", [_event_word(c) for c in chans] +
                                 [_event_word(eos=1)], gap=gap),
                             Get("o_spikes", last_mask=1 << _S_EOS, stall=stall)],
                            f"step {t}", timeout=budget))
        kinds.append(("step", t))
        progress_map[len(phases) - 1] = (t + 1, steps + 1)
        if check_state == "every" or t == steps:
            ops = [Mem(f"i_mem_{k}", f"o_mem_{k}", readback, stall=stall) for k in range(K)]
            phases.append(Phase(ops, f"state {t}",
                                timeout=int((3000 + 8 * len(readback)) * slow)))
            kinds.append(("state", t))
            # the router after the cores' readback: every core has taken its marker of
            # step t by then, so the router's step has advanced
            phases.append(Phase([Mem("i_state", "o_state", [0, 1, 2], stall=stall)],
                                f"router {t}", timeout=int(200 * slow)))
            kinds.append(("router", t))
    script = Script(phases, seed=seed)
    box = {"cycles": 0, "spikes": 0, "checked": 0, "dropped": 0, "unrouted": 0}
    rtl_spikes = []

    def compare(res):
        log = DivergenceLog()
        found = log.found

        for k, ph in enumerate(res.phases):
            kind, t = kinds[k]
            sph = script.phases[k]
            hung = sph.timeout if ph.end is None else None
            if kind == "setup":
                if hung:
                    found(k, [Divergence(-1, block, "setup", "transactions", "all accepted",
                                         f"not within {hung} cycles (hung)")])
            elif kind == "step":
                if ph.end is not None:
                    box["cycles"] += ph.cycles
                words = [int(w) for w in (ph.data[1] or [])]
                neurons = [(w >> _S_NEURON[0]) & ((1 << _S_NEURON[1]) - 1)
                           for w in words if not (w >> _S_EOS) & 1]
                box["spikes"] += len(neurons)
                exp = sorted(gold.host_out[t][:, 1].tolist())
                ds = []
                if hung:
                    ds.append(Divergence(t, block, "o_spikes", "end-of-step", "marker",
                                         f"not within {hung} cycles (hung)"))
                else:
                    rtl_spikes.append(np.array(neurons, dtype=np.int64))
                if sorted(neurons) != exp:
                    missing = sorted(set(exp) - set(neurons))
                    extra = sorted(set(neurons) - set(exp))
                    ds.append(Divergence(t, block, "o_spikes", "spikes of update "
                                         f"{t - 1}", f"{exp} (missing {missing})",
                                         f"{sorted(neurons)} (extra {extra})"))
                else:
                    for c in range(K):
                        lo, hi = fcfg.start[c], fcfg.start[c + 1]
                        sub = [n for n in neurons if lo <= n < hi]
                        if sub != sorted(sub):
                            ds.append(Divergence(t, block, f"o_spikes from core {c}",
                                                 "order", sorted(sub), sub))
                found(k, ds)
            elif kind == "state":
                box["checked"] += 1
                ds = []
                for c in range(K):
                    got = ph.data[c] or []
                    for d in _compare_core_state(t, fcfg.cores[c], states[t][c], got):
                        d.where = f"core {c}, {d.where}"
                        ds.append(d)
                found(k, ds)
            else:
                ds = []
                vals = ph.data[0] or []
                if len(vals) < 3:
                    ds.append(Divergence(t, block, "router", "state responses", 3,
                                         len(vals)))
                else:
                    box["dropped"], box["unrouted"] = int(vals[1]), int(vals[2])
                    if vals[0] != t + 1:
                        ds.append(Divergence(t, block, "router", "step", t + 1, vals[0]))
                    if vals[1] != 0:
                        ds.append(Divergence(t, block, "router", "dropped", 0, vals[1]))
                    if vals[2] != 0:
                        ds.append(Divergence(t, block, "router", "unrouted", 0, vals[2]))
                found(k, ds)
            if ph.end is None:
                break
        return log.divs, log.first, None

    res, divs, _, vcd, info, sim_s = _run(
        backend, lambda: _probed_fabric(fcfg, geometry), f"nf_fabric{K}", script, compare,
        vcd_path=vcd_path, block=block, seed=seed, progress_map=progress_map,
        progress=progress, workdir=workdir)
    cycles = box["cycles"]
    return AerCosimResult(
        bit_exact=not divs, backend=backend, block=block, steps=steps + 1,
        input_events=int(sum(len(c) for c in inputs)),
        synaptic_events=int(gold.synaptic_events), output_spikes=box["spikes"],
        cycles=cycles, wall_s=time.perf_counter() - t_start, sim_s=sim_s, seed=seed,
        params={"cores": K, "neurons": fcfg.n_neurons, "neurons_per_core": n_local,
                "inputs": fcfg.n_inputs, "synapses": int(sum(c.n_synapses
                                                             for c in fcfg.cores)),
                "gap": gap, "stall": stall, "check_state": check_state},
        states_checked=box["checked"], first_divergence=divs[0] if divs else None,
        divergences=divs[:100], vcd=vcd, build=info,
        events_per_clock=0.0, dropped=box["dropped"], unrouted=box["unrouted"],
        spikes=rtl_spikes)


def cosim_fabric(cores=2, steps=20, seed=0, backend="amaranth", *, neurons=None,
                 n_inputs=None, max_fanout=None, inputs_per_step=3, **kwargs):
    """A random network (``random_config``, ``neurons`` in all, default ``8 * cores``),
    partitioned over ``cores`` cores (``partition.compile_fabric``), random inputs, then
    :func:`run_fabric_cosim`."""
    from neurofab.config import random_config
    from neurofab.partition import compile_fabric
    from .harness import random_inputs
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xFAB])
    neurons = neurons or max(8, 8 * cores)
    neurons = 1 << (neurons - 1).bit_length()
    n_inputs = 4 if n_inputs is None else n_inputs
    big = random_config(rng, n_neurons=neurons, n_inputs=n_inputs,
                        max_fanout=max_fanout or max(2, neurons // 2))
    fcfg = compile_fabric(big, cores=cores)
    inputs = random_inputs(rng, n_inputs, steps, per_step=inputs_per_step)
    return run_fabric_cosim(fcfg, inputs, backend=backend, seed=seed, **kwargs)
