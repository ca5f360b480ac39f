"""The golden AdEx kernel (docs/numerics-adex.md), its float front end and its accuracy
against the float64 reference."""

import math

import numpy as np
import pytest

from neurofab import spec
from neurofab.golden import adex as G
from neurofab.kernels import check_params, get_kernel
from neurofab.models import QuantReport
from neurofab.models.adex import BEHAVIOURS, AdEx, reference
from neurofab.spec import adex as S

KERNEL = get_kernel("adex")


def profile(**kw):
    """The ``adapting`` profile of the worked example, with overrides, as int64 arrays."""
    p = dict(k_m=1573, k_w=699, alpha=85, beta=462, v_t=1847, v_r=277, delta_t=2)
    p.update(kw)
    return {k: np.asarray(v, dtype=np.int64) for k, v in p.items()}


def one(v, w, acc, **kw):
    state, spike = G.step({"v": np.array([v]), "w": np.array([w])}, np.array([acc]),
                          profile(**kw))
    return int(state["v"][0]), int(state["w"][0]), bool(spike[0])


def run(model, current, dt):
    """The integer kernel on ``model`` driven by ``current`` (pA per step)."""
    p = {k: np.array([v]) for k, v in model.quantise(dt).params.items()}
    acc = model.to_current(current, dt)
    state = G.initial_state(p)
    vs, spikes = np.empty(len(acc), dtype=np.int64), []
    for t, a in enumerate(acc):
        state, s = G.step(state, np.array([a]), p)
        vs[t] = state["v"][0]
        if s[0]:
            spikes.append(t)
    return vs, np.array(spikes, dtype=np.int64)


# --- layout and contract ---------------------------------------------------------------
def test_budgets_and_limits():
    assert S.STATE.size == 48 and S.PROFILE.size == 80
    assert KERNEL.profile.size == 80 and KERNEL.state_bits == 48
    assert KERNEL.state_word.size <= spec.MEM_DATA_WIDTH
    assert set(S.LIMITS) == set(KERNEL.param_fields)
    check_params(KERNEL, S.SILENT)
    assert math.isclose(S.V_LSB_MV, math.log(2) / 32768)
    # D_T ln 2 is a power of two in voltage units: the exponent needs no multiplier
    for i, d_t in enumerate(S.DELTA_T_MV):
        assert math.isclose(d_t * math.log(2) / S.V_LSB_MV, 2 ** (S.DT_K0 + i))
    # the spike threshold lies strictly inside the v range for every profile
    for dt_i in range(4):
        assert 0 < (S.LIMITS["v_t"][0] << S.VT_SHIFT) + S.PEAK_OFFSET[dt_i]
        assert (S.LIMITS["v_t"][1] << S.VT_SHIFT) + S.PEAK_OFFSET[dt_i] < S.V_MAX
        assert abs(S.PEAK_OFFSET[dt_i] * S.V_LSB_MV - 5 * S.DELTA_T_MV[dt_i]) <= S.V_LSB_MV


def test_initial_state():
    p = profile(k_m=np.arange(5))
    st = G.initial_state(p)
    assert set(st) == {"v", "w"}
    for x in st.values():
        assert x.dtype == np.int64 and x.shape == (5,) and not x.any()


def test_step_is_pure_and_int64():
    rng = np.random.default_rng(0)
    n = 50
    state = {"v": rng.integers(S.V_MIN, S.V_MAX + 1, n),
             "w": rng.integers(S.W_MIN, S.W_MAX + 1, n)}
    acc = rng.integers(spec.ACC_MIN, spec.ACC_MAX + 1, n)
    params = {k: rng.integers(lo, hi + 1, n) for k, (lo, hi) in S.LIMITS.items()}
    copies = ({k: v.copy() for k, v in state.items()}, acc.copy(),
              {k: v.copy() for k, v in params.items()})
    new, spike = G.step(state, acc, params)
    for k in state:
        assert np.array_equal(state[k], copies[0][k])
        assert new[k].dtype == np.int64
        assert (new[k] >= S.V_MIN).all() and (new[k] <= S.V_MAX).all()
    assert np.array_equal(acc, copies[1])
    assert all(np.array_equal(params[k], copies[2][k]) for k in params)
    assert spike.dtype == bool and spike.shape == (n,)


