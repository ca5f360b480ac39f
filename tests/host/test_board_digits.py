"""``neurofab demo --task digits``: the snnTorch-trained network imported from NIR on the
simulated iCEBreaker, sample by sample equal to golden."""

import json

import pytest

from neurofab.cli import main

pytestmark = pytest.mark.slow


def test_digits_demo_on_the_simulated_board(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--task", "digits", "--samples", "40", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["samples"] == 40
    assert summary["predictions_equal"] is True and summary["golden_equals_board"] is True
    assert summary["board_accuracy"] == summary["golden_accuracy"] >= 0.9
    assert set(summary) >= {"float_accuracy", "golden_accuracy", "board_accuracy",
                            "predictions_equal"}
    assert (tmp_path / summary["plot"]).exists()


def test_digits_samples_out_of_range_is_refused(capsys):
    assert main(["demo", "--task", "digits", "--samples", "0", "--json"]) != 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "samples = 0 is outside the limit [1, 360]" in json.dumps(out)
