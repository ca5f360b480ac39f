"""Cases of the AER router (``rtl/aer/router.py`` against ``golden/aer/router.py``).

The table is written through ``i_table`` (so one Verilator build serves every table of a
geometry), then every input offers its events of every step followed by end-of-step
markers, with random valid gaps, while every output is drained with random ``ready``
back-pressure. Because the interleaving of different sources on an output depends on
arbitration, the comparison is per output, per step and per source: the same events in the
same order (``golden.aer.compare_routed``), hence the same multiset — nothing lost,
duplicated or invented — and each step closed by exactly one marker. The router's step
counter and its dropped/unrouted counters are read back through a probe. In bounded mode
the deliveries must be a per-source subsequence of golden and the shortfall must equal the
dropped counter. :func:`router_saturation` measures events per clock per output at full
offered load.
"""

import numpy as np

from neurofab import spec

from .engine import (Divergence, DivergenceLog, Plan, Probed, Verdict, run, slowdown)
from .player import Get, Mem, Phase, Put, Script

__all__ = ["RouterCase", "router_case", "run_router_cosim", "cosim_router", "make",
           "router_saturation", "random_traffic", "decode_aer", "aer_word", "router_probe"]

_ADDR = (spec.AerEvent["addr"].offset, spec.AerEvent["addr"].width)
_CORE = (spec.AerEvent["core"].offset, spec.AerEvent["core"].width)
_EOS = spec.AerEvent["eos"].offset


def aer_word(addr=0, core=0, eos=0):
    return spec.pack(spec.AerEvent, addr=addr, core=core, eos=eos)


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


def router_probe(d):
    """The probe words of a router (or of a fabric's): its step and its counters."""
    return [("step", d.o_step), ("dropped", d.o_dropped), ("unrouted", d.o_unrouted)]


def compare_router_state(t, block, vals, *, where="state", expect_unrouted=0,
                         lossless=True):
    """Divergences of one router probe readback (step, dropped, unrouted) after step t."""
    if len(vals) < 3:
        return [Divergence(t, block, where, "responses", 3, len(vals))]
    ds = []
    if vals[0] != t + 1:
        ds.append(Divergence(t, block, where, "step", t + 1, vals[0]))
    if vals[2] != expect_unrouted:
        ds.append(Divergence(t, block, where, "unrouted", expect_unrouted, vals[2]))
    if lossless and vals[1] != 0:
        ds.append(Divergence(t, block, where, "dropped", 0, vals[1]))
    return ds


