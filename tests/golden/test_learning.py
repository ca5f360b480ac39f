"""The golden learning model against the text of docs/numerics.md ("Learning").

``Reference`` below is a second reading of that text, written scalar by scalar with
Python integers in the order the text gives (neuron by neuron, synapse by synapse); the
vectorised golden model (``golden/learning.py``) must produce the same state at every
step over random configurations with the extremes. The hand-computed cases pin single
equations; the float checks compare the STDP window with the exponential it stands for.
"""

import math

import numpy as np
import pytest

from neurofab import spec
from neurofab.config import Network, compile, random_config, random_learning
from neurofab.golden import core
from neurofab.golden.learning import LEARN_FIELDS
from neurofab.learning import STDP, RSTDP, Homeostasis


def rtz_decay(x, d):
    p = x * (4096 - d)
    return p >> 12 if p >= 0 else -((-p) >> 12)


def clamp(x, lo, hi):
    return max(lo, min(hi, x))


class Reference:
    """The learning state changes of one step, read literally from the text."""

    def __init__(self, cfg):
        self.cfg, self.lc = cfg, cfg.learning

    def spike(self, x, amp):
        return amp if self.lc.mode == spec.TraceMode.NEAREST.value else min(x + amp, 4095)

    def post_update(self, st, spike):
        lc, cfg = self.lc, self.cfg
        for n in range(cfg.n_neurons):
            p = int(cfg.profile[n])
            y = int(st["y"][n])
            y_prev = self.spike(y, lc.post_amp) if st["fired"][n] else y
            st["y"][n] = rtz_decay(y_prev, lc.post_decay)
            st["fired"][n] = int(spike[n])
            theta = int(st["theta"][n]) + (int(lc.up[p]) if spike[n] else 0) - int(lc.down[p])
            st["theta"][n] = clamp(theta, int(lc.lo[p]), int(lc.hi[p]))

    def learn(self, st, pre, modulator):
        lc, cfg = self.lc, self.cfg
        src_of = cfg.syn_source
        done = set()
        for k in range(lc.learn_end):
            r = int(lc.syn_rule[k])
            if r == 0:
                continue
            s, n = int(src_of[k]), int(cfg.syn_target[k])
            if s not in done:
                x = rtz_decay(int(st["x"][s]), lc.pre_decay)
                st["x"][s] = self.spike(x, lc.pre_amp) if pre[s] else x
                done.add(s)
            x, y = int(st["x"][s]), int(st["y"][n])
            dep = (int(lc.a_minus[r]) * y) >> 12 if pre[s] else 0
            pot = (int(lc.a_plus[r]) * x) >> 12 if st["fired"][n] else 0
            stdp = pot - dep
            wf = int(st["weight"][k]) * 256 + int(st["frac"][k])
            lo, hi = int(lc.w_min[r]) * 256, int(lc.w_max[r]) * 256
            if lc.kind[r] == spec.RuleKind.STDP.value:
                wf = clamp(wf + stdp, lo, hi)
            else:
                e = clamp(rtz_decay(int(st["elig"][k]), int(lc.elig_decay[r])) + stdp,
                          -32768, 32767)
                st["elig"][k] = e
                wf = clamp(wf + ((modulator * e) >> int(lc.m_shift[r])), lo, hi)
            st["weight"][k], st["frac"][k] = wf >> 8, wf & 255


@pytest.mark.parametrize("kernel", ["cuba-lif", "alif", "izhikevich", "adex"])
@pytest.mark.parametrize("seed", range(4))
def test_golden_follows_the_text(kernel, seed):
    rng = np.random.default_rng(seed)
    cfg = random_learning(rng, random_config(rng, n_neurons=8, n_inputs=6, kernel=kernel))
    ref = Reference(cfg)
    golden = core.NeuronCore(cfg)
    st = {k: v.copy() for k, v in golden.state.learn.items()}
    for t in range(60):
        chans = np.flatnonzero(rng.random(cfg.n_inputs) < 0.4)
        pre = np.zeros(cfg.n_sources, dtype=bool)
        pre[golden.state.pending] = True
        pre[cfg.n_neurons + chans] = True
        m = int(rng.integers(spec.MOD_MIN, spec.MOD_MAX + 1)) if t % 3 else 0
        golden.set_modulator(m)
        fired = np.zeros(cfg.n_neurons, dtype=bool)
        fired[golden.step(chans)] = True
        ref.post_update(st, fired)
        ref.learn(st, pre, m)
        for name in LEARN_FIELDS:
            assert np.array_equal(st[name], golden.state.learn[name]), (t, name)


def single(weight=40, *, a_plus=0.5, a_minus=0.5, tau=20.0, nearest=False, rule=STDP,
           threshold=1, **rule_kw):
    """Input 0 (plastic, ``weight``) and input 1 (static, 127) into neuron 0."""
    net = Network(w_shift=7)
    inp = net.inputs(2)
    out = net.population(1, threshold=threshold, decay_v=4096, decay_i=4096)
    net.project(inp, out, weight=[[weight], [0]],
                rule=rule(a_plus=a_plus, a_minus=a_minus, tau_plus=tau, tau_minus=tau,
                          w_min=0, w_max=127, nearest=nearest, **rule_kw), dt=1.0)
    net.project(inp, out, weight=[[0], [127]])
    return compile(net)


def wf(state, k=0):
    return int(state.learn["weight"][k]) * 256 + int(state.learn["frac"][k])


