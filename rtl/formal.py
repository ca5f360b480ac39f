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

from amaranth import (Array, Cat, ClockDomain, Const, Elaboratable, Fragment, Module, Mux,
                      Signal, Value, signed)
from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Assume
from amaranth.utils import ceil_log2

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
from .link import LinkController

__all__ = ["Harness", "Products", "REFERENCES", "KernelEquivalence", "LifRefractory",
           "CoreSpikeOrder", "AccumulatorBound", "LinkAnswer",
           "cuba_lif_reference", "alif_reference", "izhikevich_reference", "adex_reference",
           "sat", "rtz_decay"]


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


class Harness(Elaboratable):
    """Base of the harnesses: one ``sync`` domain without reset, whose clock is the one
    port (``ports``): the solver's global clock. A harness starts from the initial
    values (or from any state, in an induction step); a reset is not an input the
    properties are about."""

    def __init__(self):
        self.domain = ClockDomain("sync", reset_less=True)

    @property
    def ports(self):
        """The ports to give ``amaranth.back.rtlil.convert``."""
        return [self.domain.clk]

    def _module(self):
        m = Module()
        m.domains.sync = self.domain
        return m


class Products:
    """How a reference statement multiplies: directly (the default), or, in
    :class:`KernelEquivalence`, with the kernel's own multipliers.

    Parameters
    ----------
    st, acc, p
        The reference's inputs.
    """

    def __init__(self, st, acc, p):
        self.st, self.acc, self.p = st, acc, p

    def inputs(self, fa, fb):
        """``fa(st, acc, p) * fb(st, acc, p)``: a product of two functions of the inputs."""
        return fa(self.st, self.acc, self.p) * fb(self.st, self.acc, self.p)

    def registers(self, a_name, a, b_name, b, stage):
        """``a * b``, where the kernel multiplies its registers ``a_name`` and ``b_name``
        (holding ``a`` and ``b`` ``stage`` clocks after the update entered)."""
        return a * b

    def cut(self, name, value, stage):
        """``value``, which the kernel's register ``name`` holds ``stage`` clocks after
        the update entered (a harness may continue from the register)."""
        return value


# --- reference statements ------------------------------------------------------------
def cuba_lif_reference(st, acc, p, mutant=None, mul=None):
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


def alif_reference(st, acc, p, mutant=None, mul=None):
    """ALIF, ``docs/numerics.md`` "Kernel: alif", one neuron, one step.

    ``mutant``: ``"theta"`` (the threshold adapts from the *new* ``a``, i.e. after this
    step's decay), or ``None``.
    """
    W = spec.STATE_WIDTH
    frac = SA.ADAPT_FRAC_BITS
    # rtz_decay(a, decay_a) of a >= 0 is the floor (a * k) >> 12, k = 4096 - decay_a,
    # stated as docs/numerics.md splits it ("Hardware"): a = a_hi * 4096 + a_lo gives
    # (a * k) >> 12 = a_hi * k + ((a_lo * k) >> 12) exactly (4096 a_hi k is a multiple of
    # 4096). k (3841 .. 4096) is an unsigned 13-bit operand. A solver proves products of
    # the same operands equal at once, a product and its split form (or a product of
    # differently extended operands) only by a search through the multiplier's bits.
    keep_a = (spec.DECAY_ONE - p.decay_a).as_unsigned()[:spec.DECAY_WIDTH]
    a_hi, a_lo = st.a[spec.DECAY_FRAC_BITS:], st.a[:spec.DECAY_FRAC_BITS]
    a_floor = a_hi * keep_a + ((a_lo * keep_a) >> spec.DECAY_FRAC_BITS)
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


def izhikevich_reference(st, acc, p, mutant=None, mul=None):
    """Izhikevich, ``docs/numerics.md`` "Kernel: izhikevich", "The update in integers".

    ``mutant``: ``"peak"`` (``spike = v2 > V_PEAK``), or ``None``. ``mul`` (see
    :class:`KernelEquivalence`) takes the products ``a*x`` and ``v1*v1`` from the
    kernel's operand registers and cuts at ``v1`` and ``s``.
    """
    mul = Products(st, acc, p) if mul is None else mul

    def clamp(x, lo, hi):
        return Mux(x < lo, lo, Mux(x > hi, hi, x))

    cur = clamp(acc + p.bias, -32768, 32767)
    q = SI.K_HALF - 16 * st.u + 4096 * cur
    vv = mul.inputs(lambda st, acc, p: st.v, lambda st, acc, p: st.v)
    v1 = mul.cut("s3_v1", clamp((vv + 28672 * st.v + q) >> 13, SI.V_FLOOR, SI.V_MAX), 3)
    v2 = clamp((mul.registers("s3_v1", v1, "s3_v1", v1, 3) + 28672 * v1 + q) >> 13,
               SI.V_FLOOR, SI.V_MAX)
    bv = mul.inputs(lambda st, acc, p: p.b, lambda st, acc, p: st.v)
    x = clamp((bv >> 14) - (st.u >> 8), -32768, 32767)
    s = mul.cut("s4_s", st.u + (mul.registers("s2_a", p.a, "s2_x", x, 2) >> 8), 4)
    spike = (v2 > SI.V_PEAK) if mutant == "peak" else (v2 >= SI.V_PEAK)
    v_next = Mux(spike, p.c, v2)
    u_next = Mux(spike, clamp(s + (p.d << 4), SI.U_MIN, SI.U_MAX),
                 clamp(s, SI.U_MIN, SI.U_MAX))
    return {"v": v_next, "u": u_next}, spike


def adex_reference(st, acc, p, mutant=None, mul=None):
    """AdEx, ``docs/numerics.md`` "Kernel: adex", "The exponential" and "One step".

    ``mutant``: ``"floor"`` (``D`` floors instead of rounding to nearest), or ``None``.
    ``mul`` (see :class:`KernelEquivalence`) takes the products ``k_w*X`` and ``k_m*D``
    from the kernel's operand registers and cuts at ``E`` and ``w1``.
    """
    mul = Products(st, acc, p) if mul is None else mul
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
    e = mul.cut("s3_e", Mux(e_raw > SD.E_MAX, SD.E_MAX, e_raw), 3)
    d_sum = (acc << 10) - st.v - st.w + (e << 8)
    d = sat_n(d_sum >> 10 if mutant == "floor" else rnd(d_sum, 10), 16)
    av = mul.inputs(lambda st, acc, p: p.alpha, lambda st, acc, p: st.v >> 8)
    x = sat_n(rnd(av - (st.w << 1), 9), 16)
    w1 = mul.cut("s4_w1", sat_n(st.w + rnd(mul.registers("s2_k_w", p.k_w, "s2_x", x, 2),
                                              13), 24), 4)
    v1 = sat_n(st.v + rnd(mul.registers("s4_k_m", p.k_m, "s4_d", d, 4), 8), 24)
    peak = (p.v_t << 9) + Array(Const(x, 24) for x in SD.PEAK_OFFSET)[p.delta_t]
    spike = v1 >= peak
    v_next = Mux(spike, p.v_r << 11, v1)
    w_next = Mux(spike, sat_n(w1 + (p.beta << 9), 24), w1)
    return {"v": v_next, "w": w_next}, spike


