"""The demo networks of every kernel: the right kernel, the same structure, and activity
that is neither silent nor saturated under the demo's Poisson input."""

import numpy as np
import pytest

from neurofab import golden
from neurofab.examples import demo_config, ei_network, poisson_inputs
from neurofab.kernels import KERNELS

STEPS = 100


def _spikes(cfg):
    return golden.run(cfg, poisson_inputs(cfg.n_inputs, STEPS, rate=0.1, seed=0))


def test_cuba_lif_demo_unchanged():
    """The default demo is the CUBA-LIF network it always was (spike counts of the first
    steps pinned)."""
    cfg = demo_config(0)
    assert cfg == demo_config(0, kernel="cuba-lif")
    counts = [len(s) for s in _spikes(cfg)]
    assert counts[:12] == [52, 97, 58, 9, 41, 9, 39, 8, 28, 5, 9, 2]
    assert sum(counts) == 870


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_demo_of_every_kernel(kernel):
    cfg = demo_config(0, kernel=kernel)
    assert cfg.kernel is KERNELS[kernel]
    assert (cfg.n_neurons, cfg.n_inputs) == (256, 32)
    spikes = _spikes(cfg)
    counts = np.array([len(s) for s in spikes])
    fired = np.concatenate(spikes)
    # active, not saturated: a few to a few tens of spikes per step on average, no step
    # with more than 40 % of the 250 neurons, both populations firing, padding silent
    assert 3 <= counts.mean() <= 30, counts.tolist()
    assert counts.max() <= 100, counts.tolist()
    assert (counts > 0).sum() >= STEPS // 2
    assert (fired < 200).sum() > 0 and ((fired >= 200) & (fired < 250)).sum() > 0
    assert (fired < 250).all()


def test_same_structure_for_every_kernel():
    """Every kernel's demo has the same synapses and delays; only the weights differ."""
    ref = demo_config(0)
    for kernel in KERNELS:
        cfg = demo_config(0, kernel=kernel)
        assert np.array_equal(cfg.fanout_ptr, ref.fanout_ptr)
        assert np.array_equal(cfg.syn_target, ref.syn_target)
        assert np.array_equal(cfg.syn_delay, ref.syn_delay)
        assert np.array_equal(np.sign(cfg.syn_weight), np.sign(ref.syn_weight))
        assert np.array_equal(cfg.profile[:250], ref.profile[:250])     # padding may differ


@pytest.mark.parametrize("kernel", ["alif", "izhikevich", "adex"])
def test_model_demos_record_their_reports(kernel):
    net = ei_network(kernel=kernel)
    exc, inh = net.populations
    for pop in (exc, inh):
        assert pop.report is not None and pop.report.kernel == kernel
        assert pop.report.worst_error[1] < 0.05


def test_unknown_kernel_refused():
    with pytest.raises(ValueError, match="not a neuron kernel"):
        demo_config(0, kernel="hodgkin-huxley")
