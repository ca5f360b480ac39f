"""Learning datapath of a learning neuron core: the RTL twin of ``neurofab.golden.learning``.

``docs/numerics.md`` ("Learning") states the arithmetic; every width comes from
``neurofab.spec``. Three components, used by ``rtl.core.NeuronCore(learning=True)``:

* :class:`PostUpdate` — one registered stage in front of the neuron kernel: the kernel's
  homeostasis field replaced by ``clamp(field + sign * (theta >> 8), lo, hi)`` and the two
  possible ``POST`` words of the neuron (it fires / it does not), chosen after the kernel.
* :class:`SynapseUpdate` — the per-synapse update (STDP, three-factor STDP), a pipeline
  taking one synapse per clock.
* :class:`LearnUnit` — the learn phase: walks synapses ``0 .. LEARN_END - 1`` one per clock,
  reads the post-synaptic word by target and the pre-synaptic trace by source, updates
  each source's trace once (at its first plastic synapse, with a "current source"
  register) and writes back every plastic synapse. It also holds this step's pre-event
  flags (one per source, set in the integrate phase, cleared when the phase ends).
"""

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from neurofab import spec
from neurofab.checks import check_int, check_pow2
from neurofab.spec import PlasticSynapse, PostTrace, RuleKind, TraceMode

from .util import checked_init

__all__ = ["PostUpdate", "SynapseUpdate", "LearnUnit", "rtz_decay", "trace_spike",
           "clamp"]


def rtz_decay(m, value, decay, name):
    """``rtz(value * (4096 - decay) / 4096)`` (combinational; ``value`` signed or
    unsigned, the result has its shape)."""
    prod = Signal(signed(len(value) + spec.DECAY_WIDTH + 1), name=f"{name}_prod")
    m.d.comb += prod.eq(value * (spec.DECAY_ONE - decay))
    out = Signal(value.shape(), name=name)
    bits = spec.DECAY_FRAC_BITS
    m.d.comb += out.eq(Mux(prod[-1], (prod + (spec.DECAY_ONE - 1)) >> bits, prod >> bits))
    return out


def trace_spike(value, amp, mode):
    """``spike(x)``: ``amp`` in mode ``NEAREST``, ``min(x + amp, TRACE_MAX)`` else."""
    total = value + amp
    return Mux(mode == TraceMode.NEAREST, amp,
               Mux(total > spec.TRACE_MAX, spec.TRACE_MAX, total))


def clamp(value, lo, hi):
    """``np.clip(value, lo, hi)``: ``min(max(value, lo), hi)``."""
    low = Mux(value < lo, lo, value)
    return Mux(low > hi, hi, low)


class PostUpdate(wiring.Component):
    """The learning core's per-neuron stage in front of the kernel (``LATENCY = 1``).

    Parameters
    ----------
    kernel : Kernel
        The neuron kernel (``neurofab.kernels``): its profile layout, homeostasis field
        and limits.

    Attributes
    ----------
    i_valid : In(1)
    i_params : In(kernel.profile)
        The neuron's profile.
    i_post : In(spec.PostTrace)
        ``POST[n]`` before the update.
    i_homeo : In(spec.Homeo)
        The homeostasis word of the neuron's profile.
    i_traces : In(spec.Traces)
    o_valid : Out(1)
    o_params : Out(kernel.profile)
        ``i_params`` with the homeostasis field replaced by ``clamp(field + sign *
        (theta >> 8), lo, hi)`` (``kernel.homeostasis``; unchanged without one).
    o_fired, o_quiet : Out(spec.PostTrace)
        ``POST[n]`` after the update if the neuron fires / does not fire: ``y =
        rtz_decay(fired ? spike(y) : y, post_decay)``, ``fired``, ``theta = clamp(theta +
        (up if it fires) - down, lo, hi)``.
    """

    LATENCY = 1

    def __init__(self, kernel):
        self.kernel = kernel
        super().__init__({
            "i_valid": In(1), "i_params": In(kernel.profile), "i_post": In(PostTrace),
            "i_homeo": In(spec.Homeo), "i_traces": In(spec.Traces),
            "o_valid": Out(1), "o_params": Out(kernel.profile), "o_fired": Out(PostTrace),
            "o_quiet": Out(PostTrace),
        })

    def elaborate(self, platform):
        m = Module()
        post, homeo, tr = self.i_post, self.i_homeo, self.i_traces
        m.d.sync += [self.o_valid.eq(self.i_valid), self.o_params.eq(self.i_params)]
        if self.kernel.homeostasis is not None:
            field, sign = self.kernel.homeostasis
            lo, hi = self.kernel.limits[field]
            shift = post.theta >> spec.THETA_FRAC_BITS
            value = getattr(self.i_params, field)
            moved = value + shift if sign > 0 else value - shift
            m.d.sync += getattr(self.o_params, field).eq(clamp(moved, lo, hi))
        y_prev = Mux(post.fired, trace_spike(post.y, tr.post_amp, tr.mode), post.y)
        y_prev_r = Signal(unsigned(spec.TRACE_WIDTH), name="y_prev")
        m.d.comb += y_prev_r.eq(y_prev)
        y_new = rtz_decay(m, y_prev_r, tr.post_decay, "y_new")
        quiet = post.theta - homeo.down
        for out, theta, fired in ((self.o_fired, quiet + homeo.up, 1),
                                  (self.o_quiet, quiet, 0)):
            m.d.sync += [out.y.eq(y_new), out.fired.eq(fired),
                         out.theta.eq(clamp(theta, homeo.lo, homeo.hi))]
        return m


