"""Golden stochastic number generators (twins of ``rtl/encoders/sng.py``).

Comparator SNG: ``bit = r < x`` with ``r`` the top ``width`` bits of a
``source_width``-bit random word and ``x`` a ``width``-bit unipolar value (probability
``x / 2**width``). Banks of lanes draw from shared or independent sources, resolved by
``spec.sng_sources``. Vectorised over lanes and clocks.
"""

import numpy as np

from neurofab.spec import encoders as S
from .lfsr import lfsr_sequence
from .sobol import sobol_sequence, vdc_sequence

__all__ = ["comparator_sng", "source_bank", "sng_bank"]


def comparator_sng(rand, value):
    """``(rand < value)`` as uint8 bits (numpy broadcasting)."""
    return (np.asarray(rand, dtype=np.int64) < np.asarray(value, dtype=np.int64)).astype(np.uint8)


def source_bank(n, lanes, *, source="lfsr", width, source_width=None, seed=1, shared=False,
                dim=1, leap=1):
    """The ``source_width``-bit random words the bank's lanes see: shape ``(n, lanes)``.

    Clock ``k`` of every lane is transaction ``k`` of its source (all sources of a bank
    advance together, once per bank transfer).
    """
    source_width, params = S.sng_sources(source, lanes, width=width, source_width=source_width,
                                         seed=seed, shared=shared, dim=dim, leap=leap)
    if source == "lfsr":
        words = lfsr_sequence(source_width, np.array(params, dtype=np.int64), n, leap=leap)
    elif source == "sobol":
        words = sobol_sequence(n, list(params), source_width)
    else:
        words = vdc_sequence(n, source_width)[:, None]
    return np.broadcast_to(words, (n, lanes))


def sng_bank(values, *, source="lfsr", width, source_width=None, seed=1, shared=False, dim=1,
             leap=1):
    """Bits of an SNG bank for per-clock per-lane values: ``values`` shape ``(n, lanes)``
    (a 1-d array is one lane), result uint8 of the same shape."""
    values = np.asarray(values, dtype=np.int64)
    one_lane = values.ndim == 1
    if one_lane:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"values must have shape (n, lanes), not {values.shape}")
    top = (1 << width) - 1
    if values.size and (values.min() < 0 or values.max() > top):
        bad = values[(values < 0) | (values > top)][0]
        raise ValueError(f"SNG value = {bad} does not fit width {width} (0..{top})")
    n, lanes = values.shape
    source_width = S.sng_sources(source, lanes, width=width, source_width=source_width,
                                 seed=seed, shared=shared, dim=dim, leap=leap)[0]
    words = source_bank(n, lanes, source=source, width=width, source_width=source_width,
                        seed=seed, shared=shared, dim=dim, leap=leap)
    bits = comparator_sng(words >> (source_width - width), values)
    return bits[:, 0] if one_lane else bits
