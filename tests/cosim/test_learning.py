# amaranth: UnusedElaboratable=no
"""The learning core (``rtl.core.NeuronCore(learning=True)``) against the golden model, bit
for bit: every spike, the core state and the learning state (``PRE``, ``POST``, every
synapse word) after every step, random rewards written to ``MODULATOR`` before every step,
random gaps and back-pressure; on the Amaranth simulator, Verilator and one gate-level
netlist. Each run also asserts that the interesting events happened (a weight clamped at
a rule bound, a trace at 4095, a pre event and a post spike of one synapse in one step,
delays above 1), and the comparison is shown to fail on a golden model wrong by one."""

import json

import numpy as np
import pytest
from amaranth.lib import data
from amaranth.sim import Simulator

from neurofab import spec
from neurofab.cli import main
from neurofab.config import CoreConfig, random_config, random_learning
from neurofab.cosim.core import (random_inputs, random_rewards, run_core_cosim,
                                 run_gate_cosim)
from neurofab.cosim.streams import get, put
from neurofab.golden import core as golden_core
from neurofab.golden import learning as golden_learning
from neurofab.learning import Learning
from neurofab.rtl.core import NeuronCore
from neurofab.spec import Ctrl, Region

ALL = ("stdp", "rstdp", "homeostasis")


def _case(kernel, rules, seed, *, neurons=8, n_inputs=4, steps=12, max_fanout=6):
    rng = np.random.default_rng([seed, 0x1EA])
    cfg = random_learning(rng, random_config(rng, n_neurons=neurons, n_inputs=n_inputs,
                                             max_fanout=max_fanout, kernel=kernel),
                          rules=rules)
    inputs = random_inputs(rng, n_inputs, steps, per_step=3)
    return cfg, inputs, random_rewards(rng, steps)


def _events(cfg, inputs, reward):
    """What happened in the golden run: the interesting learning events."""
    _, states = golden_core.run(cfg, inputs, trace=True, reward=reward)
    lc = cfg.learning
    k = np.flatnonzero(lc.syn_rule[:lc.learn_end] != 0)
    src, tgt, rule = cfg.syn_source[k], cfg.syn_target[k], lc.syn_rule[k]
    lo, hi = lc.w_min[rule] << 8, lc.w_max[rule] << 8
    out = dict.fromkeys(("clamped", "x_max", "pre_and_post", "theta_bound", "elig"), False)
    prev_wf = (cfg.syn_weight[k] << 8)
    pending = np.zeros(0, dtype=np.int64)
    for t, st in enumerate(states):
        wf = (st.learn["weight"][k] << 8) + st.learn["frac"][k]
        out["clamped"] |= bool(np.any((wf != prev_wf) & ((wf == lo) | (wf == hi)) & (lo < hi)))
        prev_wf = wf
        out["x_max"] |= bool(np.any(st.learn["x"] == spec.TRACE_MAX))
        pre = np.zeros(cfg.n_sources, dtype=bool)
        pre[np.concatenate([pending, cfg.n_neurons + inputs[t]])] = True
        out["pre_and_post"] |= bool(np.any(pre[src] & (st.learn["fired"][tgt] != 0)))
        theta = st.learn["theta"]
        prof = cfg.profile
        out["theta_bound"] |= bool(np.any((theta != 0) & ((theta == lc.lo[prof]) |
                                                          (theta == lc.hi[prof]))))
        out["elig"] |= bool(np.any(st.learn["elig"] != 0))
        pending = st.pending
    out["delays"] = bool(np.any(cfg.syn_delay[k] > 1))
    return out


def _check_events(cfg, inputs, reward, rules):
    ev = _events(cfg, inputs, reward)
    if "stdp" in rules or "rstdp" in rules:
        assert ev["clamped"] and ev["x_max"] and ev["pre_and_post"] and ev["delays"], ev
    if "rstdp" in rules:
        assert ev["elig"], ev
    if "homeostasis" in rules:
        assert ev["theta_bound"], ev


#: (kernel, rules, seed): seeds whose golden run shows the events of _check_events
AMARANTH = [("cuba-lif", ("stdp",), 1), ("cuba-lif", ("rstdp",), 2),
            ("cuba-lif", ("homeostasis",), 3), ("cuba-lif", ALL, 5), ("alif", ("stdp",), 1),
            ("alif", ALL, 8), ("izhikevich", ALL, 2), ("adex", ALL, 19)]


@pytest.mark.parametrize("kernel, rules, seed", AMARANTH,
                         ids=[f"{k}-{'+'.join(r)}" for k, r, _ in AMARANTH])
