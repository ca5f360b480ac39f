"""The send side of the link controller: a reply or NAK frame body out, CRC appended."""

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from neurofab import spec
from neurofab.checks import check_int
from neurofab.rtl.util import checked_init

__all__ = ["Sender"]

#: Payload bytes of a NAK: reason, opcode.
_NAK_BYTES = spec.NakPayload.size // 8


class Sender(wiring.Component):
    """Sends one frame body per ``i_start``: opcode, seq, payload, CRC-16.

    The opcode byte is ``spec.NAK_OPCODE`` for a NAK (``i_nak``; payload ``i_reason``,
    ``i_nak_opcode``), else ``i_opcode | spec.REPLY_FLAG`` followed by ``i_length`` payload
    bytes taken from the frame buffer's registered output (``i_byte`` while
    ``i_byte_valid``, one per ``o_byte_take``). Every byte but the CRC goes to ``o_crc``
    (``first`` on the opcode); the CRC (``i_crc``) follows, most significant byte first,
    with ``last`` on its second byte. ``o_frame`` is a register: a byte is loaded whenever
    it is empty or being taken, so the frame goes out at one byte per clock if the sink
    keeps up. The inputs must hold from ``i_start`` until ``o_done``.

    Parameters
    ----------
    max_payload : int
        Longest ACK payload (``i_length``), at most ``spec.MAX_PAYLOAD``.

    Attributes
    ----------
    i_start : In(1)
        Send a frame (only when idle, i.e. before the first or after ``o_done``).
    i_nak : In(1)
        The frame is a NAK.
    i_opcode : In(8)
        The opcode of the command an ACK replies to.
    i_nak_opcode : In(8)
        The opcode byte a NAK names (of the refused frame).
    i_seq : In(8)
        The command's seq.
    i_reason : In(4)
        The NAK reason (``spec.Nak``).
    i_length : In(range(max_payload + 1))
        Payload bytes of an ACK.
    i_byte : In(8)
        The next payload byte of an ACK, when ``i_byte_valid``.
    i_byte_valid : In(1)
        ``i_byte`` is the next payload byte.
    o_byte_take : Out(1)
        ``i_byte`` is taken (in this clock).
    o_crc : Out(stream.Signature(spec.CrcByte, always_ready=True))
        The bytes sent before the CRC, to a ``Crc16``.
    i_crc : In(16)
        That ``Crc16`` 's ``o_crc``.
    o_frame : Out(stream.Signature(spec.FrameByte))
        The frame body, to ``CobsEncoder``.
    o_nak_sent : Out(1)
        A NAK's opcode byte was loaded (count it).
    o_done : Out(1)
        The frame's last byte was loaded: idle from the next clock.
    """

    @checked_init
    def __init__(self, *, max_payload=spec.MAX_PAYLOAD):
        self.max_payload = check_int("max_payload", max_payload, 0, spec.MAX_PAYLOAD)
        super().__init__({
            "i_start": In(1),
            "i_nak": In(1),
            "i_opcode": In(8),
            "i_nak_opcode": In(8),
            "i_seq": In(8),
            "i_reason": In(4),
            "i_length": In(range(max_payload + 1)),
            "i_byte": In(8),
            "i_byte_valid": In(1),
            "o_byte_take": Out(1),
            "o_crc": Out(stream.Signature(spec.CrcByte, always_ready=True)),
            "i_crc": In(16),
            "o_frame": Out(stream.Signature(spec.FrameByte)),
            "o_nak_sent": Out(1),
            "o_done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        out = self.o_frame
        left = Signal(range(max(self.max_payload, _NAK_BYTES) + 1))   # payload bytes to send
        reason_next = Signal()          # the next NAK payload byte is the reason
        nak_byte = Mux(reason_next, self.i_reason, self.i_nak_opcode)

        # the output register: loaded with `byte` whenever it is empty or being taken
        load = Signal()
        go = Signal()
        byte = Signal(8)
        last = Signal()
        with m.If(out.valid & out.ready):
            m.d.sync += out.valid.eq(0)
        with m.If(go):
            m.d.sync += [out.valid.eq(1), out.payload.data.eq(byte), out.payload.last.eq(last)]
        m.d.comb += [load.eq(~out.valid | out.ready),
                     self.o_crc.payload.data.eq(byte)]

        def send(value, *, is_last=0, to_crc=1):
            m.d.comb += [byte.eq(value), last.eq(is_last), go.eq(load),
                         self.o_crc.valid.eq(load & to_crc)]
            return load

        with m.FSM(name="sender") as fsm:
            with m.State("IDLE"):
                with m.If(self.i_start):
                    m.next = "OPCODE"
            with m.State("OPCODE"):
                m.d.comb += self.o_crc.payload.first.eq(1)
                with m.If(send(Mux(self.i_nak, spec.NAK_OPCODE,
                                   self.i_opcode | spec.REPLY_FLAG))):
                    m.d.sync += [reason_next.eq(1),
                                 left.eq(Mux(self.i_nak, _NAK_BYTES, self.i_length))]
                    m.d.comb += self.o_nak_sent.eq(self.i_nak)
                    m.next = "SEQ"
            with m.State("SEQ"):
                with m.If(send(self.i_seq)):
                    with m.If(left == 0):
                        m.next = "CRC_HI"
                    with m.Else():
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                with m.If(self.i_nak | self.i_byte_valid):
                    with m.If(send(Mux(self.i_nak, nak_byte, self.i_byte))):
                        m.d.comb += self.o_byte_take.eq(~self.i_nak)
                        m.d.sync += [reason_next.eq(0), left.eq(left - 1)]
                        with m.If(left == 1):
                            m.next = "CRC_HI"
            with m.State("CRC_HI"):
                with m.If(send(self.i_crc[8:], to_crc=0)):
                    m.next = "CRC_LO"
            with m.State("CRC_LO"):
                with m.If(send(self.i_crc[:8], is_last=1, to_crc=0)):
                    m.d.comb += self.o_done.eq(1)
                    m.next = "IDLE"
        fsm.state.attrs["fsm_encoding"] = "one-hot"
        return m
