"""Pipelined CUBA-LIF kernel: the RTL twin of ``neurofab.golden.lif.cuba_lif_step``.

The arithmetic is stated in ``docs/numerics.md`` ("Kernel")::

    i' = sat16( rtz(i * (4096 - decay_i) / 4096) + acc )
    if ref > 0:  v' = v;  ref' = ref - 1;  spike = 0
    else:
        v' = sat16( rtz(v * (4096 - decay_v) / 4096) + i' + bias )
        spike = v' >= threshold
        if spike: v' = v_reset (TO_VRESET) or v' - threshold (SUBTRACT); ref' = refractory

Every width comes from ``neurofab.spec``.
"""

from amaranth import Module, Mux, Signal, Const, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from neurofab import spec

__all__ = ["CubaLif", "saturate"]

# Exact product of a state value and a decay factor ``DECAY_ONE - decay`` (0..4096, which
# needs ``DECAY_WIDTH`` magnitude bits plus a sign bit once it is a signed operand).
_PRODUCT_WIDTH = spec.STATE_WIDTH + spec.DECAY_WIDTH + 1


def saturate(value, width=spec.STATE_WIDTH):
    """Clamp a signed ``value`` to ``signed(width)`` (``sat16`` for the default width).

    The range test looks at the bits above the result's sign bit (all equal iff the value
    fits), so it costs a few LUTs and no carry chain.

    Parameters
    ----------
    value : Value
        A signed value at least ``width`` bits wide.
    width : int
        Width of the result.

    Returns
    -------
    Value
        ``signed(width)``.
    """
    if len(value) <= width:
        return value.as_signed()
    top = value[width - 1:]
    fits = (top == 0) | (top == (1 << len(top)) - 1)
    low = Const(-(1 << (width - 1)), signed(width))
    high = Const((1 << (width - 1)) - 1, signed(width))
    return Mux(fits, value[:width].as_signed(), Mux(value[-1], low, high))


def _rtz_decay(product):
    """``rtz(product / DECAY_ONE)``: floor shift, plus one for an inexact negative product."""
    bias = Mux(product[-1], spec.DECAY_ONE - 1, 0)
    return (product + bias) >> spec.DECAY_FRAC_BITS


