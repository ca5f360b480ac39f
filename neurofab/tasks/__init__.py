"""Learning tasks that run the same script on the golden model and on a board.

* :mod:`neurofab.tasks.runner` — ``GoldenRunner`` and ``BoardRunner``: one interface
  (``run``, ``set_modulator``, ``weights``, ``learn_state``) over ``golden.NeuronCore``
  and ``host.Board``, and ``Lockstep``, which runs a board with its golden twin and
  compares the learning state after every trial.
* :mod:`neurofab.tasks.stdp_pattern` — pair STDP finds a spatiotemporal pattern hidden
  in Poisson noise (Masquelier, Guyonneau & Thorpe 2008).
* :mod:`neurofab.tasks.reward` — reward-modulated STDP learns an XOR-like mapping of four
  input patterns to two outputs.
* :mod:`neurofab.tasks.digits` — scikit-learn's 8×8 digits: the split, the spike code,
  and a two-layer CUBA-LIF network trained by snnTorch (``scripts/train_digits.py``),
  committed as NIR with snnTorch's own spikes on the test split.
* :mod:`neurofab.tasks.reservoir` — reservoir computing on one core (``Reservoir``,
  ``transform(u) -> states``), scored by nsram's benchmark suite.

``neurofab demo --learning stdp|rstdp`` runs them; ``docs/learning.md`` describes them.
"""

from .reservoir import Reservoir
from .runner import BoardRunner, GoldenRunner, Lockstep, Runner

__all__ = ["Runner", "GoldenRunner", "BoardRunner", "Lockstep", "Reservoir"]
