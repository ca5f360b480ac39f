"""Learning tables, float rules and the Network learning API: quantisation and refusals."""

import math

import numpy as np
import pytest

from neurofab import spec
from neurofab.config import CoreConfig, Network, compile, random_config, random_learning
from neurofab.learning import RSTDP, STDP, Homeostasis, Learning


def test_stdp_quantises_and_reports():
    rule = STDP(a_plus=0.5, a_minus=0.6, tau_plus=16.8, tau_minus=33.7, w_max=100)
    tr, ru = rule.traces(1.0), rule.rule(1.0)
    assert tr["pre_decay"] == round(4096 * (1 - math.exp(-1 / 16.8)))
    assert tr["post_decay"] == round(4096 * (1 - math.exp(-1 / 33.7)))
    assert (ru["a_plus"], ru["a_minus"], ru["w_max"]) == (512, 614, 100)
    report = rule.report(1.0)
    text = str(report)
    assert "tau_plus (ms)" in text and "a_minus (weight units)" in text
    rows = {r["name"]: r for r in report.as_dict()["parameters"]}
    assert rows["tau_minus (ms)"]["rel_error"] < 0.01
    assert STDP(nearest=True).traces(1.0)["mode"] == spec.TraceMode.NEAREST.value
    r = RSTDP(tau_e=100.0, m_shift=6).rule(1.0)
    assert r["kind"] == 1 and r["m_shift"] == 6 and r["elig_decay"] == 41


@pytest.mark.parametrize("kw, error, match", [
    ({"a_plus": float("nan")}, ValueError, "a_plus = nan must be a finite number"),
    ({"a_plus": 100.0}, ValueError, r"a_plus = 100 is outside the limit \[0, 63.999\]"),
    ({"a_minus": "1"}, TypeError, "a_minus must be a number"),
    ({"tau_plus": 0}, ValueError, r"tau_plus = 0 is outside the limit \(0, inf\]"),
    ({"tau_minus": math.inf}, ValueError, "tau_minus = inf must be a finite number"),
    ({"w_min": 1.5}, TypeError, "w_min must be an integer, not 1.5"),
    ({"w_max": 200}, ValueError, "w_max = 200 is outside"),
    ({"w_min": 10, "w_max": 5}, ValueError, "w_min = 10 is above w_max = 5"),
    ({"nearest": 1}, TypeError, "nearest must be True or False"),
])
def test_stdp_refuses(kw, error, match):
    with pytest.raises(error, match=match):
        STDP(**kw)


def test_rstdp_and_homeostasis_refuse():
    with pytest.raises(ValueError, match="m_shift = 40 is outside"):
        RSTDP(m_shift=40)
    with pytest.raises(ValueError, match=r"tau_e = -1 is outside the limit \(0, inf\]"):
        RSTDP(tau_e=-1)
    with pytest.raises(ValueError, match="lo = 5 is above hi = 1"):
        Homeostasis(lo=5, hi=1)
    with pytest.raises(ValueError, match="target_rate = 2000 Hz is one spike per step"):
        Homeostasis(target_rate=2000).table(1.0)
    with pytest.raises(ValueError, match="dt = nan must be a finite number"):
        STDP().traces(float("nan"))


def small_cfg():
    return random_config(np.random.default_rng(0), n_neurons=4, n_inputs=3, extremes=False)


@pytest.mark.parametrize("kw, match", [
    ({"syn_rule": "bad"}, "syn_rule must hold integers"),
    ({"pre_decay": 5000}, r"pre_decay = 5000 is outside the limit \[0, 4096\]"),
    ({"mode": 2}, r"mode = 2 is outside the limit \[0, 1\]"),
    ({"a_plus": [0, 1, 2]}, r"a_plus has shape \(3,\), expected \(4,\)"),
    ({"a_plus": [0.5, 0, 0, 0]}, "a_plus must hold integers"),
    ({"bogus": 1}, "'bogus' is not a learning parameter"),
])
def test_learning_tables_refuse(kw, match):
    cfg = small_cfg()
    args = {"syn_rule": np.zeros(cfg.n_synapses, dtype=np.int64), **kw}
    with pytest.raises(ValueError, match=match):
        Learning(args.pop("syn_rule"), **args)


