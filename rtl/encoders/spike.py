"""Spike encoders: per-channel values in, the neuron core's ``InputEvent`` stream out.

Golden twin and semantics: ``neurofab.golden.encoders.spike``.

Common interface
----------------
i_value : In(stream.Signature(unsigned(width)))
    One value per input channel per step, channels in order ``0 .. channels-1``; the
    step ends after channel ``channels - 1`` (no separate marker on the input).
o_event : Out(stream.Signature(spec.InputEvent))
    The step's events in increasing channel order, then ``{eos: 1, channel: 0}``.
    Registered; one decision per clock (rate, latency, delta: one per value; population:
    ``fields`` per value, the value is held on ``i_value`` until its last field).

Rate and latency decide in the clock that takes the value. Delta and population
(``pipelined``) take the value into a stage register with what they read or compute from it
(delta: the previous value out of its memory; population: ``|x - centre|``) and decide from
those registers in the next clock: one clock more from value to event, the same events and
still one decision per clock.

Attributes ``channel`` (input channel of the next value) and ``field`` (next field)
are the position within the step; each encoder adds its own state (``lfsr``, ``step``,
``prev`` memory).
"""

from amaranth import Array, Const, Module, Mux, Signal, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from neurofab import spec
from neurofab.spec import encoders as S
from ..util import checked_init
from ._util import lfsr_next

__all__ = ["ENCODERS", "RateEncoder", "LatencyEncoder", "DeltaEncoder",
           "PopulationEncoder"]


class _SpikeEncoder(wiring.Component):
    fields = 1
    out_per_channel = 1

    def _init_ports(self, channels, width, max_width=S.ENC_MAX_WIDTH):
        width = S.check_enc_width(width, max_width)
        channels = S.check_channels("channels", channels, spec.MAX_INPUTS)
        self.channels, self.width = channels, width
        out = channels * self.out_per_channel
        if out > spec.MAX_INPUTS:
            raise ValueError(f"{type(self).__name__} drives {out} core channels, more than "
                             f"spec.MAX_INPUTS = {spec.MAX_INPUTS}")
        super().__init__({
            "i_value": In(stream.Signature(unsigned(width))),
            "o_event": Out(stream.Signature(spec.InputEvent)),
        })
        self.channel = Signal(range(channels))
        self.field = Signal(range(self.fields))
        return channels, width

    #: decide a clock after taking the value, from registers (``_stage``, then ``_decide``)
    pipelined = False

    # subclass hooks ------------------------------------------------------------------
    def _decide(self, m, decide, chan_next):
        """Return ``(fire, core_channel)`` for the current value/channel/field; add sync
        updates of the encoder's own state under ``decide``. Pipelined encoders: the
        decision on the stage registers, ``decide`` its strobe, ``chan_next`` None."""
        raise NotImplementedError

    def _stage(self, m, take, chan_next):
        """Pipelined encoders: register under ``take`` what ``_decide`` needs of the current
        value/channel/field (``chan_next``: the channel of the next value taken)."""
        raise NotImplementedError

    def _hold(self):
        """Pipelined encoders: a register that keeps the encoder from taking a value."""
        return Const(0)

    def _end_of_step(self, m):
        """Sync updates when the end-of-step marker is loaded."""

    # ---------------------------------------------------------------------------------
    def elaborate(self, platform):
        if self.pipelined:
            return self._elaborate_pipelined()
        m = Module()
        i, o = self.i_value, self.o_event
        eos_pending = Signal()
        free = ~o.valid | o.ready
        last_field = self.field == self.fields - 1
        last_chan = self.channel == self.channels - 1
        can = free & ~eos_pending
        decide = i.valid & can
        m.d.comb += i.ready.eq(can & last_field)
        chan_next = Signal.like(self.channel)
        m.d.comb += chan_next.eq(self.channel)
        with m.If(decide & last_field):
            m.d.comb += chan_next.eq(Mux(last_chan, 0, self.channel + 1))
        fire, core_channel = self._decide(m, decide, chan_next)
        step_done = last_field & last_chan

        with m.If(decide):
            m.d.sync += [
                self.field.eq(Mux(last_field, 0, self.field + 1)),
                self.channel.eq(chan_next),
            ]
        self._emit(m, decide, fire, core_channel, step_done, eos_pending, free)
        return m

    def _emit(self, m, decide, fire, core_channel, step_done, eos_pending, free):
        """The event register: ``fire`` -> the core channel (and, for the step's last
        decision, the end-of-step marker owed next); a silent last decision -> the marker
        now; an owed marker once the register is free."""
        o = self.o_event
        with m.If(o.valid & o.ready):
            m.d.sync += o.valid.eq(0)
        with m.If(decide):
            with m.If(fire):
                m.d.sync += [
                    o.valid.eq(1),
                    o.payload.channel.eq(core_channel),
                    o.payload.eos.eq(0),
                    eos_pending.eq(step_done),
                ]
            with m.Elif(step_done):
                m.d.sync += [o.valid.eq(1), o.payload.channel.eq(0), o.payload.eos.eq(1)]
                self._end_of_step(m)
        with m.Elif(eos_pending & free):
            m.d.sync += [o.valid.eq(1), o.payload.channel.eq(0), o.payload.eos.eq(1),
                         eos_pending.eq(0)]
            self._end_of_step(m)

    def _elaborate_pipelined(self):
        # stage 1 takes the value (``take``: counters, ``_stage`` registers); stage 2 decides
        # from the stage registers into the event register (``go``), as ``decide`` above
        m = Module()
        i, o = self.i_value, self.o_event
        eos_pending = Signal()
        s_valid = Signal()          # the stage holds a value's decision
        s_last = Signal()           # ... of the step's last channel and field
        free = ~o.valid | o.ready
        go = s_valid & free & ~eos_pending
        s_free = ~s_valid | go
        last_field = self.field == self.fields - 1
        last_chan = self.channel == self.channels - 1
        hold = self._hold()
        take = i.valid & s_free & ~hold
        m.d.comb += i.ready.eq(s_free & last_field & ~hold)
        chan_next = Signal.like(self.channel)
        m.d.comb += chan_next.eq(self.channel)
        with m.If(take & last_field):
            m.d.comb += chan_next.eq(Mux(last_chan, 0, self.channel + 1))
        self._stage(m, take, chan_next)
        fire, core_channel = self._decide(m, go, None)

        with m.If(take):
            m.d.sync += [
                self.field.eq(Mux(last_field, 0, self.field + 1)),
                self.channel.eq(chan_next),
                s_valid.eq(1),
                s_last.eq(last_field & last_chan),
            ]
        with m.Elif(go):
            m.d.sync += s_valid.eq(0)

        self._emit(m, go, fire, core_channel, s_last, eos_pending, free)
        return m


