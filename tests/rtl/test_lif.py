"""CubaLif RTL kernel vs the golden ``cuba_lif_step``, bit for bit (through the kernel
harness of ``cosim/kernel.py``, which every kernel's RTL test uses)."""

import itertools

import numpy as np
import pytest

from neurofab import spec
from neurofab.config import PROFILE_LIMITS
from neurofab.cosim.kernel import check_kernel
from neurofab.rtl.lif import CubaLif


def check(vectors, **kw):
    """``vectors`` through the RTL kernel against the golden ``cuba_lif_step``
    (``cosim/kernel.py``); returns the RTL's outputs."""
    assert CubaLif.LATENCY >= 1
    try:
        return check_kernel("cuba-lif", vectors, **kw)
    except AssertionError as exc:
        pytest.fail(str(exc))


def random_vectors(rng, n):
    vec = {
        "i": rng.integers(spec.STATE_MIN, spec.STATE_MAX + 1, n),
        "v": rng.integers(spec.STATE_MIN, spec.STATE_MAX + 1, n),
        "ref": np.where(rng.random(n) < 0.6, 0, rng.integers(0, spec.REF_MAX + 1, n)),
        "profile": rng.integers(0, spec.PROFILE_COUNT, n),
        "acc": np.where(rng.random(n) < 0.5, rng.integers(-3000, 3000, n),
                        rng.integers(spec.ACC_MIN, spec.ACC_MAX + 1, n)),
    }
    for name, (lo, hi) in PROFILE_LIMITS.items():
        vec[name] = rng.integers(lo, hi + 1, n)
    # moderate thresholds and small states too, so that spikes and both resets happen often
    small = rng.random(n) < 0.5
    vec["threshold"] = np.where(small, rng.integers(1, 3000, n), vec["threshold"])
    vec["v"] = np.where(small, rng.integers(-4000, 4000, n), vec["v"])
    vec["i"] = np.where(small, rng.integers(-4000, 4000, n), vec["i"])
    return vec


def test_random_vectors_back_to_back():
    rng = np.random.default_rng(1234)
    got = check(random_vectors(rng, 4000))
    # the run must have exercised both outcomes
    assert 200 < got["spike"].sum() < 3800


def test_random_vectors_with_gaps():
    rng = np.random.default_rng(99)
    check(random_vectors(rng, 600), gap=0.4, seed=5)


def test_extremes():
    """Cartesian product of the corners of every operand, plus hand-picked cases."""
    smin, smax = spec.STATE_MIN, spec.STATE_MAX
    corners = {
        "i": [smin, -1, 0, 1, smax],
        "v": [smin, -4097, -1, 0, 1000, smax],
        "ref": [0, 1, spec.REF_MAX],
        "acc": [spec.ACC_MIN, -1, 0, 1, spec.ACC_MAX],
        "decay_i": [0, 1, spec.DECAY_ONE - 1, spec.DECAY_ONE],
        "decay_v": [0, 2048, spec.DECAY_ONE],
        "threshold": [1, 1000, smax],
        "bias": [smin, 0, smax],
        "v_reset": [smin, -7, smax],
        "reset": [0, 1],
        "refractory": [0, 1, spec.REF_MAX],
    }
    # full product is too large; cover every pair of corner values of (i, v, acc, decays,
    # ref) and sample the rest
    rng = np.random.default_rng(7)
    rows = []
    for i, v, acc, di, dv, ref in itertools.product(corners["i"], corners["v"], corners["acc"],
                                                    corners["decay_i"], corners["decay_v"],
                                                    corners["ref"]):
        row = {"i": i, "v": v, "acc": acc, "decay_i": di, "decay_v": dv, "ref": ref}
        for name in ("threshold", "bias", "v_reset", "reset", "refractory"):
            row[name] = corners[name][int(rng.integers(len(corners[name])))]
        rows.append(row)
    # v' lands exactly on the threshold (>=, not >), one below, one above; both resets.
    for th, reset, delta, refr in itertools.product([1, 500, smax], [0, 1], [-1, 0, 1],
                                                    [0, 1, spec.REF_MAX]):
        target = th + delta
        if target > smax:
            continue
        rows.append({"i": 0, "v": target, "acc": 0, "decay_i": 0, "decay_v": 0, "ref": 0,
                     "threshold": th, "bias": 0, "v_reset": -3, "reset": reset,
                     "refractory": refr})
        # the same via i' + bias with memoryless v
        rows.append({"i": 0, "v": 12345, "acc": target - 10, "decay_i": spec.DECAY_ONE,
                     "decay_v": spec.DECAY_ONE, "ref": 0, "threshold": th, "bias": 10,
                     "v_reset": 77, "reset": reset, "refractory": refr})
    # saturation of v happens only on the full sum: v + i' + bias overflowing in an
    # intermediate but landing in range must not clip
    rows.append({"i": smax, "v": smax, "acc": 0, "decay_i": 0, "decay_v": 0, "ref": 0,
                 "threshold": smax, "bias": smin, "v_reset": 0, "reset": 0, "refractory": 0})
    rows.append({"i": smin, "v": smin, "acc": 0, "decay_i": 0, "decay_v": 0, "ref": 0,
                 "threshold": 1, "bias": smax, "v_reset": 0, "reset": 0, "refractory": 0})
    # rtz of negative values: -1 * 4095/4096 must give 0 (not -1)
    for x in (-1, -4095, -4096, -4097, smin):
        rows.append({"i": x, "v": x, "acc": 0, "decay_i": 1, "decay_v": 1, "ref": 0,
                     "threshold": smax, "bias": 0, "v_reset": 0, "reset": 0,
                     "refractory": 0})
    vec = {name: np.array([r[name] for r in rows], dtype=np.int64) for name in rows[0]}
    vec["profile"] = np.arange(len(rows)) % spec.PROFILE_COUNT
    got = check(vec)
    assert got["spike"].any() and not got["spike"].all()
