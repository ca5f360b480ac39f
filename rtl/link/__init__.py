"""Host-link gateware: UART PHY, COBS framing, CRC-16 and the command controller
(``docs/protocol.md``)."""

from .uart import UartTx, UartRx
from .cobs import CobsDecoder, CobsEncoder
from .crc import Crc16
from .controller import LinkController
from .mem_switch import MemorySwitch
from .value_feed import ValueFeed

__all__ = ["UartTx", "UartRx", "CobsDecoder", "CobsEncoder", "Crc16", "LinkController",
           "MemorySwitch", "ValueFeed"]
