"""Alif RTL kernel vs the golden ``alif_step``, bit for bit (through the kernel harness
``neurofab.cosim.kernel``), and its hardware budgets."""

import itertools
import re

import numpy as np
from amaranth.back import rtlil

from neurofab import spec
from neurofab.cosim.kernel import check_kernel, random_vectors
from neurofab.golden.alif import theta
from neurofab.kernels import get_kernel
from neurofab.rtl.alif import Alif
from neurofab.spec import alif as S

KERNEL = get_kernel("alif")


def spiky_vectors(rng, n):
    """Random vectors biased toward the interesting region: ``v`` around the adapted
    threshold, every ``adapt_shift``, ``a`` near its rail and near the clamp of theta."""
    vec = random_vectors(KERNEL, rng, n, corners=False)
    vec["ref"] = np.where(rng.random(n) < 0.7, 0, vec["ref"])
    vec["a"] = np.where(rng.random(n) < 0.5, rng.integers(0, 3000 << 8, n), vec["a"])
    th = theta(vec["a"], vec["threshold"], vec["adapt_shift"])
    vec["v"] = np.clip(th + rng.integers(-600, 600, n), spec.STATE_MIN, spec.STATE_MAX)
    vec["i"] = rng.integers(-500, 500, n)
    vec["acc"] = rng.integers(-500, 500, n)
    for name in ("decay_i", "decay_v"):
        vec[name] = np.where(rng.random(n) < 0.5, 0, vec[name])
    return vec


def test_budgets():
    assert Alif.LATENCY <= 8 and KERNEL.latency == Alif.LATENCY
    assert KERNEL.rtl is Alif
    assert S.STATE.size <= 76 and S.PROFILE.size <= spec.MEM_DATA_WIDTH
    assert KERNEL.state_word.size <= spec.MEM_DATA_WIDTH
    # every multiplier's operands are at most 18 bits signed (17 unsigned); here at most
    # 16 x 14, so each fits one iCE40 SB_MAC16 as well
    text = rtlil.convert(Alif())
    cells = re.findall(r"cell \$mul .*?\n\s*end", text, re.S)
    assert len(cells) == 4
    for cell in cells:
        p = dict(re.findall(r"parameter \\(\w+) (\d+)", cell))
        for port in "AB":
            width = int(p[f"{port}_WIDTH"]) + (p[f"{port}_SIGNED"] == "0")
            assert width <= 17, cell


def test_random_vectors_back_to_back():
    got = check_kernel(KERNEL, random_vectors(KERNEL, 1234, 3000))
    assert got["spike"].any()


def test_spiky_vectors_back_to_back():
    vec = spiky_vectors(np.random.default_rng(5), 4000)
    got = check_kernel(KERNEL, vec)
    fired = got["spike"].astype(bool)
    assert 400 < fired.sum() < 3600
    assert set(vec["reset"][fired].tolist()) == {0, 1}          # both resets fired
    assert (vec["adapt_shift"][fired] == S.ADAPT_SHIFT_MAX).any()


def test_random_vectors_with_gaps():
    rng = np.random.default_rng(99)
    check_kernel(KERNEL, spiky_vectors(rng, 600), gap=0.4, seed=5)


def test_extremes():
    """Corners of the operands that meet the adaptation: ``a`` (zero, a fraction, the
    rail), every shift, thresholds that clamp, ``v`` at the rails and at theta, both
    resets, refractory, and the rails of ``adapt_inc`` and ``decay_a``."""
    smin, smax = spec.STATE_MIN, spec.STATE_MAX
    rows = []
    rng = np.random.default_rng(7)
    for a, shift, th, inc, da in itertools.product(
            [0, 255, 256, 1000 << 8, S.ADAPT_MAX - 300, S.ADAPT_MAX],
            range(S.ADAPT_SHIFT_MAX + 1), [1, 500, S.THRESHOLD_MAX], [0, 1, 255],
            [0, 1, S.DECAY_A_MAX]):
        t = int(theta(a, th, shift))
        for v, acc, reset, ref in ((t, 0, 1, 0), (t - 1, 0, 0, 0), (smax, smax, 1, 0),
                                   (smin, spec.ACC_MIN, 0, 0), (t, 0, 1, 3)):
            rows.append({"i": 0, "v": v, "ref": ref, "a": a, "acc": acc, "decay_i": 4096,
                         "decay_v": 0, "threshold": th,
                         "bias": int(rng.choice([S.LIMITS["bias"][0], 0,
                                                 S.LIMITS["bias"][1]])) if v in (smax, smin)
                         else 0,
                         "v_reset": int(rng.choice(S.LIMITS["v_reset"])), "reset": reset,
                         "refractory": int(rng.integers(0, 16)), "decay_a": da,
                         "adapt_inc": inc, "adapt_shift": shift})
    vec = {name: np.array([r[name] for r in rows], dtype=np.int64) for name in rows[0]}
    vec["profile"] = np.arange(len(rows)) % spec.PROFILE_COUNT
    got = check_kernel(KERNEL, vec)
    assert got["spike"].any() and not got["spike"].all()
    assert (got["a"] == S.ADAPT_MAX).any()
    assert (got["v"][got["spike"].astype(bool) & (vec["reset"] == 1)] == 0).any()
