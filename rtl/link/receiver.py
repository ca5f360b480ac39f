"""The receive side of the link controller: decoded bytes into the frame buffer."""

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from neurofab import spec
from neurofab.checks import check_int
from neurofab.rtl.util import checked_init
from neurofab.spec import FrameStatus, Opcode

__all__ = ["Receiver"]


class Receiver(wiring.Component):
    """Takes a decoded frame into the frame buffer and registers what its link checks need.

    While ``i_enable``, bytes from ``i_frame`` are written to buffer addresses 0, 1, ...
    (at most ``max_body`` of them; more set the oversize flag) and copied to ``o_crc``; the
    first two are also kept as ``o_opcode`` and ``o_seq``. The end token is taken with
    ``o_done`` high; from the next clock on, the flags of protocol section 3.4 are stable
    (all registers or functions of registers): ``o_oversize``, ``o_framing``,
    ``o_crc_ok``, ``o_known``. ``i_clear`` then readies the receiver for the next frame.
    An empty frame (an end token alone) reports opcode 0 and seq 0.

    Parameters
    ----------
    max_body : int
        Longest body stored (opcode, seq, payload, CRC), at least ``spec.MIN_BODY``.

    Attributes
    ----------
    i_frame : In(stream.Signature(spec.DecodedByte))
        Decoded bytes and end tokens, from ``CobsDecoder``; ready only while ``i_enable``.
    i_enable : In(1)
        Take bytes (the controller waits for a frame).
    i_clear : In(1)
        Forget the frame's length and oversize flag (after its checks).
    o_write_addr : Out(range(max_body + 1))
        Buffer address of the byte taken (the body bytes received so far).
    o_write_data : Out(8)
        The byte taken.
    o_write_en : Out(1)
        Store ``o_write_data`` at ``o_write_addr``.
    o_crc : Out(stream.Signature(spec.CrcByte, always_ready=True))
        Every byte taken, ``first`` on the opcode, to a ``Crc16``.
    i_crc_residue : In(1)
        The ``Crc16`` 's ``o_residue`` (registered here).
    o_done : Out(1)
        The end token is taken in this clock.
    o_opcode, o_seq : Out(8)
        The frame's first and second byte (0 if it had none).
    o_payload_end : Out(range(max_body + 1))
        Buffer address after the payload (body length minus the CRC).
    o_oversize : Out(1)
        More than ``max_body`` bytes, or the decoder's status was ``OVERSIZE``.
    o_framing : Out(1)
        The decoder's status was not ``OK``, or the body is shorter than ``spec.MIN_BODY``.
    o_crc_ok : Out(1)
        The body ends in its correct CRC.
    o_known : Out(1)
        The frame's opcode byte is an ``Opcode`` (meaningless for an empty frame, which is
        a runt).
    """

    @checked_init
    def __init__(self, *, max_body):
        self.max_body = check_int("max_body", max_body, spec.MIN_BODY, spec.MAX_BODY)
        super().__init__({
            "i_frame": In(stream.Signature(spec.DecodedByte)),
            "i_enable": In(1),
            "i_clear": In(1),
            "o_write_addr": Out(range(max_body + 1)),
            "o_write_data": Out(8),
            "o_write_en": Out(1),
            "o_crc": Out(stream.Signature(spec.CrcByte, always_ready=True)),
            "i_crc_residue": In(1),
            "o_done": Out(1),
            "o_opcode": Out(8),
            "o_seq": Out(8),
            "o_payload_end": Out(range(max_body + 1)),
            "o_oversize": Out(1),
            "o_framing": Out(1),
            "o_crc_ok": Out(1),
            "o_known": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        frame = self.i_frame
        length = Signal(range(self.max_body + 1))      # body bytes stored
        overflow = Signal()                             # more than max_body bytes arrived
        status = Signal(FrameStatus)
        runt = Signal()
        # (registered in the clock after the last byte or later: stable after o_done)
        m.d.sync += [self.o_known.eq(Cat(self.o_opcode == op.value for op in Opcode).any()),
                     self.o_crc_ok.eq(self.i_crc_residue),
                     runt.eq(length < spec.MIN_BODY)]
        m.d.comb += [self.o_oversize.eq(overflow | (status == FrameStatus.OVERSIZE)),
                     self.o_framing.eq((status != FrameStatus.OK) | runt)]

        byte = frame.payload.data
        take = Signal()
        m.d.comb += [frame.ready.eq(self.i_enable),
                     take.eq(self.i_enable & frame.valid & ~frame.payload.end),
                     self.o_done.eq(self.i_enable & frame.valid & frame.payload.end),
                     self.o_crc.valid.eq(take), self.o_crc.payload.data.eq(byte),
                     self.o_crc.payload.first.eq(length == 0),
                     self.o_write_addr.eq(length), self.o_write_data.eq(byte)]
        # (everything under one i_enable: the registers' clock enable)
        with m.If(self.i_enable):
            with m.If(frame.valid & ~frame.payload.end):
                with m.If(length == self.max_body):
                    m.d.sync += overflow.eq(1)
                with m.Else():
                    m.d.comb += self.o_write_en.eq(1)
                    m.d.sync += length.eq(length + 1)
                with m.If(length == 0):
                    m.d.sync += [self.o_opcode.eq(byte), self.o_seq.eq(0)]
                with m.If(length == 1):
                    m.d.sync += self.o_seq.eq(byte)
            with m.If(frame.valid & frame.payload.end):
                m.d.sync += [self.o_payload_end.eq(length - spec.CRC_BYTES),
                             status.eq(frame.payload.status)]
                with m.If(length == 0):         # no body: the NAK says opcode 0, seq 0
                    m.d.sync += [self.o_opcode.eq(0), self.o_seq.eq(0)]
        with m.If(self.i_clear):
            m.d.sync += [length.eq(0), overflow.eq(0)]
        return m
