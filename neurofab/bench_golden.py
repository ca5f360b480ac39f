"""``make bench`` section "golden reference network": the golden model against a plain
float baseline on one network, and its batch throughput.

The reference network (:func:`reference_network`): 1024 CUBA-LIF neurons, 64 Poisson input
channels, recurrent connection probability 0.1, every synapse of delay 1, tuned so about
3 % of the neurons fire per step. Every figure is measured in the same run.
"""

import time

import numpy as np

from . import spec
from .config import CoreConfig

__all__ = ["reference_network", "reference_inputs", "float_baseline", "bench_reference"]

#: Input events per channel per step of :func:`reference_inputs`.
INPUT_RATE = 0.1


def reference_network(seed=0, *, n_neurons=1024, n_inputs=64, p=0.1):
    """The reference network as a ``CoreConfig``.

    Every source (neuron or input channel) reaches each neuron with probability ``p``;
    every fifth neuron is inhibitory (weight -40), the others excitatory (6), input
    synapses 12, ``w_shift = 2``, delay 1; one profile: ``decay_i = 1024``, ``decay_v =
    256``, threshold 1000, reset to 0, refractory 2. With :func:`reference_inputs` about
    3 % of the neurons fire per step.
    """
    rng = np.random.default_rng(seed)
    n_src = n_neurons + n_inputs
    src, tgt = np.nonzero(rng.random((n_src, n_neurons)) < p)
    weight = np.where(src >= n_neurons, 12, np.where(src % 5 == 0, -40, 6))
    return CoreConfig(
        n_neurons=n_neurons, n_inputs=n_inputs, w_shift=2,
        decay_i=[1024], decay_v=[256], threshold=[1000], bias=[0], v_reset=[0],
        reset=[spec.Reset.TO_VRESET.value], refractory=[2],
        profile=np.zeros(n_neurons, dtype=np.int64),
        fanout_ptr=np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n_src))]),
        syn_target=tgt, syn_weight=weight, syn_delay=np.ones(src.size, dtype=np.int64)
    ).validate()


def reference_inputs(n_batch, steps, n_inputs=64, seed=1):
    """Poisson input rasters, shape (n_batch, steps, n_inputs) bool, each channel on with
    probability ``INPUT_RATE`` per step."""
    return np.random.default_rng(seed).random((n_batch, steps, n_inputs)) < INPUT_RATE


def float_baseline(cfg, raster):
    """A plain float64 numpy LIF of a delay-1 CUBA-LIF ``cfg`` on one raster (steps,
    n_inputs): exponential decays by multiplication, no rounding, no saturation; a step's
    synaptic input is the sum of the dense weight matrix's rows of the active sources.
    Returns the spike count (the dynamics are the golden model's up to rounding, not
    bit-exact)."""
    n = cfg.n_neurons
    weights = np.zeros((cfg.n_sources, n))
    np.add.at(weights, (cfg.syn_source, cfg.syn_target), cfg.syn_weight * 2.0 ** cfg.w_shift)
    p = {k: v.astype(np.float64) for k, v in cfg.neuron_params().items()}
    keep_i, keep_v = 1 - p["decay_i"] / spec.DECAY_ONE, 1 - p["decay_v"] / spec.DECAY_ONE
    i, v, ref = np.zeros(n), np.zeros(n), np.zeros(n)
    spike, count = np.zeros(n, dtype=bool), 0
    for row in raster:
        active = np.concatenate([spike, row])
        acc = weights[active].sum(axis=0)
        i = i * keep_i + acc
        free = ref == 0
        v = np.where(free, v * keep_v + i + p["bias"], v)
        spike = free & (v >= p["threshold"])
        v = np.where(spike, p["v_reset"], v)
        ref = np.where(spike, p["refractory"], np.maximum(ref - 1, 0))
        count += int(spike.sum())
    return count


def _best(func, repeats):
    """``(seconds, result)`` of the fastest of ``repeats`` calls of ``func``."""
    best, out = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - t)
    return best, out


