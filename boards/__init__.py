"""Boards: target registry, clock plans, bitstream builds and reports.

``BOARDS`` / ``get_board`` (``registry``), ``build`` / ``program`` (``build``), PLL plans and
``ClockGen`` (``clocks``).
"""

from .registry import BOARDS, Board, board_names, get_board  # noqa: F401
