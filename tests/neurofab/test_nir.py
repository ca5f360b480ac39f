"""``neurofab.nir``: NIR graphs in and out, measured against a float simulation."""

import json

import nir
import numpy as np
import pytest

from neurofab import nir as nnir
from neurofab.config import Network, compile, random_config
from neurofab.golden import run

DT = 1e-3
RNG = np.random.default_rng


def cuba(n, *, tau_syn=5e-3, tau_mem=1e-2, r=10.0, w_in=5.0, thr=1.0, v_reset=0.0,
         v_leak=0.0):
    f = (lambda x: np.full(n, float(x)))
    return nir.CubaLIF(tau_syn=f(tau_syn), tau_mem=f(tau_mem), r=f(r), v_leak=f(v_leak),
                       v_threshold=f(thr), v_reset=f(v_reset), w_in=f(w_in))


def lif(n, *, tau=1e-2, r=10.0, thr=1.0):
    f = (lambda x: np.full(n, float(x)))
    return nir.LIF(tau=f(tau), r=f(r), v_leak=f(0), v_threshold=f(thr), v_reset=f(0))


def graph(nodes, edges):
    return nir.NIRGraph(nodes=nodes, edges=edges)


def inp(n):
    return nir.Input(input_type={"input": np.array([n])})


def out(n):
    return nir.Output(output_type={"output": np.array([n])})


def feed_forward(seed=1, n_in=20, h=30, o=10, first=cuba, second=cuba):
    rng = RNG(seed)
    return graph({"in": inp(n_in), "fc1": nir.Affine(weight=rng.normal(0, 0.5, (h, n_in)),
                                                      bias=rng.normal(0, 0.05, h)),
                  "l1": first(h), "fc2": nir.Linear(weight=rng.normal(0, 0.5, (o, h))),
                  "l2": second(o), "out": out(o)},
                 [("in", "fc1"), ("fc1", "l1"), ("l1", "fc2"), ("fc2", "l2"), ("l2", "out")])


def recurrent(seed=2, n_in=16, h=40):
    rng = RNG(seed)
    return graph({"in": inp(n_in), "w_in": nir.Linear(weight=rng.normal(0, 0.6, (h, n_in))),
                  "rec": cuba(h), "w_rec": nir.Linear(weight=rng.normal(0, 0.15, (h, h))),
                  "out": out(h)},
                 [("in", "w_in"), ("w_in", "rec"), ("rec", "w_rec"), ("w_rec", "rec"),
                  ("rec", "out")])


def if_scale(seed=3, n_in=12, h=16):
    rng = RNG(seed)
    return graph({"in": inp(n_in), "w": nir.Linear(weight=rng.normal(0.1, 0.3, (h, n_in))),
                  "s": nir.Scale(scale=np.linspace(0.5, 1.5, h)),
                  "if": nir.IF(r=np.full(h, 100.0), v_threshold=np.ones(h),
                               v_reset=np.zeros(h)), "out": out(h)},
                 [("in", "w"), ("w", "s"), ("s", "if"), ("if", "out")])


def measured(net, g, x):
    """Raster agreement of golden with ``simulate`` over every neuron node."""
    cfg = compile(net)
    ref = nnir.simulate(g, x, dt=DT)
    core = np.stack([_raster(run(cfg, net.graph.channels(r)), cfg.n_neurons)
                     for r in net.graph.core_inputs(x)])
    nodes = list(net.graph.nodes)
    a = np.concatenate([net.graph.spikes(core, n) for n in nodes], axis=-1)
    b = np.concatenate([ref[n] for n in nodes], axis=-1)
    return nnir.raster_agreement(a, b), b.mean()


def _raster(spikes, n):
    r = np.zeros((len(spikes), n), dtype=bool)
    for t, s in enumerate(spikes):
        r[t, s] = True
    return r


