"""Golden Sobol and van der Corput sequences (twins of ``rtl/encoders/sobol.py``).

Both are closed forms over the point index, vectorised over points and dimensions:

* Sobol, Gray-code order (Antonov–Saleev): point ``n`` of dimension ``d`` is the XOR of
  the direction numbers ``v_{k+1}`` (``spec.sobol_directions(d, bits)``) over the set
  bits ``k`` of ``gray(n) = n ^ (n >> 1)``. The RTL reaches the same value
  incrementally: ``x_{n+1} = x_n ^ v_{c+1}`` with ``c`` the index of the lowest zero bit
  of ``n`` (the index counter is ``bits`` wide and wraps, so the sequence has period
  ``2**bits``).
* van der Corput base 2, natural order: point ``n`` is ``n`` with its ``bits`` bits
  reversed (a bit-reversed counter). Sobol dimension 1 is the same sequence read in
  Gray-code order: ``sobol[n] = vdc[gray(n)]``.
"""

import numpy as np

from neurofab.spec import encoders as S

__all__ = ["sobol_sequence", "vdc_sequence"]


def _indices(n, start, bits):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n = {n!r} must be a non-negative int")
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
        raise ValueError(f"start = {start!r} must be a non-negative int")
    mask = (1 << bits) - 1
    return (np.arange(int(n), dtype=np.int64) + (int(start) & mask)) & mask


def sobol_sequence(n, dim, bits=S.SOBOL_DEFAULT_BITS, *, start=0):
    """Unscrambled Sobol points ``start .. start+n-1`` as ``bits``-bit integers.

    ``dim`` is a 1-based Joe–Kuo dimension (1 = van der Corput in Gray-code order) giving
    shape ``(n,)``, or a sequence of dimensions giving shape ``(n, len(dim))``. Point 0
    is 0; the point as a fraction in [0, 1) is ``value / 2**bits``.
    """
    S.check_sobol_bits(bits)
    idx = _indices(n, start, bits)
    gray = idx ^ (idx >> 1)
    scalar = np.ndim(dim) == 0
    dims = [dim] if scalar else list(dim)
    out = np.zeros((idx.size, len(dims)), dtype=np.int64)
    for j, d in enumerate(dims):
        v = S.sobol_directions(int(d) if isinstance(d, np.integer) else d, bits)
        for k in range(bits):
            out[:, j] ^= ((gray >> k) & 1) * np.int64(v[k])
    return out[:, 0] if scalar else out


def vdc_sequence(n, bits=S.SOBOL_DEFAULT_BITS, *, start=0):
    """Van der Corput base 2 in natural order: ``bit_reverse(n mod 2**bits, bits)``."""
    S.check_vdc_bits(bits)
    idx = _indices(n, start, bits)
    out = np.zeros_like(idx)
    for k in range(bits):
        out |= ((idx >> k) & 1) << (bits - 1 - k)
    return out
