"""Every encoder component converts (RTLIL) and survives being elaborated twice — back ends
such as the Verilator build elaborate a design more than once."""

import pytest
from amaranth import Signal
from amaranth.back import rtlil

from neurofab.rtl import encoders as E

MAKERS = [
    lambda: E.Lfsr(16, 1), lambda: E.Lfsr(16, 1, leap=16), lambda: E.Sobol(5, 16),
    lambda: E.VanDerCorput(12), lambda: E.ComparatorSng(8, 3), lambda: E.SngBank(8, 3),
    lambda: E.SngBank(8, 3, source="sobol"), lambda: E.SngBank(8, 3, source="vdc", shared=True),
    lambda: E.ScAnd(4), lambda: E.ScOr(4), lambda: E.ScXnor(4), lambda: E.ScMux(4),
    lambda: E.ScCordiv(4), lambda: E.ScTanh(4, 8), lambda: E.ScCounter(4, 64),
    lambda: E.RateEncoder(8), lambda: E.LatencyEncoder(8), lambda: E.DeltaEncoder(8),
    lambda: E.PopulationEncoder(3, 6, fields=4),
]


@pytest.mark.parametrize("k", range(len(MAKERS)))
def test_convert_twice(k):
    dut = MAKERS[k]()
    first = rtlil.convert(dut, name="top")
    assert first == rtlil.convert(dut, name="top")


@pytest.mark.parametrize("make, fields, last", [
    (lambda: E.DeltaEncoder(6, threshold=1), 1, (10, 11)),
    (lambda: E.PopulationEncoder(3, 6, fields=4, seed=9), 4, (11,)),
])
def test_pipelined_throughput(make, fields, last):
    """Delta and population decide a clock after taking the value and still take one value
    (field) per clock without gaps or back-pressure: a step is ``channels * fields`` clocks,
    one more when its last decision fires (the end-of-step marker waits for that event)."""
    import numpy as np
    from amaranth.sim import Simulator

    from neurofab.cosim.streams import put_all
    dut = make()
    steps, channels = 6, dut.channels
    vals = np.array([[0 if t % 2 else (1 << dut.width) - 1] * channels for t in range(steps)])
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    seen = []        # (cycle of the end-of-step marker, channel of the event before it)

    async def producer(ctx):
        await put_all(ctx, dut.i_value, [int(v) for v in vals.reshape(-1)])

    async def sink(ctx):
        n, before = 0, None
        ctx.set(dut.o_event.ready, 1)
        while len(seen) < steps:
            *_, valid, payload = await ctx.tick().sample(dut.o_event.valid, dut.o_event.payload)
            n += 1
            if valid and payload.eos:
                seen.append((n, before))
                before = None
            elif valid:
                before = int(payload.channel)

    sim.add_testbench(producer)
    sim.add_testbench(sink)
    sim.run()
    for (a, _), (b, before) in zip(seen, seen[1:]):
        assert b - a == channels * fields + (before in last)


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_delta_few_channels(channels):
    """The delta encoder's previous-value read runs a channel ahead and its write a clock
    behind: with one, two or three channels the read meets the write of the same channel
    (random gaps and back-pressure, against golden)."""
    from neurofab.cosim.registry import cosim_block
    for seed in (1, 2):
        res = cosim_block("delta", seed=seed, steps=12, params={"channels": channels},
                          vcd_path=False)
        assert res.bit_exact, res.report()


def test_delta_flush_keeps_previous_values():
    """A reset of the delta encoder (``EncodedCore.i_flush``) between steps keeps the
    previous values: the steps after it are encoded against them, as golden does."""
    import numpy as np
    from amaranth.hdl import ResetInserter
    from amaranth.sim import Simulator

    from neurofab.cosim.streams import get_until, put_all
    from neurofab.golden.encoders import spike as G
    channels, steps = 3, 8
    rng = np.random.default_rng(5)
    vals = rng.integers(0, 256, (steps, channels))
    dut = E.DeltaEncoder(channels, threshold=10)
    flush = Signal()
    top = ResetInserter({"sync": flush})(dut)
    sim = Simulator(top)
    sim.add_clock(1e-6)
    got = []

    done = []

    async def bench(ctx):
        for t in range(steps):
            await put_all(ctx, dut.i_value, [int(v) for v in vals[t]])
            while len(done) <= t:            # the step's events are out
                await ctx.tick()
            if t in (2, 5):                  # flush between steps, then go on
                ctx.set(flush, 1)
                await ctx.tick()
                ctx.set(flush, 0)

    async def sink(ctx):
        for _ in range(steps):
            step = await get_until(ctx, dut.o_event, lambda p: p.eos)
            got.extend((int(p.channel), int(p.eos)) for p in step)
            done.append(1)

    sim.add_testbench(bench)
    sim.add_testbench(sink)
    sim.run()
    assert got == G.to_transactions(G.DeltaEncoder(channels, threshold=10).run(vals))
