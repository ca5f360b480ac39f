"""Host-link formats (framing, CRC, opcodes). Filled by the host-link work."""

__all__ = []
