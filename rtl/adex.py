"""Pipelined AdEx kernel: the RTL twin of ``neurofab.golden.adex.step``.

The arithmetic is stated in ``docs/numerics.md`` ("Kernel: adex")::

    E  = min(E_MAX, T[j] * 2**s)          (j, s from z = v - (v_t << 9), see exp_term)
    D  = sat16(((acc << 10) + 2**9 - v - w + (E << 8)) >> 10)
    X  = sat16((alpha * (v >> 8) - (w << 1) + 2**8) >> 9)
    w1 = sat24(w + round(k_w * X / 2**13))
    v1 = sat24(v + round(k_m * D / 2**8))
    spike = v1 >= (v_t << 9) + PEAK_OFFSET[delta_t]
    if spike: v' = v_r << 11; w' = sat24(w1 + (beta << 9))   else v' = v1; w' = w1

Three multipliers (``alpha * v``, ``k_w * X``, ``k_m * D``), each 16x16 signed (one
iCE40 ``SB_MAC16``), in three different stages. Every width and constant comes from
``neurofab.spec.adex``.
"""

from amaranth import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from neurofab import spec
from neurofab.spec import adex as S

from .lif import saturate

__all__ = ["AdEx"]

_STATE_WORD = spec.state_word(S.STATE)
#: Bits of ``z = v - (v_t << VT_SHIFT)`` (both operands fit V_WIDTH).
_Z_WIDTH = S.V_WIDTH + 1
#: Rounding right-shifts of the two Euler increments.
_W_SHIFT = S.KW_FRAC - S.X_SHIFT
_V_SHIFT = S.KM_FRAC - S.D_SHIFT
#: ``X`` is the product ``alpha * (v >> U_TOP_SHIFT)`` (2**(U_TOP_SHIFT - ALPHA_FRAC)
#: voltage units) minus ``w`` at that scale, rounded by this right shift.
_X_ROUND = S.X_SHIFT + S.ALPHA_FRAC - S.U_TOP_SHIFT


def _with_half(x, shift):
    """``(x << shift) + 2**(shift - 1)`` without an adder (the low bits are zero)."""
    return Cat(Const(1 << (shift - 1), shift), x).as_signed()


def _round_sum(x, product, shift):
    """``x + round(product / 2**shift)`` (halves up) as one adder: the low ``shift`` bits
    of ``x << shift`` are zero, so the rounding half is concatenated, not added."""
    return (_with_half(x, shift) + product) >> shift


