"""Bad numbers at the public entry points: refused with field, value and limit, never
truncated (reliability issue, defects 6 and 7: each case here was accepted or gave a raw
numpy message before)."""

import json

import numpy as np
import pytest

from neurofab import golden
from neurofab.cli import main
from neurofab.config import Network, compile


@pytest.fixture
def net():
    n = Network()
    n.population(4, threshold=10)
    n.inputs(3)
    return n


@pytest.mark.parametrize("kwargs, err, match", [
    ({"weight": 127.9}, TypeError, "weight must be an integer, not 127.9"),
    ({"weight": np.full((3, 4), np.nan)}, TypeError, "weight must hold integers, not float64"),
    ({"weight": np.ones((2, 2), dtype=int)}, ValueError,
     r"weight has shape \(2, 2\), expected a scalar or \(3, 4\)"),
    ({"weight": 3, "delay": 1.5}, TypeError, "delay must be an integer, not 1.5"),
    ({"weight": 3, "p": -0.5}, ValueError, r"p = -0.5 is outside the limit \[0, 1\]"),
    ({"weight": 3, "p": 1.5}, ValueError, r"p = 1.5 is outside the limit \[0, 1\]"),
    ({"weight": 3, "p": float("nan")}, ValueError, "p = nan must be a finite number"),
    ({"weight": 3, "pairs": ([0.5], [1])}, TypeError, r"pairs\[0\] must hold integers"),
    ({"weight": 3, "pairs": ([0, 1], [1])}, ValueError, "pairs has 2 pre and 1 post"),
])
def test_project_refuses_non_integers_and_bad_shapes(net, kwargs, err, match):
    with pytest.raises(err, match=match):
        net.project(net.input_groups[0], net.populations[0], **kwargs)


def test_sizes_are_integers_checked_before_allocation():
    with pytest.raises(TypeError, match="input group size must be an integer, not 2.5"):
        Network().inputs(2.5)
    with pytest.raises(ValueError, match=r"size = 1000000000000 is outside the limit"):
        Network().population(10 ** 12)
    with pytest.raises(TypeError, match="threshold must be an integer, not nan"):
        Network().population(2, threshold=float("nan"))


@pytest.mark.parametrize("step, err, match", [
    ([1.5], TypeError, r"inputs\[0\] must hold integer channel indices, not float64"),
    (["2"], TypeError, r"inputs\[0\] must hold integer channel indices, not <U1"),
    (np.array([True, False, True]), TypeError, r"inputs\[0\] is a boolean row"),
    ([[1, 2]], ValueError, r"inputs\[0\] has shape \(1, 2\)"),
])
def test_golden_run_refuses_non_integer_channels(net, step, err, match):
    cfg = compile(net)
    with pytest.raises(err, match=match):
        golden.run(cfg, [step])


def test_golden_run_takes_empty_steps_of_any_type(net):
    cfg = compile(net)
    assert [s.size for s in golden.run(cfg, [[], np.array([]), np.zeros(0, int)])] == [0, 0, 0]


def test_argument_errors_answer_in_json(capsys):
    assert main(["demo", "--bogus", "--json"]) == 2
    out = capsys.readouterr()
    assert json.loads(out.out.strip().splitlines()[-1]) == {
        "ok": False, "error": "neurofab: error: unrecognized arguments: --bogus"}
    assert "usage:" in out.err


def test_unknown_demo_board_fails_before_any_work(capsys):
    assert main(["demo", "--board", "nosuch", "--json"]) == 2
    err = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]
    assert err.startswith("unknown board 'nosuch'; known boards: icebreaker")


def test_compile_checks_n_neurons_before_allocating():
    """``compile(net, n_neurons=10**12)`` used to allocate terabytes (killed by the OOM
    killer); found by tests/fuzz."""
    net = Network()
    net.population(3, threshold=5)
    with pytest.raises(ValueError, match=r"n_neurons = 1000000000000 must be a power of two"):
        compile(net, n_neurons=10 ** 12)
    with pytest.raises(TypeError, match="n_neurons must be an integer, not 8.0"):
        compile(net, n_neurons=8.0)


def test_int_arrays_refuse_values_beyond_64_bits():
    net = Network()
    a = net.population(2, threshold=5)
    with pytest.raises(ValueError, match="delay = 9223372036854775808 is outside the limit"):
        net.project(net.inputs(1), a, weight=0, delay=2 ** 63)
