"""Reservoir computing on one neuron core, scored by nsram's benchmark suite.

The protocol is nsram's (PyPI ``nsram`` 0.12.0, ``nsram/benchmarks.py``, function
``rc_benchmark``): a reservoir is an object with ``transform(u) -> states`` that maps an
input signal ``u`` of shape ``(T,)`` to its states ``(N, T)``; a linear readout of the
states is trained by ridge regression and scored on held-out steps. The task generators
and metrics below are written from that file's definitions (the code here is our own)
and give the same numbers on the same states (checked against nsram's own functions):

* **input** (:func:`benchmark_input`): ``numpy.random.RandomState(42).uniform(-1, 1,
  3000)`` — :data:`STEPS` i.i.d. uniform values; the same signal drives every repetition.
* **washout and split**: the first :data:`WASHOUT` = 500 steps are dropped; of the
  remaining ``T - 500`` steps the first ``(T - 500) // 2`` train the readout, the rest
  test it (:func:`split_point`).
* **readout** (:func:`ridge`): ``w = (XᵀX + αI)⁻¹ Xᵀy`` with α = 1, no intercept (a
  reservoir whose states have no constant direction cannot fit a target's mean); ``X``
  is the states transposed, one row per step.
* **temporal XOR** at delay τ = 1, 2, 5 (:func:`xor_accuracy`): target
  ``(u(t) > 0) != (u(t − τ) > 0)`` from the states at ``t``; classified by ``X w > 0.5``;
  the score is ``max(acc, 1 − acc)``, and 0.5 if the train or test part has fewer than 20
  steps.
* **memory capacity** (:func:`memory_capacity`): ``Σ_{d=1..15} r²(d)``, ``r`` the
  correlation of the readout's prediction of ``u(t − d)`` with ``u(t − d)`` on the test
  part (a delay whose prediction or target is constant counts 0).
* **NARMA-N** R², N = 5, 10 (:func:`narma_target`, :func:`narma_r2`): ``v = (u + 1) / 4``,
  ``y(t) = tanh(0.3 y(t−1) + 0.05 y(t−1) Σ_{k=1..N} y(t−k) + 1.5 v(t−1) v(t−N) + 0.1)``
  (``y = 0`` for ``t < N``), predicted from the states at ``t``;
  ``R² = max(0, 1 − SS_res / SS_tot)`` on the test part.
* **4-class waveform** (:func:`waveform_accuracy`): the class of ``u(t)`` among the four
  equal bins of [−1, 1] (``numpy.digitize`` at −0.5, 0, 0.5), one ridge readout per class
  on its indicator, the largest output wins; the score is the test accuracy.

:func:`evaluate` computes all seven (nsram's keys ``xor1 xor2 xor5 mc narma5 narma10
wave4``), :func:`benchmark` runs a reservoir on the input and scores it, and
:func:`run_task` is ``neurofab demo --task reservoir``: mean ± std over seeds on the
golden model, and the same steps on a board compared with golden step by step.

The reservoir (:class:`Reservoir`) is a network of one CUBA-LIF core that fits the
iCEBreaker (256 neurons, 256 input channels, 32768 synapses; ``compile(...,
target="icebreaker")``). ``docs/tasks.md`` ("Reservoir computing") has the measured
table next to nsram's published figures (:data:`NSRAM`) and what mattered.
"""

import math
import time

import numpy as np

from neurofab.checks import check_bool, check_float, check_int, check_pow2

__all__ = ["STEPS", "WASHOUT", "INPUT_SEED", "RIDGE_ALPHA", "XOR_DELAYS", "MC_MAX_DELAY",
           "NARMA_ORDERS", "WAVE_CLASSES", "METRICS", "NSRAM", "LEVELS", "FIELDS",
           "ENCODER_WIDTH", "ENCODER_SIGMA", "MIN_NEURONS", "MAX_NEURONS", "MAX_COPIES",
           "READOUTS", "TOPOLOGIES", "RANDOM_TOPOLOGY", "benchmark_input", "split_point",
           "ridge", "xor_accuracy", "memory_capacity", "narma_target", "narma_r2",
           "waveform_labels", "waveform_accuracy", "evaluate", "quantise", "Reservoir",
           "benchmark", "run_task", "format_table"]

#: Steps of the benchmark input (nsram's ``n_steps``).
STEPS = 3000
#: Steps dropped before the readout sees the states (nsram's ``washout``).
WASHOUT = 500
#: Seed of ``numpy.random.RandomState`` that draws the input (nsram's ``seed``).
INPUT_SEED = 42
#: Ridge parameter α of every readout.
RIDGE_ALPHA = 1.0
#: Delays τ of the temporal-XOR tasks.
XOR_DELAYS = (1, 2, 5)
#: Memory capacity sums delays 1 .. MC_MAX_DELAY.
MC_MAX_DELAY = 15
#: Orders of the NARMA tasks.
NARMA_ORDERS = (5, 10)
#: Classes of the waveform task.
WAVE_CLASSES = 4
#: The metrics, in nsram's order and with its keys.
METRICS = ("xor1", "xor2", "xor5", "mc", "narma5", "narma10", "wave4")

