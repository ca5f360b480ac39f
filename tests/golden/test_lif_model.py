"""The CUBA-LIF float model (``neurofab.models.lif``): quantiser, current and voltage
conversions, and its float64 reference against the golden kernel."""

import math

import numpy as np
import pytest

from neurofab import spec
from neurofab.kernels import check_params, get_kernel
from neurofab.models import CubaLif, QuantReport
from neurofab.models.lif import BEHAVIOURS, V_UNITS, reference
from neurofab.models.base import decay_of, tau_of
from neurofab.spec import Reset

KERNEL = get_kernel("cuba-lif")


def run(model, current, dt):
    """Golden CUBA-LIF kernel, one neuron: ``(v in V, spike steps)``."""
    params = {k: np.array([v], dtype=np.int64) for k, v in model.quantise(dt).params.items()}
    check_params(KERNEL, params)
    acc = model.to_current(current, dt)
    state = KERNEL.initial_state(params)
    v = np.empty(len(acc), dtype=np.int64)
    fired = []
    for t in range(len(acc)):
        state, spike = KERNEL.step(state, acc[t:t + 1], params)
        v[t] = state["v"][0]
        if spike[0]:
            fired.append(t)
    return model.to_voltage(v), np.array(fired, dtype=np.int64)


def test_quantise_integers_and_effective_values():
    m = CubaLif(tau_mem=20.0, tau_syn=5.0, threshold=2.0, v_reset=-0.5, bias=0.02,
                refractory=3.0)
    rep = m.quantise(0.5)
    assert isinstance(rep, QuantReport) and rep.kernel == "cuba-lif" and rep.dt == 0.5
    sc = V_UNITS / 2.0
    assert m.voltage_scale == sc
    assert rep.params == {
        "decay_i": round(4096 * (1 - math.exp(-0.5 / 5.0))),
        "decay_v": round(4096 * (1 - math.exp(-0.5 / 20.0))),
        "threshold": V_UNITS, "bias": round(0.02 * 0.5 * sc), "v_reset": round(-0.5 * sc),
        "reset": Reset.TO_VRESET.value, "refractory": 6}
    check_params(KERNEL, {k: np.array([v]) for k, v in rep.params.items()})
    # effective time constants recovered from the integers
    assert rep.effective["tau_syn"] == pytest.approx(-0.5 / math.log(1 - rep.params["decay_i"]
                                                                      / 4096))
    assert rep.effective["threshold"] == 2.0 and rep.effective["refractory"] == 3.0
    name, err = rep.worst_error
    assert err == max(rep.errors.values()) and err < 2e-3
    assert any("4096 integer units per V" in n for n in rep.notes)


@pytest.mark.parametrize("dt", [0.1, 0.25, 1.0, 2.0])
@pytest.mark.parametrize("tau", [0.0, 0.3, 1.0, 3.0, 10.0, 50.0, 400.0, math.inf])
def test_decay_round_trip(tau, dt):
    d = decay_of(tau, dt)
    assert 0 <= d <= spec.DECAY_ONE
    assert decay_of(tau_of(d, dt), dt) == d               # integers round-trip exactly
    rep = CubaLif(tau_mem=tau, tau_syn=tau if math.isfinite(tau) else 5.0).quantise(dt)
    if 20 <= d <= spec.DECAY_ONE - 20:                     # away from the ends: < 3 %
        assert rep.errors["tau_mem"] < 0.03


def test_reset_modes_and_scale():
    assert CubaLif(20, 5).reset is Reset.TO_VRESET
    assert CubaLif(20, 5, reset="zero").reset is Reset.TO_VRESET
    assert CubaLif(20, 5, reset="subtract").quantise(1).params["reset"] == 1
    assert CubaLif(20, 5, reset=Reset.SUBTRACT).reset is Reset.SUBTRACT
    # |v_reset| larger than the threshold sets the unit
    assert CubaLif(20, 5, threshold=1.0, v_reset=-2.0).quantise(1).params["v_reset"] == -V_UNITS
    assert CubaLif(20, 5, threshold=0.5, scale=1000).quantise(1).params["threshold"] == 500


