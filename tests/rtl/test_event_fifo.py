"""EventFifo (the link's event buffers): order, level, registered flags, clear."""

from collections import deque

import numpy as np
import pytest
from amaranth.sim import Simulator

from neurofab.rtl.link._fifo import EventFifo


def test_matches_a_queue_under_random_traffic():
    dut = EventFifo(width=9, depth=8)
    rng = np.random.default_rng(6)

    async def tb(ctx):
        model = deque()
        since_write = 9                 # clocks since the last write
        for cycle in range(2000):
            w = rng.random() < 0.5
            r = rng.random() < 0.5
            data = int(rng.integers(0, 512))
            ctx.set(dut.w_en, w)
            ctx.set(dut.w_data, data)
            ctx.set(dut.r_en, r)
            clear = cycle % 500 == 499
            ctx.set(dut.clear, clear)
            # flags and head from registers: readable before the edge
            assert ctx.get(dut.level) == len(model)
            assert ctx.get(dut.w_rdy) == (len(model) < 8)
            if ctx.get(dut.r_rdy):
                assert ctx.get(dut.r_data) == model[0]
            if since_write >= 2 or len(model) >= 2:
                assert ctx.get(dut.r_rdy) == bool(model)
            took_r = r and ctx.get(dut.r_rdy)
            took_w = w and ctx.get(dut.w_rdy)
            await ctx.tick()
            if took_r:
                model.popleft()
            since_write += 1
            if took_w:
                model.append(data)
                since_write = 0
            if clear:
                model.clear()
            assert not ctx.get(dut.r_rdy) or model

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


def test_parameters_validated():
    with pytest.raises(ValueError, match=r"^depth = 6 must be a power of two in \[2, 16777216\]$"):
        EventFifo(width=4, depth=6)
    with pytest.raises(ValueError, match=r"^width = 0 is below the limit 1$"):
        EventFifo(width=0, depth=4)
