"""Bit-true golden model of the time-multiplexed neuron core (``rtl/core.py``).

Vectorised over neurons and synapses: one step costs a handful of numpy calls,
whatever the network size. ``docs/numerics.md`` ("Timestep") is the text it follows.
"""

import numpy as np

from neurofab import spec
from neurofab.checks import check_int

from . import learning as plasticity
from .batch import run_stream
from .state import CoreState, expand_rows, neuron_field

__all__ = ["CoreState", "NeuronCore", "run", "neuron_field"]


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
        self._pre = np.zeros(cfg.n_sources, dtype=bool)     # this step's pre events

    def set_modulator(self, value):
        """Write the modulator register ``M`` (a learning core's reward; it stays until
        written again)."""
        self.state.modulator = check_int("modulator", value, spec.MOD_MIN, spec.MOD_MAX)

    def integrate(self, channels):
        """Deliver last update's spikes and this step's external events."""
        cfg, st = self.cfg, self.state
        sources = np.concatenate([st.pending, cfg.n_neurons + np.asarray(channels, np.int64)])
        if st.learn is not None:
            self._pre[sources] = True
        syn = expand_rows(cfg.fanout_ptr, sources)
        self.synaptic_events += syn.size
        if syn.size:
            slot = (st.step + cfg.syn_delay[syn] - 1) % spec.DELAY_SLOTS
            flat = slot * cfg.n_neurons + cfg.syn_target[syn]
            weight = cfg.syn_weight if st.learn is None else st.learn["weight"]
            contrib = weight[syn] << cfg.w_shift
            # float64 sums are exact here: |sum| < 2**24 is proven by CoreConfig.validate.
            add = np.bincount(flat, weights=contrib, minlength=st.acc.size)
            st.acc += add.astype(np.int64).reshape(st.acc.shape)

    def update(self):
        """Run every neuron's kernel on its accumulator slot; returns sorted spikes."""
        st = self.state
        slot = st.step % spec.DELAY_SLOTS
        params = self._params
        if st.learn is not None and self.cfg.kernel.homeostasis is not None:
            params = plasticity.homeostatic_params(params, st.learn, self.cfg)
        st.neurons, spike = self.cfg.kernel.step(st.neurons, st.acc[slot], params)
        st.acc[slot] = 0
        if st.learn is not None:
            plasticity.after_update(st.learn, spike, self.cfg)
            plasticity.learn(st.learn, self._pre, self.cfg, st.modulator)
            self._pre = np.zeros(self.cfg.n_sources, dtype=bool)
        st.step += 1
        st.pending = np.flatnonzero(spike).astype(np.int64)
        return st.pending.copy()

    def step(self, channels):
        self.integrate(channels)
        return self.update()


def run(cfg, inputs, trace=False, state=None, reward=None):
    """Simulate ``cfg`` on per-step input channel arrays.

    Returns the list of sorted fired-neuron arrays, one per step; with ``trace=True``
    returns ``(spikes, states)`` where ``states[t]`` is the ``CoreState`` after step ``t``.
    ``reward`` (a learning config): one modulator value per step, written before the step.
    Many streams at once: ``golden.run_batch``, which also runs this call when it needs
    no per-step state (no ``trace``, no learning).
    """
    core = NeuronCore(cfg, state)
    inputs = cfg.check_inputs(inputs)
    if not trace and cfg.learning is None and reward is None:
        return run_stream(core.cfg, inputs, core.state)
    if reward is not None:
        if cfg.learning is None:
            raise ValueError("reward is for a learning config (cfg.learning is None)")
        reward = list(reward)
        if len(reward) != len(inputs):
            raise ValueError(f"reward has {len(reward)} values, expected one per step "
                             f"({len(inputs)})")
    spikes, states = [], []
    for t, chans in enumerate(inputs):
        if reward is not None:
            core.set_modulator(reward[t])
        spikes.append(core.step(chans))
        if trace:
            states.append(core.state.copy())
    return (spikes, states) if trace else spikes
