"""Receiver: a decoded frame into the buffer, opcode/seq, and the flags of the link checks."""

import numpy as np
import pytest
from amaranth import Elaboratable, Module
from amaranth.sim import Simulator

from neurofab import spec
from neurofab.host import codec
from neurofab.rtl.link.crc import Crc16
from neurofab.rtl.link.receiver import Receiver
from neurofab.spec import FrameStatus, Opcode


class Bench(Elaboratable):
    """Receiver with the CRC unit it checks frames with (as in ``LinkController``)."""

    def __init__(self, max_body):
        self.rx = Receiver(max_body=max_body)
        self.crc = Crc16()

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx = self.rx
        m.submodules.crc = self.crc
        m.d.comb += [self.crc.i_stream.valid.eq(self.rx.o_crc.valid),
                     self.crc.i_stream.payload.eq(self.rx.o_crc.payload),
                     self.rx.i_crc_residue.eq(self.crc.o_residue)]
        return m


def receive(bench, frames, *, seed=0):
    """Each ``(body, status)``: the bytes written, the registers and flags after the end."""
    rx = bench.rx
    results = []

    async def tb(ctx):
        rng = np.random.default_rng(seed)
        ctx.set(rx.i_enable, 1)
        for body, status in frames:
            written = {}
            for b in body:
                ctx.set(rx.i_frame.payload, {"data": b, "end": 0, "status": 0})
                ctx.set(rx.i_frame.valid, 1)
                _, _, en, addr, data, done = await ctx.tick().sample(
                    rx.o_write_en, rx.o_write_addr, rx.o_write_data, rx.o_done)
                assert not done
                if en:
                    written[addr] = data
                ctx.set(rx.i_frame.valid, 0)
                while rng.random() < 0.3:
                    await ctx.tick()
            ctx.set(rx.i_frame.payload, {"data": 0, "end": 1, "status": status.value})
            ctx.set(rx.i_frame.valid, 1)
            *_, done = await ctx.tick().sample(rx.o_done)
            assert done
            ctx.set(rx.i_frame.valid, 0)
            ctx.set(rx.i_enable, 0)            # (the controller checks the frame)
            results.append(dict(
                written=bytes(written[a] for a in sorted(written)),
                opcode=ctx.get(rx.o_opcode), seq=ctx.get(rx.o_seq),
                payload_end=ctx.get(rx.o_payload_end), oversize=ctx.get(rx.o_oversize),
                framing=ctx.get(rx.o_framing), crc_ok=ctx.get(rx.o_crc_ok),
                known=ctx.get(rx.o_known)))
            # bytes offered while not enabled are held back
            ctx.set(rx.i_frame.valid, 1)
            await ctx.tick()
            assert not ctx.get(rx.i_frame.ready)
            ctx.set(rx.i_frame.valid, 0)
            ctx.set(rx.i_clear, 1)
            await ctx.tick()
            ctx.set(rx.i_clear, 0)
            ctx.set(rx.i_enable, 1)

    sim = Simulator(bench)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return results


def test_frames_and_their_flags():
    max_body = 20
    good = codec.frame_body(Opcode.ECHO.value, 0x42, b"hello")
    bad_crc = bytearray(good)
    bad_crc[-1] ^= 1
    unknown = codec.frame_body(0x33, 9, b"")
    frames = [
        (good, FrameStatus.OK), (bytes(bad_crc), FrameStatus.OK), (unknown, FrameStatus.OK),
        (good, FrameStatus.COBS), (good, FrameStatus.OVERSIZE),
        (good[:3], FrameStatus.OK),                            # runt
        (good[:1], FrameStatus.OK),                            # runt without a seq
        (b"", FrameStatus.COBS),                               # no byte at all
        (bytes(range(1, 23)), FrameStatus.OK),                 # 22 bytes > max_body
        (codec.frame_body(Opcode.STATUS.value, 7, bytes(16)), FrameStatus.OK),  # 20: fits
    ]
    got = receive(Bench(max_body), frames)
    flags = [(g["oversize"], g["framing"], g["crc_ok"]) for g in got]
    assert flags == [(0, 0, 1), (0, 0, 0), (0, 0, 1), (0, 1, 1), (1, 1, 1),
                     (0, 1, 0), (0, 1, 0), (0, 1, 0), (1, 0, 0), (0, 0, 1)]
    # (o_known is of the frame's opcode byte: an empty frame has none, and is a runt)
    known = [g["known"] for k, g in enumerate(got) if k != 7]
    assert known == [1, 1, 0, 1, 1, 1, 1, 1, 1]
    assert [(g["opcode"], g["seq"]) for g in got] == [
        (0x05, 0x42), (0x05, 0x42), (0x33, 9), (0x05, 0x42), (0x05, 0x42),
        (0x05, 0x42), (0x05, 0), (0, 0), (1, 2), (Opcode.STATUS.value, 7)]
    assert got[0]["written"] == good and got[0]["payload_end"] == 2 + 5
    assert got[5]["written"] == good[:3]
    assert got[8]["written"] == bytes(range(1, 21))        # the rest is dropped
    assert got[9]["payload_end"] == 2 + 16


def test_parameters_validated():
    with pytest.raises(ValueError, match=r"^max_body = 3 is outside the limit \[4, 512\]$"):
        Receiver(max_body=3)
    with pytest.raises(ValueError, match=r"^max_body = 513 is outside the limit \[4, 512\]$"):
        Receiver(max_body=spec.MAX_BODY + 1)