#: nsram's published figures (PyPI ``nsram`` 0.12.0, README "Key Results" and
#: "Quickstart"): its 2000-neuron NS-RAM reservoir, the tanh ESN of the same table, and
#: the 128-neuron example. Metrics it does not publish are absent.
NSRAM = {
    "NS-RAM, 2000 neurons": {"xor1": 0.970, "wave4": 0.976, "narma10": 0.358, "mc": 3.38},
    "ESN (tanh)": {"xor1": 0.505, "wave4": 0.698, "narma10": 0.000, "mc": 4.13},
    "NS-RAM, 128 neurons": {"xor1": 0.903, "wave4": 0.925, "narma10": 0.52, "mc": 2.29},
}

# --- the benchmark -------------------------------------------------------------------


def benchmark_input(steps=STEPS, seed=INPUT_SEED):
    """nsram's input signal: ``RandomState(seed).uniform(-1, 1, steps)`` (float64)."""
    steps = check_int("steps", steps, 1)
    seed = check_int("seed", seed, 0, 2**32 - 1)
    return np.random.RandomState(seed).uniform(-1.0, 1.0, steps).astype(np.float64)


def split_point(steps, washout=WASHOUT):
    """The first test step: ``washout + (steps - washout) // 2``."""
    return washout + (steps - washout) // 2


def ridge(x, y, alpha=RIDGE_ALPHA):
    """Ridge regression without intercept: ``w = (XᵀX + αI)⁻¹ Xᵀy``.

    Parameters
    ----------
    x : array, shape (samples, features)
    y : array, shape (samples,)
    alpha : float

    Returns
    -------
    numpy.ndarray, shape (features,)
    """
    x = np.asarray(x, dtype=np.float64)
    gram = x.T @ x + alpha * np.eye(x.shape[1])
    return np.linalg.solve(gram, x.T @ np.asarray(y, dtype=np.float64))


def _check_pair(states, u, washout):
    """``states`` (N, T) and ``u`` (T,) as float64 arrays, ``washout`` as an int."""
    s = np.asarray(states)
    if s.ndim != 2:
        raise ValueError(f"states has shape {s.shape}, expected (N, T)")
    if s.dtype.kind not in "biuf":
        raise TypeError(f"states must hold real numbers, not {s.dtype} values")
    s = s.astype(np.float64)
    if not np.isfinite(s).all():
        n, t = np.argwhere(~np.isfinite(s))[0]
        raise ValueError(f"states[{n}, {t}] = {s[n, t]} is not a finite number")
    u = _check_signal("u", u, lo=None)
    if u.shape != (s.shape[1],):
        raise ValueError(f"u has shape {u.shape}, expected ({s.shape[1]},): one value per "
                         f"step of the states")
    washout = check_int("washout", washout, 0, s.shape[1] - 1)
    return s, u, washout


def _check_signal(name, u, lo=-1.0, hi=1.0):
    """``u`` as a 1-D float64 array of finite numbers (in ``[lo, hi]`` unless ``lo`` is
    None), refusing anything else naming ``name``, the index, the value and the limit."""
    if isinstance(u, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, not {u!r}")
    a = np.asarray(u)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, not {a.dtype} values")
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} has shape {a.shape}, expected (T,) with T >= 1: one value "
                         f"per step")
    a = a.astype(np.float64)
    bad = ~np.isfinite(a)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{k}] = {a[k]} is not a finite number")
    if lo is not None:
        bad = (a < lo) | (a > hi)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}[{k}] = {a[k]:g} is outside the limit [{lo:g}, {hi:g}]")
    return a


def xor_accuracy(states, u, washout=WASHOUT, tau=1):
    """Temporal XOR at delay ``tau``: test accuracy of ``(u(t) > 0) != (u(t - tau) > 0)``
    read from the states at ``t`` (``max(acc, 1 - acc)``; 0.5 when the train or test
    part is shorter than 20 steps)."""
    s, u, washout = _check_pair(states, u, washout)
    tau = check_int("tau", tau, 1)
    steps = s.shape[1]
    x = s[:, washout + tau:].T
    y = ((u[washout + tau:] > 0) != (u[washout:steps - tau] > 0)).astype(np.float64)
    n_train = split_point(steps, washout) - washout - tau
    if n_train < 20 or len(y) - n_train < 20:
        return 0.5
    w = ridge(x[:n_train], y[:n_train])
    acc = float(np.mean((x[n_train:] @ w > 0.5) == (y[n_train:] > 0.5)))
    return max(acc, 1.0 - acc)


