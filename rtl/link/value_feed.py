"""The link's step events as the values of an on-chip spike encoder."""

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from neurofab import spec
from neurofab.checks import check_int
from neurofab.rtl.util import checked_init

__all__ = ["ValueFeed"]


class ValueFeed(wiring.Component):
    """Turns the link's steps (``InputEvent``: indices, then ``eos``) into exactly
    ``channels`` values per step for a spike encoder's ``i_value``.

    On an encoder board INJECT carries values instead of channel numbers: the ``k``-th
    index of a step is the value of encoder channel ``k``. A step with fewer values is
    completed with zeros at its ``eos`` (a step RUN without injected values encodes all
    zeros); values beyond ``channels`` are dropped. The encoder then always sees whole
    steps, whatever the host sent.

    Parameters
    ----------
    channels : int
        Values per step (the encoder's ``channels``).
    width : int
        Value bits (the encoder's ``width``).

    Attributes
    ----------
    i_events : In(stream.Signature(spec.InputEvent))
        From the link (``channel`` carries the value).
    o_value : Out(stream.Signature(unsigned(width)))
        To the encoder's ``i_value``.
    i_flush : In(1)
        Start over at channel 0 (RESET).
    """

    @checked_init
    def __init__(self, channels, width):
        self.channels = check_int("channels", channels, 1, spec.MAX_INPUTS)
        self.width = check_int("width", width, spec.ENC_MIN_WIDTH, spec.ENC_MAX_WIDTH)
        super().__init__({"i_events": In(stream.Signature(spec.InputEvent)),
                          "o_value": Out(stream.Signature(unsigned(width))),
                          "i_flush": In(1)})

    def elaborate(self, platform):
        m = Module()
        i, o = self.i_events, self.o_value
        count = Signal(range(self.channels + 1))     # values given in this step
        full = count == self.channels
        with m.If(~i.payload.eos):
            m.d.comb += [o.payload.eq(i.payload.channel), o.valid.eq(i.valid & ~full),
                         i.ready.eq(full | o.ready)]
            with m.If(i.valid & ~full & o.ready):
                m.d.sync += count.eq(count + 1)
        with m.Else():                                # pad with zeros, then take the eos
            m.d.comb += [o.valid.eq(i.valid & ~full), i.ready.eq(full)]
            with m.If(i.valid & ~full & o.ready):
                m.d.sync += count.eq(count + 1)
            with m.If(i.valid & full):
                m.d.sync += count.eq(0)
        with m.If(self.i_flush):
            m.d.sync += count.eq(0)
        return m
