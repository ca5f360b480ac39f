"""AdEx RTL kernel vs the golden ``neurofab.golden.adex.step``, bit for bit."""

import itertools

import numpy as np
import pytest
from amaranth.hdl import Fragment

from neurofab import spec
from neurofab.cosim.kernel import check_kernel, random_vectors
from neurofab.golden import adex as G
from neurofab.kernels import get_kernel
from neurofab.models.adex import BEHAVIOURS
from neurofab.rtl.adex import AdEx
from neurofab.spec import adex as S

KERNEL = get_kernel("adex")


def as_vectors(rows):
    vec = {name: np.array([r[name] for r in rows], dtype=np.int64) for name in rows[0]}
    vec["profile"] = np.arange(len(rows)) % spec.PROFILE_COUNT
    return vec


def test_ports_and_latency():
    assert KERNEL.rtl is AdEx and 1 <= AdEx.LATENCY <= 8
    dut = AdEx()
    assert dut.i_params.shape() == S.PROFILE
    assert dut.o_state.shape() == spec.state_word(S.STATE)
    Fragment.get(dut, None)         # elaborates (and marks the component as used)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_vectors_back_to_back(seed):
    got = check_kernel("adex", random_vectors("adex", seed, 1000))
    assert 0 < got["spike"].sum() < 1000


def test_random_vectors_with_gaps():
    check_kernel("adex", random_vectors("adex", 7, 600), gap=0.4, seed=5)


def trajectory_vectors(rng, per_behaviour=150):
    """States the behaviours actually visit (golden runs), with their profiles and
    inputs: the physiological range, where the exponential and the spike edge act."""
    rows = []
    for b in BEHAVIOURS.values():
        p = b.model.quantise(b.dt).params
        pa = {k: np.array([v]) for k, v in p.items()}
        n = int(round(200 / b.dt))
        acc = b.model.to_current([b.current(t * b.dt) for t in range(n)], b.dt)
        state = G.initial_state(pa)
        visited = []
        for a in acc:
            visited.append((int(state["v"][0]), int(state["w"][0]), int(a)))
            state, spike = G.step(state, np.array([a]), pa)
            if spike[0]:        # keep the step before every spike
                rows.append(dict(v=visited[-1][0], w=visited[-1][1], acc=visited[-1][2],
                                 **p))
        for k in rng.choice(len(visited), per_behaviour, replace=False):
            v, w, a = visited[k]
            rows.append(dict(v=v, w=w, acc=a, **p))
    return rows


def test_behaviour_trajectories():
    rows = trajectory_vectors(np.random.default_rng(11))
    got = check_kernel("adex", as_vectors(rows))
    assert 50 < got["spike"].sum() < len(rows) // 2


def test_extremes():
    """Both rails of every state field, of acc and of the parameters, combined; the
    spike edge (v' = peak - 1, peak) for every delta_t."""
    lim = S.LIMITS
    corners = {
        "v": [S.V_MIN, -1, 0, 945484, S.V_MAX],
        "w": [S.W_MIN, 0, S.W_MAX],
        "acc": [spec.ACC_MIN, -1, 0, spec.ACC_MAX],
        "k_m": [0, lim["k_m"][1]],
        "k_w": [0, lim["k_w"][1]],
        "alpha": list(lim["alpha"]),
        "v_t": list(lim["v_t"]) + [1847],
        "delta_t": [0, 3],
    }
    rng = np.random.default_rng(3)
    rows = []
    for combo in itertools.product(*corners.values()):
        row = dict(zip(corners, combo))
        for name in ("beta", "v_r"):
            row[name] = lim[name][int(rng.integers(2))]
        rows.append(row)
    # the spike edge: k_m = 0 keeps v, so v = peak fires and peak - 1 does not
    for dt_i, vt, delta in itertools.product(range(4), (0, 1847, 8191), (-1, 0, 1)):
        peak = (vt << S.VT_SHIFT) + S.PEAK_OFFSET[dt_i]
        rows.append(dict(v=peak + delta, w=0, acc=0, k_m=0, k_w=lim["k_w"][1],
                         alpha=lim["alpha"][0], beta=lim["beta"][1], v_t=vt,
                         v_r=lim["v_r"][0], delta_t=dt_i))
    # the exponential's shift boundaries (s = 2, 3; -15, -16) for every delta_t
    for dt_i in range(4):
        k = S.DT_K0 + dt_i
        for n in range(-12 - dt_i, 14):
            for frac in (0, 31):
                z = (n << k) + (frac << (k - S.EXP_INDEX_BITS))
                rows.append(dict(v=z, w=-12345, acc=1000, k_m=3000, k_w=1000, alpha=100,
                                 beta=5, v_t=0, v_r=3, delta_t=dt_i))
    got = check_kernel("adex", as_vectors(rows))
    assert got["spike"].any() and not got["spike"].all()


def test_perturbed_golden_is_caught(monkeypatch):
    """Negative test: check_kernel must see a one-unit error in the exponential."""
    vec = as_vectors(trajectory_vectors(np.random.default_rng(5), per_behaviour=20))
    check_kernel("adex", vec)
    original = G.exp_term
    monkeypatch.setattr(G, "exp_term",
                        lambda *a: np.minimum(original(*a) + 1, S.E_MAX))
    with pytest.raises(AssertionError, match="adex: .* mismatches"):
        check_kernel("adex", vec)
