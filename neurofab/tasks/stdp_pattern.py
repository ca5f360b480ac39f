"""STDP finds a spatiotemporal pattern hidden in Poisson noise.

After Masquelier, Guyonneau & Thorpe (2008), "Spike timing dependent plasticity finds
the start of repeating patterns in continuous spike trains", PLoS ONE 3(1): e1377.

``n_inputs`` channels fire Poisson spikes at ``rate_hz``; a frozen 50-ms segment of the
same process (the *pattern*: exactly ``round(n_inputs * rate_hz * 50 ms)`` spikes, so
each channel fires about once in it) is pasted into the stream in 50-ms slots, never in
two slots in a row, a quarter of the time on average; every channel also fires
``spont_hz`` of spontaneous spikes everywhere, the pattern included. The mean rate
inside the pattern windows is the rate outside them: the pattern is invisible in rates
and only its repetition of spike *timing* tells it apart.

One CUBA-LIF neuron (dt = 1 ms, tau_syn = 2.5 ms, tau_mem = 10 ms) gets every channel
through a plastic synapse with all-to-all pair STDP (``neurofab.learning.STDP``,
depression-dominated: ``a_minus * tau_minus > a_plus * tau_plus``). Training runs
``train_s`` seconds of input with learning on; the score is measured on ``test_s``
fresh seconds (new noise and new pattern times, the same pattern), learning still on:

* ``hit_rate`` — pattern presentations in which the neuron fires inside the pattern
  window (the 50 steps of the pattern, shifted by the synaptic delay of 1 step);
* ``false_alarms_per_s`` — spikes outside pattern windows per second outside them.

:func:`run_task` runs it on the golden model or a board (``neurofab demo --learning
stdp``); ``docs/learning.md`` has the figures.
"""

import math
import time

import numpy as np

from neurofab.checks import check_int
from neurofab.config import Network, compile
from neurofab.learning import STDP, Homeostasis
from neurofab.models import decay_of
from neurofab.plot import save

from .runner import as_runner, task_params

__all__ = ["PARAMS", "make_pattern", "make_input", "build_config", "window_rates",
           "score", "run_task"]

#: The task's parameters (``run_task`` keyword ``params`` overrides any of them).
PARAMS = {
    "n_inputs": 200,          # input channels (a board core takes up to 256)
    "rate_hz": 20.0,          # Poisson rate of every channel, pattern included
    "spont_hz": 10.0,         # spontaneous spikes on top, everywhere
    "pattern_ms": 50,         # pattern length (steps of 1 ms)
    "p_pattern": 1 / 3,       # chance a slot after a noise slot holds the pattern
    "tau_syn": 2.5, "tau_mem": 10.0,   # ms
    "threshold": 10000,       # integer v units
    "refractory": 2,          # steps
    "w_init": 60,             # initial weight of every synapse (of 0 .. w_max)
    "w_max": 127,
    "a_plus": 4.0,            # weight units per pre -> post pair at zero distance
    "a_minus_ratio": 0.7,     # a_minus / a_plus
    "tau_plus": 16.8, "tau_minus": 33.7,   # ms (the paper's)
    "homeostasis_hz": 0.0,    # > 0: a homeostatic threshold with this target rate
    "homeostasis_eta": 62.5,  # threshold units per spike
}

DT = 1.0           # ms per step
DELAY = 1          # synaptic delay, steps


def _params(params):
    return task_params(PARAMS, params, "STDP task")


def make_pattern(rng, n_inputs, length, rate_hz):
    """The frozen pattern: a bool array (length, n_inputs) with exactly
    ``round(n_inputs * rate_hz * length / 1000)`` spikes at random places."""
    count = int(round(n_inputs * rate_hz * length / 1000.0))
    pattern = np.zeros((length, n_inputs), dtype=bool)
    pattern.flat[rng.choice(length * n_inputs, count, replace=False)] = True
    return pattern


def make_input(rng, pattern, steps, rate_hz, spont_hz, p_pattern):
    """``steps`` steps of input: ``(raster, starts)``, a bool array (steps, n_inputs)
    and the sorted start steps of the pattern's presentations (slots of
    ``len(pattern)`` steps; a slot after a noise slot holds the pattern with chance
    ``p_pattern``, a slot after a pattern never does)."""
    length, n = pattern.shape
    raster = rng.random((steps, n)) < rate_hz / 1000.0 * DT
    slots = steps // length
    starts, prev = [], False
    draws = rng.random(slots)
    for k in range(slots):
        prev = (not prev) and k > 0 and draws[k] < p_pattern
        if prev:
            raster[k * length:(k + 1) * length] = pattern
            starts.append(k * length)
    raster |= rng.random((steps, n)) < spont_hz / 1000.0 * DT
    return raster, np.array(starts, dtype=np.int64)


