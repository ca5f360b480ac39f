"""Golden stream decoders (twin of ``rtl/encoders/decode.py``).

A decoder counts the ones of each lane over consecutive windows of ``length`` bits and
emits one count per lane per window. Unipolar value ``p = count / length``; bipolar value
``x = (2 count - length) / length``.
"""

import numpy as np

from neurofab.spec import encoders as S

__all__ = ["sc_count", "count_width", "unipolar", "bipolar"]


def count_width(length):
    """Width of a count of up to ``length`` ones."""
    return S.check_decode_length(length).bit_length()


def sc_count(bits, length, *, return_state=False):
    """Counts per complete window: shape ``(n // length, lanes)`` (or ``(n // length,)``
    for 1-d input). With ``return_state``, also the partial count of the unfinished
    window (the RTL accumulator) and its phase."""
    S.check_decode_length(length)
    bits = np.asarray(bits, dtype=np.int64)
    windows = bits.shape[0] // length
    done = windows * length
    counts = bits[:done].reshape((windows, length) + bits.shape[1:]).sum(axis=1)
    if return_state:
        return counts, bits[done:].sum(axis=0), bits.shape[0] - done
    return counts


def unipolar(counts, length):
    return np.asarray(counts) / length


def bipolar(counts, length):
    return (2 * np.asarray(counts) - length) / length
