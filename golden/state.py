"""The architectural state of a golden core (``CoreState``) and the CSR row expansion the
golden cores share (``golden/core.py``, ``golden/batch.py``)."""

import numpy as np

from neurofab import spec

from . import learning as plasticity

__all__ = ["CoreState", "neuron_field", "expand_rows"]


def neuron_field(state, name):
    """``state.neurons[name]``, the attribute view of a kernel state field (``CoreState``,
    ``host.BoardState``); an ``AttributeError`` naming the fields otherwise."""
    neurons = state.__dict__.get("neurons", {})
    if name in neurons:
        return neurons[name]
    raise AttributeError(f"{type(state).__name__} has no field {name!r} (kernel state: "
                         f"{', '.join(neurons)})")


class CoreState:
    """Full architectural state of a core at a step boundary.

    Attributes
    ----------
    neurons : dict
        The kernel's per-neuron state: every state field (``kernel.state_fields``;
        CUBA-LIF: ``i``, ``v``, ``ref``) to an int64 array of shape (n_neurons,). Each
        field is also an attribute (``state.v``).
    acc : int64 array, shape (DELAY_SLOTS, n_neurons)
        Accumulator slot ``s`` feeds the update of every step ``t`` with ``t % 8 == s``.
    step : int
        Number of steps completed (the next update consumes slot ``step % 8``).
    pending : int64 array
        Spikes of the last update, delivered in the next integrate phase.
    learn : dict or None
        A learning core's learning state (``golden.learning.LEARN_FIELDS``: traces ``x``
        per source, ``y``, ``fired``, ``theta`` per neuron, ``weight``, ``frac``,
        ``elig`` per synapse); ``None`` without learning.
    modulator : int
        The modulator register ``M`` (learning cores; 0 after a load).
    """

    def __init__(self, neurons, acc, step, pending, learn=None, modulator=0):
        self.neurons = {name: np.asarray(value, dtype=np.int64)
                        for name, value in neurons.items()}
        self.acc = acc
        self.step = step
        self.pending = pending
        self.learn = learn
        self.modulator = modulator

    def __getattr__(self, name):
        return neuron_field(self, name)

    def copy(self):
        learn = None if self.learn is None else {k: v.copy() for k, v in self.learn.items()}
        return CoreState({k: v.copy() for k, v in self.neurons.items()}, self.acc.copy(),
                         self.step, self.pending.copy(), learn, self.modulator)

    @classmethod
    def initial(cls, cfg):
        """The state of a freshly loaded ``cfg``: every neuron at the kernel's initial
        state, accumulators zero, step 0, nothing pending."""
        return cls(cfg.initial_state(),
                   np.zeros((spec.DELAY_SLOTS, cfg.n_neurons), dtype=np.int64), 0,
                   np.zeros(0, dtype=np.int64),
                   None if cfg.learning is None else plasticity.initial(cfg))


def expand_rows(ptr, sources):
    """Synapse addresses of the CSR rows of ``sources``, concatenated (vectorised)."""
    starts = ptr[sources]
    counts = ptr[sources + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    row_begin = np.cumsum(counts) - counts
    return np.repeat(starts - row_begin, counts) + np.arange(total)
