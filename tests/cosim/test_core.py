"""The neuron core, RTL against golden, on both simulator back ends.

Random configs (``random_config`` with its corner cases: decays 0/4096, both resets,
refractory 0/15, biases and thresholds at the rails, weights at the rails, every delay) and
a hand-made extreme config (fan-in up to the accumulator bound, saturation both ways,
refractory edges), under random valid gaps and back-pressure. Every spike transaction and
the full state after every step are compared.

The Verilator tests share one core geometry, so one build (cached across sessions) serves
them all. Then the comparison failing: a perturbed golden expectation or a deliberately
broken RTL is reported as not bit-exact, with the right first divergence and a waveform.
"""

import json

import numpy as np
import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import connect, flipped

from neurofab import spec
from neurofab.config import CoreConfig, random_config
from neurofab.cosim.core import cosim_core, random_inputs, run_core_cosim
from neurofab.golden import core as golden_core
from neurofab.golden.core import run as golden_run
from neurofab.rtl.core import NeuronCore

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
    core = golden_core.NeuronCore(cfg)
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


def _queue_writes(rng, n, steps, every=4):
    """Spike-queue writes (a restore) before every ``every``-th step: random neurons, the
    empty queue and the full one among them."""
    writes = {t: rng.choice(n, int(rng.integers(0, n + 1)), replace=False)
              for t in range(1, steps, every)}
    writes[1], writes[1 + every] = np.arange(n), np.zeros(0, dtype=np.int64)
    return writes


@pytest.mark.parametrize("seed", [0, 1])
def test_core_spike_queue_amaranth(seed, tmp_path):
    """A core with the spike-queue region: the queue read back after every step equals
    the golden pending spikes, and a queue written before a step (a restore) is what the
    step delivers."""
    rng = np.random.default_rng(seed)
    cfg = random_config(rng, n_neurons=16, n_inputs=8, max_fanout=12)
    inputs = random_inputs(rng, 8, 20)
    res = run_core_cosim(cfg, inputs, backend="amaranth", seed=seed,
                         queue=_queue_writes(rng, 16, 20), vcd_path=tmp_path / "fail.vcd")
    _assert_exact(res)
    assert res.states_checked == 20 and res.output_spikes > 0


def test_core_spike_queue_divergence_is_caught(tmp_path):
    """A golden queue that differs from what the RTL was given is a divergence."""
    from neurofab.cosim import core as cosim_core_module
    from neurofab.cosim.engine import run as engine_run
    rng = np.random.default_rng(3)
    cfg = random_config(rng, n_neurons=16, n_inputs=8, max_fanout=12)
    inputs = random_inputs(rng, 8, 6)
    case = cosim_core_module.core_case(cfg, inputs, queue={2: np.arange(16)})
    # the RTL gets another queue than the golden model was given
    for read in case.steps[2].before:
        if read.label == "spike queue write":
            read.requests[-1] = spec.mem_request(spec.Region.QUEUE, 16, 1, 3)
    res = engine_run(case, backend="amaranth", seed=1)
    assert not res.bit_exact


# --- Verilator ------------------------------------------------------------------------
@pytest.mark.slow
def test_core_spike_queue_verilator(tmp_path):
    rng = np.random.default_rng(21)
    cfg = random_config(rng, n_neurons=VL_NEURONS, n_inputs=VL_INPUTS, max_fanout=40)
    inputs = random_inputs(rng, VL_INPUTS, 60, per_step=5)
    res = run_core_cosim(cfg, inputs, backend="verilator", seed=21,
                         syn_capacity=VL_SYN_CAPACITY, queue=_queue_writes(rng, VL_NEURONS, 60),
                         vcd_path=tmp_path / "fail.vcd", workdir=tmp_path / "work")
    _assert_exact(res)


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


# --- the comparison fails when it must ---------------------------------------------
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
