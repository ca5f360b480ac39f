"""Example networks and stimuli used by the demo, the benchmarks and the tests."""

import numpy as np

from .config import Network, compile
from .spec import Reset

__all__ = ["ei_network", "poisson_inputs", "demo_config", "encoded_example"]


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


def encoded_example(steps=64, *, seed=0):
    """On-chip encoding: a rate encoder turns 8 pixel intensities into input spikes for a
    small network (``rtl.encoded_core.EncodedCore``, golden ``golden.encoded_core``).

    A bright bar sweeps across the 8 pixels; each pixel drives its own detector neuron,
    and a global inhibitory neuron, driven by every detector, holds the weak ones down, so
    the detectors fire where the bar is. Returns ``(cfg, values, encoder)``: the compiled
    network (16-neuron core: 8 detectors, 1 inhibitory, padding), the ``(steps, 8)`` uint
    values, and the encoder arguments, so that::

        spikes = neurofab.golden.encoded_core.run(cfg, values, **encoder)
        dut = neurofab.rtl.encoded_core.EncodedCore(cfg, **encoder)
    """
    pixels = 8
    net = Network(w_shift=3)
    det = net.population(pixels, name="detector", decay_i=1024, decay_v=512, threshold=600,
                         refractory=1)
    inh = net.population(1, name="inhibitory", decay_i=2048, decay_v=1024, threshold=500,
                         reset=Reset.SUBTRACT)
    inp = net.inputs(pixels, name="pixel")
    net.project(inp, det, np.eye(pixels, dtype=np.int64) * 60)
    net.project(det, inh, 40, delay=1)
    net.project(inh, det, -50, delay=1)
    cfg = compile(net)
    t = np.arange(steps)[:, None]
    pos = (t * pixels / 32.0) % pixels                       # one sweep per 32 steps
    dist = np.minimum(np.abs(np.arange(pixels) - pos), pixels - np.abs(np.arange(pixels) - pos))
    values = np.round(255 * np.exp(-dist ** 2 / 1.5)).astype(np.int64)
    return cfg, values, {"encoder": "rate", "width": 8, "seed": 0xACE1 ^ seed}