def _single(cfg, raster, repeats):
    """Steps/s of ``golden.run``, the step-by-step ``NeuronCore`` and the float baseline
    on one stream (whole calls, setup included)."""
    from .golden import run
    stream = [np.flatnonzero(row) for row in raster]
    steps = len(stream)
    wall, spikes = _best(lambda: run(cfg, stream), repeats)
    core_wall, _ = _best(lambda: _stepwise(cfg, stream), 1)
    float_wall, _ = _best(lambda: float_baseline(cfg, raster), repeats)
    return {"golden_ref_steps_per_s": round(steps / wall),
            "golden_stepwise_steps_per_s": round(steps / core_wall),
            "float_baseline_steps_per_s": round(steps / float_wall),
            "golden_vs_float_ratio": round(float_wall / wall, 2),
            "golden_ref_firing": round(sum(map(len, spikes)) / steps / cfg.n_neurons, 4)}


def _stepwise(cfg, stream):
    """The step-by-step core (``golden.NeuronCore``; ``golden.run`` with ``trace``)."""
    from .golden import NeuronCore
    core = NeuronCore(cfg)
    return [core.step(c) for c in stream]


def _batch(cfg, rasters, n_sequential):
    """Sample-steps/s of ``run_batch`` on ``rasters`` and of ``golden.run`` on the first
    ``n_sequential`` samples one after the other; whether those agree spike for spike."""
    from .golden import run, run_batch
    n_batch, steps = rasters.shape[:2]
    wall, spikes = _best(lambda: run_batch(cfg, rasters), 1)
    t = time.perf_counter()
    seq = [run(cfg, [np.flatnonzero(r) for r in sample]) for sample in rasters[:n_sequential]]
    seq_wall = time.perf_counter() - t
    exact = all(np.flatnonzero(spikes[b, k]).tolist() == fired.tolist()
                for b, sample in enumerate(seq) for k, fired in enumerate(sample))
    rate, seq_rate = n_batch * steps / wall, n_sequential * steps / seq_wall
    return {"golden_batch_size": n_batch, "golden_batch_steps": steps,
            "golden_batch_sample_steps_per_s": round(rate),
            "golden_sequential_sample_steps_per_s": round(seq_rate),
            "golden_batch_vs_sequential_ratio": round(rate / seq_rate, 2),
            "golden_batch_bit_exact": exact}


def bench_reference(say, quick):
    """The section: golden ``run`` on the reference network against the float baseline
    (one stream), and ``run_batch`` at B = 256 against 256 sequential runs (measured on a
    few of them)."""
    cfg = reference_network()
    steps = 300 if quick else 1000
    out = {"golden_ref_neurons": cfg.n_neurons, "golden_ref_synapses": cfg.n_synapses,
           "golden_ref_steps": steps}
    out.update(_single(cfg, reference_inputs(1, steps)[0], repeats=1 if quick else 3))
    out.update(_batch(cfg, reference_inputs(256, 50 if quick else 200, seed=2),
                      n_sequential=4 if quick else 16))
    say(f"golden, reference network ({cfg.n_neurons} CUBA-LIF neurons, {cfg.n_inputs} "
        f"inputs, {cfg.n_synapses} synapses, {out['golden_ref_firing']:.1%} firing per "
        f"step), {steps} steps: golden.run {out['golden_ref_steps_per_s']} steps/s "
        f"(step-by-step core {out['golden_stepwise_steps_per_s']}) vs float64 numpy "
        f"baseline {out['float_baseline_steps_per_s']}: {out['golden_vs_float_ratio']:.2f}x")
    say(f"golden.run_batch, B = {out['golden_batch_size']}, "
        f"{out['golden_batch_steps']} steps: {out['golden_batch_sample_steps_per_s']} "
        f"sample-steps/s vs sequential golden.run "
        f"{out['golden_sequential_sample_steps_per_s']}: "
        f"{out['golden_batch_vs_sequential_ratio']:.2f}x (bit_exact "
        f"{out['golden_batch_bit_exact']})")
    return out
