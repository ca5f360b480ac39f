"""Golden CRC-16: catalogue check values, table against a bitwise reference, residue."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neurofab import spec
from neurofab.golden.link.crc import (CATALOGUE, CRC16, Crc16, append_crc, check_crc, crc16,
                                      crc16_bytes, crc16_table)


def bitwise_crc(data, p):
    """Textbook bit-at-a-time CRC (reflected models shift right with the reflected poly)."""
    if p.refin:
        rpoly = int(f"{p.poly:016b}"[::-1], 2)
        reg = int(f"{p.init:016b}"[::-1], 2)
        for b in data:
            reg ^= b
            for _ in range(8):
                reg = (reg >> 1) ^ rpoly if reg & 1 else reg >> 1
        out = reg if p.refout else int(f"{reg:016b}"[::-1], 2)
    else:
        reg = p.init
        for b in data:
            reg ^= b << 8
            for _ in range(8):
                reg = ((reg << 1) ^ p.poly if reg & 0x8000 else reg << 1) & 0xFFFF
        out = int(f"{reg:016b}"[::-1], 2) if p.refout else reg
    return out ^ p.xorout


#: Link test vectors (docs/protocol.md, "CRC").
VECTORS = [
    (b"", 0x0000),
    (b"123456789", 0xD64E),
    (b"\x00", 0x1E0F),
    (b"\x01\x00", 0xD1C1),
    (b"\xff" * 4, 0xE2F0),
    (b"A", 0x46EA),
]


@pytest.mark.parametrize("data,crc", VECTORS)
def test_link_vectors(data, crc):
    assert crc16(data) == crc


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_catalogue(name):
    p = CATALOGUE[name]
    assert crc16(b"123456789", p) == p.check == bitwise_crc(b"123456789", p)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(sorted(CATALOGUE)))
def test_table_matches_bitwise(data, name):
    p = CATALOGUE[name]
    assert crc16(data, p) == bitwise_crc(data, p)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_residue_and_check(body):
    framed = append_crc(body)
    assert framed[-2:] == crc16(body).to_bytes(2, "big")
    assert crc16(framed) == spec.CRC16_RESIDUE == spec.CRC16.residue == 0xE2F0
    assert check_crc(framed)
    if body:
        bad = bytearray(framed)
        bad[0] ^= 0x40
        assert not check_crc(bytes(bad))


def test_streaming_twin():
    g = Crc16()
    data = b"123456789"
    for k, b in enumerate(data):
        g.update(b, first=(k == 0))
    assert g.value == 0xD64E
    g.update(0x31, first=True)
    assert g.value == crc16(b"1")


def test_table():
    t = crc16_table()
    assert t.dtype == np.uint16 and t.shape == (256,)
    assert t[1] == 0x1021 and t[0x80] == 0x9188
    assert crc16_bytes(0x1234) == b"\x12\x34"
    assert crc16_bytes(0x1234, CATALOGUE["CRC-16/KERMIT"]) == b"\x34\x12"
