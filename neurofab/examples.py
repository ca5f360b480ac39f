"""Example networks and stimuli used by the demo, the benchmarks and the tests."""

import numpy as np

from .config import Network, compile
from .spec import Reset

__all__ = ["ei_network", "poisson_inputs", "demo_config"]


def ei_network(n_exc=200, n_inh=50, n_inputs=32, *, seed=0, fanout=20):
    """A balanced excitatory/inhibitory CUBA-LIF network driven by external channels.

    Excitatory neurons leak slowly and reset to ``v_reset``; inhibitory ones are faster
    and reset by subtraction. Inputs drive excitatory neurons sparsely; E→E, E→I, I→E
    connections are random with probability ``fanout / population`` and mixed delays.
    """
    rng = np.random.default_rng(seed)
    net = Network(w_shift=4)
    exc = net.population(n_exc, name="exc", decay_i=1024, decay_v=256, threshold=1200,
                         bias=0, v_reset=0, refractory=2)
    inh = net.population(n_inh, name="inh", decay_i=2048, decay_v=512, threshold=900,
                         reset=Reset.SUBTRACT, refractory=1)
    inp = net.inputs(n_inputs, name="in")

    def weights(pre, post, lo, hi):
        return rng.integers(lo, hi + 1, (pre.size, post.size))

    def delays(pre, post, top):
        return rng.integers(1, top + 1, (pre.size, post.size))

    p = lambda pop: min(1.0, fanout / pop.size)        # noqa: E731
    net.project(inp, exc, weights(inp, exc, 20, 60), delay=1, p=0.25, seed=rng.integers(1 << 31))
    net.project(exc, exc, weights(exc, exc, 2, 12), delay=delays(exc, exc, 8), p=p(exc),
                seed=rng.integers(1 << 31))
    net.project(exc, inh, weights(exc, inh, 8, 24), delay=delays(exc, inh, 3), p=p(exc),
                seed=rng.integers(1 << 31))
    net.project(inh, exc, weights(inh, exc, -60, -20), delay=delays(inh, exc, 2), p=p(inh),
                seed=rng.integers(1 << 31))
    return net


def poisson_inputs(n_inputs, steps, rate=0.1, *, seed=0):
    """Per-step arrays of active channels, each channel on with probability ``rate``."""
    rng = np.random.default_rng(seed)
    on = rng.random((steps, n_inputs)) < rate
    return [np.flatnonzero(row) for row in on]


def demo_config(seed=0):
    """The demo network, compiled (250 neurons in a 256-neuron core, 32 input channels)."""
    return compile(ei_network(seed=seed))
