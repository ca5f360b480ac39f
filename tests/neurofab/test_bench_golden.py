"""``make bench`` section "golden reference network": the network it measures and its JSON."""

import json

import numpy as np

from neurofab import bench
from neurofab.bench_golden import float_baseline, reference_inputs, reference_network
from neurofab.cli import main


def test_reference_network_fires_about_three_percent():
    cfg = reference_network()
    assert (cfg.n_neurons, cfg.n_inputs) == (1024, 64)
    recurrent = np.diff(cfg.fanout_ptr)[:cfg.n_neurons]
    assert 0.09 < recurrent.mean() / cfg.n_neurons < 0.11
    assert set(cfg.syn_delay.tolist()) == {1}
    raster = reference_inputs(1, 100)[0]
    from neurofab.golden import run
    firing = sum(map(len, run(cfg, [np.flatnonzero(r) for r in raster]))) / 100 / 1024
    assert 0.02 < firing < 0.04
    assert 0.02 < float_baseline(cfg, raster) / 100 / 1024 < 0.04


def test_bench_section_quick_json(capsys, monkeypatch):
    monkeypatch.setattr(bench, "SECTIONS", [("golden reference network",
                                             bench.bench_golden_reference)])
    assert main(["bench", "--quick", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("golden_ref_steps_per_s", "golden_stepwise_steps_per_s",
                "float_baseline_steps_per_s", "golden_vs_float_ratio",
                "golden_batch_sample_steps_per_s", "golden_batch_vs_sequential_ratio"):
        assert summary[key] > 0, key
    assert summary["golden_batch_size"] == 256
    assert summary["golden_batch_bit_exact"] is True
