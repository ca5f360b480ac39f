"""SC accuracy study: Sobol/VdC converge ~1/L, LFSR ~1/sqrt(L); table formatting."""

import numpy as np
import pytest

from neurofab.golden.encoders.accuracy import accuracy_study, format_study


def test_convergence_rates():
    lengths = (16, 64, 256, 1024)
    s = accuracy_study(lengths, width=12, samples=256, trials=8)
    sob, lf = np.array(s["sobol"]["represent"]), np.array(s["lfsr-leap"]["represent"])
    assert (sob < lf).all()
    # 64x longer: ~1/L gives 64x less error, ~1/sqrt(L) gives 8x
    assert sob[0] / sob[-1] > 40
    assert 4 < lf[0] / lf[-1] < 40
    assert np.array(s["sobol"]["multiply"])[-1] < np.array(s["lfsr"]["multiply"])[-1]
    assert s["vdc"]["multiply"] is None and s["vdc"]["represent"] == s["sobol"]["represent"]


def test_full_period_is_exact():
    s = accuracy_study((256,), width=8, samples=64, sources=("sobol", "vdc"))
    assert s["sobol"]["represent"] == [0.0] and s["vdc"]["represent"] == [0.0]


def test_format_and_errors():
    s = accuracy_study((16, 64), width=8, samples=8, trials=2)
    table = format_study(s, (16, 64))
    assert table.splitlines()[0] == "| source | operation | L = 16 | L = 64 |"
    assert len(table.splitlines()) == 2 + 7
    with pytest.raises(ValueError, match="source = 'x' is not one of"):
        accuracy_study((16,), sources=("x",))


def test_docs_table_is_current():
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / "docs" / "stochastic.md").read_text()
    assert format_study(accuracy_study()) in text
