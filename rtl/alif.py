"""Pipelined ALIF kernel: the RTL twin of ``neurofab.golden.alif.alif_step``.

The arithmetic is stated in ``docs/numerics.md`` ("Kernel: alif")::

    theta = min(threshold + (a >> (8 + adapt_shift)), 32767)
    i' = sat16( rtz(i * (4096 - decay_i) / 4096) + acc )
    if ref > 0:  v' = v;  ref' = ref - 1;  spike = 0
    else:
        v' = sat16( rtz(v * (4096 - decay_v) / 4096) + i' + bias )
        spike = v' >= theta
        if spike: v' = v_reset (TO_VRESET) or v' - theta (SUBTRACT); ref' = refractory
    a' = min( (a * (4096 - decay_a)) >> 12 + (adapt_inc << 8 if spike else 0), 2**24 - 1 )

Four multipliers, all in stage 1 and all within 16 x 14 bits: CUBA-LIF's pair and the
24-bit ``a`` times its keep factor as two unsigned 12 x 13 halves
(``a * k >> 12 = a_hi * k + (a_lo * k >> 12)`` exactly, with ``a = a_hi * 4096 + a_lo``);
the adapted threshold needs none. Every width comes from ``neurofab.spec`` and
``neurofab.spec.alif``.
"""

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from neurofab import spec
from neurofab.spec import alif as S

from .lif import saturate

__all__ = ["Alif"]

_STATE_WORD = spec.state_word(S.STATE)
#: ``i`` or ``v`` times a signed keep factor ``DECAY_ONE - decay`` (0 .. 4096).
_PRODUCT_WIDTH = spec.STATE_WIDTH + spec.DECAY_WIDTH + 1
#: ``a`` is multiplied in two halves of this many bits (the low one as wide as the
#: ``/ 4096``, so that its quotient is the only rounded part).
_A_HALF = spec.DECAY_FRAC_BITS
assert S.ADAPT_WIDTH == 2 * _A_HALF
#: Bits of the adapted threshold (1 .. THETA_MAX).
_THETA_WIDTH = spec.STATE_WIDTH - 1