def test_learning_validate_names_the_field():
    cfg = small_cfg()
    n = cfg.n_synapses
    ones = np.ones(n, dtype=np.int64)
    table = {f: np.zeros(4, dtype=np.int64) for f in spec.RULE_FIELDS}
    homeo = {f: np.zeros(cfg.n_profiles, dtype=np.int64) for f in spec.HOMEO_FIELDS}

    def make(syn_rule=ones, **kw):
        t = {**table, **homeo, **kw}
        return CoreConfig(n_neurons=cfg.n_neurons, n_inputs=cfg.n_inputs, w_shift=cfg.w_shift,
                          **cfg.profile_table(), profile=cfg.profile,
                          fanout_ptr=cfg.fanout_ptr, syn_target=cfg.syn_target,
                          syn_weight=cfg.syn_weight, syn_delay=cfg.syn_delay,
                          learning=Learning(syn_rule, **t))

    with pytest.raises(ValueError, match=r"syn_rule has 3 entries, expected %d" % n):
        make(syn_rule=np.ones(3, dtype=np.int64)).validate()
    with pytest.raises(ValueError, match=r"syn_rule\[0\] = 4 is outside the limit \[0, 3\]"):
        make(syn_rule=ones * 4).validate()
    with pytest.raises(ValueError, match="a_plus\\[0\\] = 5: rule 0 is the static rule"):
        make(a_plus=np.array([5, 0, 0, 0])).validate()
    with pytest.raises(ValueError, match="rule 1: w_min = 3 is above w_max = 2"):
        make(w_min=np.array([0, 3, 0, 0]), w_max=np.array([0, 2, 0, 0])).validate()
    wide = dict(w_min=np.array([0, -128, 0, 0]), w_max=np.array([0, 0, 0, 0]))
    bad = np.flatnonzero(cfg.syn_weight > 0)[0]
    with pytest.raises(ValueError, match=rf"syn_weight\[{bad}\] = \d+ is outside the bounds "
                                         r"\[-128, 0\] of its rule 1"):
        make(**wide).validate()
    with pytest.raises(ValueError, match="up has 1 entries, expected one per profile"):
        make(up=np.array([1]), syn_rule=ones * 0).validate()
    with pytest.raises(ValueError, match="profile 0: homeostasis lo = 1 is above hi = 0"):
        make(lo=np.ones(cfg.n_profiles, np.int64), syn_rule=ones * 0).validate()
    with pytest.raises(TypeError, match="learning must be a neurofab.learning.Learning"):
        CoreConfig(n_neurons=2, n_inputs=0, w_shift=0, **cfg.profile_table(),
                   profile=[0, 0], fanout_ptr=[0, 0, 0], syn_target=[], syn_weight=[],
                   syn_delay=[], learning={"syn_rule": []})


def test_plastic_bounds_enter_the_accumulator_proof():
    net = Network(w_shift=7)
    inp = net.inputs(600)
    out = net.population(1, threshold=10)
    net.project(inp, out, weight=1)                 # static: 600 * 128 = 76800, fine
    cfg = compile(net)
    assert cfg.learning is None
    net = Network(w_shift=7)
    inp = net.inputs(600)
    out = net.population(1, threshold=10)
    net.project(inp, out, weight=1, rule=STDP(w_max=127), dt=1.0)
    with pytest.raises(ValueError, match="accumulator of neuron 0 could reach 9753600"):
        compile(net)


def test_network_learning_api():
    net = Network()
    inp = net.inputs(4)
    a = net.population(2, threshold=50, homeostasis=Homeostasis(target_rate=20), dt=1.0)
    b = net.population(2, threshold=50)
    p1 = net.project(inp, a, weight=10, rule=STDP(w_max=50), dt=1.0)
    p2 = net.project(inp, b, weight=10, rule=RSTDP(w_max=50), dt=1.0)
    p3 = net.project(a, b, weight=-5)
    assert (p1.rule_index, p2.rule_index, p3.rule_index) == (1, 2, 0)
    assert len(p1) == 8 and p1.report is not None and a.homeo_report is not None
    assert a.profile != b.profile            # same parameters, different homeostasis
    cfg = compile(net)
    lc = cfg.learning
    assert lc.kind.tolist() == [0, 0, 1, 0] and lc.up[a.profile] > 0 and lc.up[b.profile] == 0
    # syn_rule follows the CSR order: input rows first hold rules 1 and 2, neuron rows 0
    src = cfg.syn_source
    assert set(lc.syn_rule[src < cfg.n_neurons].tolist()) == {0}
    assert sorted(set(lc.syn_rule[src >= cfg.n_neurons].tolist())) == [1, 2]
    with pytest.raises(ValueError, match="trace parameters .* differ"):
        net.project(inp, b, weight=1, rule=STDP(tau_plus=5.0), dt=1.0)
    with pytest.raises(ValueError, match=r"weight 60 is outside the rule's bounds \[0, 50\]"):
        net.project(inp, b, weight=60, rule=STDP(w_max=50), dt=1.0)
    with pytest.raises(ValueError, match="a learning rule needs dt"):
        net.project(inp, b, weight=1, rule=STDP())
    with pytest.raises(ValueError, match="dt is for a learning rule"):
        net.project(inp, b, weight=1, dt=1.0)
    with pytest.raises(TypeError, match="rule must be neurofab.learning.STDP or RSTDP"):
        net.project(inp, b, weight=1, rule="stdp", dt=1.0)
    net.project(inp, b, weight=1, rule=STDP(w_max=51), dt=1.0)
    with pytest.raises(ValueError, match="at most 3 distinct learning rules"):
        net.project(inp, b, weight=1, rule=STDP(w_max=52), dt=1.0)
    with pytest.raises(ValueError, match="homeostasis needs dt"):
        net.population(1, homeostasis=Homeostasis())


@pytest.mark.parametrize("kernel", ["cuba-lif", "izhikevich"])
def test_random_learning_is_valid_and_exercises_the_rules(kernel):
    rng = np.random.default_rng(5)
    cfg = random_learning(rng, random_config(rng, kernel=kernel))
    lc = cfg.learning
    assert set(np.unique(lc.syn_rule).tolist()) == {0, 1, 2, 3}
    assert sorted(set(lc.kind[1:].tolist())) == [0, 1]
    assert lc.w_min[2] == lc.w_max[2]                   # a rule whose bounds pin the weight
    with pytest.raises(ValueError, match="'oja' is not one of stdp, rstdp, homeostasis"):
        random_learning(rng, cfg, rules=("oja",))