class AdEx(wiring.Component):
    """Pipelined adaptive exponential integrate-and-fire kernel.

    One neuron update may enter every clock; its result leaves exactly ``LATENCY`` clocks
    later (``o_valid`` is ``i_valid`` delayed by ``LATENCY``). The pipeline never stalls.
    The result is bit-identical to ``neurofab.golden.adex.step`` for every state value,
    every ``acc`` and every profile inside ``neurofab.spec.adex.LIMITS``.

    Stages (at most one carry chain and one multiplier on any path of a stage):

    1. ``z = v - (v_t << 9)``, ``(acc << 10) + 2**9 - v``, ``(w << 1) - 2**8``, the peak
       ``(v_t << 9) + PEAK_OFFSET[delta_t]`` and the first product ``alpha * (v >> 8)``;
    2. the exponent: ``idx = z >> (9 + delta_t)``, table entry ``T[idx & 31]`` and shift
       ``s = (idx >> 5) + delta_t - 8``; ``X``; ``(acc << 10) + 2**9 - v - w``;
       ``v - peak``;
    3. ``E = min(E_MAX, T << s)`` (a barrel shift, ``s`` clipped to [-16, 3]);
       the second product ``k_w * X``;
    4. ``D``; ``w1 = sat24(w + round(k_w X / 2**13))``;
    5. the third product ``k_m * D``; ``sat24(w1 + (beta << 9))``;
    6. ``v1 = sat24(v + round(k_m D / 2**8))`` and, in parallel,
       ``spike = (v - peak) + round(...) >= 0`` (equal to ``v1 >= peak`` because the peak
       lies strictly inside the s24 range); reset.

    Attributes
    ----------
    LATENCY : int
        Clocks from ``i_valid`` to the matching ``o_valid``.
    i_valid : In(1)
        ``i_state``, ``i_acc`` and ``i_params`` hold an update to perform.
    i_state : In(spec.state_word(spec.adex.STATE))
        State before the update (``v``, ``w``; ``profile`` is passed through).
    i_acc : In(signed(spec.ACC_WIDTH))
        Input ``I / g_L`` of this step, in drive units.
    i_params : In(spec.adex.PROFILE)
        Parameters of the neuron's profile.
    o_valid : Out(1)
        ``o_state`` and ``o_spike`` hold a result.
    o_state : Out(spec.state_word(spec.adex.STATE))
        State after the update (``profile`` copied from the input).
    o_spike : Out(1)
        The neuron fired (0 when ``o_valid`` is 0).
    """

    LATENCY = 6

    i_valid: In(1)
    i_state: In(_STATE_WORD)
    i_acc: In(signed(spec.ACC_WIDTH))
    i_params: In(S.PROFILE)
    o_valid: Out(1)
    o_state: Out(_STATE_WORD)
    o_spike: Out(1)

    def elaborate(self, platform):
        m = Module()

        def stage(name, value):
            """A register of the next stage holding ``value``."""
            reg = Signal(value.shape(), name=name)
            m.d.sync += reg.eq(value)
            return reg

        def carry(n, **values):
            """Registers ``s<n>_<name>`` for values that ride along unchanged."""
            return {name: stage(f"s{n}_{name}", value) for name, value in values.items()}

        st, p = self.i_state, self.i_params

        # --- stage 1 ------------------------------------------------------------------
        vt_scaled = p.v_t << S.VT_SHIFT
        peak_off = Array(Const(x, unsigned(S.V_WIDTH)) for x in S.PEAK_OFFSET)
        s1 = carry(1, valid=self.i_valid, v=st.v, w=st.w, profile=st.profile,
                   k_m=p.k_m, k_w=p.k_w, beta=p.beta, v_r=p.v_r, delta_t=p.delta_t)
        s1_z = stage("s1_z", st.v - vt_scaled)
        s1_dacc = stage("s1_dacc", _with_half(self.i_acc, S.D_SHIFT) - st.v)
        w_scaled = Cat(Const(0, S.ALPHA_FRAC - S.U_TOP_SHIFT), st.w).as_signed()
        s1_wx = stage("s1_wx", w_scaled - (1 << (_X_ROUND - 1)))
        s1_peak = stage("s1_peak", vt_scaled + peak_off[p.delta_t])
        s1_p1 = stage("s1_p1", p.alpha * (st.v >> S.U_TOP_SHIFT))

        # --- stage 2 ------------------------------------------------------------------
        idx = Signal(signed(_Z_WIDTH - (S.DT_K0 - S.EXP_INDEX_BITS)))
        with m.Switch(s1["delta_t"]):
            for i in range(1 << S.DT_WIDTH):
                with m.Case(i):
                    m.d.comb += idx.eq(s1_z >> (S.DT_K0 + i - S.EXP_INDEX_BITS))
        table = Array(Const(x, unsigned(16)) for x in S.EXP_TABLE)
        s2 = carry(2, valid=s1["valid"], v=s1["v"], w=s1["w"], profile=s1["profile"],
                   k_m=s1["k_m"], k_w=s1["k_w"], beta=s1["beta"], v_r=s1["v_r"])
        s2_t = stage("s2_t", table[idx[:S.EXP_INDEX_BITS]])
        s2_s = stage("s2_s", (idx >> S.EXP_INDEX_BITS) + s1["delta_t"] - S.EXP_SHIFT_BIAS)
        s2_x = stage("s2_x", saturate((s1_p1 - s1_wx) >> _X_ROUND, S.X_WIDTH))
        s2_dsum = stage("s2_dsum", s1_dacc - s1["w"])
        s2_vp = stage("s2_vp", s1["v"] - s1_peak)

        # --- stage 3 ------------------------------------------------------------------
        sc = Signal(signed(6))
        m.d.comb += sc.eq(Mux(s2_s > S.EXP_LSHIFT_MAX, S.EXP_LSHIFT_MAX,
                              Mux(s2_s < -S.EXP_RSHIFT_MAX, -S.EXP_RSHIFT_MAX, s2_s)))
        e_full = Signal(unsigned(16 + S.EXP_LSHIFT_MAX))
        m.d.comb += e_full.eq(Mux(sc[-1], s2_t >> (-sc)[:5], s2_t << sc[:2]))
        over_e = e_full[S.E_WIDTH:] != 0
        s3 = carry(3, valid=s2["valid"], v=s2["v"], w=s2["w"], profile=s2["profile"],
                   k_m=s2["k_m"], beta=s2["beta"], v_r=s2["v_r"], dsum=s2_dsum, vp=s2_vp)
        s3_e = stage("s3_e", Mux(over_e, S.E_MAX, e_full[:S.E_WIDTH]))
        s3_p2 = stage("s3_p2", s2["k_w"] * s2_x)

        # --- stage 4 ------------------------------------------------------------------
        s4 = carry(4, valid=s3["valid"], v=s3["v"], profile=s3["profile"], k_m=s3["k_m"],
                   beta=s3["beta"], v_r=s3["v_r"], vp=s3["vp"])
        e_scaled = Cat(Const(0, S.E_SHIFT), s3_e)
        s4_d = stage("s4_d", saturate((s3["dsum"] + e_scaled) >> S.D_SHIFT, S.D_WIDTH))
        s4_w1 = stage("s4_w1", saturate(_round_sum(s3["w"], s3_p2, _W_SHIFT), S.W_WIDTH))

        # --- stage 5 ------------------------------------------------------------------
        s5 = carry(5, valid=s4["valid"], v=s4["v"], profile=s4["profile"], v_r=s4["v_r"],
                   vp=s4["vp"], w1=s4_w1)
        s5_p3 = stage("s5_p3", s4["k_m"] * s4_d)
        s5_wb = stage("s5_wb", saturate(s4_w1 + (s4["beta"] << S.BETA_SHIFT), S.W_WIDTH))

        # --- stage 6: v', spike, reset ------------------------------------------------
        v1 = saturate(_round_sum(s5["v"], s5_p3, _V_SHIFT), S.V_WIDTH)
        spike = ~_round_sum(s5["vp"], s5_p3, _V_SHIFT)[-1]
        m.d.sync += [
            self.o_valid.eq(s5["valid"]),
            self.o_spike.eq(s5["valid"] & spike),
            self.o_state.v.eq(Mux(spike, s5["v_r"] << S.VR_SHIFT, v1)),
            self.o_state.w.eq(Mux(spike, s5_wb, s5["w1"])),
            self.o_state.profile.eq(s5["profile"]),
        ]
        return m