def test_pre_with_post_is_potentiation():
    # weight 40 << 7 fires the neuron in the step its input is delivered: the pair is causal
    cfg = single(40, a_plus=0.5)
    spikes, states = core.run(cfg, [[0]], trace=True)
    assert list(spikes[0]) == [0]
    # x = pre_amp = 1024, pot = (a_plus * x) >> 12 = (512 * 1024) >> 12 = 128 fine units
    assert cfg.learning.a_plus[1] == 512 and cfg.learning.pre_amp == 1024
    assert wf(states[0]) == 40 * 256 + 128


def test_post_then_pre_is_depression():
    cfg = single(1, a_minus=1.0, threshold=200)
    d = cfg.learning.post_decay
    # step 0: input 1 fires the neuron; steps 1, 2: nothing; step 3: input 0 (too weak)
    spikes, states = core.run(cfg, [[1], [], [], [0]], trace=True)
    assert [list(s) for s in spikes] == [[0], [], [], []]
    y = 1024                                      # the trace after the spike ...
    for _ in range(3):                            # ... decayed to step 3 (before its spike)
        y = rtz_decay(y, d)
    dep = (cfg.learning.a_minus[1] * y) >> 12
    assert 0 < dep and wf(states[3]) == max(0, 256 - dep)


def test_small_updates_accumulate_in_the_fraction():
    # a pair moves wf by 3/256 of a weight LSB: 100 pairs move the weight by 1
    cfg = single(40, a_plus=3 / 256, a_minus=0.0, nearest=True)
    assert (cfg.learning.a_plus[1] * 1024) >> 12 == 3
    inputs = [[0], []] * 100
    spikes = core.run(cfg, inputs)
    assert sum(len(s) for s in spikes) == 100
    state = core.NeuronCore(cfg)
    for chans in inputs:
        state.step(chans)
    assert wf(state.state) == 40 * 256 + 300
    assert int(state.state.learn["weight"][0]) == 41


@pytest.mark.parametrize("nearest", [False, True])
def test_trace_sums_or_keeps_the_nearest(nearest):
    cfg = single(1, threshold=30000, nearest=nearest, tau=1e9)   # no decay: keep 0
    assert cfg.learning.pre_decay == 0
    golden = core.NeuronCore(cfg)
    for _ in range(5):
        golden.step([0])
    assert golden.state.learn["x"][cfg.n_neurons] == (1024 if nearest else 4095)


def test_stdp_window_follows_the_exponential():
    """The weight change of one pair against a_plus·exp(−Δt/τ) (float), Δt = 0 … 60 ms."""
    tau, a = 20.0, 8.0
    rows = []
    for lag in range(0, 61, 5):
        cfg = single(1, a_plus=a, a_minus=0.0, tau=tau, threshold=200)
        # pre at step 0 (too weak to fire), post forced by input 1 at step lag
        inputs = [[0]] + [[] for _ in range(lag)]
        inputs[lag] = inputs[lag] + [1]
        spikes, states = core.run(cfg, inputs, trace=True)
        assert list(spikes[lag]) == [0]
        measured = (wf(states[-1]) - 256) / 256
        expected = a * math.exp(-lag / tau) * (1024 / 4096) * 4
        rows.append((lag, measured, expected))
        # the trace loses less than one LSB per step to the floor of rtz_decay (one LSB
        # of x is a_plus / 4096 fine units here); the decay's own rounding (200/4096
        # for 1 − e^(−1/20)) adds under 0.2 % of the peak at these lags
        lsb = cfg.learning.a_plus[1] / 4096 / 256
        assert -(lag * lsb + 0.002 * a) <= measured - expected <= 0.002 * a + 1 / 256, rows


def test_reward_turns_eligibility_into_weight():
    cfg = single(40, a_plus=0.5, rule=RSTDP, tau_e=1e9, m_shift=4)
    golden = core.NeuronCore(cfg)
    golden.step([0])                               # causal pair: e = 128, M = 0
    assert int(golden.state.learn["elig"][0]) == 128 and wf(golden.state) == 40 * 256
    golden.set_modulator(-3)
    golden.step([])                                # e stays (no decay), wf += (-3*128) >> 4
    assert wf(golden.state) == 40 * 256 - 24
    with pytest.raises(ValueError, match="modulator = 40000 is outside"):
        golden.set_modulator(40000)


def test_homeostasis_pulls_the_rate_to_the_target():
    net = Network()
    # bias 60, threshold 100: fires every other step alone (500 Hz at dt = 1 ms)
    net.population(1, threshold=100, bias=60, decay_v=0,
                   homeostasis=Homeostasis(target_rate=50.0, eta=16.0, lo=0, hi=1500), dt=1.0)
    cfg = compile(net)
    spikes = core.run(cfg, [[]] * 6000)
    late = sum(len(s) for s in spikes[-2000:]) / 2.0          # Hz over the last 2 s
    assert sum(len(s) for s in spikes[:20]) >= 5              # it started fast
    assert abs(late - 50.0) < 5.0, late


def test_learning_config_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    cfg = random_learning(rng, random_config(rng, kernel="alif"))
    cfg.save(tmp_path / "a.nfcfg")
    from neurofab.config import CoreConfig
    back = CoreConfig.load(tmp_path / "a.nfcfg")
    assert back == cfg and back.learning == cfg.learning
    assert back.learning.learn_end == cfg.learning.learn_end > 0
    # the padded config carries learning; the original neurons learn the same
    big = cfg.padded(32, 10)
    a = core.run(cfg, [[1, 2]] * 30, trace=True)[1][-1]
    b = core.run(big, [[1, 2]] * 30, trace=True)[1][-1]
    assert np.array_equal(a.learn["weight"], b.learn["weight"])
