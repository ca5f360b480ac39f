"""Golden encoded core == encoder golden, then golden.core; state kept between calls."""

import numpy as np
import pytest

from neurofab.config import random_config
from neurofab.golden import core as C
from neurofab.golden.encoded_core import EncodedCore, run
from neurofab.golden.encoders import spike as G
from neurofab.spec import encoders as S

KINDS = {"rate": dict(seed=0x3C1), "latency": dict(window=5), "delta": dict(threshold=30),
         "population": dict(fields=4, width=6, seed=77)}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_equals_encoder_then_core(kind):
    rng = np.random.default_rng(len(kind))
    cfg = random_config(rng, n_neurons=16, n_inputs=8, max_fanout=6)
    args = KINDS[kind]
    enc = G.ENCODERS[kind](S.encoder_channels(kind, 8, args.get("fields", 8)), **args)
    values = rng.integers(0, 1 << enc.width, (20, enc.channels))
    expected_inputs = enc.run(values)
    expected = C.run(cfg, expected_inputs)
    spikes, inputs, states = run(cfg, values, kind, trace=True, **args)
    assert [list(s) for s in spikes] == [list(s) for s in expected]
    assert [list(i) for i in inputs] == [list(i) for i in expected_inputs]
    ref = C.run(cfg, expected_inputs, trace=True)[1]
    assert all((a.v == b.v).all() and (a.acc == b.acc).all() for a, b in zip(states, ref))


def test_resume_and_instance():
    rng = np.random.default_rng(5)
    cfg = random_config(rng, n_neurons=8, n_inputs=4, max_fanout=4)
    values = rng.integers(0, 256, (12, 4))
    one = EncodedCore(cfg, "rate", seed=9).run(values)
    g = EncodedCore(cfg, G.RateEncoder(4, seed=9))
    two = g.run(values[:5]) + [g.step(v) for v in values[5:]]
    assert [list(s) for s in one] == [list(s) for s in two]
    assert g.state.step == 12 and g.synaptic_events == g.core.synaptic_events


def test_channel_defaults():
    cfg = random_config(np.random.default_rng(1), n_neurons=8, n_inputs=7, max_fanout=2)
    assert EncodedCore(cfg, "rate").encoder.channels == 7
    assert EncodedCore(cfg, "delta").encoder.channels == 3
    assert EncodedCore(cfg, "population", fields=3, width=4).encoder.channels == 2


def test_errors():
    cfg = random_config(np.random.default_rng(2), n_neurons=8, n_inputs=4, max_fanout=2)
    with pytest.raises(ValueError, match="encoder = 'poisson' is not one of"):
        EncodedCore(cfg, "poisson")
    with pytest.raises(ValueError, match="drives 6 core channels, the core has n_inputs = 4"):
        EncodedCore(cfg, G.DeltaEncoder(3))
    with pytest.raises(ValueError, match="needs 8 core input channels per value"):
        EncodedCore(cfg, "population")
    with pytest.raises(TypeError, match="encoder arguments"):
        EncodedCore(cfg, G.RateEncoder(4), seed=3)
    with pytest.raises(TypeError, match="encoder must be one of"):
        EncodedCore(cfg, 42)
    with pytest.raises(ValueError, match="must have shape"):
        EncodedCore(cfg, "rate").run(np.zeros(4, dtype=np.int64))
