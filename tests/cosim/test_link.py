"""Host-link blocks co-simulated against their golden twins (``neurofab.cosim.link``).

Every link block on both back ends with two seeds: on the Amaranth simulator a random
instance per seed, on Verilator fixed parameters (one cached build per block, shared by
the seeds). Then the comparison failing: perturbed golden expectations and a wrong RTL
instance are reported as not bit-exact with the right first divergence; an empty frame's
NAK carries seq 0, not the previous frame's.
"""

import json

import numpy as np
import pytest

from neurofab import spec
from neurofab.cli import main
from neurofab.cosim import link as L
from neurofab.cosim.engine import StepCase
from neurofab.cosim.engine import run as run_case
from neurofab.cosim.registry import BLOCKS, LINK_BLOCKS, cosim_block, make_case
from neurofab.spec import FrameStatus

#: Verilator: one Verilog per block (the stimulus still differs per seed)
VERILATOR = {
    "uart-rx": dict(divisor=5),
    "uart-tx": dict(divisor=5),
    "cobs-dec": dict(max_frame=68),       # the controller's max_payload 64 + 4
    "cobs-enc": dict(max_len=300),
    "crc16": dict(params=spec.CRC16_NAME),
    "link-controller": {},
}
STEPS = {"link-controller": 30}


def test_link_blocks_are_registered():
    assert set(LINK_BLOCKS) <= set(BLOCKS) and set(VERILATOR) == set(LINK_BLOCKS)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("backend", ["amaranth", pytest.param("verilator", marks=pytest.mark.slow)])
@pytest.mark.parametrize("block", LINK_BLOCKS)
def test_link_block(block, backend, seed, tmp_path):
    steps = STEPS.get(block, 12)
    params = VERILATOR[block] if backend == "verilator" else None
    res = cosim_block(block, backend=backend, seed=seed, steps=steps, params=params,
                      workdir=tmp_path)
    assert res.bit_exact, res.report()
    s = res.summary()
    assert json.loads(json.dumps(s)) == s
    assert (s["block"], s["backend"], s["steps"]) == (block, backend, steps)
    assert s["cycles"] > 0 and s["output_spikes"] > 0
    assert s["states_checked"] == (steps if block == "crc16" else 0)


# --- the stimulus covers what it claims -----------------------------------------------
def _words(case, port):
    return [w for st in case.steps for w in st.gets.get(port, [])]


def _field(layout, name, word):
    f = layout[name]
    return (word >> f.offset) & ((1 << f.width) - 1)


def test_uart_rx_stimulus_has_errors_and_glitches():
    case = make_case("uart-rx", 3, 20, dict(divisor=6))
    kinds = [_field(L.RxEvent, "kind", w) for w in _words(case, "o_event")]
    assert kinds.count(0) > 20 and kinds.count(1) >= 2
    # a glitch: a low run of at most half a bit between high runs
    runs = [(_field(L.LineRun, "level", w), _field(L.LineRun, "cycles", w))
            for st in case.steps for w in st.puts["i_line"]]
    assert any(level == 0 and n <= 3 for level, n in runs)


def test_cobs_dec_stimulus_has_every_status():
    statuses = set()
    for seed in (1, 2):
        case = make_case("cobs-dec", seed, 12, VERILATOR["cobs-dec"])
        statuses |= {_field(spec.DecodedByte, "status", w) for w in _words(case, "o_stream")
                     if _field(spec.DecodedByte, "end", w)}
    assert statuses == {s.value for s in FrameStatus}


def test_link_controller_session_covers_the_protocol():
    """Over the test seeds: every opcode replied to, spikes read back, link and command
    NAKs."""
    opcodes, naks, spikes = set(), set(), 0
    for seed in (1, 2):
        case = make_case("link-controller", seed, STEPS["link-controller"])
        body = bytearray()
        for w in _words(case, "o_frame"):
            body.append(w & 0xFF)
            if _field(spec.FrameByte, "last", w):
                opcodes.add(body[0])
                if body[0] == spec.NAK_OPCODE:
                    naks.add(body[2])
                if body[0] == spec.reply_opcode(spec.Opcode.READ_EVENTS):
                    spikes += (len(body) - 4 - 8) // 2
                body.clear()
    assert {spec.reply_opcode(op) for op in (spec.Opcode.IDENTIFY, spec.Opcode.WRITE_MEM,
                                             spec.Opcode.RUN, spec.Opcode.READ_EVENTS)} \
        <= opcodes
    assert spec.NAK_OPCODE in opcodes and len(naks) >= 2 and spikes > 5


