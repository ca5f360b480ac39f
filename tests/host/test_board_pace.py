"""Paced mode (``Board.pace``, PACE): the board starts one step per period of its own
clock and counts the periods whose step could not start on time; the spikes are those of
an unpaced run. The cycle-exact timing is ``tests/rtl/test_feeder.py``'s; here the whole
path: the simulated ULX3S (the real top under Verilator) and the refusals."""

import numpy as np
import pytest

from neurofab import golden
from neurofab.boards.top import BoardTop
from neurofab.config import random_config
from neurofab.fuzz import GOLDEN_GEOMETRY, GOLDEN_LINK, GoldenLink
from neurofab.golden.link.controller import LinkController
from neurofab.host import Board, BoardError, codec
from neurofab.host.codec import NakError
from neurofab.host.simboard import start_simulated_board


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def inputs_for(cfg, steps, seed):
    rng = np.random.default_rng(seed)
    return [rng.choice(cfg.n_inputs, int(rng.integers(0, 4)), replace=False)
            for _ in range(steps)]


def test_pace_refusals_and_a_board_without_paced_mode():
    cfg = random_config(1, n_neurons=16, n_inputs=8, max_fanout=4)
    board = Board(GoldenLink(LinkController(cfg, GOLDEN_GEOMETRY, **GOLDEN_LINK)),
                  timeout=0.005)
    assert board.info.pace == 0
    assert board.pace(0) == 0                     # free running: every board
    with pytest.raises(BoardError, match="board 0's build has no paced mode \\(IDENTIFY "
                                         "pace = 0"):
        board.pace(1000)
    with pytest.raises(NakError, match="BAD_ARG"):       # the board says so too
        board.transact(codec.pace(1000))
    paced = Board(GoldenLink(LinkController(cfg, {**GOLDEN_GEOMETRY, "pace": True},
                                            **GOLDEN_LINK)), timeout=0.005)
    assert paced.pace(hz=1000) == GOLDEN_LINK["clk_hz"] // 1000
    for bad, err, msg in ((-1, ValueError, "period = -1 is outside"),
                          (1 << 32, ValueError, "period = 4294967296 is outside"),
                          (2.5, TypeError, "period"), (float("nan"), TypeError, "period")):
        with pytest.raises(err, match=msg):
            paced.pace(bad)
    with pytest.raises(ValueError, match="hz = nan"):
        paced.pace(hz=float("nan"))
    with pytest.raises(TypeError, match="one of them"):
        paced.pace()
    paced.load(cfg)
    inputs = inputs_for(cfg, 12, 1)
    assert same(paced.run(inputs), golden.run(cfg, inputs))


@pytest.fixture(scope="module")
def ulx3s():
    top = BoardTop("ulx3s", sim=True, baud=11_250_000, n_neurons=32, n_inputs=16,
                   syn_capacity=512)
    assert top.pace
    with start_simulated_board(top, divisor=top.divisor) as proc, \
            Board.open(proc.url) as board:
        yield board


@pytest.mark.slow
def test_paced_run_on_the_simulated_board(ulx3s):
    cfg = random_config(4, n_neurons=32, n_inputs=16, max_fanout=8)
    inputs = inputs_for(cfg, 24, 4)
    expected = golden.run(cfg, inputs)
    ulx3s.load(cfg)
    assert ulx3s.info.pace == 1
    # a period far longer than a step: every step on time
    ulx3s.pace(20_000)
    ulx3s.clear_status()
    assert same(ulx3s.run(inputs), expected)
    assert ulx3s.status().pace_overruns == 0
    # one clock a step: every period is late, and still nothing is lost
    ulx3s.reset()
    ulx3s.pace(1)
    ulx3s.clear_status()
    assert same(ulx3s.run(inputs), expected)
    assert ulx3s.status().pace_overruns >= len(inputs)
    ulx3s.pace(0)
    ulx3s.reset()
    ulx3s.clear_status()
    assert same(ulx3s.run(inputs), expected) and ulx3s.status().pace_overruns == 0
