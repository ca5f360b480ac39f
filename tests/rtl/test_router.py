# amaranth: UnusedElaboratable=no
"""AER router RTL (``neurofab.rtl.aer.AerRouter``): cycle-level checks of the barrier, the
leader gate, the table init/upload and the bounded mode; co-simulation against golden is in
``tests/cosim/test_router.py``."""

import pytest
from amaranth.sim import Simulator

from neurofab import spec
from neurofab.cosim import streams
from neurofab.cosim.aer import aer_word, decode_aer
from neurofab.partition import RoutingTable
from neurofab.rtl.aer import AerRouter, table_words


def ev(addr=0, core=0, eos=0):
    return {"addr": addr, "core": core, "eos": eos}


def _bits(x):
    return x.as_bits() if hasattr(x, "as_bits") else int(x)


def run(dut, tbs, cycles=2000):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for tb in tbs:
        sim.add_testbench(tb)
    sim.run_until(cycles * 1e-6)


def test_barrier_waits_for_the_slowest_input():
    table = RoutingTable.from_entries(3, [(p, 0, 99, 0b111, 0) for p in range(3)])
    dut = AerRouter(3, table)
    log = {o: [] for o in range(3)}
    late = 60

    def producer(i, events, delay):
        async def tb(ctx):
            if delay:
                await ctx.tick().repeat(delay)
            for e in events:
                await streams.put(ctx, dut.inputs()[i], e)
        return tb

    def consumer(o):
        async def tb(ctx):
            port = dut.outputs()[o]
            ctx.set(port.ready, 1)
            cycle = 0
            while True:
                *_, valid, payload = await ctx.tick().sample(port.valid, port.payload)
                cycle += 1
                if valid:
                    log[o].append((cycle, _bits(payload)))
        return tb

    run(dut, [producer(0, [ev(1), ev(eos=1), ev(2), ev(eos=1)], 0),
              producer(1, [ev(eos=1), ev(eos=1)], 0),
              producer(2, [ev(3), ev(eos=1), ev(eos=1)], late)] +
        [consumer(o) for o in range(3)], 400)
    for o in range(3):
        words = [w for _, w in log[o]]
        steps, trailing = decode_aer(words)
        assert not trailing and len(steps) == 2
        assert sorted(map(tuple, steps[0].tolist())) == [(0, 1), (2, 3)]
        assert steps[1].tolist() == [[0, 2]]
        first_eos = next(c for c, w in log[o] if (w >> spec.AerEvent["eos"].offset) & 1)
        assert first_eos > late           # not before the slowest input's marker
        # input 0's step-1 event did not overtake the barrier
        assert [c for c, w in log[o] if w == aer_word(2, 0)][0] > first_eos


def test_leader_gate_holds_other_inputs():
    table = RoutingTable.from_entries(2, [(0, 0, 9, 0b11, 0), (1, 0, 9, 0b11, 0)])
    dut = AerRouter(2, table, leader=1)
    accepted = []

    async def follower(ctx):
        await streams.put(ctx, dut.i_aer_0, ev(4))
        accepted.append(("follower", ctx.get(dut.o_step)))

    async def leader(ctx):
        await ctx.tick().repeat(30)
        # still nothing through: the follower waits for the leader
        assert not accepted
        await streams.put(ctx, dut.i_aer_1, ev(5))
        await ctx.tick().repeat(3)
        assert accepted

    async def drain(ctx):
        ctx.set(dut.o_aer_0.ready, 1)
        ctx.set(dut.o_aer_1.ready, 1)

    run(dut, [follower, leader, drain], 200)