GRAPHS = {"cuba-lif feed-forward": feed_forward,
          "lif then cuba-lif": lambda: feed_forward(4, first=lif),
          "recurrent cuba-lif": recurrent,
          "if with scale": if_scale}


@pytest.mark.parametrize("name", GRAPHS)
def test_import_matches_float_simulation(name):
    g = GRAPHS[name]()
    net, rep = nnir.from_nir(g, dt=DT)
    x = RNG(99).random((4, 200, len(net.index("in")))) < 0.2
    agree, rate = measured(net, g, x)
    assert rate > 0.02                                  # the network is active
    assert agree >= 0.97, (agree, str(rep))
    err = 1 - agree
    assert err / 2 <= rep.predicted_raster_error <= 2 * err or max(
        err, rep.predicted_raster_error) < 0.005, (err, rep.predicted_raster_error)


def test_snntorch_export_reproduces_snntorch_spikes():
    from neurofab.tasks import digits
    ref = np.load(digits.REFERENCE_FILE)
    x_train, _, x_test, _ = digits.load_digits_split()
    net, rep = nnir.from_nir(digits.NIR_FILE, dt=1e-4, calibration=digits.encode(x_train[:32]))
    x = digits.encode(x_test[:120])
    cfg = compile(net)
    core = np.stack([_raster(run(cfg, net.graph.channels(r)), cfg.n_neurons)
                     for r in net.graph.core_inputs(x)])
    assert nnir.raster_agreement(net.graph.spikes(core, "output"),
                                 ref["output_spikes"][:120]) >= 0.95
    assert nnir.raster_agreement(net.graph.spikes(core, "lif1"),
                                 ref["hidden_spikes"][:120]) >= 0.95
    # the float simulation of the file is snnTorch's own output, spike for spike
    flt = nnir.simulate(digits.NIR_FILE, x, dt=1e-4)
    assert np.array_equal(flt["output"], ref["output_spikes"][:120])


def _canonical(cfg):
    src = np.repeat(np.arange(cfg.n_sources), np.diff(cfg.fanout_ptr))
    syn = sorted(s for s in zip(src.tolist(), cfg.syn_target.tolist(),
                                cfg.syn_delay.tolist(), cfg.syn_weight.tolist()) if s[3])
    params = {k: np.asarray(v).tolist() for k, v in cfg.neuron_params().items()}
    return cfg.n_neurons, cfg.n_inputs, cfg.w_shift, params, syn


@pytest.mark.parametrize("seed", range(12))
def test_round_trip_is_identity_on_integer_configs(seed, tmp_path):
    cfg = random_config(RNG(seed), n_neurons=16, n_inputs=8, extremes=seed % 2 == 0)
    g = nnir.to_nir(cfg, dt=DT)
    path = tmp_path / "cfg.nir"
    nir.write(path, g)
    for source in (g, path):
        net, rep = nnir.from_nir(source, dt=DT)
        assert rep.scale_mode == "from the graph's metadata"
        assert _canonical(compile(net)) == _canonical(cfg)


def test_exported_graph_simulates_like_the_core():
    cfg = random_config(RNG(5), n_neurons=16, n_inputs=8, extremes=False)
    g = nnir.to_nir(cfg, dt=DT)
    x = RNG(6).random((60, 8)) < 0.3
    core = _raster(run(cfg, [np.flatnonzero(r) for r in x]), cfg.n_neurons)
    flt = nnir.simulate(g, x, dt=DT)
    net, _ = nnir.from_nir(g)
    for name, idx in net.graph.nodes.items():   # equal up to the core's rounding
        assert nnir.raster_agreement(flt[name], core[:, idx]) >= 0.9, name