class _BernoulliEncoder(_SpikeEncoder):
    def _init_rng(self, seed, rand_width, leap):
        self.rand_width = rand_width = S.check_rand_width(rand_width, self.width)
        self.leap = (S.default_leap(rand_width) if leap is None
                     else S.check_lfsr_leap(rand_width, leap))
        self.seed = seed = S.check_lfsr_seed(rand_width, seed)
        self.lfsr = Signal(rand_width, init=seed)

    def _draw(self, m, decide):
        with m.If(decide):
            m.d.sync += self.lfsr.eq(lfsr_next(self.lfsr, self.rand_width, leap=self.leap))
        return self.lfsr[self.rand_width - self.width:]


class RateEncoder(_BernoulliEncoder):
    """Bernoulli rate coding: channel ``c`` spikes iff ``lfsr_top < x`` (one LFSR draw per
    channel per step).

    Parameters: ``channels``, ``width`` (value bits, default 8), ``seed`` (non-zero),
    ``rand_width`` (LFSR width >= width, default 16), ``leap`` (LFSR clocks per draw,
    default ``spec.default_leap(rand_width)``). State: ``lfsr``.
    """

    @checked_init
    def __init__(self, channels, width=S.ENC_DEFAULT_WIDTH, *, seed=1,
                 rand_width=S.ENC_DEFAULT_RAND_WIDTH, leap=None):
        channels, width = self._init_ports(channels, width)
        self._init_rng(seed, rand_width, leap)

    def _decide(self, m, decide, chan_next):
        r = self._draw(m, decide)
        return r < self.i_value.payload, self.channel


class LatencyEncoder(_SpikeEncoder):
    """Time-to-first-spike: channel ``c`` spikes in window step ``k`` iff ``x >= 1`` and
    ``((2**width - 1 - x) * window) >> width == k``. State: ``phase`` (0..window-1, the
    step within the window; advances with every end-of-step marker)."""

    @checked_init
    def __init__(self, channels, width=S.ENC_DEFAULT_WIDTH, *, window=16):
        self.window = window = S.check_window(window)
        channels, width = self._init_ports(channels, width)
        self.phase = Signal(range(window))

    def _decide(self, m, decide, chan_next):
        x = self.i_value.payload
        top = (1 << self.width) - 1
        latency = ((x ^ top) * self.window) >> self.width      # x ^ top == top - x
        return (x != 0) & (latency == self.phase), self.channel

    def _end_of_step(self, m):
        m.d.sync += self.phase.eq(Mux(self.phase == self.window - 1, 0, self.phase + 1))


