"""Host side: transports, the protocol codec, the ``Board`` driver, the simulated board."""

from .board import Board, BoardError, LinkTimeout  # noqa: F401
