"""Sender: reply and NAK frame bodies with their CRC, payload from a FrameBuffer."""

import numpy as np
import pytest
from amaranth import Elaboratable, Module
from amaranth.sim import Simulator

from neurofab import spec
from neurofab.cosim.streams import get
from neurofab.host import codec
from neurofab.rtl.link.crc import Crc16
from neurofab.rtl.link.frame_buffer import FrameBuffer
from neurofab.rtl.link.sender import Sender
from neurofab.spec import Nak, Opcode


class Bench(Elaboratable):
    """Sender with the frame buffer it sends from and its CRC unit (as in the controller)."""

    def __init__(self, max_payload=spec.MAX_PAYLOAD):
        self.tx = Sender(max_payload=max_payload)
        self.crc = Crc16()
        self.buf = FrameBuffer(depth=512)

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx = tx = self.tx
        m.submodules.crc = crc = self.crc
        m.submodules.buf = buf = self.buf
        m.d.comb += [crc.i_stream.valid.eq(tx.o_crc.valid),
                     crc.i_stream.payload.eq(tx.o_crc.payload), tx.i_crc.eq(crc.o_crc),
                     tx.i_byte.eq(buf.o_data_reg), tx.i_byte_valid.eq(buf.o_data_reg_valid),
                     buf.i_advance.eq(tx.o_byte_take)]
        return m


def send_frames(frames, *, stall=0.3, seed=0):
    """``frames``: ``(nak, opcode, seq, payload or reason)``; returns the bodies sent and
    the number of NAKs counted."""
    bench = Bench()
    tx, buf = bench.tx, bench.buf
    bodies, naks = [], [0]

    async def tb(ctx):
        rng = np.random.default_rng(seed)
        for nak, opcode, seq, arg in frames:
            if not nak:
                for addr, byte in enumerate(arg):
                    ctx.set(buf.i_write_addr, addr)
                    ctx.set(buf.i_write_data, byte)
                    ctx.set(buf.i_write_en, 1)
                    await ctx.tick()
                ctx.set(buf.i_write_en, 0)
            ctx.set(buf.i_seek, 1)                  # (the controller seeks with i_start)
            ctx.set(buf.i_seek_addr, 0)
            ctx.set(tx.i_start, 1)
            for port, value in ((tx.i_nak, nak), (tx.i_opcode, 0 if nak else opcode),
                                (tx.i_nak_opcode, opcode if nak else 0), (tx.i_seq, seq),
                                (tx.i_reason, arg if nak else 0),
                                (tx.i_length, 0 if nak else len(arg))):
                ctx.set(port, value)
            await ctx.tick()
            ctx.set(tx.i_start, 0)
            ctx.set(buf.i_seek, 0)
            body = bytearray()
            while True:
                item = await get(ctx, tx.o_frame, rng=rng, stall=stall)
                body.append(item.data)
                if item.last:
                    break
            bodies.append(bytes(body))

    async def counter(ctx):
        async for _, _, sent in ctx.tick().sample(tx.o_nak_sent):
            naks[0] += sent

    sim = Simulator(bench)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.add_testbench(counter, background=True)
    sim.run()
    return bodies, naks[0]


def test_replies_and_naks():
    rng = np.random.default_rng(1)
    payloads = [b"", b"\x00", rng.bytes(100), rng.bytes(spec.MAX_PAYLOAD)]
    frames = [(0, Opcode.ECHO.value, k, p) for k, p in enumerate(payloads)]
    frames += [(1, Opcode.READ_MEM.value, 0x33, Nak.BAD_RANGE.value),
               (1, 0x00, 0x00, Nak.FRAMING.value)]
    bodies, naks = send_frames(frames)
    for (nak, opcode, seq, arg), body in zip(frames, bodies):
        frame = codec.decode_body(body)
        if nak:
            assert frame == codec.Frame(spec.NAK_OPCODE, seq, bytes([arg, opcode]))
        else:
            assert frame == codec.Frame(opcode | spec.REPLY_FLAG, seq, arg)
    assert naks == 2


def test_without_back_pressure():
    bodies, _ = send_frames([(0, Opcode.ECHO.value, 1, bytes(range(40)))], stall=0)
    assert codec.decode_body(bodies[0]).payload == bytes(range(40))


def test_parameters_validated():
    with pytest.raises(ValueError, match=r"^max_payload = 509 is outside the limit \[0, 508\]$"):
        Sender(max_payload=509)