def test_learning_core_amaranth(kernel, rules, seed, tmp_path):
    cfg, inputs, reward = _case(kernel, rules, seed)
    _check_events(cfg, inputs, reward, rules)
    res = run_core_cosim(cfg, inputs, backend="amaranth", seed=seed, reward=reward,
                         vcd_path=tmp_path / "fail.vcd")
    assert res.bit_exact, res.report()
    assert res.states_checked == len(inputs)


@pytest.mark.parametrize("kernel, rules, seed", [("cuba-lif", ALL, 11),
                                                 ("cuba-lif", ("rstdp",), 12),
                                                 ("alif", ALL, 11)])
def test_learning_core_verilator(kernel, rules, seed, tmp_path):
    # one empty-memory build per kernel (16 neurons, 6 inputs, 256 synapses)
    cfg, inputs, reward = _case(kernel, rules, seed, neurons=16, n_inputs=6, steps=30,
                                max_fanout=8)
    _check_events(cfg, inputs, reward, rules)
    res = run_core_cosim(cfg, inputs, backend="verilator", seed=seed, reward=reward,
                         syn_capacity=256, vcd_path=tmp_path / "fail.vcd")
    assert res.bit_exact, res.report()
    assert res.output_spikes > 0 and res.states_checked == len(inputs)


@pytest.mark.slow          # synthesis of a new netlist: ~2 min cold, seconds when cached
def test_learning_core_gate_level():
    cfg, inputs, reward = _case("cuba-lif", ALL, 21, steps=6)
    res = run_gate_cosim(cfg, inputs, family="ecp5", seed=21, reward=reward,
                         syn_capacity=64, vcd_path=False)
    assert res.bit_exact, res.report()
    assert res.backend == "gate-ecp5" and res.build["cells"]


# --- the comparison fails on a wrong golden model ------------------------------------------
def test_rounding_off_by_one_is_caught(monkeypatch):
    """``rtz_decay`` of the golden learning model rounding down instead of toward zero:
    the cosim reports a learning field."""
    cfg, inputs, reward = _case("cuba-lif", ("rstdp",), 2, steps=8)
    real = golden_learning.rtz_decay

    def floor_decay(x, decay):
        return (x * (spec.DECAY_ONE - decay)) >> spec.DECAY_FRAC_BITS

    assert not np.array_equal(real(np.array([-5]), 100), floor_decay(np.array([-5]), 100))
    monkeypatch.setattr(golden_learning, "rtz_decay", floor_decay)
    res = run_core_cosim(cfg, inputs, backend="amaranth", seed=2, reward=reward,
                         vcd_path=False)
    assert not res.bit_exact
    assert res.first_divergence.field in ("elig", "weight", "frac", "x", "y"), res.report()


def test_modulator_is_compared(monkeypatch):
    """The golden model ignoring the reward (modulator stuck at 0): a weight diverges."""
    cfg, inputs, reward = _case("cuba-lif", ("rstdp",), 2, steps=8)
    monkeypatch.setattr(golden_core.NeuronCore, "set_modulator", lambda self, value: None)
    res = run_core_cosim(cfg, inputs, backend="amaranth", seed=2, reward=reward,
                         vcd_path=False)
    assert not res.bit_exact
    assert res.first_divergence.field in ("weight", "frac"), res.report()


def test_theta_off_by_one_is_caught(monkeypatch):
    """The golden homeostatic offset one LSB off in the update of step 2: the cosim names
    that step and ``theta``."""
    cfg, inputs, reward = _case("cuba-lif", ("homeostasis",), 3, steps=6)
    real = golden_learning.after_update
    calls = {"n": 0}

    def off(learn, spike, cfg):
        real(learn, spike, cfg)
        calls["n"] += 1
        if calls["n"] == 3:
            learn["theta"] = learn["theta"] ^ 1

    monkeypatch.setattr(golden_learning, "after_update", off)
    res = run_core_cosim(cfg, inputs, backend="amaranth", seed=3, reward=reward,
                         vcd_path=False)
    d = res.first_divergence
    assert not res.bit_exact and (d.step, d.field) == (2, "theta"), res.report()


# --- cycles per step -------------------------------------------------------------------------
def _static_learning(cfg, k):
    """``cfg`` on a learning core whose first ``k`` synapses have an STDP rule that never
    changes anything (amplitudes 0): the same dynamics as without learning."""
    rule = np.zeros(cfg.n_synapses, np.int64)
    rule[:k] = 1
    zero = np.zeros(cfg.n_profiles, np.int64)
    lc = Learning(rule, w_min=[0, spec.WEIGHT_MIN, 0, 0], w_max=[0, spec.WEIGHT_MAX, 0, 0],
                  up=zero, down=zero, lo=zero, hi=zero)
    return CoreConfig(n_neurons=cfg.n_neurons, n_inputs=cfg.n_inputs, w_shift=cfg.w_shift,
                      kernel=cfg.kernel, **cfg.profile_table(), profile=cfg.profile,
                      fanout_ptr=cfg.fanout_ptr, syn_target=cfg.syn_target,
                      syn_weight=cfg.syn_weight, syn_delay=cfg.syn_delay, learning=lc)


