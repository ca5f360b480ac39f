"""Every neuron kernel in the core, RTL against golden: Amaranth, Verilator and gate level.

For each kernel of ``neurofab.kernels``: random configs with every parameter at both ends
of its limit in some profile (``random_config(kernel=...)``), random inputs, random gaps
and back-pressure, every spike and the full state (every field of the kernel's state,
every accumulator slot, STEP) compared after every step. Then the comparison failing: a
golden kernel perturbed in one field must be reported at the right step and field. And
the core's initiation-interval path: a kernel that takes a neuron every second clock.
"""

import dataclasses

import numpy as np
import pytest

from neurofab.config import random_config
from neurofab.cosim.core import random_inputs, run_core_cosim, run_gate_cosim
from neurofab.kernels import KERNELS, get_kernel

NAMES = list(KERNELS)


def _case(kernel, seed, neurons=16, steps=20, n_inputs=6):
    rng = np.random.default_rng([seed, 0x4E])
    cfg = random_config(rng, n_neurons=neurons, n_inputs=n_inputs, max_fanout=12,
                        kernel=kernel)
    return cfg, random_inputs(rng, n_inputs, steps, per_step=3)


@pytest.mark.parametrize("kernel", NAMES)
def test_kernel_core_amaranth(kernel, tmp_path):
    cfg, inputs = _case(kernel, 1)
    res = run_core_cosim(cfg, inputs, backend="amaranth", seed=1, gap=0.3, stall=0.3,
                         vcd_path=tmp_path / "fail.vcd")
    assert res.bit_exact, res.report()
    assert res.states_checked == len(inputs)


@pytest.mark.parametrize("kernel", NAMES)
def test_kernel_core_verilator(kernel, tmp_path):
    # the geometry of `neurofab bench --quick`'s kernel cosim and of tests/cosim/test_core.py
    # (32 neurons, 8 inputs, 2048 synapses): one build per kernel serves all three
    cfg, inputs = _case(kernel, 4, neurons=32, steps=40, n_inputs=8)   # (every kernel fires)
    res = run_core_cosim(cfg, inputs, backend="verilator", seed=4, gap=0.3, stall=0.3,
                         syn_capacity=2048, vcd_path=tmp_path / "fail.vcd")
    assert res.bit_exact, res.report()
    assert res.output_spikes > 0


@pytest.mark.parametrize("kernel", NAMES)
def test_perturbed_kernel_is_caught(kernel, monkeypatch):
    """A golden kernel that is wrong in one state field by one LSB, from step 3 on: the
    cosim names that step and field."""
    k = get_kernel(kernel)
    cfg, inputs = _case(kernel, 3, neurons=8, steps=8)
    field = k.state_fields[0]
    calls = {"n": 0}
    real_step = type(k).step

    def wrong_step(self, state, acc, params):
        new, spike = real_step(self, state, acc, params)
        calls["n"] += 1
        if calls["n"] == 4:
            new = dict(new)
            new[field] = new[field] ^ 1
        return new, spike

    monkeypatch.setattr(type(k), "step", wrong_step)
    res = run_core_cosim(cfg, inputs, backend="amaranth", seed=3)
    assert not res.bit_exact
    d = res.first_divergence
    assert d.step == 3 and d.field == field, res.report()


def test_initiation_interval_two():
    """The core issues one neuron every ``ii`` clocks for a kernel that declares it: the
    CUBA-LIF RTL behind ``ii = 2`` gives the same results, N - 1 clocks later per step."""
    lif = get_kernel("cuba-lif")
    slow = dataclasses.replace(lif, name="cuba-lif", ii=2)
    cfg, inputs = _case("cuba-lif", 4, neurons=16, steps=10)
    slow_cfg = random_config(np.random.default_rng([4, 0x4E]), n_neurons=16, n_inputs=6,
                             max_fanout=12, kernel=slow)
    assert slow_cfg.kernel is slow and slow_cfg == cfg.__class__(
        **{**{f: getattr(cfg, f) for f in ("n_neurons", "n_inputs", "w_shift")},
           **{f: getattr(cfg, f) for f in cfg.array_fields}, "kernel": slow})
    fast = run_core_cosim(cfg, inputs, backend="amaranth", seed=4, gap=0, stall=0)
    res = run_core_cosim(slow_cfg, inputs, backend="amaranth", seed=4, gap=0, stall=0)
    assert fast.bit_exact and res.bit_exact, res.report()
    assert res.cycles - fast.cycles == len(inputs) * (cfg.n_neurons - 1)


# --- gate level ---------------------------------------------------------------------------
#: (kernel, family) pairs the suite runs at gate level; the others need NEUROFAB_GATE_ALL=1.
GATE_IN_SUITE = {("alif", "ecp5"), ("izhikevich", "ice40"), ("adex", "ecp5")}
#: Neurons, inputs, synapse capacity of the gate-level builds (one per kernel and family).
GATE_GEOMETRY = (16, 6, 256)
GATE_STEPS = 8
MULTIPLIER = {"ice40": "SB_MAC16", "ecp5": "MULT18X18D"}


def _gate_pairs():
    for kernel in NAMES:
        for family in ("ice40", "ecp5"):
            marks = () if (kernel, family) in GATE_IN_SUITE else pytest.mark.gate_all
            yield pytest.param(kernel, family, marks=marks, id=f"{kernel}-{family}")


def _gate_case(kernel, seed):
    n, n_in, cap = GATE_GEOMETRY
    rng = np.random.default_rng([seed, 0x47])
    # extremes: every parameter at both ends of its limit in some profile, weight rails
    cfg = random_config(rng, n_neurons=n, n_inputs=n_in,
                        max_fanout=(cap - (n + n_in)) // (n + n_in), kernel=kernel,
                        extremes=True)
    return cfg, random_inputs(rng, n_in, GATE_STEPS, per_step=4)


def _gate_run(kernel, family, seed=5, **kw):
    cfg, inputs = _gate_case(kernel, seed)
    return run_gate_cosim(cfg, inputs, family=family, seed=seed, gap=0.3, stall=0.3,
                          check_state="every", syn_capacity=GATE_GEOMETRY[2], **kw)


@pytest.mark.parametrize("kernel, family", list(_gate_pairs()))
def test_kernel_gate_level(kernel, family):
    res = _gate_run(kernel, family)
    assert res.bit_exact, res.report()
    assert res.backend == f"gate-{family}"
    assert res.states_checked == GATE_STEPS
    assert res.synaptic_events > 0 and res.output_spikes > 0
    # the kernel's multipliers are DSP cells, simulated by their models
    assert res.build["cells"].get(MULTIPLIER[family], 0) > 0, res.build["cells"]


@pytest.mark.parametrize("kernel, family", sorted(GATE_IN_SUITE))
def test_kernel_gate_level_catches_divergence(kernel, family, monkeypatch):
    """The golden kernel wrong by one LSB in its last state field from step 2 on: the
    gate-level run (same build as the bit-exact one, no waveform) names that step and
    field."""
    k = get_kernel(kernel)
    field = k.state_fields[-1]
    calls = {"n": 0}
    real_step = type(k).step

    def wrong_step(self, state, acc, params):
        new, spike = real_step(self, state, acc, params)
        calls["n"] += 1
        if calls["n"] == 3:
            new = dict(new)
            new[field] = new[field] ^ 1
        return new, spike

    monkeypatch.setattr(type(k), "step", wrong_step)
    res = _gate_run(kernel, family, vcd_path=False)
    assert not res.bit_exact and res.vcd is None
    d = res.first_divergence
    assert d.step == 2 and d.field == field, res.report()
