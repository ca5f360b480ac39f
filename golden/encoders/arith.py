"""Golden stochastic-computing arithmetic (twins of ``rtl/encoders/arith.py``).

Bitstreams are uint8 arrays of shape ``(n, lanes)`` (clock ``t`` = row ``t``); 1-d arrays
are one lane. Definitions (``docs/stochastic.md``):

* ``sc_and``  unipolar multiply ``P(z) = P(a) P(b)`` (independent inputs);
* ``sc_xnor`` bipolar multiply ``z = a * b`` with ``x = 2 P - 1``;
* ``sc_or``   ``P(z) = P(a) + P(b) - P(a) P(b)`` (≈ saturating add for small values);
* ``sc_mux``  scaled add ``P(z) = (1 - s) P(a) + s P(b)`` with ``s = P(sel)``; ``sel = 1``
  picks ``b``; ``sel`` must come from its own source;
* ``sc_cordiv`` CORDIV (Chen & Hayes): ``z_t = a_t if b_t else z_{t-1}`` (one flip-flop per
  lane holding the last output, initially ``init``); ``P(z) = P(a) / P(b)`` for correlated
  inputs (SCC = +1, shared source) with ``P(a) <= P(b)``;
* ``sc_tanh`` Brown & Card FSM: a saturating counter ``s`` in ``0..K-1`` starting at
  ``K/2``; output ``y_t = s_t >= K/2`` (from the state *before* input ``t``), then
  ``s_{t+1} = min(s_t + 1, K-1)`` if ``x_t`` else ``max(s_t - 1, 0)``;
  ``Stanh(K, x) ≈ tanh(K x / 2)`` in bipolar format.
"""

import numpy as np

from neurofab.spec import encoders as S

__all__ = ["sc_and", "sc_or", "sc_xnor", "sc_mux", "sc_cordiv", "sc_tanh"]


def _bits(x, name):
    x = np.asarray(x)
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{name} must hold bits 0/1")
    return x.astype(np.uint8)


def sc_and(a, b):
    return _bits(a, "a") & _bits(b, "b")


def sc_or(a, b):
    return _bits(a, "a") | _bits(b, "b")


def sc_xnor(a, b):
    return 1 - (_bits(a, "a") ^ _bits(b, "b"))


def sc_mux(a, b, sel):
    return np.where(_bits(sel, "sel") == 1, _bits(b, "b"), _bits(a, "a")).astype(np.uint8)


def sc_cordiv(a, b, init=0, *, return_state=False):
    """CORDIV, vectorised: ``z_t`` = ``a`` at the last clock ``<= t`` where ``b`` was 1."""
    a, b = np.broadcast_arrays(_bits(a, "a"), _bits(b, "b"))
    t = np.arange(a.shape[0]).reshape((-1,) + (1,) * (a.ndim - 1))
    last = np.maximum.accumulate(np.where(b == 1, t, -1), axis=0)
    picked = np.take_along_axis(a, np.maximum(last, 0), axis=0)
    init = np.broadcast_to(_bits(init, "init"), a.shape[1:])
    z = np.where(last >= 0, picked, init).astype(np.uint8)
    if return_state:
        return z, (z[-1].copy() if len(z) else np.array(init, dtype=np.uint8))
    return z


def sc_tanh(x, states=8, init=None, *, return_state=False):
    """Brown & Card stochastic tanh; loops over clocks (a saturating recurrence), vectorised
    over lanes. ``init`` (default ``states // 2``) is the counter before clock 0."""
    S.check_tanh_states(states)
    x = _bits(x, "x")
    s = np.broadcast_to(np.asarray(states // 2 if init is None else init, dtype=np.int64),
                        x.shape[1:]).copy()
    if s.size and (s.min() < 0 or s.max() >= states):
        raise ValueError(f"tanh init must be in 0..{states - 1}")
    y = np.empty_like(x)
    half, top = states // 2, states - 1
    for t in range(x.shape[0]):
        y[t] = s >= half
        s = np.where(x[t] == 1, np.minimum(s + 1, top), np.maximum(s - 1, 0))
    return (y, s) if return_state else y
