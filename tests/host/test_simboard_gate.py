"""The gate-level simulated board: a whole board top (UART, COBS, CRC, link controller and
a fabric or an encoder core) synthesised by Yosys for iCE40 or ECP5, its netlist with the
vendor cell models under the simulated board's Verilator harness, driven by the host
driver and compared with golden (``build_simboard(gate=...)``)."""

import re
import time

import numpy as np
import pytest

from neurofab.boards.top import BoardTop
from neurofab.config import random_config
from neurofab.cosim.gatelevel import GATE_ARGS, cell_library
from neurofab.golden import encoded_core as golden_encoded_core
from neurofab.golden import fabric as golden_fabric
from neurofab.host import Board, simboard
from neurofab.host.simboard import (SimBoardError, UartEcho, build_info, build_simboard,
                                    serve, start_simulated_board, top_ports)
from neurofab.host.transport import open_transport
from neurofab.partition import compile_fabric
from neurofab.toolchain import ToolError

BOARD = "ulx3s"
#: 8 clocks per UART bit at the ULX3S's 90 MHz: the link is not what these tests
#: are about, and a gate-level clock is dear
BAUD = 11_250_000
#: ... and at the 2-core fabric's own 83.33 MHz (``Board.for_cores``)
FABRIC_BAUD = 10_416_666
#: 2 cores of 16 neurons; axons: 32 neurons + 16 host channels
FABRIC = dict(cores=2, n_neurons=16, n_inputs=48, syn_capacity=256)
ENCODED = dict(n_neurons=16, n_inputs=16, syn_capacity=256)
#: What each family's netlist is made of, and what only the RTL has.
CELLS = {"ecp5": ("TRELLIS_FF", "LUT4"), "ice40": ("SB_LUT4", "SB_DFF")}
#: Some of the board top's RTL modules (``amaranth.back.verilog`` names).
RTL_MODULES = ("top.uart_rx", "top.cobs_dec", "top.link", "top.core")


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def _first_divergence(got, gold):
    for t, (x, y) in enumerate(zip(got, gold)):
        if not np.array_equal(x, y):
            return f"step {t}: board {list(x)}, golden {list(y)}"
    return f"{len(got)} steps from the board, {len(gold)} from golden"


def _inputs(rng, n_inputs, steps, per_step=5):
    return [rng.choice(n_inputs, int(rng.integers(0, per_step + 1)), replace=False)
            for _ in range(steps)]


def _start(top, family):
    """Build (timed: synthesis and Verilator separately, when not cached) and start."""
    t0 = time.perf_counter()
    binary = build_simboard(top, gate=family)
    info = build_info(binary)
    synth = "cached" if info["synth_cached"] else f"{info['synth_s']} s"
    print(f"\ngate-level {family} simulated board: build {time.perf_counter() - t0:.1f} s "
          f"(when not cached: synthesis {synth}, Verilator {info['build_s']} s; "
          f"{sum(info['cells'].values())} cells)")
    assert info["gate"] == family
    _check_netlist((binary.parent / "top.v").read_text(), family, RTL_MODULES)
    return start_simulated_board(top, divisor=top.divisor, gate=family)


# --- fast: no synthesis, no build -----------------------------------------------------------
def test_a_wrong_gate_is_refused_naming_the_value_and_the_allowed_ones():
    with pytest.raises(ValueError, match=r"^gate = 'xilinx' is not one of 'ice40', 'ecp5'"):
        start_simulated_board("loopback", gate="xilinx")
    with pytest.raises(ValueError, match=r"^gate = 'ECP5' is not one of 'ice40', 'ecp5'"):
        build_simboard("module top(); endmodule", gate="ECP5")
    with pytest.raises(ValueError, match=r"^gate = 'ice' is not one of 'ice40', 'ecp5'"):
        serve("loopback", gate="ice")
    with pytest.raises(ValueError, match=r"^sim://ulx3s\?cores=2&gate=gowin: gate = 'gowin' "
                                         r"is not one of 'ice40', 'ecp5'"):
        open_transport("sim://ulx3s?cores=2&gate=gowin")
    with pytest.raises(ValueError, match=r"^gate = 'ecp5' synthesises an Amaranth component; "
                                         r"top is Verilog text"):
        build_simboard("module top(); endmodule", gate="ecp5")


def _modules(text):
    return {m.split("(")[0].lstrip("\\") for m in re.findall(r"^module\s+(\S+)", text, re.M)}


