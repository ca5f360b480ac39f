"""The neuron core, RTL against golden, on both simulator back ends.

Random configs (``random_config`` with its corner cases: decays 0/4096, both resets,
refractory 0/15, biases and thresholds at the rails, weights at the rails, every delay) and
a hand-made extreme config (fan-in up to the accumulator bound, saturation both ways,
refractory edges), under random valid gaps and back-pressure. Every spike transaction and
the full state after every step are compared.

The Verilator tests share one core geometry, so one build (cached across sessions) serves
them all.
"""

import numpy as np
import pytest

from neurofab import spec
from neurofab.config import CoreConfig, random_config
from neurofab.cosim.harness import cosim_core, random_inputs, run_core_cosim
from neurofab.golden.core import GoldenCore

#: geometry of every Verilator core build in tests/cosim (one cached build)
VL_NEURONS, VL_INPUTS, VL_SYN_CAPACITY = 32, 8, 2048


def extreme_config(n=VL_NEURONS, n_inputs=VL_INPUTS):
    """Fan-in at the accumulator bound, saturation both ways, refractory edges."""
    prof = {  # decay_i, decay_v, threshold, bias, v_reset, reset, refractory
        "always": (0, 0, 1, spec.STATE_MAX, 0, 0, 0),                # fires every step
        "big": (0, 4096, 20000, 0, -32768, 1, spec.REF_MAX),         # target of max fan-in
        "neg": (4096, 0, spec.STATE_MAX, spec.STATE_MIN, 0, 0, 0),   # saturates low
        "mid": (300, 200, 900, 40, -400, 0, 1),
        "leaky": (4096, 4096, 1, -1, spec.STATE_MAX, 1, 2),
    }
    names = list(prof)
    cols = np.array([prof[k] for k in names]).T
    profile = np.array([names.index("mid")] * n)
    profile[0] = profile[1] = names.index("big")
    profile[2] = names.index("neg")
    profile[3:24] = names.index("always")
    profile[24:28] = names.index("leaky")
    w_shift = spec.W_SHIFT_MAX
    n_src = n + n_inputs
    per = (spec.ACC_MAX // (128 << w_shift)) // n_src      # synapses per source to 0 and 1
    src, tgt, w, d = [], [], [], []
    rng = np.random.default_rng(7)
    for s in range(n_src):
        for k in range(per):
            src += [s, s]
            tgt += [0, 1]
            w += [spec.WEIGHT_MAX, spec.WEIGHT_MIN]
            d += [1, 1 + (s + k) % spec.DELAY_MAX]    # neuron 0: all in one slot
        for _ in range(3):                                       # sparse random extras
            src.append(s)
            tgt.append(int(rng.integers(2, n)))
            w.append(int(rng.integers(-20, 60)))
            d.append(int(rng.integers(1, 9)))
    src = np.array(src)
    order = np.argsort(src, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n_src))])
    cfg = CoreConfig(n_neurons=n, n_inputs=n_inputs, w_shift=w_shift,
                     **dict(zip(("decay_i", "decay_v", "threshold", "bias", "v_reset", "reset",
                                 "refractory"), cols)),
                     profile=profile, fanout_ptr=ptr, syn_target=np.array(tgt)[order],
                     syn_weight=np.array(w)[order], syn_delay=np.array(d)[order])
    cfg.validate()
    neg, pos = cfg.acc_bounds()
    assert pos[0] > 0.9 * spec.ACC_MAX and neg[1] < 0.9 * spec.ACC_MIN    # really at the bound
    return cfg


def extreme_inputs(steps, n_inputs=VL_INPUTS, seed=3):
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        if t % 5 == 0:
            out.append(np.arange(n_inputs))            # every channel at once
        else:
            k = int(rng.integers(0, n_inputs + 1))
            out.append(np.sort(rng.choice(n_inputs, k, replace=False)))
    return out


