"""FrameBuffer: registered writes, a register as read address, data valid one clock later."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from neurofab.rtl.link.frame_buffer import FrameBuffer


def simulate(dut, tb):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


async def write(ctx, dut, addr, byte):
    ctx.set(dut.i_write_addr, addr)
    ctx.set(dut.i_write_data, byte)
    ctx.set(dut.i_write_en, 1)
    await ctx.tick()
    ctx.set(dut.i_write_en, 0)


async def seek(ctx, dut, addr):
    ctx.set(dut.i_seek, 1)
    ctx.set(dut.i_seek_addr, addr)
    await ctx.tick()
    ctx.set(dut.i_seek, 0)


def test_reads_what_was_written_with_its_latency():
    dut = FrameBuffer(depth=64)
    data = np.random.default_rng(1).integers(0, 256, 64).tolist()

    async def tb(ctx):
        for addr, byte in enumerate(data):
            await write(ctx, dut, addr, byte)
        await ctx.tick()                        # the last write reaches the memory
        await seek(ctx, dut, 5)
        assert ctx.get(dut.o_addr) == 5
        assert not ctx.get(dut.o_data_valid) and not ctx.get(dut.o_data_reg_valid)
        await ctx.tick()
        assert ctx.get(dut.o_data_valid) and ctx.get(dut.o_data) == data[5]
        assert not ctx.get(dut.o_data_reg_valid)
        await ctx.tick()
        assert ctx.get(dut.o_data_reg_valid) and ctx.get(dut.o_data_reg) == data[5]
        # take bytes: one every second clock through o_data
        got = []
        while len(got) < 10:
            if ctx.get(dut.o_data_valid):
                got.append(ctx.get(dut.o_data))
                ctx.set(dut.i_advance, 1)
            await ctx.tick()
            ctx.set(dut.i_advance, 0)
        assert got == data[5:15] and ctx.get(dut.o_addr) == 15
        # the registered output, a clock later: three clocks per byte
        got = []
        while len(got) < 10:
            if ctx.get(dut.o_data_reg_valid):
                got.append(ctx.get(dut.o_data_reg))
                ctx.set(dut.i_advance, 1)
            await ctx.tick()
            ctx.set(dut.i_advance, 0)
        assert got == data[15:25]
        # the read address wraps
        await seek(ctx, dut, 63)
        ctx.set(dut.i_advance, 1)
        await ctx.tick()
        ctx.set(dut.i_advance, 0)
        await ctx.tick()
        assert ctx.get(dut.o_addr) == 0 and ctx.get(dut.o_data) == data[0]

    simulate(dut, tb)


def test_write_is_registered():
    dut = FrameBuffer(depth=16)

    async def tb(ctx):
        await seek(ctx, dut, 3)
        await write(ctx, dut, 3, 0xA5)          # in the memory one clock later
        assert ctx.get(dut.o_data) != 0xA5
        await ctx.tick()                        # memory written: the read port shows it
        await ctx.tick()
        assert ctx.get(dut.o_data) == 0xA5
        # a seek wins over an advance in the same clock
        ctx.set(dut.i_advance, 1)
        await seek(ctx, dut, 9)
        ctx.set(dut.i_advance, 0)
        assert ctx.get(dut.o_addr) == 9

    simulate(dut, tb)


def test_parameters_validated():
    with pytest.raises(ValueError, match=r"^depth = 48 must be a power of two in \[2, 65536\]$"):
        FrameBuffer(depth=48)
    with pytest.raises(TypeError, match=r"^depth must be an integer, not '64'$"):
        FrameBuffer(depth="64")
