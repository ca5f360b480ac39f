"""EncodedCore (spike encoder -> neuron core) == golden encoded core on the Amaranth simulator:
the spikes of every step, the core's full state and the encoder's state after every step,
under random gaps and back-pressure; and the example network."""

import numpy as np
import pytest

from neurofab.cosim.encoded_core import encoded_core_case
from neurofab.cosim.engine import run as run_case
from neurofab.cosim.registry import make_case
from neurofab.examples import encoded_example
from neurofab.golden.encoded_core import run as golden_run


@pytest.mark.parametrize("kind", ["rate", "latency", "delta", "population"])
def test_each_encoder(kind):
    case = make_case("encoded-core", 11, 8, {"encoder": kind, "neurons": 8, "n_inputs": 6})
    res = run_case(case, seed=11)
    assert res.bit_exact, res.report()
    assert res.states_checked == 8 and res.synaptic_events > 0


def test_example_network():
    cfg, values, encoder = encoded_example()
    spikes = golden_run(cfg, values, **encoder)
    fired = np.concatenate(spikes)
    assert set(fired[fired < 8]) == set(range(8))        # the bar reaches every detector
    assert 8 in fired                                     # and the inhibitory neuron fires
    res = run_case(encoded_core_case(cfg, values[:16], **encoder), seed=2)
    assert res.bit_exact, res.report()
