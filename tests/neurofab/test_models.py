"""The float front end through the network builder: ``Network.population(model=, dt=)``
for every kernel, the reports it records, what it refuses, and the package's exports."""

import json
import math

import numpy as np
import pytest

import neurofab.models
from neurofab import golden
from neurofab.config import Network, compile
from neurofab.kernels import KERNELS
from neurofab.models import (AdaptiveLif, AdEx, CubaLif, Izhikevich, Model, QuantReport,
                             check_float, quantise_current)

DT = 1.0

#: A model of every kernel that fires under a strong input at dt = 1 ms.
MODELS = {
    "cuba-lif": CubaLif(tau_mem=20.0, tau_syn=5.0, threshold=1.0, refractory=2.0),
    "alif": AdaptiveLif(tau_mem=20.0, tau_syn=5.0, tau_adapt=200.0, adapt_increment=0.1,
                        refractory=2.0),
    "izhikevich": Izhikevich(a=0.02, b=0.2, c=-65, d=8),
    "adex": AdEx(C=200, g_L=12, E_L=-70, V_T=-50, Delta_T=2, a=2, tau_w=300, b=60,
                 V_reset=-58),
}


def test_every_kernel_has_a_model():
    assert set(MODELS) == set(KERNELS)
    assert neurofab.models.MODELS == {k: type(m) for k, m in MODELS.items()}
    for name, model in MODELS.items():
        assert isinstance(model, Model) and model.kernel == name


def test_package_exports():
    m = neurofab.models.Izhikevich(a=0.02, b=0.2, c=-65, d=8)
    assert m.kernel == "izhikevich"
    for name in ("CubaLif", "AdaptiveLif", "Izhikevich", "AdEx", "Model", "QuantReport",
                 "Behaviour", "check_float"):
        assert name in neurofab.models.__all__ and hasattr(neurofab.models, name)


def _driven(kernel, size=8):
    """A population of ``kernel``'s model, one input channel per neuron, weight 100 << 6."""
    net = Network(w_shift=6)
    pop = net.population(size, name="p", model=MODELS[kernel], dt=DT)
    inp = net.inputs(size)
    net.project(inp, pop, np.eye(size, dtype=np.int64) * 100)
    return net, pop


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_population_from_a_float_model(kernel):
    net, pop = _driven(kernel)
    rep = pop.report
    assert isinstance(rep, QuantReport) and rep.kernel == kernel and rep.dt == DT
    assert set(rep.params) == set(KERNELS[kernel].param_fields)
    # readable, JSON-serialisable, a worst error
    text = str(rep)
    assert kernel in text and "rel. error" in text and "integers:" in text
    d = json.loads(json.dumps(rep.as_dict()))
    assert d["kernel"] == kernel and d["params"] == {k: int(v) for k, v in rep.params.items()}
    name, err = rep.worst_error
    assert name in rep.values and 0 <= err < 0.05
    assert d["worst_error"] == [name, err]
    # the integer profile is the report's
    cfg = compile(net)
    assert cfg.kernel is KERNELS[kernel] and net.kernel is KERNELS[kernel]
    table = cfg.profile_table()
    assert {k: int(v[pop.profile]) for k, v in table.items()} == rep.params
    # and the golden model fires under input on every channel every step
    spikes = golden.run(cfg, [np.arange(8)] * 50)
    counts = np.bincount(np.concatenate(spikes), minlength=cfg.n_neurons)
    assert (counts[:8] > 0).all() and (counts[8:] == 0).all()


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_silent_without_input(kernel):
    net, _ = _driven(kernel)
    spikes = golden.run(compile(net), [[]] * 100)
    assert sum(len(s) for s in spikes) == 0


@pytest.mark.parametrize("first,second", [("cuba-lif", "izhikevich"), ("alif", "adex"),
                                          ("izhikevich", "cuba-lif")])
def test_mixing_kernels_refused(first, second):
    net = Network()
    net.population(4, model=MODELS[first], dt=DT)
    with pytest.raises(ValueError, match=f"{second}.*{first}"):
        net.population(4, name="other", model=MODELS[second], dt=DT)


def test_integer_population_in_a_model_network_refused():
    net = Network()
    net.population(4, model=MODELS["izhikevich"], dt=DT)
    with pytest.raises(ValueError, match="'threshold' is not a parameter of kernel "
                                         "izhikevich"):
        net.population(4, threshold=100)
    net = Network()
    net.population(4, threshold=100)
    with pytest.raises(ValueError, match="alif.*cuba-lif"):
        net.population(4, model=MODELS["alif"], dt=DT)


def test_network_kernel_must_match_the_model():
    with pytest.raises(ValueError, match="adex.*alif"):
        Network(kernel="alif").population(4, model=MODELS["adex"], dt=DT)


