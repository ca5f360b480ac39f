"""A board whose core runs another neuron kernel: the simulated ULX3S top with the
Izhikevich kernel (the real top level under Verilator), driven by the real host driver.

Izhikevich is the kernel of choice here: its state words (v, u) differ from CUBA-LIF's and
its initial state is not zero (each neuron starts at its profile's rest point), so the
load/reset path that writes it back after RESET is exercised too.
"""

import numpy as np
import pytest

from neurofab import golden
from neurofab.config import random_config
from neurofab.golden.core import CoreState
from neurofab.host import Board, BoardError

pytestmark = pytest.mark.slow

KERNEL = "izhikevich"
#: (the iCE40UP5K has no room for it, ``Board.kernels``; the ULX3S also holds the demo
#: network below, so both tests share one simulated board build)
BOARD = "ulx3s"


@pytest.fixture(scope="module")
def board():
    with Board.open(f"sim://{BOARD}?kernel={KERNEL}") as b:
        yield b


def test_identify_reports_the_kernel(board):
    assert board.kernel.name == KERNEL and board.info.kernel == board.kernel.kernel_id


def test_izhikevich_network_matches_golden_spikes_and_state(board):
    rng = np.random.default_rng(7)
    cfg = random_config(rng, n_neurons=64, n_inputs=12, kernel=KERNEL)
    inputs = [rng.choice(12, int(rng.integers(0, 5)), replace=False) for _ in range(20)]
    board.load(cfg)
    got = board.run(inputs)
    state = board.read_state()
    padded = cfg.padded(board.info.n_neurons, board.info.n_inputs)
    gold, states = golden.run(padded, inputs, trace=True)
    assert len(got) == len(gold) and all(np.array_equal(a, b) for a, b in zip(got, gold))
    assert sum(len(s) for s in gold) > 0
    for name in board.kernel.state_fields:
        assert np.array_equal(state.neurons[name], states[-1].neurons[name]), name
    assert np.array_equal(state.acc, states[-1].acc) and state.step == 20
    # reset: every neuron back at the kernel's (non-zero) initial state
    board.reset()
    state = board.read_state()
    start = CoreState.initial(padded)
    assert any(np.any(v) for v in start.neurons.values())
    for name in board.kernel.state_fields:
        assert np.array_equal(state.neurons[name], start.neurons[name]), name
    assert state.step == 0 and not state.acc.any()


def test_a_config_of_another_kernel_is_refused(board):
    cfg = random_config(1, n_neurons=16, n_inputs=4)          # cuba-lif
    with pytest.raises(BoardError, match="the config is for kernel cuba-lif, but board 0 runs "
                                         "kernel izhikevich"):
        board.load(cfg)


def test_demo_with_another_kernel_json(capsys, tmp_path, monkeypatch):
    """``neurofab demo --kernel izhikevich``: its E/I network, golden == RTL (Verilator)
    == the simulated board of that kernel."""
    import json

    from neurofab.cli import main
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--kernel", KERNEL, "--steps", "20", "--no-build", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["kernel"] == KERNEL and summary["spikes"] > 0
    # the first board that hosts the kernel and holds the network (10620 synapses)
    assert summary["board"] == BOARD
    assert summary["golden_equals_board"] is True and summary["golden_equals_rtl"] is True
