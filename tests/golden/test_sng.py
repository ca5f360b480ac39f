"""Golden SNGs: exact counts over a full source period, correlation control, errors."""

import numpy as np
import pytest

from neurofab.golden.encoders.sng import comparator_sng, sng_bank, source_bank
from neurofab.spec import encoders as S


def test_comparator():
    assert comparator_sng([0, 5, 7, 9], 7).tolist() == [1, 1, 0, 0]


@pytest.mark.parametrize("source", ["sobol", "vdc"])
def test_low_discrepancy_counts_exact(source):
    """A full period of a w-bit Sobol/VdC source yields exactly x ones for value x, and every
    aligned prefix of 2**k bits is within one of x * 2**k / 2**w."""
    w = 8
    xs = np.arange(0, 256, 5)
    bits = sng_bank(np.broadcast_to(xs, (256, xs.size)), source=source, width=w, shared=True)
    assert np.array_equal(bits.sum(0), xs)
    for k in range(1, 9):
        c = bits[: 1 << k].sum(0)
        assert (np.abs(c - xs * (1 << k) / 256) < 1).all()


def test_lfsr_counts_exact():
    """Over one LFSR period: x*2**(W-w) - 1 ones for x >= 1 (the all-zero word never occurs)."""
    for w, W in ((8, 8), (6, 10)):
        xs = np.arange(0, 1 << w, 3)
        period = (1 << W) - 1
        bits = sng_bank(np.broadcast_to(xs, (period, xs.size)), width=w, source_width=W,
                        seed=1, shared=True)
        assert np.array_equal(bits.sum(0), np.maximum(xs * (1 << (W - w)) - 1, 0))


def test_shared_sources_are_maximally_correlated():
    rng = np.random.default_rng(0)
    xs = rng.integers(0, 256, 6)
    for source in ("lfsr", "sobol", "vdc"):
        bits = sng_bank(np.broadcast_to(xs, (500, 6)), source=source, width=8, shared=True)
        for i in range(6):
            for j in range(6):
                if xs[i] <= xs[j]:          # SCC = +1: the smaller stream implies the larger
                    assert (bits[:, i] <= bits[:, j]).all()


@pytest.mark.parametrize("source, n", [("lfsr", (1 << 16) - 1), ("sobol", 1 << 16)])
def test_independent_sources_multiply(source, n):
    """AND of two independent lanes estimates the product; shared gives the minimum."""
    xa, xb = 40000, 20000
    vals = np.broadcast_to([xa, xb], (n, 2))
    ind = sng_bank(vals, source=source, width=16, seed=0xACE1, shared=False)
    est = (ind[:, 0] & ind[:, 1]).mean()
    assert abs(est - xa * xb / 2**32) < 0.01
    sh = sng_bank(vals, source=source, width=16, seed=0xACE1, shared=True)
    assert abs((sh[:, 0] & sh[:, 1]).mean() - xb / 2**16) < 1e-4


def test_source_bank_seeds_and_dims():
    words = source_bank(10, 4, width=12, seed=5)
    seeds = S.derive_seeds(12, 5, 4)
    assert words[0].tolist() == seeds
    words = source_bank(10, 3, source="sobol", width=8, dim=2)
    assert words.shape == (10, 3) and words[2].tolist() == [64, 64, 64] and words[4].tolist() == [96, 160, 224]
    words = source_bank(10, 3, width=8, seed=[1, 2, 3])
    assert words[0].tolist() == [1, 2, 3]
    assert (source_bank(5, 3, width=8, seed=9, shared=True) == source_bank(5, 1, width=8, seed=9)).all()


def test_one_lane_shape():
    assert sng_bank(np.full(7, 100), width=8).shape == (7,)


@pytest.mark.parametrize("kwargs, match", [
    (dict(width=10, source_width=8), "value width = 10 is wider than the random source \\(8 bits\\)"),
    (dict(width=8, source="sobol", source_width=6), "value width = 8 is wider than the random source \\(6 bits\\)"),
    (dict(width=8, seed=0), "seed = 0 is the lock-up state"),
    (dict(width=8, source="vdc"), "van der Corput has a single sequence"),
    (dict(width=8, source="sobol", dim=30), "dimensions 30..32, but the table stops at 31"),
    (dict(width=8, source="noise"), "SNG source = 'noise' is not one of"),
    (dict(width=8, seed=[1, 2]), "2 seeds given for 3 lanes"),
    (dict(width=8, seed=[1, 2, 0]), "seed = 0"),
])
def test_invalid(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sng_bank(np.zeros((4, 3), dtype=int), **kwargs)


def test_value_out_of_range():
    with pytest.raises(ValueError, match="SNG value = 256 does not fit width 8 \\(0..255\\)"):
        sng_bank(np.array([[1, 256]]), width=8)