# --- the comparison fails when it should ----------------------------------------------
@pytest.mark.parametrize("backend", ["amaranth", pytest.param("verilator", marks=pytest.mark.slow)])
def test_uart_tx_wrong_expected_byte(backend, tmp_path):
    """A golden line built from one wrong byte: the first differing clock is named."""
    case = make_case("uart-tx", 4, 3, VERILATOR["uart-tx"])
    d = VERILATOR["uart-tx"]["divisor"]
    # bit 3 of the second byte of step 1 flipped: its cycles 1 + 4d .. 1 + 5d - 1
    case.steps[1].gets["o_line"][1] ^= ((1 << d) - 1) << (1 + 4 * d)
    vcd = tmp_path / "tx.vcd"
    res = run_case(case, backend=backend, seed=4, vcd_path=vcd, workdir=tmp_path / "w")
    assert not res.bit_exact
    div = res.first_divergence
    assert (div.step, div.where, div.field) == (1, "o_line[1]", f"cycle {1 + 4 * d} (bit 4)")
    assert vcd.exists() and "NOT bit-exact" in res.report()


def test_uart_rx_wrong_expected_byte(tmp_path):
    case = make_case("uart-rx", 5, 4, VERILATOR["uart-rx"])
    t = next(t for t, st in enumerate(case.steps) if st.gets["o_event"])
    case.steps[t].gets["o_event"][0] ^= 0x10
    res = run_case(case, seed=5, vcd_path=tmp_path / "rx.vcd")
    d = res.first_divergence
    assert not res.bit_exact and (d.step, d.where, d.field) == (t, "o_event[0]", "data")
    assert d.got == d.expected ^ 0x10


def test_uart_tx_wrong_divisor_is_caught(tmp_path):
    """A transmitter one clock per bit slower than the golden line."""
    case = make_case("uart-tx", 6, 3, dict(divisor=5))
    case.factory = lambda: L.UartTxBench(6)
    res = run_case(case, vcd_path=tmp_path / "tx.vcd")
    d = res.first_divergence
    assert not res.bit_exact and (d.step, d.where) == (0, "o_line[0]"), str(d)


def test_link_controller_wrong_expected_reply(tmp_path):
    case = make_case("link-controller", 7, 4)
    case.steps[0].gets["o_frame"][3] ^= 0x01     # IDENTIFY payload byte 1 (protocol, MSB)
    res = run_case(case, seed=7, vcd_path=tmp_path / "ctrl.vcd")
    d = res.first_divergence
    assert not res.bit_exact and (d.step, d.where, d.field) == (0, "o_frame[3]", "data")


def test_crc16_wrong_state(tmp_path):
    case = make_case("crc16", 8, 3, VERILATOR["crc16"])
    case.steps[2].state["crc"] ^= 0x8000
    res = run_case(case, seed=8, vcd_path=tmp_path / "crc.vcd")
    d = res.first_divergence
    assert not res.bit_exact and (d.step, d.where, d.field) == (2, "state", "crc")


def test_link_controller_empty_frame_nak_has_seq_0(tmp_path):
    # an empty frame after one with seq 0x99: its NAK must not carry the stale seq
    from neurofab.config import random_config
    cfg = random_config(1, n_neurons=16, n_inputs=8, max_fanout=1)
    s = L._Session(np.random.default_rng(0), L.controller_model(cfg))
    s.command(L.codec.echo(b"x"), seq=0x99)
    s.frame(b"", FrameStatus.COBS)               # no byte at all: FRAMING, opcode 0, seq 0
    s.end_step()
    case = StepCase("link-controller", {}, L.controller_bench, s.steps,
                       {"o_frame": ("struct", spec.FrameByte)})
    res = run_case(case, vcd_path=tmp_path / "empty.vcd")
    assert res.bit_exact, res.report()


# --- CLI ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_link_block_verilator(capsys):
    assert main(["cosim", "--block", "uart-tx", "--backend", "verilator", "--steps", "4",
                 "--seed", "1", "--json"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["bit_exact"] is True and (s["block"], s["backend"]) == ("uart-tx", "verilator")
