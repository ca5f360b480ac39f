"""RTL Sobol / VanDerCorput == golden under random back-pressure (incl. counter wrap)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from neurofab.cosim.streams import get_all
from neurofab.golden.encoders.sobol import sobol_sequence, vdc_sequence
from neurofab.rtl.encoders.sobol import Sobol, VanDerCorput


def _run(dut, tb):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


@pytest.mark.parametrize("dim, bits, n", [
    (1, 16, 200), (2, 16, 200), (3, 5, 100), (7, 8, 300), (20, 16, 200), (31, 32, 150),
    (4, 1, 6), (9, 2, 12),
])
def test_sobol_matches_golden(dim, bits, n):
    rng = np.random.default_rng(dim * 100 + bits)
    dut = Sobol(dim, bits)

    async def tb(ctx):
        got = await get_all(ctx, dut.o_data, n, rng=rng, stall=0.4)
        assert [int(v) for v in got] == sobol_sequence(n, dim, bits).tolist()
        assert ctx.get(dut.index) == n % (1 << bits)
        assert ctx.get(dut.value) == sobol_sequence(1, dim, bits, start=n)[0]

    _run(dut, tb)


@pytest.mark.parametrize("bits, n", [(16, 150), (4, 40), (1, 5)])
def test_vdc_matches_golden(bits, n):
    dut = VanDerCorput(bits)

    async def tb(ctx):
        got = await get_all(ctx, dut.o_data, n, rng=bits, stall=0.4)
        assert [int(v) for v in got] == vdc_sequence(n, bits).tolist()

    _run(dut, tb)


@pytest.mark.parametrize("make, match", [
    (lambda: Sobol(0), r"Sobol dimension = 0 is outside the limit \[1, 31\]"),
    (lambda: Sobol(32), r"Sobol dimension = 32 is outside the limit \[1, 31\]"),
    (lambda: Sobol(1, 33), r"Sobol bits = 33 is outside the limit \[1, 32\]"),
    (lambda: VanDerCorput(0), r"van der Corput bits = 0 is outside the limit \[1, 32\]"),
])
def test_invalid(make, match):
    with pytest.raises(ValueError, match=match):
        make()