class RouterCase:
    """An ``AerRouter`` with ``table`` on ``inputs[i][t]`` (addresses) against golden.

    ``check_state``: ``"end"`` plays all steps as one continuous phase (inputs run ahead
    into the next step as the barrier allows) and reads the probe at the end; ``"every"``
    plays one phase per step and reads the probe after each. Bounded mode
    (``lossless=False``) always plays per step (the output counts are not known).
    """

    def __init__(self, table, inputs, *, lossless=True, depth=4, entries_per_port=None,
                 check_state="end", block="router"):
        from neurofab.golden.aer import route
        if check_state not in ("every", "end"):
            raise ValueError(f"check_state = {check_state!r} must be 'every' or 'end'")
        self.table, self.inputs, self.lossless, self.depth = table, inputs, lossless, depth
        self.check_state, self.block, self.top = check_state, block, "nf_router"
        self.ports = table.ports
        self.entries = entries_per_port or table.entries_per_port
        self.gold = route(table, inputs)
        self.input_events = int(sum(len(x) for p in inputs for x in p))
        self.synaptic_events = 0
        self.params = {"ports": self.ports, "entries_per_port": self.entries,
                       "entries": table.n_entries, "depth": depth, "lossless": lossless}

    def dut(self, backend):
        from neurofab.rtl.aer import AerRouter
        r = AerRouter(self.ports, None, entries_per_port=self.entries, depth=self.depth,
                      lossless=self.lossless)
        return Probed(r, router_probe(r))

    def plan(self, backend, *, gap, stall, seed):
        from neurofab.rtl.aer import table_words
        K, gold, steps = self.ports, self.gold, self.gold.steps
        slow = slowdown(gap, stall)
        words = [[[aer_word(a, i) for a in self.inputs[i][t]] + [aer_word(eos=1)]
                  for t in range(steps)] for i in range(K)]
        phases = [Phase([Put("i_table", table_words(self.table, entries_per_port=self.entries))],
                        "table", timeout=int(100 + 4 * K * self.entries))]
        kinds, marks = [("table", -1)], {}
        if self.check_state == "every" or not self.lossless:
            for t in range(steps):
                ops = [Put(f"i_aer_{i}", words[i][t], gap=gap) for i in range(K)]
                ops += [Get(f"o_aer_{o}", last_mask=1 << _EOS, stall=stall) for o in range(K)]
                work = max(len(w[t]) for w in words) + sum(len(gold.out[o][t])
                                                           for o in range(K))
                phases.append(Phase(ops, f"step {t}", timeout=int((200 + 4 * work) * slow)))
                kinds.append(("step", t))
                marks[len(phases) - 1] = (t + 1, steps)
                if self.check_state == "every" or t == steps - 1:
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
            marks[len(phases) - 1] = (steps, steps)
            phases.append(Phase([Mem("i_state", "o_state", [0, 1, 2])], f"state {steps - 1}",
                                timeout=int(100 * slow)))
            kinds.append(("state", steps - 1))
        return Plan(Script(phases, seed=seed), kinds, marks, steps)

    def compare(self, plan, res):
        from neurofab.golden.aer import check_bounded, compare_routed, route
        K, gold, block, steps = self.ports, self.gold, self.block, self.gold.steps
        log, got = DivergenceLog(), [[] for _ in range(K)]
        found = log.found
        cycles = delivered = dropped = unrouted = checked = 0
        for k, ph in enumerate(res.phases):
            kind, t = plan.kinds[k]
            hung = plan.script.phases[k].timeout if ph.end is None else None
            if kind in ("step", "run"):
                if ph.end is not None:
                    cycles += ph.cycles
                for o in range(K):
                    closed, trailing = decode_aer(ph.data[K + o] or [])
                    got[o].extend(closed)
                    delivered += sum(len(x) for x in closed) + len(trailing)
                    if trailing:
                        found(k, [Divergence(t, block, f"o_aer_{o}", "eos", "end-of-step",
                                             f"{len(trailing)} events without a marker" +
                                             (f" within {hung} cycles (hung)" if hung else ""))])
                if hung and log.first is None:
                    found(k, [Divergence(t, block, "inputs/outputs", "transactions",
                                         "all transferred", f"not within {hung} cycles (hung)")])
            elif kind == "state":
                checked += 1
                vals = ph.data[0] or []
                if len(vals) >= 3:
                    dropped, unrouted = int(vals[1]), int(vals[2])
                exp_unrouted = int(gold.unrouted.sum()) if t == steps - 1 else int(
                    sum(route(self.table, [p[:t + 1] for p in self.inputs]).unrouted))
                found(k, compare_router_state(t, block, vals, expect_unrouted=exp_unrouted,
                                              lossless=self.lossless))
            if ph.end is None:
                break
        if log.first is None or self.lossless:
            done = min(len(g) for g in got)
            exp = [gold.out[o][:len(got[o])] for o in range(K)]
            ms = (compare_routed(exp, got) if self.lossless
                  else check_bounded(exp, got, dropped))
            for mm in ms:
                where = f"o_aer_{mm.port}" + (f" from input {mm.source}"
                                              if mm.source >= 0 else "")
                log.divs.append(Divergence(mm.step, block, where, mm.what, mm.expected,
                                           mm.got))
            if ms and log.first is None:
                # the phase of the first mismatching step
                t0 = min((mm.step for mm in ms if mm.step >= 0), default=done)
                log.first = next((k for k, (kind, t) in enumerate(plan.kinds)
                                  if kind in ("step", "run") and t >= t0), len(plan.kinds) - 1)
        log.divs.sort(key=lambda d: d.step)
        return Verdict(log.divs, log.first, delivered, checked, cycles, extra={
            "events_per_clock": delivered / (cycles * K) if cycles else 0.0,
            "dropped": dropped, "unrouted": unrouted})


