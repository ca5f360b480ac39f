"""Every registered block is bit-exact through the one command-line path,
``neurofab cosim --block B --backend K --seed S --json``, on the Amaranth simulator and on
Verilator (combinational blocks included); the JSON summary is the engine's."""

import json

import pytest

from neurofab.cli import main
from neurofab.cosim.registry import BLOCKS, OPTIONS, backends_of, builder, make_case

KEYS = {"bit_exact", "backend", "block", "steps", "input_events", "output_spikes", "cycles",
        "sim_cycles", "cycles_per_s", "seed", "params", "states_checked", "first_divergence"}


def _cosim(capsys, block, backend, seed=1, steps=4):
    status = main(["cosim", "--block", block, "--backend", backend, "--seed", str(seed),
                   "--steps", str(steps), "--neurons", "16", "--json"])
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return status, s


def test_every_block_resolves():
    assert {"core", "router", "fabric", "sc-mul", "sc-add", "link-controller"} <= set(BLOCKS)
    for block in BLOCKS:
        assert callable(builder(block)), block
        assert "verilator" in backends_of(block) and "amaranth" in backends_of(block)
    assert set(OPTIONS) <= set(BLOCKS)


def test_a_seed_names_one_case():
    a, b, c = make_case("sc-div", 5, 3), make_case("sc-div", 5, 3), make_case("sc-div", 6, 3)
    assert a.params == b.params and a.steps == b.steps
    assert (a.params, a.steps) != (c.params, c.steps)


@pytest.mark.parametrize("backend", ["amaranth",
                                     pytest.param("verilator", marks=pytest.mark.slow)])
@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_block_is_bit_exact(block, backend, capsys):
    status, s = _cosim(capsys, block, backend)
    assert status == 0 and s["bit_exact"] is True, s
    assert KEYS <= s.keys() and (s["block"], s["backend"]) == (block, backend)
    assert s["cycles"] > 0 and s["sim_cycles"] >= s["cycles"]


def test_unknown_block_is_refused(capsys):
    assert main(["cosim", "--block", "nope", "--json"]) == 2
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["ok"] is False and "--block nope: unknown block" in s["error"]


@pytest.mark.slow
@pytest.mark.parametrize("block, backend", [("sc-div", "gate-ice40"), ("crc16", "gate-ecp5")])
def test_gate_level_plays_any_block(block, backend, capsys):
    """Gate level is a back end of the engine, not of the core alone: the netlist of any
    block, its own ports made public."""
    status, s = _cosim(capsys, block, backend)
    assert status == 0 and s["bit_exact"] is True, s
    assert s["backend"] == backend and s["build"]["cells"], s
