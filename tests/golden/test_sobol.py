"""Golden Sobol / van der Corput: published first points, Joe–Kuo construction, net property."""

import numpy as np
import pytest

from neurofab.golden.encoders.sobol import sobol_sequence, vdc_sequence
from neurofab.spec import encoders as S

# First ten points of the unscrambled 4-dimensional Sobol sequence with the Joe–Kuo
# new-joe-kuo-6.21201 direction numbers (as printed by Joe & Kuo's reference program
# and SciPy's ``qmc.Sobol(d, scramble=False)``).
FIRST_POINTS = [
    [0.0, 0.0, 0.0, 0.0],
    [0.5, 0.5, 0.5, 0.5],
    [0.75, 0.25, 0.25, 0.25],
    [0.25, 0.75, 0.75, 0.75],
    [0.375, 0.375, 0.625, 0.875],
    [0.875, 0.875, 0.125, 0.375],
    [0.625, 0.125, 0.875, 0.625],
    [0.125, 0.625, 0.375, 0.125],
    [0.1875, 0.3125, 0.9375, 0.4375],
    [0.6875, 0.8125, 0.4375, 0.9375],
]


def test_first_points_dims_1_to_4():
    got = sobol_sequence(10, [1, 2, 3, 4], bits=16)
    assert got.shape == (10, 4)
    assert np.array_equal(got, (np.array(FIRST_POINTS) * 2**16).astype(np.int64))
    # one dimension -> shape (n,)
    assert np.array_equal(sobol_sequence(10, 3), got[:, 2])


def _joe_kuo_reference(n, dim, bits=32):
    """Straight transcription of Joe & Kuo's published construction (their C++ program):
    V from (s, a, m_i), then X[i] = X[i-1] ^ V[C[i-1]], C = 1-based lowest zero bit."""
    L = 32
    if dim == 1:
        V = [0] + [1 << (32 - i) for i in range(1, L + 1)]
    else:
        d, s, a, m = S.SOBOL_JOE_KUO[dim - 2]
        assert d == dim
        m = [0] + list(m)
        V = [0] * (L + 1)
        for i in range(1, min(s, L) + 1):
            V[i] = m[i] << (32 - i)
        for i in range(s + 1, L + 1):
            V[i] = V[i - s] ^ (V[i - s] >> s)
            for k in range(1, s):
                V[i] ^= ((a >> (s - 1 - k)) & 1) * V[i - k]
    X, out = 0, [0]
    for i in range(1, n):
        c, v = 1, i - 1
        while v & 1:
            v >>= 1
            c += 1
        X ^= V[c]
        out.append(X >> (32 - bits))
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("dim", range(1, S.SOBOL_MAX_DIM + 1))
def test_matches_joe_kuo_construction(dim):
    for bits in (32, 16):
        assert np.array_equal(sobol_sequence(600, dim, bits=bits),
                              _joe_kuo_reference(600, dim, bits))


def test_table_rows():
    assert S.SOBOL_MAX_DIM >= 8
    for row, (d, s, a, m) in enumerate(S.SOBOL_JOE_KUO):
        assert d == row + 2 and len(m) == s and 0 <= a < (1 << max(s - 1, 0))
        # m_k is odd and < 2**k
        assert all(mk % 2 == 1 and mk < (1 << (k + 1)) for k, mk in enumerate(m))
    # dimension 2 (s=1, a=0): m_k = 1, 3, 5, 15, 17, 51, ...
    assert S.sobol_directions(2, 6) == [m << (6 - k - 1) for k, m in enumerate([1, 3, 5, 15, 17, 51])]


@pytest.mark.parametrize("dim", [1, 2, 5, 8, 13, 31])
def test_one_dimensional_stratification(dim):
    """Every dimension is a (0,1)-sequence: each aligned block of 2**k points hits each
    interval of width 2**-k exactly once."""
    bits = 12
    x = sobol_sequence(1 << bits, dim, bits=bits)
    assert np.array_equal(np.sort(x), np.arange(1 << bits))
    for k in (3, 7):
        blocks = x.reshape(-1, 1 << k) >> (bits - k)
        assert (np.sort(blocks, axis=1) == np.arange(1 << k)).all()


def test_two_dimensional_net():
    """Dimensions 1 and 2 form a (0,2)-sequence: the first 2**m points put exactly one point
    in every elementary box of area 2**-m."""
    m, bits = 10, 16
    pts = sobol_sequence(1 << m, [1, 2], bits=bits)
    for k in range(m + 1):
        cell = ((pts[:, 0] >> (bits - k)) << (m - k)) | (pts[:, 1] >> (bits - (m - k)))
        assert np.unique(cell).size == 1 << m


def test_period_and_start():
    bits = 6
    x = sobol_sequence(3 << bits, 4, bits=bits)
    assert np.array_equal(x[: 1 << bits], x[1 << bits: 2 << bits])
    assert np.array_equal(sobol_sequence(10, 4, bits=bits, start=37), x[37:47])


def test_vdc():
    x = vdc_sequence(16, bits=4)
    assert x.tolist() == [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15]
    big = vdc_sequence(1 << 12, bits=16)
    s1 = sobol_sequence(1 << 12, 1, bits=16)
    n = np.arange(1 << 12)
    assert np.array_equal(s1, big[n ^ (n >> 1)])   # Sobol dim 1 = van der Corput in Gray order
    assert np.array_equal(np.sort(big), np.sort(s1))
    assert not np.array_equal(big[:8], s1[:8])
    assert vdc_sequence(3, bits=32).tolist() == [0, 1 << 31, 1 << 30]


@pytest.mark.parametrize("call, match", [
    (lambda: sobol_sequence(4, 0), r"Sobol dimension = 0 is outside the limit \[1, 31\]"),
    (lambda: sobol_sequence(4, S.SOBOL_MAX_DIM + 1), "Sobol dimension = 32 is outside the limit"),
    (lambda: sobol_sequence(4, 1, bits=33), r"Sobol bits = 33 is outside the limit \[1, 32\]"),
    (lambda: sobol_sequence(4, 1, bits=0), r"Sobol bits = 0 is outside the limit \[1, 32\]"),
    (lambda: vdc_sequence(4, bits=40), r"van der Corput bits = 40 is outside the limit \[1, 32\]"),
    (lambda: sobol_sequence(-1, 1), "n = -1 must be a non-negative int"),
])
def test_invalid(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_docs_table_matches_spec():
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / "docs" / "stochastic.md").read_text()
    section = text.split("new-joe-kuo-6.21201**")[1].split("First points")[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        for k in range(0, len(cells) - 3, 4):
            if re.fullmatch(r"\d+", cells[k]):
                rows.append((int(cells[k]), int(cells[k + 1]), int(cells[k + 2]),
                             tuple(int(m) for m in cells[k + 3].split())))
    assert sorted(rows) == list(S.SOBOL_JOE_KUO)