def memory_capacity(states, u, washout=WASHOUT, max_delay=MC_MAX_DELAY, *, per_delay=False):
    """``Σ_{d=1..max_delay} r²(d)``: squared correlation of the readout's prediction of
    ``u(t - d)`` from the states at ``t`` with ``u(t - d)``, on the test part. A delay
    whose train or test part is shorter than 20 steps, or whose prediction or target is
    constant (std below 1e-10), counts 0. ``per_delay``: also return the ``r²`` array."""
    s, u, washout = _check_pair(states, u, washout)
    max_delay = check_int("max_delay", max_delay, 1)
    steps = s.shape[1]
    r2 = np.zeros(max_delay)
    total = 0.0                         # summed in delay order, as nsram does
    for d in range(1, max_delay + 1):
        x = s[:, washout + d:].T
        y = u[washout:steps - d]
        n_train = split_point(steps, washout) - washout - d
        if n_train < 20 or len(y) - n_train < 20:
            continue
        pred = x[n_train:] @ ridge(x[:n_train], y[:n_train])
        target = y[n_train:]
        if np.std(target) < 1e-10 or np.std(pred) < 1e-10:
            continue
        r2[d - 1] = np.corrcoef(pred, target)[0, 1] ** 2
        total += float(r2[d - 1])
    return (total, r2) if per_delay else total


def narma_target(u, order=10):
    """The NARMA-``order`` series driven by ``u`` (see the module): ``v = (u + 1) / 4``,
    ``y(t) = tanh(0.3 y(t-1) + 0.05 y(t-1) Σ_{k=1..order} y(t-k) + 1.5 v(t-1) v(t-order)
    + 0.1)`` for ``t >= order``, 0 before."""
    u = _check_signal("u", u, lo=None)
    order = check_int("order", order, 1)
    v = (u + 1.0) / 2.0 * 0.5
    y = np.zeros(u.size)
    for t in range(order, u.size):
        y[t] = np.tanh(0.3 * y[t - 1] + 0.05 * y[t - 1] * np.sum(y[t - order:t])
                       + 1.5 * v[t - 1] * v[t - order] + 0.1)
    return y


def _r2(pred, target):
    ss_res = float(np.sum((target - pred) ** 2))
    ss_tot = float(np.sum((target - target.mean()) ** 2))
    return max(0.0, 1.0 - ss_res / ss_tot) if ss_tot > 0 else 0.0


def narma_r2(states, u, washout=WASHOUT, order=10):
    """NARMA-``order`` prediction: R² (clipped at 0) of the readout of
    :func:`narma_target` from the states at ``t``, on the test part (0 when a part is
    shorter than 20 steps)."""
    s, u, washout = _check_pair(states, u, washout)
    steps = s.shape[1]
    y = narma_target(u, order)[washout:]
    x = s[:, washout:].T
    n_train = split_point(steps, washout) - washout
    if n_train < 20 or len(y) - n_train < 20:
        return 0.0
    pred = x[n_train:] @ ridge(x[:n_train], y[:n_train])
    return _r2(pred, y[n_train:])


def waveform_labels(u, classes=WAVE_CLASSES):
    """Class of every ``u(t)``: ``numpy.digitize`` at the inner edges of ``classes``
    equal bins of [-1, 1] (a value on an edge goes to the upper class)."""
    u = _check_signal("u", u, lo=None)
    classes = check_int("classes", classes, 2)
    return np.digitize(u, np.linspace(-1.0, 1.0, classes + 1)[1:-1]).astype(np.int64)


def waveform_accuracy(states, u, washout=WASHOUT, classes=WAVE_CLASSES):
    """Waveform classification: one ridge readout per class on its indicator, the
    largest output wins; the accuracy on the test part."""
    s, u, washout = _check_pair(states, u, washout)
    steps = s.shape[1]
    labels = waveform_labels(u, classes)[washout:]
    x = s[:, washout:].T
    n_train = split_point(steps, washout) - washout
    if n_train < 1 or steps - washout - n_train < 1:
        raise ValueError(f"waveform accuracy needs at least one train and one test step: "
                         f"{steps} steps with washout {washout}")
    out = np.stack([x[n_train:] @ ridge(x[:n_train], (labels[:n_train] == c).astype(float))
                    for c in range(classes)], axis=1)
    return float(np.mean(np.argmax(out, axis=1) == labels[n_train:]))


def evaluate(states, u, washout=WASHOUT):
    """Every metric of the suite on ``states`` (N, T) driven by ``u`` (T,): a dict with
    :data:`METRICS` keys (``xor1 xor2 xor5 mc narma5 narma10 wave4``), floats."""
    s, u, washout = _check_pair(states, u, washout)
    out = {f"xor{tau}": xor_accuracy(s, u, washout, tau) for tau in XOR_DELAYS}
    out["mc"] = memory_capacity(s, u, washout)
    for order in NARMA_ORDERS:
        out[f"narma{order}"] = narma_r2(s, u, washout, order)
    out["wave4"] = waveform_accuracy(s, u, washout)
    return {k: float(out[k]) for k in METRICS}


# --- the reservoir -------------------------------------------------------------------

