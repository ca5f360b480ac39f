"""Bit-true golden model of the CUBA-LIF kernel (``docs/numerics.md``, section "Kernel").

Vectorised over neurons: every argument is a numpy integer array (or a scalar that
broadcasts). No Python loop per neuron.
"""

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from neurofab.spec import (DECAY_FRAC_BITS, DECAY_ONE, PROFILE_FIELDS, Reset, STATE_MAX,
                           STATE_MIN)

__all__ = ["LifParams", "rtz_decay", "sat16", "cuba_lif_step", "step", "initial_state",
           "stepper"]

#: The kernel's parameters: the fields of a profile (``spec.PROFILE_FIELDS``).
PARAM_NAMES = PROFILE_FIELDS


@dataclass(frozen=True)
class LifParams:
    """Kernel parameters (scalars or arrays broadcastable to the neurons).

    Parameters
    ----------
    decay_i, decay_v : int or array, 0..4096
        Fraction (in 1/4096) of ``i`` / ``v`` lost per step.
    threshold : int or array, 1..32767
        Spike when ``v' >= threshold``.
    bias : int or array, s16
        Constant added to ``v`` every non-refractory step.
    v_reset : int or array, s16
        ``v`` after a spike in ``Reset.TO_VRESET`` mode.
    reset : Reset or int array
        ``Reset.TO_VRESET`` (0) or ``Reset.SUBTRACT`` (1).
    refractory : int or array, 0..15
        Steps during which ``v`` is frozen after a spike.
    """
    decay_i: Any = 0
    decay_v: Any = 0
    threshold: Any = 1
    bias: Any = 0
    v_reset: Any = 0
    reset: Any = Reset.TO_VRESET
    refractory: Any = 0


def _param(p, name):
    value = p[name] if isinstance(p, Mapping) else getattr(p, name)
    if isinstance(value, Reset):
        value = value.value
    return np.asarray(value, dtype=np.int64)


def sat16(x):
    """Clamp to the signed 16-bit rails [-32768, 32767]."""
    return np.clip(x, STATE_MIN, STATE_MAX)


def rtz_decay(x, decay):
    """``rtz(x * (4096 - decay) / 4096)``: exact product, quotient rounded toward zero."""
    prod = np.asarray(x, dtype=np.int64) * (DECAY_ONE - np.asarray(decay, dtype=np.int64))
    mag = np.abs(prod) >> DECAY_FRAC_BITS
    return np.where(prod < 0, -mag, mag)