def _windows(starts, length, steps):
    inside = np.zeros(steps, dtype=bool)
    for s in starts:
        inside[s + DELAY:min(s + length + DELAY, steps)] = True
    return inside


def window_rates(raster, starts, length):
    """Mean rate per channel (Hz) inside and outside the pattern's slots."""
    inside = np.zeros(len(raster), dtype=bool)
    for s in starts:
        inside[s:s + length] = True
    per_step = raster.mean(axis=1)
    to_hz = 1000.0 / DT
    return float(per_step[inside].mean() * to_hz), float(per_step[~inside].mean() * to_hz)


def score(spike_steps, starts, length, steps):
    """``(hit_rate, false_alarms_per_s)`` of output spike steps (see the module)."""
    spike_steps = np.asarray(spike_steps, dtype=np.int64)
    inside = _windows(starts, length, steps)
    hits = sum(bool(np.any((spike_steps >= s + DELAY) & (spike_steps < s + length + DELAY)))
               for s in starts)
    outside_s = (steps - int(inside.sum())) * DT / 1000.0
    false = int((~inside[spike_steps]).sum()) if spike_steps.size else 0
    return (hits / len(starts) if len(starts) else math.nan,
            false / outside_s if outside_s > 0 else math.nan)


def build_config(params=None):
    """``(cfg, projection)``: the learning ``CoreConfig`` of the task and the plastic
    input projection (for ``Board.read_weights(projection)``)."""
    p = _params(params)
    net = Network(w_shift=0)
    homeo = {}
    if p["homeostasis_hz"]:
        homeo = dict(homeostasis=Homeostasis(target_rate=p["homeostasis_hz"],
                                             eta=p["homeostasis_eta"], lo=-2000.0,
                                             hi=2000.0), dt=DT)
    out = net.population(1, name="detector", decay_i=decay_of(p["tau_syn"], DT),
                         decay_v=decay_of(p["tau_mem"], DT), threshold=int(p["threshold"]),
                         bias=0, v_reset=0, refractory=int(p["refractory"]), **homeo)
    inp = net.inputs(int(p["n_inputs"]), name="afferents")
    rule = STDP(a_plus=p["a_plus"], a_minus=p["a_minus_ratio"] * p["a_plus"],
                tau_plus=p["tau_plus"], tau_minus=p["tau_minus"], w_min=0,
                w_max=int(p["w_max"]), nearest=False)
    proj = net.project(inp, out, int(p["w_init"]), delay=DELAY, rule=rule, dt=DT)
    return compile(net), proj


def _chans(raster):
    return [np.flatnonzero(row) for row in raster]