def corners_hit(cfg, inputs):
    """Which numeric corners a golden run of ``cfg`` on ``inputs`` reaches."""
    core = GoldenCore(cfg)
    hit = {"spikes": 0, "i_rail": False, "v_rail": False, "ref_max": False,
           "ref_count_down": False, "acc_big": False}
    for chans in inputs:
        core.integrate(chans)
        hit["acc_big"] |= bool((np.abs(core.state.acc) > spec.ACC_MAX // 2).any())
        prev_ref = core.state.ref.copy()
        spikes = core.update()
        st = core.state
        hit["spikes"] += len(spikes)
        hit["i_rail"] |= bool(np.isin(st.i, (spec.STATE_MIN, spec.STATE_MAX)).any())
        hit["v_rail"] |= bool(np.isin(st.v, (spec.STATE_MIN, spec.STATE_MAX)).any())
        hit["ref_max"] |= bool((st.ref == spec.REF_MAX).any())
        hit["ref_count_down"] |= bool(((prev_ref > 0) & (st.ref == prev_ref - 1)).any())
    return hit


def _assert_exact(res):
    assert res.bit_exact, res.report()
    assert res.first_divergence is None and res.vcd is None


# --- Amaranth simulator --------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_core_random_amaranth(seed, tmp_path):
    res = cosim_core(16 if seed % 2 else 32, 25, seed, "amaranth", n_inputs=8, max_fanout=24,
                     gap=0.3, stall=0.3, vcd_path=tmp_path / "fail.vcd")
    _assert_exact(res)
    assert res.states_checked == 25 and res.output_spikes > 0
    assert res.cycles >= 25 * res.neurons


def test_core_extreme_amaranth(tmp_path):
    cfg, inputs = extreme_config(), extreme_inputs(14)
    hit = corners_hit(cfg, inputs)
    assert all(hit.values()), hit
    res = run_core_cosim(cfg, inputs, backend="amaranth", seed=5, gap=0.2, stall=0.4,
                         vcd_path=tmp_path / "fail.vcd")
    _assert_exact(res)
    # every source delivers its whole row: the integrate phase dominates the step
    assert res.cycles_per_step > res.synaptic_events / res.steps


@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.8, 0.8)])
def test_core_flow_control_amaranth(gap, stall, tmp_path):
    res = cosim_core(16, 12, 11, "amaranth", n_inputs=8, max_fanout=16, gap=gap, stall=stall,
                     vcd_path=tmp_path / "fail.vcd")
    _assert_exact(res)


def test_core_tiny_amaranth(tmp_path):
    """Two neurons, no input channels, state checked at the end only."""
    cfg = random_config(4, n_neurons=2, n_inputs=0, max_fanout=3)
    res = run_core_cosim(cfg, [[]] * 20, backend="amaranth", check_state="end",
                         vcd_path=tmp_path / "fail.vcd")
    _assert_exact(res)
    assert res.states_checked == 1


# --- Verilator ------------------------------------------------------------------------
def _vl_random(seed, steps):
    rng = np.random.default_rng(seed)
    cfg = random_config(rng, n_neurons=VL_NEURONS, n_inputs=VL_INPUTS, max_fanout=40)
    return cfg, random_inputs(rng, VL_INPUTS, steps, per_step=5)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [100, 101])
def test_core_random_verilator(seed, tmp_path):
    cfg, inputs = _vl_random(seed, 200)
    res = run_core_cosim(cfg, inputs, backend="verilator", seed=seed,
                         syn_capacity=VL_SYN_CAPACITY, vcd_path=tmp_path / "fail.vcd",
                         workdir=tmp_path / "work")
    _assert_exact(res)
    assert res.states_checked == 200 and res.output_spikes > 0


@pytest.mark.slow
def test_core_extreme_verilator(tmp_path):
    cfg, inputs = extreme_config(), extreme_inputs(120)
    res = run_core_cosim(cfg, inputs, backend="verilator", seed=9, gap=0.3, stall=0.5,
                         syn_capacity=VL_SYN_CAPACITY, vcd_path=tmp_path / "fail.vcd",
                         workdir=tmp_path / "work")
    _assert_exact(res)


@pytest.mark.slow
def test_core_verilator_end_state_no_backpressure(tmp_path):
    cfg, inputs = _vl_random(102, 400)
    seen = []
    res = run_core_cosim(cfg, inputs, backend="verilator", seed=3, gap=0.0, stall=0.0,
                         check_state="end", syn_capacity=VL_SYN_CAPACITY,
                         vcd_path=tmp_path / "fail.vcd", progress=lambda d, t: seen.append(d))
    _assert_exact(res)
    assert res.states_checked == 1
    assert seen == list(range(1, 401))
    # the same run on the Amaranth simulator takes the same number of clock cycles
    short = inputs[:15]
    a = run_core_cosim(cfg, short, backend="amaranth", gap=0.0, stall=0.0, check_state="end")
    v = run_core_cosim(cfg, short, backend="verilator", gap=0.0, stall=0.0, check_state="end",
                       syn_capacity=VL_SYN_CAPACITY)
    assert a.bit_exact and v.bit_exact and a.cycles == v.cycles
