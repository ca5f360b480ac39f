"""Golden model of the AER router (``rtl/aer/router.py``): per-step routing by table.

The router's output order *between* sources depends on arbitration and back-pressure, so
the golden model does not predict it. It predicts, per output port and per step, the
multiset of ``(source port, address)`` events, and for every (source, destination) pair the
exact order (the order the source sent them in). :func:`compare_routed` checks a recorded
run against that; :func:`check_bounded` checks a run of the lossy (bounded) router, whose
deliveries must be a per-(source, destination) subsequence of the golden ones with every
missing event counted as dropped.

Steps: every input sends its step-``t`` events then an end-of-step marker; every output
emits its step-``t`` events then one marker, and only after every input's step-``t``
marker (the barrier). So a step of the router is a well-defined set on every port.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["RouteResult", "route_step", "route", "compare_routed", "check_bounded",
           "Mismatch"]


@dataclass
class RouteResult:
    """Golden routing of a run.

    Attributes
    ----------
    out : list over outputs of list over steps of int64 arrays, shape (m, 2)
        ``(source port, address)`` rows, grouped by source in port order, each source's
        events in the order it sent them (one legal interleaving of many).
    unrouted : int64 array, shape (ports,)
        Events per input port that matched no entry (consumed and counted, not delivered).
    sunk : int64 array, shape (ports,)
        Events per input port whose matching entry has an empty mask (deliberately dropped).
    """
    out: list
    unrouted: np.ndarray
    sunk: np.ndarray
    steps: int = 0

    @property
    def delivered(self):
        return int(sum(len(x) for o in self.out for x in o))


def route_step(table, events):
    """One step: ``events[i]`` = addresses arriving on input ``i`` (in order).

    Returns ``(out, unrouted, sunk)``: ``out[o]`` the ``(m, 2)`` array for output ``o``."""
    k = table.ports
    if len(events) != k:
        raise ValueError(f"got events for {len(events)} input ports, the router has {k}")
    per_out = [[] for _ in range(k)]
    unrouted = np.zeros(k, np.int64)
    sunk = np.zeros(k, np.int64)
    for i, addrs in enumerate(events):
        addrs = np.asarray(addrs, dtype=np.int64).reshape(-1)
        if not addrs.size:
            continue
        matched, mask, out = table.lookup(i, addrs)
        unrouted[i] = int((matched == 0).sum())
        sunk[i] = int(((matched == 1) & (mask == 0)).sum())
        for o in range(k):
            sel = (mask >> o) & 1 == 1
            if sel.any():
                per_out[o].append(np.stack([np.full(int(sel.sum()), i), out[sel]], axis=1))
    out = [np.concatenate(x) if x else np.zeros((0, 2), np.int64) for x in per_out]
    return out, unrouted, sunk


def route(table, inputs):
    """Route a run: ``inputs[i][t]`` = addresses arriving on input ``i`` in step ``t``
    (every port the same number of steps). Returns a :class:`RouteResult`."""
    table.validate()
    k = table.ports
    if len(inputs) != k:
        raise ValueError(f"got inputs for {len(inputs)} ports, the router has {k}")
    steps = {len(x) for x in inputs}
    if len(steps) > 1:
        raise ValueError(f"every input port needs the same number of steps, got {sorted(steps)}")
    steps = steps.pop() if steps else 0
    out = [[] for _ in range(k)]
    unrouted = np.zeros(k, np.int64)
    sunk = np.zeros(k, np.int64)
    for t in range(steps):
        o_t, u, s = route_step(table, [inputs[i][t] for i in range(k)])
        for o in range(k):
            out[o].append(o_t[o])
        unrouted += u
        sunk += s
    return RouteResult(out, unrouted, sunk, steps)


@dataclass
class Mismatch:
    """First difference between a recorded run and the golden routing."""
    step: int
    port: int          #: output port
    source: int        #: source (input) port, or -1
    what: str
    expected: object
    got: object

    def __str__(self):
        src = f", from input {self.source}" if self.source >= 0 else ""
        return (f"step {self.step}, output {self.port}{src}: {self.what}: expected "
                f"{self.expected}, got {self.got}")


def _by_source(rows):
    rows = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
    return {int(s): rows[rows[:, 0] == s, 1] for s in np.unique(rows[:, 0])}


def compare_routed(expected, got):
    """All mismatches between golden ``expected`` (a :class:`RouteResult` ``.out``) and
    ``got`` (same nesting, rows in arrival order), by step, output, source.

    Checks per output and step: the same events per source in the same order (which also
    proves the multiset equal: nothing lost, nothing duplicated, nothing invented)."""
    out = []
    for o, (exp_o, got_o) in enumerate(zip(expected, got)):
        if len(got_o) != len(exp_o):
            out.append(Mismatch(min(len(got_o), len(exp_o)), o, -1, "steps closed",
                                len(exp_o), len(got_o)))
        for t, (e, g) in enumerate(zip(exp_o, got_o)):
            eb, gb = _by_source(e), _by_source(g)
            for s in sorted(set(eb) | set(gb)):
                ea = eb.get(s, np.zeros(0, np.int64))
                ga = gb.get(s, np.zeros(0, np.int64))
                if ea.size != ga.size or (ea != ga).any():
                    j = next((j for j in range(min(ea.size, ga.size)) if ea[j] != ga[j]),
                             min(ea.size, ga.size))
                    out.append(Mismatch(
                        t, o, s, f"event {j} of this source",
                        int(ea[j]) if j < ea.size else "nothing",
                        int(ga[j]) if j < ga.size else "nothing"))
    out.sort(key=lambda m: (m.step, m.port, m.source))
    return out


def _is_subsequence(sub, seq):
    it = iter(seq.tolist())
    return all(any(x == y for y in it) for x in sub.tolist())


def check_bounded(expected, got, dropped):
    """Mismatches of a bounded-mode run: per (output, step, source) the delivered events
    must be a subsequence of the golden ones, and the total shortfall must equal the
    router's ``dropped`` counter (an event is delivered or counted, never lost)."""
    out, missing = [], 0
    for o, (exp_o, got_o) in enumerate(zip(expected, got)):
        for t, (e, g) in enumerate(zip(exp_o, got_o)):
            eb, gb = _by_source(e), _by_source(g)
            for s in sorted(set(eb) | set(gb)):
                ea = eb.get(s, np.zeros(0, np.int64))
                ga = gb.get(s, np.zeros(0, np.int64))
                if not _is_subsequence(ga, ea):
                    out.append(Mismatch(t, o, s, "deliveries not a subsequence of golden",
                                        ea.tolist(), ga.tolist()))
                missing += ea.size - ga.size
    if missing != dropped:
        out.append(Mismatch(-1, -1, -1, "events missing vs dropped counter", missing, dropped))
    return out
