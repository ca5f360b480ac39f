"""Golden spike encoders: semantics, draw order, state/resume, errors, core integration."""

import numpy as np
import pytest

from neurofab import golden
from neurofab.config import random_config
from neurofab.golden.encoders.lfsr import lfsr_sequence
from neurofab.golden.encoders.spike import (DeltaEncoder, LatencyEncoder, PopulationEncoder,
                                            RateEncoder, delta_encode, latency_encode,
                                            population_encode, rate_encode, to_transactions)
from neurofab.spec import encoders as S


def test_rate_draw_order_definition():
    vals = np.random.default_rng(0).integers(0, 256, (6, 5))
    out = rate_encode(vals, seed=99, rand_width=12, leap=1)
    draws = lfsr_sequence(12, 99, 30).reshape(6, 5) >> 4
    for t in range(6):
        assert out[t].tolist() == np.flatnonzero(draws[t] < vals[t]).tolist()
        assert out[t].dtype == np.int64


def test_rate_statistics():
    x = np.array([0, 16, 64, 128, 240, 255])
    out = rate_encode(np.broadcast_to(x, (4000, 6)), seed=1234)
    counts = np.bincount(np.concatenate(out), minlength=6) / 4000
    assert counts[0] == 0
    assert np.all(np.abs(counts - x / 256) < 0.025)


def test_rate_resume_equals_one_call():
    vals = np.random.default_rng(1).integers(0, 256, (20, 7))
    enc = RateEncoder(7, seed=5)
    split = enc.run(vals[:8]) + enc.run(vals[8:])
    once = RateEncoder(7, seed=5).run(vals)
    assert all(np.array_equal(a, b) for a, b in zip(split, once))
    assert enc.step == 20


def test_latency_one_spike_per_window():
    w, window = 8, 10
    x = np.array([255, 200, 128, 1, 0, 60])
    steps = latency_encode(np.broadcast_to(x, (2 * window, 6)), width=w, window=window)
    for c, xc in enumerate(x):
        times = [t for t, s in enumerate(steps) if c in s]
        if xc == 0:
            assert times == []
        else:
            k = ((255 - xc) * window) >> w
            assert times == [k, window + k]
    assert 0 in steps[0]                            # full-scale fires at once
    lat = S.latency_of(np.arange(1, 256), 8, window)
    assert (np.diff(lat) <= 0).all() and lat.max() == window - 1 and lat.min() == 0


def test_latency_phase_continues():
    enc = LatencyEncoder(2, window=4)
    enc.run(np.zeros((6, 2), dtype=int))
    assert enc.phase == 2


def test_delta_semantics():
    vals = np.array([[0, 50], [10, 50], [30, 20], [29, 21], [5, 60]])
    out = delta_encode(vals, threshold=10)
    # step 0: ch1 rose 0->50 (ON = 2); step 1: ch0 +10 (ON = 0, d == threshold fires);
    # step 2: ch0 +20 (ON 0), ch1 -30 (OFF 3); step 3: |d| = 1; step 4: -24 (OFF 1), +39 (ON 2)
    assert [o.tolist() for o in out] == [[2], [0], [0, 3], [], [1, 2]]
    enc = DeltaEncoder(2, threshold=10)
    enc.run(vals)
    assert enc.prev.tolist() == [5, 60]
    assert S.delta_channel(3, S.DELTA_OFF) == 7


def test_population_tables():
    centers, lut = S.population_table(8, 5)
    assert centers == (0, 64, 128, 191, 255)   # round(j * 255 / 4), half up
    assert lut[0] == 255 and all(a >= b for a, b in zip(lut, lut[1:]))
    sigma = 255 / 4
    assert lut[64] == int(np.floor(255 * np.exp(-0.5 * (64 / sigma) ** 2) + 0.5))
    c2, l2 = S.population_table(4, 3, sigma=1.0, peak=8)
    assert c2 == (0, 8, 15) and l2[:4] == (8, 5, 1, 0)


def test_population_semantics():
    enc = PopulationEncoder(2, fields=4, seed=3, rand_width=16, leap=1)
    vals = np.random.default_rng(2).integers(0, 256, (5, 2))
    out = enc.run(vals)
    draws = lfsr_sequence(16, 3, 5 * 2 * 4).reshape(5, 2, 4) >> 8
    p = np.array(enc.lut)[np.abs(vals[:, :, None] - np.array(enc.centers))]
    for t in range(5):
        assert out[t].tolist() == np.flatnonzero((draws[t] < p[t]).reshape(-1)).tolist()
    # the field nearest the value fires most
    steps = population_encode(np.full((2000, 1), 64), fields=5, sigma=20.0)
    counts = np.bincount(np.concatenate(steps), minlength=5)
    assert counts.argmax() == 1 and counts[4] == 0


def test_transactions():
    assert to_transactions([np.array([1, 4]), np.array([], dtype=int)]) == [(1, 0), (4, 0), (0, 1), (0, 1)]


def test_feeds_the_golden_core():
    cfg = random_config(3, n_neurons=16, n_inputs=8)
    vals = np.random.default_rng(3).integers(0, 256, (20, 8))
    for inputs in (rate_encode(vals), latency_encode(vals), population_encode(vals[:, :2], fields=4)):
        spikes = golden.run(cfg, inputs)
        assert len(spikes) == 20
    cfg16 = random_config(4, n_neurons=16, n_inputs=16)
    assert len(golden.run(cfg16, delta_encode(vals, threshold=30))) == 20


@pytest.mark.parametrize("call, exc, match", [
    (lambda: rate_encode(np.array([[1, 256]])), ValueError, "encoder value = 256 does not fit width 8 \\(0..255\\)"),
    (lambda: rate_encode(np.array([[1, -1]])), ValueError, "encoder value = -1 does not fit"),
    (lambda: RateEncoder(3).run(np.zeros((2, 4), dtype=int)), ValueError, "values must have shape \\(steps, 3\\)"),
    (lambda: RateEncoder(3).run(np.zeros((2, 3))), TypeError, "values must be integers"),
    (lambda: RateEncoder(3, seed=0), ValueError, "seed = 0 is the lock-up state"),
    (lambda: RateEncoder(3, width=10, rand_width=8), ValueError, "value width = 10 is wider than the random source"),
    (lambda: LatencyEncoder(3, window=70000), ValueError, r"latency window = 70000 is outside the limit \[1, 65536\]"),
    (lambda: DeltaEncoder(3, width=4, threshold=16), ValueError, r"delta threshold = 16 is outside the limit \[1, 15\]"),
    (lambda: PopulationEncoder(3, fields=65), ValueError, r"population fields = 65 is outside the limit \[2, 64\]"),
    (lambda: PopulationEncoder(3, sigma=0), ValueError, "population sigma = 0.0 must be > 0"),
    (lambda: PopulationEncoder(3, peak=256), ValueError, r"population peak = 256 is outside the limit \[0, 255\]"),
    (lambda: PopulationEncoder(40000, fields=2), ValueError, "drives 80000 core channels"),
])
def test_invalid(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
