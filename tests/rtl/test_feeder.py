"""StepFeeder: complete steps to the core one at a time, spikes back, steps_pending."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from neurofab.cosim.streams import get, put
from neurofab.rtl.link.feeder import StepFeeder


async def enqueue(ctx, dut, steps, *, close=True):
    """Input-buffer entries: the channels of each step, then its END (not after the last
    step unless ``close``)."""
    for k, chans in enumerate(steps):
        for c in chans:
            ctx.set(dut.i_channel, c)
            ctx.set(dut.i_write, 1)
            await ctx.tick()
        if close or k < len(steps) - 1:
            ctx.set(dut.i_channel, 0)
            ctx.set(dut.i_end, 1)
            ctx.set(dut.i_write, 1)
            await ctx.tick()
            ctx.set(dut.i_end, 0)
        ctx.set(dut.i_write, 0)


async def pulse(ctx, port, value=1):
    ctx.set(port, value)
    await ctx.tick()
    ctx.set(port, 0)


def test_runs_complete_steps_and_returns_spikes():
    dut = StepFeeder(n_neurons=16, n_inputs=8, in_depth=16, out_depth=4)
    rng = np.random.default_rng(2)
    fired = [[3, 1], [], [15, 0, 7], [2], [4]]   # the core's spikes per step
    fed, out = [], []

    async def core(ctx):
        step = []
        while True:
            ev = await get(ctx, dut.o_events, rng=rng, stall=0.3)
            if not ev.eos:
                step.append(ev.channel)
                continue
            fed.append(step)
            for n in fired[len(fed) - 1]:
                await put(ctx, dut.i_spikes, {"neuron": n, "eos": 0}, rng=rng, gap=0.2)
            await put(ctx, dut.i_spikes, {"neuron": 0, "eos": 1}, rng=rng, gap=0.2)
            step = []

    async def reader(ctx):
        while True:
            entry = await get(ctx, dut.o_out, rng=rng, stall=0.5)
            out.append(("end" if entry.eos else entry.neuron))

    async def tb(ctx):
        await enqueue(ctx, dut, [[1, 2, 3], [], [7, 0]], close=False)   # [7, 0]: partial
        assert ctx.get(dut.o_in_level) == 7 and not ctx.get(dut.o_running)
        ctx.set(dut.i_run_steps, 4)
        await pulse(ctx, dut.i_run)
        assert ctx.get(dut.o_steps_pending) == 4 and ctx.get(dut.o_running)
        await ctx.tick().until(~dut.o_running)
        await ctx.tick().repeat(50)
        # two complete steps, then lone ends: the partial step waits for its END
        assert fed == [[1, 2, 3], [], [], []]
        assert ctx.get(dut.o_steps_pending) == 0 and ctx.get(dut.o_in_level) == 2
        assert out == [3, 1, "end", "end", 15, 0, 7, "end", 2, "end"]
        assert ctx.get(dut.o_out_level) == 0
        # its END arrives: the next step runs it
        await enqueue(ctx, dut, [[]])
        await pulse(ctx, dut.i_run)                 # (i_run_steps is still 4)
        ctx.set(dut.i_run_steps, 0)
        await ctx.tick().until(dut.o_in_flight)
        await pulse(ctx, dut.i_run_cancel)          # stops after the step in flight
        await ctx.tick().until(~dut.o_running)
        assert fed[4] == [7, 0] and len(fed) == 5
        await ctx.tick().repeat(50)
        assert out[-2:] == [4, "end"] and ctx.get(dut.o_steps_pending) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.add_testbench(core, background=True)
    sim.add_testbench(reader, background=True)
    sim.run()


def test_overflow_flag_resetting_and_clear():
    dut = StepFeeder(n_neurons=4, n_inputs=0, in_depth=4, out_depth=2)

    async def tb(ctx):
        ctx.set(dut.i_resetting, 1)                 # no step starts, output dropped
        ctx.set(dut.i_run_steps, 1)
        await pulse(ctx, dut.i_run)
        ctx.set(dut.i_run_steps, (1 << 32) - 1)
        await ctx.tick()
        assert ctx.get(dut.o_run_overflow) and ctx.get(dut.o_steps_pending) == 1
        ctx.set(dut.i_run_steps, (1 << 32) - 2)
        await ctx.tick()
        assert not ctx.get(dut.o_run_overflow)
        assert not ctx.get(dut.o_in_flight) and not ctx.get(dut.o_events.valid)
        for _ in range(3):                          # spikes are taken and dropped
            await put(ctx, dut.i_spikes, {"neuron": 1, "eos": 0})
        assert ctx.get(dut.o_out_level) == 0
        ctx.set(dut.i_resetting, 0)
        await enqueue(ctx, dut, [[0], [0]])
        assert ctx.get(dut.o_in_level) == 4
        await pulse(ctx, dut.i_clear)
        assert ctx.get(dut.o_in_level) == 0
        await pulse(ctx, dut.i_run_cancel)
        assert ctx.get(dut.o_steps_pending) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


def test_an_end_written_into_a_full_buffer_is_not_counted():
    """A write the full input buffer drops must not count as a stored END entry: counted,
    the next step would be fed the buffered channels and then wait for an END that is not
    there, for ever."""
    dut = StepFeeder(n_neurons=4, n_inputs=4, in_depth=2, out_depth=2)
    fed = []

    async def core(ctx):
        while True:
            ev = await get(ctx, dut.o_events)
            fed.append("end" if ev.eos else ev.channel)
            if ev.eos:
                await put(ctx, dut.i_spikes, {"neuron": 0, "eos": 1})

    async def tb(ctx):
        await enqueue(ctx, dut, [[1, 2], []], close=False)     # full, then END dropped
        assert ctx.get(dut.o_in_level) == 2
        ctx.set(dut.i_run_steps, 1)
        await pulse(ctx, dut.i_run)
        ctx.set(dut.i_run_steps, 0)
        for _ in range(100):
            await ctx.tick()
            if not ctx.get(dut.o_running):
                break
        assert not ctx.get(dut.o_running), f"the step never ended; fed {fed}"
        assert fed == ["end"] and ctx.get(dut.o_in_level) == 2

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_process(core)
    sim.add_testbench(tb)
    sim.run_until(1e-3)


def test_parameters_validated():
    ok = dict(n_neurons=16, n_inputs=8, in_depth=16, out_depth=16)
    with pytest.raises(ValueError, match=r"^in_depth = 12 must be a power of two in "
                                         r"\[2, 16777216\]$"):
        StepFeeder(**dict(ok, in_depth=12))
    with pytest.raises(ValueError, match=r"^n_neurons = 1 must be a power of two"):
        StepFeeder(**dict(ok, n_neurons=1))
    with pytest.raises(ValueError, match=r"^n_inputs = -1 is outside the limit"):
        StepFeeder(**dict(ok, n_inputs=-1))


@pytest.mark.parametrize("period,work", [(40, 10), (25, 60), (0, 10)])
def test_paced_mode_starts_a_step_every_period_and_counts_overruns(period, work):
    """PACE: with a core that takes ``work`` clocks a step, steps start exactly ``period``
    clocks apart while it keeps up; when it does not, every period whose step could not
    start on time is one overrun, and no step is skipped."""
    dut = StepFeeder(n_neurons=16, n_inputs=8, in_depth=16, out_depth=16, pace=True)
    starts, overruns, clock = [], [], [0]
    steps = 6

    async def counter(ctx):
        while True:
            *_, over = await ctx.tick().sample(dut.o_overrun)
            clock[0] += 1
            if over:
                overruns.append(clock[0])

    async def core(ctx):
        ctx.set(dut.o_events.ready, 1)
        ctx.set(dut.o_out.ready, 1)
        for _ in range(steps):
            await ctx.tick().until(dut.o_events.valid)
            starts.append(clock[0])
            for _ in range(work):
                await ctx.tick()
            await put(ctx, dut.i_spikes, {"neuron": 0, "eos": 1})

    async def tb(ctx):
        ctx.set(dut.i_period, period)
        await ctx.tick().repeat(3)
        ctx.set(dut.i_run_steps, steps)
        await pulse(ctx, dut.i_run)
        for _ in range(steps * (max(period, work) + 20) + 50):
            await ctx.tick()
        assert ctx.get(dut.o_steps_pending) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(counter, background=True)
    sim.add_testbench(core, background=True)
    sim.add_testbench(tb)
    sim.run()
    assert len(starts) == steps
    gaps = np.diff(starts)
    if period == 0:                    # free running: as soon as the step before ends
        assert (gaps < work + 10).all() and overruns == []
    elif work + 5 < period:            # keeps up: exactly one period apart, no overrun
        assert (gaps == period).all() and overruns == []
    else:                              # too slow: late, one overrun per late period
        assert (gaps > period).all() and len(overruns) >= steps - 2
