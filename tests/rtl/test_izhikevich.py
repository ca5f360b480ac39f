"""Izhikevich RTL kernel vs the golden ``izhikevich_step``, bit for bit (the kernel
harness ``neurofab.cosim.kernel``)."""

import itertools
import re

import numpy as np
from amaranth.back import rtlil

from neurofab import spec
from neurofab.cosim.kernel import check_kernel, random_vectors
from neurofab.golden import izhikevich as G
from neurofab.kernels import get_kernel
from neurofab.models.izhikevich import BEHAVIOURS
from neurofab.rtl.izhikevich import Izhikevich
from neurofab.spec import izhikevich as S

KERNEL = get_kernel("izhikevich")


def test_interface():
    assert KERNEL.rtl is Izhikevich and KERNEL.ii == 1
    assert 1 <= Izhikevich.LATENCY == KERNEL.latency <= 8


def test_multipliers_are_four_16x16():
    """Four multipliers, every operand at most 16 bits signed (one iCE40 SB_MAC16 each)."""
    text = rtlil.convert(Izhikevich())
    cells = re.findall(r"cell \$mul .*?\n(.*?)end", text, re.S)
    assert len(cells) == 4
    for cell in cells:
        widths = dict(re.findall(r"parameter \\(A_WIDTH|B_WIDTH) (\d+)", cell))
        assert int(widths["A_WIDTH"]) <= 16 and int(widths["B_WIDTH"]) <= 16


def test_random_vectors_back_to_back():
    got = check_kernel(KERNEL, random_vectors(KERNEL, 1234, 4000))
    assert 0 < got["spike"].sum() < 4000


def test_random_vectors_with_gaps():
    check_kernel(KERNEL, random_vectors(KERNEL, 99, 600), gap=0.4, seed=5)


def realistic_vectors(rng, n):
    """States a running neuron visits (v in -100 .. 30 mV, |u| < 30 mV/ms), inputs up to
    +-50 mV/ms, profiles around the published classes."""
    vec = {
        "v": rng.integers(S.V_FLOOR, S.V_PEAK, n),
        "u": rng.integers(-30 * 41943, 30 * 41943, n),
        "profile": rng.integers(0, spec.PROFILE_COUNT, n),
        "acc": rng.integers(-50 * 164, 50 * 164, n),
        "a": rng.integers(0, 13108, n),                # 0 .. 0.2
        "b": rng.integers(-1639, 4260, n),             # -0.1 .. 0.26
        "c": rng.integers(-70 * 164, -40 * 164, n),
        "d": rng.integers(0, 8 * 2622, n),
        "bias": np.where(rng.random(n) < 0.8, 0, rng.integers(-1640, 1640, n)),
    }
    return vec


def test_realistic_vectors():
    got = check_kernel(KERNEL, realistic_vectors(np.random.default_rng(7), 4000))
    assert 100 < got["spike"].sum() < 3900


def trajectory_vectors():
    """Every update of every behaviour, as the golden model runs it: the states a neuron
    really passes through, spikes and resets included."""
    rows = {name: [] for name in ("v", "u", "acc", *KERNEL.param_fields)}
    for b in BEHAVIOURS.values():
        n = int(round(b.duration / b.dt))
        acc = b.model.to_current(b.current(np.arange(n) * b.dt), b.dt)
        params = b.model.quantise(b.dt).params
        p = {k: np.array([v]) for k, v in params.items()}
        state = G.initial_state(p)
        for k in range(n):
            rows["v"].append(int(state["v"][0]))
            rows["u"].append(int(state["u"][0]))
            rows["acc"].append(int(acc[k]))
            for name in KERNEL.param_fields:
                rows[name].append(params[name])
            state, _ = G.step(state, acc[k:k + 1], p)
    vec = {name: np.array(col, dtype=np.int64) for name, col in rows.items()}
    vec["profile"] = np.arange(len(vec["v"])) % spec.PROFILE_COUNT
    return vec


def test_behaviour_trajectories():
    vec = trajectory_vectors()
    got = check_kernel(KERNEL, vec)
    assert got["spike"].sum() > 150


def unclamped_half_step(v, u, current):
    """A half-step before its clamp (docs/numerics-izhikevich.md)."""
    return (v * v + S.V_COEF * v + S.K_HALF - S.U_COEF * u + S.I_COEF * current
            ) >> S.HALF_SHIFT


def outcome(y2):
    """What an unclamped second half-step ``y2`` leaves: ``V_PEAK`` for a spike, else
    ``v2``."""
    return np.minimum(np.clip(y2, S.V_FLOOR, S.V_MAX), S.V_PEAK)


