"""One interface over the golden model and a board, for learning task scripts.

A task script talks to a :class:`Runner`:

* ``run(inputs, reward=None)`` — run ``len(inputs)`` steps (per-step arrays of input
  channels); ``reward`` is ``None`` (the modulator keeps its value) or one modulator
  value per step, written before its step. Returns one sorted array of fired neurons
  per step.
* ``set_modulator(m)`` — write the modulator register ``M`` (it stays until written).
* ``weights()`` — the integer weight of every synapse, CSR order (``cfg.syn_weight``'s).
* ``learn_state()`` — the learning state (``golden.CoreState.learn``'s form).

:class:`GoldenRunner` runs ``golden.NeuronCore``; :class:`BoardRunner` a loaded
``host.Board`` (``Board.run(inputs, reward=...)``, ``read_weights``, ``read_learning``,
``set_modulator``). :class:`Lockstep` drives a runner and its golden twin with the same
calls and says after every ``check`` whether weights and learning state are equal.
"""

import numpy as np

from neurofab import spec
from neurofab.checks import check_int
from neurofab.config import CoreConfig

__all__ = ["Runner", "GoldenRunner", "BoardRunner", "Lockstep", "check_reward", "as_runner",
           "task_params"]


def _check_cfg(cfg):
    if not isinstance(cfg, CoreConfig):
        raise TypeError(f"cfg must be a neurofab.config.CoreConfig, not {cfg!r}")
    if cfg.learning is None:
        raise ValueError("cfg.learning is None: a learning task needs a learning config "
                         "(Network.project(..., rule=STDP(...)) or RSTDP)")
    return cfg.validate()


def check_reward(reward, steps):
    """``reward`` (``None`` or one modulator value per step) as ``None`` or a list of
    ``steps`` ints, each in ``[spec.MOD_MIN, spec.MOD_MAX]``."""
    if reward is None:
        return None
    if isinstance(reward, (str, bytes)) or not hasattr(reward, "__len__"):
        raise TypeError(f"reward must be None or a sequence of one modulator value per "
                        f"step, not {reward!r}")
    if len(reward) != steps:
        raise ValueError(f"reward has {len(reward)} values, expected one per step ({steps})")
    return [check_int(f"reward[{t}]", r, spec.MOD_MIN, spec.MOD_MAX)
            for t, r in enumerate(reward)]


class Runner:
    """The interface (see the module); ``cfg`` is the learning ``CoreConfig`` it runs."""

    #: short name for reports: ``"golden"`` or ``"board"``
    name = "runner"
    #: a runner that compares two models (``Lockstep``): whether they agreed at every
    #: ``check`` and the first difference; ``None`` for a runner with nothing to compare
    equal = None
    mismatch = None

    def __init__(self, cfg):
        self.cfg = _check_cfg(cfg)

    def run(self, inputs, reward=None):
        raise NotImplementedError

    def set_modulator(self, m):
        raise NotImplementedError

    def weights(self):
        raise NotImplementedError

    def learn_state(self):
        raise NotImplementedError

    def check(self):
        """Compare the models now (``Lockstep``); a single model has nothing to compare."""
        return self.equal


class GoldenRunner(Runner):
    """The bit-true golden model (``golden.NeuronCore``) of ``cfg``.

    Parameters
    ----------
    cfg : CoreConfig
        A learning config (``cfg.learning`` not ``None``).
    """

    name = "golden"

    def __init__(self, cfg):
        super().__init__(cfg)
        from neurofab.golden import NeuronCore
        self.core = NeuronCore(self.cfg)

    def run(self, inputs, reward=None):
        inputs = self.cfg.check_inputs(inputs)
        reward = check_reward(reward, len(inputs))
        out = []
        for t, chans in enumerate(inputs):
            if reward is not None:
                self.core.set_modulator(reward[t])
            out.append(self.core.step(chans))
        return out

    def set_modulator(self, m):
        self.core.set_modulator(m)

    def weights(self):
        return self.core.state.learn["weight"].astype(np.int64).copy()

    def learn_state(self):
        return {k: v.astype(np.int64).copy() for k, v in self.core.state.learn.items()}


