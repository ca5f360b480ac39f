# amaranth: UnusedElaboratable=no
"""Fabric RTL (``neurofab.rtl.fabric.Fabric``): construction, ports, Verilog; its
behaviour against golden is in ``tests/cosim/test_fabric.py``."""

import pytest

from neurofab.config import random_config
from neurofab.partition import compile_fabric
from neurofab.rtl.fabric import Fabric


def test_ports_and_geometry_from_config():
    fab = compile_fabric(random_config(1, n_neurons=16, n_inputs=3, max_fanout=6), cores=2)
    f = Fabric(fab)
    assert f.n_cores == 2 and f.host == 2 and f.n_neurons == 8 and f.n_inputs == 19
    names = set(f.signature.members)
    assert {"i_events", "o_spikes", "i_table", "i_mem_0", "o_mem_1", "o_step",
            "o_dropped", "o_unrouted", "o_idle"} <= names
    assert f.router.leader == 2 and f.router.ports == 3


@pytest.mark.parametrize("kw, exc, msg", [
    (dict(), TypeError, "cores is required"),
    (dict(cores=2, n_neurons=8, n_inputs=4), TypeError, "syn_capacity is required"),
    (dict(cores=16, n_neurons=8, n_inputs=4, syn_capacity=8), ValueError, "cores = 16"),
    (dict(cores=2, n_neurons=6, n_inputs=4, syn_capacity=8), ValueError, "power of two"),
])
def test_parameter_errors(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        Fabric(None, **kw)
    with pytest.raises(TypeError, match="FabricConfig"):
        Fabric("x")


def test_verilog_conversion():
    from amaranth.back import verilog
    text = verilog.convert(Fabric(None, cores=2, n_neurons=4, n_inputs=8, syn_capacity=16),
                           name="fab")
    assert "i_mem_1__valid" in text and "o_spikes__payload" in text
