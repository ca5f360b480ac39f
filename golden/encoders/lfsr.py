"""Golden Galois LFSR (twin of ``rtl/encoders/lfsr.py``).

The register is linear over GF(2): one clock multiplies the state by ``x**-1`` modulo
``P(x)`` (see ``neurofab.spec.encoders``). ``lfsr_sequence`` uses that to build ``n``
states by doubling — states ``[L, 2L)`` are states ``[0, L)`` multiplied by ``x**-L`` —
so it costs ``O(width * log2 n)`` numpy passes, vectorised over lanes and time, with no
Python loop per clock.
"""

import numpy as np

from neurofab.spec import encoders as S

__all__ = ["lfsr_sequence", "lfsr_advance", "lfsr_mul_const"]


def lfsr_mul_const(width, states, k, poly=None):
    """States ``k`` clocks after ``states`` (any int array), vectorised: ``s * x**-k mod P``."""
    p = S.lfsr_poly(width, poly)
    period = (1 << width) - 1
    c = S.gf2_powmod(p >> 1, k % period, p)
    states = np.asarray(states, dtype=np.int64)
    out = np.zeros_like(states)
    # s * c = XOR over set bits i of s of (x**i * c mod P): width vector passes.
    term = c
    for i in range(width):
        out ^= ((states >> i) & 1) * np.int64(term)
        term <<= 1
        if term >> width:
            term ^= p
    return out


def _check_seeds(width, seed):
    seeds = np.asarray(seed)
    if seeds.dtype.kind not in "iu":
        raise TypeError(f"LFSR seed must be an int or an int array, not {seed!r}")
    for s in np.unique(seeds):
        S.check_lfsr_seed(width, int(s))
    return seeds.astype(np.int64)


def lfsr_sequence(width, seed, n, poly=None, *, leap=1):
    """Successive LFSR states, seed first.

    ``lfsr_sequence(w, seed, n)[k]`` is the state after ``k`` clocks, so element 0 is
    ``seed`` itself — exactly the ``k``-th transaction the RTL ``Lfsr`` emits on
    ``o_data``. ``seed`` may be an int (result shape ``(n,)``) or an array of seeds
    (result shape ``(n,) + seed.shape``, one independent register per seed).
    With ``leap`` > 1 (``spec.check_lfsr_leap``) element ``k`` is the state after
    ``k * leap`` clocks (a leap-forward LFSR).
    """
    S.check_lfsr_width(width)
    S.check_lfsr_leap(width, leap)
    seeds = _check_seeds(width, seed)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n = {n!r} must be a non-negative int")
    n = int(n)
    out = np.empty((n,) + seeds.shape, dtype=np.int64)
    if n == 0:
        return out
    out[0] = seeds
    have = 1
    while have < n:
        take = min(have, n - have)
        out[have:have + take] = lfsr_mul_const(width, out[:take], have * leap, poly)
        have += take
    return out


def lfsr_advance(width, seed, n, poly=None):
    """The state after ``n`` clocks from ``seed`` (int or array), in O(log n)."""
    S.check_lfsr_width(width)
    return lfsr_mul_const(width, _check_seeds(width, seed), n, poly)
