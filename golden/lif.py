"""Bit-true golden model of the CUBA-LIF kernel (``docs/numerics.md``, section "Kernel").

Vectorised over neurons: every argument is a numpy integer array (or a scalar that
broadcasts). No Python loop per neuron.
"""

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from neurofab.spec import (DECAY_FRAC_BITS, DECAY_ONE, PROFILE_FIELDS, Reset, STATE_MAX,
                           STATE_MIN)

__all__ = ["LifParams", "rtz_decay", "sat16", "cuba_lif_step", "step", "initial_state"]

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


def initial_state(params):
    """Every neuron starts at rest: ``i = v = ref = 0``."""
    n = np.broadcast_shapes(*(np.shape(params[name]) for name in PARAM_NAMES))
    z = np.zeros(n, dtype=np.int64)
    return {"i": z, "v": z.copy(), "ref": z.copy()}


def is_silent(params):
    """A neuron at rest without input never fires iff ``bias <= 0``: ``i`` stays 0, so
    ``v`` never rises above 0, below every legal threshold (>= 1)."""
    return int(params["bias"]) <= 0
