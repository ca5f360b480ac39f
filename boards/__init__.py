"""Boards: target registry, clock plans, board top levels, bitstream builds and reports.

``BOARDS`` / ``get_board`` (``registry``), ``build`` / ``program`` (``build``), PLL plans and
``ClockGen`` (``clocks``), ``BoardTop`` (``top``) and ``sim_top`` for the simulated board.
"""

from .registry import BOARDS, Board, board_names, get_board  # noqa: F401


def sim_top(name, kernel=None):
    """The simulated board's top level: ``(BoardTop(board, sim=True, kernel=kernel), clocks
    per UART bit)`` (``kernel``: a neuron kernel name, default CUBA-LIF).

    The hook of ``neurofab.host.simboard``: the board's real top level without PLL and IO
    buffers, clocked by the simulator, its UART on the ports ``rx`` and ``tx``.
    """
    from .top import BoardTop
    top = BoardTop(get_board(name), sim=True, kernel=kernel)
    return top, top.divisor
