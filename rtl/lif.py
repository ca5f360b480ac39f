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

    Stages:

    1. both decay products ``i * (4096 - decay_i)`` and ``v * (4096 - decay_v)`` (independent,
       one multiplier each, registered);
    2. round toward zero, ``i' = sat16(. + acc)`` and ``rtz(v-product) + bias`` (registered);
    3. ``v' = sat16(. + i')`` (one saturation of the full-width sum), threshold compare,
       reset and refractory logic (registered outputs).

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

    LATENCY = 3

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

        # --- stage 1: the two decay products, in parallel ------------------------------
        s1_valid = Signal()
        s1_prod_i = Signal(signed(_PRODUCT_WIDTH))
        s1_prod_v = Signal(signed(_PRODUCT_WIDTH))
        s1_acc = Signal.like(self.i_acc)
        s1_state = Signal(spec.NeuronState)
        s1_params = Signal(spec.Profile)
        keep_i = spec.DECAY_ONE - self.i_params.decay_i
        keep_v = spec.DECAY_ONE - self.i_params.decay_v
        m.d.sync += [
            s1_valid.eq(self.i_valid),
            s1_prod_i.eq(self.i_state.i * keep_i),
            s1_prod_v.eq(self.i_state.v * keep_v),
            s1_acc.eq(self.i_acc),
            s1_state.eq(self.i_state),
            s1_params.eq(self.i_params),
        ]

        # --- stage 2: rounding, i' and the v-side partial sum --------------------------
        s2_valid = Signal()
        s2_i = Signal(signed(W))
        # rtz(v-product) + bias: both s16, the sum needs one more bit. Not saturated: the
        # only saturation of v' is the one of the full sum in stage 3.
        s2_vb = Signal(signed(W + 1))
        s2_state = Signal(spec.NeuronState)
        s2_params = Signal(spec.Profile)
        m.d.sync += [
            s2_valid.eq(s1_valid),
            s2_i.eq(saturate(_rtz_decay(s1_prod_i) + s1_acc)),
            s2_vb.eq(_rtz_decay(s1_prod_v) + s1_params.bias),
            s2_state.eq(s1_state),
            s2_params.eq(s1_params),
        ]

        # --- stage 3: v', threshold, reset, refractory ---------------------------------
        v_int = Signal(signed(W))
        m.d.comb += v_int.eq(saturate(s2_vb + s2_i))
        active = s2_state.ref == 0
        spike = active & (v_int >= s2_params.threshold)
        # SUBTRACT never saturates: v_int >= threshold > 0, so 0 <= v_int - threshold < 2**15.
        v_fired = Mux(s2_params.reset == spec.Reset.SUBTRACT,
                      (v_int - s2_params.threshold)[:W], s2_params.v_reset)
        m.d.sync += [
            self.o_valid.eq(s2_valid),
            self.o_spike.eq(s2_valid & spike),
            self.o_state.i.eq(s2_i),
            self.o_state.v.eq(Mux(spike, v_fired, Mux(active, v_int, s2_state.v))),
            self.o_state.ref.eq(Mux(spike, s2_params.refractory,
                                    Mux(active, 0, s2_state.ref - 1))),
            self.o_state.profile.eq(s2_state.profile),
        ]
        return m
