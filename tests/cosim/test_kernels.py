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
from neurofab.cosim.core import random_inputs, run_core_cosim
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
    cfg, inputs = _case(kernel, 2, neurons=32, steps=40)
    res = run_core_cosim(cfg, inputs, backend="verilator", seed=2, gap=0.3, stall=0.3,
                         vcd_path=tmp_path / "fail.vcd")
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
