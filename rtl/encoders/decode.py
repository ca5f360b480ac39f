"""Stream decoders: per-lane ones counters over fixed windows.

Golden twin: ``neurofab.golden.encoders.decode``.
"""

from amaranth import Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from neurofab.spec import encoders as S
from ..util import checked_init

__all__ = ["ScCounter"]


class ScCounter(wiring.Component):
    """Counts the ones of each lane over consecutive windows of ``length`` input bits.

    Ports
    -----
    i_bits : In(stream.Signature(unsigned(lanes)))
    o_count : Out(stream.Signature(data.ArrayLayout(unsigned(count_width), lanes)))
        One transaction per complete window (``count_width = length.bit_length()``);
        registered, so the next window's first bit is accepted in the same clock as the
        count is offered.

    Attributes: ``acc`` (list of per-lane partial counts), ``phase`` (bits seen in the
    current window).
    """

    @checked_init
    def __init__(self, lanes=1, length=256):
        self.lanes = lanes = S.check_lanes(lanes)
        self.length = length = S.check_decode_length(length)
        self.count_width = length.bit_length()
        super().__init__({
            "i_bits": In(stream.Signature(unsigned(lanes))),
            "o_count": Out(stream.Signature(data.ArrayLayout(unsigned(self.count_width), lanes))),
        })
        self.acc = [Signal(self.count_width, name=f"acc{l}") for l in range(lanes)]
        self.phase = Signal(range(length))

    def elaborate(self, platform):
        m = Module()
        o, i = self.o_count, self.i_bits
        free = ~o.valid | o.ready
        m.d.comb += i.ready.eq(free)
        with m.If(o.valid & o.ready):
            m.d.sync += o.valid.eq(0)
        with m.If(i.valid & i.ready):
            last = self.phase == self.length - 1
            with m.If(last):
                m.d.sync += [self.phase.eq(0), o.valid.eq(1)]
                for l, acc in enumerate(self.acc):
                    m.d.sync += [o.payload[l].eq(acc + i.payload[l]), acc.eq(0)]
            with m.Else():
                m.d.sync += self.phase.eq(self.phase + 1)
                for l, acc in enumerate(self.acc):
                    m.d.sync += acc.eq(acc + i.payload[l])
        return m
