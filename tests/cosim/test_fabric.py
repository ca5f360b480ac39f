"""Fabric RTL = fabric golden (= the big golden core): spikes of every step, every core's
full state at every step boundary, the router's counters; Amaranth for K = 2 and 4, one
Verilator run."""

import json

import numpy as np
import pytest

from neurofab import golden
from neurofab.config import random_config
from neurofab.cosim.core import random_inputs
from neurofab.cosim.fabric import cosim_fabric, run_fabric_cosim
from neurofab.partition import compile_fabric


@pytest.mark.parametrize("cores", [2, 4])
def test_fabric_rtl_equals_big_golden_core(cores):
    rng = np.random.default_rng(cores)
    big = random_config(rng, n_neurons=8 * cores, n_inputs=4, max_fanout=4 * cores)
    inputs = random_inputs(rng, 4, 6, per_step=3)
    fab = compile_fabric(big, cores=cores)
    res = run_fabric_cosim(fab, inputs, seed=cores)
    assert res.bit_exact, res.report()
    assert res.states_checked == 7 and res.steps == 7
    # host step t carries update t - 1: the RTL spikes are the big core's, step by step
    big_spikes = golden.run(big, inputs)
    assert res.spikes[0].size == 0
    for t, s in enumerate(big_spikes):
        assert sorted(res.spikes[t + 1].tolist()) == s.tolist()
    assert sum(len(s) for s in big_spikes) > 10
    s = res.summary()
    assert json.loads(json.dumps(s)) == s and s["dropped"] == 0 and s["unrouted"] == 0


@pytest.mark.parametrize("cores, seed", [(2, 3), (3, 4)])
def test_fabric_end_state_random(cores, seed):
    res = cosim_fabric(cores, 10, seed, check_state="end", gap=0.5, stall=0.5)
    assert res.bit_exact, res.report()
    assert res.states_checked == 1


def test_fabric_detects_a_wrong_core(tmp_path, monkeypatch):
    rng = np.random.default_rng(9)
    big = random_config(rng, n_neurons=16, n_inputs=4, max_fanout=8)
    inputs = random_inputs(rng, 4, 5, per_step=3)
    fab = compile_fabric(big, cores=2)
    # the RTL's core 1 gets one weight changed (memory init): golden must notice
    wrong = compile_fabric(big, cores=2)
    c = wrong.cores[1]
    first_input_row = c.fanout_ptr[c.n_neurons + big.n_neurons]      # axon of channel 0
    j = int(first_input_row + np.flatnonzero(c.syn_weight[first_input_row:] != 127)[0])
    c.syn_weight[j] += 1
    from neurofab.cosim import fabric as F
    orig = F._probed_fabric
    monkeypatch.setattr(F, "_probed_fabric", lambda fcfg, geometry=None: orig(wrong, geometry))
    res = F.run_fabric_cosim(fab, inputs + [[0, 1, 2, 3]] * 4, seed=1,
                             vcd_path=tmp_path / "f.vcd")
    assert not res.bit_exact
    assert res.first_divergence.where.startswith(("core 1", "o_spikes")), res.report()
    assert res.vcd and (tmp_path / "f.vcd").exists()


@pytest.mark.slow
def test_fabric_verilator(session_dir):
    res = cosim_fabric(4, 20, 1, backend="verilator", workdir=session_dir / "fabric")
    assert res.bit_exact, res.report()
    assert res.states_checked == 21