#: ``{kernel name: (RTL class, reference, profile limits, mutants, late)}``; ``late``:
#: the reference takes products of kernel registers (:class:`KernelEquivalence`).
REFERENCES = {
    "cuba-lif": (CubaLif, cuba_lif_reference, SL.LIMITS, ("floor", "gt"), False),
    "alif": (Alif, alif_reference, SA.LIMITS, ("theta",), False),
    "izhikevich": (Izhikevich, izhikevich_reference, SI.LIMITS, ("peak",), True),
    "adex": (AdEx, adex_reference, SD.LIMITS, ("floor",), True),
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


def _registers(fragment):
    """``{name: Signal}`` of the signals an elaborated unit assigns whole (its pipeline
    registers, by the names its source gives them)."""
    regs = {}
    for statements in fragment.statements.values():
        for stmt in statements:
            lhs = getattr(stmt, "lhs", None)
            if isinstance(lhs, Signal):
                regs.setdefault(lhs.name, lhs)
    return regs


def _unit_signals(fragment, unit, *path):
    """``{name: Signal}`` of every signal that the elaborated ``fragment`` (or its
    subfragment at ``path``, by submodule names) assigns anywhere, inside ``If``,
    ``Switch`` and ``FSM`` blocks too: the unit's registers by their source names.
    ``unit`` names the unit in the error raised when a name is missing."""
    fragment = _subfragment(fragment, unit, *path)
    found = {}
    for statements in fragment.statements.values():
        for stmt in statements:
            for sig in stmt._lhs_signals():
                found.setdefault(sig.name, sig)
    return _Named(unit, found)


def _subfragment(fragment, unit, *path):
    """The subfragment of the elaborated ``fragment`` at ``path`` (by submodule names)."""
    for name in path:
        subs = {sub_name: sub for sub, sub_name, *_ in fragment.subfragments}
        if name not in subs:
            raise ValueError(f"{unit} has no submodule {name!r} (its submodules: "
                             f"{', '.join(sorted(str(n) for n in subs))})")
        fragment = subs[name]
    return fragment


class _Named(dict):
    """``{name: Signal}`` whose missing names are reported with the unit's names."""

    def __init__(self, unit, signals):
        super().__init__(signals)
        self.unit = unit

    def __missing__(self, name):
        raise ValueError(f"{self.unit} has no register {name!r} (its registers: "
                         f"{', '.join(sorted(self))})")


def _fsm_states(state):
    """``{state name: encoding}`` of an Amaranth FSM's state register."""
    states = {}
    for code in range(1 << len(state)):
        try:
            name = state.decoder(code)
        except (KeyError, IndexError):
            continue
        states[name.rsplit("/", 1)[0]] = code
    return states


def _memory_words(fragment, unit, *path, width, depth):
    """The ``depth`` words (``width`` bits) of the memory that the elaborated ``fragment``
    holds at ``path`` (by submodule names, the memory's own last): one signal per
    address, each read through a combinational port the harness adds to the elaborated
    memory (a formal-only view of the storage; the unit's own ports and logic are
    unchanged)."""
    sub = _subfragment(fragment, unit, *path)
    name = path[-1]
    words = []
    for a in range(depth):
        word = Signal(width, name=f"{name}_word{a}")
        sub.read_port(domain="comb", addr=Const(a, max(1, ceil_log2(depth))), data=word,
                      en=Const(1), transparent_for=())
        words.append(word)
    return words


class KernelEquivalence(Harness):
    """A pipelined kernel against its reference statement, for every input.

    Every clock the kernel gets a free update (``i_valid``, state word, ``acc``, profile
    inside the kernel's ``LIMITS``: ``Assume``). From the ``LATENCY``-th clock on, the
    harness asserts ``o_valid``, ``o_spike`` and every state field (and the profile
    index passed through) equal to the reference of the update that entered ``LATENCY``
    clocks before, as exact integers. The property holds at every clock of an unbounded
    run: a proof by k-induction covers every input sequence, so every update whatever
    came before it.

    **Products.** A bit-level solver proves two products equal at once when they are
    the same term (the same operands), and only by searching the multiplier's bits when
    they are merely equal numbers. A reference therefore multiplies through ``mul``
    (:class:`Products`): ``mul.inputs(fa, fb)`` is the product of two functions of the
    update's inputs, taken of the inputs as they enter (one multiplier with the
    kernel's); ``mul.registers(a_reg, a, b_reg, b, stage)`` is a product the kernel
    forms of values it has computed: the harness asserts that the kernel's registers
    ``a_reg`` and ``b_reg`` hold ``a`` and ``b`` (the reference's values) ``stage``
    clocks after the update entered, and gives the reference the product of those
    registers (Yosys merges it with the kernel's multiplier), delayed to the result's
    clock. The assertions together state the whole reference: if the registers hold
    ``a`` and ``b``, their product is ``a * b``. ``mul.cut(reg, y, stage)`` likewise
    asserts that the kernel's register ``reg`` holds the reference's value ``y`` and
    lets the reference continue from the register: each assertion then covers about one
    pipeline stage, a small problem. Such a reference (``late`` in :data:`REFERENCES`)
    is evaluated ``LATENCY`` clocks late, on delayed inputs.

    Parameters
    ----------
    kernel : str
        A key of :data:`REFERENCES`.
    mutant : str or None
        Prove against a deliberately wrong reference (must fail).
    """

    def __init__(self, kernel, mutant=None):
        super().__init__()
        if kernel not in REFERENCES:
            raise ValueError(f"kernel {kernel!r} has no reference statement here "
                             f"(available: {', '.join(REFERENCES)})")
        mutants = REFERENCES[kernel][3]
        if mutant is not None and mutant not in mutants:
            raise ValueError(f"mutant {mutant!r} is not one of kernel {kernel}: "
                             f"{', '.join(mutants)}")
        self.kernel = kernel
        self.mutant = mutant

    @staticmethod
    def _register(regs, cls, name):
        if name not in regs:
            raise ValueError(f"{cls.__name__} has no register {name!r} (its registers: "
                             f"{', '.join(sorted(regs))})")
        return regs[name]

    def elaborate(self, platform):
        m = self._module()
        cls, reference, limits, _, late = REFERENCES[self.kernel]
        dut = cls()
        latency = cls.LATENCY
        fragment = Fragment.get(dut, platform)
        m.submodules.dut = fragment
        regs = _registers(fragment)

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

        def delayed(value, name, clocks=latency):
            for k in range(clocks):
                reg = Signal(value.shape(), name=f"{name}_d{k + 1}")
                m.d.sync += reg.eq(value)
                value = reg
            return value

        primed = Signal(range(latency + 1))       # clocks seen, saturating at LATENCY
        with m.If(primed < latency):
            m.d.sync += primed.eq(primed + 1)
        checks = []

        if late:
            # the reference of the update that entered LATENCY clocks ago, evaluated now
            exp_valid = delayed(valid, "hist_valid")
            h_st = st.shape()(delayed(st.as_value(), "hist_state"))
            h_acc = delayed(acc, "hist_acc")
            h_p = p.shape()(delayed(p.as_value(), "hist_params"))

            harness = self

            class KernelProducts(Products):
                def inputs(self, fa, fb):
                    # the kernel's product of its inputs, delayed to the result
                    return delayed(fa(st, acc, p) * fb(st, acc, p), "mul_in")

                def registers(self, a_name, a, b_name, b, stage):
                    ra, rb = harness._register(regs, cls, a_name), \
                        harness._register(regs, cls, b_name)
                    for reg, value in ((ra, a), (rb, b)):
                        self.cut(reg.name, value, stage)
                    return delayed(ra * rb, f"mul_{a_name}_{b_name}", latency - stage)

                def cut(self, name, value, stage):
                    late = delayed(harness._register(regs, cls, name), f"cut_{name}",
                                   latency - stage)
                    checks.append(~exp_valid | (late == value))
                    return late

            mul = KernelProducts(h_st, h_acc, h_p)
            fields, spike = reference(h_st, h_acc, h_p, self.mutant, mul)
            exp = fields
            exp_spike = exp_valid & spike
            exp_profile = h_st.profile
        else:
            fields, spike = reference(st, acc, p, self.mutant)
            exp = {name: delayed(value, f"exp_{name}") for name, value in fields.items()}
            exp_valid = delayed(valid, "exp_valid")
            exp_spike = delayed(valid & spike, "exp_spike")
            exp_profile = delayed(st.profile, "exp_profile")

        with m.If(primed >= latency):
            m.d.comb += [
                Assert(dut.o_valid == exp_valid),
                Assert(dut.o_spike == exp_spike),
                Assert(dut.o_state.profile == exp_profile),
                *[Assert(check) for check in checks],
            ]
            with m.If(exp_valid):
                for name, value in exp.items():
                    m.d.comb += Assert(getattr(dut.o_state, name) == value)
        return m


class CoreSpikeOrder(Harness):
    """A neuron core emits every neuron at most once per step, in increasing index order.

    A ``NeuronCore`` (CUBA-LIF) whose every input is free: events and end-of-step markers
    on ``i_events``, any memory request on ``i_mem`` (loads, state writes, ``STEP``
    writes, at any time), any back-pressure on ``o_spikes`` and ``o_mem``. ``prove`` cuts
    the kernel's ``o_spike`` (a free value every clock), so the property holds whatever
    the kernel decides. On every transfer of ``o_spikes`` the harness asserts that a
    spike names a neuron below ``n_neurons`` and above the previous spike of the same
    step (steps end at the ``eos`` transfer).

    The induction's strengthening (asserted too, so proven with the claim) reads the
    core's registers by their names:

    * the update pipeline: ``inflight`` is the number of valid stages (``u1_valid`` ..
      ``u4_valid``, the kernel's ``s1_valid`` .. ``s3_valid``, ``o_valid``);
      ``inflight <= n_issue <= n_neurons``; ``wb_n`` is ``n_issue - inflight`` (modulo
      ``n_neurons``: the neurons written back); outside ``UPDATE`` all of them are 0;
    * the output FIFO (``_SpikeFifo``): ``held`` is one-hot and ``fill`` counts the
      entries held plus the stage;
    * the order: the words on their way out (the last spike the harness saw, unless the
      step ended; the output register; the entries; the stage) are in order, pairwise:
      of two adjacent spikes with no ``eos`` between them the later names the higher
      neuron; the last of them is an ``eos`` outside ``UPDATE``, and in ``UPDATE`` an
      ``eos`` or a spike below ``n_issue - inflight`` (the neurons written back).

    Parameters
    ----------
    n_neurons, n_inputs, syn_capacity : int
        Geometry of the core under proof.
    mutant : str or None
        ``"single"``: claim at most one spike per step in total (must fail).
    """

    def __init__(self, *, n_neurons=2, n_inputs=1, syn_capacity=2, mutant=None):
        super().__init__()
        if mutant not in (None, "single"):
            raise ValueError(f"mutant {mutant!r} is not one of: single")
        self.n_neurons = n_neurons
        self.n_inputs = n_inputs
        self.syn_capacity = syn_capacity
        self.mutant = mutant

    def elaborate(self, platform):
        m = self._module()
        N = self.n_neurons
        core = NeuronCore(n_neurons=N, n_inputs=self.n_inputs,
                          syn_capacity=self.syn_capacity)
        fragment = Fragment.get(core, platform)
        m.submodules.core = fragment
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
                m.d.comb += Assert(ev.neuron < N)
                if self.mutant == "single":
                    m.d.comb += Assert(~seen)
                else:
                    m.d.comb += Assert(~seen | (ev.neuron > last))

        # --- strengthening: the core's registers ---------------------------------------
        regs = _unit_signals(fragment, "NeuronCore")
        kern = _unit_signals(fragment, "NeuronCore", "kernel")
        fifo = _unit_signals(fragment, "NeuronCore", "spike_fifo")
        state = regs["core_fsm_state"]
        states = _fsm_states(state)
        in_update = state == states["UPDATE"]
        n_issue, inflight, wb_n = regs["n_issue"], regs["inflight"], regs["wb_n"]
        valids = [regs[f"u{k}_valid"] for k in range(1, 5)] + \
                 [kern[f"s{k}_valid"] for k in range(1, 4)] + [kern["o_valid"]]
        done = Signal(range(N + 1))             # neurons written back in this update
        m.d.comb += done.eq(n_issue - inflight)
        m.d.comb += [
            Assert(inflight == sum(valids)),
            Assert(n_issue <= N),
            Assert(inflight <= n_issue),
            Assert(wb_n == done[:len(wb_n)]),
        ]
        with m.If(~in_update):
            m.d.comb += Assert((n_issue == 0) & (inflight == 0) & (wb_n == 0))

        held, fill, stage_v = fifo["held"], fifo["fill"], fifo["stage_v"]
        inner = len(held) - 1
        m.d.comb += Assert((held != 0) & ((held & (held - 1)) == 0))
        for k in range(inner + 1):
            with m.If(held[k]):
                m.d.comb += Assert(fill == k + stage_v)

        # the words on their way out, oldest first, each (valid, eos, neuron)
        NB = len(fifo["stage"]) - 1

        def word(value):
            return value[NB], value[:NB]

        chain = [(fifo["r_rdy"], *word(fifo["r_data"]))]
        for k in range(inner):
            chain.append((held[k + 1:].any(), *word(fifo[f"entry_{k}"])))
        chain.append((stage_v, *word(fifo["stage"])))
        m.d.comb += Assert(last < N)
        prev_eos, prev_n = ~seen, last[:NB]
        for k, (valid, eos, neuron) in enumerate(chain):
            with m.If(valid):
                m.d.comb += Assert(prev_eos | eos | (neuron > prev_n))
            tail_eos = Signal(name=f"order_eos_{k}")
            tail_n = Signal(NB, name=f"order_n_{k}")
            m.d.comb += [tail_eos.eq(Mux(valid, eos, prev_eos)),
                         tail_n.eq(Mux(valid, neuron, prev_n))]
            prev_eos, prev_n = tail_eos, tail_n
        m.d.comb += Assert(prev_eos | (in_update & (prev_n < done)))
        return m


class LifRefractory(Harness):
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
        super().__init__()
        if mutant not in (None, "gap"):
            raise ValueError(f"mutant {mutant!r} is not one of: gap")
        self.mutant = mutant

    def elaborate(self, platform):
        m = self._module()
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


class AccumulatorBound(Harness):
    """The validator's no-overflow argument, on the core's accumulator arithmetic.

    One accumulator slot as the core keeps it: a ``signed(ACC_WIDTH)`` word that every
    delivered synapse overwrites with ``word + (w << w_shift)`` (``w`` signed
    ``WEIGHT_WIDTH``, ``w_shift`` up to ``W_SHIFT_MAX``; the sum is truncated to the
    word, as the memory stores it) and that the update clears. ``CoreConfig.validate``
    admits a configuration only if, for every neuron, the sum ``P`` of its incoming
    positive ``w << w_shift`` and the sum ``N`` of the negative ones lie in
    ``[ACC_MIN, ACC_MAX]``; each synapse is delivered at most once per slot between two
    clears (one event per source per step, one slot per delay). The harness delivers
    any sequence of contributions of any length (none, some, all in any order), stated
    as that precondition: since the last clear the positive contributions sum to at most
    ``P`` and the negative ones to at least ``N``, for any constants ``P`` and ``N`` in
    range. It starts from any slot the validator's precondition allows (some
    contributions already delivered, stored as the exact sum) and asserts that the
    stored word always equals the exact sum.

    Parameters
    ----------
    mutant : str or None
        ``"loose"``: admit ``P = ACC_MAX + 1`` (one more than the validator allows; must
        fail).
    """

    def __init__(self, mutant=None):
        super().__init__()
        if mutant not in (None, "loose"):
            raise ValueError(f"mutant {mutant!r} is not one of: loose")
        self.mutant = mutant

    def elaborate(self, platform):
        m = self._module()
        wide = spec.ACC_WIDTH + 2
        p_max = AnyConst(signed(wide))
        n_min = AnyConst(signed(wide))
        hi = spec.ACC_MAX + (self.mutant == "loose")
        m.d.comb += Assume((p_max >= 0) & (p_max <= hi) & (n_min <= 0) &
                           (n_min >= spec.ACC_MIN))

        # the slot as stored and the contributions since its clear; at the first clock
        # any state the precondition allows (some synapses already delivered)
        first = Signal(init=1)
        m.d.sync += first.eq(0)
        word_r = Signal(signed(spec.ACC_WIDTH))
        pos_r, neg_r = Signal(signed(wide)), Signal(signed(wide))
        pos0, neg0 = AnyConst(signed(wide)), AnyConst(signed(wide))
        pos, neg = Signal(signed(wide)), Signal(signed(wide))
        word = Signal(signed(spec.ACC_WIDTH))
        m.d.comb += [pos.eq(Mux(first, pos0, pos_r)), neg.eq(Mux(first, neg0, neg_r)),
                     word.eq(Mux(first, pos0 + neg0, word_r))]
        with m.If(first):
            m.d.comb += Assume((pos0 >= 0) & (pos0 <= p_max) & (pos0 <= spec.ACC_MAX) &
                               (neg0 <= 0) & (neg0 >= n_min))
        clear = AnySeq(1)
        deliver = AnySeq(1)
        w = Signal(signed(spec.WEIGHT_WIDTH))
        shift = Signal(range(spec.W_SHIFT_MAX + 1))
        m.d.comb += [w.eq(AnySeq(spec.WEIGHT_WIDTH)), shift.eq(AnySeq(spec.W_SHIFT_WIDTH))]
        term = w << shift
        m.d.sync += [word_r.eq(word), pos_r.eq(pos), neg_r.eq(neg)]
        with m.If(clear):
            m.d.sync += [word_r.eq(0), pos_r.eq(0), neg_r.eq(0)]
        with m.Elif(deliver):
            m.d.comb += Assume(Mux(term >= 0, pos + term <= p_max, neg + term >= n_min))
            m.d.sync += word_r.eq(word + term)
            with m.If(term >= 0):
                m.d.sync += pos_r.eq(pos + term)
            with m.Else():
                m.d.sync += neg_r.eq(neg + term)
        m.d.comb += [
            Assert(word == pos + neg),
            # the strengthening: what has been delivered stays within the precondition
            Assert((pos >= 0) & (pos <= p_max) & (neg <= 0) & (neg >= n_min)),
        ]
        return m


class _LinkEnvironment(Harness):
    """The environment of the link controller's answer-time harnesses.

    A ``LinkController`` (2 neurons, 1 input, 2 synapses, the smallest ``max_payload``)
    gets any decoded bytes and end tokens on ``i_frame`` (any content, any status, at
    any time), its reply stream is always taken, and a model of the core answers every
    memory request one clock after taking it (any data) and ends every step after at
    most ``n_neurons`` spikes (any neurons). The UART's error pulses are not driven.
    From the clock a frame's end token is taken until the last byte of a reply leaves,
    the harness counts; it asserts that the count never exceeds ``self.bound``. Frames
    whose first byte is one of ``self.excluded`` are not sent (``Assume``). A subclass
    sets both.
    """

    def _environment(self, m, platform):
        """The controller, its environment, the opcode assumption and the count of clocks
        (``waiting``, asserted ``<= bound``); returns ``(link, fragment, env)``, ``env`` a
        dict of the harness's signals."""
        n = 2
        link = LinkController(
            n_neurons=n, n_inputs=1, syn_capacity=2, clk_hz=1,
            max_payload=spec.MIN_MAX_PAYLOAD, in_depth=2, out_depth=2)
        fragment = Fragment.get(link, platform)
        m.submodules.link = fragment
        m.d.comb += [
            link.i_frame.valid.eq(AnySeq(1)),
            link.i_frame.payload.eq(AnySeq(len(link.i_frame.payload.as_value()))),
            link.o_frame.ready.eq(1),
        ]
        # the core's memory port: takes a request, answers it in the next clock
        pending = Signal()
        m.d.comb += [link.o_mem.ready.eq(~pending), link.i_mem.valid.eq(pending),
                     link.i_mem.payload.eq(AnySeq(len(link.i_mem.payload.as_value())))]
        with m.If(link.o_mem.valid & link.o_mem.ready):
            m.d.sync += pending.eq(1)
        with m.Elif(link.i_mem.ready):
            m.d.sync += pending.eq(0)
        # the core's steps: each end-of-step marker taken starts one, which ends after
        # at most n spikes
        steps = Signal(range(8))
        spikes = Signal(range(n + 1))
        m.d.comb += link.o_events.ready.eq(steps < 7)
        ends = link.o_events.valid & link.o_events.ready & link.o_events.payload.eos
        eos = Signal()
        m.d.comb += [eos.eq(AnySeq(1) | (spikes == n)),
                     link.i_spikes.valid.eq(steps != 0),
                     link.i_spikes.payload.neuron.eq(AnySeq(1)),
                     link.i_spikes.payload.eos.eq(eos)]
        done = link.i_spikes.valid & link.i_spikes.ready & eos
        m.d.sync += steps.eq(steps + ends - done)
        with m.If(link.i_spikes.valid & link.i_spikes.ready):
            m.d.sync += spikes.eq(Mux(eos, 0, spikes + 1))

        # the frame's first byte (its opcode)
        frame = link.i_frame
        took = frame.valid & frame.ready
        took_end = took & frame.payload.end
        started = Signal()
        opcode = Signal(8)
        with m.If(took_end):
            m.d.sync += started.eq(0)
        with m.Elif(took & ~started):
            m.d.sync += [started.eq(1), opcode.eq(frame.payload.data)]
        with m.If(took_end & started):
            for op in self.excluded:
                m.d.comb += Assume(opcode != op)

        waiting = Signal(range(self.bound + 2))
        replied = link.o_frame.valid & link.o_frame.ready & link.o_frame.payload.last
        # (a frame may end in the clock its predecessor's reply ends: count it)
        with m.If(took_end):
            m.d.sync += waiting.eq(1)
        with m.Elif(replied):
            m.d.sync += waiting.eq(0)
        with m.Elif((waiting != 0) & (waiting <= self.bound)):
            m.d.sync += waiting.eq(waiting + 1)
        m.d.comb += Assert(waiting <= self.bound)
        return link, fragment, {"started": started, "opcode": opcode, "waiting": waiting,
                                "took_end": took_end, "mem_pending": pending,
                                "model_steps": steps, "model_spikes": spikes}


class LinkAnswer(_LinkEnvironment):
    """The link controller answers every frame within ``bound`` clocks, whatever came
    before: a k-induction proof.

    The environment of :class:`_LinkEnvironment`; frames whose first byte is one of
    :attr:`EXCLUDED` (IDENTIFY, STATUS, RESET; with ``status`` only RESET:
    :attr:`EXCLUDED_STATUS`; with ``reset`` none) are not sent. Every other frame is
    followed: ECHO (up to ``max_payload`` bytes), WRITE_MEM, READ_MEM, INJECT, RUN, PACE,
    READ_EVENTS, CLEAR_STATUS (with ``status`` IDENTIFY and STATUS, with ``reset`` RESET
    too), every NAK of the link checks and of the commands, and a retransmission (the
    stored reply, up to ``max_payload`` bytes, sent again).

    The strengthening, read from the controller's and its units' registers by their
    names, is a *ranking*: in every state of the command FSM the harness computes
    ``rest``, an upper bound of the clocks until the reply's last byte is taken (from
    the FSM states of the controller, ``Sender``, ``InjectParser``, ``EventPacker``,
    ``MemoryAccess`` and the counters' engine, their counters, the frame buffer's read
    address and valid bits, ``reply_ptr``, ``pay_end``), and asserts ``waiting + rest
    <= bound`` with the invariants that make ``rest`` fall by at least one every clock.
    Each is an ``Assert``: the induction proves it with the claim. With ``reset``, RESET
    after any history, INJECT frames included: RESET's wait for the step in flight is
    ranked by the step feeder's state, its input buffer's level and skid registers and the
    core model's spikes, with the feeder's END bookkeeping as invariants (the input
    buffer's stored words read through ports the harness adds:
    :meth:`_feeder_invariants`).

    Parameters
    ----------
    bound : int or None
        Clocks allowed from a frame's end token to the clock its reply's last byte is
        taken (default :meth:`full_bound`, the ranking's largest value).
    status : bool
        Send IDENTIFY and STATUS frames too.
    reset : bool
        Send RESET frames too: every frame is sent (needs ``status``).
    mutant : str or None
        ``"tight"``: claim 4 clocks, without the strengthening (must fail: no reply is
        that fast). With ``reset``, ``"reset-tight"``: only RESET frames (and frames
        NAKed before dispatch), claimed answered within 20 clocks, without the
        strengthening (must fail: RESET clears the core's state word by word).
    """

    #: Commands not sent (their units have no ranking here; see docs/proofs.md).
    EXCLUDED = tuple(op.value for op in (
        spec.Opcode.IDENTIFY, spec.Opcode.STATUS, spec.Opcode.RESET))

    #: STATUS and IDENTIFY too (``status=True``): RESET alone is not sent.
    EXCLUDED_STATUS = (spec.Opcode.RESET.value,)

    def __init__(self, bound=None, *, status=False, reset=False, mutant=None):
        Harness.__init__(self)
        mutants = ("tight", "reset-tight") if reset else ("tight",)
        if mutant not in (None, *mutants):
            raise ValueError(f"mutant {mutant!r} is not one of: {', '.join(mutants)}")
        maxp = spec.MIN_MAX_PAYLOAD
        if reset and not status:
            raise ValueError("reset=True needs status=True")
        self.status = status or reset
        self.reset = reset
        full = self.full_bound(maxp, status=self.status) if bound is None else bound
        self.bound = {"tight": 4, "reset-tight": 20}.get(mutant, full)
        self.excluded = (() if reset else
                         self.EXCLUDED_STATUS if status else self.EXCLUDED)
        if mutant == "reset-tight":
            # only RESET frames (and NAKed ones): claimed answered within 20 clocks
            self.excluded = tuple(op.value for op in spec.Opcode
                                  if op != spec.Opcode.RESET)
        self.mutant = mutant

    #: Bytes of the IDENTIFY payload of the controller under proof.
    IDENTIFY_BYTES = 59

    @classmethod
    def full_bound(cls, max_payload, *, status=False):
        """The bound proven: the ranking's largest value, at the dispatch of a
        READ_EVENTS (its records budgeted at three clocks a byte); with ``status``, at
        the dispatch of an IDENTIFY (the counters' engine with all its increments
        pending, nine clocks each, then two clocks a payload byte)."""
        header = spec.EventsHeader.size // 8
        events = 3 + 3 * (max_payload - header) + 3 + 8 + 1 + 2 + 3 * max_payload
        if not status:
            return events
        backlog = 9 * 3 * len(spec.Counter)
        n_status, n_id = 4 * len(spec.Counter), cls.IDENTIFY_BYTES
        words = 4 * 4                   # steps_pending, in_level, out_level, parity_errors
        status_rest = 2 * n_status + 1 + 5 * 4 + 1 + 2 + 3 * (n_status + words)
        identify_rest = 2 * n_id + 1 + 1 + 2 + 3 * n_id
        return max(events, 3 + backlog + 1 + max(status_rest, identify_rest))

    def elaborate(self, platform):
        m = self._module()
        link, fragment, env = self._environment(m, platform)
        if self.mutant in ("tight", "reset-tight"):
            return m
        waiting = env["waiting"]
        maxp = spec.MIN_MAX_PAYLOAD
        HDR = spec.HEADER_BYTES
        hdr_bytes = spec.MemHeader.size // 8
        max_body = maxp + spec.MIN_BODY
        top = _unit_signals(fragment, "LinkController")
        rx = _unit_signals(fragment, "LinkController", "receiver")
        tx = _unit_signals(fragment, "LinkController", "sender")
        buf = _unit_signals(fragment, "LinkController", "buffer")
        inject = _unit_signals(fragment, "LinkController", "inject")
        mem = _unit_signals(fragment, "LinkController", "memory")
        cnt = _unit_signals(fragment, "LinkController", "counters")
        I = _fsm_states(inject["inject_state"])
        ev = _unit_signals(fragment, "LinkController", "events")
        K = _fsm_states(ev["packer_state"])
        pstate = ev["packer_state"]
        istate = inject["inject_state"]
        E = _fsm_states(cnt["engine_state"])
        engine = cnt["engine_state"]
        base = 4 * len(spec.Counter)            # counter bytes, cleared by CLEAR_STATUS
        S = _fsm_states(top["link_state"])
        T = _fsm_states(tx["sender_state"])
        state, tstate = top["link_state"], tx["sender_state"]

        def at(*names):
            return Cat(*(state == S[name] for name in names)).any()

        reply_ptr, last_len = top["reply_ptr"], top["last_len"]
        nak = top["send_link_nak"] | (top["last_reason"] != 0)
        left = tx["left"]
        rv, dv = buf["o_data_reg_valid"], buf["o_data_valid"]
        addr = buf["o_addr"]
        pay_end = rx["o_payload_end"]
        cur_op = rx["o_opcode"]
        out = link.o_frame

        def send_rest(nak_, length):
            """Clocks from the Sender's OPCODE state to the clock the last byte is taken:
            opcode, seq, the payload (a NAK's 2 bytes one a clock; an ACK's bytes three
            clocks each, the first read of the buffer under way since the seek of the
            clock before), CRC."""
            return Mux(nak_, 6, Mux(length == 0, 4, 2 + 3 * length))

        def finish_rest():
            # FINISH: last_len <- reply_ptr, send_link_nak <- 0; then OPCODE
            return 1 + send_rest(top["last_reason"] != 0, reply_ptr)

        w = Mux(rv, 0, Mux(dv, 1, 2))       # clocks until the buffer's byte is offered
        sender_rest = Signal(range(4 * maxp + 16), name="sender_rest")
        with m.Switch(tstate):
            with m.Case(T["OPCODE"]):
                m.d.comb += sender_rest.eq(send_rest(nak, last_len))
            with m.Case(T["SEQ"]):
                m.d.comb += sender_rest.eq(Mux(nak, 3 + left, Mux(
                    left == 0, 3, 1 + (w == 2) + 3 * left)))
            with m.Case(T["PAYLOAD"]):
                m.d.comb += sender_rest.eq(Mux(nak, left + 2, w + 3 * left))
            with m.Case(T["CRC_HI"]):
                m.d.comb += sender_rest.eq(2)
            with m.Case(T["CRC_LO"]):
                m.d.comb += sender_rest.eq(1)
        echo_left = Signal(range(max_body + 1))      # payload bytes ECHO still reads
        m.d.comb += echo_left.eq(pay_end - addr)
        echo_len = pay_end - HDR                     # the ECHO reply's length

        def pass_rest(per_byte):
            """Clocks until the InjectParser's pass ends (``o_done``), ``per_byte`` a
            byte still to read."""
            r = per_byte * echo_left
            return Mux(istate == I["READ"], r + 1 + ~dv,
                       Mux(istate == I["PARSE"], r + per_byte,
                           Mux(istate == I["END"], r + 2, 0)))
        enqueue_entry = 3 * (pay_end - HDR) + 2      # the second pass, from its seek

        # WRITE_MEM, READ_MEM: MemoryAccess. A read word takes REQUEST, RESPONSE and one
        # clock a byte (EMIT); a written word ten LOAD clocks, one more for every byte
        # read from the buffer after the first (a read takes a clock to come back), then
        # REQUEST and RESPONSE. The range check (count <= the region's depth) and the
        # length check (read: count * nbytes <= max_payload; write: the payload holds
        # count words) bound count.
        rd = cur_op == spec.Opcode.READ_MEM.value
        M = _fsm_states(mem["memory_state"])
        mstate = mem["memory_state"]
        depths = {r: d for r, d in link.depths.items() if d}
        nbytes_of = spec.region_word_byte_counts(link.kernel.state_word,
                                                 link.kernel.profile)
        n_reg = max(r.value for r in depths) + 1
        words_max = {True: 0, False: 0}
        for r, d in depths.items():
            nb = nbytes_of[r]
            for c in range(d + 1):
                if c * nb <= maxp:
                    words_max[True] = max(words_max[True], c * (nb + 2))
                if c * nb + hdr_bytes + HDR <= max_body - spec.CRC_BYTES:
                    words_max[False] = max(words_max[False], c * (nb + 11))
        count, nbytes, mbc = mem["count"], mem["nbytes"], mem["byte_count"]
        mleft, total, region = mem["left"], mem["total"], mem["region"]
        depth_of = Array(Const(depths.get(spec.Region(r), 0), 8) for r in range(n_reg))
        nbytes_arr = Array(Const(nbytes_of[spec.Region(r)], 4) for r in range(n_reg))
        len_ok = Mux(rd, count * nbytes <= maxp,
                     count * nbytes + hdr_bytes + HDR == pay_end)
        words_rest = Mux(~mem["range_bad"] & len_ok & (count != 0),
                         Mux(rd, count * (nbytes + 2), count * (nbytes + 11)), 0)
        fin_rest = Mux(rd, 1 + send_rest(0, maxp), 1 + send_rest(1, 0))
        check_rest = 1 + 1 + 10 + 1 + 1 + Mux(rd, words_max[True], words_max[False])
        load_rest = (Mux(mleft == 0, 0, 2 * mleft - dv) + (10 - mbc - mleft) + 2 +
                     (count - 1) * (nbytes + 11))
        mem_rest = Signal(range(4 * maxp + 512), name="mem_rest")
        with m.Switch(mstate):
            with m.Case(M["CHECK"]):
                m.d.comb += mem_rest.eq(check_rest)
            with m.Case(M["RANGE"]):
                m.d.comb += mem_rest.eq(1 + nbytes + 1 + 1 + Mux(rd, words_max[True],
                                                                 words_max[False]))
            with m.Case(M["MULTIPLY"]):
                m.d.comb += mem_rest.eq(mbc + 1 + 1 + words_rest)
            with m.Case(M["CHECK2"]):
                m.d.comb += mem_rest.eq(1 + words_rest)
            with m.Case(M["REQUEST"]):
                m.d.comb += mem_rest.eq(Mux(rd, count * (nbytes + 2),
                                            2 + (count - 1) * (nbytes + 11)))
            with m.Case(M["RESPONSE"]):
                m.d.comb += mem_rest.eq(Mux(rd, count * (nbytes + 2) - 1,
                                            1 + (count - 1) * (nbytes + 11)))
            with m.Case(M["EMIT"]):
                m.d.comb += mem_rest.eq(count * (nbytes + 2) - 2 - mbc)
            with m.Case(M["LOAD"]):
                m.d.comb += mem_rest.eq(load_rest)
        hdr_next = Mux(cur_op == spec.Opcode.RUN.value, 2 + 1 + send_rest(1, 0),
                       Mux(cur_op == spec.Opcode.PACE.value, 1 + 1 + send_rest(1, 0),
                           check_rest + fin_rest))
        room = maxp - reply_ptr                      # reply bytes the packer may add
        # IDENTIFY, STATUS
        n_status = 4 * len(spec.Counter)             # counter bytes (STATUS)
        n_ident = len(link.identify_payload())       # the IDENTIFY payload
        assert n_ident == self.IDENTIFY_BYTES, n_ident
        is_st = cur_op == spec.Opcode.STATUS.value
        copy_first = Mux(is_st, 0, n_status)
        copy_last_addr = Mux(is_st, n_status - 1, n_status + n_ident - 1)
        copy_n = Mux(is_st, n_status, n_ident)
        copy_left = Signal(range(n_status + n_ident + 2), name="copy_left")
        m.d.comb += copy_left.eq(copy_last_addr + 1 - top["status_addr"])
        copy_entry = 2 * copy_n + 1
        after_copy = Mux(is_st, 5 * 4 + 1 + send_rest(0, n_status + 16),
                         1 + send_rest(0, n_ident))
        engine_busy = (engine == E["READ"]) | (engine == E["WRITE"])
        done_cur = Mux(engine == E["READ"], 1 + 2 * cnt["byte"],
                       Mux(engine == E["WRITE"], 2 + 2 * cnt["byte"], 0))
        backlog = Signal(range(9 * 3 * len(spec.Counter) + 1), name="backlog")
        m.d.comb += backlog.eq(9 * sum(cnt[f"pending_{c.name.lower()}"]
                                       for c in spec.Counter) - done_cur)
        pack_c = {"NEW": 2, "NEW_WAIT": 3, "END_HI": 4, "CLOSE_HI": 4, "CLOSE": 5,
                  "INDEX": 6, "INDEX_WAIT": 7, "INDEX_HI": 5}
        pack_rest = Signal(range(4 * maxp + 16), name="pack_rest")
        with m.Switch(pstate):
            for name, c in pack_c.items():
                with m.Case(K[name]):
                    m.d.comb += pack_rest.eq(3 * room + c)
            with m.Case(K["FIN"]):
                m.d.comb += pack_rest.eq(1)
        if self.reset:
            feeder = self._feeder_view(fragment)
            fd, F = feeder["fd"], feeder["F"]
            fstate, in_flight = fd["feeder_state"], fd["o_in_flight"]
            n_model = 2                                 # the core model's neurons
            slots = n_model * spec.DELAY_SLOTS          # ACC words

            def reset_words(phase, index):
                """Words MemoryAccess's RESET still transfers (the current one too):
                each neuron's STATE read and written, the ACC words, CTRL.STEP."""
                return Mux(phase == 0, 2 * (n_model - index) + slots + 1,
                           Mux(phase == 1, 2 * (n_model - index) + slots,
                               Mux(phase == 2, slots - index + 1, 1)))
            # FEED (the core model takes an event every clock: it has no step): the
            # entries ahead of the END (at most 2 clocks a buffered entry, one for a
            # register, one more while the buffer's flag lags a write), then the step
            feed_rest = Signal(range(4 * len(feeder["words"]) + 4), name="feed_rest")
            m.d.comb += feed_rest.eq(2 * feeder["level"] + fd["near_valid"] +
                                     fd["out_valid"] + feeder["lag"])
            wait_rest = Mux(~in_flight, 0,
                            Mux(fstate == F["EOS"], n_model + 2,
                                Mux(fstate == F["FEED"], feed_rest + n_model + 1,
                                    n_model - env["model_spikes"] + 1)))
        rest = Signal(range(8 * maxp + 64), name="rest")
        with m.Switch(state):
            with m.Case(S["RECV"]):
                m.d.comb += rest.eq(0)
            with m.Case(S["CHECK"]):
                m.d.comb += rest.eq(self.bound - 1)
            with m.Case(S["DISPATCH"]):
                m.d.comb += rest.eq(self.bound - 2)
            with m.Case(S["SEND"]):
                m.d.comb += rest.eq(sender_rest)
            with m.Case(S["FINISH"]):
                m.d.comb += rest.eq(finish_rest())
            with m.Case(S["ECHO"]):
                m.d.comb += rest.eq(~dv + 2 * echo_left + 1 + 1 + send_rest(0, echo_len))
                # (ECHO: two clocks a byte, one to see the end; FINISH; the reply)
            with m.Case(S["HDR_LOAD"]):
                m.d.comb += rest.eq(~dv + 2 * (hdr_bytes - 1 - top["byte_count"]) + 1 +
                                    hdr_next)
            with m.Case(S["MEMORY"]):
                m.d.comb += rest.eq(mem_rest + fin_rest)
            with m.Case(S["RUN_WAIT"]):
                m.d.comb += rest.eq(2 + 1 + send_rest(1, 0))
            with m.Case(S["RUN"], S["PACE"]):
                m.d.comb += rest.eq(1 + 1 + send_rest(1, 0))
            # CLEAR_STATUS: the counters' engine finishes an increment (READ, WRITE: up
            # to 4 bytes), clears the counter bytes one a clock, returns to IDLE
            with m.Case(S["CLEAR"]):
                with m.Switch(engine):
                    with m.Case(E["IDLE"]):
                        m.d.comb += rest.eq(base + 7)
                    with m.Case(E["CLEAR"]):
                        m.d.comb += rest.eq(base - cnt["clear_addr"] + 6)
                    with m.Case(E["READ"]):
                        m.d.comb += rest.eq(2 * (4 - cnt["byte"]) + base + 7)
                    with m.Case(E["WRITE"]):
                        m.d.comb += rest.eq(2 * (4 - cnt["byte"]) - 1 + base + 7)
            # INJECT: two passes over the payload; the parser reads a byte in two clocks
            # (READ, PARSE), the second pass adds an END state after a closing record:
            # three clocks a byte are budgeted there
            with m.Case(S["INJECT_CHECK_PASS"]):
                m.d.comb += rest.eq(pass_rest(2) + 1 + enqueue_entry + 1 + send_rest(0, 0))
            with m.Case(S["INJECT_CHECK"]):
                m.d.comb += rest.eq(1 + enqueue_entry + 1 + send_rest(0, 0))
            with m.Case(S["INJECT_ENQUEUE_PASS"]):
                m.d.comb += rest.eq(pass_rest(3) + 1 + send_rest(0, 0))
            # READ_EVENTS: the EventPacker fills the reply (three clocks a byte budgeted:
            # a byte pair takes three, a record two more for its header), the header is
            # emitted (EMIT), the reply sent (at most max_payload bytes)
            with m.Case(S["EVENTS"]):
                m.d.comb += rest.eq(pack_rest + 8 + 1 + send_rest(0, maxp))
            with m.Case(S["EMIT"]):
                m.d.comb += rest.eq(Mux(
                    cur_op == spec.Opcode.READ_EVENTS.value,
                    top["byte_count"] + 1 + send_rest(0, top["events_len"]),
                    top["byte_count"] + 5 * (3 - top["status_word"]) + 1 +
                    send_rest(0, n_status + 16)))
            with m.Case(S["STATUS_WAIT"]):
                m.d.comb += rest.eq(backlog + 1 + copy_entry + after_copy)
            with m.Case(S["STATUS_COPY"]):
                m.d.comb += rest.eq(Mux(copy_left == 0, 0, 2 * copy_left - top["status_ok"])
                                    + 1 + after_copy)
            with m.Case(S["STATUS_WORDS"]):
                m.d.comb += rest.eq(5 * (4 - top["status_word"]) + 1 +
                                    send_rest(0, n_status + 16))
            with m.Case(S["CLEAR_WAIT"]):
                m.d.comb += rest.eq(Mux(engine == E["CLEAR"], base - cnt["clear_addr"], 0) +
                                    1 + 1 + send_rest(0, 0))
            if self.reset:
                # RESET: the step in flight ends (the core model's spikes, all taken
                # while resetting), then MemoryAccess's reset words, two clocks each
                with m.Case(S["RESET_WAIT"]):
                    m.d.comb += rest.eq(wait_rest + 1 + 2 * reset_words(0, 0) +
                                        1 + send_rest(0, 0))
                with m.Case(S["RESET_MEMORY"]):
                    m.d.comb += rest.eq(2 * reset_words(mem["reset_phase"], mem["index"]) -
                                        (mstate == M["RESPONSE"]) + 1 + send_rest(0, 0))

        allowed = [op.value for op in spec.Opcode if op.value not in self.excluded]
        known_ok = Cat(*(cur_op == op for op in allowed)).any()
        excluded_op = Cat(*(cur_op == op for op in self.excluded)).any()
        m.d.comb += [
            # the claim's ranking
            Assert(waiting + rest <= self.bound),
            # the FSMs: only the states these frames reach; the units they do not use idle
            Assert(at("RECV", "CHECK", "DISPATCH", "SEND", "FINISH", "ECHO", "HDR_LOAD",
                      "RUN_WAIT", "RUN", "PACE", "CLEAR", "CLEAR_WAIT", "INJECT_CHECK_PASS",
                      "INJECT_CHECK", "INJECT_ENQUEUE_PASS", "EVENTS", "EMIT", "MEMORY",
                      *(("STATUS_WAIT", "STATUS_COPY", "STATUS_WORDS") if self.status
                        else ()),
                      *(("RESET_WAIT", "RESET_MEMORY") if self.reset else ()))),
            Assert(Cat(*(pstate == code for code in K.values())).any()),
            Assert((pstate == K["IDLE"]) == ~at("EVENTS")),
            Assert(Cat(*(engine == code for code in E.values())).any()),
            Assert((engine != E["CLEAR"]) | (cnt["clear_addr"] < base)),
            Assert(~top["status_hold"] | at("STATUS_COPY")),
            Assert((engine != E["CLEAR"]) | at("CLEAR", "CLEAR_WAIT")),
            Assert(~top["copy_last"] | at("STATUS_COPY")),
            Assert(Cat(*(istate == code for code in I.values())).any()),
            Assert(Cat(*(mstate == code for code in M.values())).any()),
            Assert((mstate == M["IDLE"]) == ~at("MEMORY", *(("RESET_MEMORY",) if self.reset
                                                          else ()))),
            Assert(env["mem_pending"] ==
                   ((mstate == M["RESPONSE"]) | (mstate == M["EMIT"]))),
            Assert((tstate != T["IDLE"]) == at("SEND")),
            Assert(Cat(*(tstate == code for code in T.values())).any()),
            # a frame is being answered exactly while the count runs
            Assert((waiting != 0) == (~at("RECV") | (out.valid & out.payload.last))),
            Assert(~out.valid | out.payload.last | at("SEND")),
            Assert(last_len <= maxp),
            Assert(~rv | dv),
            Assert(rx["length"] <= max_body),
        ]
        with m.If(at("RECV")):
            m.d.comb += [Assert(env["started"] == (rx["length"] != 0)),
                         Assert(~env["started"] | (cur_op == env["opcode"]))]
        with m.Else():
            m.d.comb += Assert(~env["started"])
        with m.If(~at("RECV", "CHECK")):
            m.d.comb += Assert((rx["length"] == 0) & ~rx["overflow"])
        with m.If(at("CHECK")):
            m.d.comb += [Assert(waiting == 1),
                         Assert((rx["length"] == 0) | ~excluded_op),
                         Assert(pay_end == (rx["length"] - spec.CRC_BYTES)[:len(pay_end)]),
                         Assert(reply_ptr == 0)]
        with m.If(at("DISPATCH")):
            m.d.comb += [Assert(waiting == 2), Assert(known_ok), Assert(addr == HDR),
                         Assert((pay_end >= HDR) & (pay_end <= max_body - spec.CRC_BYTES)),
                         Assert(reply_ptr == 0), Assert(~top["copy_pending"])]
        with m.If(at("ECHO")):
            m.d.comb += [Assert(cur_op == spec.Opcode.ECHO.value),
                         Assert((pay_end >= HDR) & (pay_end <= max_body - spec.CRC_BYTES)),
                         Assert((addr >= HDR) & (addr <= pay_end)),
                         Assert(reply_ptr + top["copy_pending"] == addr - HDR),
                         Assert(~dv | (top["at_end"] == (addr == pay_end))),
                         Assert(top["last_reason"] == 0)]
        with m.If(at("DISPATCH", "ECHO", "HDR_LOAD", "RUN_WAIT", "RUN", "PACE", "MEMORY",
                     "INJECT_CHECK_PASS", "INJECT_CHECK", "INJECT_ENQUEUE_PASS", "CLEAR",
                     "CLEAR_WAIT", "EVENTS", "EMIT", "STATUS_WAIT", "STATUS_COPY",
                     "STATUS_WORDS", *(("RESET_WAIT", "RESET_MEMORY") if self.reset
                                       else ()))):
            m.d.comb += Assert((pay_end >= HDR) & (pay_end <= max_body - spec.CRC_BYTES))
            with m.If(~at("DISPATCH")):             # (DISPATCH clears it)
                m.d.comb += Assert(top["last_reason"] == 0)
        with m.If(at("HDR_LOAD")):
            m.d.comb += [Assert((cur_op == spec.Opcode.RUN.value) |
                                (cur_op == spec.Opcode.PACE.value) |
                                (cur_op == spec.Opcode.READ_MEM.value) |
                                (cur_op == spec.Opcode.WRITE_MEM.value)),
                         Assert(reply_ptr == 0)]
        with m.If(at("RUN_WAIT", "RUN", "PACE")):
            m.d.comb += [Assert((cur_op == spec.Opcode.RUN.value) |
                                (cur_op == spec.Opcode.PACE.value)),
                         Assert(reply_ptr == 0)]
        with m.If(at("MEMORY")):
            m.d.comb += [Assert((cur_op == spec.Opcode.READ_MEM.value) |
                                (cur_op == spec.Opcode.WRITE_MEM.value)),
                         Assert(top["last_reason"] == 0),
                         Assert((pay_end >= HDR) & (pay_end <= max_body - spec.CRC_BYTES))]
            with m.If(~rd | (mstate == M["CHECK"]) | (mstate == M["RANGE"]) |
                      (mstate == M["MULTIPLY"]) | (mstate == M["CHECK2"])):
                m.d.comb += Assert(reply_ptr == 0)
            with m.If(mstate != M["CHECK"]):
                m.d.comb += [Assert(region < n_reg), Assert(nbytes == nbytes_arr[region]),
                             Assert(mem["nbytes1"] == nbytes - 1),
                             Assert(mem["write"] == ~rd)]
            with m.If(mstate == M["RANGE"]):
                m.d.comb += Assert(total == mem["index"] + count)
            with m.If((mstate == M["MULTIPLY"]) | (mstate == M["CHECK2"])):
                m.d.comb += Assert(mem["range_bad"] == (mem["start_hi"] |
                                                        (mem["index"] + count >
                                                         depth_of[region])))
            with m.If(mstate == M["MULTIPLY"]):
                m.d.comb += [Assert(mbc <= nbytes),
                             Assert(total == (count * (nbytes - mbc))[:len(total)])]
            with m.If(mstate == M["CHECK2"]):
                m.d.comb += [Assert(total == (count * nbytes)[:len(total)]),
                             Assert(mem["length_bad"] == Mux(
                                 rd, total > maxp, total + hdr_bytes + HDR != pay_end))]
            with m.If((mstate == M["REQUEST"]) | (mstate == M["RESPONSE"]) |
                      (mstate == M["EMIT"]) | (mstate == M["LOAD"])):
                m.d.comb += [Assert((count >= 1) & (count <= depth_of[region])),
                             Assert(Mux(rd, count * nbytes <= maxp,
                                        count * nbytes + hdr_bytes + HDR <= pay_end))]
            with m.If(rd & ((mstate == M["REQUEST"]) | (mstate == M["RESPONSE"]) |
                            (mstate == M["EMIT"]))):
                m.d.comb += Assert(reply_ptr + count * nbytes - mbc <= maxp)
            with m.If((mstate == M["REQUEST"]) | (mstate == M["RESPONSE"])):
                m.d.comb += Assert(mbc == 0)
            with m.If(mstate == M["EMIT"]):
                m.d.comb += [Assert(rd), Assert(mbc < nbytes)]
            with m.If(mstate == M["LOAD"]):
                m.d.comb += [Assert(~rd), Assert(mbc < 10),
                             Assert(mleft == Mux(mbc >= nbytes, 0, nbytes - mbc))]
            with m.If(mstate == M["RESPONSE"]):
                m.d.comb += Assert(dv)
        with m.If(at("HDR_LOAD")):
            m.d.comb += Assert(top["byte_count"] < hdr_bytes)
        with m.If(at("FINISH")):
            m.d.comb += Assert(reply_ptr <= maxp)
        with m.If(at("CLEAR", "CLEAR_WAIT")):
            m.d.comb += [Assert(cur_op == spec.Opcode.CLEAR_STATUS.value),
                         Assert(reply_ptr == 0), Assert(top["last_reason"] == 0)]
        with m.If(at("INJECT_CHECK_PASS", "INJECT_CHECK", "INJECT_ENQUEUE_PASS")):
            m.d.comb += [Assert(cur_op == spec.Opcode.INJECT.value),
                         Assert(reply_ptr == 0), Assert(top["last_reason"] == 0),
                         Assert((pay_end >= HDR) & (pay_end <= max_body - spec.CRC_BYTES)),
                         Assert((addr >= HDR) & (addr <= pay_end))]
        with m.If(at("INJECT_CHECK_PASS", "INJECT_ENQUEUE_PASS")):
            m.d.comb += [Assert(~dv | (top["at_end"] == (addr == pay_end))),
                         Assert(istate != I["IDLE"]),
                         Assert(inject["second"] == at("INJECT_ENQUEUE_PASS"))]
        with m.If(at("INJECT_CHECK_PASS")):
            m.d.comb += Assert(istate != I["END"])
        with m.Else():
            with m.If(~at("INJECT_ENQUEUE_PASS")):
                m.d.comb += Assert(istate == I["IDLE"])
        with m.If(at("EVENTS")):
            m.d.comb += Assert(cur_op == spec.Opcode.READ_EVENTS.value)
        with m.If(at("EMIT")):
            m.d.comb += Assert((cur_op == spec.Opcode.READ_EVENTS.value) |
                               ((cur_op == spec.Opcode.STATUS.value) & self.status))
        with m.If(at("EVENTS")):
            m.d.comb += Assert(reply_ptr <= maxp)
            with m.If((pstate == K["NEW"]) | (pstate == K["INDEX"])):
                m.d.comb += [Assert(ev["room2"] == (reply_ptr <= maxp - 2)),
                             Assert(ev["room4"] == (reply_ptr <= maxp - 4))]
            with m.If((pstate == K["END_HI"]) | (pstate == K["INDEX_HI"])):
                m.d.comb += Assert(reply_ptr <= maxp - 1)
        with m.If(at("EMIT") & (cur_op == spec.Opcode.READ_EVENTS.value)):
            m.d.comb += [Assert(top["events_len"] <= maxp),
                         Assert((top["byte_count"] >= 1) & (top["byte_count"] <= 8))]
        with m.If(at("CLEAR_WAIT")):
            m.d.comb += Assert((engine == E["CLEAR"]) | (engine == E["IDLE"]))
        with m.If(at("SEND")):
            with m.If((tstate == T["SEQ"]) | (tstate == T["PAYLOAD"])):
                m.d.comb += [Assert(~nak | (left <= 2)), Assert(nak | (left <= maxp))]
            m.d.comb += Assert((tstate != T["PAYLOAD"]) | (left != 0))
        with m.If(~at("ECHO", "STATUS_COPY")):
            m.d.comb += Assert(~top["copy_pending"])
        # IDENTIFY, STATUS: the counters' engine works off its pending increments, the
        # bytes are copied from its memory at two clocks a byte (STATUS then emits four
        # words of four bytes)
        is_status = cur_op == spec.Opcode.STATUS.value
        pend = [cnt[f"pending_{c.name.lower()}"] for c in spec.Counter]
        with m.If(engine_busy):
            m.d.comb += [Assert(cnt["counter"] < len(spec.Counter)),
                         Assert(Array(pend)[cnt["counter"]] != 0)]
        with m.If(at("STATUS_WAIT", "STATUS_COPY", "STATUS_WORDS") |
                  (at("EMIT") & (cur_op != spec.Opcode.READ_EVENTS.value))):
            m.d.comb += Assert(is_status | (cur_op == spec.Opcode.IDENTIFY.value))
        with m.If(at("STATUS_WAIT")):
            m.d.comb += Assert(reply_ptr == 0)
        with m.If(at("STATUS_WAIT", "STATUS_COPY")):
            m.d.comb += Assert(top["status_word"] == 0)
        with m.If(at("STATUS_COPY")):
            m.d.comb += [
                Assert((top["status_addr"] >= copy_first) &
                       (top["status_addr"] <= copy_last_addr + 1)),
                Assert(reply_ptr + top["copy_pending"] + copy_left == copy_n),
                Assert(~top["copy_pending"] | ~top["status_ok"]),
                Assert(~top["copy_last"] | (top["copy_pending"] & (copy_left == 0))),
                Assert((copy_left != 0) | (top["copy_pending"] & top["copy_last"])),
                Assert(top["status_hold"] == (copy_left != 0)),
            ]
        with m.If(at("STATUS_WORDS")):
            m.d.comb += [Assert(is_status), Assert(top["status_word"] <= 3),
                         Assert(reply_ptr == n_status + 4 * top["status_word"])]
        with m.If(at("EMIT") & is_status):
            m.d.comb += [Assert(top["status_word"] <= 3),
                         Assert((top["byte_count"] >= 1) & (top["byte_count"] <= 4)),
                         Assert(reply_ptr + top["byte_count"] ==
                                n_status + 4 + 4 * top["status_word"])]
        if self.reset:
            self._feeder_invariants(m, feeder)
            self._reset_invariants(m, env, top, fd, F, mem, M, at, reply_ptr, cur_op,
                                   n_model, slots)
        return m

    @staticmethod
    def _feeder_view(fragment):
        """The step feeder's registers (``fd``), its FSM's states (``F``), its input
        buffer's (``fifo``) and that buffer's stored words (``words``, read through ports
        the harness adds), with ``level``, the END entries stored between ``r_ptr`` and
        ``w_ptr`` (``stored_ends``) and ``lag`` (the buffer holds entries its ``r_rdy``
        does not show yet: a write's clock after)."""
        fd = _unit_signals(fragment, "StepFeeder", "feeder")
        fifo = _unit_signals(fragment, "EventFifo", "feeder", "in_fifo")
        words = _memory_words(fragment, "EventFifo", "feeder", "in_fifo", "storage",
                              width=len(fifo["r_data"]),
                              depth=1 << (len(fifo["r_ptr"]) - 1))   # (r_ptr: n + 1 bits)
        n = ceil_log2(len(words))
        level, r_ptr = fifo["level"], fifo["r_ptr"]
        stored_ends = 0
        for k in range(len(words)):          # the k-th entry from the head
            word = Array(words)[(r_ptr + k)[:n]]
            stored_ends = stored_ends + ((level > k) & word[-1])     # (END: top bit)
        return {"fd": fd, "F": _fsm_states(fd["feeder_state"]), "fifo": fifo,
                "words": words, "level": level, "stored_ends": stored_ends,
                "head": Array(words)[r_ptr[:n]], "lag": (level != 0) & ~fifo["r_rdy"]}

    @staticmethod
    def _feeder_invariants(m, feeder):
        """The step feeder's END bookkeeping, whatever INJECT wrote: ``ends`` counts the
        END entries stored in the input buffer, in ``near`` and in ``out`` (so in
        ``FEED`` an END lies ahead); ``near`` holds an entry only behind a non-END
        ``out``, both only in ``FEED``; the buffer's pointers, flags and head word agree
        with its level; outside ``IDLE`` a step is in flight (so the controller's clear,
        which waits for no step in flight, finds the feeder idle)."""
        fd, F, fifo = feeder["fd"], feeder["F"], feeder["fifo"]
        fstate, level, depth = fd["feeder_state"], feeder["level"], len(feeder["words"])
        near, out = fd["near_valid"], fd["out_valid"]
        r_ptr, r_ptr1, r_rdy = fifo["r_ptr"], fifo["r_ptr1"], fifo["r_rdy"]
        m.d.comb += [
            Assert(Cat(*(fstate == code for code in F.values())).any()),
            Assert((fstate == F["IDLE"]) | fd["o_in_flight"]),
            Assert(fd["ends"] == feeder["stored_ends"] + (near & fd["near_eos"]) +
                   (out & fd["out_eos"])),
            Assert((fstate != F["FEED"]) | (fd["ends"] != 0)),
            Assert(~near | (out & ~fd["out_eos"])),
            Assert((fstate == F["FEED"]) | (~near & ~out)),
            Assert(level <= depth),
            Assert(r_ptr1 == (r_ptr + 1)[:len(r_ptr1)]),
            Assert(fifo["w_rdy"] == (level != depth)),
            Assert(~r_rdy | (level != 0)),
            Assert((level != depth) | r_rdy),
            Assert(~r_rdy | (fifo["r_data"] == feeder["head"])),
        ]

    @staticmethod
    def _reset_invariants(m, env, top, fd, F, mem, M, at, reply_ptr, cur_op, n_model,
                          slots):
        """RESET's invariants: a step in flight is the feeder's (``FEED``, ``EOS``) or
        the core model's (exactly one), ``resetting`` only while RESET waits or clears,
        and MemoryAccess's reset phases and indices in range (the feeder's own:
        :meth:`_feeder_invariants`)."""
        fstate, in_flight = fd["feeder_state"], fd["o_in_flight"]
        steps, spikes = env["model_steps"], env["model_spikes"]
        mstate, phase, index = mem["memory_state"], mem["reset_phase"], mem["index"]
        m.d.comb += [
            Assert(steps == ((fstate == F["IDLE"]) & in_flight)),
            Assert(spikes <= n_model),
            Assert((steps != 0) | (spikes == 0)),
            Assert(top["resetting"] == at("RESET_WAIT", "RESET_MEMORY")),
        ]
        with m.If(at("RESET_WAIT", "RESET_MEMORY")):
            m.d.comb += [Assert(cur_op == spec.Opcode.RESET.value), Assert(reply_ptr == 0)]
        with m.If(at("RESET_WAIT")):
            m.d.comb += Assert(mstate == M["IDLE"])
        with m.If(at("RESET_MEMORY")):
            m.d.comb += [Assert((mstate == M["REQUEST"]) | (mstate == M["RESPONSE"])),
                         Assert(phase <= 3),
                         Assert((phase >= 2) | (index < n_model)),
                         Assert((phase != 2) | (index < slots))]
