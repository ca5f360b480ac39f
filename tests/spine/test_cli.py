"""CLI contract: --json puts one JSON object on stdout's last line; errors are one line, exit 2."""

import json

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
