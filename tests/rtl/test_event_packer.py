"""EventPacker: output-buffer entries into READ_EVENTS records, cut where the reply is full."""

import numpy as np
import pytest
from amaranth import Elaboratable, Module
from amaranth.sim import Simulator

from neurofab import spec
from neurofab.host import codec
from neurofab.rtl.link._fifo import EventFifo
from neurofab.rtl.link.event_packer import EventPacker

HEADER = spec.EventsHeader.size // 8


class Bench(Elaboratable):
    """The packer reading an output buffer (an ``EventFifo``, as in ``StepFeeder``)."""

    def __init__(self, max_payload, n_neurons=1024):
        self.packer = EventPacker(n_neurons=n_neurons, max_payload=max_payload)
        self.fifo = EventFifo(width=self.packer.neuron_width + 1, depth=512)

    def elaborate(self, platform):
        m = Module()
        m.submodules.packer = p = self.packer
        m.submodules.fifo = f = self.fifo
        m.d.comb += [p.i_events.valid.eq(f.r_rdy), p.i_events.payload.eq(f.r_data),
                     f.r_en.eq(p.i_events.ready)]
        return m


def read_events(entries, max_payload, replies):
    """Put ``entries`` (neuron indices, ``None`` for a step's end) in the buffer, then
    pack ``replies`` replies; returns their record bytes."""
    bench = Bench(max_payload)
    p, f = bench.packer, bench.fifo
    out = []

    async def tb(ctx):
        nb = p.neuron_width
        for e in entries:
            ctx.set(f.w_data, 1 << nb if e is None else e)
            ctx.set(f.w_en, 1)
            await ctx.tick()
        ctx.set(f.w_en, 0)
        await ctx.tick()
        for _ in range(replies):
            reply = bytearray(max_payload)
            wptr = HEADER                           # the caller's reply pointer (a register)
            ctx.set(p.i_wptr, wptr)
            ctx.set(p.i_start, 1)
            await ctx.tick()
            ctx.set(p.i_start, 0)
            while True:
                _, _, app, data, res, pen, paddr, pdata, done = await ctx.tick().sample(
                    p.o_append, p.o_data, p.o_reserve, p.o_patch_en, p.o_patch_addr,
                    p.o_patch_data, p.o_done)
                assert not (app and pen)
                if app:
                    reply[wptr] = data
                    wptr += 1
                if res:
                    wptr += 2
                if pen:
                    reply[paddr] = pdata
                ctx.set(p.i_wptr, wptr)
                if done:
                    break
            assert wptr <= max_payload
            out.append(bytes(reply[HEADER:wptr]))

    sim = Simulator(bench)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return out


def steps_of(replies):
    asm = codec.StepAssembler()
    steps = []
    for records in replies:
        steps += [s.tolist() for s in asm.feed(*codec.unpack_records(records))]
    return steps, asm.partial.tolist()


def test_steps_become_records():
    steps = [[3, 1], [], [1000, 0, 7], [], []]
    entries = [e for s in steps for e in s + [None]] + [5, 6]       # a partial step last
    replies = read_events(entries, spec.MAX_PAYLOAD, 1)
    assert replies[0] == codec.pack_records(steps + [[5, 6]], close=False)
    assert steps_of(replies) == (steps, [5, 6])


def test_a_full_reply_cuts_records():
    rng = np.random.default_rng(3)
    steps = [[int(x) for x in rng.integers(0, 1024, n)] for n in (40, 0, 3, 90, 0, 1)]
    entries = [e for s in steps for e in s + [None]]
    replies = read_events(entries, 64, 8)
    assert all(len(r) <= 64 - HEADER for r in replies)
    assert len(replies[0]) >= 64 - HEADER - 3      # (a record needs room for its header)
    assert steps_of(replies) == (steps, [])
    assert replies[-1] == b""                       # nothing left: no records


def test_parameters_validated():
    with pytest.raises(ValueError, match=r"^max_payload = 7 is outside the limit \[8, 508\]$"):
        EventPacker(n_neurons=16, max_payload=7)
    with pytest.raises(ValueError, match=r"^n_neurons = 24 must be a power of two"):
        EventPacker(n_neurons=24)
