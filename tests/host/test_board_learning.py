"""Learning through the link: a learning core on the simulated board (the real ULX3S top
level with ``learning=True`` under Verilator), driven by the real host driver.

The ULX3S 85F is the only registry board that hosts a learning core; its top is built
here at a small geometry (32 neurons, 16 inputs, 512 synapses) and a fast UART so that
the Verilated board starts and steps quickly. After every run the spikes, the neuron
state and the whole learning state (``read_learning``) equal the golden model's.
"""

import math

import numpy as np
import pytest

from neurofab import golden, spec
from neurofab.boards.top import BoardTop
from neurofab.config import random_config, random_learning
from neurofab.golden.core import CoreState, NeuronCore
from neurofab.host import Board, BoardError
from neurofab.host.simboard import start_simulated_board
from neurofab.spec import Region

pytestmark = pytest.mark.slow

BOARD = "ulx3s"
#: the smallest core that still exercises padding (configs of 16 neurons, 8 inputs)
GEOMETRY = dict(n_neurons=32, n_inputs=16, syn_capacity=512)
#: 90 MHz / 8 clocks per UART bit: the link is not what these tests are about
BAUD = 11_250_000


def sim_board(learning):
    top = BoardTop(BOARD, sim=True, learning=learning, baud=BAUD, **GEOMETRY)
    return start_simulated_board(top, divisor=top.divisor)


@pytest.fixture(scope="module")
def board():
    with sim_board(True) as proc, Board.open(proc.url) as b:
        yield b


def random_inputs(rng, n_inputs, steps, per_step=5):
    return [rng.choice(n_inputs, int(rng.integers(0, per_step + 1)), replace=False)
            for _ in range(steps)]


def learning_config(seed, rules=("stdp", "rstdp", "homeostasis")):
    rng = np.random.default_rng(seed)
    cfg = random_learning(rng, random_config(rng, n_neurons=16, n_inputs=8), rules=rules)
    return cfg.padded(GEOMETRY["n_neurons"], GEOMETRY["n_inputs"],
                      n_synapses=GEOMETRY["syn_capacity"]), rng


def assert_state_equal(board, core):
    """Neuron state and learning state of the board == the golden core's."""
    state, gold = board.read_state(), core.state
    for name in board.kernel.state_fields:
        assert np.array_equal(state.neurons[name], gold.neurons[name]), name
    assert np.array_equal(state.acc, gold.acc) and state.step == gold.step
    learn = board.read_learning()
    assert list(learn) == list(gold.learn)
    for name, value in gold.learn.items():
        assert learn[name].dtype == np.int64, name
        assert np.array_equal(learn[name], value), name
    assert np.array_equal(board.read_weights(), gold.learn["weight"])


def golden_steps(core, inputs, reward):
    out = []
    for chans, r in zip(inputs, reward):
        core.set_modulator(r)
        out.append(core.step(chans))
    return out


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_identify_reports_learning(board):
    assert board.learning and board.info.learning == 1
    depths = spec.region_depths(**GEOMETRY, learning=True, queue=True)   # (ULX3S: QUEUE)
    assert board.info.queue == 1
    assert {r: board.info.region_depth(r) for r in Region} == depths
    assert board.info.word_bytes[Region.SYNAPSE] == board.info.word_bytes[Region.CTRL] == 9


# (with every rule, random_learning gives rule 2 (three-factor) w_min = w_max, so only
# the three-factor-only config shows rewards changing weights)
@pytest.mark.parametrize("seed, rules", [(2, ("stdp", "rstdp", "homeostasis")),
                                         (4, ("rstdp",))])
