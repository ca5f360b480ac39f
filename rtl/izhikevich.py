"""Pipelined Izhikevich kernel: the RTL twin of ``neurofab.golden.izhikevich``.

The arithmetic is stated in ``docs/numerics.md`` ("Kernel: izhikevich")::

    I   = sat16(acc + bias)
    Q   = K_HALF - 16 u + 4096 I
    v1  = clamp((v*v   + 28672 v  + Q) >> 13, V_FLOOR, V_MAX)
    v2  = clamp((v1*v1 + 28672 v1 + Q) >> 13, V_FLOOR, V_MAX)
    x   = sat16(((b*v) >> 14) - (u >> 8))
    s   = u + ((a*x) >> 8)
    spike = v2 >= V_PEAK
    v'  = spike ? c : v2;      u' = sat24(s + (spike ? d << 4 : 0))

Four 16x16 signed multipliers (``v*v``, ``b*v``, ``a*x``, ``v1*v1``); ``28672 v`` is
``(8 v - v) << 12``; every other constant factor is a shift. Every width comes from
``neurofab.spec``.

Timing. A half-step sum ``L + Q`` (``L = v*v + 28672 v``) is 35 bits wide, and its clamp
and the spike test are comparisons of that sum with constants. So that none of them is a
second carry chain behind the first:

* the low 12 bits of ``L`` are the square's and those of ``Q`` are ``K_HALF - 16 u``'s,
  both known a stage early; their carry is computed there, and the high parts add with it
  as carry-in (a 22-bit chain, not 35);
* each comparison ``L + Q >= k`` is the sign of ``L + (Q - k)``, a carry chain in
  parallel with the sum itself (``Q - k`` is ``Q`` with another constant).
"""

from amaranth import Cat, Const, Module, Mux, Shape, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from neurofab import spec
from neurofab.spec import izhikevich as S

from .lif import saturate

__all__ = ["Izhikevich"]

