"""Fixtures of the board-build tests.

* ``board_build`` — ``board_build(name)``: the registry's ``BoardTop`` of board ``name``
  built once per session (``board_builds``), returned with its progress steps; later
  tests reuse it. ``make test`` distributes test files over pytest-xdist workers, so the
  iCEBreaker build (``test_build.py``, with the tests that reuse it) and the ULX3S and
  Tang Nano 9K builds (``test_build_ulx3s_tang.py``) run side by side.
* ``check_build_report`` — ``check_build_report(rep, board)``: what every fresh build
  of a board top must report.
"""

import json

import pytest

from neurofab.boards.build import BuildReport, build
from neurofab.boards.top import board_top_factory


@pytest.fixture(scope="session")
def board_build(board_builds):
    built = {}

    def get(name):
        if name not in built:
            steps = []
            rep = build(name, board_top_factory, out_dir=board_builds,
                        progress=lambda *step: steps.append(step))
            built[name] = (rep, steps)
        return built[name]
    return get


def _check_report(rep, board):
    assert isinstance(rep, BuildReport)
    assert not rep.cached
    assert rep.bitstream.is_file() and rep.bitstream.stat().st_size > 0
    assert rep.bitstream.suffix == "." + board.bitstream_ext
    assert rep.device == board.device
    # timing: every clock met, the core clock at least the board's target
    assert rep.timing_met
    assert rep.fmax >= board.f_core * 0.999
    assert rep.f_target == pytest.approx(board.f_core, rel=2e-3)
    assert rep.synaptic_ops_per_s == rep.fmax
    # resources within the device
    for key in ("lut", "ff", "bram", "spram", "dsp"):
        assert key in rep.resources, key
        r = rep.resources[key]
        assert 0 <= r.used <= r.available, (key, r)
    assert rep.resources["lut"].used > 1000 and rep.resources["ff"].used > 1000
    assert rep.resources["bram"].used > 0
    assert rep.resources["lut"].available == board.lut_total
    assert rep.resources["bram"].available == board.bram_count
    assert rep.resources["dsp"].available == board.dsp_total
    # the report describes the core that was built: the registry's geometry
    assert (rep.n_neurons, rep.n_inputs, rep.syn_capacity) == (
        board.n_neurons, board.n_inputs, board.syn_capacity)
    # the stored report round-trips
    stored = json.loads((rep.build_dir / "neurofab-report.json").read_text())
    restored = BuildReport.from_dict(stored).to_dict()
    current = rep.to_dict()
    for d in (restored, current):
        d.pop("seconds_this_call")
    assert restored == current
    script = (rep.build_dir / "build_top.sh").read_text()
    assert "--timing-allow-fail" not in script
    # the report names the placer seed of this bitstream (None: nextpnr's default)
    assert rep.nextpnr_seed in board.placer_seeds
    assert (f"--seed {rep.nextpnr_seed}" in script) == (rep.nextpnr_seed is not None)
    print(rep.summary())


@pytest.fixture
def check_build_report():
    return _check_report
