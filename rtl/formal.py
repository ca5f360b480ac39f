"""Formal harnesses: the RTL units under a proof, with the property stated beside them.

Each harness is an ``Elaboratable`` whose free inputs are Amaranth ``AnySeq`` / ``AnyConst``
values and whose properties are ``Assert`` statements (``Assume`` states a
precondition). ``neurofab.prove`` turns one into RTLIL, runs SymbiYosys on it and reports
the verdict; ``docs/proofs.md`` says what every property states.

The reference equations here are written from ``docs/numerics.md``, not from the RTL:
where the RTL folds a rounding into an adder or tests a sign bit, the reference divides,
clamps and compares as the text does, at full precision (Amaranth arithmetic widens, so
every intermediate value below is exact). Every reference takes a ``mutant`` argument
that injects one deliberate error into the statement (``neurofab.prove`` runs them to show
that a proof is not vacuous: each mutant must fail).
"""

from amaranth import Array, Const, Elaboratable, Module, Mux, Signal, Value, signed
from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Assume

from neurofab import spec
from neurofab.spec import alif as SA
from neurofab.spec import adex as SD
from neurofab.spec import izhikevich as SI
from neurofab.spec import lif as SL

from .adex import AdEx
from .alif import Alif
from .core import NeuronCore
from .izhikevich import Izhikevich
from .lif import CubaLif

__all__ = ["KernelEquivalence", "LifRefractory", "CoreSpikeOrder", "REFERENCES",
           "cuba_lif_reference", "alif_reference", "izhikevich_reference",
           "adex_reference", "sat", "rtz_decay"]


