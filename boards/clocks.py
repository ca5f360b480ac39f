"""Clock plans: PLL parameters per FPGA family, the PLL primitives and a reset synchroniser.

A board's core clock comes from a PLL fed by the board oscillator. The parameter search
functions below do what the vendor/open tools do (``icepll``, ``ecppll``, ``gowin_pll``):
enumerate the divider settings, keep the ones whose internal frequencies (phase detector,
VCO, output) are inside the device limits, and return the one closest to the requested
frequency. They are pure Python (no tool is run) and validate everything: an input or
output frequency the PLL can't handle, or a result farther than ``tolerance`` from the
request, is a ``ValueError`` naming the limit.

``ClockGen`` turns a plan into hardware: the family's PLL primitive driving the ``sync``
domain (defined by the top level), held in reset (through
``amaranth.lib.cdc.ResetSynchronizer``) until the PLL has locked and while the optional
external reset is high. ``ClockGen(..., sim=True)`` has no PLL: the ``sync`` clock is the
simulation clock (Amaranth simulator or Verilator), so the simulated board runs the same
top level.
"""

from dataclasses import dataclass

from amaranth import ClockSignal, Const, Elaboratable, Instance, Module, Signal
from amaranth.lib import cdc, io

__all__ = [
    "PllPlan", "Ice40PllPlan", "Ecp5PllPlan", "GowinPllPlan",
    "ice40_pll", "ecp5_pll", "gowin_pll", "plan_pll", "ClockGen",
]

MHZ = 1e6


@dataclass(frozen=True)
class PllPlan:
    """A validated PLL setting.

    Attributes
    ----------
    family : str
        ``"ice40"``, ``"ecp5"`` or ``"gowin"``.
    f_in, f_out : float
        Reference and achieved output frequency in Hz.
    f_requested : float
        The output frequency that was asked for, in Hz.
    f_pfd, f_vco : float
        Phase-detector and VCO frequencies in Hz.
    """
    family: str
    f_in: float
    f_out: float
    f_requested: float
    f_pfd: float
    f_vco: float

    @property
    def error(self):
        """Relative deviation of the achieved from the requested frequency."""
        return abs(self.f_out - self.f_requested) / self.f_requested


@dataclass(frozen=True)
class Ice40PllPlan(PllPlan):
    """``SB_PLL40_*`` setting (simple feedback):
    ``f_out = f_in * (divf+1) / ((divr+1) * 2**divq)``."""
    divr: int = 0
    divf: int = 0
    divq: int = 0
    filter_range: int = 0


@dataclass(frozen=True)
class Ecp5PllPlan(PllPlan):
    """``EHXPLLL`` setting (feedback from CLKOP): ``f_out = f_in * clkfb_div / clki_div``,
    ``f_vco = f_out * clkop_div``."""
    clki_div: int = 1
    clkfb_div: int = 1
    clkop_div: int = 1

    @property
    def clkop_cphase(self):
        """Coarse phase for 0 degrees (what Lattice's tools and ``ecppll`` emit)."""
        return self.clkop_div - 1


@dataclass(frozen=True)
class GowinPllPlan(PllPlan):
    """``rPLL`` setting: ``f_out = f_in * (fbdiv_sel+1) / (idiv_sel+1)``,
    ``f_vco = f_out * odiv_sel``."""
    idiv_sel: int = 0
    fbdiv_sel: int = 0
    odiv_sel: int = 2