class Alif(wiring.Component):
    """Pipelined adaptive leaky integrate-and-fire kernel.

    One neuron update may enter every clock; its result leaves exactly ``LATENCY`` clocks
    later (``o_valid`` is ``i_valid`` delayed by ``LATENCY``). The pipeline never stalls.
    The result is bit-identical to ``neurofab.golden.alif.alif_step`` for every state
    value, every ``acc`` and every profile inside ``neurofab.spec.alif.LIMITS``.

    Stages (at most one carry chain on any path of a stage after the multipliers):

    1. the keep products ``i * (4096 - decay_i)``, ``v * (4096 - decay_v)`` and the two
       halves of ``a * (4096 - decay_a)``; the adapted threshold
       ``theta = min(threshold + (a >> (8 + adapt_shift)), 32767)`` (a 4-way multiplexer,
       one adder, a clamp on its two top bits);
    2. ``i`` and ``v`` products rounded toward zero (the ``/ 4096``); ``a``'s products
       are not negative, so its quotient is ``hi + (lo >> 12)``; ``bias - theta``;
    3. ``i' = sat16(rtz_i + acc)``; the partial sums ``rtz_v + bias`` and
       ``rtz_v + bias - theta``; the incremented adaptation
       ``min(rtz_a + (adapt_inc << 8), 2**24 - 1)``;
    4. as CUBA-LIF's last stage with ``theta`` for ``threshold``: ``v' = sat16(s)``,
       ``spike = s >= theta``, reset (``SUBTRACT``: ``s - theta``, or ``32767 - theta``
       when ``s`` saturates high), the refractory counter; ``a'`` picks the incremented
       or the plain decayed adaptation by ``spike``.

    Attributes
    ----------
    LATENCY : int
        Clocks from ``i_valid`` to the matching ``o_valid``.
    i_valid : In(1)
        ``i_state``, ``i_acc`` and ``i_params`` hold an update to perform.
    i_state : In(spec.state_word(spec.alif.STATE))
        State before the update (``i``, ``v``, ``ref``, ``a``; ``profile`` is passed
        through).
    i_acc : In(signed(spec.ACC_WIDTH))
        Synaptic input of this step (the accumulator slot being consumed).
    i_params : In(spec.alif.PROFILE)
        Parameters of the neuron's profile.
    o_valid : Out(1)
        ``o_state`` and ``o_spike`` hold a result.
    o_state : Out(spec.state_word(spec.alif.STATE))
        State after the update (``profile`` copied from the input).
    o_spike : Out(1)
        The neuron fired.
    """

    LATENCY = 4

    i_valid: In(1)
    i_state: In(_STATE_WORD)
    i_acc: In(signed(spec.ACC_WIDTH))
    i_params: In(S.PROFILE)
    o_valid: Out(1)
    o_state: Out(_STATE_WORD)
    o_spike: Out(1)

    def elaborate(self, platform):
        m = Module()
        W = spec.STATE_WIDTH
        FRAC = spec.DECAY_FRAC_BITS

        def stage(name, value):
            """A register of the next stage holding ``value``."""
            reg = Signal(value.shape(), name=name)
            m.d.sync += reg.eq(value)
            return reg

        def rtz(product):
            """``rtz(product / DECAY_ONE)``: floor shift, plus one for an inexact
            negative product."""
            return (product + Mux(product[-1], spec.DECAY_ONE - 1, 0)) >> FRAC

        p = self.i_params
        st = self.i_state

        # --- stage 1: keep products; the adapted threshold ------------------------------
        keep_a = Signal(unsigned(spec.DECAY_WIDTH))      # 3841 .. 4096, unsigned operand
        m.d.comb += keep_a.eq(spec.DECAY_ONE - p.decay_a)
        raised = Signal(unsigned(_THETA_WIDTH + 2))      # threshold + (a >> (8 + shift))
        m.d.comb += raised.eq(p.threshold + (st.a[S.ADAPT_FRAC_BITS:] >> p.adapt_shift))
        s1_valid = stage("s1_valid", self.i_valid)
        s1_prod_i = Signal(signed(_PRODUCT_WIDTH))
        s1_prod_v = Signal(signed(_PRODUCT_WIDTH))
        s1_prod_a_hi = Signal(unsigned(_A_HALF + spec.DECAY_WIDTH))
        s1_prod_a_lo = Signal(unsigned(_A_HALF + spec.DECAY_WIDTH))
        s1_theta = Signal(unsigned(_THETA_WIDTH))
        m.d.sync += [
            s1_prod_i.eq(st.i * (spec.DECAY_ONE - p.decay_i)),
            s1_prod_v.eq(st.v * (spec.DECAY_ONE - p.decay_v)),
            s1_prod_a_hi.eq(st.a[_A_HALF:] * keep_a),
            s1_prod_a_lo.eq(st.a[:_A_HALF] * keep_a),
            s1_theta.eq(Mux(raised[_THETA_WIDTH:] != 0, S.THETA_MAX, raised)),
        ]
        s1_acc = stage("s1_acc", self.i_acc)
        s1_state = stage("s1_state", st)
        s1_params = stage("s1_params", p)

        # --- stage 2: round toward zero; bias - theta -----------------------------------
        # |rtz(x * keep / 4096)| <= |x|: the quotients fit the widths of i, v and a.
        s2_valid = stage("s2_valid", s1_valid)
        s2_q_i = Signal(signed(W))
        s2_q_v = Signal(signed(W))
        s2_q_a = Signal(unsigned(S.ADAPT_WIDTH))
        s2_bt = Signal(signed(_THETA_WIDTH + 2))          # bias - theta
        m.d.sync += [
            s2_q_i.eq(rtz(s1_prod_i)),
            s2_q_v.eq(rtz(s1_prod_v)),
            s2_q_a.eq(s1_prod_a_hi + s1_prod_a_lo[FRAC:]),
            s2_bt.eq(s1_params.bias - s1_theta),
        ]
        s2_theta = stage("s2_theta", s1_theta)
        s2_acc = stage("s2_acc", s1_acc)
        s2_state = stage("s2_state", s1_state)
        s2_params = stage("s2_params", s1_params)

        # --- stage 3: i', the v-side partial sums, the incremented adaptation -----------
        s3_valid = stage("s3_valid", s2_valid)
        s3_i = Signal(signed(W))
        s3_vb = Signal(signed(W + 1))        # rtz_v + bias
        s3_vbt = Signal(signed(W + 2))       # rtz_v + bias - theta
        s3_a_inc = Signal(unsigned(S.ADAPT_WIDTH))
        a_sum = s2_q_a + (s2_params.adapt_inc << S.ADAPT_FRAC_BITS)   # ADAPT_WIDTH + 1 bits
        m.d.sync += [
            s3_i.eq(saturate(s2_q_i + s2_acc)),
            s3_vb.eq(s2_q_v + s2_params.bias),
            s3_vbt.eq(s2_q_v + s2_bt),
            s3_a_inc.eq(Mux(a_sum[S.ADAPT_WIDTH], S.ADAPT_MAX, a_sum)),
        ]
        s3_q_a = stage("s3_q_a", s2_q_a)
        s3_theta = stage("s3_theta", s2_theta)
        s3_state = stage("s3_state", s2_state)
        s3_params = stage("s3_params", s2_params)

        # --- stage 4: v', spike against theta, reset, refractory, a' --------------------
        total = Signal(signed(W + 2))        # rtz_v + i' + bias, full width
        over = Signal(signed(W + 3))         # total - theta
        m.d.comb += [total.eq(s3_vb + s3_i), over.eq(s3_vbt + s3_i)]
        v_int = saturate(total)
        active = s3_state.ref == 0
        spike = active & ~over[-1]
        high = ~total[-1] & (total[W - 1:] != 0)     # sat16 clipped at the high rail
        # SUBTRACT never saturates: 0 <= sat16(total) - theta < 2**15; at the high rail
        # it is 32767 - theta, the 15-bit complement of theta.
        v_sub = Mux(high, ~s3_theta, over[:W])
        v_fired = Mux(s3_params.reset == spec.Reset.SUBTRACT, v_sub, s3_params.v_reset)
        m.d.sync += [
            self.o_valid.eq(s3_valid),
            self.o_spike.eq(s3_valid & spike),
            self.o_state.i.eq(s3_i),
            self.o_state.v.eq(Mux(spike, v_fired, Mux(active, v_int, s3_state.v))),
            self.o_state.ref.eq(Mux(spike, s3_params.refractory,
                                    Mux(active, 0, s3_state.ref - 1))),
            self.o_state.a.eq(Mux(spike, s3_a_inc, s3_q_a)),
            self.o_state.profile.eq(s3_state.profile),
        ]
        return m