class SynapseUpdate(wiring.Component):
    """The per-synapse update of the learn phase: one synapse may enter every clock and
    leaves ``LATENCY`` clocks later (``o_valid`` is ``i_valid`` delayed).

    Stages: 1. the products ``a_minus * y``, ``a_plus * x``, ``elig * (4096 -
    elig_decay)``; 2. ``stdp = pot - dep``, ``e' = sat16(rtz(...) + stdp)``; 3. ``M * e'``;
    4. the weight change (``(M * e') >> m_shift`` or ``stdp``); 5. ``wf' = clamp(wf +
    change, w_min * 256, w_max * 256)``.

    Attributes
    ----------
    i_valid : In(1)
    i_syn : In(spec.PlasticSynapse)
    i_rule : In(spec.Rule)
        The rule of ``i_syn.rule`` (rule 0: anything; a static synapse leaves unchanged).
    i_x, i_y : In(TRACE_WIDTH)
        The source's trace (this step's, already updated) and the target's ``POST.y``.
    i_fired, i_pre : In(1)
        The target fired in this step's update; the source had a pre event in this step.
    i_modulator : In(signed(MOD_WIDTH))
    o_valid : Out(1)
    o_syn : Out(spec.PlasticSynapse)
        The synapse after the update (``weight``, ``frac``, ``elig`` changed).
    """

    LATENCY = 5

    i_valid: In(1)
    i_syn: In(PlasticSynapse)
    i_rule: In(spec.Rule)
    i_x: In(spec.TRACE_WIDTH)
    i_y: In(spec.TRACE_WIDTH)
    i_fired: In(1)
    i_pre: In(1)
    i_modulator: In(signed(spec.MOD_WIDTH))
    o_valid: Out(1)
    o_syn: Out(PlasticSynapse)

    def elaborate(self, platform):
        m = Module()
        TB = spec.TRACE_WIDTH

        def stage(name, value, shape=None):
            reg = Signal(shape if shape is not None else value.shape(), name=name)
            m.d.sync += reg.eq(value)
            return reg

        # 1: products
        rule, syn = self.i_rule, self.i_syn
        v1 = stage("v1", self.i_valid)
        dep1 = stage("dep1", Mux(self.i_pre, rule.a_minus * self.i_y, 0),
                     unsigned(spec.AMP_WIDTH + TB))
        pot1 = stage("pot1", Mux(self.i_fired, rule.a_plus * self.i_x, 0),
                     unsigned(spec.AMP_WIDTH + TB))
        eprod1 = stage("eprod1", syn.elig * (spec.DECAY_ONE - rule.elig_decay),
                       signed(spec.ELIG_WIDTH + spec.DECAY_WIDTH + 1))
        syn1, rule1 = stage("syn1", syn), stage("rule1", rule)
        mod1 = stage("mod1", self.i_modulator)
        # 2: stdp, eligibility
        bits = spec.DECAY_FRAC_BITS
        e_dec = Mux(eprod1[-1], (eprod1 + (spec.DECAY_ONE - 1)) >> bits, eprod1 >> bits)
        stdp = (pot1 >> TB) - (dep1 >> TB)
        v2 = stage("v2", v1)
        stdp2 = stage("stdp2", stdp, signed(spec.AMP_WIDTH + 1))
        e2 = stage("e2", clamp(e_dec + stdp, spec.ELIG_MIN, spec.ELIG_MAX),
                   signed(spec.ELIG_WIDTH))
        syn2, rule2, mod2 = stage("syn2", syn1), stage("rule2", rule1), stage("mod2", mod1)
        # 3: M * e'
        v3 = stage("v3", v2)
        prod3 = stage("prod3", mod2 * e2, signed(spec.MOD_WIDTH + spec.ELIG_WIDTH))
        stdp3, e3 = stage("stdp3", stdp2), stage("e3", e2)
        syn3, rule3 = stage("syn3", syn2), stage("rule3", rule2)
        # 4: the change of wf
        rstdp = rule3.kind == RuleKind.RSTDP
        v4 = stage("v4", v3)
        change4 = stage("change4", Mux(rstdp, prod3 >> rule3.m_shift, stdp3),
                        signed(spec.MOD_WIDTH + spec.ELIG_WIDTH))
        e4 = stage("e4", Mux(rstdp, e3, syn3.elig))
        syn4, rule4 = stage("syn4", syn3), stage("rule4", rule3)
        # 5: clamp and write
        wf = Cat(syn4.frac, syn4.weight).as_signed()
        fb = spec.FRAC_BITS
        new = Signal(signed(spec.MOD_WIDTH + spec.ELIG_WIDTH + 1))
        m.d.comb += new.eq(clamp(wf + change4, rule4.w_min << fb, rule4.w_max << fb))
        static = syn4.rule == 0
        m.d.sync += [self.o_valid.eq(v4), self.o_syn.eq(syn4)]
        with m.If(~static):
            m.d.sync += [self.o_syn.weight.eq(new[fb:]), self.o_syn.frac.eq(new[:fb]),
                         self.o_syn.elig.eq(e4)]
        return m


