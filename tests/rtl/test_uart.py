"""RTL UartTx / UartRx vs the golden UART model (waveforms and the bit-true receiver)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from neurofab import spec
from neurofab.cosim.streams import get, put_all
from neurofab.golden.link.uart import (BITS_PER_FRAME, RxEvent, uart_bits, uart_receive,
                                       uart_waveform)
from neurofab.rtl.link.uart import UartRx, UartTx

SYNC_STAGES = 2


# --- transmitter -------------------------------------------------------------------
def run_tx(data, divisor, *, gap, seed):
    """Send ``data``; return (line level sampled at every clock edge, accept edges)."""
    dut = UartTx(divisor=divisor)
    rng = np.random.default_rng(seed)
    levels, accepts = [], []
    done = []

    async def producer(ctx):
        await put_all(ctx, dut.i_stream, list(data), rng=rng, gap=gap)
        await ctx.tick().repeat(BITS_PER_FRAME * divisor + 3)
        done.append(True)

    async def monitor(ctx):
        edge = 0
        while True:
            _, _, tx, valid, ready = await ctx.tick().sample(
                dut.o_tx, dut.i_stream.valid, dut.i_stream.ready)
            levels.append(tx)
            if valid and ready:
                accepts.append(edge)
            edge += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(monitor, background=True)
    sim.run()
    return np.array(levels, dtype=np.uint8), np.array(accepts)


@pytest.mark.parametrize("divisor,gap", [(4, 0.0), (7, 0.0), (5, 0.9), (16, 0.3)])
def test_tx_waveform_is_golden(divisor, gap):
    rng = np.random.default_rng(divisor)
    data = bytes([0x00, 0xFF, 0x55, 0xAA]) + rng.integers(0, 256, 24, dtype=np.uint8).tobytes()
    levels, accepts = run_tx(data, divisor, gap=gap, seed=divisor + 1)
    assert accepts.size == len(data)
    # The start bit is on the line from the first edge after the accepting one.
    expected = uart_waveform(data, divisor, starts=accepts + 1, length=levels.size)
    assert np.array_equal(levels, expected)
    assert (np.diff(accepts) >= BITS_PER_FRAME * divisor).all()
    if gap == 0:      # back to back: exactly one frame time per byte, no idle cycle
        assert (np.diff(accepts) == BITS_PER_FRAME * divisor).all()
    assert levels[:accepts[0] + 1].all() and levels[-1] == 1     # idle high


# --- receiver ------------------------------------------------------------------------
def run_rx(line, divisor, *, stall=0.0, seed=0, ready=True):
    """Drive ``line`` into UartRx; return (bytes with their valid edge, error edges,
    overrun edges)."""
    dut = UartRx(divisor=divisor)
    rng = np.random.default_rng(seed)
    got, errors, overruns = [], [], []
    line = np.concatenate([line, np.ones(4 + SYNC_STAGES, dtype=np.uint8)])

    async def driver(ctx):
        for edge, level in enumerate(line.tolist()):
            ctx.set(dut.i_rx, level)
            _, _, fe, ov = await ctx.tick().sample(dut.o_frame_error, dut.o_overrun)
            if fe:
                errors.append(edge)
            if ov:
                overruns.append(edge)

    async def consumer(ctx):
        while True:
            if ready:
                got.append(await get(ctx, dut.o_stream, rng=rng, stall=stall))
            else:
                await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(driver)
    sim.add_testbench(consumer, background=True)
    sim.run()
    return got, errors, overruns


def check_rx_against_golden(line, divisor, **kwargs):
    """RTL receiver == golden receiver on ``line``: same bytes, same errors, same timing."""
    got, errors, _ = run_rx(line, divisor, **kwargs)
    gold = uart_receive(line, divisor)
    assert got == [e.value for e in gold if e.kind == "byte"]
    gold_errors = [e.clock for e in gold if e.kind == "frame_error"]
    assert len(errors) == len(gold_errors)
    # the pulse follows the stop-bit sample by the synchroniser plus one register
    assert all(e - g == SYNC_STAGES + 1 for e, g in zip(errors, gold_errors))
    return got, gold


def random_starts(n, divisor, rng, max_gap):
    frame = BITS_PER_FRAME * divisor
    gaps = rng.integers(0, max_gap + 1, n)
    return 3 + np.cumsum(gaps) + frame * np.arange(n)


@pytest.mark.parametrize("divisor", [4, 9, 16])
def test_rx_decodes_golden_waveforms(divisor):
    rng = np.random.default_rng(divisor)
    data = bytes([0x00, 0xFF, 0x80, 0x01]) + rng.integers(0, 256, 28, dtype=np.uint8).tobytes()
    line = uart_waveform(data, divisor, starts=random_starts(len(data), divisor, rng, 3 * divisor))
    got, _ = check_rx_against_golden(line, divisor, stall=0.5, seed=1)
    assert bytes(got) == data


@pytest.mark.parametrize("error", [-0.02, +0.02])
def test_rx_tolerates_rate_mismatch(error):
    divisor = 16
    rng = np.random.default_rng(7)
    data = rng.integers(0, 256, 40, dtype=np.uint8).tobytes()
    # back to back at the wrong rate: the worst case, the error accumulates over a frame
    # and the next start edge comes early (fast) or late (slow)
    line = uart_waveform(data, divisor * (1 + error), lead=5.3)
    got, _ = check_rx_against_golden(line, divisor)
    assert bytes(got) == data


def test_rx_rejects_glitches():
    divisor = 16
    half = divisor // 2
    rng = np.random.default_rng(8)
    data = rng.integers(0, 256, 12, dtype=np.uint8).tobytes()
    frame = BITS_PER_FRAME * divisor
    gap = 3 * divisor
    starts = 2 * divisor + (frame + gap) * np.arange(len(data))
    line = uart_waveform(data, divisor, starts=starts)
    glitches = 0
    for k, s in enumerate(starts):                 # a glitch of 1..half cycles before each
        width = 1 + k % half
        at = int(s) - half - 2 - width
        line[at:at + width] = 0
        glitches += 1
    assert glitches == len(data)
    got, gold = check_rx_against_golden(line, divisor)
    assert bytes(got) == data and all(e.kind == "byte" for e in gold)


def test_rx_flags_framing_errors():
    divisor = 8
    rng = np.random.default_rng(9)
    data = rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
    bad = {2, 7, 8, 12}
    frame = BITS_PER_FRAME * divisor
    starts = 4 + (frame + 2 * divisor) * np.arange(len(data))
    line = uart_waveform(data, divisor, starts=starts)
    for k in bad:                                  # pull the stop bit low
        s = int(starts[k]) + 9 * divisor
        line[s:s + divisor] = 0
    line = np.concatenate([line, np.zeros(3 * frame, np.uint8), np.ones(frame, np.uint8)])
    got, gold = check_rx_against_golden(line, divisor)
    kinds = [e.kind for e in gold]
    # each bad stop bit is one error; a line held low (a break) is one more, not three
    assert kinds.count("frame_error") == len(bad) + 1
    assert bytes(got) == bytes(b for k, b in enumerate(data) if k not in bad)


def test_rx_on_noise_is_bit_true():
    """Random line activity: the RTL and golden receivers agree event for event."""
    divisor = 5
    rng = np.random.default_rng(10)
    runs = rng.geometric(1 / (1.5 * divisor), 1500)
    line = (np.arange(runs.size) % 2).repeat(runs).astype(np.uint8)
    got, gold = check_rx_against_golden(line, divisor)
    assert len(gold) > 20 and any(e.kind == "frame_error" for e in gold)


def test_rx_overrun_keeps_first_byte():
    divisor = 4
    data = b"\x11\x22\x33"
    line = uart_waveform(data, divisor, lead=2)
    got, errors, overruns = run_rx(line, divisor, ready=False)
    assert got == [] and errors == [] and len(overruns) == 2


def test_loopback_tx_to_rx():
    divisor = 6
    data = bytes(range(0, 256, 7))
    levels, accepts = run_tx(data, divisor, gap=0.2, seed=3)
    got, _ = check_rx_against_golden(levels, divisor)
    assert bytes(got) == data


def test_golden_waveform_layout():
    bits = uart_bits(b"\x01\x80")
    assert bits.tolist() == [[0, 1, 0, 0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]]
    wave = uart_waveform(b"\x01", 4, lead=1, length=50)
    assert wave[:1].tolist() == [1] and wave[1:5].tolist() == [0] * 4
    assert wave[5:9].tolist() == [1] * 4 and wave[9:37].tolist() == [0] * 28
    assert wave[37:].all()
    assert uart_receive(wave, 4) == [RxEvent("byte", 1, 1 + 2 + 36)]
    with pytest.raises(ValueError, match="inside byte 0"):
        uart_waveform(b"ab", 4, starts=[0, 39])


def test_parameters_validated():
    with pytest.raises(ValueError,
                       match=r"^divisor = 3 is below the minimum of 4 clocks per bit$"):
        UartTx(divisor=3)
    with pytest.raises(TypeError, match=r"^divisor must be an int \(clocks per bit\), not 8\.0; "
                                        r"use neurofab\.spec\.uart_divisor\(clk_hz, baud\)$"):
        UartRx(divisor=8.0)
    assert spec.uart_divisor(12_000_000, 3_000_000) == 4
    assert spec.uart_divisor(12_000_000, 115_200) == 104
    with pytest.raises(ValueError, match="below the minimum"):
        spec.uart_divisor(12_000_000, 4_000_000)
    with pytest.raises(ValueError, match="% off"):
        spec.uart_divisor(25_000_000, 3_000_000)


DUTS = lambda: [UartTx(divisor=4), UartRx(divisor=5)]  # noqa: E731


def test_converts_to_verilog():
    from amaranth.back import verilog
    for dut in DUTS():
        assert "module top" in verilog.convert(dut, name="top")
