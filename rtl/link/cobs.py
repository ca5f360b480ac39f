"""COBS framing: ``CobsDecoder`` and ``CobsEncoder``, byte-identical with
``neurofab.golden.link.cobs``."""

from amaranth import *
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from neurofab import spec
from neurofab.checks import check_int
from neurofab.rtl.util import checked_init
from neurofab.spec import FrameStatus

__all__ = ["CobsDecoder", "CobsEncoder"]

_MAX = spec.COBS_MAX_BLOCK


class CobsDecoder(wiring.Component):
    """COBS decoder: encoded bytes with ``0x00`` delimiters in, decoded frame bytes out.

    Every input byte produces at most one output token, so the decoder runs at one byte
    per clock with a registered output (``i_stream.ready = ~o_stream.valid |
    o_stream.ready``). Tokens (``spec.DecodedByte``), exactly those of the golden
    ``CobsDecoder``:

    * ``end = 0``: a decoded byte in ``data``, emitted as soon as it is known;
    * ``end = 1``: the frame's delimiter arrived; ``status`` is ``OK``, ``COBS`` (the
      delimiter cut a block short: malformed) or ``OVERSIZE`` (the frame would decode to
      more than ``max_frame`` bytes; only the first ``max_frame`` were emitted).

    Empty frames (delimiter after delimiter) produce no token, so a sender may send
    extra delimiters to resynchronise. Any byte sequence decodes to some tokens: garbage
    never stalls the decoder.

    Parameters
    ----------
    max_frame : int
        Most decoded bytes per frame (default ``spec.MAX_BODY``).

    Attributes
    ----------
    i_stream : In(stream.Signature(8))
        Encoded bytes.
    o_stream : Out(stream.Signature(spec.DecodedByte))
        Decoded bytes and end-of-frame tokens.
    """

    @checked_init
    def __init__(self, *, max_frame=spec.MAX_BODY):
        self.max_frame = check_int("max_frame", max_frame, 1, None)
        super().__init__({
            "i_stream": In(stream.Signature(8)),
            "o_stream": Out(stream.Signature(spec.DecodedByte)),
        })

    def elaborate(self, platform):
        m = Module()
        i, o = self.i_stream, self.o_stream
        in_frame = Signal()
        count = Signal(8)              # data bytes left in the current block
        zero_pending = Signal()        # current block's code was < 0xFF: a zero follows
        length = Signal(range(self.max_frame + 1))
        oversize = Signal()

        take = Signal()
        m.d.comb += [i.ready.eq(~o.valid | o.ready), take.eq(i.valid & i.ready)]
        with m.If(o.valid & o.ready):
            m.d.sync += o.valid.eq(0)

        def emit_data(value):
            with m.If(length == self.max_frame):
                m.d.sync += oversize.eq(1)
            with m.Else():
                m.d.sync += [
                    o.valid.eq(1),
                    o.payload.data.eq(value),
                    o.payload.end.eq(0),
                    o.payload.status.eq(FrameStatus.OK),
                    length.eq(length + 1),
                ]

        with m.If(take):
            with m.If(i.payload == 0):
                with m.If(in_frame):
                    m.d.sync += [
                        o.valid.eq(1),
                        o.payload.data.eq(0),
                        o.payload.end.eq(1),
                    ]
                    with m.If(oversize):
                        m.d.sync += o.payload.status.eq(FrameStatus.OVERSIZE)
                    with m.Elif(count != 0):
                        m.d.sync += o.payload.status.eq(FrameStatus.COBS)
                    with m.Else():
                        m.d.sync += o.payload.status.eq(FrameStatus.OK)
                m.d.sync += [in_frame.eq(0), count.eq(0), zero_pending.eq(0), length.eq(0),
                             oversize.eq(0)]
            with m.Elif(count == 0):
                m.d.sync += [
                    in_frame.eq(1),
                    count.eq(i.payload - 1),
                    zero_pending.eq(i.payload != _MAX + 1),
                ]
                with m.If(zero_pending):
                    emit_data(0)
            with m.Else():
                m.d.sync += count.eq(count - 1)
                emit_data(i.payload)
        return m


