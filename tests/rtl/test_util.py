"""``rtl.util``: the stream register slice (``SkidBuffer``)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from neurofab.rtl.util import SkidBuffer


@pytest.mark.parametrize("p_valid,p_ready", [(1.0, 1.0), (0.7, 0.4), (0.3, 0.9)])
def test_skid_buffer_passes_every_payload_once_in_order(p_valid, p_ready):
    """Random source and sink: every payload arrives once, in order; at full rate one
    transfer per clock after one clock of latency."""
    dut = SkidBuffer(8)
    rng = np.random.default_rng(int(p_valid * 10 + p_ready * 100))
    sent, got, clocks = [], [], []

    async def bench(ctx):
        word, t = 0, 0
        while len(got) < 300 and t < 3000:
            ctx.set(dut.i_stream.valid, word < 300 and rng.random() < p_valid)
            ctx.set(dut.i_stream.payload, word % 256)
            ctx.set(dut.o_stream.ready, rng.random() < p_ready)
            ready_before = ctx.get(dut.i_stream.ready)
            ctx.set(dut.o_stream.ready, not ctx.get(dut.o_stream.ready))
            # the input's ready does not follow the sink's within the clock
            assert ctx.get(dut.i_stream.ready) == ready_before
            ctx.set(dut.o_stream.ready, not ctx.get(dut.o_stream.ready))
            if ctx.get(dut.i_stream.valid) and ctx.get(dut.i_stream.ready):
                sent.append(word % 256)
                word += 1
            if ctx.get(dut.o_stream.valid) and ctx.get(dut.o_stream.ready):
                got.append(ctx.get(dut.o_stream.payload))
                clocks.append(t)
            await ctx.tick()
            t += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert got == sent[:len(got)] and len(got) == 300
    if p_valid == p_ready == 1.0:
        assert clocks == list(range(1, 301))
