"""RTL Crc16 vs golden crc16: check values of catalogue CRCs, per-byte register, residue."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from neurofab import spec
from neurofab.cosim.streams import put
from neurofab.golden.link.crc import CATALOGUE, Crc16 as GoldenCrc16, append_crc, crc16, \
    crc16_bytes
from neurofab.spec import CRC16, CrcParams
from neurofab.rtl.link.crc import Crc16


def run_crc(params, items, *, seed=0, gap=0.3):
    """Feed ``(byte, first)`` items with random gaps; return o_crc/o_residue after each."""
    dut = Crc16(params)
    rng = np.random.default_rng(seed)
    seen = []

    async def tb(ctx):
        for byte, first in items:
            await put(ctx, dut.i_stream, {"data": byte, "first": first}, rng=rng, gap=gap)
            seen.append((ctx.get(dut.o_crc), ctx.get(dut.o_residue)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return seen


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_check_value(name):
    params = CATALOGUE[name]
    msg = b"123456789"
    seen = run_crc(params, [(b, k == 0) for k, b in enumerate(msg)])
    assert seen[-1][0] == params.check == crc16(msg, params)


def test_rtl_takes_its_parameters_from_the_spec_not_the_golden_model():
    import subprocess
    import sys
    code = ("import sys, neurofab.rtl.link; "
            "print(sorted(m for m in sys.modules if m.startswith('neurofab.golden')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
    import inspect
    assert inspect.signature(Crc16).parameters["params"].default is CRC16
    from neurofab.golden.link import crc as golden_crc
    assert golden_crc.CRC16 is CRC16 and golden_crc.CrcParams is CrcParams


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_spec_residue_is_the_golden_one(name):
    params = CATALOGUE[name]
    for msg in (b"\x5a", b"", b"123456789"):
        assert crc16(msg + crc16_bytes(crc16(msg, params), params), params) == params.residue


def test_link_crc_is_spec():
    assert CRC16.check == spec.CRC16_CHECK == crc16(b"123456789")
    assert CRC16.residue == spec.CRC16_RESIDUE
    assert (CRC16.poly, CRC16.init, CRC16.refin, CRC16.refout, CRC16.xorout) == (
        spec.CRC16_POLY, spec.CRC16_INIT, spec.CRC16_REFIN, spec.CRC16_REFOUT,
        spec.CRC16_XOROUT)


@pytest.mark.parametrize("name", ["CRC-16/CCITT-FALSE", "CRC-16/IBM-SDLC", "CRC-16/ARC"])
def test_per_byte_against_golden(name):
    params = CATALOGUE[name]
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, 300)
    first = rng.random(300) < 0.05
    first[0] = True
    items = list(zip(data.tolist(), first.tolist()))
    seen = run_crc(params, items, seed=2)
    gold = GoldenCrc16(params)
    expected = [(gold.update(b, f), int(gold.value == params.residue)) for b, f in items]
    assert seen == expected


def test_residue_flags_good_frames():
    rng = np.random.default_rng(3)
    items, flags = [], []
    for n in (0, 1, 5, 40):
        body = append_crc(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
        bad = bytearray(body)
        bad[rng.integers(len(bad))] ^= 1 << int(rng.integers(8))
        for frame, good in ((body, 1), (bytes(bad), 0)):
            items += [(b, k == 0) for k, b in enumerate(frame)]
            flags.append((len(items) - 1, good))
    seen = run_crc(CRC16, items, seed=4)
    for pos, good in flags:
        assert seen[pos] == (CRC16.residue, 1) if good else seen[pos][1] == 0


def test_parameters_validated():
    with pytest.raises(TypeError, match=r"^params must be a CrcParams, not 4129$"):
        Crc16(0x1021)
    with pytest.raises(ValueError, match=r"bad: poly = 0x1020 must have its x\^0 term"):
        CrcParams("bad", 0x1020, 0, False, False, 0, 0)
    with pytest.raises(ValueError, match=r"bad: init = 0x10000 is not a 16-bit value"):
        CrcParams("bad", 0x1021, 0x10000, False, False, 0, 0)


DUTS = lambda: [Crc16(), Crc16(CATALOGUE["CRC-16/ARC"])]  # noqa: E731


def test_converts_to_verilog():
    from amaranth.back import verilog
    for dut in DUTS():
        assert "module top" in verilog.convert(dut, name="top")