def cuba_lif_step(i, v, ref, acc, p):
    """One CUBA-LIF update of every neuron.

    Parameters
    ----------
    i, v : int arrays (s16)
        Synaptic current and membrane potential before the update.
    ref : int array (u4)
        Remaining refractory steps.
    acc : int array (s24)
        Synaptic input of this step (the accumulator slot being consumed).
    p : LifParams, mapping or object with the ``PARAM_NAMES`` attributes

    Returns
    -------
    (i', v', ref', spike) : int64, int64, int64, bool arrays
    """
    i = np.asarray(i, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    ref = np.asarray(ref, dtype=np.int64)
    acc = np.asarray(acc, dtype=np.int64)
    decay_i, decay_v, threshold, bias, v_reset, reset, refractory = (
        _param(p, name) for name in PARAM_NAMES)

    i_new = sat16(rtz_decay(i, decay_i) + acc)
    v_int = sat16(rtz_decay(v, decay_v) + i_new + bias)
    active = ref == 0
    spike = active & (v_int >= threshold)
    v_fired = np.where(reset == Reset.SUBTRACT.value, v_int - threshold, v_reset)
    v_new = np.where(active, np.where(spike, v_fired, v_int), v)
    ref_new = np.where(active, np.where(spike, refractory, 0), ref - 1)
    shape = np.broadcast_shapes(i.shape, v.shape, ref.shape, acc.shape)
    return (np.broadcast_to(i_new, shape).copy(), np.broadcast_to(v_new, shape).copy(),
            np.broadcast_to(ref_new, shape).copy(), np.broadcast_to(spike, shape).copy())


def step(state, acc, params):
    """The kernel contract of ``neurofab.kernels`` (``state``: ``i``, ``v``, ``ref``)."""
    i, v, ref, spike = cuba_lif_step(state["i"], state["v"], state["ref"], acc, params)
    return {"i": i, "v": v, "ref": ref}, spike


def stepper(params, state):
    """The kernel's update for many steps (the ``Kernel.stepper`` contract):
    :class:`LifStepper`."""
    return LifStepper(params, state)


class LifStepper:
    """:func:`cuba_lif_step`, step after step with fixed parameters, in place.

    The same update on preallocated int64 buffers, in few numpy calls: ``i`` and ``v``
    share one array, so both decays are one product and one rounding (the quotient's
    ``rtz`` is the hardware's ``(p + 4095) >> 12`` for ``p < 0``, ``docs/numerics.md``,
    "Operators"; ``4095`` is the product's top 12 bits when it is negative); the
    refractory and the fired neurons, few, are handled by their indices.
    ``tests/golden/test_batch.py`` proves it equal to :func:`cuba_lif_step`.

    Parameters
    ----------
    params : mapping
        Every ``PARAM_NAMES`` field, an int array of one entry per neuron (the last axis
        of the state).
    state : mapping
        The start state: ``i``, ``v``, ``ref``, int arrays of one shape (e.g. ``(batch,
        n_neurons)``); not modified.
    """

    def __init__(self, params, state):
        p = {name: _param(params, name) for name in PARAM_NAMES}
        self.shape = np.shape(state["v"])
        n = self.shape[-1]
        per_neuron = (lambda x: np.broadcast_to(x, (n,)))
        self.keep = np.stack([per_neuron(DECAY_ONE - p["decay_i"]),
                              per_neuron(DECAY_ONE - p["decay_v"])])[:, None]
        self.bias, self.threshold = per_neuron(p["bias"]), per_neuron(p["threshold"])
        # a fired neuron's v' = slope * v' + offset: TO_VRESET 0, v_reset; SUBTRACT 1, -threshold
        subtract = per_neuron(p["reset"] == Reset.SUBTRACT.value)
        self.slope = subtract.astype(np.int64)
        self.offset = np.where(subtract, -self.threshold, per_neuron(p["v_reset"]))
        self.refractory = per_neuron(p["refractory"])
        self.iv = np.array([state["i"], state["v"]], dtype=np.int64,
                           order="C").reshape(2, -1, n)
        self.ref = np.array(state["ref"], dtype=np.int64, order="C").reshape(-1)
        self._i, self._v = self.iv
        self._t, self._u = np.empty_like(self.iv), np.empty_like(self.iv)
        self._spike = np.empty(self.iv.shape[1:], dtype=bool)
        self._frozen = np.empty(self.ref.shape, dtype=bool)
        self._flat_v, self._flat_spike = self._v.reshape(-1), self._spike.reshape(-1)
        self._n = n if self.iv.shape[1] > 1 else None     # one sample: flat index = neuron
        # operands of the in-place calls: the decays' buffers as unsigned bits, constants
        self._ops = (self._t[0], self._t[1], self._t.view(np.uint64),
                     self._u.view(np.uint64),
                     *(np.array(x, dtype=dtype) for x, dtype in (
                         (64 - DECAY_FRAC_BITS, np.uint64), (DECAY_FRAC_BITS, np.int64),
                         (STATE_MIN, np.int64), (STATE_MAX, np.int64), (0, np.int64))))

    def state(self):
        """The current state: ``i``, ``v``, ``ref`` (int64 arrays of the start shape)."""
        return {"i": self._i.reshape(self.shape).copy(),
                "v": self._v.reshape(self.shape).copy(),
                "ref": self.ref.reshape(self.shape).copy()}

    def __call__(self, acc):
        """One update with this step's ``acc`` (of the state's shape); returns the flat
        indices of the fired neurons, sorted."""
        i, v, t, u = self._i, self._v, self._t, self._u
        t_i, t_v, t_bits, u_bits, top, frac, lo, hi, zero = self._ops
        # t = rtz_decay((i, v), (decay_i, decay_v)): u = 4095 where the product is < 0
        np.multiply(self.iv, self.keep, out=t)
        np.right_shift(t_bits, top, out=u_bits)
        np.add(t, u, out=t)
        np.right_shift(t, frac, out=t)
        # i' = sat16(rtz_decay(i) + acc)
        np.add(t_i, acc.reshape(i.shape), out=t_i)
        np.minimum(t_i, hi, out=t_i)
        np.maximum(t_i, lo, out=i)
        # v' = sat16(rtz_decay(v) + i' + bias), then the spike test, for the active
        frozen = np.not_equal(self.ref, zero, out=self._frozen).nonzero()[0]
        held = self._flat_v[frozen]
        np.add(t_v, i, out=t_v)
        np.add(t_v, self.bias, out=t_v)
        np.minimum(t_v, hi, out=t_v)
        np.maximum(t_v, lo, out=v)
        np.greater_equal(v, self.threshold, out=self._spike)
        if frozen.size:                           # refractory: v frozen, no spike, count down
            self._flat_spike[frozen] = False
            self._flat_v[frozen] = held
            self.ref[frozen] -= 1
        fired = self._flat_spike.nonzero()[0]
        if fired.size:
            self._reset(fired)
        return fired

    def _reset(self, fired):
        """Reset the fired neurons (flat indices) and start their refractory count."""
        k = fired if self._n is None else fired % self._n
        v = self._flat_v
        v[fired] = v[fired] * self.slope[k] + self.offset[k]
        self.ref[fired] = self.refractory[k]


def initial_state(params):
    """Every neuron starts at rest: ``i = v = ref = 0``."""
    n = np.broadcast_shapes(*(np.shape(params[name]) for name in PARAM_NAMES))
    z = np.zeros(n, dtype=np.int64)
    return {"i": z, "v": z.copy(), "ref": z.copy()}


def is_silent(params):
    """A neuron at rest without input never fires iff ``bias <= 0``: ``i`` stays 0, so
    ``v`` never rises above 0, below every legal threshold (>= 1)."""
    return int(params["bias"]) <= 0