#: Levels of the input code: ``u`` in [-1, 1] is quantised to 64 levels (6 bits).
LEVELS = 64
#: The population encoder's value width (bits): one level per value.
ENCODER_WIDTH = 6
#: Receptive fields per encoder channel: one per level.
FIELDS = 64
#: Width of the encoder's Gaussian receptive fields, in levels. Below 0.32 the field
#: table (``spec.population_table``) is ``lut[0] = 63``, ``lut[d > 0] = 0``: field ``j``
#: spikes with probability 63/64 when the value is ``j`` and never otherwise.
ENCODER_SIGMA = 0.25
#: Neurons of a reservoir: at least ``MIN_NEURONS``, at most the iCEBreaker's core.
MIN_NEURONS = 16
MAX_NEURONS = 256
#: Encoder channels (copies of the value): ``copies * FIELDS`` input channels <= 256.
MAX_COPIES = 4
#: What ``transform`` returns per neuron: its spikes (exponentially filtered with time
#: constant ``tau`` steps; ``tau = 0``: the spikes themselves), or the kernel's ``v`` or
#: ``i`` after every step.
READOUTS = ("spikes", "v", "i")
#: ``"delay"``: delay line and coincidence neurons (the tuned reservoir); ``"random"``:
#: a random recurrent LIF network on the same input code (the comparison).
TOPOLOGIES = ("delay", "random")

#: The random recurrent reservoir (``topology="random"``): every neuron gets
#: ``bands_per_neuron`` random bands of input levels (``band_widths`` levels wide,
#: starting on a multiple of 8, the channels of one random copy) through a random
#: delay 1 .. ``max_delay``, weight
#: ``+w_in`` (probability ``p_positive``) or ``-w_in``; leaky CUBA-LIF neurons
#: (memoryless current, ``decay_v``, ``threshold``, reset to 0); recurrent synapses with
#: probability ``p_rec``, weight ``±w_rec`` (a fraction ``excitatory`` of the neurons
#: excite), random delays 1..8. Tuned by a small sweep (docs/tasks.md).
RANDOM_TOPOLOGY = {"bands_per_neuron": 2, "band_widths": (8, 16, 32), "max_delay": 4,
                   "w_in": 20, "p_positive": 0.7, "decay_v": 1024, "threshold": 40,
                   "p_rec": 0.02, "w_rec": 20, "excitatory": 0.8}

#: Weight unit of the delay topology (``w_shift`` 0): a tap fires on one input line.
_W = 16
_MEMORYLESS = {"decay_i": 4096, "decay_v": 4096, "bias": 0, "v_reset": 0, "reset": 0,
               "refractory": 0}