def test_registered_ready_port_takes_every_event_every_other_clock():
    """A ``registered_ready`` port takes an event only into an empty head register: never
    in two clocks running (a plain port beside it takes one per clock), and every event
    arrives, in order, with the outputs always ready and under random back-pressure."""
    import numpy as np
    table = RoutingTable.from_entries(2, [(0, 0, 99, 0b01, 0), (1, 0, 99, 0b10, 100)])
    for p_ready in (1.0, 0.6):
        dut = AerRouter(2, table, registered_ready=(1,))
        rng = np.random.default_rng(5)
        got = {0: [], 1: []}
        taken = {0: [], 1: []}

        def producer(i, dut=dut):
            async def tb(ctx):
                for a in range(60):
                    await streams.put(ctx, dut.inputs()[i], ev(a))
                await streams.put(ctx, dut.inputs()[i], ev(eos=1))
            return tb

        async def watch(ctx, dut=dut, rng=rng, got=got, taken=taken, p_ready=p_ready):
            for cycle in range(1000):
                for o, out in enumerate(dut.outputs()):
                    ctx.set(out.ready, rng.random() < p_ready)
                for i, port in enumerate(dut.inputs()):
                    if ctx.get(port.valid) and ctx.get(port.ready):
                        taken[i].append(cycle)
                for o, out in enumerate(dut.outputs()):
                    if ctx.get(out.valid) and ctx.get(out.ready):
                        got[o].append(_bits(ctx.get(out.payload)))
                await ctx.tick()

        run(dut, [producer(0), producer(1), watch], 1100)
        gaps = {i: [b - a for a, b in zip(t, t[1:])] for i, t in taken.items()}
        assert len(taken[1]) == 61 and min(gaps[1]) == 2           # 60 events + eos
        if p_ready == 1.0:
            assert gaps[0].count(1) >= 55                          # the plain port: 1/clock
        for o in range(2):
            steps, trailing = decode_aer(got[o])
            assert not trailing and len(steps) == 1
            assert steps[0].tolist() == [[o, 100 * o + a] for a in range(60)]


def _upload_and_route(dut, writes, table_is_init):
    got = {0: [], 1: []}

    async def tb(ctx):
        for w in writes:
            await streams.put(ctx, dut.i_table, spec.RouteWrite.from_bits(w))
        for e in [ev(3), ev(12), ev(eos=1)]:
            await streams.put(ctx, dut.i_aer_0, e)

    async def others(ctx):
        await streams.put(ctx, dut.i_aer_1, ev(eos=1))

    def drain(o):
        async def tb(ctx):
            while True:
                p = await streams.get(ctx, dut.outputs()[o])
                got[o].append(_bits(p))
        return tb

    run(dut, [tb, others, drain(0), drain(1)], 300)
    return got


def test_table_init_equals_upload():
    table = RoutingTable.from_entries(2, [(0, 0, 9, 0b01, 100), (0, 10, 19, 0b10, 7)],
                                      entries_per_port=2)
    a = _upload_and_route(AerRouter(2, table), [], True)
    b = _upload_and_route(AerRouter(2, None, entries_per_port=2), table_words(table), False)
    assert a == b
    assert a[0] == [aer_word(103, 0), aer_word(eos=1)]
    assert a[1] == [aer_word(9, 0), aer_word(eos=1)]


def test_unrouted_and_bounded_drop_counters():
    table = RoutingTable.from_entries(2, [(0, 0, 9, 0b10, 0)])
    dut = AerRouter(2, table, depth=2, lossless=False)
    out = {}

    async def tb(ctx):
        for a in list(range(8)) + [50]:           # 50: no entry
            await streams.put(ctx, dut.i_aer_0, ev(a))
        await streams.put(ctx, dut.i_aer_0, ev(eos=1))
        await ctx.tick().repeat(10)
        out["dropped"] = ctx.get(dut.o_dropped)
        out["unrouted"] = ctx.get(dut.o_unrouted)

    async def others(ctx):
        await streams.put(ctx, dut.i_aer_1, ev(eos=1))
        ctx.set(dut.o_aer_0.ready, 1)            # output 1 never drained: its FIFO fills

    run(dut, [tb, others], 200)
    assert out["unrouted"] == 1
    assert out["dropped"] == 8 - 2               # a depth-2 FIFO kept two


@pytest.mark.parametrize("kw, exc, msg", [
    (dict(ports=1), ValueError, "ports = 1"),
    (dict(ports=3, entries_per_port=0), ValueError, "entries_per_port = 0"),
    (dict(ports=3, depth=1), ValueError, "depth = 1"),
    (dict(ports=3, leader=3), ValueError, "leader = 3"),
    (dict(ports=3, lossless=1), TypeError, "lossless"),
    (dict(ports=3, table=RoutingTable.from_entries(2, [])), ValueError, "2 ports"),
    (dict(ports=3, table="x"), TypeError, "RoutingTable"),
    (dict(ports=3, registered_ready=(3,)), ValueError,
     r"^registered_ready\[0\] = 3 is outside the limit \[0, 2\]$"),
    (dict(ports=3, registered_ready=2), TypeError,
     r"^registered_ready must be a sequence of input ports, not 2$"),
])
def test_parameter_errors(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        AerRouter(**kw)


def test_verilog_conversion():
    from amaranth.back import verilog
    text = verilog.convert(AerRouter(5, entries_per_port=3, leader=4), name="r")
    assert "i_aer_4__valid" in text and "o_aer_0__payload" in text and "i_table__payload" in text
