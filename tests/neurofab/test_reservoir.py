"""The reservoir task (neurofab.tasks.reservoir): nsram's benchmark definitions on hand
cases, the reservoir's structure, determinism, refusals, and a board equal to golden."""

import math

import numpy as np
import pytest

from neurofab.config import compile as compile_network
from neurofab.tasks import Reservoir
from neurofab.tasks import reservoir as rc


# --- the benchmark's generators and metrics ----------------------------------------
def test_input_is_nsrams_uniform_signal():
    u = rc.benchmark_input()
    assert u.shape == (3000,) and u.dtype == np.float64
    assert np.array_equal(u, np.random.RandomState(42).uniform(-1, 1, 3000))
    assert u.min() >= -1 and u.max() < 1


def test_split_point():
    assert rc.split_point(3000, 500) == 1750      # 1250 train, 1250 test steps
    assert rc.split_point(11, 1) == 6
    assert rc.split_point(10, 0) == 5


def test_ridge_by_hand():
    # XᵀX + I = [[3, 1], [1, 3]], Xᵀy = [4, 5]  ->  w = [7/8, 11/8]
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert np.allclose(rc.ridge(x, [1.0, 2.0, 3.0]), [7 / 8, 11 / 8], rtol=0, atol=1e-15)
    assert np.allclose(rc.ridge(x, [1.0, 2.0, 3.0], alpha=0.0), [1.0, 2.0])


def test_narma_target_by_hand():
    u = np.ones(6)                                  # v = (1 + 1) / 4 = 0.5
    y = rc.narma_target(u, 2)
    y2 = math.tanh(1.5 * 0.25 + 0.1)
    y3 = math.tanh(0.3 * y2 + 0.05 * y2 * (0 + y2) + 0.475)
    assert y[0] == y[1] == 0
    assert y[2] == pytest.approx(y2, abs=1e-15) and y[3] == pytest.approx(y3, abs=1e-15)
    u = np.array([-1.0, 1.0, 0.0, 0.0])             # v = 0, 0.5, 0.25, 0.25
    assert rc.narma_target(u, 1)[1] == pytest.approx(math.tanh(0.1), abs=1e-15)
    y = rc.narma_target(u, 1)
    assert y[2] == pytest.approx(math.tanh(0.3 * y[1] + 0.05 * y[1] ** 2 + 1.5 * 0.25
                                           + 0.1), abs=1e-15)


def test_waveform_labels_are_the_four_bins_upper_edge_up():
    u = [-1.0, -0.5, -0.25, 0.0, 0.49, 0.5, 1.0]
    assert rc.waveform_labels(u).tolist() == [0, 1, 1, 2, 2, 3, 3]


def _xor(u, tau):
    x = np.zeros(u.size)
    x[tau:] = (u[tau:] > 0) != (u[:-tau] > 0)
    return x


def test_metrics_of_ideal_states():
    u = rc.benchmark_input(1000, 3)
    one = np.ones(u.size)
    # the XOR target itself and a constant row: every test step right
    for tau in rc.XOR_DELAYS:
        assert rc.xor_accuracy(np.stack([_xor(u, tau), one]), u, tau=tau) == 1.0
    # perfect memory of the last 15 inputs: capacity 15 up to the ridge's shrinkage
    past = np.stack([np.concatenate([np.zeros(d), u[:-d]]) for d in range(1, 16)])
    total, r2 = rc.memory_capacity(past, u, per_delay=True)
    assert total == pytest.approx(r2.sum()) and total > 14.99 and r2.min() > 0.999
    # the NARMA series itself predicts itself
    assert rc.narma_r2(rc.narma_target(u, 10)[None, :] * 100, u, order=10) > 0.9999
    # the class indicators classify every step
    onehot = (rc.waveform_labels(u)[None, :] == np.arange(4)[:, None]).astype(float)
    assert rc.waveform_accuracy(onehot, u) == 1.0
    m = rc.evaluate(np.concatenate([past, onehot]), u)
    assert list(m) == list(rc.METRICS) and m["wave4"] == 1.0 and m["mc"] > 14.9


def test_metrics_of_states_without_information():
    u = rc.benchmark_input(1000, 5)
    noise = np.random.default_rng(0).random((8, u.size))
    m = rc.evaluate(noise, u)
    assert all(0.5 <= m[k] < 0.58 for k in ("xor1", "xor2", "xor5"))
    assert m["mc"] < 0.2 and m["wave4"] < 0.4
    # a constant state: no correlation counts 0, nothing is predicted
    assert rc.memory_capacity(np.ones((1, u.size)), u) == 0.0
    assert rc.narma_r2(np.zeros((1, u.size)), u) == 0.0


def test_short_series_score_chance_as_nsram():
    u = rc.benchmark_input(540, 1)
    states = np.ones((2, 540))
    assert rc.xor_accuracy(states, u, tau=1) == 0.5         # 19 train steps < 20
    assert rc.narma_r2(states, u, order=5) == 0.0
    assert rc.memory_capacity(states, u) == 0.0


