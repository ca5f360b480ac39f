"""The core harness can fail: a perturbed golden expectation or a deliberately broken RTL is
reported as not bit-exact, with the right first divergence and a waveform of the run."""

import json

import numpy as np
import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import connect, flipped

from neurofab import spec
from neurofab.config import CoreConfig, random_config
from neurofab.cosim.harness import cosim_core, random_inputs, run_core_cosim
from neurofab.golden.core import run as golden_run
from neurofab.rtl.core import NeuronCore

#: the geometry of the Verilator builds of tests/cosim/test_core.py (shared cache entry)
VL_NEURONS, VL_INPUTS, VL_SYN_CAPACITY = 32, 8, 2048

SUMMARY_KEYS = {"bit_exact", "backend", "block", "neurons", "steps", "input_events",
                "synaptic_events", "output_spikes", "cycles", "cycles_per_step", "wall_s",
                "first_divergence", "vcd"}


def quiet_config(n=VL_NEURONS, n_inputs=VL_INPUTS, weight=10):
    """Silent neurons; input 0 reaches neuron 1 with ``weight`` and delay 2."""
    z = np.zeros(1, dtype=np.int64)
    ptr = np.zeros(n + n_inputs + 1, dtype=np.int64)
    ptr[n + 1:] = 1                      # source n (input channel 0) owns synapse 0
    return CoreConfig(n_neurons=n, n_inputs=n_inputs, w_shift=2, decay_i=z, decay_v=z,
                      threshold=np.array([spec.STATE_MAX]), bias=z, v_reset=z, reset=z,
                      refractory=z, profile=np.zeros(n, dtype=np.int64), fanout_ptr=ptr,
                      syn_target=np.array([1]), syn_weight=np.array([weight]),
                      syn_delay=np.array([2])).validate()


QUIET_INPUTS = [[], [0], [], [], []]


def _check_weight_divergence(res, vcd):
    assert not res.bit_exact
    d = res.first_divergence
    # the event of step 1 lands in accumulator slot (1 + 2 - 1) % 8 = 2 of neuron 1
    assert (d.step, d.block, d.where, d.field) == (1, "core", "neuron 1", "acc[slot 2]")
    assert (d.expected, d.got) == (10 << 2, 11 << 2)
    # two steps later the slot is consumed: i differs from then on
    later = [(x.step, x.where, x.field) for x in res.divergences]
    assert (2, "neuron 1", "i") in later
    assert res.vcd == str(vcd) and vcd.exists()
    text = vcd.read_text()
    assert "$enddefinitions" in text and "i_mem" in text
    report = res.report()
    assert "NOT bit-exact" in report and "step 1" in report and "acc[slot 2]" in report
    assert str(vcd) in report
    s = res.summary()
    assert SUMMARY_KEYS <= s.keys()
    assert json.loads(json.dumps(s)) == s
    assert s["bit_exact"] is False
    assert s["first_divergence"] == {"step": 1, "block": "core", "where": "neuron 1",
                                     "field": "acc[slot 2]", "expected": 40, "got": 44}


def test_perturbed_weight_amaranth(tmp_path):
    vcd = tmp_path / "weight.vcd"
    res = run_core_cosim(quiet_config(weight=10), QUIET_INPUTS, backend="amaranth",
                         rtl_cfg=quiet_config(weight=11), vcd_path=vcd)
    _check_weight_divergence(res, vcd)


@pytest.mark.slow
def test_perturbed_weight_verilator(tmp_path):
    vcd = tmp_path / "weight.vcd"
    res = run_core_cosim(quiet_config(weight=10), QUIET_INPUTS, backend="verilator",
                         rtl_cfg=quiet_config(weight=11), vcd_path=vcd,
                         syn_capacity=VL_SYN_CAPACITY, workdir=tmp_path / "work")
    _check_weight_divergence(res, vcd)
    assert res.build["trace"] is False      # the failing run itself was untraced


class MislabelSpikes(wiring.Component):
    """A broken core: spikes of neuron ``bad`` come out labelled ``bad + 1``."""

    def __init__(self, cfg=None, *, bad=2, **kwargs):
        self.core = NeuronCore(cfg, **kwargs)
        self.bad = bad
        super().__init__(dict(self.core.signature.members))

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        connect(m, flipped(self.i_events), core.i_events)
        connect(m, flipped(self.i_mem), core.i_mem)
        connect(m, core.o_mem, flipped(self.o_mem))
        m.d.comb += [
            self.o_spikes.valid.eq(core.o_spikes.valid),
            core.o_spikes.ready.eq(self.o_spikes.ready),
            self.o_spikes.payload.eq(core.o_spikes.payload),
            self.o_idle.eq(core.o_idle),
        ]
        p = core.o_spikes.payload
        with m.If(~p.eos & (p.neuron == self.bad)):
            m.d.comb += self.o_spikes.payload.neuron.eq(self.bad + 1)
        return m


