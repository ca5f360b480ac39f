"""Batched golden core (``golden/batch.py``): every sample equals its own single-stream run
on the step-by-step core, spike for spike and state for state, for every kernel."""

import numpy as np
import pytest

from neurofab.config import random_config, random_learning
from neurofab.golden import NeuronCore, batch, run, run_batch
from neurofab.golden.lif import LifStepper, cuba_lif_step
from neurofab.kernels import KERNELS
from neurofab.spec import ACC_MAX, ACC_MIN, REF_MAX, STATE_MAX, STATE_MIN


def stepwise(cfg, stream, state=None):
    """The reference: ``NeuronCore`` step by step; (fired arrays, final state)."""
    core = NeuronCore(cfg, state)
    return [core.step(chans) for chans in stream], core.state


def random_raster(rng, n_batch, steps, n_inputs, density=0.4):
    return rng.random((n_batch, steps, n_inputs)) < density


def streams_of(raster):
    return [[np.flatnonzero(row) for row in sample] for sample in raster]


def assert_same_state(got, want):
    assert got.step == want.step
    assert set(got.neurons) == set(want.neurons)
    for name in want.neurons:
        np.testing.assert_array_equal(got.neurons[name], want.neurons[name], err_msg=name)
    np.testing.assert_array_equal(got.acc, want.acc)
    np.testing.assert_array_equal(got.pending, want.pending)


def assert_batch_equals_stepwise(cfg, raster, state=None):
    spikes, states = run_batch(cfg, raster, state=state, final_state=True)
    assert spikes.shape == (raster.shape[0], raster.shape[1], cfg.n_neurons)
    assert spikes.dtype == bool and len(states) == raster.shape[0]
    for b, stream in enumerate(streams_of(raster)):
        want, final = stepwise(cfg, stream, state)
        assert [np.flatnonzero(s).tolist() for s in spikes[b]] == [w.tolist() for w in want]
        assert_same_state(states[b], final)
    return spikes


@pytest.mark.parametrize("kernel", list(KERNELS))
@pytest.mark.parametrize("seed", range(4))
def test_every_sample_equals_its_single_run(kernel, seed):
    rng = np.random.default_rng([seed, 0xBA7C])
    cfg = random_config(rng, n_neurons=16, n_inputs=6, kernel=kernel)
    n_batch = (1, 3, 5, 4)[seed]
    assert_batch_equals_stepwise(cfg, random_raster(rng, n_batch, 30, 6))


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_run_equals_the_stepwise_core(kernel):
    """``golden.run`` without trace takes the batched engine (one sample)."""
    rng = np.random.default_rng([7, 0xBA7C])
    cfg = random_config(rng, n_neurons=32, n_inputs=8, kernel=kernel)
    stream = streams_of(random_raster(rng, 1, 40, 8))[0]
    want, _ = stepwise(cfg, stream)
    assert [s.tolist() for s in run(cfg, stream)] == [w.tolist() for w in want]
    spikes, states = run(cfg, stream, trace=True)
    assert [s.tolist() for s in spikes] == [w.tolist() for w in want]


@pytest.mark.parametrize("kernel", ["cuba-lif", "izhikevich"])
def test_chunks_blocks_and_unpadded_rows(monkeypatch, kernel):
    """Several chunks (the last one short), one sample per block, CSR rows expanded per
    step and padded tables: the same numbers."""
    rng = np.random.default_rng([3, 0xBA7C])
    cfg = random_config(rng, n_neurons=16, n_inputs=6, kernel=kernel)
    raster = random_raster(rng, 3, 21, 6)
    monkeypatch.setattr(batch, "CHUNK_ELEMENTS", 1)        # chunks of DELAY_SLOTS steps
    monkeypatch.setattr(batch, "BLOCK_ELEMENTS", 1)        # blocks of one sample
    assert_batch_equals_stepwise(cfg, raster)
    for waste in (0.0, np.inf):                            # never / always padded
        monkeypatch.setattr(batch, "PAD_WASTE", waste)
        assert_batch_equals_stepwise(cfg, raster)


def test_skewed_fanout_takes_the_csr_rows():
    rng = np.random.default_rng([4, 0xBA7C])
    cfg = random_config(rng, n_neurons=16, n_inputs=6, max_fanout=1)
    ptr = cfg.fanout_ptr
    assert batch.Fanout(cfg, cfg.n_neurons).tables["neurons"] is not None
    counts = np.diff(ptr)
    counts[0] += 40                                        # one long row: padding would waste
    extra = rng.integers(0, cfg.n_neurons, 40)
    start = int(ptr[1])
    cfg.fanout_ptr = np.concatenate([[0], np.cumsum(counts)])
    cfg.syn_target = np.insert(cfg.syn_target, start, extra)
    cfg.syn_weight = np.insert(cfg.syn_weight, start, rng.integers(-3, 4, 40))
    cfg.syn_delay = np.insert(cfg.syn_delay, start, rng.integers(1, 9, 40))
    cfg.validate()
    assert batch.Fanout(cfg, cfg.n_neurons).tables["neurons"] is None
    assert_batch_equals_stepwise(cfg, random_raster(rng, 2, 25, 6))


