"""Galois LFSR (maximal length, width 4..32) on an output stream.

Golden twin: ``neurofab.golden.encoders.lfsr``. Convention and tap table:
``neurofab.spec.encoders``.
"""

from amaranth import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import Out

from neurofab.spec import encoders as S
from ..util import checked_init
from ._util import lfsr_next

__all__ = ["Lfsr"]


class Lfsr(wiring.Component):
    """Galois LFSR emitting its state, one value per transfer.

    Parameters
    ----------
    width : int
        Register width, ``LFSR_MIN_WIDTH .. LFSR_MAX_WIDTH`` (4..32).
    seed : int
        Initial state, ``1 .. 2**width - 1`` (zero is the lock-up state: ValueError).
    poly : int, optional
        Feedback polynomial override (bit i = coefficient of x**i, degree ``width``,
        must be primitive); default ``spec.LFSR_POLY[width]``.
    leap : int
        Clocks of the sequence per transfer (default 1). ``leap = width`` (or
        ``spec.default_leap(width)``) makes successive outputs share no shifted bits;
        it must be coprime with ``2**width - 1`` (full period kept).

    Ports
    -----
    o_data : Out(stream.Signature(unsigned(width)))
        Always valid; payload = current state. The register advances only on a transfer,
        so transaction ``k`` is ``golden.encoders.lfsr_sequence(width, seed, k + 1, leap=leap)[k]``,
        the state after ``k * leap`` clocks.

    Attributes
    ----------
    state : Signal(width)
        The register (architectural state).
    """

    @checked_init
    def __init__(self, width=16, seed=1, *, poly=None, leap=1):
        width = S.check_lfsr_width(width)
        seed = S.check_lfsr_seed(width, seed)
        self.width = width
        self.seed = seed
        self.poly = S.lfsr_poly(width, poly)
        self.leap = S.check_lfsr_leap(width, leap)
        super().__init__({"o_data": Out(stream.Signature(unsigned(width)))})
        self.state = Signal(width, init=seed)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [
            self.o_data.valid.eq(1),
            self.o_data.payload.eq(self.state),
        ]
        with m.If(self.o_data.ready):
            m.d.sync += self.state.eq(lfsr_next(self.state, self.width, self.poly, self.leap))
        return m
