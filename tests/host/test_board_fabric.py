"""The host driver on simulated boards with a fabric (``BoardTop(cores=4)``) and with a
spike encoder (``BoardTop(encoder=...)``): the real board tops at a small geometry under
Verilator, results equal to ``golden.fabric.run_fabric`` / ``golden.encoded_core``."""

import numpy as np
import pytest

from neurofab import golden
from neurofab.boards.top import BoardTop
from neurofab.config import random_config
from neurofab.golden import encoded_core as golden_encoded_core
from neurofab.golden import fabric as golden_fabric
from neurofab.host import Board, BoardError
from neurofab.host.simboard import start_simulated_board
from neurofab.partition import compile_fabric

pytestmark = pytest.mark.slow

BOARD = "ulx3s"
#: 90 MHz / 8 clocks per UART bit: the link is not what these tests are about
BAUD = 11_250_000
#: 4 cores of 16 neurons; axons: 64 neurons + 16 host channels
FABRIC = dict(cores=4, n_neurons=16, n_inputs=80, syn_capacity=512)
ENCODED = dict(n_neurons=16, n_inputs=16, syn_capacity=256)


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def _inputs(rng, n_inputs, steps, per_step=5):
    return [rng.choice(n_inputs, int(rng.integers(0, per_step + 1)), replace=False)
            for _ in range(steps)]


@pytest.fixture(scope="module")
def fabric_board():
    top = BoardTop(BOARD, sim=True, baud=BAUD, **FABRIC)
    with start_simulated_board(top, divisor=top.divisor) as proc, Board.open(proc.url) as b:
        yield b


def test_fabric_board_equals_golden(fabric_board):
    """A 4-core fabric: spikes (global neurons, no lag) equal ``run_fabric``; a second run
    continues; RESET starts over; every core's state equals the golden core's."""
    b = fabric_board
    assert b.n_cores == 4 and b.info.route_entries == 2 and b.encoder is None
    rng = np.random.default_rng(5)
    big = random_config(rng, n_neurons=64, n_inputs=16, max_fanout=6)
    fcfg = compile_fabric(big, cores=4, n_neurons=b.info.n_neurons)
    inputs = _inputs(rng, 16, 30)
    b.load(fcfg)
    gold = golden_fabric.run_fabric(fcfg, inputs)
    got = b.run(inputs)
    assert _same(got, gold) and sum(map(len, gold)) > 0
    fab = golden_fabric.Fabric(fcfg)
    for chans in inputs:
        fab.step(chans)
    more = _inputs(rng, 16, 10)
    assert _same(b.run(more), [fab.step(c) for c in more])
    for k in range(4):
        state, g = b.read_state(core=k), fab.cores[k].state
        assert state.step == g.step == 40
        for name in ("i", "v", "ref"):
            assert np.array_equal(state.neurons[name], g.neurons[name]), (k, name)
        assert np.array_equal(state.acc, g.acc), k
    b.reset()
    assert _same(b.run(inputs), gold)
    assert _same(gold, golden.run(big, inputs))      # the same network on one big core
    b.reset()
    assert _same(list(b.stream(iter(inputs), window=3)), gold)


def test_fabric_board_refusals(fabric_board):
    b = fabric_board
    rng = np.random.default_rng(6)
    big = random_config(rng, n_neurons=32, n_inputs=8, max_fanout=4)
    with pytest.raises(BoardError, match=r"has 4 cores behind an AER router: load a "
                                         r"FabricConfig"):
        b.load(big)
    with pytest.raises(BoardError, match=r"the FabricConfig has 2 cores, board 0 has 4"):
        b.load(compile_fabric(big, cores=2))
    with pytest.raises(BoardError, match=r"core 0 of the network does not fit board 0"):
        b.load(compile_fabric(random_config(rng, n_neurons=128, n_inputs=8), cores=4))
    b.load(compile_fabric(big, cores=4, n_neurons=16))
    with pytest.raises(ValueError, match=r"inputs\[1\]\[0\] = 8 is outside the limit \[0, 7\]"):
        b.run([[1], [8]])
    with pytest.raises(ValueError, match=r"core = 4 is outside"):
        b.read_state(core=4)


@pytest.mark.parametrize("kind", ["rate", "latency"])
def test_encoder_board_equals_golden(kind):
    """Values in, spikes out: equal to ``golden.encoded_core`` with the encoder parameters
    IDENTIFY announces; RESET restarts the encoder."""
    top = BoardTop(BOARD, sim=True, baud=BAUD, encoder=kind, **ENCODED)
    with start_simulated_board(top, divisor=top.divisor) as proc, Board.open(proc.url) as b:
        assert b.encoder == kind and b.n_cores == 1
        args = b.encoder_args
        assert args["channels"] == 16 and args["width"] == 8
        rng = np.random.default_rng(9)
        cfg = random_config(rng, n_neurons=16, n_inputs=16, max_fanout=6)
        values = rng.integers(0, 256, size=(25, 16))
        b.load(cfg)
        gold = golden_encoded_core.run(cfg, values, kind, **args)
        assert _same(b.run(values), gold) and sum(map(len, gold)) > 0
        b.reset()
        assert _same(b.run(values), gold)
        b.reset()
        assert _same(list(b.stream(iter(values))), gold)
        row = np.array([0, 0, 0, 256] + [0] * 12)
        with pytest.raises(ValueError, match=r"^values\[1\]\[3\] = 256 is outside the limit "
                                             r"\[0, 255\]"):
            list(b.stream([values[0], row]))
        with pytest.raises(ValueError, match=r"^values\[0\] has shape \(3,\), expected "
                                             r"\(16,\)"):
            list(b.stream([[1, 2, 3]]))
        with pytest.raises(TypeError, match=r"^values\[0\] must be integers, not float64"):
            list(b.stream([values[0] + 0.5]))
        with pytest.raises(ValueError, match=r"values\[0\]\[3\] = 256 is outside the limit "
                                             r"\[0, 255\]"):
            b.run(np.array([[0, 0, 0, 256] + [0] * 12]))
        with pytest.raises(ValueError, match=r"values have shape \(2, 3\); the board's"):
            b.run(np.zeros((2, 3), int))


def test_icebreaker_encoder_board_equals_golden():
    """The iCEBreaker's encoder top (``Board.for_encoder``: the output FIFO in a block RAM,
    ``spike_fifo="memory"``) on the simulated board, at a small geometry: values in,
    spikes and the whole core state equal ``golden.encoded_core`` step by step."""
    top = BoardTop("icebreaker", sim=True, baud=3_750_000, encoder="rate", **ENCODED)
    assert top.core.core.spike_fifo == "memory"
    with start_simulated_board(top, divisor=top.divisor) as proc, Board.open(proc.url) as b:
        args = b.encoder_args
        rng = np.random.default_rng(12)
        cfg = random_config(rng, n_neurons=16, n_inputs=16, max_fanout=8)
        cfg.bias[:4] = 2 ** 15 - 1           # four neurons fire whenever they may
        values = rng.integers(0, 256, size=(20, 16))
        b.load(cfg)
        gold = golden_encoded_core.EncodedCore(cfg, "rate", **args)
        fired = 0
        for t, row in enumerate(values):
            expect = gold.step(row)
            assert np.array_equal(b.run(row[None])[0], expect), t
            state, g = b.read_state(), gold.state
            assert state.step == g.step == t + 1
            for name in ("i", "v", "ref"):
                assert np.array_equal(state.neurons[name], g.neurons[name]), (t, name)
            assert np.array_equal(state.acc, g.acc), t
            fired += len(expect)
        assert fired >= 4 * len(values) and gold.synaptic_events > 100