def router_case(table, inputs, **kwargs):
    """A :class:`RouterCase` (keyword arguments: see it)."""
    return RouterCase(table, inputs, **kwargs)


def run_router_cosim(table, inputs, *, backend="amaranth", seed=0, gap=0.3, stall=0.3,
                     vcd_path=None, progress=None, workdir=None, **kwargs):
    """A :class:`RouterCase` played by :func:`neurofab.cosim.engine.run`."""
    case = RouterCase(table, inputs, **kwargs)
    res = run(case, backend=backend, seed=seed, gap=gap, stall=stall, vcd_path=vcd_path,
              progress=progress, workdir=workdir)
    res.params.update(gap=gap, stall=stall)
    return res


def make(rng, steps, *, cores=3, entries_per_port=None, per_step=6, **kwargs):
    """Registry builder: a random table (``partition.random_table``: overlapping ranges,
    multicast, sinks, misses) and random traffic for a router with ``cores + 1`` ports (the
    host port included)."""
    from neurofab.partition import random_table
    ports = cores + 1
    table = random_table(rng, ports, entries_per_port=entries_per_port or 4)
    inputs = random_traffic(rng, ports, steps, per_step=per_step)
    return RouterCase(table, inputs, **kwargs)


def cosim_router(cores=3, steps=20, seed=0, backend="amaranth", *, entries_per_port=None,
                 per_step=6, gap=0.3, stall=0.3, vcd_path=None, progress=None,
                 workdir=None, **kwargs):
    """:func:`make` from ``seed``, then :func:`neurofab.cosim.engine.run`."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xAE5])
    case = make(rng, steps, cores=cores, entries_per_port=entries_per_port,
                per_step=per_step, **kwargs)
    res = run(case, backend=backend, seed=seed, gap=gap, stall=stall, vcd_path=vcd_path,
              progress=progress, workdir=workdir)
    res.params.update(gap=gap, stall=stall)
    return res


def router_saturation(ports=4, events=400, *, backend="amaranth", pattern="broadcast",
                      workdir=None):
    """Events per clock per output at full offered load (no gaps, no back-pressure).

    ``pattern``: ``"broadcast"`` (every event of every input to every output: each output
    has ``ports`` contending sources), ``"permutation"`` (input ``i`` to output
    ``i + 1 mod ports``) or ``"hotspot"`` (every input to output 0). Each input sends
    ``events`` events in one step. Returns a dict: per-output rates over the run phase
    (first offer to last marker) and their minimum, ``events_per_clock``.
    """
    from neurofab.golden.aer import route
    from neurofab.partition import RoutingTable
    rows = []
    for i in range(ports):
        mask = {"broadcast": (1 << ports) - 1, "permutation": 1 << ((i + 1) % ports),
                "hotspot": 1}[pattern]
        rows.append((i, 0, (1 << spec.AER_ADDR_WIDTH) - 1, mask, 0))
    table = RoutingTable.from_entries(ports, rows, entries_per_port=1)
    rng = np.random.default_rng(0)
    inputs = [[rng.integers(0, 1 << 12, events)] for _ in range(ports)]
    res = run_router_cosim(table, inputs, backend=backend, gap=0.0, stall=0.0,
                           workdir=workdir, block="router-saturation")
    per_out = max(len(x[0]) for x in route(table, inputs).out)      # the busiest output
    rate = per_out / res.cycles if res.cycles else 0.0
    return {"pattern": pattern, "ports": ports, "events_per_output": int(per_out),
            "cycles": res.cycles, "events_per_clock": round(rate, 4),
            "bit_exact": res.bit_exact, "backend": backend}