@pytest.mark.parametrize("kwargs,match", [
    ({"model": MODELS["cuba-lif"]}, "needs dt"),
    ({"dt": 1.0, "threshold": 100}, "dt is for a float model"),
    ({"dt": 1.0}, "dt is for a float model"),
    ({"model": MODELS["cuba-lif"], "dt": 1.0, "threshold": 100}, "not both"),
    ({"model": MODELS["alif"], "dt": 1.0, "decay_i": 10, "decay_v": 3},
     r"integer parameters \(decay_i, decay_v\), not both"),
])
def test_model_and_dt_go_together(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Network().population(4, name="p", **kwargs)


@pytest.mark.parametrize("dt,exc,match", [
    (math.nan, ValueError, "dt = nan must be a finite number"),
    (math.inf, ValueError, "dt = inf must be a finite number"),
    (-1.0, ValueError, r"dt = -1 is outside the limit \(0, inf\]"),
    (0, ValueError, r"dt = 0 is outside the limit \(0, inf\]"),
    ("1", TypeError, "dt must be a number, not '1'"),
    (None, ValueError, "needs dt"),
])
def test_bad_dt_refused(dt, exc, match):
    with pytest.raises(exc, match=match):
        Network().population(4, model=MODELS["cuba-lif"], dt=dt)


@pytest.mark.parametrize("cls,kwargs,exc,match", [
    (CubaLif, {"tau_mem": math.nan}, ValueError, "tau_mem = nan must be a finite number"),
    (CubaLif, {"tau_mem": -1}, ValueError, r"tau_mem = -1 is outside the limit \[0, inf\]"),
    (CubaLif, {"tau_syn": math.inf}, ValueError, "tau_syn = inf must be a finite number"),
    (CubaLif, {"threshold": 0}, ValueError, r"threshold = 0 is outside the limit \(0, inf\]"),
    (CubaLif, {"refractory": -0.5}, ValueError, r"refractory = -0.5 is outside the limit"),
    (CubaLif, {"bias": -math.inf}, ValueError, "bias = -inf must be a finite number"),
    (CubaLif, {"v_reset": "low"}, TypeError, "v_reset must be a number, not 'low'"),
    (CubaLif, {"threshold": True}, TypeError, "threshold must be a number, not True"),
    (CubaLif, {"reset": "sideways"}, ValueError, "reset = 'sideways' is not a reset mode"),
    (CubaLif, {"scale": -3}, ValueError, r"scale = -3 is outside the limit \(0, inf\]"),
    (AdaptiveLif, {"tau_adapt": math.nan}, ValueError, "tau_adapt = nan"),
    (AdaptiveLif, {"adapt_increment": -1}, ValueError,
     r"adapt_increment = -1 is outside the limit \[0, inf\]"),
    (Izhikevich, {"a": math.nan}, ValueError, "a = nan must be a finite number"),
    (Izhikevich, {"c": 40}, ValueError, r"c = 40 is outside the limit \[-100, 30\)"),
    (Izhikevich, {"d": None}, TypeError, "d must be a number, not None"),
    (AdEx, {"C": 0}, ValueError, r"C = 0 is outside the limit \(0, inf\]"),
    (AdEx, {"tau_w": math.inf}, ValueError, "tau_w = inf must be a finite number"),
    (AdEx, {"b": -5}, ValueError, r"b = -5 is outside the limit \[0, inf\]"),
    (AdEx, {"g_L": "10"}, TypeError, "g_L must be a number, not '10'"),
])
def test_bad_float_parameters_refused(cls, kwargs, exc, match):
    base = MODELS[cls.kernel]
    args = {f: getattr(base, f) for f in base.__dataclass_fields__}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        cls(**args)


@pytest.mark.parametrize("kernel,kwargs,match", [
    ("cuba-lif", {"refractory": 20.0}, r"refractory: refractory / dt = 20 rounds to 20, "
                                       r"outside the representable range \[0, 15\]"),
    ("cuba-lif", {"scale": 40000.0}, r"threshold.*\[1, 32767\] of kernel cuba-lif"),
    ("alif", {"bias": 1.0}, "bias"),
    ("izhikevich", {"a": 0.6}, "a = 0.6"),
    ("adex", {"tau_w": 10.0}, "k_w"),
])
def test_unrepresentable_model_refused_by_the_builder(kernel, kwargs, match):
    base = MODELS[kernel]
    args = {f: getattr(base, f) for f in base.__dataclass_fields__}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Network().population(4, model=type(base)(**args), dt=DT)


def test_not_a_model_refused():
    with pytest.raises(TypeError, match="model must be a float model of neurofab.models"):
        Network().population(4, model=object(), dt=1.0)


def test_cuba_lif_model_equals_the_hand_written_population():
    """A float CUBA-LIF population is the integer population it quantises to: same
    config, same spikes."""
    model = CubaLif(tau_mem=20.0, tau_syn=5.0, threshold=1.0, v_reset=-0.25, bias=0.01,
                    refractory=2.0)
    rep = model.quantise(1.0)
    # decay = round(4096 (1 - exp(-1/tau))), v in 8192 units per V, bias * dt * scale
    hand = dict(decay_i=742, decay_v=200, threshold=8192, bias=82, v_reset=-2048, reset=0,
                refractory=2)
    assert rep.params == hand

    def build(**kw):
        net = Network(w_shift=4)
        pop = net.population(16, name="p", **kw)
        inp = net.inputs(4)
        net.project(inp, pop, 90, p=0.5, seed=3)
        net.project(pop, pop, 20, delay=2, p=0.2, seed=4)
        return compile(net)

    a, b = build(model=model, dt=1.0), build(**hand)
    assert a == b
    rng = np.random.default_rng(0)
    inputs = [np.flatnonzero(rng.random(4) < 0.3) for _ in range(200)]
    sa, sb = golden.run(a, inputs), golden.run(b, inputs)
    assert all(np.array_equal(x, y) for x, y in zip(sa, sb))
    assert sum(len(s) for s in sa) > 0


def test_shared_helpers():
    assert check_float("x", 3) == 3.0
    q = quantise_current([0.5, -1.0, 2.0], 10.0, "A")
    assert q.dtype == np.int64 and q.tolist() == [5, -10, 20]
    with pytest.raises(ValueError, match=r"current\[1\] = 5 A is outside the range"):
        quantise_current([0.0, 5.0], 10.0, "A", lo=-10, hi=10, limit="the range")
    with pytest.raises(ValueError, match=r"current\[0\] = 1e\+09 A is outside the "
                                         r"accumulator range \[-8388608, 8388607\] x 0.1 A"):
        quantise_current([1e9], 10.0, "A")
    with pytest.raises(ValueError, match="finite"):
        quantise_current([math.inf], 10.0, "A")
