"""Reward learning with three-factor STDP: an XOR-like mapping of four patterns.

Four input patterns are the combinations of two binary features ``(f1, f2)``: A =
(0, 0), B = (0, 1), C = (1, 0), D = (1, 1). The rewarded output is ``f1 XOR f2``:
output 0 for A and D, output 1 for B and C. The input channels are eight groups of
``group`` channels: ``f1 = 0``, ``f1 = 1``, ``f2 = 0``, ``f2 = 1`` (the features, each
pattern drives two of them) and one *identity* group per pattern. During a pattern its
identity group fires Poisson spikes at ``p_on`` per step and its two feature groups at
``p_feature``, every channel fires background
noise at ``p_bg``.

**What makes it solvable by one layer:** the identity groups. On the feature groups
alone the mapping is XOR, which no single layer of weights separates; each identity
group is active for one pattern only, so output 0 can win A and D through the A and D
identity weights and output 1 B and C through theirs. The feature groups are
distractors: each is active in one pattern of each output, so reward pushes its
weights up and down in turn.

Two CUBA-LIF outputs (dt = 1 ms) inhibit each other and get every channel through a
plastic ``RSTDP`` synapse; a homeostatic threshold keeps each near a few spikes per
second so that neither stays silent. A trial: ``stim_steps`` steps of the pattern
(modulator 0); the output that fired first (a tie: the one with more spikes in the
stimulus, still equal: no winner) is the decision; then ``reward_steps`` steps without
input with the modulator at ``round(gain * (r - r_mean))``, where ``r = +1`` if the
rewarded output won and ``r = -1`` otherwise (a wrong winner, a tie or no spike at all),
and ``r_mean`` is the running mean of ``r`` for this pattern (a reward prediction, so
the modulator is positive exactly when ``r = +1`` and zero once the pattern is always
right); then ``gap_steps`` with the modulator 0. The eligibility time constant
(``tau_e``) outlasts the reward window.

:func:`run_task` runs it on the golden model or a board (``neurofab demo --learning
rstdp``); ``docs/learning.md`` has the figures.
"""

import math
import time

import numpy as np

from neurofab.checks import check_int
from neurofab.config import Network, compile
from neurofab.learning import RSTDP, Homeostasis
from neurofab.models import decay_of
from neurofab.plot import save

from .runner import as_runner, task_params

__all__ = ["PARAMS", "PATTERNS", "TARGET", "build_config", "pattern_channels",
           "stimulus", "decide", "run_task"]

#: The four patterns, as feature pairs (f1, f2), in the order A, B, C, D.
PATTERNS = ((0, 0), (0, 1), (1, 0), (1, 1))
#: The rewarded output of every pattern: f1 XOR f2.
TARGET = tuple(f1 ^ f2 for f1, f2 in PATTERNS)
NAMES = "ABCD"

#: The task's parameters (``run_task`` keyword ``params`` overrides any of them).
PARAMS = {
    "group": 6,               # channels per group (8 groups)
    "p_on": 0.25,             # spike probability per step of an active identity channel
    "p_feature": 0.15,        # spike probability per step of an active feature channel
    "p_bg": 0.01,             # background spikes per step, every channel
    "stim_steps": 12, "reward_steps": 10, "gap_steps": 10,
    "tau_syn": 2.0, "tau_mem": 10.0,    # ms
    "threshold": 400, "refractory": 2,
    "w_init": 10,             # initial weights uniform in [w_init/2, 3 w_init/2]
    "w_max": 127,
    "inhibition": -127,       # weight between the two outputs
    "a_plus": 0.25, "a_minus": 0.05,    # weight units
    "tau_plus": 20.0, "tau_minus": 20.0, "tau_e": 20.0,   # ms
    "m_shift": 8,
    "gain": 32,               # modulator for r - r_mean = 1
    "baseline_rate": 0.2,     # step of the running mean r_mean
    "homeostasis_hz": 10.0, "homeostasis_eta": 4.0,   # target rate, threshold units
}

DT = 1.0


def _params(params):
    return task_params(PARAMS, params, "reward task")