class DeltaEncoder(_SpikeEncoder):
    """ON/OFF delta coding: ``d = x - prev[c]``; ``d >= threshold`` -> core channel ``2c``,
    ``-d >= threshold`` -> ``2c + 1``; then ``prev[c] = x``. ``prev`` is a memory of
    ``channels`` words, zero at reset (attribute ``prev``, an ``amaranth.lib.memory``).

    Pipelined: ``x`` and ``prev[c]`` are registered when ``x`` is taken, ``d`` and the
    compares are the next clock's. The memory's ports see registers only (the stream's
    ``ready`` reaches no block-RAM port): the read port always fetches the channel after
    the current one (``prev[c]`` is kept in ``p_cur`` while no value is taken), and
    ``prev[c] = x`` is written the clock after the take (forwarded to a take of the same
    channel in that clock). After a reset (``i_flush``) the encoder takes no value for one
    clock while ``prev[0]`` is fetched: the previous values are kept."""

    out_per_channel = 2
    pipelined = True

    @checked_init
    def __init__(self, channels, width=S.ENC_DEFAULT_WIDTH, *, threshold=1):
        channels, width = self._init_ports(channels, width)
        self.threshold = threshold = S.check_threshold(threshold, width)
        self.prev = memory.Memory(shape=unsigned(width), depth=channels, init=[])
        # ports belong to the memory, so they are made once here: elaborate() may run twice
        self._wr = self.prev.write_port()
        self._rd = self.prev.read_port(domain="sync", transparent_for=(self._wr,))

    def _hold(self):
        self._fresh = Signal(init=1)
        return self._fresh

    def _stage(self, m, take, chan_next):
        m.submodules.prev = self.prev
        wr, rd = self._wr, self._rd
        x = self.i_value.payload
        c, last = self.channel, self.channels - 1
        fresh = self._fresh                   # just reset: rd.data is not prev[c] yet
        took = Signal()                       # a value was taken last clock: c advanced
        w_en, w_addr, w_data = Signal(), Signal.like(c), Signal(self.width)  # write queue
        p_cur = Signal(self.width)            # prev[c] while no value is taken
        p_now = Signal(self.width)
        m.d.comb += [
            rd.addr.eq(Mux(fresh | (c == last), 0, c + 1)),   # next channel's reference
            wr.addr.eq(w_addr), wr.data.eq(w_data), wr.en.eq(w_en),
            p_now.eq(Mux(w_en & (w_addr == c), w_data, Mux(took, rd.data, p_cur))),
        ]
        m.d.sync += [fresh.eq(0), took.eq(take | fresh), p_cur.eq(p_now), w_en.eq(take),
                     w_addr.eq(c), w_data.eq(x)]
        self._s_x = Signal(self.width)
        self._s_prev = Signal(self.width)
        self._s_chan = Signal(range(2 * self.channels))
        with m.If(take):
            m.d.sync += [self._s_x.eq(x), self._s_prev.eq(p_now),
                         self._s_chan.eq(2 * c)]

    def _decide(self, m, decide, chan_next):
        d = self._s_x - self._s_prev         # signed, width + 1 bits
        on = d >= self.threshold
        off = d <= -self.threshold
        return on | off, Mux(off, self._s_chan + S.DELTA_OFF, self._s_chan + S.DELTA_ON)


class PopulationEncoder(_BernoulliEncoder):
    """Gaussian population coding: channel ``c`` drives core channels ``c*fields + j``;
    field ``j`` spikes iff ``lfsr_top < lut[|x - centers[j]|]`` (``spec.population_table``),
    one LFSR draw per field, ``fields`` clocks per value. The table is a ROM of
    ``2**width`` entries (``width <= spec.POP_MAX_WIDTH``). State: ``lfsr``. Pipelined:
    ``|x - centre|`` is registered when the field is taken; the table read and the compare
    with the field's LFSR draw are the next clock's."""

    pipelined = True

    @checked_init
    def __init__(self, channels, width=S.ENC_DEFAULT_WIDTH, *, fields=S.POP_DEFAULT_FIELDS,
                 sigma=None, peak=None, seed=1, rand_width=S.ENC_DEFAULT_RAND_WIDTH, leap=None):
        self.fields = fields = S.check_fields(fields)
        self.out_per_channel = fields
        channels, width = self._init_ports(channels, width, S.POP_MAX_WIDTH)
        self._init_rng(seed, rand_width, leap)
        self.centers, self.lut = S.population_table(width, fields, sigma, peak)
        self.rom = memory.Memory(shape=unsigned(width), depth=1 << width, init=self.lut)
        self._rd = self.rom.read_port(domain="comb")

    def _stage(self, m, take, chan_next):
        x = self.i_value.payload
        center = Array(Const(c, self.width) for c in self.centers)[self.field]
        diff = x - center
        self._s_dist = Signal(self.width)
        self._s_chan = Signal(range(self.channels * self.fields))
        with m.If(take):
            m.d.sync += [self._s_dist.eq(Mux(diff < 0, -diff, diff)[:self.width]),
                         self._s_chan.eq(self.channel * self.fields + self.field)]

    def _decide(self, m, decide, chan_next):
        m.submodules.rom = self.rom
        rd = self._rd
        m.d.comb += rd.addr.eq(self._s_dist)
        r = self._draw(m, decide)
        return r < rd.data, self._s_chan


#: ``spec.ENCODER_KINDS`` name -> class
ENCODERS = {"rate": RateEncoder, "latency": LatencyEncoder, "delta": DeltaEncoder,
            "population": PopulationEncoder}
