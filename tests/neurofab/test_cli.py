"""CLI contract: --json puts one JSON object on stdout's last line; errors are one line, exit 2."""

import json

import pytest

from neurofab.cli import main


def test_unknown_block_is_a_clear_error(capsys):
    assert main(["cosim", "--block", "nonsense", "--json"]) == 2
    out, err = capsys.readouterr()
    assert "neurofab cosim: error: --block nonsense: unknown block" in err
    assert "Traceback" not in err
    assert json.loads(out.strip().splitlines()[-1])["ok"] is False


def test_invalid_geometry_is_a_clear_error(capsys):
    assert main(["cosim", "--neurons", "12", "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "n_neurons = 12 must be a power of two" in err


def test_bench_quick_json(capsys, monkeypatch):
    from neurofab import bench
    monkeypatch.setattr(bench, "SECTIONS", [("golden", bench.bench_golden)])
    assert main(["bench", "--quick", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert summary["golden_neuron_updates_per_s"] > 0
    assert summary["golden_vs_loop_ratio"] > 1


def test_bench_kernels_quick_json(capsys, monkeypatch):
    """Per kernel: golden step and core rates, Verilator core cosim bit-exact with its rate
    (the quick geometry shares tests/cosim/test_kernels.py's Verilator builds)."""
    from neurofab import bench
    from neurofab.kernels import KERNELS
    monkeypatch.setattr(bench, "SECTIONS", [("kernels", bench.bench_kernels)])
    assert main(["bench", "--quick", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    kernels = json.loads(out[-1])["kernels"]
    assert list(kernels) == list(KERNELS)
    for name, r in kernels.items():
        assert r["step_neuron_updates_per_s"] > 0 and r["core_neuron_updates_per_s"] > 0, name
        assert r["core_synaptic_events_per_s"] > 0, name
        assert r["cosim_bit_exact"] is True, name
        assert r["cosim_verilator_cycles_per_s"] > 0 and r["cosim_steps"] > 0, name


@pytest.mark.slow
def test_bench_stream_quick_json(capsys, monkeypatch):
    """The streaming section on a simulated iCEBreaker of its own: steps/s, events/s and
    the link efficiency (event bytes per byte the simulated line could carry: at most 1;
    a full READ_EVENTS reply is about 0.93 event bytes per wire byte)."""
    from neurofab import bench
    monkeypatch.setattr(bench, "SECTIONS", [("streaming", bench.bench_stream)])
    assert main(["bench", "--quick", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0.3 < summary["stream_link_efficiency"] < 0.94
    assert summary["stream_steps_per_s"] > 0 and summary["stream_sim_cycles_per_s"] > 0
    # every neuron of the power-on network fires in every step: 256 events per step
    assert summary["stream_events_per_s"] == pytest.approx(256 * summary["stream_steps_per_s"],
                                                           rel=0.01)


@pytest.mark.slow
def test_demo_json(capsys, tmp_path, monkeypatch):
    # the main job without its bitstream (built by the next test and tests/boards)
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--steps", "30", "--no-build", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["golden_equals_board"] is True and summary["golden_equals_rtl"] is True
    assert summary["steps"] == 30 and summary["spikes"] > 0 and summary["link_bytes"] > 0
    assert summary["wall_s"] > 0 and summary["bitstream"] is None
    assert (tmp_path / summary["raster"]).is_file()


def test_build_refuses_a_network_that_does_not_fit(capsys, tmp_path):
    from neurofab.config import random_config
    random_config(1, n_neurons=512, n_inputs=4).save(tmp_path / "big.nfcfg")
    assert main(["build", "--board", "tang-nano-9k", "--network",
                 str(tmp_path / "big.nfcfg"), "--out", str(tmp_path), "--json"]) == 2
    err = capsys.readouterr().err
    assert "network does not fit board tang-nano-9k" in err
    assert "neurons: 512 needed, 256 available (over by 256)" in err
    assert "Traceback" not in err


def test_build_learning_refusals(capsys, tmp_path):
    from neurofab.config import random_config, random_learning
    assert main(["build", "--board", "tang-nano-9k", "--learning", "--out", str(tmp_path),
                 "--json"]) == 2
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["ok"] is False and "a learning core does not fit board tang-nano-9k" in \
        out["error"]
    cfg = random_config(1, n_neurons=8, n_inputs=4)
    cfg.save(tmp_path / "static.nfcfg")
    random_learning(1, cfg).save(tmp_path / "plastic.nfcfg")
    assert main(["build", "--board", "ulx3s", "--learning", "--network",
                 str(tmp_path / "static.nfcfg"), "--out", str(tmp_path)]) == 2
    assert "--learning on does not match the network, which does not learn" in \
        capsys.readouterr().err


def test_build_cores_without_a_count_is_the_registry_default(capsys, monkeypatch):
    """``build --cores`` alone builds the board's largest fabric that met its clock goal
    (``Board.default_cores``); ``--cores K`` and no ``--cores`` are as before."""
    from neurofab import cli
    from neurofab.boards import get_board
    seen = []

    class Report:
        def summary(self):
            return "(no build)"

    def fake_build(board, con, **kw):
        seen.append(kw["cores"])
        return Report(), {"board": board, "cores": kw["cores"] or 1}

    monkeypatch.setattr(cli, "build_board", fake_build)
    for argv in (["--cores"], ["--cores", "3"], []):
        assert main(["build", "--board", "ulx3s", *argv, "--json"]) == 0
    assert seen == [get_board("ulx3s").default_cores, 3, None]
    assert get_board("ulx3s").default_cores >= 2
    capsys.readouterr()
    for name in ("icebreaker", "tang-nano-9k"):
        if get_board(name).default_cores > 1:
            continue
        assert main(["build", "--board", name, "--cores", "--json"]) == 2
        out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert out["error"].startswith(f"--cores: no fabric fits board {name}")
    assert len(seen) == 3


@pytest.mark.parametrize("argv, message", [
    (["cosim", "--steps", "-3"], "--steps -3 must be at least 1"),
    (["cosim", "--gap", "1"], "--gap 1.0 must be in [0.0, 1.0)"),
    (["cosim", "--stall", "nan"], "--stall nan must be in [0.0, 1.0)"),
    (["run", "--url", "tcp://127.0.0.1:1", "--network", "x", "--rate", "7"],
     "--rate 7.0 must be in [0.0, 1.0]"),
    (["run", "--url", "tcp://127.0.0.1:1", "--network", "x", "--rate", "nan"],
     "--rate nan must be in [0.0, 1.0]"),
    (["demo", "--steps", "0"], "--steps 0 must be at least 1"),
    (["sim-board", "--port", "70000"], "--port 70000 must be in [0, 65535]"),
])
def test_numeric_options_out_of_range_are_refused(argv, message, capsys):
    assert main(argv + ["--json"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out.strip().splitlines()[-1]) == {"ok": False, "error": message}
    assert message in err
