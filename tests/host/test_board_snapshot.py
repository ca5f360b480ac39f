"""Snapshot and restore (``Board.snapshot``, ``Board.restore``): a run interrupted at a step
boundary, saved, scrambled and written back continues exactly as the uninterrupted run,
the spike queue (the last step's spikes, still to be delivered) included.

Fast tests use the golden link controller (the RTL's cosim-proven twin) with region
QUEUE; the slow ones the simulated ULX3S (the real top under Verilator) with and without
learning.
"""

import dataclasses

import numpy as np
import pytest

from neurofab import golden
from neurofab.boards.top import BoardTop
from neurofab.config import random_config, random_learning
from neurofab.golden.link.controller import LinkController
from neurofab.host import Board, BoardError, codec
from neurofab.host.board import Snapshot
from neurofab.fuzz import GOLDEN_GEOMETRY as GEOMETRY, GOLDEN_LINK as LINK, GoldenLink
from neurofab.host.simboard import start_simulated_board
from neurofab.spec import Region


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def recurrent_config(seed, n_neurons=16, n_inputs=8):
    """A config whose neurons drive each other (the queue matters) and fire often."""
    return random_config(seed, n_neurons=n_neurons, n_inputs=n_inputs, max_fanout=6)


def random_inputs(rng, n_inputs, steps, per_step=4):
    return [rng.choice(n_inputs, int(rng.integers(1, per_step + 1)), replace=False)
            for _ in range(steps)]


def golden_board(cfg, queue=True):
    return Board(GoldenLink(LinkController(cfg, {**GEOMETRY, "queue": queue}, **LINK)),
                 timeout=0.005)


def interrupted(board, cfg, inputs, k, scramble):
    """Run ``inputs[:k]``, snapshot, ``scramble(board)``, restore, run the rest."""
    board.load(cfg)
    first = board.run(inputs[:k])
    snap = board.snapshot()
    scramble(board)
    board.restore(snap)
    return first + board.run(inputs[k:]), snap


@pytest.mark.parametrize("seed", range(4))
def test_restore_continues_exactly_the_uninterrupted_run(seed):
    rng = np.random.default_rng(seed)
    cfg = recurrent_config(seed)
    inputs = random_inputs(rng, cfg.n_inputs, 30)
    spikes, states = golden.run(cfg, inputs, trace=True)
    # snapshot after a step whose spikes reach other neurons: the queue is not empty
    k = next(t + 1 for t in range(5, 29) if len(spikes[t]))
    board = golden_board(cfg)
    other = recurrent_config(seed + 100)

    def scramble(b):                      # another network, run for a while
        b.load(other)
        b.run(random_inputs(rng, other.n_inputs, 7))

    got, snap = interrupted(board, cfg, inputs, k, scramble)
    assert same(got, spikes)
    assert snap.step == k and np.array_equal(snap.pending, states[k - 1].pending)
    assert snap.pending.size > 0
    assert board.cfg is cfg


def test_the_queue_is_what_makes_it_exact():
    """Restoring every region but the spike queue's count changes the run: the test above
    would see a snapshot that lost the pending spikes."""
    rng = np.random.default_rng(7)
    cfg = recurrent_config(7)
    inputs = random_inputs(rng, cfg.n_inputs, 30)
    spikes = golden.run(cfg, inputs)
    k = next(t + 1 for t in range(5, 29) if len(spikes[t]))
    board = golden_board(cfg)
    board.load(cfg)
    board.run(inputs[:k])
    snap = board.snapshot()
    queue = snap.regions[Region.QUEUE].copy()
    queue[-1] = 0
    lost = dataclasses.replace(snap, regions={**snap.regions, Region.QUEUE: queue})
    board.run(inputs[k:k + 3])
    board.restore(lost)
    assert not same(board.run(inputs[k:]), spikes[k:])
    board.restore(snap)
    assert same(board.run(inputs[k:]), spikes[k:])


def test_snapshot_refusals():
    cfg = recurrent_config(3)
    board = golden_board(cfg, queue=False)
    board.load(cfg)
    with pytest.raises(BoardError, match="snapshot\\(\\) needs the spike-queue region, which "
                                         "board 0's build does not have"):
        board.snapshot()
    board = golden_board(cfg)
    board.load(cfg)
    snap = board.snapshot()
    board.transact(codec.run(3))
    with pytest.raises(BoardError, match="snapshot\\(\\) at a step boundary: the board still "
                                         "has 0 steps pending, 0 input and \\d+ output events"):
        board.snapshot()
    board.restore(snap)                   # (a busy board is reset first)
    with pytest.raises(TypeError, match="restore\\(\\) takes a Snapshot"):
        board.restore(snap.regions)
    with pytest.raises(BoardError, match="the snapshot is of build 0000000000000001"):
        board.restore(dataclasses.replace(snap, build=1))
    queue = snap.regions[Region.QUEUE].copy()
    queue[-1] = 17
    with pytest.raises(ValueError, match="snapshot QUEUE count = 17 is outside the limit "
                                         "\\[0, 16\\]"):
        board.restore(dataclasses.replace(snap, regions={**snap.regions, Region.QUEUE: queue}))
    assert isinstance(snap, Snapshot)


# --- the simulated board: the real top under Verilator ----------------------------------
BAUD = 11_250_000
SIM_GEOMETRY = dict(n_neurons=32, n_inputs=16, syn_capacity=512)


@pytest.fixture(scope="module",
                params=[("ulx3s", False), ("ulx3s", True), ("icebreaker", False)],
                ids=["static", "learning", "icebreaker"])
def sim_board(request):
    name, learning = request.param
    baud = {} if name == "icebreaker" else {"baud": BAUD}   # (its 30 MHz: 3 Mbaud)
    top = BoardTop(name, sim=True, learning=learning, **baud, **SIM_GEOMETRY)
    assert top.queue
    with start_simulated_board(top, divisor=top.divisor) as proc, \
            Board.open(proc.url) as board:
        yield board


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_restore_on_the_simulated_board(sim_board, seed):
    rng = np.random.default_rng(seed)
    cfg = recurrent_config(seed)
    if sim_board.learning:
        cfg = random_learning(rng, cfg, rules=("stdp", "homeostasis"))
    inputs = random_inputs(rng, cfg.n_inputs, 40)
    spikes, states = golden.run(cfg, inputs, trace=True)
    k = next(t + 1 for t in range(10, 39) if len(spikes[t]))
    other = recurrent_config(seed + 50)
    if sim_board.learning:
        other = random_learning(rng, other, rules=("stdp",))

    def scramble(b):
        b.load(other)
        b.run(random_inputs(rng, other.n_inputs, 9))

    got, snap = interrupted(sim_board, cfg, inputs, k, scramble)
    assert same(got, spikes)
    assert np.array_equal(snap.pending, states[k - 1].pending) and snap.pending.size
    if sim_board.learning:                # the learned weights continue too
        assert np.array_equal(sim_board.read_weights(), states[-1].learn["weight"])
