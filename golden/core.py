"""Bit-true golden model of the time-multiplexed neuron core (``rtl/core.py``).

Vectorised over neurons and synapses: one step costs a handful of numpy calls,
whatever the network size. ``docs/numerics.md`` ("Timestep") is the text it follows.
"""

import numpy as np

from neurofab import spec

__all__ = ["CoreState", "NeuronCore", "run", "neuron_field"]


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
    """

    def __init__(self, neurons, acc, step, pending):
        self.neurons = {name: np.asarray(value, dtype=np.int64)
                        for name, value in neurons.items()}
        self.acc = acc
        self.step = step
        self.pending = pending

    def __getattr__(self, name):
        return neuron_field(self, name)

    def copy(self):
        return CoreState({k: v.copy() for k, v in self.neurons.items()}, self.acc.copy(),
                         self.step, self.pending.copy())

    @classmethod
    def initial(cls, cfg):
        """The state of a freshly loaded ``cfg``: every neuron at the kernel's initial
        state, accumulators zero, step 0, nothing pending."""
        return cls(cfg.initial_state(),
                   np.zeros((spec.DELAY_SLOTS, cfg.n_neurons), dtype=np.int64), 0,
                   np.zeros(0, dtype=np.int64))


def expand_rows(ptr, sources):
    """Synapse addresses of the CSR rows of ``sources``, concatenated (vectorised)."""
    starts = ptr[sources]
    counts = ptr[sources + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    row_begin = np.cumsum(counts) - counts
    return np.repeat(starts - row_begin, counts) + np.arange(total)


class NeuronCore:
    """Step-by-step golden core; ``run`` is the one-call form.

    Parameters
    ----------
    cfg : CoreConfig
    state : CoreState, optional
        Start state (default: ``CoreState.initial(cfg)``, the kernel's initial state).
    """

    def __init__(self, cfg, state=None):
        self.cfg = cfg.validate()
        self.state = state.copy() if state is not None else CoreState.initial(cfg)
        self._params = cfg.neuron_params()
        self.synaptic_events = 0

    def integrate(self, channels):
        """Deliver last update's spikes and this step's external events."""
        cfg, st = self.cfg, self.state
        sources = np.concatenate([st.pending, cfg.n_neurons + np.asarray(channels, np.int64)])
        syn = expand_rows(cfg.fanout_ptr, sources)
        self.synaptic_events += syn.size
        if syn.size:
            slot = (st.step + cfg.syn_delay[syn] - 1) % spec.DELAY_SLOTS
            flat = slot * cfg.n_neurons + cfg.syn_target[syn]
            contrib = cfg.syn_weight[syn] << cfg.w_shift
            # float64 sums are exact here: |sum| < 2**24 is proven by CoreConfig.validate.
            add = np.bincount(flat, weights=contrib, minlength=st.acc.size)
            st.acc += add.astype(np.int64).reshape(st.acc.shape)

    def update(self):
        """Run every neuron's kernel on its accumulator slot; returns sorted spikes."""
        st = self.state
        slot = st.step % spec.DELAY_SLOTS
        st.neurons, spike = self.cfg.kernel.step(st.neurons, st.acc[slot], self._params)
        st.acc[slot] = 0
        st.step += 1
        st.pending = np.flatnonzero(spike).astype(np.int64)
        return st.pending.copy()

    def step(self, channels):
        self.integrate(channels)
        return self.update()


def run(cfg, inputs, trace=False, state=None):
    """Simulate ``cfg`` on per-step input channel arrays.

    Returns the list of sorted fired-neuron arrays, one per step; with ``trace=True``
    returns ``(spikes, states)`` where ``states[t]`` is the ``CoreState`` after step ``t``.
    """
    core = NeuronCore(cfg, state)
    inputs = cfg.check_inputs(inputs)
    spikes, states = [], []
    for chans in inputs:
        spikes.append(core.step(chans))
        if trace:
            states.append(core.state.copy())
    return (spikes, states) if trace else spikes
