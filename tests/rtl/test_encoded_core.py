"""EncodedCore: ports, parameter checks, elaboration (behaviour: tests/cosim)."""

import numpy as np
import pytest
from amaranth.back import rtlil

from neurofab.config import random_config
from neurofab.rtl.encoded_core import EncodedCore
from neurofab.rtl.encoders import DeltaEncoder, RateEncoder


def _cfg(n_inputs=6):
    return random_config(np.random.default_rng(3), n_neurons=8, n_inputs=n_inputs, max_fanout=3)


def test_ports_and_parts():
    dut = EncodedCore(_cfg(), "delta", width=10, threshold=5)
    members = dut.signature.members
    assert set(members) == {"i_value", "o_spikes", "i_mem", "o_mem", "o_idle", "i_flush"}
    assert dut.i_value.payload.shape().width == 10
    assert isinstance(dut.encoder, DeltaEncoder) and dut.encoder.channels == 3
    assert (dut.n_neurons, dut.n_inputs) == (8, 6)
    rtlil.convert(dut)


def test_instance_and_empty_core():
    enc = RateEncoder(4, seed=11)
    dut = EncodedCore(None, enc, n_neurons=16, n_inputs=4, syn_capacity=64)
    assert dut.encoder is enc and dut.core.syn_capacity == 64
    rtlil.convert(dut)


@pytest.mark.parametrize("args, exc, match", [
    (("poisson",), ValueError, "encoder = 'poisson' is not one of"),
    (("population",), ValueError, "needs 8 core input channels per value"),
    ((None,), TypeError, "encoder must be one of"),
])
def test_bad_encoder(args, exc, match):
    with pytest.raises(exc, match=match):
        EncodedCore(_cfg(), *args)


def test_too_many_channels_and_stray_args():
    with pytest.raises(ValueError, match="drives 8 core channels, the core has n_inputs = 6"):
        EncodedCore(_cfg(), "rate", channels=8)
    enc = RateEncoder(2)
    with pytest.raises(TypeError, match="encoder arguments"):
        EncodedCore(_cfg(), enc, seed=3)
    rtlil.convert(enc)           # the instance stays usable