class SwallowEos(MislabelSpikes):
    """A broken core whose end-of-step marker never comes out: the harness must not hang."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.core.o_spikes.payload.eos):
            m.d.comb += [self.o_spikes.valid.eq(0), self.core.o_spikes.ready.eq(1)]
        return m


def test_broken_rtl_amaranth(tmp_path):
    # a config whose neuron 2 fires, and where it does first
    for seed in range(50):
        cfg = random_config(seed, n_neurons=16, n_inputs=4, max_fanout=8)
        inputs = random_inputs(seed, 4, 12)
        spikes = golden_run(cfg, inputs)
        fired = [t for t, s in enumerate(spikes) if 2 in s]
        if fired and 3 not in spikes[fired[0]]:
            break
    t = fired[0]
    j = list(spikes[t]).index(2)
    vcd = tmp_path / "broken.vcd"
    res = run_core_cosim(cfg, inputs, backend="amaranth", seed=1, vcd_path=vcd,
                         core_factory=MislabelSpikes)
    assert not res.bit_exact
    d = res.first_divergence
    assert (d.step, d.where, d.field, d.expected, d.got) == (t, f"o_spikes[{j}]", "neuron", 2, 3)
    assert vcd.exists() and vcd.stat().st_size > 0
    # the state itself is right: no state divergence at all
    assert all(x.where.startswith("o_spikes") for x in res.divergences)


def test_hung_rtl_amaranth(tmp_path):
    cfg = random_config(1, n_neurons=8, n_inputs=4, max_fanout=4)
    vcd = tmp_path / "hung.vcd"
    res = run_core_cosim(cfg, random_inputs(1, 4, 5), backend="amaranth", vcd_path=vcd,
                         core_factory=SwallowEos)
    assert not res.bit_exact
    d = res.first_divergence
    assert d.step == 0 and d.field == "eos"
    assert "end-of-step" in str(d.expected) or "end of step" in str(d.expected)
    assert vcd.exists()
    assert res.steps == 5 and res.states_checked == 0


def test_vcd_only_on_request(tmp_path, monkeypatch):
    vcd = tmp_path / "pass.vcd"
    monkeypatch.delenv("NEUROFAB_VCD", raising=False)
    res = cosim_core(8, 4, 2, "amaranth", n_inputs=4, vcd_path=vcd)
    assert res.bit_exact and res.vcd is None and not vcd.exists()
    monkeypatch.setenv("NEUROFAB_VCD", "1")
    res = cosim_core(8, 4, 2, "amaranth", n_inputs=4, vcd_path=vcd)
    assert res.bit_exact and res.vcd == str(vcd) and vcd.exists()


def test_summary_and_progress():
    seen = []
    res = cosim_core(8, 6, 3, "amaranth", n_inputs=4, check_state="end",
                     progress=lambda done, total: seen.append((done, total)))
    assert seen == [(k, 6) for k in range(1, 7)]
    s = res.summary()
    assert SUMMARY_KEYS <= s.keys()
    assert json.loads(json.dumps(s)) == s
    assert s["bit_exact"] is True and s["first_divergence"] is None and s["vcd"] is None
    assert s["backend"] == "amaranth" and s["block"] == "core" and s["neurons"] == 8
    assert s["steps"] == 6 and s["cycles"] > 0
    assert s["cycles_per_step"] == pytest.approx(s["cycles"] / 6, abs=1e-3)
    assert "bit-exact" in res.report()


def test_bad_arguments():
    cfg = random_config(0, n_neurons=4, n_inputs=2, max_fanout=2)
    with pytest.raises(ValueError, match="backend"):
        run_core_cosim(cfg, [[]], backend="iverilog")
    with pytest.raises(ValueError, match="check_state"):
        run_core_cosim(cfg, [[]], check_state="sometimes")
    with pytest.raises(ValueError, match="stall"):
        run_core_cosim(cfg, [[]], stall=1.0)
    with pytest.raises(ValueError, match="repeats a channel"):
        run_core_cosim(cfg, [[1, 1]])


def test_wrong_config_in_rtl_amaranth(tmp_path):
    """The configuration the RTL holds is read back before step 0."""
    cfg = random_config(5, n_neurons=8, n_inputs=4, max_fanout=6)
    k = cfg.n_synapses // 2

    def factory(c, **kwargs):
        bad = CoreConfig.from_bytes(c.to_bytes())
        bad.syn_weight[k] = bad.syn_weight[k] + (1 if bad.syn_weight[k] < 0 else -1)
        return NeuronCore(bad, **kwargs)

    res = run_core_cosim(cfg, random_inputs(5, 4, 3), backend="amaranth", core_factory=factory,
                         vcd_path=tmp_path / "cfg.vcd")
    assert not res.bit_exact
    d = res.first_divergence
    assert (d.step, d.where, d.field) == (-1, f"SYNAPSE[{k}]", "word")
    assert (tmp_path / "cfg.vcd").exists()
