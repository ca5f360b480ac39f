"""Boards: target registry, clock plans, board top levels, bitstream builds and reports.

``BOARDS`` / ``get_board`` (``registry``), ``build`` / ``program`` (``build``), PLL plans and
``ClockGen`` (``clocks``), ``BoardTop`` (``top``) and ``sim_top`` for the simulated board.
"""

from .registry import BOARDS, Board, board_names, get_board  # noqa: F401


def sim_top(name, kernel=None, learning=False):
    """The simulated board's top level: ``(BoardTop(board, sim=True, kernel=kernel,
    learning=learning), clocks per UART bit)`` (``kernel``: a neuron kernel name, default
    CUBA-LIF; ``learning``: a learning core, refused by a board that cannot host one).

    The hook of ``neurofab.host.simboard``: the board's real top level without PLL and IO
    buffers, clocked by the simulator, its UART on the ports ``rx`` and ``tx``.
    """
    from .top import BoardTop
    top = BoardTop(get_board(name), sim=True, kernel=kernel, learning=learning)
    return top, top.divisor