# The constant coefficients of a half-step are powers of two (or 7 times one): shifts.
_LO = exact_log2(S.V_COEF // 7)            # 12: 28672 v = 7 v << _LO, 4096 I = I << _LO
_U_COEF_SHIFT = exact_log2(S.U_COEF)
assert S.V_COEF == 7 << _LO and S.I_COEF == 1 << _LO
# The sums L + Q compared with, in units of 2**_LO: y >= V_FLOOR, y > V_MAX, y >= V_PEAK
# for y = (L + Q) >> HALF_SHIFT.
_UNIT = S.HALF_SHIFT - _LO
_FLOOR_K = S.V_FLOOR << _UNIT
_ABOVE_K = (S.V_MAX + 1) << _UNIT
_PEAK_K = S.V_PEAK << _UNIT
_V_FLOOR = Const(S.V_FLOOR, signed(S.V_WIDTH))
_V_MAX = Const(S.V_MAX, signed(S.V_WIDTH))


# Shapes of the half-step's high parts, from the ranges of their terms: registers this
# wide make the three-operand sums 22-bit carry chains (at Amaranth's widths, 36-bit).
_LH_SHAPE = Shape.cast(range(7 * S.V_MIN, (S.V_MIN * S.V_MIN >> _LO) + 7 * S.V_MAX + 1))
_UK_LO = S.K_HALF - S.U_COEF * S.U_MAX
_UK_HI = S.K_HALF - S.U_COEF * S.U_MIN
_UK_SHAPE = Shape.cast(range(_UK_LO, _UK_HI + 1))
_Q_SHAPE = Shape.cast(range(
    (_UK_LO >> _LO) + S.I_MIN - max(0, _FLOOR_K, _ABOVE_K, _PEAK_K),
    (_UK_HI >> _LO) + S.I_MAX - min(0, _FLOOR_K, _ABOVE_K, _PEAK_K) + 1))


def _add_carry(a, b, ci):
    """``a + b + ci`` (signed ``a``, ``b``; one-bit ``ci``) as one adder with ``ci`` as its
    carry-in: ``((2 a + 1) + (2 b + ci)) >> 1``, not an adder and an incrementer."""
    return (Cat(Const(1, 1), a).as_signed() + Cat(ci, b).as_signed()) >> 1


def _without(regs, *names):
    return {name: reg for name, reg in regs.items() if name not in names}


class Izhikevich(wiring.Component):
    """Pipelined Izhikevich (2003) kernel, one 1 ms update (two ``v`` half-steps).

    One neuron update may enter every clock; its result leaves exactly ``LATENCY`` clocks
    later (``o_valid`` is ``i_valid`` delayed by ``LATENCY``). The pipeline never stalls.
    The result is bit-identical to ``neurofab.golden.izhikevich.izhikevich_step`` for every
    state and accumulator value and every profile inside ``spec.izhikevich.LIMITS``.

    Stages (on each path one multiplier, or one carry chain and a LUT or two):

    1. ``v*v``, ``b*v``; ``7 v``; ``K_HALF - 16 u``; ``I = sat16(acc + bias)``;
    2. high parts ``Lh = (v*v >> 12) + 7 v`` and ``Qh = ((K_HALF - 16 u) >> 12) + I``
       (and ``Qh`` less the clamp constants), the carry ``cy`` of the low parts;
       ``x = sat16(((b*v) >> 14) - (u >> 8))``;
    3. ``v1``: ``(Lh + Qh + cy) >> 1`` with the range tests in parallel; ``a*x``;
    4. ``v1*v1``, ``7 v1``; ``s = u + ((a*x) >> 8)``;
    5. ``Lh1`` and its low carry; ``Qh`` less the floor and the peak constants; ``sat24(s)``,
       ``sat24(s + (d << 4))``;
    6. ``v2`` with the floor test, the spike test; ``v' = c`` or ``v2``, ``u'`` one of the
       two candidates.

    Attributes
    ----------
    LATENCY : int
        Clocks from ``i_valid`` to the matching ``o_valid``.
    i_valid : In(1)
        ``i_state``, ``i_acc`` and ``i_params`` hold an update to perform.
    i_state : In(spec.state_word(spec.izhikevich.STATE))
        State before the update (``v``, ``u``; ``profile`` is passed through).
    i_acc : In(signed(spec.ACC_WIDTH))
        Synaptic input of this step: the input current (before ``bias``).
    i_params : In(spec.izhikevich.PROFILE)
        Parameters of the neuron's profile.
    o_valid : Out(1)
        ``o_state`` and ``o_spike`` hold a result.
    o_state : Out(spec.state_word(spec.izhikevich.STATE))
        State after the update (``profile`` copied from the input).
    o_spike : Out(1)
        The neuron fired.
    """

    LATENCY = 6

    i_valid: In(1)
    i_state: In(spec.state_word(S.STATE))
    i_acc: In(signed(spec.ACC_WIDTH))
    i_params: In(S.PROFILE)
    o_valid: Out(1)
    o_state: Out(spec.state_word(S.STATE))
    o_spike: Out(1)

    def elaborate(self, platform):
        m = Module()

        def stage(name, value, shape=None):
            """A register of the next stage holding ``value``, at its full width or in
            ``shape`` (which the value's range must fit). Data registers have no reset
            (only ``valid`` does), so that a multiplier's output register can move into
            the DSP block."""
            reg = Signal(shape or value.shape(), name=name,
                         reset_less=not name.endswith("valid"))
            m.d.sync += reg.eq(value)
            return reg

        def forward(n, regs):
            """Stage ``n`` copies of the registers ``regs`` (a dict) of stage ``n - 1``."""
            return {name: stage(f"s{n}_{name}", reg) for name, reg in regs.items()}

        def square(n, v):
            """Stage-``n`` registers of ``v*v`` and ``7 v``."""
            return stage(f"s{n}_sq", v * v), stage(f"s{n}_v7", (v << 3) - v)

        def low_carry(sq, q_low):
            """Carry out of the low ``_LO`` bits of ``L`` (the square's: ``7 v << _LO``
            has none) plus those of ``Q``."""
            return (sq[:_LO] + q_low)[_LO]

        def negative(lh, qh, cy):
            """``L + Q < 0`` from the high parts and the low carry (``Q`` may have a
            constant taken off: then it is a comparison of ``L + Q`` with it)."""
            return _add_carry(lh, qh, cy)[-1]

        st, p = self.i_state, self.i_params

        # --- stage 1: v*v, b*v, 7 v, K_HALF - 16 u, I = sat16(acc + bias) ----------------
        s1_sq, s1_v7 = square(1, st.v)
        s1_bv = stage("s1_bv", p.b * st.v)
        s1_uk = stage("s1_uk", S.K_HALF - (st.u << _U_COEF_SHIFT), _UK_SHAPE)
        s1_i = stage("s1_i", saturate(self.i_acc + p.bias, S.I_WIDTH))
        s1 = forward(1, {"valid": self.i_valid, "profile": st.profile, "u": st.u,
                       "a": p.a, "c": p.c, "d": p.d})

        # --- stage 2: Lh, Qh and Qh less the clamp constants, the low carry, x -----------
        qh = (s1_uk >> _LO) + s1_i
        s2_lh = stage("s2_lh", (s1_sq >> _LO) + s1_v7, _LH_SHAPE)
        s2_qh = stage("s2_qh", qh, _Q_SHAPE)
        s2_qf = stage("s2_qf", qh - _FLOOR_K, _Q_SHAPE)
        s2_qa = stage("s2_qa", qh - _ABOVE_K, _Q_SHAPE)
        s2_ql = stage("s2_ql", s1_uk[:_LO])
        s2_cy = stage("s2_cy", low_carry(s1_sq, s1_uk[:_LO]))
        s2_x = stage("s2_x", saturate((s1_bv >> S.B_FRAC) - (s1["u"] >> S.U_SHIFT),
                                      S.X_WIDTH))
        s2 = forward(2, s1)

        # --- stage 3: v1 = clamp((L0 + Q) >> 13), range tests in parallel; a*x -----------
        y1 = _add_carry(s2_lh, s2_qh, s2_cy) >> _UNIT
        below = negative(s2_lh, s2_qf, s2_cy)
        above = ~negative(s2_lh, s2_qa, s2_cy)
        s3_v1 = stage("s3_v1", Mux(below, _V_FLOOR,
                                   Mux(above, _V_MAX, y1[:S.V_WIDTH].as_signed())))
        s3_ax = stage("s3_ax", s2["a"] * s2_x)
        s3 = forward(3, {**_without(s2, "a"), "qh": s2_qh, "ql": s2_ql})

        # --- stage 4: v1*v1, 7 v1, s = u + ((a*x) >> 8) ---------------------------------
        s4_sq, s4_v7 = square(4, s3_v1)
        s4_s = stage("s4_s", s3["u"] + (s3_ax >> S.DU_SHIFT))
        s4 = forward(4, _without(s3, "u"))

        # --- stage 5: Lh1 and its low carry, Qh less the floor and the peak constants,
        # both u' candidates -----------------------------------------------------------
        s5_lh = stage("s5_lh", (s4_sq >> _LO) + s4_v7, _LH_SHAPE)
        s5_cy = stage("s5_cy", low_carry(s4_sq, s4["ql"]))
        s5_qf = stage("s5_qf", s4["qh"] - _FLOOR_K, _Q_SHAPE)
        s5_qp = stage("s5_qp", s4["qh"] - _PEAK_K, _Q_SHAPE)
        s5_u = stage("s5_u", saturate(s4_s, S.U_WIDTH))
        s5_ud = stage("s5_ud", saturate(s4_s + (s4["d"] << (S.U_SHIFT - S.D_SHIFT)),
                                        S.U_WIDTH))
        s5 = forward(5, _without(s4, "d", "ql"))

        # --- stage 6: v2, the spike test, the reset --------------------------------------
        # spike = clamp(y2) >= V_PEAK = y2 >= V_PEAK. Without a spike v2 < V_PEAK, so of
        # the clamp only the floor can act.
        y2 = _add_carry(s5_lh, s5["qh"], s5_cy) >> _UNIT
        spike = ~negative(s5_lh, s5_qp, s5_cy)
        v2 = Mux(negative(s5_lh, s5_qf, s5_cy), _V_FLOOR, y2[:S.V_WIDTH].as_signed())
        m.d.sync += [
            self.o_valid.eq(s5["valid"]),
            self.o_spike.eq(s5["valid"] & spike),
            self.o_state.v.eq(Mux(spike, s5["c"], v2)),
            self.o_state.u.eq(Mux(spike, s5_ud, s5_u)),
            self.o_state.profile.eq(s5["profile"]),
        ]
        return m
