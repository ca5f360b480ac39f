"""``neurofab reset``: a board an interrupted host left running is recovered from the
command line (reliability issue, defect 3)."""

import json

import numpy as np
import pytest

from neurofab.cli import main
from neurofab.config import random_config
from neurofab.host import Board, codec
from neurofab.host.simboard import start_simulated_board

pytestmark = pytest.mark.slow


def test_reset_verb_recovers_a_busy_board(capsys):
    cfg = random_config(np.random.default_rng(3), n_neurons=16, n_inputs=8)
    with start_simulated_board("icebreaker") as sim:
        with Board.open(sim.url) as board:            # a host that walks away mid-run
            board.load(cfg)
            board.transact(codec.run(1_000_000))
            assert board.status().steps_pending > 0
        assert main(["reset", "--url", sim.url, "--json"]) == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert summary["before"]["steps_pending"] > 0
        assert summary["after"]["steps_pending"] == 0
        with Board.open(sim.url) as board:            # and the next host can work
            board.load(cfg)
            assert len(board.run([[0], [1], []])) == 3
