"""iCE40 cost of the SC blocks (Yosys synth_ice40): the table in docs/stochastic.md is what
the current RTL synthesises to, so it cannot go stale silently."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "stochastic.md"


def _docs_row(name):
    for line in DOCS.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == name:
            return cells[1:]
    raise AssertionError(f"no row {name!r} in docs/stochastic.md")


def _close(measured, documented, rel=0.10):
    return abs(measured - documented) <= max(1, rel * documented)


@pytest.mark.slow
def test_lane_cost_matches_docs():
    from neurofab.rtl.encoders.cost import LANES, lane_costs
    name = "ScTanh (K = 8)"
    got = lane_costs([name])[name]
    documented = _docs_row(name)
    for k, n in enumerate(LANES):
        lut, ff = (int(x) for x in re.findall(r"\d+", documented[k]))
        assert _close(got[n]["lut"], lut) and got[n]["ff"] == ff, (n, got[n], documented[k])
    per_lut, per_ff = (float(x) for x in re.findall(r"[\d.]+", documented[len(LANES)]))
    top = max(LANES)
    assert _close(got[top]["lut"] / top, per_lut) and got[top]["ff"] / top == per_ff


@pytest.mark.slow
def test_fixed_cost_matches_docs():
    from neurofab.rtl.encoders.cost import fixed_costs
    name = "Lfsr (16 bits, leap 17)"
    got = fixed_costs([name])[name]
    lut, ff, carry, ram = (int(x) for x in _docs_row(name))
    assert _close(got["lut"], lut) and (got["ff"], got["ram"]) == (ff, ram)


def test_unknown_block():
    from neurofab.rtl.encoders.cost import fixed_costs, lane_costs
    with pytest.raises(ValueError, match="block = 'ScDiv' is not one of"):
        lane_costs(["ScDiv"])
    with pytest.raises(ValueError, match="block = 'x' is not one of"):
        fixed_costs(["x"])