def test_names_map_nodes_to_neurons_and_channels():
    net, rep = nnir.from_nir(feed_forward(), dt=DT)
    assert net.index("in").tolist() == list(range(20))
    assert net.index("l1").tolist() == list(range(30))
    assert net.index("out").tolist() == list(range(30, 40))
    assert net.index("l1.bias").tolist() == [20]
    assert net.graph.latency == {"l1": 0, "l2": 1} and rep.lag == 1
    with pytest.raises(KeyError, match="no population or input group is named 'nope'"):
        net.index("nope")
    x = np.zeros((5, 20), dtype=bool)
    assert net.graph.core_inputs(x).shape == (6, 21)
    assert net.graph.core_inputs(x)[:5, 20].all() and not net.graph.core_inputs(x)[5].any()


def test_delay_nodes_become_synaptic_delays():
    rng = RNG(7)
    g = graph({"in": inp(8), "d": nir.Delay(delay=np.full(8, 3 * DT)),
               "w": nir.Linear(weight=rng.normal(0, 0.8, (6, 8))), "l": cuba(6),
               "out": out(6)}, [("in", "d"), ("d", "w"), ("w", "l"), ("l", "out")])
    net, rep = nnir.from_nir(g, dt=DT)
    cfg = compile(net)
    assert set(cfg.syn_delay.tolist()) == {4}
    agree, rate = measured(net, g, RNG(8).random((2, 200, 8)) < 0.3)
    assert agree >= 0.97 and rate > 0.02


def test_report_is_readable_and_json():
    net, rep = nnir.from_nir(feed_forward(), dt=DT)
    text = str(rep)
    assert "w_shift" in text and "l1" in text and "headroom" in text
    d = json.loads(json.dumps(rep.as_dict(), default=float))
    assert [layer["name"] for layer in d["layers"]] == ["l1", "l2"]
    layer = rep.layer("l1")
    assert layer.weight_levels <= 127 and layer.headroom > 1 and layer.clipped == 0


def test_explicit_scale_reports_clipping():
    g = feed_forward()
    g.nodes["fc1"].weight[0, 0] = 40.0
    net, rep = nnir.from_nir(g, dt=DT, scale={"l1": 3000.0, "l2": 20.0})
    assert rep.scale_mode == "explicit" and rep.w_shift == 7
    assert rep.layer("l1").clipped > 0 and rep.layer("l1").clipped_share > 0


def test_per_neuron_parameters_are_clustered_into_profiles():
    rng = RNG(9)
    h = 40
    node = nir.CubaLIF(tau_syn=np.full(h, 5e-3), tau_mem=np.linspace(5e-3, 5e-2, h),
                       r=np.full(h, 10.0), v_leak=np.zeros(h), v_threshold=np.ones(h),
                       v_reset=np.zeros(h), w_in=np.full(h, 5.0))
    g = graph({"in": inp(8), "w": nir.Linear(weight=rng.normal(0, 0.5, (h, 8))), "l": node,
               "out": out(h)}, [("in", "w"), ("w", "l"), ("l", "out")])
    net, rep = nnir.from_nir(g, dt=DT)
    assert rep.profiles <= 15 and rep.profile_error > 0
    assert compile(net).n_profiles <= 16


@pytest.mark.parametrize("change, match", [
    (lambda g: g.nodes.__setitem__("l1", nir.Conv1d(
        input_shape=4, weight=np.ones((1, 1, 1)), stride=1, padding=0, dilation=1, groups=1,
        bias=np.zeros(1))), "node 'l1' is a Conv1d"),
    (lambda g: g.edges.__setitem__(4, ("fc2", "out")),
     r"Output 'out' is fed by a Linear \('fc2'\)"),
    (lambda g: g.nodes["fc1"].weight.__setitem__((0, 0), np.nan), "'fc1': weight holds NaN"),
    (lambda g: g.nodes.__setitem__("l2", cuba(10, tau_mem=1e-4 / 2)),
     "'l2': tau_mem is shorter than dt"),
])
def test_unsupported_graphs_are_refused(change, match):
    g = feed_forward()
    change(g)
    with pytest.raises(ValueError, match=match):
        nnir.from_nir(g, dt=DT if "tau_mem" not in match else 1e-4)