def landings(per_target=4):
    """``(v, u, I)`` triples whose half-steps land (before the clamp) exactly on, and one
    unit either side of, the clamp limits and the peak: for ``u`` at 0 and its rails and a
    spread of currents, every ``v`` is tried. A landing outside the clamp range in the
    first half-step only counts where the clamp changes the result (where ``v1`` without
    the clamp, wrapped to 16 bits, would give another ``v2`` or spike decision)."""
    targets1 = (S.V_FLOOR - 1, S.V_FLOOR, S.V_FLOOR + 1, S.V_MAX, S.V_MAX + 1)
    targets2 = (S.V_FLOOR - 1, S.V_FLOOR, S.V_FLOOR + 1, S.V_PEAK - 1, S.V_PEAK)
    found = {(half, t): [] for half, ts in ((1, targets1), (2, targets2)) for t in ts}
    v = np.arange(S.V_MIN, S.V_MAX + 1)
    currents = np.random.default_rng(0).permutation(np.arange(S.I_MIN, S.I_MAX + 1, 97))
    for current, u in itertools.product(currents, (0, S.U_MAX, S.U_MIN)):
        if all(len(rows) >= per_target for rows in found.values()):
            break
        y1 = unclamped_half_step(v, u, current)
        v1 = np.clip(y1, S.V_FLOOR, S.V_MAX)
        y2 = unclamped_half_step(v1, u, current)
        wrapped = (y1 + (1 << 15)) % (1 << 16) - (1 << 15)
        observable = outcome(y2) != outcome(unclamped_half_step(wrapped, u, current))
        for (half, target), rows in found.items():
            hit = y1 == target if half == 1 else y2 == target
            if half == 1 and not S.V_FLOOR <= target <= S.V_MAX:
                hit &= observable
            rows += [(int(v[k]), u, int(current)) for k in np.flatnonzero(hit)[:1]]
    for key, rows in found.items():
        assert len(rows) >= per_target, f"landing {key} missing from the grid"
    return [row for rows in found.values() for row in rows[:per_target]]


def boundary_vectors():
    """v landing exactly on V_PEAK - 1 / V_PEAK (spike or not), on the clamp limits and one
    unit outside them in either half-step; u at its rails with d's kick; x at its rails;
    the extremes of every parameter and of acc."""
    base = {"a": 1311, "b": 3277, "c": -10650, "d": 20972, "bias": 0}
    rows = [{**base, "v": v, "u": u, "acc": i} for v, u, i in landings()]
    # the top rail of v1, u and x rails, d kicks past the u rails
    smax, smin = spec.ACC_MAX, spec.ACC_MIN
    rows += [
        {**base, "v": S.V_MAX, "u": 0, "acc": smax},
        {**base, "v": S.V_MIN, "u": S.U_MIN, "acc": smin},
        {**base, "v": 4000, "u": S.U_MAX - 5, "acc": smax, "d": S.LIMITS["d"][1]},
        {**base, "v": 4000, "u": S.U_MIN + 5, "acc": smax, "d": S.LIMITS["d"][0]},
        {**base, "v": S.V_MIN, "u": S.U_MIN, "acc": smin, "a": 1 << 14, "b": -(1 << 15)},
        {**base, "v": S.V_MIN, "u": S.U_MAX, "acc": 0, "a": (1 << 15) - 1, "b": 1 << 14},
    ]
    # the corners of every field, pairwise with v and u
    corners = {
        "v": [S.V_MIN, S.V_FLOOR - 1, S.V_FLOOR, -10650, 0, S.V_PEAK - 1, S.V_PEAK, S.V_MAX],
        "u": [S.U_MIN, -1, 0, S.U_MAX],
        "acc": [smin, S.I_MIN - 1, -1, 0, S.I_MAX + 1, smax],
    }
    for name, (lo, hi) in S.LIMITS.items():
        corners[name] = [lo, base[name], hi]
    for v, u, acc in itertools.product(corners["v"], corners["u"], corners["acc"]):
        rows.append({**base, "v": v, "u": u, "acc": acc})
    for name in S.LIMITS:
        for v, value in itertools.product(corners["v"], corners[name]):
            rows.append({**base, "v": v, "u": -587249, "acc": 1638, name: value})
    vec = {name: np.array([int(r[name]) for r in rows], dtype=np.int64) for name in rows[0]}
    vec["profile"] = np.arange(len(rows)) % spec.PROFILE_COUNT
    return vec


def test_boundaries():
    got = check_kernel(KERNEL, boundary_vectors())
    assert got["spike"].any() and not got["spike"].all()
    assert (got["v"] == S.V_FLOOR).any()
