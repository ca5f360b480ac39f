"""Encoder formats (LFSR taps, Sobol widths, SNG layouts). Filled by the encoder work."""

__all__ = []
