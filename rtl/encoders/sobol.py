"""Sobol (Gray-code order, Joe–Kuo direction numbers) and van der Corput sources.

Golden twin: ``neurofab.golden.encoders.sobol``; direction numbers:
``neurofab.spec.encoders.sobol_directions``.
"""

from amaranth import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import Out

from neurofab.spec import encoders as S
from ..util import checked_init

__all__ = ["Sobol", "VanDerCorput", "sobol_next"]


def sobol_next(m, x, n, directions):
    """Drive ``x_next`` = the point after ``x`` (index ``n``): ``x ^ v[c]``, ``c`` = lowest
    zero bit of ``n`` (``bits - 1`` when ``n`` is all ones: the counter wraps to 0)."""
    bits = len(directions)
    x_next = Signal(bits)
    m.d.comb += x_next.eq(x ^ directions[bits - 1])      # n all ones (or bits == 1)
    for k in reversed(range(bits - 1)):                  # lowest zero bit wins: last assignment
        with m.If(n[k] == 0):
            m.d.comb += x_next.eq(x ^ directions[k])
    return x_next


class Sobol(wiring.Component):
    """One dimension of the Sobol sequence, one point per transfer, starting at point 0.

    Parameters
    ----------
    dim : int
        Joe–Kuo dimension, 1-based (``1 .. spec.SOBOL_MAX_DIM``); 1 is van der Corput.
    bits : int
        Output width (1..32, default 16); the index counter has the same width, so the
        sequence repeats every ``2**bits`` points.

    Ports
    -----
    o_data : Out(stream.Signature(unsigned(bits)))
        Always valid; advances only on a transfer. Transaction ``k`` equals
        ``golden.encoders.sobol_sequence(k + 1, dim, bits)[k]``.

    Attributes
    ----------
    index, value : Signal(bits)
        Point counter and current point (architectural state).
    """

    @checked_init
    def __init__(self, dim=1, bits=S.SOBOL_DEFAULT_BITS):
        dim = S.check_sobol_dim(dim)
        bits = S.check_sobol_bits(bits)
        self.dim, self.bits = dim, bits
        self.directions = S.sobol_directions(dim, bits)
        super().__init__({"o_data": Out(stream.Signature(unsigned(bits)))})
        self.index = Signal(bits)
        self.value = Signal(bits)

    def elaborate(self, platform):
        m = Module()
        x_next = sobol_next(m, self.value, self.index, self.directions)
        m.d.comb += [
            self.o_data.valid.eq(1),
            self.o_data.payload.eq(self.value),
        ]
        with m.If(self.o_data.ready):
            m.d.sync += [
                self.index.eq(self.index + 1),
                self.value.eq(x_next),
            ]
        return m


class VanDerCorput(wiring.Component):
    """Van der Corput base 2 (Halton base 2): a bit-reversed counter.

    Parameters
    ----------
    bits : int
        Output width (1..32, default 16); period ``2**bits``.

    Ports
    -----
    o_data : Out(stream.Signature(unsigned(bits)))
        Always valid; transaction ``k`` is ``bit_reverse(k mod 2**bits)``
        (``golden.encoders.vdc_sequence``).

    Attributes
    ----------
    index : Signal(bits)
        The counter (architectural state).
    """

    @checked_init
    def __init__(self, bits=S.SOBOL_DEFAULT_BITS):
        bits = S.check_vdc_bits(bits)
        self.bits = bits
        super().__init__({"o_data": Out(stream.Signature(unsigned(bits)))})
        self.index = Signal(bits)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [
            self.o_data.valid.eq(1),
            self.o_data.payload.eq(self.index[::-1]),
        ]
        with m.If(self.o_data.ready):
            m.d.sync += self.index.eq(self.index + 1)
        return m