def quantise(u):
    """``u`` in [-1, 1] -> the encoder's value: ``min(floor((u + 1) * 32), 63)``, int64
    (levels 16, 32, 48 start exactly at u = -0.5, 0, 0.5)."""
    u = _check_signal("u", u)
    return np.minimum(np.floor((u + 1.0) * (LEVELS // 2)), LEVELS - 1).astype(np.int64)


class Reservoir:
    """A reservoir on one CUBA-LIF core: ``transform(u) -> states (N, T)``.

    The input ``u(t)`` is quantised to 64 levels (:func:`quantise`) and encoded by the
    core's population encoder (``golden.encoders.PopulationEncoder``, the twin of the
    RTL's; ``copies`` channels of the same value, 64 receptive fields each, ``sigma``
    :data:`ENCODER_SIGMA` by default): each of the ``64 * copies`` input channels
    is one level of one copy and fires with probability 63/64 when ``u(t)`` is at its
    level (the encoder's LFSR, seeded from ``seed``, decides; a level is lost only if
    every copy drops it). Deterministic: the same call gives the same states.

    Topology ``"delay"`` (default; ``docs/tasks.md`` has why): every neuron is
    memoryless (``decay_i = decay_v = 4096``: it fires in step ``t`` iff its input of
    step ``t`` reaches its threshold), and

    * **tap neurons** — ``bands`` neurons per lag ``k = 0 .. lags - 1``: tap ``(b, k)``
      fires at ``t`` iff ``u(t - k)`` lies in band ``b`` of ``bands`` equal bands of the
      levels. Lag 0 reads the input channels of its band (delay 1, threshold one line);
      lag ``k`` relays lag ``k - 1`` through a recurrent synapse of delay 1.
    * **coincidence neurons** — each fires at ``t`` iff ``u(t)`` is in one half of
      [-1, 1] (its input channels, delay 1) and ``u(t - k)`` in one half (the taps of
      lag ``k - 1`` through delay 1), for a lag ``k`` in ``1 .. lags - 1`` (every lag
      about equally often, shuffled) and halves drawn at random.

    ``n_neurons - round(coincidence * n_neurons)`` neurons, rounded down to a multiple
    of ``bands``, are taps (``lags`` = that / ``bands``); the rest are coincidence
    neurons. Topology ``"random"``: :data:`RANDOM_TOPOLOGY`.

    Parameters
    ----------
    n_neurons : int
        Neurons, ``MIN_NEURONS`` .. ``MAX_NEURONS`` (256, the iCEBreaker's core).
    seed : int
        Seeds the network's random choices and the encoder's LFSR.
    bands : int
        Bands of the tap code, a power of two in 2 .. 64.
    coincidence : float
        Fraction of the neurons that are coincidence neurons, in [0, 1).
    copies : int
        Encoder channels carrying the value, 1 .. ``MAX_COPIES``.
    sigma : float
        Width (levels) of the encoder's receptive fields, in (0, 64]; the default
        :data:`ENCODER_SIGMA` makes every field one level wide and (nearly) certain,
        wider fields fire on neighbouring levels at random.
    readout : str
        ``"spikes"`` (default), ``"v"`` or ``"i"`` (:data:`READOUTS`).
    tau : float
        Time constant (steps) of the exponential filter of the spikes (``readout =
        "spikes"``): ``s(t) = exp(-1 / tau) s(t - 1) + spike(t)``; 0 (default): no filter.
    topology : str
        ``"delay"`` or ``"random"`` (:data:`TOPOLOGIES`).
    board : neurofab.host.Board, optional
        ``None``: the golden model. A board (without an on-chip encoder): the network
        is loaded on it and every ``transform`` runs there (from a reset, the input
        encoded by the host with the golden encoder, sent as per-step channel lists) and
        on the golden model alongside, compared step by step.

    Attributes
    ----------
    cfg : CoreConfig
        The network compiled for the iCEBreaker (``compile(net, target="icebreaker")``).
    network : neurofab.config.Network
    n_neurons : int
    equal : bool or None
        With a board, after ``transform``: whether the board equalled golden at every
        step (spikes; with readout ``v`` / ``i`` the whole neuron state); ``None`` before
        or without a board.
    mismatch : str or None
        The first difference, if any.
    """

    def __init__(self, n_neurons=256, seed=0, *, bands=8, coincidence=0.25, copies=MAX_COPIES,
                 sigma=ENCODER_SIGMA, readout="spikes", tau=0.0, topology="delay",
                 board=None):
        self.n_neurons = check_int("n_neurons", n_neurons, MIN_NEURONS, MAX_NEURONS)
        self.seed = check_int("seed", seed, 0, 2**32 - 1)
        self.bands = check_pow2("bands", bands, 2, LEVELS)
        self.coincidence = check_float("coincidence", coincidence, 0.0, 1.0, hi_open=True)
        self.copies = check_int("copies", copies, 1, MAX_COPIES)
        self.sigma = check_float("sigma", sigma, 0.0, float(LEVELS), lo_open=True)
        if readout not in READOUTS:
            raise ValueError(f"readout = {readout!r} is not one of {READOUTS}")
        self.readout = readout
        self.tau = check_float("tau", tau, 0.0, 1e6)
        if tau and readout != "spikes":
            raise ValueError(f"tau = {tau:g} filters spikes; readout {readout!r} has no "
                             f"filter (tau must be 0)")
        if topology not in TOPOLOGIES:
            raise ValueError(f"topology = {topology!r} is not one of {TOPOLOGIES}")
        self.topology = topology
        rng = np.random.default_rng(self.seed)
        self.encoder_seed = int(rng.integers(1, 1 << 16))
        self.network = (self._delay_network if topology == "delay" else
                        self._random_network)(rng)
        from neurofab.config import compile as compile_network
        self.cfg = compile_network(self.network, target="icebreaker")
        self.board = board
        self.equal = None
        self.mismatch = None
        if board is not None:
            for method in ("load", "reset", "run", "read_state"):
                if not callable(getattr(board, method, None)):
                    raise TypeError(f"board must be a neurofab.host.Board (it has no "
                                    f"{method}()), not {board!r}")
            if getattr(board, "encoder", None) is not None:
                raise ValueError(
                    f"the board has an on-chip {board.encoder} encoder "
                    f"({getattr(board, 'encoder_args', None)}); the reservoir's code (width "
                    f"{ENCODER_WIDTH}, {FIELDS} fields, sigma {self.sigma:g}) is encoded by "
                    f"the host: open the board without an encoder")
            board.load(self.cfg)

    def __repr__(self):
        return (f"<Reservoir {self.topology}: {self.n_neurons} neurons, seed {self.seed}, "
                f"readout {self.readout}, {self.cfg.n_synapses} synapses"
                f"{'' if self.board is None else ', on a board'}>")

    # --- networks --------------------------------------------------------------------
    def _line_levels(self):
        """The level of every input channel: channel ``c * FIELDS + j`` is level ``j``."""
        return np.tile(np.arange(LEVELS), self.copies)

    def _delay_network(self, rng):
        from neurofab.config import Network
        n, bands, copies = self.n_neurons, self.bands, self.copies
        lags = (n - int(round(self.coincidence * n))) // bands
        if lags < 1 or (lags < 2 and self.coincidence > 0):
            need = "two lags" if self.coincidence > 0 else "one lag"
            raise ValueError(f"n_neurons = {n} with coincidence = {self.coincidence:g} "
                             f"leaves {lags} lag(s) of {bands} bands: the coincidence "
                             f"neurons need {need} (more neurons, fewer bands or a "
                             f"smaller coincidence)")
        n_taps = lags * bands
        n_co = n - n_taps
        self.lags, self.n_taps, self.n_coincidence = lags, n_taps, n_co
        net = Network(w_shift=0)
        taps = net.population(n_taps, name="taps", threshold=_W, **_MEMORYLESS)
        inp = net.inputs(copies * FIELDS, name="levels")
        level = self._line_levels()
        band_of_level = level * bands // LEVELS
        w = np.zeros((copies * FIELDS, n_taps), dtype=np.int64)
        w[np.arange(copies * FIELDS), band_of_level] = _W          # lag 0: its band
        net.project(inp, taps, w)
        src = np.arange(n_taps - bands)                            # lag k-1 -> lag k
        net.project(taps, taps, _W, pairs=(src, src + bands))
        if n_co == 0:
            self.co_lag = self.co_halves = np.zeros(0, dtype=np.int64)
            return net
        # a coincidence neuron: a line of its half of u(t) adds _W (up to copies of
        # them), the tap of u(t - k) in its half adds copies * _W; threshold in between
        co = net.population(n_co, name="coincidence", threshold=(copies + 1) * _W,
                            **_MEMORYLESS)
        lag = rng.permutation(np.resize(np.arange(1, lags), n_co))
        halves = rng.integers(0, 2, size=(n_co, 2))
        self.co_lag, self.co_halves = lag, halves
        w = np.where((level[:, None] >= LEVELS // 2) == halves[None, :, 0].astype(bool),
                     _W, 0)
        net.project(inp, co, w)
        half_bands = np.arange(bands) >= bands // 2
        pre, post = [], []
        for m in range(n_co):
            b = np.flatnonzero(half_bands == bool(halves[m, 1]))
            pre.append((lag[m] - 1) * bands + b)
            post.append(np.full(b.size, m))
        net.project(taps, co, copies * _W, pairs=(np.concatenate(pre), np.concatenate(post)))
        return net

    def _random_network(self, rng):
        from neurofab.config import Network
        p, n, copies = RANDOM_TOPOLOGY, self.n_neurons, self.copies
        self.lags = self.n_taps = self.n_coincidence = 0
        net = Network(w_shift=0)
        pop = net.population(n, name="reservoir", decay_i=4096, decay_v=p["decay_v"],
                             threshold=p["threshold"], bias=0, v_reset=0, reset=0,
                             refractory=0)
        inp = net.inputs(copies * FIELDS, name="levels")
        level = self._line_levels()
        w = np.zeros((copies * FIELDS, n), dtype=np.int64)
        d = np.ones((copies * FIELDS, n), dtype=np.int64)
        for k in range(n):
            for _ in range(p["bands_per_neuron"]):
                width = int(rng.choice(p["band_widths"]))
                start = min(int(rng.integers(0, LEVELS // 8)) * 8, LEVELS - width)
                copy = np.arange(copies * FIELDS) // FIELDS == rng.integers(0, copies)
                sel = copy & (level >= start) & (level < start + width) & (w[:, k] == 0)
                sign = 1 if rng.random() < p["p_positive"] else -1
                w[sel, k] = sign * p["w_in"]
                d[sel, k] = rng.integers(1, p["max_delay"] + 1)
        net.project(inp, pop, w, delay=d)
        mask = rng.random((n, n)) < p["p_rec"]
        np.fill_diagonal(mask, False)
        sign = np.where(rng.random(n) < p["excitatory"], 1, -1)[:, None]
        delay = rng.integers(1, 9, size=(n, n))
        net.project(pop, pop, np.where(mask, sign * p["w_rec"], 0), delay=delay)
        return net

    # --- running ---------------------------------------------------------------------
    def encode(self, u):
        """The input channels of every step: ``u`` (T,) quantised and run through the
        population encoder (a fresh one, seeded as the reservoir). Returns one sorted
        int64 channel array per step, ``golden.run``'s ``inputs``."""
        from neurofab.golden.encoders.spike import PopulationEncoder
        x = quantise(u)
        enc = PopulationEncoder(self.copies, ENCODER_WIDTH, fields=FIELDS,
                                sigma=self.sigma, seed=self.encoder_seed)
        return enc.run(np.repeat(x[:, None], self.copies, axis=1))

    def transform(self, u, progress=None):
        """The states of the reservoir driven by ``u``, from its initial state.

        Parameters
        ----------
        u : array_like, shape (T,)
            The input signal, real numbers in [-1, 1].
        progress : callable, optional
            ``progress(done_steps, total_steps)`` while a board runs.

        Returns
        -------
        numpy.ndarray, float64, shape (n_neurons, T)
            Per neuron and step: its spike (0 or 1, filtered with ``tau``) or its ``v`` /
            ``i`` after the step (``readout``).

        Raises
        ------
        TypeError, ValueError
            ``u`` not a 1-D array of finite real numbers in [-1, 1] (the message names
            the index, the value and the limit).
        """
        inputs = self.encode(u)
        if self.readout == "spikes":
            raster = self._spikes_golden(inputs)
            if self.board is not None:
                raster = self._spikes_board(inputs, raster, progress)
            return self._filtered(raster)
        return self._state_readout(inputs, progress)

    def _raster(self, spikes):
        raster = np.zeros((self.n_neurons, len(spikes)), dtype=np.float64)
        for t, fired in enumerate(spikes):
            fired = np.asarray(fired, dtype=np.int64)
            if fired.size and fired.max() >= self.n_neurons:
                raise ValueError(f"step {t}: padding neuron {int(fired.max())} fired; it has "
                                 f"no synapses and a silent profile")
            raster[fired, t] = 1.0
        return raster

    def _spikes_golden(self, inputs):
        from neurofab.golden import run
        return self._raster(run(self.cfg, inputs))

    def _spikes_board(self, inputs, gold, progress):
        self.board.reset()
        got = self.board.run(inputs, progress=progress)
        raster = self._raster(got)
        diff = np.flatnonzero((raster != gold).any(axis=0))
        self.equal = diff.size == 0
        self.mismatch = None
        if diff.size:
            t = int(diff[0])
            self.mismatch = (f"spikes differ at step {t}: golden "
                             f"{np.flatnonzero(gold[:, t]).tolist()}, board "
                             f"{np.flatnonzero(raster[:, t]).tolist()}")
        return raster

    def _filtered(self, raster):
        if self.tau == 0:
            return raster
        keep = math.exp(-1.0 / self.tau)
        out = np.empty_like(raster)
        acc = np.zeros(raster.shape[0])
        for t in range(raster.shape[1]):
            acc = keep * acc + raster[:, t]
            out[:, t] = acc
        return out

    def _state_readout(self, inputs, progress):
        """``v`` or ``i`` after every step: the golden core stepped, and the board stepped
        with its state read back after every step (compared field by field)."""
        from neurofab.golden import NeuronCore
        core = NeuronCore(self.cfg)
        n, steps = self.n_neurons, len(inputs)
        out = np.zeros((n, steps), dtype=np.float64)
        board = self.board
        if board is not None:
            board.reset()
            self.equal, self.mismatch = True, None
        for t, chans in enumerate(inputs):
            fired = core.step(chans)
            gold = core.state.neurons
            out[:, t] = gold[self.readout][:n]
            if board is None:
                continue
            got = board.run([chans])[0]
            state = board.read_state()
            if self.equal and not np.array_equal(np.sort(got), fired):
                self.equal = False
                self.mismatch = (f"spikes differ at step {t}: golden {fired.tolist()}, "
                                 f"board {np.sort(got).tolist()}")
            for name, value in gold.items():
                theirs = np.asarray(state.neurons[name])
                if self.equal and not np.array_equal(theirs, value):
                    k = int(np.flatnonzero(theirs != value)[0])
                    self.equal = False
                    self.mismatch = (f"{name} differs after step {t}: neuron {k}, golden "
                                     f"{int(value[k])}, board {int(theirs[k])}")
            out[:, t] = np.asarray(state.neurons[self.readout])[:n]
            if progress is not None:
                progress(t + 1, steps)
        return out


def benchmark(reservoir, steps=STEPS, washout=WASHOUT, input_seed=INPUT_SEED):
    """One repetition of nsram's ``rc_benchmark``: drive ``reservoir`` (anything with
    ``transform(u) -> (N, T)``) with :func:`benchmark_input` and :func:`evaluate` its
    states."""
    u = benchmark_input(steps, input_seed)
    states = reservoir.transform(u)
    return evaluate(states, u, washout)


def _mean_std(rows):
    return {k: {"mean": float(np.mean([r[k] for r in rows])),
                "std": float(np.std([r[k] for r in rows]))} for k in METRICS}


def run_task(board=None, *, seeds=5, n_neurons=256, steps=STEPS, board_steps=None,
             input_seed=INPUT_SEED, vary_input=False, progress=None, **options):
    """The reservoir table: nsram's suite on reservoirs of seeds ``0 .. seeds - 1``.

    Parameters
    ----------
    board : neurofab.host.Board, optional
        Also run seed 0 on it (``Reservoir(board=board)``), compared with golden step by
        step.
    seeds : int
        Reservoirs (seeds ``0 .. seeds - 1``), 1 .. 100.
    n_neurons : int
    steps : int
        Steps of the input (nsram: 3000), at least ``WASHOUT + 80``.
    board_steps : int, optional
        The board runs the first ``board_steps`` steps (default: all); its metrics are
        computed only when it runs them all.
    input_seed : int
        Seed of the input (nsram: 42).
    vary_input : bool
        ``False`` (nsram's protocol): every reservoir sees the input of ``input_seed``.
        ``True``: seed ``k`` sees the input of ``input_seed + k`` (the board too runs
        seed 0's).
    progress : callable, optional
        ``progress(done_steps, total_steps)`` of the board run.
    **options
        Further ``Reservoir`` parameters (``bands``, ``coincidence``, ``copies``,
        ``readout``, ``tau``, ``topology``).

    Returns
    -------
    dict
        ``golden`` (per metric ``mean`` and ``std`` over the seeds, ``numpy.std``),
        ``per_seed`` (the metrics of every seed), ``board`` (``None`` without a board;
        else ``steps``, ``equal``, ``mismatch``, ``metrics`` of seed 0 or ``None``,
        ``golden_metrics`` of seed 0, ``steps_per_s``), ``nsram`` (:data:`NSRAM`),
        ``beats_nsram_2000`` (every published 2000-neuron figure and the ESN's memory
        capacity beaten by the golden mean), the reservoir's size and the settings.
    """
    seeds = check_int("seeds", seeds, 1, 100)
    steps = check_int("steps", steps, WASHOUT + 80)
    board_steps = steps if board_steps is None else check_int("board_steps", board_steps,
                                                              1, steps)
    vary_input = check_bool("vary_input", vary_input)
    u = benchmark_input(steps, input_seed)
    t0 = time.perf_counter()
    rows = []
    for seed in range(seeds):
        res = Reservoir(n_neurons, seed, **options)
        v = benchmark_input(steps, input_seed + seed) if vary_input else u
        rows.append(evaluate(res.transform(v), v))
    t_golden = time.perf_counter() - t0
    golden = _mean_std(rows)
    first = Reservoir(n_neurons, 0, **options)
    summary = {"n_neurons": first.n_neurons, "synapses": int(first.cfg.n_synapses),
               "input_channels": int(first.network.n_inputs), "seeds": seeds,
               "steps": steps, "washout": WASHOUT, "input_seed": input_seed,
               "vary_input": bool(vary_input),
               "options": {"topology": first.topology, "bands": first.bands,
                           "coincidence": first.coincidence, "copies": first.copies,
                           "sigma": first.sigma, "readout": first.readout,
                           "tau": first.tau},
               "lags": first.lags, "golden": golden, "per_seed": rows,
               "golden_s": round(t_golden, 3), "board": None, "nsram": NSRAM}
    ref, esn = NSRAM["NS-RAM, 2000 neurons"], NSRAM["ESN (tanh)"]
    summary["beats_nsram_2000"] = bool(
        all(golden[k]["mean"] > v for k, v in ref.items()) and golden["mc"]["mean"] > esn["mc"])
    if board is not None:
        res = Reservoir(n_neurons, 0, board=board, **options)
        t1 = time.perf_counter()
        states = res.transform(u[:board_steps], progress=progress)
        t_board = time.perf_counter() - t1
        summary["board"] = {
            "steps": board_steps, "equal": bool(res.equal), "mismatch": res.mismatch,
            "metrics": evaluate(states, u) if board_steps == steps else None,
            "golden_metrics": rows[0], "board_s": round(t_board, 3),
            "steps_per_s": round(board_steps / t_board, 1) if t_board > 0 else None}
    return summary


_LABELS = {"xor1": "XOR-1", "xor2": "XOR-2", "xor5": "XOR-5", "mc": "memory capacity",
           "narma5": "NARMA-5 R²", "narma10": "NARMA-10 R²", "wave4": "Waveform-4"}


def _fmt(key, value, std=None):
    if value is None:
        return "—"
    if key.startswith(("xor", "wave")):
        text = f"{100 * value:.1f} %"
        return text if std is None else f"{100 * value:.1f} ± {100 * std:.1f} %"
    return f"{value:.3f}" if std is None else f"{value:.3f} ± {std:.3f}"


def format_table(summary):
    """The text table of a :func:`run_task` summary: every metric, golden mean ± std,
    the board's seed 0 (when it ran every step) and nsram's published figures."""
    board = summary.get("board")
    board_m = board["metrics"] if board is not None else None
    head = [f"metric", f"golden ({summary['seeds']} seeds)"]
    if board is not None:
        head.append("board, seed 0")
    head += list(NSRAM)
    rows = [head]
    for k in METRICS:
        g = summary["golden"][k]
        row = [_LABELS[k], _fmt(k, g["mean"], g["std"])]
        if board is not None:
            row.append(_fmt(k, None if board_m is None else board_m[k]))
        row += [_fmt(k, ref.get(k)) for ref in NSRAM.values()]
        rows.append(row)
    widths = [max(len(r[c]) for r in rows) for c in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip()
                     for r in rows)