# --- worked example (docs/numerics-adex.md) --------------------------------------------
def test_worked_example():
    model = BEHAVIOURS["adapting"].model
    rep = model.quantise(0.1)
    assert rep.params == dict(k_m=1573, k_w=699, alpha=85, beta=462, v_t=1847, v_r=277,
                              delta_t=2)
    acc = int(model.to_current([500.0], 0.1)[0])
    assert acc == 1924                       # 41.667 mV / 21.66 uV
    # two steps from rest: D = 1924, v1 = round(1573 * 1924 / 256) = 11822; then
    # D = (1924 * 1024 + 512 - 11822) >> 10 = 1912, v1 = 11822 + round(11748.4),
    # X = (85 * 46 + 256) >> 9 = 8, w1 = round(699 * 8 / 8192) = 1
    assert one(0, 0, acc) == (11822, 0, False)
    assert one(11822, 0, acc) == (23570, 1, False)
    assert math.isclose(model.to_voltage(23570), -69.5014, abs_tol=1e-4)
    # the exponential at V_T (z = 0): T[0] * 2**-6 = 373 (true: 2 mV = 369.3 units);
    # just below (z = -692): T[31] * 2**-7 = 365 (true 366.7)
    assert int(G.exp_term(945664, 1847, 2)) == 373
    assert int(G.exp_term(945664 - 692, 1847, 2)) == 365
    # a step that crosses V_peak: E = T[24] = 40186, D = 10517, v1 = 1453027 >= 1418406;
    # X = 510, w1 = 100000 + round(43.5) = 100044, then + (462 << 9)
    peak = 1847 * 512 + S.PEAK_OFFSET[2]
    assert peak == 1418406
    assert int(G.exp_term(peak - 30000, 1847, 2)) == 40186
    assert one(peak - 30000, 100000, acc) == (277 * 2048, 100044 + 462 * 512, True)


# --- properties ------------------------------------------------------------------------
def test_exp_table_error_bound():
    """E against D_T exp((V - V_T)/D_T) in drive units, over the whole useful range."""
    bound = 2 ** (1 / 64) - 1                      # the midpoint table's relative error
    for dt_i, d_t in enumerate(S.DELTA_T_MV):
        v = np.arange(-25 * 2 ** (S.DT_K0 + dt_i), 12 * 2 ** (S.DT_K0 + dt_i), 97)
        e = G.exp_term(v, 0, dt_i)
        true = d_t * np.exp(v * S.V_LSB_MV / d_t) / S.E_LSB_MV
        inside = true < S.E_MAX / (1 + bound)
        err = np.abs(e - true)[inside]
        # relative table error, table rounding and the truncating right shift (< 1 unit)
        assert (err <= bound * true[inside] + 1 + 1e-9).all()
        assert (e[true >= S.E_MAX * (1 + bound)] == S.E_MAX).all()
        assert (np.diff(e) >= 0).all()             # monotone
        rel = (err / true[inside])[true[inside] > 1000]
        assert rel.max() == pytest.approx(bound, rel=0.05)


def test_exp_term_extremes():
    assert int(G.exp_term(S.V_MIN, S.LIMITS["v_t"][1], 0)) == 0
    assert int(G.exp_term(S.V_MAX, S.LIMITS["v_t"][0], 3)) == S.E_MAX


def test_drive_saturates_at_both_rails():
    # D saturates at +-2**17: any acc beyond the rail gives the same step
    for v, w in ((0, 0), (-500000, 300000)):
        hi = one(v, w, spec.ACC_MAX, k_m=S.LIMITS["k_m"][1])
        assert hi == one(v, w, 10 ** 6, k_m=S.LIMITS["k_m"][1])
        lo = one(v, w, spec.ACC_MIN, k_m=S.LIMITS["k_m"][1])
        assert lo == one(v, w, -(10 ** 6), k_m=S.LIMITS["k_m"][1])
        # D = -2**17 moves v by round(k_m * D / 1024) exactly
        assert lo[0] == v + (S.LIMITS["k_m"][1] * S.D_MIN + 128 >> 8)


def test_state_rails():
    kmax = S.LIMITS["k_m"][1]
    # v at the low rail, pushed further down, stays there
    assert one(S.V_MIN, 0, spec.ACC_MIN, k_m=kmax)[0] == S.V_MIN
    # v at the high rail (beyond every peak) fires and resets
    assert one(S.V_MAX, 0, spec.ACC_MAX, k_m=kmax, k_w=0) == (277 * 2048, 462 * 512, True)
    # w at both rails, pushed outwards by alpha v
    kw = S.LIMITS["k_w"][1]
    amax = S.LIMITS["alpha"][1]
    assert one(S.V_MIN, S.W_MIN, 0, k_w=kw, alpha=amax, k_m=0)[1] == S.W_MIN
    assert one(S.V_MAX, S.W_MAX, 0, k_w=kw, alpha=amax, k_m=0, beta=0)[1] == S.W_MAX
    # the spike-triggered jump saturates
    v, w, s = one(S.V_MAX, S.W_MAX, 0, beta=S.LIMITS["beta"][1])
    assert s and w == S.W_MAX


