"""RTL Lfsr == golden lfsr_sequence under random back-pressure."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from neurofab.cosim.streams import get_all
from neurofab.golden.encoders.lfsr import lfsr_sequence
from neurofab.rtl.encoders.lfsr import Lfsr


def _run(dut, tb):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


@pytest.mark.parametrize("width", [4, 5, 8, 16, 23, 32])
def test_lfsr_matches_golden(width):
    rng = np.random.default_rng(width)
    seed = int(rng.integers(1, 1 << width))
    n = 300
    dut = Lfsr(width, seed)
    expected = lfsr_sequence(width, seed, n + 1)

    async def tb(ctx):
        got = await get_all(ctx, dut.o_data, n, rng=rng, stall=0.4)
        assert [int(v) for v in got] == expected[:n].tolist()
        assert ctx.get(dut.state) == expected[n]      # advanced exactly once per transfer

    _run(dut, tb)


@pytest.mark.parametrize("width, leap", [(16, 16), (12, 16), (5, 3)])
def test_lfsr_leap(width, leap):
    dut = Lfsr(width, 3, leap=leap)

    async def tb(ctx):
        got = await get_all(ctx, dut.o_data, 100, rng=leap, stall=0.3)
        assert [int(v) for v in got] == lfsr_sequence(width, 3, 100, leap=leap).tolist()

    _run(dut, tb)


def test_lfsr_custom_poly():
    poly = (1 << 16) | (1 << 14) | (1 << 13) | (1 << 11) | 1     # x^16+x^14+x^13+x^11+1
    dut = Lfsr(16, 0xACE1, poly=poly)

    async def tb(ctx):
        got = await get_all(ctx, dut.o_data, 50, rng=3, stall=0.3)
        expected = lfsr_sequence(16, 0xACE1, 50, poly=poly)
        assert [int(v) for v in got] == expected.tolist()
        assert int(got[1]) == (0xACE1 >> 1) ^ 0xB400

    _run(dut, tb)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(width=8, seed=0), ValueError, "seed = 0 is the lock-up state"),
    (dict(width=8, seed=300), ValueError, "seed = 300 does not fit width 8"),
    (dict(width=2, seed=1), ValueError, r"width = 2 is outside the limit \[4, 32\]"),
    (dict(width=40, seed=1), ValueError, r"width = 40 is outside the limit \[4, 32\]"),
    (dict(width=8, seed=1, poly=0x1FF), ValueError, "not primitive"),
    (dict(width=8.0, seed=1), TypeError, "must be an int"),
    (dict(width=6, seed=1, leap=9), ValueError, "leap = 9 shares the factor 9"),
])
def test_lfsr_invalid(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Lfsr(**kwargs)
