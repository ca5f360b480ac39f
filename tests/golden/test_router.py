"""Golden AER router (``neurofab.golden.aer``) and routing tables (``neurofab.partition``)."""

import numpy as np
import pytest

from neurofab import spec
from neurofab.golden.aer import check_bounded, compare_routed, route, route_step
from neurofab.partition import RoutingTable, random_table


def test_multicast_rewrite_first_match_sink_and_miss():
    t = RoutingTable.from_entries(3, [
        (0, 10, 19, 0b110, 100),     # port 0, 10..19 -> outputs 1, 2 at 100..109
        (0, 0, 15, 0b001, 500),      # overlaps: loses to the entry above for 10..15
        (1, 0, 3, 0b000, 0),         # a sink
    ])
    out, unrouted, sunk = route_step(t, [[12, 3, 19, 40], [1, 2, 9], []])
    assert out[0].tolist() == [[0, 503]]
    assert out[1].tolist() == [[0, 102], [0, 109]] == out[2].tolist()
    assert unrouted.tolist() == [1, 1, 0] and sunk.tolist() == [0, 2, 0]


def test_route_groups_by_source_keeps_order_and_counts():
    t = RoutingTable.from_entries(2, [(0, 0, 99, 0b11, 0), (1, 0, 99, 0b01, 1000)])
    res = route(t, [[[5, 3, 5], [7]], [[9, 1], []]])
    assert res.steps == 2 and res.delivered == (3 + 2) + 3 + 2
    assert res.out[0][0].tolist() == [[0, 5], [0, 3], [0, 5], [1, 1009], [1, 1001]]
    assert res.out[1][0].tolist() == [[0, 5], [0, 3], [0, 5]]
    assert res.out[0][1].tolist() == [[0, 7]]


def test_compare_routed_accepts_any_interleaving_but_not_reordering():
    t = random_table(1, 4, entries_per_port=3)
    rng = np.random.default_rng(2)
    ins = [[rng.integers(0, 64, 10) for _ in range(3)] for _ in range(4)]
    g = route(t, ins).out
    shuffled = []
    for o in g:
        steps = []
        for rows in o:
            # a random interleaving of the sources, each keeping its order
            srcs = list(rows[:, 0])
            rng.shuffle(srcs)
            by = {s: list(rows[rows[:, 0] == s]) for s in set(srcs)}
            steps.append(np.array([by[s].pop(0) for s in srcs]).reshape(-1, 2))
        shuffled.append(steps)
    assert compare_routed(g, shuffled) == []
    # swap two events of one source on one output
    o, t_ = next((o, t_) for o in range(4) for t_ in range(3)
                 if any((g[o][t_][:, 0] == s).sum() >= 2 and
                        len(set(g[o][t_][g[o][t_][:, 0] == s, 1])) > 1
                        for s in range(4)))
    bad = [[x.copy() for x in oo] for oo in g]
    rows = bad[o][t_]
    s = next(s for s in range(4) if len(set(rows[rows[:, 0] == s, 1])) > 1)
    idx = np.flatnonzero(rows[:, 0] == s)
    j = next(j for j in range(1, idx.size) if rows[idx[j], 1] != rows[idx[0], 1])
    rows[[idx[0], idx[j]]] = rows[[idx[j], idx[0]]]
    ms = compare_routed(g, bad)
    assert ms and (ms[0].step, ms[0].port, ms[0].source) == (t_, o, s)
    # a lost and a duplicated event
    lost = [[x.copy() for x in oo] for oo in g]
    lost[o][t_] = lost[o][t_][1:]
    assert compare_routed(g, lost)
    dup = [[x.copy() for x in oo] for oo in g]
    dup[o][t_] = np.vstack([dup[o][t_], dup[o][t_][-1:]])
    assert compare_routed(g, dup)
    # a step closed too few
    assert compare_routed(g, [oo[:-1] for oo in g])[0].what == "steps closed"


def test_check_bounded():
    t = RoutingTable.from_entries(2, [(0, 0, 9, 0b10, 0)])
    g = route(t, [[[1, 2, 3]], [[]]]).out
    assert check_bounded(g, [[np.zeros((0, 2))], [np.array([[0, 1], [0, 3]])]], 1) == []
    assert check_bounded(g, [[np.zeros((0, 2))], [np.array([[0, 1], [0, 3]])]], 0)
    assert check_bounded(g, [[np.zeros((0, 2))], [np.array([[0, 3], [0, 1]])]], 1)


@pytest.mark.parametrize("kw, msg", [
    (dict(ports=1), "ports = 1"),
    (dict(ports=spec.AER_MAX_PORTS + 1), "ports = 17"),
    (dict(ports=2, src=[2], lo=[0], hi=[0], mask=[1], offset=[0]), "src = 2"),
    (dict(ports=2, src=[0], lo=[5], hi=[4], mask=[1], offset=[0]), "hi = 4 is below lo = 5"),
    (dict(ports=2, src=[0], lo=[0], hi=[0], mask=[4], offset=[0]), "mask = 4"),
    (dict(ports=2, src=[0], lo=[0], hi=[9], mask=[1], offset=[65530]), "exceeds the 16-bit"),
    (dict(ports=2, src=[0, 0], lo=[0, 0], hi=[0, 0], mask=[1, 1], offset=[0, 0],
          entries_per_port=1), "input port 0 has 2 routing entries"),
    (dict(ports=2, entries_per_port=17), "entries_per_port = 17"),
])
def test_table_validation(kw, msg):
    with pytest.raises(ValueError, match=msg):
        RoutingTable(**kw).validate()


def test_route_input_shape_errors():
    t = RoutingTable.from_entries(2, [])
    with pytest.raises(ValueError, match="same number of steps"):
        route(t, [[[]], [[], []]])
    with pytest.raises(ValueError, match="3 ports"):
        route(t, [[[]]] * 3)
