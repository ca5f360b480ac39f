"""CRC-16 golden model: table-driven, parameterised by the Rocksoft model.

The link uses ``CRC16`` (CRC-16/GENIBUS); it and the parameter model ``CrcParams`` live in
``neurofab.spec`` (re-exported here), shared with the RTL. The other
catalogue entries exist so that the parameterised RTL (``neurofab.rtl.link.Crc16``) can be
tested against well-known check values.

The register is kept in its unreflected (MSB-first) form, the ``raw`` value; a model with
``refin`` feeds each byte bit-reversed, one with ``refout`` bit-reverses the register on
output, and ``xorout`` is applied last. The RTL keeps the same raw register.
"""

from functools import lru_cache

import numpy as np

from neurofab import spec
from neurofab.spec import CRC16, CrcParams

__all__ = ["CrcParams", "CRC16", "CATALOGUE", "crc16_table", "crc16", "crc16_raw",
           "crc16_output", "crc16_bytes", "append_crc", "check_crc", "Crc16"]


#: A few catalogue CRC-16s (https://reveng.sourceforge.io/crc-catalogue/16.htm).
CATALOGUE = {p.name: p for p in [
    CRC16,
    CrcParams("CRC-16/XMODEM", 0x1021, 0x0000, False, False, 0x0000, 0x31C3),
    CrcParams("CRC-16/KERMIT", 0x1021, 0x0000, True, True, 0x0000, 0x2189),
    CrcParams("CRC-16/IBM-SDLC", 0x1021, 0xFFFF, True, True, 0xFFFF, 0x906E),
    CrcParams("CRC-16/ARC", 0x8005, 0x0000, True, True, 0x0000, 0xBB3D),
    CrcParams("CRC-16/MODBUS", 0x8005, 0xFFFF, True, True, 0x0000, 0x4B37),
    CrcParams("CRC-16/UMTS", 0x8005, 0x0000, False, False, 0x0000, 0xFEE8),
    CrcParams("CRC-16/CCITT-FALSE", 0x1021, 0xFFFF, False, False, 0x0000, 0x29B1),
]}

_REV8 = np.array([int(f"{b:08b}"[::-1], 2) for b in range(256)], dtype=np.uint8)


def _rev16(x):
    return (int(_REV8[x & 0xFF]) << 8) | int(_REV8[x >> 8])


@lru_cache(maxsize=None)
def crc16_table(poly=spec.CRC16_POLY):
    """MSB-first byte table: ``table[b]`` is the raw register after shifting in ``b << 8``."""
    reg = np.arange(256, dtype=np.uint32) << 8
    for _ in range(8):
        reg = np.where(reg & 0x8000, (reg << 1) ^ poly, reg << 1) & 0xFFFF
    table = reg.astype(np.uint16)
    table.setflags(write=False)
    return table


def crc16_raw(data, params=CRC16, raw=None):
    """Raw (unreflected, before ``xorout``) register after ``data``, from ``raw`` or init."""
    table = crc16_table(params.poly).tolist()
    reg = params.init if raw is None else raw
    data = bytes(data)
    if params.refin:
        data = data.translate(bytes(_REV8.tolist()))
    for b in data:
        reg = ((reg << 8) & 0xFFFF) ^ table[(reg >> 8) ^ b]
    return reg


def crc16_output(raw, params=CRC16):
    """Final CRC value of a raw register."""
    return (_rev16(raw) if params.refout else raw) ^ params.xorout


def crc16(data, params=CRC16):
    """CRC of ``data`` (bytes-like) under ``params`` (default: the link's CRC-16)."""
    return crc16_output(crc16_raw(data, params), params)


def crc16_bytes(crc, params=CRC16):
    """The two bytes a CRC is sent as: MSB first for MSB-first CRCs, else LSB first."""
    return crc.to_bytes(2, "little" if params.refout else "big")


def append_crc(body, params=CRC16):
    """``body`` followed by its CRC (what a sender puts inside the COBS frame)."""
    body = bytes(body)
    return body + crc16_bytes(crc16(body, params), params)


def check_crc(frame, params=CRC16):
    """True if ``frame`` (body + CRC) passes, i.e. its CRC equals the residue."""
    return len(frame) >= 2 and crc16(frame, params) == params.residue


class Crc16:
    """Streaming twin of the RTL ``Crc16``: one byte at a time, ``first`` restarts."""

    def __init__(self, params=CRC16):
        self.params = params
        self.raw = params.init

    @property
    def value(self):
        return crc16_output(self.raw, self.params)

    def update(self, byte, first=False):
        self.raw = crc16_raw(bytes([byte]), self.params, None if first else self.raw)
        return self.value
