"""Counters: u32 counters incremented one byte at a time, a consistent snapshot, clear."""

import pytest
from amaranth.sim import Simulator

from neurofab.rtl.link.counters import Counters
from neurofab.spec import Counter

CONSTANT = bytes(range(0x40, 0x48))


def simulate(dut, tb):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


async def pulse(ctx, dut, *counters):
    ctx.set(dut.i_count, sum(1 << c.value for c in counters))
    await ctx.tick()
    ctx.set(dut.i_count, 0)


async def settle(ctx, dut, patience=200):
    for _ in range(patience):
        if ctx.get(dut.o_quiet):
            return
        await ctx.tick()
    pytest.fail("the counters engine did not settle")


async def read(ctx, dut, first, n):
    """Bytes ``first .. first + n - 1`` through the held read port."""
    ctx.set(dut.i_hold, 1)
    out = []
    for addr in range(first, first + n):
        ctx.set(dut.i_addr, addr)
        await ctx.tick()
        out.append(ctx.get(dut.o_data))
    ctx.set(dut.i_hold, 0)
    return bytes(out)


async def snapshot(ctx, dut):
    await settle(ctx, dut)
    raw = await read(ctx, dut, 0, 4 * len(Counter))
    return {c: int.from_bytes(raw[4 * c.value:4 * c.value + 4], "little") for c in Counter}


def test_counts_with_carries_and_keeps_the_constant():
    dut = Counters(constant=CONSTANT)
    assert dut.constant_base == 4 * len(Counter) == 40 and dut.depth == 48

    async def tb(ctx):
        assert await read(ctx, dut, dut.constant_base, 8) == CONSTANT
        expect = {c: 0 for c in Counter}
        # several counters in one clock, then one counter through a byte carry
        await pulse(ctx, dut, Counter.CRC_ERRORS, Counter.NAKS_SENT, Counter.RX_OVERRUNS)
        for c in (Counter.CRC_ERRORS, Counter.NAKS_SENT, Counter.RX_OVERRUNS):
            expect[c] += 1
        for _ in range(300):
            await pulse(ctx, dut, Counter.FRAMES_OK)
            expect[Counter.FRAMES_OK] += 1
            for _ in range(8):                  # (the engine's pace: 2 clocks a byte)
                await ctx.tick()
        assert await snapshot(ctx, dut) == expect
        # five events in five clocks: the engine retires the first in the fourth clock
        # (idle, read, write), so the fifth finds three pending and is lost (the link never
        # comes close: its events of one counter are many clocks apart)
        for _ in range(5):
            await pulse(ctx, dut, Counter.UART_ERRORS)
        expect[Counter.UART_ERRORS] += 4
        assert await snapshot(ctx, dut) == expect
        # the held read port stops the engine: a snapshot stays consistent
        ctx.set(dut.i_hold, 1)
        await pulse(ctx, dut, Counter.FRAMING_ERRORS)
        await ctx.tick().repeat(20)
        assert not ctx.get(dut.o_quiet)
        ctx.set(dut.i_addr, 4 * Counter.FRAMING_ERRORS.value)
        await ctx.tick()
        assert ctx.get(dut.o_data) == 0
        ctx.set(dut.i_hold, 0)
        expect[Counter.FRAMING_ERRORS] += 1
        assert await snapshot(ctx, dut) == expect
        # clear: every counter 0, the constant kept
        ctx.set(dut.i_clear, 1)
        await ctx.tick()
        ctx.set(dut.i_clear, 0)
        assert ctx.get(dut.o_clearing) and not ctx.get(dut.o_idle)
        await ctx.tick().until(dut.o_idle)
        assert await snapshot(ctx, dut) == {c: 0 for c in Counter}
        assert await read(ctx, dut, dut.constant_base, 8) == CONSTANT

    simulate(dut, tb)


def test_parameters_validated():
    with pytest.raises(TypeError, match=r"^constant must be bytes, not 'abc'$"):
        Counters(constant="abc")