@pytest.mark.parametrize("call, error, message", [
    (lambda: rc.evaluate(np.zeros(10), np.zeros(10)), ValueError, "states has shape (10,)"),
    (lambda: rc.evaluate(np.zeros((2, 10)), np.zeros(9)), ValueError,
     "u has shape (9,), expected (10,)"),
    (lambda: rc.evaluate(np.full((2, 10), np.nan), np.zeros(10)), ValueError,
     "states[0, 0] = nan is not a finite number"),
    (lambda: rc.evaluate(np.zeros((2, 10)), np.zeros(10), washout=10), ValueError,
     "washout = 10 is outside the limit [0, 9]"),
    (lambda: rc.xor_accuracy(np.zeros((2, 600)), np.zeros(600), tau=0), ValueError,
     "tau = 0 is below the limit 1"),
    (lambda: rc.benchmark_input(0), ValueError, "steps = 0 is below the limit 1"),
])
def test_metrics_refuse_bad_input(call, error, message):
    with pytest.raises(error) as exc:
        call()
    assert message in str(exc.value)


# --- the reservoir -----------------------------------------------------------------
@pytest.fixture(scope="module")
def res():
    return Reservoir()


def test_quantise_puts_the_class_edges_on_level_edges():
    u = np.array([-1.0, -0.5 - 1e-12, -0.5, 0.0, 0.5, 1.0 - 1e-12, 1.0])
    assert rc.quantise(u).tolist() == [0, 15, 16, 32, 48, 63, 63]


def test_fits_one_icebreaker_core(res):
    cfg = res.cfg
    assert res.network.n_neurons == 256 and res.network.n_inputs == 256
    assert cfg.n_neurons == 256 and cfg.n_inputs == 256 and cfg.n_synapses <= 32768
    assert cfg.kernel.name == "cuba-lif"
    assert compile_network(res.network, target="icebreaker") == cfg
    assert (res.lags, res.n_taps, res.n_coincidence) == (24, 192, 64)
    # every lag 1..23 has coincidence neurons, twice or three times
    assert np.bincount(res.co_lag).tolist() == [0] + [3] * 18 + [2] * 5
    assert Reservoir(topology="random").cfg.n_synapses <= 32768


def test_neurons_compute_what_the_docstring_says(res):
    u = rc.benchmark_input(400, 11)
    s = res.transform(u)
    x = rc.quantise(u)
    bands = res.bands
    for k in range(res.lags):                      # tap (b, k): u(t - k) in band b
        want = np.zeros((bands, u.size))
        want[x[:u.size - k] * bands // rc.LEVELS, np.arange(k, u.size)] = 1
        assert np.array_equal(s[k * bands:(k + 1) * bands], want), k
    half = (x >= rc.LEVELS // 2).astype(int)
    for m in range(res.n_coincidence):             # u(t) and u(t - lag) in their halves
        lag, (ha, hb) = res.co_lag[m], res.co_halves[m]
        want = np.zeros(u.size)
        want[lag:] = (half[lag:] == ha) & (half[:-lag] == hb)
        assert np.array_equal(s[res.n_taps + m], want), m


def test_short_run_beats_chance_and_is_deterministic():
    u = rc.benchmark_input(1000, 7)
    a = Reservoir(64, seed=3)
    s = a.transform(u)
    assert s.shape == (64, 1000) and s.dtype == np.float64
    assert np.array_equal(s, a.transform(u))                  # same call, same states
    assert np.array_equal(s, Reservoir(64, seed=3).transform(u))
    assert a.lags == 6 and a.equal is None
    m = rc.evaluate(s, u)
    assert min(m["xor1"], m["xor2"], m["xor5"], m["wave4"]) > 0.95
    assert m["mc"] > 4.5 and m["narma10"] > 0.2     # lags 1..5 remembered
    small = rc.evaluate(Reservoir(64, seed=3, coincidence=0.5).transform(u), u)
    assert small["xor5"] < 0.6                      # lags 1..3 only: no XOR-5 features


def test_seeds_change_the_network_and_the_encoder():
    a, b = Reservoir(64, seed=0), Reservoir(64, seed=1)
    assert a.encoder_seed != b.encoder_seed
    assert not np.array_equal(a.co_halves, b.co_halves)


@pytest.mark.parametrize("options", [
    {"readout": "i"}, {"readout": "v"}, {"tau": 2.0}, {"topology": "random"},
    {"coincidence": 0.0, "bands": 16}, {"copies": 1, "sigma": 2.0},
])
def test_variants_run(options):
    u = rc.benchmark_input(60, 2)
    r = Reservoir(32, seed=1, **options)
    s = r.transform(u)
    assert s.shape == (32, 60) and np.isfinite(s).all()
    assert np.array_equal(s, r.transform(u))


def test_filtered_spikes_are_the_exponential_filter_of_the_spikes():
    u = rc.benchmark_input(50, 4)
    raw = Reservoir(32, seed=2).transform(u)
    filt = Reservoir(32, seed=2, tau=3.0).transform(u)
    keep = math.exp(-1 / 3)
    acc = np.zeros(32)
    for t in range(50):
        acc = keep * acc + raw[:, t]
        assert np.array_equal(filt[:, t], acc)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n_neurons": 300}, ValueError, "n_neurons = 300 is outside the limit [16, 256]"),
    ({"n_neurons": 8}, ValueError, "n_neurons = 8 is outside the limit [16, 256]"),
    ({"n_neurons": 64.0}, TypeError, "n_neurons must be an integer"),
    ({"bands": 6}, ValueError, "bands = 6 must be a power of two in [2, 64]"),
    ({"coincidence": 1.0}, ValueError, "coincidence = 1 is outside the limit [0, 1)"),
    ({"copies": 5}, ValueError, "copies = 5 is outside the limit [1, 4]"),
    ({"sigma": 0.0}, ValueError, "sigma = 0 is outside the limit (0, 64]"),
    ({"readout": "w"}, ValueError, "readout = 'w' is not one of ('spikes', 'v', 'i')"),
    ({"readout": "v", "tau": 2.0}, ValueError, "tau = 2 filters spikes"),
    ({"topology": "ring"}, ValueError, "topology = 'ring' is not one of"),
    ({"n_neurons": 16, "bands": 16}, ValueError,
     "n_neurons = 16 with coincidence = 0.25 leaves 0 lag(s) of 16 bands"),
    ({"board": object()}, TypeError, "board must be a neurofab.host.Board"),
])
def test_bad_parameters_are_refused(kwargs, error, message):
    with pytest.raises(error) as exc:
        Reservoir(**kwargs)
    assert message in str(exc.value)