def _check_freq(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive frequency in Hz, not {value!r}")


def _check_range(what, value, lo, hi):
    if not lo <= value <= hi:
        raise ValueError(f"{what} of {value / MHZ:.3f} MHz is outside the PLL's range "
                         f"[{lo / MHZ:g}, {hi / MHZ:g}] MHz")


def _pick(family, f_in, f_out, candidates, tolerance):
    if not candidates:
        raise ValueError(f"{family} PLL: no divider setting produces {f_out / MHZ:.3f} MHz "
                         f"from {f_in / MHZ:.3f} MHz within the VCO/PFD limits")
    best = min(candidates, key=lambda c: c[0])
    plan = best[1]
    if plan.error > tolerance:
        raise ValueError(f"{family} PLL: closest output to {f_out / MHZ:.3f} MHz from "
                         f"{f_in / MHZ:.3f} MHz is {plan.f_out / MHZ:.4f} MHz "
                         f"({plan.error:.2%} off, tolerance {tolerance:.2%})")
    return plan


# --- iCE40 -----------------------------------------------------------------------------
# iCE40 LP/HX/UP datasheets ("sysCLOCK PLL"), as used by icepll.
ICE40_LIMITS = {
    "f_in": (10 * MHZ, 133 * MHZ),
    "f_pfd": (10 * MHZ, 133 * MHZ),
    "f_vco": (533 * MHZ, 1066 * MHZ),
    "f_out": (16 * MHZ, 275 * MHZ),
}


def _ice40_filter_range(f_pfd):
    # PLL loop-filter setting for the phase-detector frequency (icepll's table).
    for limit, value in ((17, 1), (26, 2), (44, 3), (66, 4), (101, 5)):
        if f_pfd < limit * MHZ:
            return value
    return 6


def ice40_pll(f_in, f_out, *, tolerance=0.001):
    """``SB_PLL40`` simple-feedback setting for ``f_out`` from ``f_in`` (both Hz), like
    ``icepll``: ``divr`` 0..15, ``divf`` 0..127, ``divq`` 1..6."""
    _check_freq("f_in", f_in)
    _check_freq("f_out", f_out)
    lim = ICE40_LIMITS
    _check_range("input frequency", f_in, *lim["f_in"])
    _check_range("output frequency", f_out, *lim["f_out"])
    candidates = []
    for divr in range(16):
        f_pfd = f_in / (divr + 1)
        if not lim["f_pfd"][0] <= f_pfd <= lim["f_pfd"][1]:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not lim["f_vco"][0] <= f_vco <= lim["f_vco"][1]:
                continue
            for divq in range(1, 7):
                f = f_vco / (1 << divq)
                if not lim["f_out"][0] <= f <= lim["f_out"][1]:
                    continue
                plan = Ice40PllPlan("ice40", f_in, f, f_out, f_pfd, f_vco, divr=divr,
                                    divf=divf, divq=divq,
                                    filter_range=_ice40_filter_range(f_pfd))
                # closest frequency first, then the lowest reference divider (icepll's order)
                candidates.append(((abs(f - f_out), divr, divf), plan))
    return _pick("iCE40", f_in, f_out, candidates, tolerance)


# --- ECP5 ------------------------------------------------------------------------------
# ECP5 family datasheet (sysCLOCK PLL), as used by ecppll.
ECP5_LIMITS = {
    "f_in": (8 * MHZ, 400 * MHZ),
    "f_pfd": (3.125 * MHZ, 400 * MHZ),
    "f_vco": (400 * MHZ, 800 * MHZ),
    "f_out": (3.125 * MHZ, 400 * MHZ),
}


def ecp5_pll(f_in, f_out, *, tolerance=0.001):
    """``EHXPLLL`` setting for ``f_out`` from ``f_in`` (Hz), like ``ecppll``: ``clki_div``
    1..128, ``clkfb_div`` 1..80, ``clkop_div`` 1..128; among equally close settings the one
    with the VCO nearest 600 MHz wins."""
    _check_freq("f_in", f_in)
    _check_freq("f_out", f_out)
    lim = ECP5_LIMITS
    _check_range("input frequency", f_in, *lim["f_in"])
    _check_range("output frequency", f_out, *lim["f_out"])
    candidates = []
    for clki_div in range(1, 129):
        f_pfd = f_in / clki_div
        if not lim["f_pfd"][0] <= f_pfd <= lim["f_pfd"][1]:
            continue
        for clkfb_div in range(1, 81):
            f = f_pfd * clkfb_div
            if not lim["f_out"][0] <= f <= lim["f_out"][1]:
                continue
            for clkop_div in range(1, 129):
                f_vco = f * clkop_div
                if not lim["f_vco"][0] <= f_vco <= lim["f_vco"][1]:
                    continue
                plan = Ecp5PllPlan("ecp5", f_in, f, f_out, f_pfd, f_vco, clki_div=clki_div,
                                   clkfb_div=clkfb_div, clkop_div=clkop_div)
                candidates.append(((abs(f - f_out), abs(f_vco - 600 * MHZ), clki_div), plan))
    return _pick("ECP5", f_in, f_out, candidates, tolerance)


# --- Gowin -----------------------------------------------------------------------------
# GW1NR-9 C6/I5 (Tang Nano 9K), DS117 "rPLL" limits, as used by apycula's gowin_pll.
GOWIN_LIMITS = {
    "f_in": (3 * MHZ, 400 * MHZ),
    "f_pfd": (3 * MHZ, 400 * MHZ),
    "f_vco": (400 * MHZ, 1200 * MHZ),
    "f_out": (3.125 * MHZ, 600 * MHZ),
}
GOWIN_ODIV = (2, 4, 8, 16, 32, 48, 64, 80, 96, 112, 128)


def gowin_pll(f_in, f_out, *, tolerance=0.001):
    """``rPLL`` setting for ``f_out`` from ``f_in`` (Hz), like ``gowin_pll``: ``idiv_sel`` and
    ``fbdiv_sel`` 0..63, ``odiv_sel`` one of 2, 4, 8, 16, 32, 48 … 128."""
    _check_freq("f_in", f_in)
    _check_freq("f_out", f_out)
    lim = GOWIN_LIMITS
    _check_range("input frequency", f_in, *lim["f_in"])
    _check_range("output frequency", f_out, *lim["f_out"])
    candidates = []
    for idiv in range(64):
        f_pfd = f_in / (idiv + 1)
        if not lim["f_pfd"][0] <= f_pfd <= lim["f_pfd"][1]:
            continue
        for fbdiv in range(64):
            f = f_pfd * (fbdiv + 1)
            if not lim["f_out"][0] <= f <= lim["f_out"][1]:
                continue
            for odiv in GOWIN_ODIV:
                f_vco = f * odiv
                if not lim["f_vco"][0] <= f_vco <= lim["f_vco"][1]:
                    continue
                plan = GowinPllPlan("gowin", f_in, f, f_out, f_pfd, f_vco, idiv_sel=idiv,
                                    fbdiv_sel=fbdiv, odiv_sel=odiv)
                candidates.append(((abs(f - f_out), idiv, fbdiv, odiv), plan))
    return _pick("Gowin", f_in, f_out, candidates, tolerance)


_PLANNERS = {"ice40": ice40_pll, "ecp5": ecp5_pll, "gowin": gowin_pll}


def plan_pll(family, f_in, f_out, *, tolerance=0.001):
    """PLL plan for ``family`` (``"ice40"``, ``"ecp5"``, ``"gowin"``)."""
    try:
        planner = _PLANNERS[family]
    except KeyError:
        raise ValueError(f"no PLL planner for FPGA family {family!r}; known: "
                         f"{', '.join(sorted(_PLANNERS))}") from None
    return planner(f_in, f_out, tolerance=tolerance)


# --- hardware --------------------------------------------------------------------------
class ClockGen(Elaboratable):
    """Drives a clock domain (``sync``) at the board's core clock.

    The top level defines the domain (``m.domains.sync = ClockDomain()``) and adds a
    ``ClockGen``; the ``ClockGen`` drives the domain's clock from the PLL and its reset
    from a reset synchroniser, so the domain comes out of reset ``reset_stages`` clocks
    after the PLL has locked and ``ext_reset`` is low.

    Parameters
    ----------
    plan : PllPlan
        From ``plan_pll`` (usually ``Board.pll``).
    clk_resource : str
        Name of the board oscillator resource (``Board.clock_resource``).
    sim : bool
        Simulation variant: no PLL and no pin; the domain is clocked by the simulator
        (Amaranth ``sim.add_clock`` or the Verilator harness driving the ``clk`` port) and
        ``locked`` is constant 1. The reset synchroniser stays.
    device : str
        Device name some primitives want as a parameter (Gowin ``rPLL`` ``DEVICE``).
    domain : str
        The domain to drive.
    reset_stages : int
        Flip-flops of the reset synchroniser.

    Attributes
    ----------
    ext_reset : Signal, in
        Asynchronous reset request (e.g. a button); the reset is released synchronously.
    locked : Signal, out
        PLL lock (1 in simulation).
    """

    def __init__(self, plan, clk_resource=None, *, sim=False, device=None, domain="sync",
                 reset_stages=2):
        if not isinstance(plan, PllPlan) or (not sim and clk_resource is None):
            self._MustUse__silence = True      # never elaborated: no "unused" warning
            if not isinstance(plan, PllPlan):
                raise TypeError(f"plan must be a PllPlan, not {plan!r}")
            raise TypeError("clk_resource is required unless sim=True")
        self.plan = plan
        self.clk_resource = clk_resource
        self.sim = sim
        self.device = device
        self.domain = domain
        self.reset_stages = reset_stages
        self.ext_reset = Signal()
        self.locked = Signal()

    def elaborate(self, platform):
        m = Module()
        if self.sim:
            m.d.comb += self.locked.eq(1)
        else:
            if platform is None:
                raise ValueError("ClockGen(sim=False) needs a platform; use sim=True to "
                                 "simulate")
            pll_clk = Signal()
            getattr(self, f"_pll_{self.plan.family}")(m, platform, pll_clk)
            m.d.comb += ClockSignal(self.domain).eq(pll_clk)
            platform.add_clock_constraint(pll_clk, self.plan.f_out)
        m.submodules.reset_sync = cdc.ResetSynchronizer(
            ~self.locked | self.ext_reset, domain=self.domain, stages=self.reset_stages)
        return m

    def _pll_ice40(self, m, platform, clk_out):
        # The iCEBreaker's 12 MHz oscillator drives pin 35 (IOT_46b_G0), the pad of the
        # UP5K's PLL: the PLL must take it directly (SB_PLL40_PAD), not through an SB_IO.
        pad = platform.request(self.clk_resource, dir="-")
        p = self.plan
        m.submodules.pll = Instance(
            "SB_PLL40_PAD",
            p_FEEDBACK_PATH="SIMPLE",
            p_DIVR=Const(p.divr, 4),
            p_DIVF=Const(p.divf, 7),
            p_DIVQ=Const(p.divq, 3),
            p_FILTER_RANGE=Const(p.filter_range, 3),
            io_PACKAGEPIN=pad.io,
            i_RESETB=Const(1),
            i_BYPASS=Const(0),
            o_PLLOUTGLOBAL=clk_out,
            o_LOCK=self.locked,
        )

    def _pll_ecp5(self, m, platform, clk_out):
        m.submodules.clk_buf = clk_buf = io.Buffer(
            "i", platform.request(self.clk_resource, dir="-"))
        clk_in = clk_buf.i
        p = self.plan
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{p.f_in / MHZ:g}",
            a_FREQUENCY_PIN_CLKOP=f"{p.f_out / MHZ:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
            a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED",
            p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=p.clki_div,
            p_CLKOP_ENABLE="ENABLED",
            p_CLKOP_DIV=p.clkop_div,
            p_CLKOP_CPHASE=p.clkop_cphase,
            p_CLKOP_FPHASE=0,
            p_FEEDBK_PATH="CLKOP",
            p_CLKFB_DIV=p.clkfb_div,
            i_RST=Const(0), i_STDBY=Const(0),
            i_CLKI=clk_in,
            o_CLKOP=clk_out,
            i_CLKFB=clk_out,
            i_PHASESEL0=Const(0), i_PHASESEL1=Const(0), i_PHASEDIR=Const(1),
            i_PHASESTEP=Const(1), i_PHASELOADREG=Const(1),
            i_PLLWAKESYNC=Const(0), i_ENCLKOP=Const(0),
            o_LOCK=self.locked,
        )

    def _pll_gowin(self, m, platform, clk_out):
        if self.device is None:
            raise ValueError("the Gowin rPLL needs the device name (ClockGen(device=...))")
        m.submodules.clk_buf = clk_buf = io.Buffer(
            "i", platform.request(self.clk_resource, dir="-"))
        clk_in = clk_buf.i
        p = self.plan
        m.submodules.pll = Instance(
            "rPLL",
            p_FCLKIN=f"{p.f_in / MHZ:g}",
            p_DEVICE=self.device,
            p_DYN_IDIV_SEL="false", p_IDIV_SEL=p.idiv_sel,
            p_DYN_FBDIV_SEL="false", p_FBDIV_SEL=p.fbdiv_sel,
            p_DYN_ODIV_SEL="false", p_ODIV_SEL=p.odiv_sel,
            p_CLKFB_SEL="internal",
            i_CLKIN=clk_in,
            i_CLKFB=Const(0),
            i_RESET=Const(0), i_RESET_P=Const(0),
            i_FBDSEL=Const(0, 6), i_IDSEL=Const(0, 6), i_ODSEL=Const(0, 6),
            i_PSDA=Const(0, 4), i_DUTYDA=Const(0, 4), i_FDLY=Const(0, 4),
            o_CLKOUT=clk_out,
            o_LOCK=self.locked,
        )
