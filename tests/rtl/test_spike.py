"""RTL spike encoders == golden: event streams (with eos) and state, gaps + back-pressure."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from neurofab import spec
from neurofab.cosim.streams import get_until, put_all
from neurofab.golden.encoders import spike as G
from neurofab.rtl.encoders import spike as R


def _simulate(dut, values, *, seed, gap=0.3, stall=0.3, probe=None, state=None):
    """Send ``values`` (steps, channels) row by row; collect every step's events; after the
    last end-of-step marker call ``probe(ctx)`` and append its result to ``state``."""
    rng = np.random.default_rng(seed)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    got = []

    async def producer(ctx):
        await put_all(ctx, dut.i_value, [int(v) for v in values.reshape(-1)], rng=rng, gap=gap)

    async def sink(ctx):
        for _ in range(values.shape[0]):
            step = await get_until(ctx, dut.o_event, lambda p: p.eos, rng=rng, stall=stall)
            got.extend((int(p.channel), int(p.eos)) for p in step)
        if probe is not None:
            state.append(probe(ctx))

    sim.add_testbench(producer)
    sim.add_testbench(sink)
    sim.run()
    return got


def _values(rng, steps, channels, width, hold=1):
    v = rng.integers(0, 1 << width, (steps // hold + 1, channels))
    return np.repeat(v, hold, axis=0)[:steps]


@pytest.mark.parametrize("channels, width, rand_width, leap", [
    (5, 8, 16, None), (1, 4, 4, 1), (7, 3, 20, 7),
])
def test_rate(channels, width, rand_width, leap):
    rng = np.random.default_rng(channels)
    vals = _values(rng, 30, channels, width)
    seed = int(rng.integers(1, 1 << rand_width))
    kw = dict(width=width, seed=seed, rand_width=rand_width, leap=leap)
    dut = R.RateEncoder(channels, **kw)
    gold = G.RateEncoder(channels, **kw)
    got = _simulate(dut, vals, seed=1)
    assert got == G.to_transactions(gold.run(vals))


def test_rate_state_and_resume():
    """Two golden calls == one stream; the RTL LFSR ends where the golden one does."""
    rng = np.random.default_rng(9)
    vals = _values(rng, 12, 4, 8)
    dut = R.RateEncoder(4, seed=77)
    gold = G.RateEncoder(4, seed=77)
    expected = gold.run(vals[:5]) + gold.run(vals[5:])
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    got, lfsr = [], []

    async def producer(ctx):
        await put_all(ctx, dut.i_value, [int(v) for v in vals.reshape(-1)], rng=rng, gap=0.2)

    async def sink(ctx):
        for _ in range(12):
            step = await get_until(ctx, dut.o_event, lambda p: p.eos, rng=rng, stall=0.2)
            got.extend((int(p.channel), int(p.eos)) for p in step)
        lfsr.append(ctx.get(dut.lfsr))

    sim.add_testbench(producer)
    sim.add_testbench(sink)
    sim.run()
    assert got == G.to_transactions(expected)
    assert lfsr == [gold.lfsr]


@pytest.mark.parametrize("channels, width, window, hold", [(6, 8, 8, 8), (3, 4, 5, 1), (1, 8, 1, 1)])
def test_latency(channels, width, window, hold):
    rng = np.random.default_rng(window)
    vals = _values(rng, 3 * max(window, 4), channels, width, hold)
    vals[0, 0] = (1 << width) - 1                 # an immediate spike ...
    vals[:, -1] = 0                               # ... and a silent channel
    dut = R.LatencyEncoder(channels, width, window=window)
    gold = G.LatencyEncoder(channels, width, window=window)
    state = []
    got = _simulate(dut, vals, seed=2, probe=lambda ctx: ctx.get(dut.phase), state=state)
    assert got == G.to_transactions(gold.run(vals))
    assert state == [gold.phase]


@pytest.mark.parametrize("channels, width, threshold", [(5, 8, 20), (1, 6, 1), (4, 4, 15)])
def test_delta(channels, width, threshold):
    rng = np.random.default_rng(threshold)
    vals = _values(rng, 25, channels, width, hold=2)
    dut = R.DeltaEncoder(channels, width, threshold=threshold)
    gold = G.DeltaEncoder(channels, width, threshold=threshold)
    state = []
    got = _simulate(dut, vals, seed=3, state=state,
                    probe=lambda ctx: [ctx.get(dut.prev.data[c]) for c in range(channels)])
    assert got == G.to_transactions(gold.run(vals))
    assert state == [gold.prev.tolist()]


@pytest.mark.parametrize("channels, width, fields, sigma", [(3, 8, 6, None), (2, 4, 2, 3.0), (1, 6, 16, 2.5)])
def test_population(channels, width, fields, sigma):
    rng = np.random.default_rng(fields)
    vals = _values(rng, 10, channels, width)
    kw = dict(fields=fields, sigma=sigma, seed=0x1234)
    dut = R.PopulationEncoder(channels, width, **kw)
    gold = G.PopulationEncoder(channels, width, **kw)
    state = []
    got = _simulate(dut, vals, seed=4, probe=lambda ctx: ctx.get(dut.lfsr), state=state)
    assert got == G.to_transactions(gold.run(vals))
    assert state == [gold.lfsr]


def test_no_stall_throughput():
    """Without gaps or back-pressure the rate encoder takes one value per clock."""
    dut = R.RateEncoder(8, seed=5)
    vals = np.full((4, 8), 255)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    cycles = []

    async def producer(ctx):
        await put_all(ctx, dut.i_value, [int(v) for v in vals.reshape(-1)])

    async def sink(ctx):
        n = 0
        ctx.set(dut.o_event.ready, 1)
        while True:
            *_, valid, payload = await ctx.tick().sample(dut.o_event.valid, dut.o_event.payload)
            n += 1
            if valid and payload.eos:
                cycles.append(n)
                if len(cycles) == 4:
                    return

    sim.add_testbench(producer)
    sim.add_testbench(sink)
    sim.run()
    # 8 events + eos per step: 9 cycles per step once the pipeline is full
    assert np.diff(cycles).tolist() == [9, 9, 9]


@pytest.mark.parametrize("make, exc, match", [
    (lambda: R.RateEncoder(0), ValueError, r"channels = 0 is outside the limit \[1, 65536\]"),
    (lambda: R.RateEncoder(4, 17), ValueError, r"value width = 17 is outside the limit \[1, 16\]"),
    (lambda: R.RateEncoder(4, 12, rand_width=8), ValueError,
     "value width = 12 is wider than the random source \\(8 bits\\)"),
    (lambda: R.RateEncoder(4, seed=0), ValueError, "seed = 0 is the lock-up state"),
    (lambda: R.LatencyEncoder(4, window=0), ValueError, "latency window = 0 is outside the limit"),
    (lambda: R.DeltaEncoder(4, 8, threshold=0), ValueError, r"delta threshold = 0 is outside the limit \[1, 255\]"),
    (lambda: R.DeltaEncoder(spec.MAX_INPUTS), ValueError, "drives 131072 core channels"),
    (lambda: R.PopulationEncoder(4, 13), ValueError, r"value width = 13 is outside the limit \[1, 12\]"),
    (lambda: R.PopulationEncoder(4, fields=1), ValueError, r"population fields = 1 is outside the limit \[2, 64\]"),
])
def test_invalid(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_numpy_integer_parameters_become_ints():
    """Parameters may be numpy integers (``checks.check_int``); the encoder keeps ints."""
    from amaranth.hdl import Fragment
    i = np.int64
    encs = [R.PopulationEncoder(i(4), i(6), fields=i(4), seed=i(2), rand_width=i(16),
                                leap=i(7)),
            R.DeltaEncoder(i(4), i(8), threshold=i(3)), R.LatencyEncoder(i(4), window=i(16))]
    for name in ("channels", "width", "fields", "seed", "rand_width", "leap"):
        assert type(getattr(encs[0], name)) is int, name
    assert type(encs[1].threshold) is int and type(encs[2].window) is int
    for enc in encs:
        Fragment.get(enc, None)          # elaborates with the plain ints
