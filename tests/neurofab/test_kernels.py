"""The kernel registry and the contract every kernel keeps (``neurofab/kernels.py``)."""

import copy
import json
import pickle

import numpy as np
import pytest
from amaranth import Shape, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from neurofab import spec
from neurofab.cli import main
from neurofab.kernels import KERNELS, get_kernel

NAMES = list(KERNELS)


def test_registry_names_and_numbers():
    assert NAMES == ["cuba-lif", "alif", "izhikevich", "adex"] == list(spec.KERNEL_IDS)
    assert sorted(k.kernel_id for k in KERNELS.values()) == list(range(len(NAMES)))
    with pytest.raises(ValueError, match=r"kernel = 'hh' is not a neuron kernel \(available: "
                                         r"cuba-lif, alif, izhikevich, adex\)"):
        get_kernel("hh")
    with pytest.raises(ValueError, match="kernel = 3 is not a neuron kernel"):
        get_kernel(3)


@pytest.mark.parametrize("name", NAMES)
def test_layouts_fit_the_memory_port_and_limits_fit_the_fields(name):
    k = get_kernel(name)
    assert k.state_word.size <= spec.MEM_DATA_WIDTH and k.profile.size <= spec.MEM_DATA_WIDTH
    assert list(k.state_word)[-1][0] == "profile"
    assert set(k.limits) == set(k.param_fields) and set(k.silent) == set(k.param_fields)
    for field, (lo, hi) in k.limits.items():
        shape = Shape.cast(k.profile[field].shape)
        width = shape.width
        assert lo <= hi
        if shape.signed:
            assert -(1 << (width - 1)) <= lo and hi < (1 << (width - 1)), field
        else:
            assert 0 <= lo and hi < (1 << width), field
        assert lo <= k.silent[field] <= hi, field
    assert k.word_widths[spec.Region.STATE] == k.state_word.size
    assert k.word_bytes[spec.Region.PROFILE] == -(-k.profile.size // 8)


@pytest.mark.parametrize("name", NAMES)
def test_silent_profile_never_fires(name):
    k = get_kernel(name)
    assert k.is_silent(k.silent)
    params = {f: np.full(4, v, dtype=np.int64) for f, v in k.silent.items()}
    state = k.initial_state(params)
    for _ in range(3000):
        state, spike = k.step(state, np.zeros(4, dtype=np.int64), params)
        assert not spike.any()


@pytest.mark.parametrize("name", NAMES)
def test_rtl_has_the_contract_ports(name):
    k = get_kernel(name)
    dut = k.rtl()
    members = dict(dut.signature.members)
    assert members["i_valid"] == In(1) and members["o_valid"] == Out(1)
    assert members["o_spike"] == Out(1)
    assert members["i_acc"] == In(signed(spec.ACC_WIDTH))
    assert members["i_state"] == In(k.state_word) and members["o_state"] == Out(k.state_word)
    assert members["i_params"] == In(k.profile)
    assert isinstance(dut, wiring.Component) and 1 <= k.latency <= 8 and k.ii >= 1
    dut._MustUse__silence = True


def test_a_kernel_is_a_constant_under_copy_and_pickle():
    k = get_kernel("adex")
    assert copy.copy(k) is k and copy.deepcopy(k) is k and pickle.loads(pickle.dumps(k)) is k


def test_cli_kernels_json(capsys):
    assert main(["kernels", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = {r["name"]: r for r in out["kernels"]}
    assert list(rows) == NAMES
    assert rows["cuba-lif"]["state_bits"] == 36 and rows["cuba-lif"]["latency"] == 4
    assert all(r["profile_bits"] <= 80 and r["ii"] == 1 for r in rows.values())


def test_kernel_cost_is_synthesised():
    cost = get_kernel("cuba-lif").cost()
    assert cost["dsp"] == 2 and 100 < cost["lut"] < 1000