# --- operators of docs/numerics.md, at full precision -------------------------------
def sat(x, width):
    """``sat_n(x)``: clamp ``x`` to the signed ``width``-bit rails."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    return Mux(x > hi, hi, Mux(x < lo, lo, x))


def rtz_decay(x, decay, *, floor=False):
    """``rtz(x * (4096 - decay) / 4096)``: ``p >= 0 -> p >> 12``, ``p < 0 ->
    -((-p) >> 12)`` (``floor=True``: the floor quotient, a deliberate error)."""
    p = x * (spec.DECAY_ONE - decay)
    if floor:
        return p >> spec.DECAY_FRAC_BITS
    return Mux(p >= 0, p >> spec.DECAY_FRAC_BITS, -((-p) >> spec.DECAY_FRAC_BITS))


# --- reference statements ------------------------------------------------------------
def cuba_lif_reference(st, acc, p, mutant=None):
    """CUBA-LIF, ``docs/numerics.md`` "Kernel: cuba-lif", one neuron, one step.

    Parameters
    ----------
    st : View of ``spec.lif.STATE`` (or a state word)
    acc : Value, ``signed(ACC_WIDTH)``
    p : View of ``spec.lif.PROFILE``
    mutant : str or None
        ``"floor"`` (the current's decay floors instead of rounding toward zero),
        ``"gt"`` (``spike = v' > threshold``), or ``None``.

    Returns
    -------
    (dict, Value)
        The state after the step (``{field: value}``, exact integers) and the spike.
    """
    W = spec.STATE_WIDTH
    i1 = sat(rtz_decay(st.i, p.decay_i, floor=mutant == "floor") + acc, W)
    refractory = st.ref > 0
    v_in = sat(rtz_decay(st.v, p.decay_v) + i1 + p.bias, W)
    fires = (v_in > p.threshold) if mutant == "gt" else (v_in >= p.threshold)
    spike = ~refractory & fires
    v_fired = Mux(p.reset == spec.Reset.TO_VRESET, p.v_reset, v_in - p.threshold)
    v1 = Mux(refractory, st.v, Mux(spike, v_fired, v_in))
    ref1 = Mux(refractory, st.ref - 1, Mux(spike, p.refractory, 0))
    return {"i": i1, "v": v1, "ref": ref1}, spike


def alif_reference(st, acc, p, mutant=None):
    """ALIF, ``docs/numerics.md`` "Kernel: alif", one neuron, one step.

    ``mutant``: ``"theta"`` (the threshold adapts from the *new* ``a``, i.e. after this
    step's decay), or ``None``.
    """
    W = spec.STATE_WIDTH
    frac = SA.ADAPT_FRAC_BITS
    a_floor = (st.a * (spec.DECAY_ONE - p.decay_a)) >> spec.DECAY_FRAC_BITS   # a >= 0
    a_for_theta = a_floor if mutant == "theta" else st.a
    theta = Mux(p.threshold + (a_for_theta >> (frac + p.adapt_shift)) > spec.STATE_MAX,
                spec.STATE_MAX,
                p.threshold + (a_for_theta >> (frac + p.adapt_shift)))
    i1 = sat(rtz_decay(st.i, p.decay_i) + acc, W)
    refractory = st.ref > 0
    v_in = sat(rtz_decay(st.v, p.decay_v) + i1 + p.bias, W)
    spike = ~refractory & (v_in >= theta)
    v_fired = Mux(p.reset == spec.Reset.TO_VRESET, p.v_reset, v_in - theta)
    v1 = Mux(refractory, st.v, Mux(spike, v_fired, v_in))
    ref1 = Mux(refractory, st.ref - 1, Mux(spike, p.refractory, 0))
    a_inc = a_floor + Mux(spike, p.adapt_inc << frac, 0)
    a1 = Mux(a_inc > SA.ADAPT_MAX, SA.ADAPT_MAX, a_inc)
    return {"i": i1, "v": v1, "ref": ref1, "a": a1}, spike


def izhikevich_reference(st, acc, p, mutant=None):
    """Izhikevich, ``docs/numerics.md`` "Kernel: izhikevich", "The update in integers".

    ``mutant``: ``"peak"`` (``spike = v2 > V_PEAK``), or ``None``.
    """
    def clamp(x, lo, hi):
        return Mux(x < lo, lo, Mux(x > hi, hi, x))

    cur = clamp(acc + p.bias, -32768, 32767)
    q = SI.K_HALF - 16 * st.u + 4096 * cur
    v1 = clamp((st.v * st.v + 28672 * st.v + q) >> 13, SI.V_FLOOR, SI.V_MAX)
    v2 = clamp((v1 * v1 + 28672 * v1 + q) >> 13, SI.V_FLOOR, SI.V_MAX)
    x = clamp(((p.b * st.v) >> 14) - (st.u >> 8), -32768, 32767)
    s = st.u + ((p.a * x) >> 8)
    spike = (v2 > SI.V_PEAK) if mutant == "peak" else (v2 >= SI.V_PEAK)
    v_next = Mux(spike, p.c, v2)
    u_next = Mux(spike, clamp(s + (p.d << 4), SI.U_MIN, SI.U_MAX),
                 clamp(s, SI.U_MIN, SI.U_MAX))
    return {"v": v_next, "u": u_next}, spike


def adex_reference(st, acc, p, mutant=None):
    """AdEx, ``docs/numerics.md`` "Kernel: adex", "The exponential" and "One step".

    ``mutant``: ``"floor"`` (``D`` floors instead of rounding to nearest), or ``None``.
    """
    def rnd(x, s):
        return (x + (1 << (s - 1))) >> s

    def sat_n(x, n):
        return sat(x, n)

    z = st.v - (p.v_t << 9)
    idx = z >> (9 + p.delta_t)                     # k - 5, k = 14 + delta_t
    n = idx >> 5
    j = idx.as_unsigned()[:5]
    t = Array(Const(x, 16) for x in SD.EXP_TABLE)[j]
    s = n + p.delta_t - 8
    s = Mux(s < -16, -16, Mux(s > 3, 3, s))
    e_raw = Mux(s >= 0, t << s.as_unsigned()[:2], t >> (-s).as_unsigned()[:5])
    e = Mux(e_raw > SD.E_MAX, SD.E_MAX, e_raw)
    d_sum = (acc << 10) - st.v - st.w + (e << 8)
    d = sat_n(d_sum >> 10 if mutant == "floor" else rnd(d_sum, 10), 16)
    x = sat_n(rnd(p.alpha * (st.v >> 8) - (st.w << 1), 9), 16)
    w1 = sat_n(st.w + rnd(p.k_w * x, 13), 24)
    v1 = sat_n(st.v + rnd(p.k_m * d, 8), 24)
    peak = (p.v_t << 9) + Array(Const(x, 24) for x in SD.PEAK_OFFSET)[p.delta_t]
    spike = v1 >= peak
    v_next = Mux(spike, p.v_r << 11, v1)
    w_next = Mux(spike, sat_n(w1 + (p.beta << 9), 24), w1)
    return {"v": v_next, "w": w_next}, spike


#: ``{kernel name: (RTL class, reference, profile limits, mutants)}``.
REFERENCES = {
    "cuba-lif": (CubaLif, cuba_lif_reference, SL.LIMITS, ("floor", "gt")),
    "alif": (Alif, alif_reference, SA.LIMITS, ("theta",)),
    "izhikevich": (Izhikevich, izhikevich_reference, SI.LIMITS, ("peak",)),
    "adex": (AdEx, adex_reference, SD.LIMITS, ("floor",)),
}


def _within(view, limits):
    """``lo <= field <= hi`` for every field of ``view`` whose limit is narrower than its
    shape (a conjunction; ``Const(1)`` when none is)."""
    cond = Const(1)
    for name, (lo, hi) in limits.items():
        value = Value.cast(getattr(view, name))
        s = value.shape()
        smin = -(1 << (s.width - 1)) if s.signed else 0
        smax = (1 << (s.width - 1)) - 1 if s.signed else (1 << s.width) - 1
        if lo > smin:
            cond = cond & (value >= lo)
        if hi < smax:
            cond = cond & (value <= hi)
    return cond


class KernelEquivalence(Elaboratable):
    """A pipelined kernel against its reference statement, for every input.

    Every clock the kernel gets a free update (``i_valid``, state word, ``acc``, profile
    inside the kernel's ``LIMITS``: ``Assume``). The reference of that update is computed
    at once and delayed by the kernel's ``LATENCY``; from the ``LATENCY``-th clock on,
    the harness asserts ``o_valid``, ``o_spike`` and every state field (and the profile
    index passed through) equal to the delayed reference, as exact integers. The property
    holds at every clock of an unbounded run: a proof by k-induction covers every input
    sequence, so every update whatever came before it.

    Parameters
    ----------
    kernel : str
        A key of :data:`REFERENCES`.
    mutant : str or None
        Prove against a deliberately wrong reference (must fail).
    """

    def __init__(self, kernel, mutant=None):
        if kernel not in REFERENCES:
            raise ValueError(f"kernel {kernel!r} has no reference statement here "
                             f"(available: {', '.join(REFERENCES)})")
        mutants = REFERENCES[kernel][3]
        if mutant is not None and mutant not in mutants:
            raise ValueError(f"mutant {mutant!r} is not one of kernel {kernel}: "
                             f"{', '.join(mutants)}")
        self.kernel = kernel
        self.mutant = mutant

    def elaborate(self, platform):
        m = Module()
        cls, reference, limits, _ = REFERENCES[self.kernel]
        m.submodules.dut = dut = cls()
        latency = cls.LATENCY

        valid = Signal()
        st = Signal(dut.i_state.shape())
        acc = Signal(signed(spec.ACC_WIDTH))
        p = Signal(dut.i_params.shape())
        m.d.comb += [
            valid.eq(AnySeq(1)),
            st.eq(AnySeq(st.shape().size)),
            acc.eq(AnySeq(spec.ACC_WIDTH)),
            p.eq(AnySeq(p.shape().size)),
            dut.i_valid.eq(valid), dut.i_state.eq(st), dut.i_acc.eq(acc),
            dut.i_params.eq(p),
            Assume(_within(p, limits)),
        ]
        fields, spike = reference(st, acc, p, self.mutant)

        # the expected result, delayed by LATENCY
        def delayed(value, name):
            for k in range(latency):
                reg = Signal(value.shape(), name=f"{name}_d{k + 1}")
                m.d.sync += reg.eq(value)
                value = reg
            return value

        exp = {name: delayed(value, f"exp_{name}") for name, value in fields.items()}
        exp_valid = delayed(valid, "exp_valid")
        exp_spike = delayed(valid & spike, "exp_spike")
        exp_profile = delayed(st.profile, "exp_profile")

        primed = Signal(range(latency + 1))       # clocks seen, saturating at LATENCY
        with m.If(primed < latency):
            m.d.sync += primed.eq(primed + 1)
        with m.If(primed >= latency):
            m.d.comb += [
                Assert(dut.o_valid == exp_valid),
                Assert(dut.o_spike == exp_spike),
                Assert(dut.o_state.profile == exp_profile),
            ]
            with m.If(exp_valid):
                for name, value in exp.items():
                    m.d.comb += Assert(getattr(dut.o_state, name) == value)
        return m


class CoreSpikeOrder(Elaboratable):
    """A neuron core emits every neuron at most once per step, in increasing index order.

    A ``NeuronCore`` (CUBA-LIF) whose every input is free: events and end-of-step markers
    on ``i_events``, any memory request on ``i_mem`` (loads, state writes, ``STEP``
    writes, at any time), any back-pressure on ``o_spikes`` and ``o_mem``. ``prove`` cuts
    the kernel's ``o_spike`` (a free value every clock), so the property holds whatever
    the kernel decides. On every transfer of ``o_spikes`` the harness asserts that a
    spike names a neuron below ``n_neurons`` and above the previous spike of the same
    step (steps end at the ``eos`` transfer).

    Parameters
    ----------
    n_neurons, n_inputs, syn_capacity : int
        Geometry of the core under proof.
    mutant : str or None
        ``"single"``: claim at most one spike per step in total (must fail).
    """

    def __init__(self, *, n_neurons=2, n_inputs=1, syn_capacity=2, mutant=None):
        if mutant not in (None, "single"):
            raise ValueError(f"mutant {mutant!r} is not one of: single")
        self.n_neurons = n_neurons
        self.n_inputs = n_inputs
        self.syn_capacity = syn_capacity
        self.mutant = mutant

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = NeuronCore(n_neurons=self.n_neurons,
                                              n_inputs=self.n_inputs,
                                              syn_capacity=self.syn_capacity)
        for stream_in in (core.i_events, core.i_mem):
            m.d.comb += [stream_in.valid.eq(AnySeq(1)),
                         stream_in.payload.eq(AnySeq(len(stream_in.payload.as_value())))]
        m.d.comb += [core.o_spikes.ready.eq(AnySeq(1)), core.o_mem.ready.eq(AnySeq(1))]

        ev = core.o_spikes.payload
        seen = Signal()                         # a spike of this step has been emitted
        last = Signal.like(ev.neuron)           # ... naming this neuron
        with m.If(core.o_spikes.valid & core.o_spikes.ready):
            with m.If(ev.eos):
                m.d.sync += seen.eq(0)
            with m.Else():
                m.d.sync += [seen.eq(1), last.eq(ev.neuron)]
                m.d.comb += Assert(ev.neuron < self.n_neurons)
                if self.mutant == "single":
                    m.d.comb += Assert(~seen)
                else:
                    m.d.comb += Assert(~seen | (ev.neuron > last))
        return m


class LifRefractory(Elaboratable):
    """The refractory invariant of CUBA-LIF, over an unbounded sequence of updates.

    One neuron is stepped again and again through ``CubaLif``: its state is held in a
    register (initially any value), an update is issued whenever the harness chooses
    (``AnySeq``) and the pipeline is empty, with a free ``acc``, and its result is
    written back. The profile is any constant inside ``LIMITS``. Counting the updates
    completed since the neuron's last spike (``since``), the harness asserts at every
    result:

    * a spike comes at least ``refractory + 1`` updates after the previous one
      (``since >= refractory``): a neuron that fired in step ``t`` fires again in step
      ``t + refractory + 1`` at the earliest;
    * in the ``refractory`` updates after a spike ``v`` is frozen (``v' = v``);

    and, as the induction's strengthening, that the stored ``ref`` counts the frozen
    updates still to come (``ref = refractory - since``, or 0), and that results leave the
    pipeline exactly ``LATENCY`` clocks after their update.

    Parameters
    ----------
    mutant : str or None
        ``"gap"``: claim one more frozen update (``since > refractory``; must fail).
    """

    def __init__(self, mutant=None):
        if mutant not in (None, "gap"):
            raise ValueError(f"mutant {mutant!r} is not one of: gap")
        self.mutant = mutant

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = CubaLif()
        latency = dut.LATENCY
        limit = spec.REF_MAX + 1                # `since` saturates here (> any refractory)

        p = Signal(SL.PROFILE)
        m.d.comb += [p.eq(AnyConst(SL.PROFILE.size)), Assume(_within(p, SL.LIMITS))]

        first = Signal(init=1)
        m.d.sync += first.eq(0)
        stored = Signal(spec.NeuronState)
        cur = Signal(spec.NeuronState)          # the neuron's state now
        m.d.comb += cur.eq(Mux(first, AnyConst(spec.NeuronState.size), stored))

        wait = Signal(range(latency + 1))       # clocks until the update's result
        issue = Signal()
        m.d.comb += [
            issue.eq((wait == 0) & AnySeq(1)),
            dut.i_valid.eq(issue), dut.i_state.eq(cur),
            dut.i_acc.eq(AnySeq(spec.ACC_WIDTH)), dut.i_params.eq(p),
        ]
        with m.If(issue):
            m.d.sync += wait.eq(latency)
        with m.Elif(wait != 0):
            m.d.sync += wait.eq(wait - 1)
        m.d.sync += stored.eq(Mux(dut.o_valid, dut.o_state, cur))

        fired = Signal()                        # the neuron has fired (in this run)
        since = Signal(range(limit + 1))        # updates completed since its last spike
        frozen = fired & (since < p.refractory)
        with m.If(dut.o_valid):
            with m.If(dut.o_spike):
                m.d.sync += [fired.eq(1), since.eq(0)]
                gap = (since > p.refractory) if self.mutant == "gap" else \
                    (since >= p.refractory)
                m.d.comb += Assert(~fired | gap)
            with m.Elif(since < limit):
                m.d.sync += since.eq(since + 1)
            with m.If(frozen):
                m.d.comb += Assert(dut.o_state.v == cur.v)
        m.d.comb += [
            Assert(dut.o_valid == (wait == 1)),
            Assert(~fired | (cur.ref == Mux(frozen, p.refractory - since, 0))),
        ]
        return m