def test_spike_edge_and_reset():
    # with k_m = 0 v stays put: v = peak fires (>=), peak - 1 does not
    for dt_i in range(4):
        peak = 1847 * 512 + S.PEAK_OFFSET[dt_i]
        assert one(peak - 1, 0, 0, k_m=0, k_w=0, delta_t=dt_i) == (peak - 1, 0, False)
        assert one(peak, 5000, 0, k_m=0, k_w=0, delta_t=dt_i) == (
            277 * 2048, 5000 + 462 * 512, True)


def test_silent_profile_never_fires():
    p = {k: np.array([v]) for k, v in S.SILENT.items()}
    state = G.initial_state(p)
    for _ in range(2000):
        state, spike = G.step(state, np.array([0]), p)
        assert not spike.any()
    assert int(state["v"][0]) == 0 and int(state["w"][0]) == 0


def test_is_silent():
    assert G.is_silent(S.SILENT)
    assert G.is_silent({**S.SILENT, "alpha": -2048, "k_w": 32767, "beta": 4095})
    assert not G.is_silent({**S.SILENT, "k_m": 1})


@pytest.mark.parametrize("name", ["tonic", "adapting", "delayed accelerating"])
def test_rest_is_stable_without_input(name):
    model = BEHAVIOURS[name].model
    v, spikes = run(model, np.zeros(3000), 0.1)
    assert spikes.size == 0 and np.abs(v).max() <= 2


# --- float model and quantiser ---------------------------------------------------------
TONIC = dict(C=200, g_L=10, E_L=-70, V_T=-50, Delta_T=2, a=2, tau_w=30, b=0, V_reset=-58)


@pytest.mark.parametrize("field,value,exc,match", [
    ("C", float("nan"), ValueError, "C = nan"),
    ("g_L", float("inf"), ValueError, "g_L = inf"),
    ("tau_w", -30, ValueError, r"tau_w = -30 is outside the limit \(0"),
    ("Delta_T", 0, ValueError, "Delta_T = 0"),
    ("b", -5, ValueError, r"b = -5 is outside the limit \[0"),
    ("C", "200", TypeError, "C must be a number"),
    ("V_T", None, TypeError, "V_T must be a number"),
])
def test_bad_float_params_refused(field, value, exc, match):
    with pytest.raises(exc, match=match):
        AdEx(**{**TONIC, field: value})


@pytest.mark.parametrize("field,value,match", [
    ("C", 1.0, r"k_m: .* outside the representable range \[1, 32767\]"),  # tau_m = 0.1 ms
    ("tau_w", 2.0, r"k_w: .*tau_w = 2 ms.*\[1, 32767\]"),
    ("a", 100.0, r"alpha: .* outside the representable range \[-2048, 2047\]"),
    ("b", 1000.0, r"beta: .* outside the representable range \[0, 4095\]"),
    ("V_T", 30.0, r"v_t: .* \[0, 8191\]"),
    ("V_T", -71.0, r"v_t: \(V_T - E_L\) .* = -92.\d+ rounds to -92, outside .*\[0, 8191\]"),
    ("V_reset", -20.0, r"v_r: .* \[-1024, 1023\]"),
])
def test_unrepresentable_profile_refused(field, value, match):
    with pytest.raises(ValueError, match=match):
        AdEx(**{**TONIC, field: value}).quantise(0.1)


def test_bad_dt_and_current_refused():
    m = AdEx(**TONIC)
    with pytest.raises(ValueError, match="dt = 0"):
        m.quantise(0)
    with pytest.raises(ValueError, match="finite"):
        m.to_current([1.0, float("nan")], 0.1)
    with pytest.raises(ValueError, match=r"current\[1\] = 1e\+09 pA is outside"):
        m.to_current([0.0, 1e9], 0.1)
    with pytest.raises(ValueError, match="V_peak"):
        AdEx(**TONIC, V_peak=-60)