def pattern_channels(k, group):
    """The input channels of pattern ``k`` (0..3): its two feature groups and its
    identity group."""
    f1, f2 = PATTERNS[k]
    groups = (f1, 2 + f2, 4 + k)
    return np.concatenate([np.arange(g * group, (g + 1) * group) for g in groups])


def stimulus(rng, k, p):
    """``stim_steps`` per-step channel arrays of pattern ``k``."""
    n = 8 * p["group"]
    prob = np.full(n, float(p["p_bg"]))
    chans = pattern_channels(k, p["group"])
    g = p["group"]
    prob[chans[:2 * g]] = p["p_feature"]
    prob[chans[2 * g:]] = p["p_on"]
    return [np.flatnonzero(rng.random(n) < prob) for _ in range(p["stim_steps"])]


def decide(spikes):
    """The winning output of a stimulus' spikes (0, 1) or ``None`` (no spike, or a
    tie in first-spike step and spike count)."""
    counts = np.zeros(2, dtype=np.int64)
    first = None
    for s in spikes:
        s = np.asarray(s)
        s = s[s < 2]
        counts[s] += 1
        if first is None and s.size:
            first = s
    if first is None:
        return None
    if first.size == 1:
        return int(first[0])
    return None if counts[0] == counts[1] else int(np.argmax(counts))


