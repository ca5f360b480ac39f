"""Golden models of the host link's framing and PHY (twins of ``neurofab.rtl.link``)."""

from .cobs import CobsError, CobsOversize, cobs_encode, cobs_decode, encode_frames, CobsDecoder
from .crc import CrcParams, CRC16, crc16, append_crc, check_crc, Crc16
from .uart import uart_waveform, uart_receive, RxEvent

__all__ = ["CobsError", "CobsOversize", "cobs_encode", "cobs_decode", "encode_frames",
           "CobsDecoder", "CrcParams", "CRC16", "crc16", "append_crc", "check_crc", "Crc16",
           "uart_waveform", "uart_receive", "RxEvent"]