def test_random_learning_matches_golden_after_every_run(board, seed, rules):
    cfg, rng = learning_config(seed, rules)
    assert cfg.learning is not None and (cfg.learning.syn_rule != 0).any()
    board.load(cfg)
    core = NeuronCore(cfg)
    assert_state_equal(board, core)                    # as loaded: the golden initial state
    fired = changed = 0
    for length in (6, 1, 9):                           # runs of several steps, and of one
        inputs = random_inputs(rng, cfg.n_inputs, length)
        # random rewards, often repeated (the driver queues equal ones together), with
        # the modulator's rails
        reward = rng.choice([0, 0, 5, -7, spec.MOD_MIN, spec.MOD_MAX,
                             int(rng.integers(spec.MOD_MIN, spec.MOD_MAX + 1))], length)
        got = board.run(inputs, reward=reward)
        gold = golden_steps(core, inputs, reward)
        assert same(got, gold)
        assert_state_equal(board, core)
        fired += sum(len(s) for s in gold)
        changed += int((core.state.learn["frac"] != 0).sum())
    assert fired > 0 and changed > 0                   # the test exercised learning
    assert (core.state.learn["elig"] != 0).any()
    assert (core.state.learn["theta"] != 0).any() == ("homeostasis" in rules)
    # without reward the modulator stays what it was
    inputs = random_inputs(rng, cfg.n_inputs, 4)
    got = board.run(inputs)
    assert same(got, golden_steps(core, inputs, [core.state.modulator] * 4))
    assert_state_equal(board, core)


def test_run_with_reward_equals_golden_run(board):
    """``board.run(inputs, reward=...)`` == ``golden.run(cfg, inputs, reward=...)``: the
    golden model writes each step's modulator, the driver only where it changes."""
    cfg, rng = learning_config(2, rules=("rstdp",))
    inputs = random_inputs(rng, cfg.n_inputs, 12, per_step=6)
    reward = [0, 0, 100, 100, 100, -3000, 0, 32767, 32767, -32768, 1, 1]
    board.load(cfg)
    progress = []
    got = board.run(inputs, reward=reward, progress=lambda k, n: progress.append((k, n)))
    gold, states = golden.run(cfg, inputs, trace=True, reward=reward)
    assert same(got, gold)
    assert progress[-1] == (12, 12) and [k for k, _ in progress] == sorted(k for k, _ in
                                                                          progress)
    learn = board.read_learning()
    assert all(np.array_equal(learn[k], v) for k, v in states[-1].learn.items())
    # the rewards mattered: without them the weights would differ
    _, plain = golden.run(cfg, inputs, trace=True)
    fine = (lambda st: st["weight"] * 256 + st["frac"])          # noqa: E731
    assert not np.array_equal(fine(plain[-1].learn), fine(learn))


def test_reset_restarts_the_dynamics_and_keeps_the_learned_weights(board):
    cfg, rng = learning_config(3)
    board.load(cfg)
    core = NeuronCore(cfg)
    inputs = random_inputs(rng, cfg.n_inputs, 10)
    reward = rng.integers(-500, 500, 10)
    assert same(board.run(inputs, reward=reward), golden_steps(core, inputs, reward))
    learned = board.read_learning()
    for name in ("x", "y", "theta", "elig"):            # RESET below has work to do
        assert learned[name].any(), name
    assert not np.array_equal(learned["weight"] * 256 + learned["frac"],
                              cfg.syn_weight * 256)
    board.reset()
    # the golden state after RESET: neurons, accumulators, step, traces, fired flags,
    # offsets, eligibilities and the modulator restart; weight and frac are kept
    start = CoreState.initial(cfg)
    start.learn["weight"], start.learn["frac"] = learned["weight"], learned["frac"]
    core = NeuronCore(cfg, start)
    assert_state_equal(board, core)
    inputs = random_inputs(rng, cfg.n_inputs, 6)
    assert same(board.run(inputs), golden_steps(core, inputs, [0] * 6))   # modulator 0
    assert_state_equal(board, core)
    # load restores the config's weights
    board.load(cfg)
    assert_state_equal(board, NeuronCore(cfg))