class CobsEncoder(wiring.Component):
    """COBS encoder: frame bytes in (``last`` on each frame's final byte), encoded bytes
    and a ``0x00`` delimiter out — ``golden.link.cobs.encode_frames``, byte for byte
    (minimal form: no trailing ``01`` after a frame that ends with a full block).

    A COBS block's code byte (its length) precedes its data, so each block (up to 254
    non-zero bytes) is collected in a 254-byte buffer, then its code and data are sent.
    Input and output alternate per block: about two cycles per byte, far above any
    UART's rate.

    Attributes
    ----------
    i_stream : In(stream.Signature(spec.FrameByte))
        Frame bytes; a frame is at least one byte long.
    o_stream : Out(stream.Signature(8))
        Encoded bytes, each frame followed by ``spec.FRAME_DELIMITER``; ``valid`` and
        ``payload`` are registers.
    """

    i_stream: In(stream.Signature(spec.FrameByte))
    o_stream: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        i = self.i_stream
        # o_stream is an output register (a block-RAM read reaches no logic outside):
        # the FSM offers its bytes on ``o`` and the register takes them whenever it is
        # empty or being emptied, so bytes still flow at one per clock.
        o = stream.Signature(8).create()
        out = self.o_stream
        m.d.comb += o.ready.eq(~out.valid | out.ready)
        with m.If(o.valid & o.ready):
            m.d.sync += [out.valid.eq(1), out.payload.eq(o.payload)]
        with m.Elif(out.ready):
            m.d.sync += out.valid.eq(0)
        m.submodules.buf = buf = memory.Memory(shape=8, depth=_MAX, init=[])
        wr = buf.write_port()
        rd = buf.read_port(domain="sync")

        fill = Signal(range(_MAX + 1))     # bytes collected in the current block
        blen = Signal(range(_MAX + 1))     # length of the block being sent
        code = Signal(8)
        ptr = Signal(range(_MAX))          # next buffered byte to send; 0 outside DATA
        # what follows the block being sent: more input, the delimiter, or (the frame
        # ended with a zero byte) one more empty block and then the delimiter
        tail = Signal(2)
        NONE, DELIM, EXTRA = 0, 1, 2

        advance = Signal()
        m.d.comb += rd.addr.eq(Mux(advance, ptr + 1, ptr))

        def after_block():
            with m.Switch(tail):
                with m.Case(EXTRA):
                    m.d.sync += [code.eq(1), blen.eq(0), tail.eq(DELIM)]
                    m.next = "CODE"
                with m.Case(DELIM):
                    m.next = "DELIM"
                with m.Default():
                    m.next = "FILL"

        with m.FSM():
            with m.State("FILL"):
                m.d.comb += i.ready.eq(1)
                nonzero = i.payload.data != 0
                filled = fill + nonzero
                m.d.comb += [wr.addr.eq(fill), wr.data.eq(i.payload.data)]
                with m.If(i.valid):
                    m.d.comb += wr.en.eq(nonzero)
                    with m.If(~nonzero | (filled == _MAX) | i.payload.last):
                        m.d.sync += [code.eq(filled + 1), blen.eq(filled), fill.eq(0)]
                        with m.If(~i.payload.last):
                            m.d.sync += tail.eq(NONE)
                        with m.Elif(nonzero):
                            m.d.sync += tail.eq(DELIM)
                        with m.Else():
                            m.d.sync += tail.eq(EXTRA)
                        m.next = "CODE"
                    with m.Else():
                        m.d.sync += fill.eq(filled)
            with m.State("CODE"):
                m.d.comb += [o.valid.eq(1), o.payload.eq(code)]
                with m.If(o.ready):
                    with m.If(blen != 0):
                        m.next = "DATA"
                    with m.Else():
                        after_block()
            with m.State("DATA"):
                m.d.comb += [o.valid.eq(1), o.payload.eq(rd.data), advance.eq(o.ready)]
                with m.If(o.ready):
                    with m.If(ptr + 1 == blen):
                        m.d.sync += ptr.eq(0)
                        m.d.comb += advance.eq(0)
                        after_block()
                    with m.Else():
                        m.d.sync += ptr.eq(ptr + 1)
            with m.State("DELIM"):
                m.d.comb += [o.valid.eq(1), o.payload.eq(spec.FRAME_DELIMITER)]
                with m.If(o.ready):
                    m.next = "FILL"
        return m
