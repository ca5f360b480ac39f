"""Boards: target registry, clock plans, board top levels, bitstream builds and reports.

``BOARDS`` / ``get_board`` (``registry``), ``build`` / ``program`` (``build``), PLL plans and
``ClockGen`` (``clocks``), ``BoardTop`` (``top``) and ``sim_top`` for the simulated board.
"""

from .registry import BOARDS, Board, board_names, get_board  # noqa: F401


def sim_top(name, kernel=None, learning=False, cores=None, encoder=None):
    """The simulated board's top level: ``(BoardTop(board, sim=True, kernel=kernel,
    learning=learning, cores=cores, encoder=encoder), clocks per UART bit)`` (``kernel``:
    a neuron kernel name, default CUBA-LIF; ``learning``: a learning core, refused by a
    board that cannot host one; ``cores``: a fabric of that many cores, geometry
    ``Board.for_fabric``; ``encoder``: a spike encoder in front of the core).

    The hook of ``neurofab.host.simboard``: the board's real top level without PLL and IO
    buffers, clocked by the simulator, its UART on the ports ``rx`` and ``tx``.
    """
    from .top import BoardTop
    top = BoardTop(get_board(name), sim=True, kernel=kernel, learning=learning,
                   cores=None if cores in (None, 1) else cores, encoder=encoder)
    return top, top.divisor
