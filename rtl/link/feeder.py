"""The link's event buffers and step feeder: injected events to the core, spikes back."""

from amaranth import *
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from neurofab import spec
from neurofab.checks import check_bool, check_int, check_pow2
from neurofab.rtl.util import checked_init
from ._fifo import EventFifo

__all__ = ["StepFeeder"]


class StepFeeder(wiring.Component):
    """Input event buffer → core, core → output event buffer, and the count of steps to run.

    * **Input buffer.** ``i_write`` enqueues a channel or a step's END entry (the caller has
      checked the space: ``o_in_level``). ``o_in_level`` counts every entry.
    * **Steps.** ``i_run`` adds ``i_run_steps`` to ``o_steps_pending``; while it is not 0 a
      step is started whenever none is in flight (and not ``i_resetting``): the events of
      one complete buffered step (up to and including its END entry, handed over as the
      core's end-of-step marker), or a lone end-of-step marker if no complete step is
      buffered. The core takes the events from an output register backed by a skid
      register, one event per clock and never past the step's end: the buffer is read
      only while the skid register is empty, so the core's ``ready`` reaches registers'
      enables only, never the buffer's read address, and the buffer's block-RAM output
      reaches a register through one multiplexer.
    * **Output buffer.** The core's spikes and its end-of-step marker are stored (the core
      waits while it is full; while ``i_resetting`` they are taken and dropped);
      ``o_steps_pending`` drops when the marker is taken. ``o_out`` is its head entry.

    One adder serves ``o_steps_pending``: a step's end in the same clock as ``i_run`` is
    taken off a clock later.

    * **Paced mode** (``pace``). With ``i_period`` = P > 0 a timer ticks every P clocks and
      a step starts only on a tick (the tick is kept until the step starts); a tick that
      comes while the tick before is still unused and steps are pending is an overrun
      (``o_overrun``): the step of that period could not start on time, it starts as soon
      as it can (nothing is skipped). No tick is kept while no step is pending, so a RUN
      starts at the next tick. P = 0: every step starts as soon as the one before ends.

    Parameters
    ----------
    n_neurons : int
        Neurons of the core (a power of two >= 2): width of the stored spike indices.
    n_inputs : int
        Input channels of the core (>= 0): width of the stored channels.
    in_depth, out_depth : int
        Entries of the input and output buffers, powers of two >= 2.
    pace : bool
        Paced mode (``i_period``, ``o_overrun``); without it the feeder is the one before.

    Attributes
    ----------
    i_write : In(1)
        Enqueue ``i_channel`` (or, with ``i_end``, a step's END entry) in the input buffer;
        a write into a full buffer is dropped and not counted.
    i_channel : In(channel_width)
        The channel (0 with ``i_end``).
    i_end : In(1)
        The entry is the end of a step.
    i_clear : In(1)
        Empty both buffers.
    o_in_level, o_out_level : Out(range(in_depth + 1)), Out(range(out_depth + 1))
        Entries in the input / output buffer.
    o_out : Out(stream.Signature(data.StructLayout({"neuron": neuron_width, "eos": 1})))
        The output buffer's head entry (``ready`` takes it); a spike or an end of step.
    i_run : In(1)
        Add ``i_run_steps`` to ``o_steps_pending`` (the caller has checked
        ``o_run_overflow``).
    i_run_steps : In(32)
        Steps to add.
    i_run_cancel : In(1)
        Set ``o_steps_pending`` to 0.
    o_steps_pending : Out(32)
        Steps requested and not finished.
    o_run_overflow : Out(1)
        ``o_steps_pending + i_run_steps`` does not fit 32 bits (registered: valid a clock
        after ``i_run_steps`` settles; ``o_steps_pending`` only falls meanwhile).
    i_resetting : In(1)
        Start no step and drop the core's output.
    o_in_flight : Out(1)
        A step has been started and its end-of-step marker not seen.
    o_running : Out(1)
        Steps are pending or one is in flight.
    o_events : Out(stream.Signature(spec.InputEvent))
        To the core's ``i_events``.
    i_spikes : In(stream.Signature(spec.SpikeEvent))
        From the core's ``o_spikes``.
    i_period : In(32)
        With ``pace``: clocks per step (0: free running).
    o_overrun : Out(1)
        With ``pace``: one-clock pulse per period whose step could not start on time.
    """

    @checked_init
    def __init__(self, *, n_neurons, n_inputs, in_depth, out_depth, pace=False):
        self.pace = check_bool("pace", pace)
        self.n_neurons = check_pow2("n_neurons", n_neurons, 2, spec.MAX_NEURONS)
        self.n_inputs = check_int("n_inputs", n_inputs, 0, spec.MAX_INPUTS)
        self.in_depth = check_pow2("in_depth", in_depth, 2, 1 << 24)
        self.out_depth = check_pow2("out_depth", out_depth, 2, 1 << 24)
        #: Bits of a stored channel and of a stored neuron index.
        self.channel_width = max(1, ceil_log2(n_inputs)) if n_inputs else 1
        self.neuron_width = max(1, ceil_log2(n_neurons))
        super().__init__({
            "i_write": In(1),
            "i_channel": In(self.channel_width),
            "i_end": In(1),
            "i_clear": In(1),
            "o_in_level": Out(range(in_depth + 1)),
            "o_out_level": Out(range(out_depth + 1)),
            "o_out": Out(stream.Signature(data.StructLayout(
                {"neuron": self.neuron_width, "eos": 1}))),
            "i_run": In(1),
            "i_run_steps": In(32),
            "i_run_cancel": In(1),
            "o_steps_pending": Out(32),
            "o_run_overflow": Out(1),
            "i_resetting": In(1),
            "o_in_flight": Out(1),
            "o_running": Out(1),
            "o_events": Out(stream.Signature(spec.InputEvent)),
            "i_spikes": In(stream.Signature(spec.SpikeEvent)),
            "i_period": In(32),
            "o_overrun": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cw = self.channel_width
        m.submodules.in_fifo = in_fifo = EventFifo(width=cw + 1, depth=self.in_depth)
        m.submodules.out_fifo = out_fifo = EventFifo(width=self.neuron_width + 1,
                                                     depth=self.out_depth)
        m.d.comb += [
            in_fifo.w_en.eq(self.i_write), in_fifo.w_data.eq(Cat(self.i_channel, self.i_end)),
            in_fifo.clear.eq(self.i_clear), out_fifo.clear.eq(self.i_clear),
            self.o_in_level.eq(in_fifo.level), self.o_out_level.eq(out_fifo.level),
            self.o_out.valid.eq(out_fifo.r_rdy), self.o_out.payload.eq(out_fifo.r_data),
            out_fifo.r_en.eq(self.o_out.ready),
        ]

        # --- steps pending -------------------------------------------------------------
        steps = self.o_steps_pending
        step_ended = Signal()
        dec_owed = Signal()             # a step's end met i_run: taken off a clock later
        dec_now = step_ended | dec_owed
        steps_next = Signal(32)
        pending = Signal()              # steps != 0, a register of its own
        m.d.comb += steps_next.eq(steps)
        with m.If(self.i_run_cancel):
            m.d.comb += steps_next.eq(0)
            m.d.sync += dec_owed.eq(0)
        with m.Elif(self.i_run | dec_now):
            m.d.comb += steps_next.eq(steps + Mux(self.i_run, self.i_run_steps, -1))
            m.d.sync += dec_owed.eq(self.i_run & dec_now)
        # pending = steps_next != 0, from compares of registers only
        pending_next = Mux(self.i_run_cancel, 0,
                           Mux(self.i_run, (steps != 0) | (self.i_run_steps != 0),
                               Mux(dec_now, steps != 1, steps != 0)))
        m.d.sync += [steps.eq(steps_next), pending.eq(pending_next),
                     self.o_run_overflow.eq((steps + self.i_run_steps)[32])]
        in_flight = self.o_in_flight
        m.d.comb += self.o_running.eq(pending | in_flight)

        # END entries in the input buffer: only a write the buffer takes counts, so the
        # count equals the stored END entries whatever the writer does (the link's proof
        # of RESET's answer time after INJECT rests on it, docs/proofs.md)
        ends = Signal(range(self.in_depth + 1))
        ends_dec = Signal()
        with m.If(self.i_clear):
            m.d.sync += ends.eq(0)
        with m.Else():
            m.d.sync += ends.eq(ends + (self.i_write & self.i_end & in_fifo.w_rdy) - ends_dec)

        # --- feeder: input buffer -> two-register pipeline (near, out) -> core ------------
        ev = self.o_events
        near_valid, out_valid = Signal(name="near_valid"), Signal(name="out_valid")
        near_channel = Signal(cw, name="near_channel")
        out_channel = Signal(cw, name="out_channel")
        near_eos, out_eos = Signal(name="near_eos"), Signal(name="out_eos")
        out_free = ~out_valid | ev.ready
        # a skid pair: the buffer is read only while ``near`` is empty and the step's END
        # is not in ``out`` (so never past it), whatever the core's ready says this clock
        fetch = Signal()
        go = 1                          # (paced mode: a tick is owed)
        if self.pace:
            timer = Signal(32)
            tick_owed = Signal()
            tick = Signal()
            m.d.comb += tick.eq((self.i_period != 0) & (timer == 0))
            with m.If(tick | (self.i_period == 0)):
                m.d.sync += timer.eq(Mux(self.i_period == 0, 0, self.i_period - 1))
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
            m.d.comb += self.o_overrun.eq(tick & tick_owed & pending)
            with m.If(~pending | self.i_resetting):
                m.d.sync += tick_owed.eq(0)
            with m.Elif(tick):
                m.d.sync += tick_owed.eq(1)
            go = (self.i_period == 0) | tick_owed
        with m.FSM(name="feeder"):
            with m.State("IDLE"):
                with m.If(pending & ~in_flight & ~self.i_resetting & go):
                    if self.pace:
                        m.d.sync += tick_owed.eq(0)
                    m.d.sync += in_flight.eq(1)
                    with m.If(ends != 0):
                        m.next = "FEED"
                    with m.Else():
                        m.next = "EOS"
            with m.State("FEED"):
                m.d.comb += [
                    ev.valid.eq(out_valid),
                    ev.payload.channel.eq(out_channel),
                    ev.payload.eos.eq(out_eos),
                    in_fifo.r_en.eq(~near_valid & ~(out_valid & out_eos)),
                    fetch.eq(in_fifo.r_en & in_fifo.r_rdy),
                ]
                with m.If(out_valid & ev.ready):
                    m.d.sync += out_valid.eq(0)
                    with m.If(out_eos):
                        m.d.comb += ends_dec.eq(1)
                        m.next = "IDLE"
                with m.If(out_free):
                    with m.If(near_valid):
                        m.d.sync += [out_valid.eq(1), out_channel.eq(near_channel),
                                     out_eos.eq(near_eos), near_valid.eq(0)]
                    with m.Elif(fetch):
                        m.d.sync += [out_valid.eq(1), out_channel.eq(in_fifo.r_data[:cw]),
                                     out_eos.eq(in_fifo.r_data[cw])]
                with m.Elif(fetch):
                    m.d.sync += [near_valid.eq(1), near_channel.eq(in_fifo.r_data[:cw]),
                                 near_eos.eq(in_fifo.r_data[cw])]
            with m.State("EOS"):
                m.d.comb += [ev.valid.eq(1), ev.payload.eos.eq(1)]
                with m.If(ev.ready):
                    m.next = "IDLE"

        # --- core output -> output buffer ------------------------------------------------
        spikes = self.i_spikes
        m.d.comb += [
            spikes.ready.eq(out_fifo.w_rdy | self.i_resetting),
            out_fifo.w_en.eq(spikes.valid & ~self.i_resetting),
            out_fifo.w_data.eq(Cat(spikes.payload.neuron[:self.neuron_width],
                                   spikes.payload.eos)),
        ]
        with m.If(spikes.valid & spikes.ready & spikes.payload.eos):
            m.d.sync += in_flight.eq(0)
            with m.If(pending):
                m.d.comb += step_ended.eq(1)
        return m
