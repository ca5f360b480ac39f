"""Bit-true golden model of the ALIF kernel (``docs/numerics.md``, "Kernel: alif").

The CUBA-LIF update of :func:`neurofab.golden.lif.cuba_lif_step`, run against the adapted
threshold, plus the update of the adaptation variable ``a`` (u24, 8 fraction bits)::

    theta = min(threshold + (a >> (8 + adapt_shift)), 32767)     # a as it enters the step
    (i', v', ref', spike) = CUBA-LIF(i, v, ref, acc) with threshold = theta
    a' = min(rtz_decay(a, decay_a) + (adapt_inc << 8 if spike else 0), 2**24 - 1)

Vectorised over neurons: every argument is a numpy integer array (or a scalar that
broadcasts). No Python loop per neuron.
"""

import numpy as np

from neurofab.spec import alif as S

from .lif import cuba_lif_step, is_silent, rtz_decay

__all__ = ["PARAM_NAMES", "theta", "alif_step", "step", "initial_state", "is_silent"]

#: The kernel's parameters: the fields of its profile.
PARAM_NAMES = tuple(name for name, _ in S.PROFILE)


def theta(a, threshold, adapt_shift):
    """The adapted threshold ``min(threshold + (a >> (ADAPT_FRAC_BITS + adapt_shift)),
    THETA_MAX)``: always in 1 .. 32767, a legal CUBA-LIF threshold."""
    a, threshold, adapt_shift = (np.asarray(x, dtype=np.int64)
                                 for x in (a, threshold, adapt_shift))
    return np.minimum(threshold + (a >> (S.ADAPT_FRAC_BITS + adapt_shift)), S.THETA_MAX)


def alif_step(i, v, ref, a, acc, p):
    """One ALIF update of every neuron.

    Parameters
    ----------
    i, v : int arrays (s16)
        Synaptic current and membrane potential before the update.
    ref : int array (u4)
        Remaining refractory steps.
    a : int array (u24)
        Adaptation before the update (``ADAPT_FRAC_BITS`` fraction bits).
    acc : int array (s24)
        Synaptic input of this step.
    p : mapping
        Every ``PROFILE`` field (int or int array; ``reset`` may be a ``Reset``).

    Returns
    -------
    (i', v', ref', a', spike) : four int64 arrays and a bool array, all of the broadcast
    shape of the state, ``acc`` and the parameters
    """
    p = {name: getattr(p[name], "value", p[name]) for name in PARAM_NAMES}
    arrays = np.broadcast_arrays(*(np.asarray(x, dtype=np.int64)
                                   for x in (i, v, ref, a, acc, *p.values())))
    i, v, ref, a, acc = arrays[:5]
    p = dict(zip(PARAM_NAMES, arrays[5:]))
    lif = {name: p[name] for name in S.LIF_FIELDS}
    lif["threshold"] = theta(a, p["threshold"], p["adapt_shift"])
    i_new, v_new, ref_new, spike = cuba_lif_step(i, v, ref, acc, lif)
    jump = np.where(spike, p["adapt_inc"] << S.ADAPT_FRAC_BITS, 0)
    a_new = np.minimum(rtz_decay(a, p["decay_a"]) + jump, S.ADAPT_MAX)
    return i_new, v_new, ref_new, a_new, spike


def step(state, acc, params):
    """The kernel contract of ``neurofab.kernels`` (``state``: ``i``, ``v``, ``ref``,
    ``a``)."""
    i, v, ref, a, spike = alif_step(state["i"], state["v"], state["ref"], state["a"], acc,
                                    params)
    return {"i": i, "v": v, "ref": ref, "a": a}, spike


def initial_state(params):
    """Every neuron starts at rest and unadapted: ``i = v = ref = a = 0``."""
    n = np.broadcast_shapes(*(np.shape(params[name]) for name in PARAM_NAMES))
    return {name: np.zeros(n, dtype=np.int64) for name in ("i", "v", "ref", "a")}


# ``is_silent`` is CUBA-LIF's (``bias <= 0``): before its first spike an ALIF neuron is the
# CUBA-LIF neuron of the same parameters (``a`` starts at 0 and only a spike raises it),
# and the adapted threshold is never below the baseline.