def test_cycles_per_step():
    """The NeuronCore docstring's formula: ``cycles + 1 + (K + 12 if K else 3)``."""
    rng = np.random.default_rng(5)
    cfg = random_config(rng, n_neurons=8, n_inputs=4, max_fanout=5)
    inputs = random_inputs(rng, 4, 4, per_step=2)
    base = run_core_cosim(cfg, inputs, seed=0, gap=0, stall=0, vcd_path=False)
    for k in (0, 5, cfg.n_synapses):
        res = run_core_cosim(_static_learning(cfg, k), inputs, seed=0, gap=0, stall=0,
                             vcd_path=False)
        assert res.bit_exact, res.report()
        assert res.cycles - base.cycles == len(inputs) * (1 + (k + 12 if k else 3))


# --- construction and the memory port --------------------------------------------------------
def test_learning_parameter():
    cfg, _, _ = _case("cuba-lif", ALL, 1)
    assert NeuronCore(cfg).learning is True
    assert NeuronCore(None, n_neurons=4, syn_capacity=8).learning is False
    with pytest.raises(ValueError, match="it needs a learning core"):
        NeuronCore(cfg, learning=False)
    with pytest.raises(ValueError, match="syn_bank_depth = 16 would split"):
        NeuronCore(None, n_neurons=4, syn_capacity=64, syn_bank_depth=16, learning=True)
    with pytest.raises(TypeError, match="learning must be a bool"):
        NeuronCore(None, n_neurons=4, syn_capacity=8, learning=1)


def test_learning_registers_through_the_memory_port():
    """Every learning register and table reads back what was written (zero-extended);
    rule 0 reads 0 and ignores writes; out-of-range writes are ignored."""
    dut = NeuronCore(None, n_neurons=4, n_inputs=2, syn_capacity=8, learning=True)
    ctrl = Region.CTRL
    writes = [
        (Region.PRE, 5, 4095), (Region.POST, 3, spec.pack(spec.PostTrace, y=7, fired=1,
                                                          theta=-3)),
        (Region.SYNAPSE, 7, (1 << spec.PlasticSynapse.size) - 1),
        (ctrl, Ctrl.MODULATOR.value, 0x8000), (ctrl, Ctrl.LEARN_END.value, 8),
        (ctrl, Ctrl.TRACES.value, (1 << spec.Traces.size) - 1),
        (ctrl, spec.CTRL_RULE, 123), (ctrl, spec.CTRL_RULE + 3, (1 << spec.Rule.size) - 1),
        (ctrl, spec.CTRL_HOMEO + 15, (1 << 64) - 2),
        (Region.PRE, 6, 9), (Region.POST, 4, 9),            # out of range: ignored
    ]
    reads = [(r, i) for r, i, _ in writes] + [(Region.PRE, 0), (ctrl, spec.CTRL_HOMEO)]
    expect = [w for _, _, w in writes[:6]] + [0, (1 << spec.Rule.size) - 1, (1 << 64) - 2,
                                               0, 0, 0, 0]
    got = []

    async def tb(ctx):
        for region, index, word in writes:
            await put(ctx, dut.i_mem, data.Const(spec.MemRequest,
                                                spec.mem_request(region, index, 1, word)))
            assert (await get(ctx, dut.o_mem)).data == 0
        for region, index in reads:
            await put(ctx, dut.i_mem, data.Const(spec.MemRequest, spec.mem_request(region, index)))
            got.append((await get(ctx, dut.o_mem)).data)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert got == expect


# --- the command line ----------------------------------------------------------------------
@pytest.mark.parametrize("rule", ["stdp", "rstdp", "homeostasis"])
def test_cli_learning(rule, capsys):
    status = main(["cosim", "--block", "core", "--learning", rule, "--kernel", "alif",
                   "--neurons", "8", "--steps", "4", "--seed", "3", "--json"])
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert status == 0 and s["bit_exact"] is True, s
    assert s["params"]["kernel"] == "alif" and s["params"]["reward"] is True


def test_cli_learning_is_a_core_option(capsys):
    assert main(["cosim", "--block", "router", "--learning", "stdp", "--json"]) == 2
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "--learning is an option of the blocks core" in s["error"]
