"""Streaming CRC-16, one byte per clock, bit-true with ``neurofab.golden.link.crc``."""

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from neurofab import spec
from neurofab.spec import CRC16, CrcParams
from neurofab.rtl.util import checked_init

__all__ = ["Crc16"]


class Crc16(wiring.Component):
    """CRC-16 over a byte stream, one byte per clock cycle.

    The register is kept in unreflected (MSB-first) form and updated by an unrolled
    8-step XOR network; a ``refin`` model feeds each byte bit-reversed, ``refout`` and
    ``xorout`` are applied on the output only (the Rocksoft model, exactly as the golden
    ``crc16_raw`` / ``crc16_output``).

    Parameters
    ----------
    params : spec.CrcParams
        CRC model; default the link's CRC-16/GENIBUS (``spec.CRC16``).

    Attributes
    ----------
    i_stream : In(stream.Signature(spec.CrcByte))
        Bytes to include. ``first`` restarts from ``init`` before the byte. Always ready:
        ``ready`` is driven high, so the CRC can tap a stream by copying its transfers.
    o_crc : Out(16)
        CRC of the bytes since the last ``first`` (``init`` transformed if none yet),
        updated the cycle after each transfer.
    o_residue : Out(1)
        ``o_crc`` equals the model's residue: the bytes so far are a body followed by its
        correct CRC (for the link: ``o_crc == 0``).
    """

    @checked_init
    def __init__(self, params=CRC16):
        if not isinstance(params, CrcParams):
            raise TypeError(f"params must be a CrcParams, not {params!r}")
        self.params = params
        super().__init__({
            "i_stream": In(stream.Signature(spec.CrcByte)),
            "o_crc": Out(16),
            "o_residue": Out(1),
        })

    def next_raw(self, raw, byte):
        """Expression of the raw register after shifting ``byte`` (MSB first) into ``raw``.

        The 8 shift steps are solved in Python first: each next-state bit is a flat XOR of
        some register and data bits (a CRC is linear over GF(2)).
        """
        bits = [{("r", k)} for k in range(16)]
        for k in reversed(range(8)):
            feedback = bits[15] ^ {("d", k)}
            bits = [set()] + bits[:15]
            for j in range(16):
                if self.params.poly >> j & 1:
                    bits[j] = bits[j] ^ feedback
        src = {"r": raw, "d": byte}
        terms = []
        for j in range(16):
            term = C(0, 1)
            for name, k in sorted(bits[j]):
                term = term ^ src[name][k]
            terms.append(term)
        return Cat(*terms)

    def elaborate(self, platform):
        m = Module()
        p = self.params
        # The transfer is registered as it arrives (byte, first, valid) and folded into
        # the register one clock later; ``raw`` (the register of the bit-serial model)
        # is ``acc`` with the registered byte applied, so ``o_crc`` is as up to date as
        # with an unregistered input, but no logic in front of the CRC (a block-RAM read,
        # a multiplexer) meets the XOR network in the same clock.
        acc = Signal(16, init=p.init)
        d_byte = Signal(8)
        d_first = Signal()
        d_valid = Signal()
        byte = self.i_stream.p.data
        m.d.comb += self.i_stream.ready.eq(1)
        m.d.sync += [d_byte.eq(byte[::-1] if p.refin else byte),
                     d_first.eq(self.i_stream.p.first), d_valid.eq(self.i_stream.valid)]
        raw = Signal(16)
        start = Mux(d_first, p.init, acc)
        m.d.comb += raw.eq(Mux(d_valid, self.next_raw(start, d_byte), acc))
        m.d.sync += acc.eq(raw)
        out = raw[::-1] if p.refout else raw
        m.d.comb += [
            self.o_crc.eq(out ^ p.xorout),
            self.o_residue.eq(self.o_crc == p.residue),
        ]
        return m