class CubaLif(wiring.Component):
    """Pipelined current-based leaky integrate-and-fire kernel.

    One neuron update may enter every clock; its result leaves exactly ``LATENCY`` clocks
    later (``o_valid`` is ``i_valid`` delayed by ``LATENCY``). The pipeline never stalls.
    The result is bit-identical to ``neurofab.golden.lif.cuba_lif_step``.

    Stages (one carry chain each, so that the kernel is not the critical path of a core):

    1. both decay products ``i * (4096 - decay_i)`` and ``v * (4096 - decay_v)`` (independent,
       one multiplier each) and ``bias - threshold``;
    2. round both products toward zero (the ``/ 4096``);
    3. ``i' = sat16(rtz_i + acc)``, and the two partial sums ``rtz_v + bias`` and
       ``rtz_v + bias - threshold``;
    4. ``s = rtz_v + bias + i'`` and ``s - threshold`` in parallel; ``v' = sat16(s)`` (one
       saturation of the full-width sum), ``spike = s >= threshold`` (equal to
       ``sat16(s) >= threshold`` because ``1 <= threshold <= 32767``), reset (the
       ``SUBTRACT`` result ``sat16(s) - threshold`` is ``s - threshold``, or
       ``32767 - threshold`` when ``s`` saturates high) and the refractory counter.

    The result is exact for parameters inside ``neurofab.config.PROFILE_LIMITS`` (the
    config validator enforces them).

    Parameters
    ----------
    None.

    Attributes
    ----------
    LATENCY : int
        Clocks from ``i_valid`` to the matching ``o_valid``.
    i_valid : In(1)
        ``i_state``, ``i_acc`` and ``i_params`` hold an update to perform.
    i_state : In(spec.NeuronState)
        State before the update (``i``, ``v``, ``ref``; ``profile`` is passed through).
    i_acc : In(signed(spec.ACC_WIDTH))
        Synaptic input of this step (the accumulator slot being consumed).
    i_params : In(spec.Profile)
        Parameters of the neuron's profile.
    o_valid : Out(1)
        ``o_state`` and ``o_spike`` hold a result.
    o_state : Out(spec.NeuronState)
        State after the update (``profile`` copied from the input).
    o_spike : Out(1)
        The neuron fired.
    """

    LATENCY = 4

    i_valid: In(1)
    i_state: In(spec.NeuronState)
    i_acc: In(signed(spec.ACC_WIDTH))
    i_params: In(spec.Profile)
    o_valid: Out(1)
    o_state: Out(spec.NeuronState)
    o_spike: Out(1)

    def elaborate(self, platform):
        m = Module()
        W = spec.STATE_WIDTH

        def stage(name, value):
            """A register of the next stage holding ``value``."""
            reg = Signal(value.shape(), name=name)
            m.d.sync += reg.eq(value)
            return reg

        # --- stage 1: the two decay products, in parallel; bias - threshold -------------
        keep_i = spec.DECAY_ONE - self.i_params.decay_i
        keep_v = spec.DECAY_ONE - self.i_params.decay_v
        s1_valid = stage("s1_valid", self.i_valid)
        s1_prod_i = Signal(signed(_PRODUCT_WIDTH))
        s1_prod_v = Signal(signed(_PRODUCT_WIDTH))
        s1_bt = Signal(signed(W + 1))
        m.d.sync += [
            s1_prod_i.eq(self.i_state.i * keep_i),
            s1_prod_v.eq(self.i_state.v * keep_v),
            s1_bt.eq(self.i_params.bias - self.i_params.threshold),
        ]
        s1_acc = stage("s1_acc", self.i_acc)
        s1_state = stage("s1_state", self.i_state)
        s1_params = stage("s1_params", self.i_params)

        # --- stage 2: round toward zero -------------------------------------------------
        # |rtz(x * keep / 4096)| <= |x|, so both quotients fit the state width.
        s2_valid = stage("s2_valid", s1_valid)
        s2_q_i = Signal(signed(W))
        s2_q_v = Signal(signed(W))
        m.d.sync += [s2_q_i.eq(_rtz_decay(s1_prod_i)), s2_q_v.eq(_rtz_decay(s1_prod_v))]
        s2_bt = stage("s2_bt", s1_bt)
        s2_acc = stage("s2_acc", s1_acc)
        s2_state = stage("s2_state", s1_state)
        s2_params = stage("s2_params", s1_params)

        # --- stage 3: i', and the v-side partial sums (not saturated) -------------------
        s3_valid = stage("s3_valid", s2_valid)
        s3_i = Signal(signed(W))
        s3_vb = Signal(signed(W + 1))        # rtz_v + bias
        s3_vbt = Signal(signed(W + 2))       # rtz_v + bias - threshold
        m.d.sync += [
            s3_i.eq(saturate(s2_q_i + s2_acc)),
            s3_vb.eq(s2_q_v + s2_params.bias),
            s3_vbt.eq(s2_q_v + s2_bt),
        ]
        s3_state = stage("s3_state", s2_state)
        s3_params = stage("s3_params", s2_params)

        # --- stage 4: v', threshold, reset, refractory ----------------------------------
        total = Signal(signed(W + 2))        # rtz_v + i' + bias, full width
        over = Signal(signed(W + 3))         # total - threshold
        m.d.comb += [total.eq(s3_vb + s3_i), over.eq(s3_vbt + s3_i)]
        v_int = saturate(total)
        active = s3_state.ref == 0
        spike = active & ~over[-1]
        high = ~total[-1] & (total[W - 1:] != 0)     # sat16 clipped at the high rail
        # SUBTRACT never saturates: 0 <= sat16(total) - threshold < 2**15.
        v_sub = Mux(high, spec.STATE_MAX - s3_params.threshold, over[:W])
        v_fired = Mux(s3_params.reset == spec.Reset.SUBTRACT, v_sub, s3_params.v_reset)
        m.d.sync += [
            self.o_valid.eq(s3_valid),
            self.o_spike.eq(s3_valid & spike),
            self.o_state.i.eq(s3_i),
            self.o_state.v.eq(Mux(spike, v_fired, Mux(active, v_int, s3_state.v))),
            self.o_state.ref.eq(Mux(spike, s3_params.refractory,
                                    Mux(active, 0, s3_state.ref - 1))),
            self.o_state.profile.eq(s3_state.profile),
        ]
        return m