def build_config(params=None, seed=0):
    """``(cfg, projection)``: the learning ``CoreConfig`` and the plastic projection."""
    p = _params(params)
    net = Network(w_shift=0)
    homeo = {}
    if p["homeostasis_hz"]:
        homeo = dict(homeostasis=Homeostasis(target_rate=p["homeostasis_hz"],
                                             eta=p["homeostasis_eta"], lo=-100.0,
                                             hi=100.0), dt=DT)
    out = net.population(2, name="outputs", decay_i=decay_of(p["tau_syn"], DT),
                         decay_v=decay_of(p["tau_mem"], DT), threshold=int(p["threshold"]),
                         bias=0, v_reset=0, refractory=int(p["refractory"]), **homeo)
    inp = net.inputs(8 * int(p["group"]), name="groups")
    rng = np.random.default_rng([seed, 7])
    w0 = int(p["w_init"])
    weights = rng.integers(w0 // 2, w0 * 3 // 2 + 1, (inp.size, 2))
    rule = RSTDP(a_plus=p["a_plus"], a_minus=p["a_minus"], tau_plus=p["tau_plus"],
                 tau_minus=p["tau_minus"], w_min=0, w_max=int(p["w_max"]),
                 tau_e=p["tau_e"], m_shift=int(p["m_shift"]))
    proj = net.project(inp, out, weights, rule=rule, dt=DT)
    net.project(out, out, np.array([[0, p["inhibition"]], [p["inhibition"], 0]]))
    return compile(net), proj


def run_task(runner=None, *, seed=0, trials=1200, out=None, params=None, progress=None):
    """Train the two outputs by reward; returns the JSON summary.

    Parameters
    ----------
    runner : None, neurofab.host.Board or neurofab.tasks.Runner
        ``None``: the golden model. A learning ``Board``: the task runs on it and on the
        golden model alongside, comparing weights and learning state after every trial.
    seed : int
        Seeds the initial weights, the pattern order and the spikes.
    trials : int
        Trials (at least 100).
    out : str or Path, optional
        Learning-curve PNG.
    params : dict, optional
        Overrides of :data:`PARAMS`.
    progress : callable, optional
        ``progress(done_trials, trials)``.

    Returns
    -------
    dict
        ``accuracy_last_100``, ``goal_met``, ``trials``, ``steps``, ``seed``,
        ``golden_equals_board`` (``None`` on the golden model), per-pattern accuracy of
        the last 100 trials and the curve (accuracy of every block of 50 trials).
    """
    seed = check_int("seed", seed, 0, 2**32 - 1)
    trials = check_int("trials", trials, 100, 1_000_000)
    p = _params(params)
    cfg, proj = build_config(p, seed)
    runner = as_runner(runner, cfg)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    quiet = [np.zeros(0, dtype=np.int64)] * (p["reward_steps"] + p["gap_steps"])
    r_mean = np.zeros(4)
    correct, chosen, shown, modulators = [], [], [], []
    steps = 0
    for trial in range(trials):
        k = int(rng.integers(4))
        spikes = runner.run(stimulus(rng, k, p), reward=[0] * p["stim_steps"])
        winner = decide(spikes)
        r = 1 if winner == TARGET[k] else -1
        m = int(round(p["gain"] * (r - r_mean[k])))
        r_mean[k] += p["baseline_rate"] * (r - r_mean[k])
        runner.run(quiet, reward=[m] * p["reward_steps"] + [0] * p["gap_steps"])
        runner.check()
        steps += p["stim_steps"] + len(quiet)
        correct.append(r == 1)
        chosen.append(-1 if winner is None else winner)
        shown.append(k)
        modulators.append(m)
        if progress:
            progress(trial + 1, trials)
    correct = np.array(correct)
    shown = np.array(shown)
    last = slice(max(0, trials - 100), trials)
    block = 50
    curve = {"trial": [], "accuracy": []}
    for b in range(0, trials - block + 1, block):
        curve["trial"].append(b + block)
        curve["accuracy"].append(round(float(correct[b:b + block].mean()), 4))
    per_pattern = {}
    for k in range(4):
        sel = shown[last] == k
        per_pattern[NAMES[k]] = None if not sel.any() else \
            round(float(correct[last][sel].mean()), 4)
    acc = float(correct[last].mean())
    weights = runner.weights()
    summary = {
        "task": "rstdp", "seed": seed, "accuracy_last_100": round(acc, 4),
        "goal_met": bool(acc >= 0.95), "trials": trials, "steps": steps,
        "trial_steps": p["stim_steps"] + len(quiet),
        "per_pattern_last_100": per_pattern,
        "no_decision_last_100": int((np.array(chosen)[last] == -1).sum()),
        "neurons": cfg.n_neurons, "inputs": cfg.n_inputs, "synapses": cfg.n_synapses,
        "runner": runner.name,
        "golden_equals_board": runner.equal,
        "mismatch": runner.mismatch,
        "curve": curve, "params": p, "wall_s": round(time.perf_counter() - t0, 3)}
    if out is not None:
        summary["plot"] = str(_plot(out, curve, weights, cfg, p, summary))
    return summary


def _group_weights(weights, cfg, group):
    """Mean weight (8 groups x 2 outputs) of the input synapses."""
    src = cfg.syn_source - cfg.n_neurons
    w = np.zeros((8, 2))
    for g in range(8):
        for o in range(2):
            sel = (src >= g * group) & (src < (g + 1) * group) & (cfg.syn_target == o)
            w[g, o] = weights[sel].mean()
    return w


def _plot(path, curve, weights, cfg, p, summary):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4), dpi=110,
                                 gridspec_kw={"width_ratios": [3, 2]})
    a1.plot(curve["trial"], curve["accuracy"], "o-", ms=3)
    a1.axhline(0.95, color="gray", ls=":", lw=1)
    a1.axhline(0.5, color="gray", ls="--", lw=0.8)
    a1.set_ylim(0, 1.02)
    a1.set_xlabel("trial")
    a1.set_ylabel("accuracy (blocks of 50 trials)")
    a1.set_title(f"last 100 trials: {summary['accuracy_last_100']:.2f}", fontsize=9)
    w = _group_weights(weights, cfg, p["group"])
    im = a2.imshow(w.T, aspect="auto", cmap="viridis")
    a2.set_xticks(range(8), ["f1=0", "f1=1", "f2=0", "f2=1", "A", "B", "C", "D"],
                  fontsize=7)
    a2.set_yticks([0, 1], ["out 0\n(A, D)", "out 1\n(B, C)"], fontsize=7)
    a2.set_title("mean weight per input group", fontsize=9)
    fig.colorbar(im, ax=a2)
    fig.suptitle(f"R-STDP learns XOR of two features (seed {summary['seed']}, "
                 f"{summary['runner']})", fontsize=10)
    fig.tight_layout()
    return save(fig, path)
