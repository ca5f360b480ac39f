"""InjectParser: INJECT records from a FrameBuffer, validated, then enqueued."""

import numpy as np
import pytest
from amaranth import Elaboratable, Module, Signal
from amaranth.sim import Simulator

from neurofab.host import codec
from neurofab.rtl.link.frame_buffer import FrameBuffer
from neurofab.rtl.link.inject_parser import InjectParser

START = 2                       # the payload's first byte in the buffer (after opcode, seq)


class Bench(Elaboratable):
    """The parser reading a FrameBuffer, ``at_end`` registered as in the controller."""

    def __init__(self, n_inputs):
        self.buf = FrameBuffer(depth=1024)
        self.parser = InjectParser(n_inputs=n_inputs)
        self.end = Signal(10)

    def elaborate(self, platform):
        m = Module()
        m.submodules.buf = buf = self.buf
        m.submodules.parser = p = self.parser
        at_end = Signal()
        m.d.sync += at_end.eq(buf.o_addr == self.end)
        m.d.comb += [p.i_data.eq(buf.o_data), p.i_data_valid.eq(buf.o_data_valid),
                     p.i_at_end.eq(at_end), buf.i_advance.eq(p.o_take)]
        return m


def parse(payloads, n_inputs=8):
    """Both passes over each payload: ``(entries, bad_length, bad_arg, written)``."""
    bench = Bench(n_inputs)
    buf, p = bench.buf, bench.parser
    results = []

    async def pass_(ctx, start):
        ctx.set(buf.i_seek, 1)
        ctx.set(buf.i_seek_addr, START)
        ctx.set(start, 1)
        await ctx.tick()
        ctx.set(buf.i_seek, 0)
        ctx.set(start, 0)
        written = []
        while True:
            _, _, done, write, channel, end = await ctx.tick().sample(
                p.o_done, p.o_write, p.o_channel, p.o_end)
            if write:
                written.append("END" if end else channel)
            if done:
                return written

    async def tb(ctx):
        for payload in payloads:
            for addr, byte in enumerate(payload, START):
                ctx.set(buf.i_write_addr, addr)
                ctx.set(buf.i_write_data, byte)
                ctx.set(buf.i_write_en, 1)
                await ctx.tick()
            ctx.set(buf.i_write_en, 0)
            ctx.set(bench.end, START + len(payload))
            await ctx.tick()
            assert await pass_(ctx, p.i_start) == []
            result = (ctx.get(p.o_entries), ctx.get(p.o_bad_length), ctx.get(p.o_bad_arg))
            results.append(result + (await pass_(ctx, p.i_second_pass),))

    sim = Simulator(bench)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return results


def expected(steps, close=True):
    out = []
    for k, chans in enumerate(steps):
        out += list(chans)
        if close or k < len(steps) - 1:
            out.append("END")
    return out


def test_records_are_counted_then_enqueued():
    rng = np.random.default_rng(4)
    cases = [([[1, 2, 3]], True), ([[]], True), ([[], [5], []], True), ([], True),
             ([[0, 7] * 20], False), ([list(rng.integers(0, 8, 50)), [1]], True)]
    got = parse([codec.pack_records(steps, close=close) for steps, close in cases])
    for (steps, close), (entries, bad_length, bad_arg, written) in zip(cases, got):
        want = expected(steps, close)
        assert (entries, bad_length, bad_arg) == (len(want), 0, 0)
        assert written == want


def test_malformed_payloads_are_flagged():
    got = parse([b"\x01", b"\x01\x80", b"\x02\x80\x01\x00", b"\x00\x80\x01",
                 codec.pack_records([[1, 8]]), codec.pack_records([[0xFFFF]]),
                 codec.pack_records([[7], [0]])])
    assert [(bad_length, bad_arg) for _, bad_length, bad_arg, _ in got] == [
        (1, 0), (1, 0), (1, 0), (1, 0), (0, 1), (0, 1), (0, 0)]


def test_parameters_validated():
    with pytest.raises(ValueError, match=r"^n_inputs = 65537 is outside the limit "
                                         r"\[0, 65536\]$"):
        InjectParser(n_inputs=65537)
    with pytest.raises(TypeError, match=r"^max_payload must be an integer, not None$"):
        InjectParser(n_inputs=8, max_payload=None)
