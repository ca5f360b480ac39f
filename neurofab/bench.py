"""``make bench``: performance figures, each measured in this run (ratios, not timings).

Sections register themselves in ``SECTIONS``; ``run_all`` prints and returns a dict.
"""

import time

import numpy as np

from . import spec
from .config import CoreConfig

__all__ = ["run_all", "big_config", "SECTIONS"]


def big_config(n_neurons=65536, n_inputs=256, fanout=64, *, seed=0):
    """A random sparse network built directly as CSR (a dense builder would not fit)."""
    rng = np.random.default_rng(seed)
    n_src = n_neurons + n_inputs
    n_syn = n_src * fanout
    src = np.repeat(np.arange(n_src), fanout)
    inhibitory = (src < n_neurons) & (src % 5 == 0)
    weight = np.where(inhibitory, rng.integers(-40, -10, n_syn), rng.integers(1, 20, n_syn))
    return CoreConfig(
        n_neurons=n_neurons, n_inputs=n_inputs, w_shift=3,
        decay_i=[1024], decay_v=[256], threshold=[1500], bias=[10], v_reset=[0],
        reset=[spec.Reset.TO_VRESET.value], refractory=[2],
        profile=np.zeros(n_neurons, dtype=np.int64),
        fanout_ptr=np.arange(n_src + 1) * fanout,
        syn_target=rng.integers(0, n_neurons, n_syn), syn_weight=weight,
        syn_delay=rng.integers(1, 9, n_syn))


def loop_baseline(cfg, inputs):
    """A plain per-synapse Python loop (what the golden model must beat)."""
    from .golden.lif import cuba_lif_step
    n = cfg.n_neurons
    i = v = ref = np.zeros(n, dtype=np.int64)
    acc = np.zeros((spec.DELAY_SLOTS, n), dtype=np.int64)
    pending, events = [], 0
    params = cfg.neuron_params()
    for t, chans in enumerate(inputs):
        for s in list(pending) + [n + int(c) for c in chans]:
            for k in range(cfg.fanout_ptr[s], cfg.fanout_ptr[s + 1]):
                acc[(t + cfg.syn_delay[k] - 1) % 8, cfg.syn_target[k]] += \
                    int(cfg.syn_weight[k]) << cfg.w_shift
                events += 1
        i, v, ref, spk = cuba_lif_step(i, v, ref, acc[t % 8], params)
        acc[t % 8] = 0
        pending = np.flatnonzero(spk)
    return events


def bench_golden(say, quick):
    from .golden import GoldenCore
    from .examples import poisson_inputs
    n = 8192 if quick else 65536
    steps = 20 if quick else 50
    cfg = big_config(n)
    inputs = poisson_inputs(cfg.n_inputs, steps, rate=0.2, seed=1)
    core = GoldenCore(cfg)
    t = time.perf_counter()
    spikes = sum(len(core.step(c)) for c in inputs)
    wall = time.perf_counter() - t
    upd = n * steps / wall
    syn = core.synaptic_events / wall
    small = big_config(2048, 256, 64, seed=2)
    sin = poisson_inputs(256, 30, rate=0.5, seed=3)
    gc = GoldenCore(small)
    t = time.perf_counter()
    for c in sin:
        gc.step(c)
    g_rate = gc.synaptic_events / (time.perf_counter() - t)
    t = time.perf_counter()
    ev = loop_baseline(small, sin)
    l_rate = ev / (time.perf_counter() - t)
    say(f"golden: {n}-neuron core, {cfg.n_synapses} synapses, {steps} steps, {spikes} spikes: "
        f"{upd / 1e6:.2f} M neuron-updates/s, {syn / 1e6:.2f} M synaptic events/s")
    say(f"golden vs per-synapse Python loop (2048 neurons): {g_rate / l_rate:.0f}x "
        f"({g_rate / 1e6:.2f} vs {l_rate / 1e6:.3f} M synaptic events/s)")
    return {"golden_neurons": n, "golden_neuron_updates_per_s": round(upd),
            "golden_synaptic_events_per_s": round(syn),
            "golden_vs_loop_ratio": round(g_rate / l_rate, 1)}


def bench_simboard(say, quick):
    from .host.simboard import measure_cycles_per_second
    stats = measure_cycles_per_second(cycles=5_000_000 if quick else 20_000_000, details=True)
    wall, cpu = stats["cycles_per_second"], stats["cycles_per_cpu_second"]
    say(f"simulated board (Verilator, UART traffic both ways): {wall / 1e6:.2f} M cycles/s "
        f"wall clock, {cpu / 1e6:.2f} M cycles per CPU second")
    return {"simboard_cycles_per_s": round(wall), "simboard_cycles_per_cpu_s": round(cpu)}


SECTIONS = [("golden", bench_golden), ("simulated board", bench_simboard)]


def run_all(say=print, quick=False):
    results = {}
    for name, func in SECTIONS:
        say(f"== {name}")
        results.update(func(say, quick))
    return results
