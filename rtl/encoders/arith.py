"""Stochastic-computing arithmetic, one bit per lane per clock, any number of lanes.

Every operator is a join: one output transaction per transaction of each input stream
(payload ``unsigned(lanes)``, bit ``l`` = lane ``l``). Golden twin and definitions:
``neurofab.golden.encoders.arith``.
"""

from amaranth import Array, Cat, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from neurofab.spec import encoders as S
from ..util import checked_init
from ._util import join

__all__ = ["ScAnd", "ScOr", "ScXnor", "ScMux", "ScCordiv", "ScTanh"]


def _bits(lanes):
    return stream.Signature(unsigned(lanes))


class _Binary(wiring.Component):
    """Ports: ``i_a``, ``i_b``: In(stream.Signature(unsigned(lanes))); ``o_bits``: Out(same)."""

    @checked_init
    def __init__(self, lanes=1):
        self.lanes = lanes = S.check_lanes(lanes)
        super().__init__({"i_a": In(_bits(lanes)), "i_b": In(_bits(lanes)),
                          "o_bits": Out(_bits(lanes))})

    def _op(self, a, b):
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        join(m, [self.i_a, self.i_b], self.o_bits)
        m.d.comb += self.o_bits.payload.eq(self._op(self.i_a.payload, self.i_b.payload))
        return m


class ScAnd(_Binary):
    """Unipolar multiply: ``o = a & b``."""

    def _op(self, a, b):
        return a & b


class ScOr(_Binary):
    """``o = a | b``."""

    def _op(self, a, b):
        return a | b


class ScXnor(_Binary):
    """Bipolar multiply: ``o = ~(a ^ b)``."""

    def _op(self, a, b):
        return ~(a ^ b)


class ScMux(wiring.Component):
    """Scaled add: ``o = sel ? b : a`` per lane (``sel`` = 1/2 gives ``(a + b) / 2``).

    ``i_sel`` must be driven from its own source (e.g. an ``SngBank`` at value
    ``2**(w-1)`` seeded apart from the operands' sources).

    Ports: ``i_a``, ``i_b``, ``i_sel``: In(stream.Signature(unsigned(lanes)));
    ``o_bits``: Out(same).
    """

    @checked_init
    def __init__(self, lanes=1):
        self.lanes = lanes = S.check_lanes(lanes)
        super().__init__({"i_a": In(_bits(lanes)), "i_b": In(_bits(lanes)),
                          "i_sel": In(_bits(lanes)), "o_bits": Out(_bits(lanes))})

    def elaborate(self, platform):
        m = Module()
        join(m, [self.i_a, self.i_b, self.i_sel], self.o_bits)
        sel = self.i_sel.payload
        m.d.comb += self.o_bits.payload.eq((self.i_b.payload & sel) | (self.i_a.payload & ~sel))
        return m


class ScCordiv(wiring.Component):
    """CORDIV divider: ``o = b ? a : q`` with ``q`` the previous output (one flip-flop per
    lane, ``init`` after reset). Estimates ``P(a) / P(b)`` for correlated ``a <= b``.

    Ports: ``i_a`` (dividend), ``i_b`` (divisor): In(stream.Signature(unsigned(lanes)));
    ``o_bits``: Out(same). Attribute ``state``: Signal(lanes), the flip-flops.
    """

    @checked_init
    def __init__(self, lanes=1, *, init=0):
        self.lanes = lanes = S.check_lanes(lanes)
        if init not in (0, 1):
            raise ValueError(f"CORDIV init = {init!r} must be 0 or 1")
        super().__init__({"i_a": In(_bits(lanes)), "i_b": In(_bits(lanes)),
                          "o_bits": Out(_bits(lanes))})
        self.state = Signal(lanes, init=(1 << lanes) - 1 if init else 0)

    def elaborate(self, platform):
        m = Module()
        transfer = join(m, [self.i_a, self.i_b], self.o_bits)
        b = self.i_b.payload
        z = (self.i_a.payload & b) | (self.state & ~b)
        m.d.comb += self.o_bits.payload.eq(z)
        with m.If(transfer):
            m.d.sync += self.state.eq(z)
        return m


class ScTanh(wiring.Component):
    """Brown & Card stochastic tanh: per lane a saturating up/down counter over ``states``
    (K, even) states, starting at K/2; ``o = (s >= K/2)`` from the state before the input
    bit, then ``s`` moves up on 1, down on 0. ``Stanh(K, x) ≈ tanh(K x / 2)`` (bipolar).

    Ports: ``i_bits``: In(stream.Signature(unsigned(lanes))); ``o_bits``: Out(same).
    Attribute ``state``: list of per-lane counters (``ceil_log2(K)`` bits).
    """

    @checked_init
    def __init__(self, lanes=1, states=8):
        self.lanes = lanes = S.check_lanes(lanes)
        self.states = states = S.check_tanh_states(states)
        super().__init__({"i_bits": In(_bits(lanes)), "o_bits": Out(_bits(lanes))})
        self.state = [Signal(range(states), init=states // 2, name=f"state{l}")
                      for l in range(lanes)]

    def elaborate(self, platform):
        m = Module()
        transfer = join(m, [self.i_bits], self.o_bits)
        half, top = self.states // 2, self.states - 1
        m.d.comb += self.o_bits.payload.eq(Cat(s >= half for s in self.state))
        with m.If(transfer):
            for l, s in enumerate(self.state):
                x = self.i_bits.payload[l]
                m.d.sync += s.eq(Mux(x, Mux(s == top, s, s + 1), Mux(s == 0, s, s - 1)))
        return m
