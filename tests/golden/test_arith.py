"""Golden SC arithmetic and decoders: definitions, accuracy, recurrences vs naive loops."""

import numpy as np
import pytest

from neurofab.golden.encoders.arith import sc_and, sc_cordiv, sc_mux, sc_or, sc_tanh, sc_xnor
from neurofab.golden.encoders.decode import bipolar, count_width, sc_count, unipolar
from neurofab.golden.encoders.sng import sng_bank


def test_truth_tables():
    a, b = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    assert sc_and(a, b).tolist() == [0, 0, 0, 1]
    assert sc_or(a, b).tolist() == [0, 1, 1, 1]
    assert sc_xnor(a, b).tolist() == [1, 0, 0, 1]
    assert sc_mux(a, b, [0, 1, 0, 1]).tolist() == [0, 1, 1, 1]
    assert sc_mux(a, b, [1, 0, 1, 0]).tolist() == [0, 0, 0, 1]
    with pytest.raises(ValueError, match="must hold bits"):
        sc_and([2], [1])


N = 1 << 12


def _stream(values, dims, bits=12):
    """Independent Sobol streams (one dimension per operand): error O(1/N)."""
    vals = np.broadcast_to(np.array(values), (N, len(values)))
    return sng_bank(vals, source="sobol", width=bits, dim=dims, shared=False)


def test_multiply_add_accuracy():
    pa, pb = 0.7, 0.4
    x = _stream([round(pa * N), round(pb * N), N // 2], 1)
    a, b, sel = x[:, 0], x[:, 1], x[:, 2]
    assert abs(sc_and(a, b).mean() - pa * pb) < 4 / 256
    assert abs(sc_mux(a, b, sel).mean() - (pa + pb) / 2) < 1 / 256
    assert abs(sc_or(a, b).mean() - (pa + pb - pa * pb)) < 4 / 256
    xa, xb = 2 * pa - 1, 2 * pb - 1                     # bipolar
    assert abs(2 * sc_xnor(a, b).mean() - 1 - xa * xb) < 8 / 256


@pytest.mark.parametrize("kw", [dict(source="vdc"), dict(source_width=16, leap=16)])
def test_cordiv_ratio_with_shared_source(kw):
    # CORDIV's flip-flop replays an old output bit, so (like any stateful SC element)
    # it also wants inputs without serial correlation: VdC or a leap-forward LFSR.
    for pa, pb in ((0.3, 0.6), (0.2, 0.9), (0.5, 0.5), (0.1, 0.3)):
        vals = np.broadcast_to([round(pa * N), round(pb * N)], (N, 2))
        x = sng_bank(vals, width=12, shared=True, **kw)     # correlated: SCC = +1
        assert abs(sc_cordiv(x[:, 0], x[:, 1]).mean() - pa / pb) < 0.04


def _cordiv_naive(a, b, init):
    z, q = np.zeros_like(a), np.array(init, dtype=np.uint8).copy()
    for t in range(a.shape[0]):
        q = np.where(b[t] == 1, a[t], q)
        z[t] = q
    return z, q


def _tanh_naive(x, k):
    y = np.zeros_like(x)
    for lane in range(x.shape[1]):
        s = k // 2
        for t in range(x.shape[0]):
            y[t, lane] = s >= k // 2
            s = min(s + 1, k - 1) if x[t, lane] else max(s - 1, 0)
    return y


def test_recurrences_match_naive_loops():
    rng = np.random.default_rng(7)
    a = rng.integers(0, 2, (300, 6)).astype(np.uint8)
    b = (rng.random((300, 6)) < 0.2).astype(np.uint8)
    for init in (0, 1, np.array([0, 1, 0, 1, 1, 0])):
        z, q = sc_cordiv(a, b, init, return_state=True)
        zn, qn = _cordiv_naive(a, b, np.broadcast_to(init, (6,)))
        assert np.array_equal(z, zn) and np.array_equal(q, qn)
    for k in (2, 4, 8, 16):
        assert np.array_equal(sc_tanh(a, k), _tanh_naive(a, k))
    y, s = sc_tanh(a, 8, return_state=True)
    assert s.shape == (6,) and ((0 <= s) & (s < 8)).all()


@pytest.mark.parametrize("xb", [-0.6, -0.2, 0.0, 0.25, 0.5])
def test_tanh_approximates(xb):
    k = 8
    p = (xb + 1) / 2
    n = (1 << 16) - 1
    # An FSM needs a stream without serial correlation: a leap-forward LFSR (fresh bits
    # per draw) works; plain successive LFSR states (s' ~ s >> 1) are strongly serially
    # correlated and overshoot badly.
    bits = sng_bank(np.full(n, round(p * 65536)), width=16, seed=0xACE1, leap=16)
    y = sc_tanh(bits, k)
    assert abs(2 * y.mean() - 1 - np.tanh(k * xb / 2)) < 0.03


def test_tanh_invalid():
    with pytest.raises(ValueError, match="tanh states = 7 must be even"):
        sc_tanh(np.zeros((3, 1)), 7)
    with pytest.raises(ValueError, match="tanh states = 0 is outside the limit"):
        sc_tanh(np.zeros((3, 1)), 0)


def test_decoder():
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2, (1000, 4))
    c, acc, phase = sc_count(bits, 64, return_state=True)
    assert c.shape == (15, 4)
    for w in range(15):
        assert np.array_equal(c[w], bits[64 * w: 64 * (w + 1)].sum(0))
    assert phase == 1000 - 960 and np.array_equal(acc, bits[960:].sum(0))
    assert count_width(256) == 9 and count_width(255) == 8
    assert unipolar([64], 256)[0] == 0.25 and bipolar([64], 256)[0] == -0.5
    with pytest.raises(ValueError, match="decoder length = 0 is outside the limit"):
        sc_count(bits, 0)