def test_set_modulator_and_reward_are_validated(board):
    cfg, _ = learning_config(4)
    board.load(cfg)
    board.set_modulator(spec.MOD_MIN)
    board.set_modulator(np.int16(-5))
    for value, exc, message in (
            (spec.MOD_MAX + 1, ValueError, r"^modulator = 32768 is outside the limit "
                                           r"\[-32768, 32767\]$"),
            (spec.MOD_MIN - 1, ValueError, r"^modulator = -32769 is outside the limit"),
            (1.0, TypeError, r"^modulator must be an integer, not 1\.0$"),
            (math.nan, TypeError, r"^modulator must be an integer, not nan$"),
            (True, TypeError, r"^modulator must be an integer, not True$"),
            ("3", TypeError, r"^modulator must be an integer, not '3'$")):
        with pytest.raises(exc, match=message):
            board.set_modulator(value)
    inputs = [[], [1], []]
    for reward, exc, message in (
            ([0, 1], ValueError, r"^reward has 2 values, expected one per step \(3\)$"),
            ([0, 1, 2, 3], ValueError, r"^reward has 4 values, expected one per step"),
            (np.zeros((3, 1), np.int64), ValueError,
             r"^reward has shape \(3, 1\), expected \(3,\)"),
            ([0, 40000, 0], ValueError, r"^reward\[1\] = 40000 is outside the limit "
                                        r"\[-32768, 32767\]$"),
            ([0, 0, 0.5], TypeError, r"^reward\[2\] must be an integer, not 0\.5$"),
            (np.array([0.0, math.nan, 0.0]), TypeError, r"^reward\[0\] must be an integer"),
            (7, TypeError, r"^reward must be a sequence of one modulator value per step")):
        with pytest.raises(exc, match=message):
            board.run(inputs, reward=reward)
    assert board.status().steps_pending == 0           # nothing ran
    # steps beyond the inputs need their reward too
    assert len(board.run([[2]], steps=3, reward=[1, 1, 2])) == 3


def test_a_config_without_learning_is_refused(board):
    cfg = random_config(1, n_neurons=16, n_inputs=4)
    with pytest.raises(BoardError, match=r"^the config does not learn \(cfg\.learning is "
                                         r"None\), but board 0 has learning cores"):
        board.load(cfg)


def test_read_weights_of_a_projection(board):
    from neurofab.config import Network, compile
    from neurofab.learning import STDP
    net = Network(w_shift=0)
    inp = net.inputs(4)
    exc = net.population(8, threshold=50, decay_v=256, decay_i=1024)
    rule = STDP(tau_plus=20.0, tau_minus=20.0, a_plus=0.5, a_minus=0.5, w_min=-10,
                w_max=60)
    proj = net.project(inp, exc, weight=30, p=0.8, seed=1, rule=rule, dt=1.0)
    rec = net.project(exc, exc, weight=-5, p=0.3, seed=2)
    cfg = compile(net, n_neurons=GEOMETRY["n_neurons"])
    board.load(cfg)
    rng = np.random.default_rng(0)
    core = NeuronCore(cfg)
    inputs = random_inputs(rng, 4, 20, per_step=4)
    assert same(board.run(inputs), golden_steps(core, inputs, [0] * 20))
    weight = board.read_weights()
    assert np.array_equal(weight, core.state.learn["weight"])
    for p in (proj, rec):
        got = board.read_weights(p)
        assert got.shape == (len(p),)
        src = p.src + p.pre.start + (cfg.n_neurons if p is proj else 0)
        for k in range(len(p)):
            syn = np.flatnonzero((cfg.syn_source == src[k]) &
                                 (cfg.syn_target == p.dst[k] + p.post.start))
            assert got[k] == weight[syn[0]]
    assert np.array_equal(board.read_weights(rec), np.full(len(rec), -5))
    with pytest.raises(TypeError, match="projection must be a neurofab.config.Projection"):
        board.read_weights(3)


def test_a_learning_config_on_a_board_without_learning_is_refused():
    cfg, _ = learning_config(1)
    with sim_board(False) as proc, Board.open(proc.url) as board:
        assert not board.learning and board.info.region_depth(Region.PRE) == 0
        with pytest.raises(BoardError, match=r"^the config learns \(cfg\.learning\), but "
                                             r"board 0 has cores without learning"):
            board.load(cfg)
        for call in (lambda: board.set_modulator(0), board.read_learning,
                     board.read_weights, lambda: board.run([[]], reward=[0])):
            with pytest.raises(BoardError, match=r"needs a learning core, but board 0 has "
                                                 r"cores without learning"):
                call()
