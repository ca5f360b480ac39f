"""Bit-true golden model of the AdEx kernel (``docs/numerics.md``, "Kernel: adex").

Vectorised over neurons: every argument is a numpy integer array (or a scalar that
broadcasts). No Python loop per neuron. Every intermediate fits int64 with a wide margin
(the largest is ``acc << 10``, under 2**34).
"""

import numpy as np

from neurofab.spec import adex as S

__all__ = ["PARAM_NAMES", "sat", "exp_term", "step", "initial_state", "is_silent"]

#: The kernel's parameters: the fields of its profile.
PARAM_NAMES = tuple(name for name, _ in S.PROFILE)

_TABLE = np.array(S.EXP_TABLE, dtype=np.int64)
_PEAK = np.array(S.PEAK_OFFSET, dtype=np.int64)


def sat(x, width):
    """Clamp to the signed ``width``-bit rails."""
    return np.clip(x, -(1 << (width - 1)), (1 << (width - 1)) - 1)


def _rshift_round(x, shift):
    """``x / 2**shift`` rounded to nearest, halves up: ``(x + 2**(shift-1)) >> shift``."""
    return (x + (1 << (shift - 1))) >> shift


def exp_term(v, v_t, delta_t):
    """``D_T exp((V - V_T)/D_T)`` in units of ``E_LSB_MV``, clamped to ``E_MAX``.

    ``z = v - (v_t << VT_SHIFT)``; ``idx = z >> (k - 5)`` (floor, ``k = DT_K0 +
    delta_t``); ``j = idx & 31``, ``n = idx >> 5``; ``s = n + delta_t - EXP_SHIFT_BIAS``
    clipped to [-16, 3]; ``E = min(E_MAX, T[j] << s)`` (``T[j] >> -s`` for ``s < 0``).
    """
    v = np.asarray(v, dtype=np.int64)
    v_t = np.asarray(v_t, dtype=np.int64)
    delta_t = np.asarray(delta_t, dtype=np.int64)
    z = v - (v_t << S.VT_SHIFT)
    idx = z >> (S.DT_K0 + delta_t - S.EXP_INDEX_BITS)
    j = idx & ((1 << S.EXP_INDEX_BITS) - 1)
    n = idx >> S.EXP_INDEX_BITS
    s = np.clip(n + delta_t - S.EXP_SHIFT_BIAS, -S.EXP_RSHIFT_MAX, S.EXP_LSHIFT_MAX)
    t = _TABLE[j]
    e = np.where(s >= 0, t << np.maximum(s, 0), t >> np.maximum(-s, 0))
    return np.minimum(e, S.E_MAX)


def step(state, acc, params):
    """One forward-Euler AdEx update of every neuron (the ``neurofab.kernels`` contract).

    Parameters
    ----------
    state : mapping
        ``v`` (``V - E_L``) and ``w`` (``w / g_L``), s24 voltage units.
    acc : int array (s24)
        This step's input ``I / g_L`` in drive units.
    params : mapping
        ``k_m, k_w, alpha, beta, v_t, v_r, delta_t`` (``neurofab.spec.adex.PROFILE``).

    Returns
    -------
    (state', spike) : dict of int64 arrays, bool array
    """
    v = np.asarray(state["v"], dtype=np.int64)
    w = np.asarray(state["w"], dtype=np.int64)
    acc = np.asarray(acc, dtype=np.int64)
    k_m, k_w, alpha, beta, v_t, v_r, delta_t = (
        np.asarray(params[name], dtype=np.int64) for name in PARAM_NAMES)

    # membrane drive: D = sat16(round((acc << 10) - v - w + (E << 8)) / 2**10)
    e = exp_term(v, v_t, delta_t)
    d = sat(_rshift_round((acc << S.D_SHIFT) - v - w + (e << S.E_SHIFT), S.D_SHIFT),
            S.D_WIDTH)
    # adaptation drive: X = sat16(round((alpha * (v >> 8) - (w << 1)) / 2**9)); the
    # product is in 2**(U_TOP_SHIFT - ALPHA_FRAC) = 1/2 voltage units
    p1 = alpha * (v >> S.U_TOP_SHIFT)
    x = sat(_rshift_round(p1 - (w << (S.ALPHA_FRAC - S.U_TOP_SHIFT)),
                          S.X_SHIFT + S.ALPHA_FRAC - S.U_TOP_SHIFT), S.X_WIDTH)
    # Euler steps from the old (v, w), increments rounded to nearest
    w1 = sat(w + _rshift_round(k_w * x, S.KW_FRAC - S.X_SHIFT), S.W_WIDTH)
    v1 = sat(v + _rshift_round(k_m * d, S.KM_FRAC - S.D_SHIFT), S.V_WIDTH)
    # spike and reset
    spike = v1 >= (v_t << S.VT_SHIFT) + _PEAK[delta_t]
    v_new = np.where(spike, v_r << S.VR_SHIFT, v1)
    w_new = np.where(spike, sat(w1 + (beta << S.BETA_SHIFT), S.W_WIDTH), w1)
    shape = np.broadcast_shapes(v.shape, w.shape, acc.shape,
                                *(np.shape(params[name]) for name in PARAM_NAMES))
    return ({"v": np.broadcast_to(v_new, shape).astype(np.int64),
             "w": np.broadcast_to(w_new, shape).astype(np.int64)},
            np.broadcast_to(spike, shape).copy())


def initial_state(params):
    """Every neuron starts at rest: ``v = 0`` (``V = E_L``), ``w = 0``."""
    n = np.broadcast_shapes(*(np.shape(params[name]) for name in PARAM_NAMES))
    z = np.zeros(n, dtype=np.int64)
    return {"v": z, "w": z.copy()}


def is_silent(params):
    """Whether a neuron of profile ``params`` (``{parameter: int}``) provably never fires
    from the initial state without input: ``k_m = 0`` keeps ``v = 0`` forever (``w``
    does not act on ``v`` then), below every peak (``v_t >= 0``). A sufficient condition:
    a profile with ``k_m > 0`` is never called silent."""
    return int(params["k_m"]) == 0
