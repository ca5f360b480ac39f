"""Analytic tests of the golden CUBA-LIF kernel (docs/numerics.md, "Kernel")."""

import numpy as np
import pytest

from neurofab.golden.lif import LifParams, cuba_lif_step, rtz_decay
from neurofab.spec import Reset, STATE_MAX, STATE_MIN


def simulate(p, steps, acc=None, n=1):
    """Run the kernel alone for ``steps`` steps; returns arrays of (i, v, ref, spike) per step."""
    i = v = ref = np.zeros(n, dtype=np.int64)
    rows = []
    for t in range(steps):
        a = np.zeros(n, dtype=np.int64) if acc is None else np.asarray(acc(t))
        i, v, ref, s = cuba_lif_step(i, v, ref, a, p)
        rows.append((i.copy(), v.copy(), ref.copy(), s.copy()))
    return [np.array(col) for col in zip(*rows)]


def test_current_impulse_halves_each_step():
    p = LifParams(decay_i=2048, threshold=STATE_MAX)
    i, v, _, _ = simulate(p, 13, acc=lambda t: [1024 if t == 0 else 0])
    assert i[:, 0].tolist() == [1024 >> k for k in range(11)] + [0, 0]


def test_negative_current_decays_to_zero_not_minus_one():
    p = LifParams(decay_i=2048, threshold=STATE_MAX)
    i, *_ = simulate(p, 4, acc=lambda t: [-3 if t == 0 else 0])
    assert i[:, 0].tolist() == [-3, -1, 0, 0]


def test_rtz_is_symmetric():
    x = np.arange(-40000, 40000, 7)
    for d in (0, 1, 100, 2048, 4095, 4096):
        assert np.array_equal(rtz_decay(-x, d), -rtz_decay(x, d))
    assert np.array_equal(rtz_decay(x, 0), x)
    assert not rtz_decay(x, 4096).any()


def test_voltage_integrates_current_impulse():
    p = LifParams(decay_i=2048, decay_v=0, threshold=STATE_MAX)
    i, v, _, s = simulate(p, 14, acc=lambda t: [1024 if t == 0 else 0])
    assert v[:, 0].tolist() == list(np.cumsum([1024 >> k for k in range(14)]))
    assert not s.any()


def test_voltage_leak_impulse_response():
    # Memoryless current: v gets exactly one kick of 4096, then loses 1/4 per step (rtz).
    p = LifParams(decay_i=4096, decay_v=1024, threshold=STATE_MAX)
    _, v, _, _ = simulate(p, 6, acc=lambda t: [4096 if t == 0 else 0])
    expect, x = [], 4096
    for _ in range(6):
        expect.append(x)
        x = (x * 3072) // 4096
    assert v[:, 0].tolist() == expect


@pytest.mark.parametrize("bias,threshold,refractory", [
    (1, 1, 0), (7, 100, 0), (100, 100, 0), (3, 1000, 5), (250, 1000, 15), (32767, 32767, 1)])
def test_bias_driven_spike_period_closed_form(bias, threshold, refractory):
    p = LifParams(decay_v=0, bias=bias, threshold=threshold, v_reset=0,
                  reset=Reset.TO_VRESET, refractory=refractory)
    steps = 400
    _, _, _, s = simulate(p, steps)
    fired = np.flatnonzero(s[:, 0])
    rise = -(-threshold // bias)                      # steps from v=0 to v >= threshold
    period = rise + refractory
    expect = np.arange(rise - 1, steps, period)
    assert fired.tolist() == expect.tolist()


def test_subtract_reset_keeps_the_remainder():
    # With SUBTRACT and no leak, spikes after T steps = floor(T * bias / threshold).
    p = LifParams(bias=37, threshold=100, reset=Reset.SUBTRACT)
    _, v, _, s = simulate(p, 300)
    counts = np.cumsum(s[:, 0])
    t = np.arange(1, 301)
    assert counts.tolist() == ((t * 37) // 100).tolist()
    assert v[-1, 0] == (300 * 37) % 100


def test_refractory_freezes_v_and_counts_down():
    p = LifParams(bias=57, threshold=50, v_reset=-7, refractory=3)
    i, v, ref, s = simulate(p, 9)
    assert s[:, 0].tolist() == [1, 0, 0, 0, 1, 0, 0, 0, 1]
    assert ref[:, 0].tolist() == [3, 2, 1, 0, 3, 2, 1, 0, 3]
    # frozen at v_reset for exactly `refractory` steps; the next step adds the bias again
    assert v[:, 0].tolist() == [-7, -7, -7, -7, -7, -7, -7, -7, -7]


def test_current_integrates_during_refractory():
    p = LifParams(decay_i=0, bias=100, threshold=100, refractory=2)
    i, v, ref, s = simulate(p, 4, acc=lambda t: [5])
    assert i[:, 0].tolist() == [5, 10, 15, 20]          # i is never frozen
    assert s[:, 0].tolist() == [1, 0, 0, 1]


def test_threshold_comparison_is_greater_or_equal():
    p = LifParams(bias=10, threshold=10)
    _, _, _, s = simulate(p, 1)
    assert s[0, 0]
    p = LifParams(bias=9, threshold=10)
    _, _, _, s = simulate(p, 1)
    assert not s[0, 0]


def test_saturation_at_both_rails():
    big = 1 << 22
    p = LifParams(decay_i=0, decay_v=0, threshold=STATE_MAX, v_reset=0)
    i, v, _, s = simulate(p, 3, acc=lambda t: [big, -big], n=2)
    assert i[:, 0].tolist() == [STATE_MAX] * 3 and i[:, 1].tolist() == [STATE_MIN] * 3
    assert v[:, 1].tolist() == [STATE_MIN] * 3       # low rail holds, never wraps
    assert s[:, 0].tolist() == [1, 1, 1]             # v saturates at 32767 == threshold
    # one saturation of the full sum: -32768 + 32767 + 32767 = 32766, not a clamped chain
    i2, v2, _, _ = cuba_lif_step(STATE_MAX, STATE_MIN, 0, 0,
                                 LifParams(bias=STATE_MAX, threshold=STATE_MAX))
    assert (int(i2), int(v2)) == (STATE_MAX, STATE_MAX - 1)


def test_memoryless_current_equals_input():
    p = LifParams(decay_i=4096, threshold=STATE_MAX)
    acc = np.array([-5, 0, 17, 30000])
    i, *_ = cuba_lif_step(np.array([123, -4, 9, 1]), 0, 0, acc, p)
    assert i.tolist() == acc.tolist()


def test_parameters_broadcast_per_neuron_and_reset_arrays():
    p = {"decay_i": 0, "decay_v": 0, "threshold": np.array([10, 10]), "bias": 0,
         "v_reset": np.array([-3, -3]), "reset": np.array([0, 1]), "refractory": 0}
    i, v, ref, s = cuba_lif_step([0, 0], [5, 5], [0, 0], [20, 20], p)
    assert s.tolist() == [True, True]
    assert v.tolist() == [-3, 15]