class LearnUnit(wiring.Component):
    """The learn phase of a learning core (``docs/numerics.md``, "Learning", "Hardware").

    Parameters
    ----------
    n_neurons : int
        Neurons of the core (a power of two).
    n_sources : int
        CSR sources (``n_neurons + n_inputs``).
    syn_capacity : int
        Depth of the synapse memory.

    Attributes
    ----------
    i_start : In(1)
        Pulse: start the learn phase (visit synapses ``0 .. min(LEARN_END,
        syn_capacity) - 1``).
    o_busy : Out(1)
        High from ``i_start`` until the last synapse is written and the pre-event flags
        are cleared.
    i_learn_end, i_traces, i_modulator, i_rules
        The registers ``LEARN_END``, ``TRACES``, ``MODULATOR`` and the rule table (entry
        0: static).
    i_event, i_event_src : In(1), In(range(n_sources))
        A pre event of source ``i_event_src`` in this step (integrate phase).
    o_syn_addr : Out
        Synapse read address; the word read is expected on ``i_syn`` two clocks later
        (the memory's read plus the core's register).
    o_post_addr, o_pre_addr : Out
        ``POST`` and ``PRE`` read addresses (from ``i_syn``); their words are expected on
        ``i_post`` and ``i_x`` two clocks later.
    o_pre_we, o_pre_waddr, o_pre_wdata : Out
        The write of a source's new trace (at its first plastic synapse).
    o_syn_we, o_syn_waddr, o_syn_wdata : Out
        The write-back of a plastic synapse.

    Notes
    -----
    From ``i_start`` to ``o_busy`` low: ``K + LATENCY`` clocks, ``K = min(LEARN_END,
    syn_capacity)``.
    """

    @checked_init
    def __init__(self, n_neurons, n_sources, syn_capacity):
        self.n_neurons = check_pow2("n_neurons", n_neurons, 2, spec.MAX_NEURONS)
        self.n_sources = check_int("n_sources", n_sources, n_neurons,
                                   spec.MAX_NEURONS + spec.MAX_INPUTS)
        self.syn_capacity = check_int("syn_capacity", syn_capacity, 1, spec.MAX_SYNAPSES)
        #: clocks from i_start to o_busy low, beyond one per synapse visited
        self.LATENCY = 7 + SynapseUpdate.LATENCY
        syn_bits = max(1, ceil_log2(syn_capacity))
        src = range(n_sources)
        super().__init__({
            "i_start": In(1), "o_busy": Out(1),
            "i_learn_end": In(unsigned(ceil_log2(syn_capacity + 1))),
            "i_traces": In(spec.Traces), "i_modulator": In(signed(spec.MOD_WIDTH)),
            "i_rules": In(data.ArrayLayout(spec.Rule, spec.RULE_COUNT)),
            "i_event": In(1), "i_event_src": In(src),
            "o_syn_addr": Out(syn_bits), "i_syn": In(PlasticSynapse),
            "o_post_addr": Out(range(n_neurons)), "o_pre_addr": Out(src),
            "i_post": In(PostTrace), "i_x": In(spec.TRACE_WIDTH),
            "o_pre_we": Out(1), "o_pre_waddr": Out(src),
            "o_pre_wdata": Out(spec.TRACE_WIDTH),
            "o_syn_we": Out(1), "o_syn_waddr": Out(syn_bits), "o_syn_wdata": Out(PlasticSynapse),
        })

    def elaborate(self, platform):
        m = Module()
        NB = ceil_log2(self.n_neurons)
        SB = len(self.o_pre_addr)
        flags = Signal(self.n_sources)          # this step's pre events
        with m.If(self.i_event):
            m.d.sync += flags.bit_select(self.i_event_src, 1).eq(1)

        # L0: issue synapse k
        active, running = Signal(), Signal()
        k = Signal(range(self.syn_capacity + 1))
        inflight = Signal(range(self.LATENCY + 2))
        issue = running & (k < self.i_learn_end) & (k < self.syn_capacity)
        m.d.comb += [self.o_syn_addr.eq(k), self.o_busy.eq(active | self.i_start)]
        with m.If(self.i_start):
            m.d.sync += [active.eq(1), running.eq(1), k.eq(0)]
        with m.Elif(issue):
            m.d.sync += k.eq(k + 1)
        with m.Else():
            m.d.sync += running.eq(0)
        m.submodules.syn_update = su = SynapseUpdate()
        m.d.sync += inflight.eq(inflight + issue - su.o_valid)
        with m.If(active & ~running & ~self.i_start & (inflight == 0)):
            m.d.sync += [active.eq(0), flags.eq(0)]

        # L1: the memory reads; L2: the word is on i_syn: read POST and PRE
        def delayed(name, value, n):
            regs = [value]
            for j in range(n):
                regs.append(Signal(value.shape(), name=f"{name}{j + 1}"))
                m.d.sync += regs[-1].eq(regs[-2])
            return regs

        v = delayed("l_valid", issue, 5)
        addr = delayed("l_addr", k[:len(self.o_syn_addr)], 5 + SynapseUpdate.LATENCY)
        syn2 = self.i_syn
        m.d.comb += [self.o_post_addr.eq(syn2.target[:NB]), self.o_pre_addr.eq(syn2.source[:SB])]
        # L3: the pre flag; L4: POST and x are on i_post, i_x
        syn3, syn4 = Signal(PlasticSynapse), Signal(PlasticSynapse)
        pre4 = Signal()
        m.d.sync += [syn3.eq(syn2), syn4.eq(syn3),
                     pre4.eq(flags.bit_select(syn3.source[:SB], 1))]
        # L4: the source's trace, once per step at its first plastic synapse
        tr = self.i_traces
        cur_valid, cur_src = Signal(), Signal(SB)
        cur_x = Signal(spec.TRACE_WIDTH)
        plastic = v[4] & (syn4.rule != 0)
        first = plastic & (~cur_valid | (syn4.source[:SB] != cur_src))
        x_dec = rtz_decay(m, self.i_x, tr.pre_decay, "x_dec")
        x_new = Signal(spec.TRACE_WIDTH)
        m.d.comb += x_new.eq(Mux(pre4, trace_spike(x_dec, tr.pre_amp, tr.mode), x_dec))
        x = Mux(first, x_new, cur_x)
        with m.If(self.i_start):
            m.d.sync += cur_valid.eq(0)
        with m.Elif(plastic):
            m.d.sync += [cur_valid.eq(1), cur_src.eq(syn4.source[:SB]), cur_x.eq(x)]
        m.d.comb += [self.o_pre_we.eq(first), self.o_pre_waddr.eq(syn4.source[:SB]),
                     self.o_pre_wdata.eq(x_new)]
        # L5: the synapse update
        rule = Signal(spec.Rule)
        with m.Switch(syn4.rule):
            for r in range(1, spec.RULE_COUNT):
                with m.Case(r):
                    m.d.sync += rule.eq(self.i_rules[r])
            with m.Default():
                m.d.sync += rule.eq(0)
        m.d.sync += [su.i_valid.eq(v[4]), su.i_syn.eq(syn4), su.i_x.eq(x),
                     su.i_y.eq(self.i_post.y), su.i_fired.eq(self.i_post.fired),
                     su.i_pre.eq(pre4)]
        m.d.comb += [su.i_rule.eq(rule), su.i_modulator.eq(self.i_modulator)]
        # write-back
        m.d.comb += [self.o_syn_we.eq(su.o_valid & (su.o_syn.rule != 0)),
                     self.o_syn_waddr.eq(addr[-1]), self.o_syn_wdata.eq(su.o_syn)]
        return m