class BoardRunner(Runner):
    """A host ``Board`` with learning cores, ``cfg`` loaded on it.

    Parameters
    ----------
    board : neurofab.host.Board
        An open board whose cores learn (``board.learning``), e.g.
        ``Board.open("sim://ulx3s?learning=1")``.
    cfg : CoreConfig
        A learning config; it is loaded (``board.load``) here.
    """

    name = "board"

    def __init__(self, board, cfg):
        super().__init__(cfg)
        for method in ("run", "set_modulator", "read_weights", "read_learning", "load"):
            if not callable(getattr(board, method, None)):
                raise TypeError(f"board must be a neurofab.host.Board with learning "
                                f"(it has no {method}()), not {board!r}")
        if not getattr(board, "learning", False):
            raise ValueError("board has cores without learning: open a learning board "
                             "(sim://BOARD?learning=1, or a bitstream built with learning)")
        self.board = board
        board.load(self.cfg)

    def run(self, inputs, reward=None):
        inputs = self.cfg.check_inputs(inputs)
        reward = check_reward(reward, len(inputs))
        if reward is None:
            return self.board.run(inputs)
        return self.board.run(inputs, reward=reward)

    def set_modulator(self, m):
        self.board.set_modulator(check_int("modulator", m, spec.MOD_MIN, spec.MOD_MAX))

    def weights(self):
        return np.asarray(self.board.read_weights(), dtype=np.int64)

    def learn_state(self):
        return {k: np.asarray(v, dtype=np.int64)
                for k, v in self.board.read_learning().items()}


def _first_difference(a, b):
    """``None`` if the learning states ``a`` and ``b`` are equal, else a short text
    naming the first differing field and index."""
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            return f"{key}: only in one state"
        x, y = np.asarray(a[key]), np.asarray(b[key])
        if x.shape != y.shape:
            return f"{key}: shape {x.shape} vs {y.shape}"
        bad = np.flatnonzero(x != y)
        if bad.size:
            k = int(bad[0])
            return f"{key}[{k}]: {int(x[k])} vs {int(y[k])}"
    return None


class Lockstep(Runner):
    """``runner`` (e.g. a ``BoardRunner``) and a ``GoldenRunner`` of the same config,
    driven with the same calls. ``run`` returns ``runner``'s spikes; ``check()`` compares
    spikes so far, ``weights()`` and ``learn_state()`` of both and keeps the verdict in
    ``equal`` (``True`` until the first difference, described in ``mismatch``).
    """

    def __init__(self, runner):
        if not isinstance(runner, Runner):
            raise TypeError(f"runner must be a neurofab.tasks.Runner, not {runner!r}")
        self.cfg = runner.cfg
        self.runner = runner
        self.golden = GoldenRunner(runner.cfg)
        self.name = runner.name
        self.equal = True
        self.mismatch = None
        self.checks = 0

    def _fail(self, text):
        if self.equal:
            self.equal, self.mismatch = False, text

    def run(self, inputs, reward=None):
        got = self.runner.run(inputs, reward)
        gold = self.golden.run(inputs, reward)
        for t, (a, b) in enumerate(zip(gold, got)):
            if not np.array_equal(a, b):
                self._fail(f"spikes differ at step {t} of a run: golden {a.tolist()}, "
                           f"{self.name} {np.asarray(b).tolist()}")
                break
        return got

    def set_modulator(self, m):
        self.runner.set_modulator(m)
        self.golden.set_modulator(m)

    def weights(self):
        return self.runner.weights()

    def learn_state(self):
        return self.runner.learn_state()

    def check(self):
        """Compare weights and learning state now; returns whether all is equal so far."""
        self.checks += 1
        if not np.array_equal(self.golden.weights(), self.runner.weights()):
            w, v = self.golden.weights(), self.runner.weights()
            k = int(np.flatnonzero(w != v)[0]) if w.shape == v.shape else 0
            self._fail(f"weights differ after check {self.checks}: synapse {k}")
        diff = _first_difference(self.golden.learn_state(), self.runner.learn_state())
        if diff is not None:
            self._fail(f"learning state differs after check {self.checks}: {diff}")
        return self.equal


def as_runner(runner, cfg):
    """The runner of a task running ``cfg``: ``None`` -> the golden model; a ``Board`` ->
    the board in lockstep with its golden twin (``Lockstep(BoardRunner)``); a ``Runner``
    of ``cfg`` -> itself (golden) or in lockstep."""
    if runner is None:
        return GoldenRunner(cfg)
    if isinstance(runner, Runner):
        if runner.cfg != cfg:
            raise ValueError("runner runs another config than the task's (build it with "
                             "the task's build_config())")
        return runner if isinstance(runner, GoldenRunner) else Lockstep(runner)
    return Lockstep(BoardRunner(runner, cfg))


def task_params(defaults, params, task):
    """``defaults`` (a task's ``PARAMS``) with the overrides ``params`` (a dict of some of
    its keys, or ``None``); an unknown key is refused naming the ``task``."""
    if params is None:
        return dict(defaults)
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of PARAMS entries, not {params!r}")
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a parameter of the {task} (parameters: "
                         f"{', '.join(defaults)})")
    return {**defaults, **params}
