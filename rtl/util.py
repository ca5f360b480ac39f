"""Helpers shared by the RTL components (not a block: no golden twin)."""

import functools

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["checked_init", "SkidBuffer"]


def checked_init(init):
    """Decorator for a component ``__init__`` that validates its parameters: an object
    whose construction raised is never elaborated, so Amaranth's "created but never used"
    warning is silenced for it (the raised error is the message)."""

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        try:
            init(self, *args, **kwargs)
        except Exception:
            self._MustUse__silence = True
            raise
    return wrapper


class SkidBuffer(wiring.Component):
    """A stream register slice: ``o_stream`` comes from registers and ``i_stream.ready``
    is a register, so no combinational path crosses it in either direction (a sink's
    ``ready`` reaches register enables only). One transfer per clock; one clock of
    latency; holds up to two payloads.

    Parameters
    ----------
    shape : shape-like
        The payload.

    Attributes
    ----------
    i_stream : In(stream.Signature(shape))
    o_stream : Out(stream.Signature(shape))
    """

    def __init__(self, shape):
        self.shape = shape
        super().__init__({"i_stream": In(stream.Signature(shape)),
                          "o_stream": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        i, o = self.i_stream, self.o_stream
        spare = Signal.like(i.payload)             # taken while the output was stalled
        spare_valid = Signal()
        m.d.comb += i.ready.eq(~spare_valid)
        with m.If(o.ready | ~o.valid):
            with m.If(spare_valid):
                m.d.sync += [o.payload.eq(spare), o.valid.eq(1), spare_valid.eq(0)]
            with m.Else():
                m.d.sync += [o.payload.eq(i.payload), o.valid.eq(i.valid)]
        with m.Elif(i.valid & ~spare_valid):
            m.d.sync += [spare.eq(i.payload), spare_valid.eq(1)]
        return m
