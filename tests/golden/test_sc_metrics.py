"""SCC, RMSE metric, the accuracy plot and the stochastic bench section."""

from pathlib import Path

import numpy as np
import pytest

from neurofab.golden.encoders import sng_bank
from neurofab.golden.encoders.accuracy import accuracy_study, plot_study, scc, scc_study

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_scc_extremes():
    rng = np.random.default_rng(1)
    vals = np.broadcast_to(np.array([[900, 2500]]), (4096, 2))
    shared = sng_bank(vals, width=12, source="lfsr", seed=77, shared=True)
    assert scc(shared[:, 0], shared[:, 1]) == pytest.approx(1.0)
    a = (rng.random(20000) < 0.4).astype(np.uint8)
    assert scc(a, 1 - a) == pytest.approx(-1.0)                  # disjoint ones
    b = (rng.random(20000) < 0.7).astype(np.uint8)
    assert abs(scc(a, b)) < 0.05                                 # independent
    assert scc(a, np.ones_like(a)) == 0.0                        # constant stream
    both = scc(np.stack([a, a], 1), np.stack([a, 1 - a], 1))      # vectorised over lanes
    assert both == pytest.approx([1.0, -1.0])


def test_rmse_and_scc_study():
    mae = accuracy_study((64, 256), width=8, samples=32, trials=2, sources=("sobol",))
    rmse = accuracy_study((64, 256), width=8, samples=32, trials=2, sources=("sobol",),
                          metric="rmse")
    assert all(r >= m for r, m in zip(rmse["sobol"]["multiply"], mae["sobol"]["multiply"]))
    with pytest.raises(ValueError, match="metric = 'max'"):
        accuracy_study((16,), metric="max")
    s = scc_study((64, 1024), width=10, samples=32, trials=2)
    assert set(s) == {"lfsr", "lfsr-leap", "sobol"}
    assert s["sobol"][1] < s["sobol"][0] and s["sobol"][1] < 0.05
    with pytest.raises(ValueError, match="single sequence"):
        scc_study((16,), sources=("vdc",))


def test_plot(tmp_path):
    study = accuracy_study((16, 64, 256), width=8, samples=16, trials=2)
    p = plot_study(tmp_path / "acc.png", study, lengths=(16, 64, 256), width=8)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_docs_reference_the_plot():
    png = DOCS / "stochastic_accuracy.png"
    assert png.exists() and png.stat().st_size < 100_000
    assert "(stochastic_accuracy.png)" in (DOCS / "stochastic.md").read_text()


def test_bench_section_quick():
    from neurofab.bench_encoders import bench_stochastic
    lines = []
    out = bench_stochastic(lines.append, quick=True)
    assert out["sc_scc_shared_lfsr"] == 1.0
    for src in ("lfsr", "lfsr_leap", "sobol"):
        assert out[f"sc_mul_rmse_L4096_{src}"] < out[f"sc_mul_rmse_L256_{src}"]
    assert out["sc_mul_rmse_L256_sobol"] < out["sc_mul_rmse_L256_lfsr"]
    assert out["sc_golden_sng_bits_per_s"] > 0 and len(lines) == 4