@pytest.mark.parametrize("kwargs, err, match", [
    ({}, ValueError, "dt is missing"),
    ({"dt": 0.0}, ValueError, "dt = 0"),
    ({"dt": float("nan")}, ValueError, "dt"),
    ({"dt": DT, "scale": "big"}, ValueError, "scale = 'big'"),
    ({"dt": DT, "scale": -1.0}, ValueError, "scale = -1"),
    ({"dt": DT, "scale": {"l1": 10.0}}, ValueError, "neuron node 'l2' has no scale"),
    ({"dt": DT, "scale": {"l1": 1.0, "l2": 1.0, "x": 1.0}}, ValueError, "'x' is not a neuron"),
    ({"dt": DT, "reset": "zero"}, ValueError, "reset = 'zero' is not one of"),
    ({"dt": DT, "compare": "<"}, ValueError, "compare = '<' is not one of"),
    ({"dt": DT, "discretisation": "rk4"}, ValueError, "discretisation = 'rk4'"),
    ({"dt": DT, "calibration": np.zeros((10, 3), bool)}, ValueError,
     r"calibration\['in'\] has shape \(10, 3\), expected \(steps, 20\)"),
    ({"dt": DT, "calibration": np.full((10, 20), 0.5)}, TypeError, "0/1 spikes"),
    ({"dt": DT, "calibration": np.full((10, 20), 2)}, ValueError, "spikes are 0 or 1"),
])
def test_bad_options_are_refused(kwargs, err, match):
    with pytest.raises(err, match=match):
        nnir.from_nir(feed_forward(), **kwargs)


def test_dt_must_agree_with_graph_metadata():
    cfg = random_config(RNG(0), n_neurons=16, n_inputs=8, extremes=False)
    with pytest.raises(ValueError, match="differs from the graph's metadata dt"):
        nnir.from_nir(nnir.to_nir(cfg, dt=DT), dt=2 * DT)


def test_missing_file_and_wrong_type(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        nnir.from_nir(tmp_path / "none.nir", dt=DT)
    (tmp_path / "bad.nir").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="is not a readable NIR file"):
        nnir.from_nir(tmp_path / "bad.nir", dt=DT)
    with pytest.raises(TypeError, match="graph must be a nir.NIRGraph"):
        nnir.from_nir(42, dt=DT)
    with pytest.raises(TypeError, match="source must be a neurofab Network or CoreConfig"):
        nnir.to_nir("x", dt=DT)


def test_export_of_a_network_keeps_population_names():
    net = Network(w_shift=1)
    a = net.population(4, name="exc", threshold=50, decay_v=200, decay_i=800)
    b = net.population(3, name="inh", threshold=40, decay_v=300, decay_i=1000)
    i = net.inputs(5, name="stim")
    net.project(i, a, weight=30)
    net.project(a, b, weight=-20, delay=3)
    g = nnir.to_nir(net, dt=DT)
    assert {"exc", "inh", "stim", "padding"} <= set(g.nodes)
    back, _ = nnir.from_nir(g)
    assert _canonical(compile(back)) == _canonical(compile(net))


def test_population_takes_per_neuron_parameters():
    net = Network()
    pop = net.population(4, threshold=np.array([5, 6, 5, 6]), decay_v=10)
    assert pop.profile.tolist() == [0, 1, 0, 1] and len(net.profiles) == 2
    with pytest.raises(ValueError, match=r"threshold has shape \(3,\), expected a scalar or "
                                         r"one value per neuron \(4,\)"):
        net.population(4, threshold=np.array([5, 6, 7]))
    with pytest.raises(TypeError, match="threshold must hold integers, not float64"):
        net.population(2, threshold=np.array([5.0, 6.5]))
    with pytest.raises(ValueError, match=r"threshold\[1\] = 0 is outside the limit"):
        net.population(2, threshold=np.array([5, 0]))
