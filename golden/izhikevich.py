"""Bit-true golden model of the Izhikevich kernel (``docs/numerics.md``, "Kernel:
izhikevich").

One update is 1 ms: two 0.5 ms explicit Euler half-steps of ``v``, one 1 ms step of
``u`` from the old ``v``, then the spike test and the reset::

    I   = sat16(acc + bias)
    Q   = K140 + 4096 - 16 u + 4096 I                   # the same in both half-steps
    v1  = clamp((v*v   + 28672 v  + Q) >> 13, V_FLOOR, V_MAX)
    v2  = clamp((v1*v1 + 28672 v1 + Q) >> 13, V_FLOOR, V_MAX)
    x   = clamp(((b*v) >> 14) - (u >> 8), X_MIN, X_MAX)  # b v - u, voltage units
    s   = u + ((a*x) >> 8)
    spike = v2 >= V_PEAK
    v'  = c                         if spike else v2
    u'  = sat24(s + (d << 4))       if spike else sat24(s)

Every ``>>`` is an arithmetic shift (rounds toward minus infinity); the 4096 in ``Q``
(half of 2**13) makes the half-step's shift round to nearest, half up. Every clamp is one
saturation of an exact integer. Vectorised over neurons: every argument is a numpy integer
array (or a scalar that broadcasts); no Python loop per neuron.
"""

import numpy as np

from neurofab.spec import izhikevich as S

__all__ = ["izhikevich_step", "half_step", "step", "initial_state", "rest_state",
           "is_silent"]

PARAM_NAMES = tuple(name for name, _ in S.PROFILE)


def _q(u, current):
    """The terms of a half-step that do not depend on ``v`` (``Q``)."""
    return (S.K_HALF - S.U_COEF * np.asarray(u, dtype=np.int64)
            + S.I_COEF * np.asarray(current, dtype=np.int64))


def _half(v, q):
    return np.clip((v * v + S.V_COEF * v + q) >> S.HALF_SHIFT, S.V_FLOOR, S.V_MAX)


def half_step(v, u, current):
    """One 0.5 ms Euler half-step of ``v`` (voltage units), with ``u`` (recovery units)
    and ``current`` (the saturated input ``I``, current units) held."""
    return _half(np.asarray(v, dtype=np.int64), _q(u, current))


def izhikevich_step(v, u, acc, params):
    """One Izhikevich update of every neuron.

    Parameters
    ----------
    v : int array (s16, voltage units of ``spec.izhikevich.V_LSB_MV`` mV)
    u : int array (s24, ``V_LSB_MV / 2**8`` mV/ms)
    acc : int array (s24, current units: ``V_LSB_MV`` mV/ms)
        This step's synaptic input, the input current ``I`` (before ``bias``).
    params : mapping with the ``PROFILE`` fields ``a, b, c, d, bias``

    Returns
    -------
    (v', u', spike) : int64, int64, bool arrays
    """
    v = np.asarray(v, dtype=np.int64)
    u = np.asarray(u, dtype=np.int64)
    acc = np.asarray(acc, dtype=np.int64)
    a, b, c, d, bias = (np.asarray(params[name], dtype=np.int64) for name in PARAM_NAMES)

    q = _q(u, np.clip(acc + bias, S.I_MIN, S.I_MAX))
    v2 = _half(_half(v, q), q)
    x = np.clip(((b * v) >> S.B_FRAC) - (u >> S.U_SHIFT), S.X_MIN, S.X_MAX)
    s = u + ((a * x) >> S.DU_SHIFT)
    spike = v2 >= S.V_PEAK
    v_new = np.where(spike, c, v2)
    u_new = np.clip(s + np.where(spike, d << (S.U_SHIFT - S.D_SHIFT), 0), S.U_MIN, S.U_MAX)
    shape = np.broadcast_shapes(v.shape, u.shape, acc.shape, *(np.shape(params[n])
                                                                for n in PARAM_NAMES))
    return (np.broadcast_to(v_new, shape).copy(), np.broadcast_to(u_new, shape).copy(),
            np.broadcast_to(spike, shape).copy())


def step(state, acc, params):
    """The kernel contract of ``neurofab.kernels`` (``state``: ``v``, ``u``)."""
    v, u, spike = izhikevich_step(state["v"], state["u"], acc, params)
    return {"v": v, "u": u}, spike


def rest_state(params):
    """``(v, u)`` at the resting point of the quantised parameters with ``I = bias``.

    The rest is the lower root of ``0.04 v^2 + (5 - b) v + 140 + bias = 0`` (the
    nullclines ``v' = 0`` and ``u = b v`` crossing), computed in float64 from the integer
    ``b`` and ``bias`` and rounded to the nearest voltage unit; where the nullclines do not
    cross (the bias alone drives the neuron to fire) the start is ``v = c``. ``v`` is
    clamped to [V_FLOOR, V_PEAK - 1]; ``u = (b v) >> 6`` (clamped to its rails: only
    ``b = -2`` at -100 mV reaches past them) lies exactly on the integer ``u``-nullcline
    (``x = 0``).
    """
    b = np.asarray(params["b"], dtype=np.int64)
    bias = np.asarray(params["bias"], dtype=np.int64)
    c = np.asarray(params["c"], dtype=np.int64)
    b_f = b / (1 << S.B_FRAC)
    i_f = bias * S.V_LSB_MV
    disc = (5 - b_f) ** 2 - 0.16 * (140 + i_f)
    root = (-(5 - b_f) - np.sqrt(np.maximum(disc, 0))) / 0.08
    v = np.where(disc >= 0, np.rint(root * S.V_PER_MV).astype(np.int64), c)
    v = np.clip(v, S.V_FLOOR, S.V_PEAK - 1)
    u = np.clip((b * v) >> (S.B_FRAC - S.U_SHIFT), S.U_MIN, S.U_MAX)
    return v, u


def initial_state(params):
    """Every neuron starts at rest (:func:`rest_state`)."""
    n = np.broadcast_shapes(*(np.shape(params[name]) for name in PARAM_NAMES))
    v, u = rest_state(params)
    return {"v": np.broadcast_to(v, n).astype(np.int64),
            "u": np.broadcast_to(u, n).astype(np.int64)}


#: ``is_silent`` gives up (answers False) after this many steps without a repeated state.
SILENT_PROOF_STEPS = 20000


def is_silent(params):
    """Whether a neuron of profile ``params`` (``{parameter: int}``) that starts from
    :func:`initial_state` and never gets input never fires.

    A proof by simulation: the update without input is a deterministic map of the integer
    state, so once a state repeats the neuron cycles forever; if no step before that fired,
    no step ever will. Answers False if a spike comes first or no state repeats within
    ``SILENT_PROOF_STEPS`` steps.
    """
    params = {name: np.asarray([int(params[name])], dtype=np.int64) for name in PARAM_NAMES}
    state = initial_state(params)
    seen = set()
    for _ in range(SILENT_PROOF_STEPS):
        key = (int(state["v"][0]), int(state["u"][0]))
        if key in seen:
            return True
        seen.add(key)
        state, spike = step(state, 0, params)
        if spike[0]:
            return False
    return False
