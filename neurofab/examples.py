"""Example networks and stimuli used by the demo, the benchmarks and the tests."""

import numpy as np

from .config import Network, compile
from .kernels import get_kernel
from .spec import WEIGHT_MAX, WEIGHT_MIN, Reset

__all__ = ["ei_network", "poisson_inputs", "demo_config", "encoded_example", "DEMO_DT"]


#: Time step (ms) of the demo networks built from float models.
DEMO_DT = 1.0


def _demo_populations(kernel):
    """``(w_shift, gains, excitatory, inhibitory)`` of the demo network of ``kernel``.

    ``excitatory`` and ``inhibitory`` are keyword arguments of ``Network.population``
    (integer profiles for CUBA-LIF, float models otherwise); ``gains`` multiply the
    integer weights of the input, E->E, E->I and I->E projections (rounded and clipped
    to the weight range), so every kernel's network has the same connectivity.
    """
    from . import models

    if kernel == "cuba-lif":
        return 4, (1, 1, 1, 1), \
            dict(decay_i=1024, decay_v=256, threshold=1200, bias=0, v_reset=0,
                 refractory=2), \
            dict(decay_i=2048, decay_v=512, threshold=900, reset=Reset.SUBTRACT,
                 refractory=1)
    if kernel == "alif":
        # the CUBA-LIF demo's time constants, with threshold adaptation on E
        exc = models.AdaptiveLif(tau_mem=15.5, tau_syn=3.5, tau_adapt=200.0, threshold=1.0,
                                 adapt_increment=0.1, refractory=2.0, reset="to_vreset")
        inh = models.AdaptiveLif(tau_mem=7.5, tau_syn=1.44, tau_adapt=200.0,
                                 threshold=1.0, refractory=1.0, reset="subtract")
        return 4, (1.2, 1, 1, 1), dict(model=exc, dt=DEMO_DT), dict(model=inh, dt=DEMO_DT)
    if kernel == "izhikevich":
        # regular spiking E, fast spiking I (Izhikevich 2003, Figure 2)
        exc = models.Izhikevich(a=0.02, b=0.2, c=-65, d=8)
        inh = models.Izhikevich(a=0.1, b=0.2, c=-65, d=2)
        return 6, (1, 1, 1, 1), dict(model=exc, dt=DEMO_DT), dict(model=inh, dt=DEMO_DT)
    if kernel == "adex":
        # adapting E (Naud et al. 2008), non-adapting fast I
        exc = models.AdEx(C=200, g_L=12, E_L=-70, V_T=-50, Delta_T=2, a=2, tau_w=300,
                          b=60, V_reset=-58)
        inh = models.AdEx(C=100, g_L=10, E_L=-70, V_T=-50, Delta_T=2, a=0, tau_w=100,
                          b=0, V_reset=-58)
        return 7, (1, 1, 1, 1), dict(model=exc, dt=DEMO_DT), dict(model=inh, dt=DEMO_DT)
    raise ValueError(f"kernel = {kernel!r} has no demo network")


def ei_network(n_exc=200, n_inh=50, n_inputs=32, *, seed=0, fanout=20, kernel="cuba-lif"):
    """A balanced excitatory/inhibitory network driven by external channels.

    CUBA-LIF (default): excitatory neurons leak slowly and reset to ``v_reset``;
    inhibitory ones are faster and reset by subtraction. Inputs drive excitatory neurons
    sparsely; E→E, E→I, I→E connections are random with probability
    ``fanout / population`` and mixed delays.

    Another ``kernel`` (``"alif"``, ``"izhikevich"``, ``"adex"``) gives the same
    structure, connectivity and delays with neurons of that kernel built from float
    models (``neurofab.models``, quantised at ``DEMO_DT``), the weights scaled so that
    the network is active but not saturated under ``poisson_inputs(n_inputs, ...,
    rate=0.1)``: ALIF with threshold adaptation on E, Izhikevich regular spiking E and
    fast spiking I, AdEx adapting E and non-adapting I.
    """
    kernel = get_kernel(kernel).name
    w_shift, gains, exc_kw, inh_kw = _demo_populations(kernel)
    rng = np.random.default_rng(seed)
    net = Network(w_shift=w_shift, kernel=kernel)
    exc = net.population(n_exc, name="exc", **exc_kw)
    inh = net.population(n_inh, name="inh", **inh_kw)
    inp = net.inputs(n_inputs, name="in")
    gain = iter(gains)

    def weights(pre, post, lo, hi):
        w = rng.integers(lo, hi + 1, (pre.size, post.size))
        g = next(gain)
        if g == 1:
            return w
        return np.clip(np.rint(w * g), WEIGHT_MIN, WEIGHT_MAX).astype(np.int64)

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


def demo_config(seed=0, kernel="cuba-lif"):
    """The demo network of ``kernel`` (:func:`ei_network`), compiled (250 neurons in a
    256-neuron core, 32 input channels)."""
    return compile(ei_network(seed=seed, kernel=kernel))


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
