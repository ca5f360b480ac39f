"""PLL parameter search (checked against icepll / ecppll / gowin_pll output) and ClockGen."""

import pytest
from amaranth import ClockDomain, Elaboratable, Module, Signal
from amaranth.sim import Simulator

from neurofab.boards import BOARDS
from neurofab.boards.top import BoardTop
from neurofab.boards.clocks import (ClockGen, Ecp5PllPlan, GowinPllPlan, Ice40PllPlan,
                                    ecp5_pll, gowin_pll, ice40_pll, plan_pll)

MHz = 1e6


# (f_in, f_out) -> (DIVR, DIVF, DIVQ, FILTER_RANGE) as printed by `icepll -i .. -o ..`
ICEPLL = {
    (12, 30): (0, 79, 5, 1),
    (12, 33): (0, 87, 5, 1),
    (12, 36): (0, 47, 4, 1),
    (12, 48): (0, 63, 4, 1),
}


@pytest.mark.parametrize("fin,fout", sorted(ICEPLL))
def test_ice40_matches_icepll(fin, fout):
    p = ice40_pll(fin * MHz, fout * MHz)
    assert isinstance(p, Ice40PllPlan)
    assert (p.divr, p.divf, p.divq, p.filter_range) == ICEPLL[fin, fout]
    assert p.f_out == pytest.approx(fout * MHz)
    assert p.f_vco == pytest.approx(p.f_pfd * (p.divf + 1))
    assert 533 * MHz <= p.f_vco <= 1066 * MHz


def test_ice40_nearest_and_tolerance():
    p = ice40_pll(12 * MHz, 100 * MHz, tolerance=0.01)         # icepll: 100.5 MHz
    assert (p.divr, p.divf, p.divq) == (0, 66, 3)
    assert p.f_out == pytest.approx(100.5 * MHz)
    assert p.error == pytest.approx(0.005)
    with pytest.raises(ValueError, match="closest output"):
        ice40_pll(12 * MHz, 100 * MHz)                         # 0.5 % > 0.1 %
    with pytest.raises(ValueError, match="output frequency"):
        ice40_pll(12 * MHz, 300 * MHz)
    with pytest.raises(ValueError, match="input frequency"):
        ice40_pll(5 * MHz, 30 * MHz)
    with pytest.raises(ValueError, match="positive"):
        ice40_pll(12 * MHz, -1)


# (f_in, f_out) -> (CLKI_DIV, CLKFB_DIV, CLKOP_DIV) as printed by `ecppll -i .. -o ..`
ECPPLL = {
    (25, 50): (1, 2, 12),
    (25, 60): (5, 12, 10),
    (25, 80): (5, 16, 7),
    (25, 90): (5, 18, 7),
    (25, 100): (1, 4, 6),
    (25, 125): (1, 5, 5),
}


@pytest.mark.parametrize("fin,fout", sorted(ECPPLL))
def test_ecp5_matches_ecppll(fin, fout):
    p = ecp5_pll(fin * MHz, fout * MHz)
    assert isinstance(p, Ecp5PllPlan)
    assert (p.clki_div, p.clkfb_div, p.clkop_div) == ECPPLL[fin, fout]
    assert p.f_out == pytest.approx(fout * MHz)
    assert 400 * MHz <= p.f_vco <= 800 * MHz
    assert p.clkop_cphase == p.clkop_div - 1


def test_ecp5_limits():
    with pytest.raises(ValueError, match="output frequency"):
        ecp5_pll(25 * MHz, 500 * MHz)
    with pytest.raises(ValueError, match="input frequency"):
        ecp5_pll(1 * MHz, 50 * MHz)


# (f_in, f_out) -> (IDIV_SEL, FBDIV_SEL, ODIV_SEL) as printed by apycula's `gowin_pll`
GOWINPLL = {
    (27, 54): (0, 1, 8),
    (27, 72): (2, 7, 8),
    (27, 108): (0, 3, 4),
}


@pytest.mark.parametrize("fin,fout", sorted(GOWINPLL))
def test_gowin_matches_gowin_pll(fin, fout):
    p = gowin_pll(fin * MHz, fout * MHz)
    assert isinstance(p, GowinPllPlan)
    assert (p.idiv_sel, p.fbdiv_sel, p.odiv_sel) == GOWINPLL[fin, fout]
    assert 400 * MHz <= p.f_vco <= 1200 * MHz


def test_gowin_nearest():
    p = gowin_pll(27 * MHz, 50 * MHz, tolerance=0.01)           # gowin_pll: 50.143 MHz
    assert (p.idiv_sel, p.fbdiv_sel, p.odiv_sel) == (6, 12, 8)


def test_plan_pll_dispatch():
    assert plan_pll("ecp5", 25 * MHz, 90 * MHz) == ecp5_pll(25 * MHz, 90 * MHz)
    with pytest.raises(ValueError, match="known: ecp5, gowin, ice40"):
        plan_pll("virtex", 100 * MHz, 100 * MHz)


def test_clockgen_checks_arguments():
    plan = BOARDS["icebreaker"].pll
    with pytest.raises(TypeError):
        ClockGen("not a plan", "clk12")
    with pytest.raises(TypeError):
        ClockGen(plan)                          # no clock pin and not sim


class _SimTop(Elaboratable):
    def __init__(self):
        self.clockgen = ClockGen(BOARDS["icebreaker"].pll, sim=True)
        self.count = Signal(8)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        m.submodules.clockgen = self.clockgen
        m.d.sync += self.count.eq(self.count + 1)
        return m


def test_clockgen_sim_reset_sync():
    dut = _SimTop()
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    seen = []

    async def tb(ctx):
        # ctx.tick() raises DomainReset while the domain is in reset: step by time,
        # sampling between clock edges
        await ctx.delay(0.5e-6)
        for _ in range(6):
            seen.append(ctx.get(dut.count))
            await ctx.delay(1e-6)
        assert ctx.get(dut.clockgen.locked) == 1
        ctx.set(dut.clockgen.ext_reset, 1)
        await ctx.delay(2e-6)
        assert ctx.get(dut.count) == 0
        ctx.set(dut.clockgen.ext_reset, 0)
        await ctx.delay(5e-6)
        assert ctx.get(dut.count) > 0

    sim.add_testbench(tb)
    sim.run()
    assert seen[0] == 0 and seen[1] == 0          # synchroniser holds reset
    assert seen[-1] > 0 and seen == sorted(seen)


@pytest.mark.parametrize("name,cell", [("icebreaker", "SB_PLL40_PAD"),
                                       ("ulx3s", "EHXPLLL"),
                                       ("tang-nano-9k", "rPLL")])
def test_clockgen_instantiates_pll(name, cell):
    board = BOARDS[name]
    plat = board.make_platform()
    top = BoardTop(board, n_neurons=2, n_inputs=1, syn_capacity=4)
    plan = plat.prepare(top, name="top")
    il = plan.files["top.il"]
    assert f"cell \\{cell} " in il
    p = board.pll
    if cell == "SB_PLL40_PAD":
        assert f"parameter \\DIVF 7'{p.divf:07b}" in il
    elif cell == "EHXPLLL":
        assert f"parameter \\CLKFB_DIV {p.clkfb_div}" in il or \
            f"parameter \\CLKFB_DIV 32'{p.clkfb_div:032b}" in il
    else:
        assert "GW1NR-9C" in il