def _check_netlist(text, family, rtl_modules):
    """``text`` (what Verilator compiles) is the family's cell models and a netlist of
    module ``top`` made of vendor cells, with the harness's ports by name."""
    lib = cell_library(family)
    assert text.startswith(f"// gate-level model: {family} netlist of top") and lib in text
    netlist = text[text.index(lib) + len(lib):]
    assert _modules(netlist) == {"top"}
    for cell in CELLS[family]:
        assert re.search(rf"^\s*{cell}\w*\s", netlist, re.M), cell
    assert not _modules(text) & set(rtl_modules)
    ports = top_ports(text, "top")
    assert {p: ports[p] for p in ("clk", "rst", "rx", "tx")} == {
        "clk": ("input", 1), "rst": ("input", 1), "rx": ("input", 1), "tx": ("output", 1)}


@pytest.mark.parametrize("family", ["ecp5", "ice40"])
def test_the_gate_level_board_compiles_the_netlist(family, tmp_path, monkeypatch):
    """The Verilog handed to Verilator is the netlist with the cell models, not the RTL
    (a small top, Verilator itself replaced)."""
    seen = {}

    def fake_verilate(folder, sources, **kwargs):
        seen["text"] = (folder / sources[0]).read_text()
        seen["args"] = kwargs["args"]
        raise ToolError("not built here", "")
    monkeypatch.setattr(simboard, "verilate", fake_verilate)
    echo = UartEcho(4)
    with pytest.raises(SimBoardError, match="failed: not built here"):
        build_simboard(echo, gate=family, cache_dir=tmp_path)
    _check_netlist(seen["text"], family, {"top.fifo", "top.rx_sync"})
    assert all(a in seen["args"] for a in GATE_ARGS)
    rtl = UartEcho(4)
    with pytest.raises(SimBoardError, match="failed: not built here"):
        build_simboard(rtl, cache_dir=tmp_path)
    assert {"top.fifo", "top.rx_sync"} <= _modules(seen["text"])     # the RTL, for contrast


# --- slow: synthesis, Verilator build, a run through the host driver ------------------------
@pytest.mark.slow
@pytest.mark.parametrize("family", ["ecp5", pytest.param("ice40", marks=pytest.mark.gate_all)])
def test_gate_level_fabric_board_equals_golden(family):
    """A 2-core fabric board top at gate level: spikes equal ``run_fabric`` step by step."""
    top = BoardTop(BOARD, sim=True, baud=FABRIC_BAUD, **FABRIC)
    with _start(top, family) as proc, Board.open(proc.url) as b:
        assert b.n_cores == 2 and b.info.n_neurons == 16
        rng = np.random.default_rng(21)
        big = random_config(rng, n_neurons=32, n_inputs=16, max_fanout=6)
        fcfg = compile_fabric(big, cores=2, n_neurons=16)
        inputs = _inputs(rng, 16, 30)
        t0 = time.perf_counter()
        b.load(fcfg)
        gold = golden_fabric.run_fabric(fcfg, inputs)
        got = b.run(inputs)
        print(f"load + {len(inputs)} steps: {time.perf_counter() - t0:.1f} s")
        assert _same(got, gold), _first_divergence(got, gold)
        assert sum(map(len, gold)) > 0


@pytest.mark.slow
@pytest.mark.parametrize("board,family,baud", [
    pytest.param(BOARD, "ecp5", BAUD, marks=pytest.mark.gate_all),
    ("icebreaker", "ice40", 3_750_000)])
def test_gate_level_encoder_board_equals_golden(board, family, baud):
    """A rate-encoder board top at gate level, each family's on its own board (the
    iCEBreaker's with its output FIFO in a block RAM): values in, spikes equal
    ``golden.encoded_core`` with the encoder parameters IDENTIFY announces."""
    top = BoardTop(board, sim=True, baud=baud, encoder="rate", **ENCODED)
    assert top.core.core.spike_fifo == ("memory" if board == "icebreaker" else "registers")
    with _start(top, family) as proc, Board.open(proc.url) as b:
        assert b.encoder == "rate" and b.n_cores == 1
        args = b.encoder_args
        rng = np.random.default_rng(23)
        cfg = random_config(rng, n_neurons=16, n_inputs=16, max_fanout=6)
        cfg.bias[:3] = 2 ** 15 - 1           # three neurons fire whenever they may
        values = rng.integers(0, 256, size=(30, 16))
        t0 = time.perf_counter()
        b.load(cfg)
        gold = golden_encoded_core.run(cfg, values, "rate", **args)
        got = b.run(values)
        print(f"load + {len(values)} steps: {time.perf_counter() - t0:.1f} s")
        assert _same(got, gold), _first_divergence(got, gold)
        assert sum(map(len, gold)) > 0