def run_task(runner=None, *, seed=0, train_s=20.0, test_s=10.0, out=None, params=None,
             progress=None):
    """Train and test the pattern detector; returns the JSON summary.

    Parameters
    ----------
    runner : None, neurofab.host.Board or neurofab.tasks.Runner
        ``None``: the golden model. A learning ``Board``: the task runs on it and on the
        golden model alongside, comparing weights and learning state after every second.
    seed : int
        Seeds the pattern, the noise and the pattern times.
    train_s, test_s : float
        Seconds of simulated time (1000 steps each) of training and of the test.
    out : str or Path, optional
        Learning-curve PNG.
    params : dict, optional
        Overrides of :data:`PARAMS`.
    progress : callable, optional
        ``progress(done_steps, total_steps)``.

    Returns
    -------
    dict
        ``hit_rate``, ``false_alarms_per_s``, ``goal_met``, ``steps``, ``seed``,
        ``golden_equals_board`` (``None`` on the golden model), the input statistics and
        the training curve (per second: ``hit_rate``, ``false_alarms_per_s``).
    """
    seed = check_int("seed", seed, 0, 2**32 - 1)
    for name, value in (("train_s", train_s), ("test_s", test_s)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                             np.floating)):
            raise TypeError(f"{name} must be a number of seconds, not {value!r}")
        if not math.isfinite(value) or not 1 <= value <= 3600:
            raise ValueError(f"{name} = {value} is outside the limit [1, 3600] seconds")
    p = _params(params)
    cfg, proj = build_config(p)
    runner = as_runner(runner, cfg)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    length = int(p["pattern_ms"])
    pattern = make_pattern(rng, cfg.n_inputs, length, p["rate_hz"])
    train_steps, test_steps = int(round(train_s * 1000)), int(round(test_s * 1000))
    train, train_starts = make_input(rng, pattern, train_steps, p["rate_hz"], p["spont_hz"],
                                     p["p_pattern"])
    test, test_starts = make_input(np.random.default_rng([seed, 1]), pattern, test_steps,
                                   p["rate_hz"], p["spont_hz"], p["p_pattern"])
    total, done = train_steps + test_steps, 0
    chunk = 1000
    curve = {"t_s": [], "hit_rate": [], "false_alarms_per_s": [], "mean_weight": []}
    for begin in range(0, train_steps, chunk):
        end = min(begin + chunk, train_steps)
        spikes = runner.run(_chans(train[begin:end]))
        fired = [t for t, s in enumerate(spikes) if 0 in s]
        starts = train_starts[(train_starts >= begin) & (train_starts + length <= end)] - begin
        hit, fa = score(fired, starts, length, end - begin)
        curve["t_s"].append(end / 1000.0)
        curve["hit_rate"].append(None if math.isnan(hit) else round(hit, 4))
        curve["false_alarms_per_s"].append(round(fa, 4))
        curve["mean_weight"].append(round(float(runner.weights().mean()), 3))
        runner.check()
        done += end - begin
        if progress:
            progress(done, total)
    fired = []
    for begin in range(0, test_steps, chunk):
        end = min(begin + chunk, test_steps)
        spikes = runner.run(_chans(test[begin:end]))
        fired += [begin + t for t, s in enumerate(spikes) if 0 in s]
        runner.check()
        done += end - begin
        if progress:
            progress(done, total)
    hit, fa = score(fired, test_starts, length, test_steps)
    weights = runner.weights()
    first = np.where(pattern.any(axis=0), pattern.argmax(axis=0), length)
    inside_hz, outside_hz = window_rates(train, train_starts, length)
    summary = {
        "task": "stdp", "seed": seed, "hit_rate": round(hit, 4),
        "false_alarms_per_s": round(fa, 4),
        "goal_met": bool(hit >= 0.9 and fa <= 1.0),
        "steps": total, "train_steps": train_steps, "test_steps": test_steps,
        "presentations": {"train": int(train_starts.size), "test": int(test_starts.size)},
        "test_spikes": len(fired),
        "rate_inside_hz": round(inside_hz, 3), "rate_outside_hz": round(outside_hz, 3),
        "potentiated": int((weights >= 0.8 * p["w_max"]).sum()),
        "depressed": int((weights <= 0.1 * p["w_max"]).sum()),
        "neurons": cfg.n_neurons, "inputs": cfg.n_inputs, "synapses": cfg.n_synapses,
        "runner": runner.name,
        "golden_equals_board": runner.equal,
        "mismatch": runner.mismatch,
        "curve": curve, "params": p, "wall_s": round(time.perf_counter() - t0, 3)}
    if out is not None:
        summary["plot"] = str(_plot(out, curve, weights, first, length, summary))
    return summary


def _plot(path, curve, weights, first, length, summary):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    t = curve["t_s"]
    hits = [np.nan if h is None else h for h in curve["hit_rate"]]
    a1.plot(t, hits, "o-", ms=3, color="tab:blue", label="hit rate (per second)")
    a1.set_ylim(-0.05, 1.05)
    a1.set_xlabel("training time (s)")
    a1.set_ylabel("hit rate", color="tab:blue")
    b1 = a1.twinx()
    b1.plot(t, curve["false_alarms_per_s"], "s-", ms=3, color="tab:red",
            label="false alarms / s")
    b1.set_ylabel("false alarms per second", color="tab:red")
    a1.set_title(f"training; test: hit rate {summary['hit_rate']:.2f}, "
                 f"{summary['false_alarms_per_s']:.2f} false alarms/s", fontsize=9)
    a2.scatter(first, weights, s=8, c="black")
    a2.set_xlabel(f"afferent's first spike in the pattern (ms; {length} = none)")
    a2.set_ylabel("weight after training")
    a2.set_title("potentiated afferents fire early in the pattern", fontsize=9)
    fig.suptitle(f"STDP finds a hidden pattern (seed {summary['seed']}, "
                 f"{summary['runner']})", fontsize=10)
    fig.tight_layout()
    return save(fig, path)