@pytest.mark.parametrize("kernel", ["cuba-lif", "alif"])
def test_start_state_with_pending_spikes_and_full_accumulators(kernel):
    rng = np.random.default_rng([5, 0xBA7C])
    cfg = random_config(rng, n_neurons=16, n_inputs=6, kernel=kernel)
    _, mid = stepwise(cfg, streams_of(random_raster(rng, 1, 13, 6, density=0.8))[0])
    assert mid.pending.size and mid.acc.any() and mid.step % 8
    assert_batch_equals_stepwise(cfg, random_raster(rng, 3, 20, 6), state=mid)
    stream = streams_of(random_raster(rng, 1, 20, 6))[0]
    want, _ = stepwise(cfg, stream, mid)
    assert [s.tolist() for s in run(cfg, stream, state=mid)] == [w.tolist() for w in want]


def test_a_list_of_streams_equals_the_raster():
    rng = np.random.default_rng([6, 0xBA7C])
    cfg = random_config(rng, n_neurons=16, n_inputs=6)
    raster = random_raster(rng, 4, 25, 6)
    np.testing.assert_array_equal(run_batch(cfg, streams_of(raster)), run_batch(cfg, raster))
    np.testing.assert_array_equal(run_batch(cfg, raster.astype(np.int8)),
                                  run_batch(cfg, raster))


def test_empty_batch_and_zero_steps():
    cfg = random_config(0, n_neurons=16, n_inputs=6)
    assert run_batch(cfg, np.zeros((0, 5, 6), dtype=bool)).shape == (0, 5, 16)
    spikes, states = run_batch(cfg, np.zeros((2, 0, 6), dtype=bool), final_state=True)
    assert spikes.shape == (2, 0, 16)
    assert_same_state(states[1], NeuronCore(cfg).state)


@pytest.mark.parametrize("shape", [(16,), (3, 16)])
def test_lif_stepper_equals_cuba_lif_step(shape):
    """The in-place CUBA-LIF update against the kernel's text, from random states at the
    rails, with the accumulator's whole range and every parameter's limits."""
    rng = np.random.default_rng([8, 0xBA7C])
    cfg = random_config(rng, n_neurons=16, n_inputs=4)
    params = cfg.neuron_params()
    state = {"i": rng.integers(STATE_MIN, STATE_MAX + 1, shape),
             "v": rng.choice([STATE_MIN, -1, 0, 1, STATE_MAX], shape),
             "ref": rng.integers(0, REF_MAX + 1, shape)}
    stepper = LifStepper(params, state)
    i, v, ref = state["i"], state["v"], state["ref"]
    for _ in range(40):
        acc = rng.choice([ACC_MIN, ACC_MAX, 0, 1, -1, 5000, -5000], shape)
        i, v, ref, spike = cuba_lif_step(i, v, ref, acc, params)
        assert stepper(acc).tolist() == np.flatnonzero(spike).tolist()
        got = stepper.state()
        for name, want in (("i", i), ("v", v), ("ref", ref)):
            np.testing.assert_array_equal(got[name], want, err_msg=name)


def test_refusals():
    rng = np.random.default_rng([9, 0xBA7C])
    cfg = random_config(rng, n_neurons=16, n_inputs=6)
    good = np.zeros((2, 3, 6), dtype=bool)
    cases = [
        (np.zeros((3, 6), dtype=bool),
         r"rasters has shape \(3, 6\), expected \(samples, steps, n_inputs = 6\)"),
        (np.zeros((2, 3, 5), dtype=bool),
         r"rasters has shape \(2, 3, 5\), expected \(samples, steps, n_inputs = 6\)"),
        (good.astype(np.float64),
         r"rasters must hold bool or integer 0/1 values, not float64"),
        (np.where(np.arange(6) == 4, 2, 0)[None, None].repeat(2, 0),
         r"rasters\[0, 0, 4\] = 2 is outside the limit \[0, 1\]"),
        ([[[0]], [[1], [2]]],
         r"rasters\[1\] has 2 steps, expected 1 \(the steps of rasters\[0\]\)"),
        ([[[0]], [[6]]], r"rasters\[1\]: inputs\[0\]\[0\] = 6 is outside the limit \[0, 5\]"),
        ([[[1, 1]]], r"rasters\[0\]: inputs\[0\] repeats a channel"),
        (7, r"rasters must be an array of shape \(samples, steps, n_inputs\) or a list of "
            r"input streams, not int"),
    ]
    for rasters, message in cases:
        with pytest.raises(ValueError, match=message):
            run_batch(cfg, rasters)
    with pytest.raises(ValueError, match=r"run_batch takes no learning config"):
        run_batch(random_learning(rng, cfg), good)