def test_quantise_report():
    rep = AdEx(**TONIC).quantise(0.1)
    assert isinstance(rep, QuantReport) and rep.kernel == "adex" and rep.dt == 0.1
    check_params(KERNEL, rep.params)
    assert set(rep.values) == set(rep.effective)
    name, err = rep.worst_error
    assert name == "a" and err < 0.004
    for k in ("C", "V_T", "V_reset", "tau_w", "V_peak"):
        assert rep.errors[k] < 1e-3
    # Delta_T off the grid and an explicit V_peak are forced, with notes
    rep = AdEx(**{**TONIC, "Delta_T": 2.5}, V_peak=0).quantise(0.1)
    assert rep.params["delta_t"] == 2 and rep.effective["Delta_T"] == 2.0
    assert any("Delta_T = 2.5 mV forced onto the grid" in n for n in rep.notes)
    assert any("V_peak = 0 mV is not representable" in n for n in rep.notes)
    assert rep.effective["V_peak"] == pytest.approx(-40, abs=0.01)   # V_T grid 11 uV
    assert str(rep).startswith("adex profile at dt = 0.1 ms")


def test_to_voltage_and_to_current():
    m = AdEx(**TONIC)
    assert m.to_voltage(np.array([0]))[0] == -70
    assert m.to_voltage(np.array([1 << 15]))[0] == pytest.approx(-70 + math.log(2))
    acc = m.to_current(np.array([500.0, -500.0, 0.0]), 0.1)
    assert acc.dtype == np.int64
    # 500 pA / 10 nS = 50 mV in drive units
    assert acc.tolist() == [round(50 / S.D_LSB_MV), -round(50 / S.D_LSB_MV), 0]


# --- accuracy against the float64 reference --------------------------------------------
#: (max |spike count difference|, max mean |dt| of matched spikes in ms); irregular
#: spiking is chaotic, so only its rate is compared.
BOUNDS = {"tonic": (0, 0.3), "adapting": (0, 0.6), "initial burst": (0, 0.6),
          "regular bursting": (0, 0.6), "delayed accelerating": (0, 0.6),
          "delayed regular bursting": (1, 1.5), "transient": (0, 0.3),
          "irregular": (3, None)}


def measure(b):
    n = int(round(b.duration / b.dt))
    current = np.array([b.current(t * b.dt) for t in range(n)])
    _, si = run(b.model, current, b.dt)
    vf, sf = reference(b.model, current, b.dt)
    k = min(si.size, sf.size)
    mean_dt = float(np.abs(si[:k] - sf[:k]).mean() * b.dt) if k else 0.0
    return si, sf, vf, mean_dt


@pytest.mark.parametrize("name", list(BOUNDS))
def test_accuracy_against_float_reference(name):
    b = BEHAVIOURS[name]
    si, sf, vf, mean_dt = measure(b)
    dcount, dt_bound = BOUNDS[name]
    assert sf.size >= 1 and abs(si.size - sf.size) <= dcount, (si.size, sf.size)
    if dt_bound is not None:
        assert mean_dt <= dt_bound, mean_dt
    assert np.isfinite(vf).all()


def test_behaviours_have_their_patterns():
    """The float reference shows the named patterns (so the table is the right one)."""
    isi = {}
    for name in ("tonic", "adapting", "initial burst", "regular bursting",
                 "delayed accelerating"):
        si, sf, _, _ = measure(BEHAVIOURS[name])
        isi[name] = np.diff(si) * BEHAVIOURS[name].dt
    assert isi["adapting"][-1] > 4 * isi["adapting"][0]            # adaptation
    assert isi["tonic"][-1] < 1.1 * isi["tonic"][1]                 # regular
    assert isi["initial burst"][:2].max() < 10 < isi["initial burst"][-1]
    assert (isi["regular bursting"] > 100).sum() >= 2               # repeated bursts
    assert (isi["regular bursting"] < 10).sum() >= 4
    assert isi["delayed accelerating"][-1] < isi["delayed accelerating"][0]


def test_reference_detects_a_wrong_kernel():
    """Negative test: a quantised model with a 10 % different tau_m is outside the
    bounds the accuracy test uses."""
    b = BEHAVIOURS["tonic"]
    n = int(round(b.duration / b.dt))
    current = np.array([b.current(t * b.dt) for t in range(n)])
    wrong = AdEx(**{**TONIC, "C": 220})
    _, si = run(wrong, current, b.dt)
    _, sf = reference(b.model, current, b.dt)
    k = min(si.size, sf.size)
    assert si.size != sf.size or np.abs(si[:k] - sf[:k]).mean() * b.dt > 0.3