@pytest.mark.parametrize("u, error, message", [
    (np.zeros((2, 3)), ValueError, "u has shape (2, 3), expected (T,)"),
    (np.zeros(0), ValueError, "u has shape (0,), expected (T,) with T >= 1"),
    (np.array([0.0, np.nan]), ValueError, "u[1] = nan is not a finite number"),
    (np.array([0.0, -np.inf]), ValueError, "u[1] = -inf is not a finite number"),
    (np.array([0.5, 1.5]), ValueError, "u[1] = 1.5 is outside the limit [-1, 1]"),
    (np.array([True, False]), TypeError, "u must hold real numbers, not bool values"),
    ("0.5", TypeError, "u must be an array of numbers"),
])
def test_bad_input_is_refused(u, error, message):
    with pytest.raises(error) as exc:
        Reservoir(32).transform(u)
    assert message in str(exc.value)


class _EncoderBoard:
    encoder, encoder_args = "population", {"channels": 32, "width": 8, "fields": 8}

    def load(self, cfg):
        raise AssertionError("not loaded")

    reset = run = read_state = load


def test_a_board_with_an_on_chip_encoder_is_refused():
    with pytest.raises(ValueError, match="on-chip population encoder .* open the board "
                                         "without an encoder"):
        Reservoir(board=_EncoderBoard())


def test_run_task_summary_and_table():
    summary = rc.run_task(seeds=2, n_neurons=32, steps=rc.WASHOUT + 100)
    assert summary["n_neurons"] == 32 and summary["seeds"] == 2
    assert set(summary["golden"]) == set(rc.METRICS)
    assert all(set(v) == {"mean", "std"} for v in summary["golden"].values())
    assert len(summary["per_seed"]) == 2 and summary["board"] is None
    table = rc.format_table(summary)
    assert "NS-RAM, 2000 neurons" in table and "XOR-1" in table and "97.0 %" in table
    assert len(table.splitlines()) == 1 + len(rc.METRICS)
    with pytest.raises(ValueError, match="seeds = 0 is outside the limit"):
        rc.run_task(seeds=0)
    with pytest.raises(TypeError, match="vary_input must be a bool"):
        rc.run_task(seeds=1, vary_input=1)


def test_cli_demo_task_reservoir_parses():
    from neurofab.cli import build_parser, check_args
    args = build_parser().parse_args(["demo", "--task", "reservoir", "--seeds", "3"])
    assert args.task == "reservoir" and args.seeds == 3
    args = build_parser().parse_args(["demo", "--task", "reservoir", "--seeds", "0"])
    with pytest.raises(ValueError, match="--seeds 0 must be in"):
        check_args(args)


# --- the board ---------------------------------------------------------------------
@pytest.mark.slow
def test_board_equals_golden_step_by_step():
    from neurofab.host import Board
    u = rc.benchmark_input(240, 9)
    with Board.open("sim://icebreaker") as board:
        on_board = Reservoir(seed=1, board=board)
        states = on_board.transform(u)
        assert on_board.equal is True and on_board.mismatch is None
        assert np.array_equal(states, Reservoir(seed=1).transform(u))
        # readout v: the whole neuron state read back and compared after every step
        on_board = Reservoir(32, seed=2, readout="v", board=board)
        states = on_board.transform(u[:12])
        assert on_board.equal is True, on_board.mismatch
        assert np.array_equal(states, Reservoir(32, seed=2, readout="v").transform(u[:12]))