@pytest.mark.parametrize("kw,dt,match", [
    ({"refractory": 16.0}, 1.0, "refractory"),
    ({"bias": 10.0}, 1.0, "bias"),
    ({"scale": 1e6}, 1.0, "threshold"),
    ({"v_reset": -5.0, "scale": 8192}, 1.0, "v_reset"),
])
def test_unrepresentable_profile_refused(kw, dt, match):
    with pytest.raises(ValueError, match=match):
        CubaLif(tau_mem=20, tau_syn=5, **kw).quantise(dt)


def test_to_current_holds_the_steady_state():
    m = CubaLif(tau_mem=math.inf, tau_syn=5.0, threshold=100.0, scale=100.0)
    acc = m.to_current(np.full(300, 2.0), 1.0)
    d = m.quantise(1.0).params["decay_i"]
    assert acc[0] == round(2.0 * 1.0 * 100.0 * d / 4096)
    params = {k: np.array([v]) for k, v in m.quantise(1.0).params.items()}
    state = KERNEL.initial_state(params)
    for a in acc:
        state, _ = KERNEL.step(state, np.array([a]), params)
    # i (integer) = I * dt * scale, to the rounding of acc (half a unit) and the decay's
    # rounding toward zero (up to one unit per step), each amplified by 4096 / decay_i
    assert abs(int(state["i"][0]) - 200) <= 1.5 * 4096 / d
    assert m.to_voltage([100, -50]).tolist() == [1.0, -0.5]
    with pytest.raises(ValueError, match="accumulator"):
        m.to_current([1e9], 1.0)
    with pytest.raises(ValueError, match="finite"):
        m.to_current([math.nan], 1.0)
    with pytest.raises(ValueError, match="never takes input"):
        CubaLif(20, 1e9).to_current([0.1], 1.0)


@pytest.mark.parametrize("name", list(BEHAVIOURS))
def test_behaviours_match_the_reference(name):
    """Every behaviour: the golden kernel's spike train equals the float reference's
    (same count, every spike within one step)."""
    b = BEHAVIOURS[name]
    steps = int(round(b.duration / b.dt))
    current = np.array([b.current(k * b.dt) for k in range(steps)])
    v_int, s_int = run(b.model, current, b.dt)
    v_ref, s_ref = reference(b.model, current, b.dt)
    assert len(s_int) >= 20
    assert len(s_int) == len(s_ref)
    assert np.abs(s_int - s_ref).max() <= 1
    assert np.abs(v_int - v_ref).max() < 0.02 * b.model.threshold + 1e-9


def test_behaviours_fire_as_named():
    isi = {}
    for name, b in BEHAVIOURS.items():
        steps = int(round(b.duration / b.dt))
        _, s = run(b.model, [b.current(k * b.dt) for k in range(steps)], b.dt)
        isi[name] = np.diff(s)
    assert np.ptp(isi["tonic"][1:]) <= 1                      # constant intervals
    ref = BEHAVIOURS["refractory-limited"]
    assert (isi["refractory-limited"] == round(ref.model.refractory / ref.dt) + 1).all()


def test_reference_against_golden_random():
    """Random models and noisy currents: the spike counts of golden and reference differ
    by at most 2 % of the count plus 2 spikes over 500 steps."""
    rng = np.random.default_rng(7)
    worst = 0.0
    for _ in range(40):
        m = CubaLif(tau_mem=float(rng.uniform(3, 100)), tau_syn=float(rng.uniform(0, 20)),
                    threshold=1.0, v_reset=float(rng.uniform(-0.5, 0.2)),
                    bias=float(rng.uniform(-0.01, 0.02)),
                    refractory=float(rng.integers(0, 6)),
                    reset=rng.choice(["zero", "subtract"]))
        dt = float(rng.choice([0.5, 1.0]))
        current = rng.uniform(0.0, 0.3) + 0.05 * rng.standard_normal(500)
        _, s_int = run(m, current, dt)
        _, s_ref = reference(m, current, dt)
        diff = abs(len(s_int) - len(s_ref))
        assert diff <= 0.02 * len(s_ref) + 2, (m, dt, len(s_int), len(s_ref))
        worst = max(worst, diff)
    assert worst <= 2
