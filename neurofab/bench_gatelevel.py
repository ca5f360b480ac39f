"""``make bench``, gate level: the synthesised netlists (``cosim/gatelevel.py``) against the
RTL under Verilator, on the same transaction script."""

import time

__all__ = ["bench_gatelevel"]


def _bench_config(seed, steps, geometry):
    import numpy as np
    from neurofab.config import random_config
    from neurofab.cosim.core import random_inputs
    rng = np.random.default_rng(seed)
    cap = geometry["syn_capacity"]
    n, n_in = geometry["n_neurons"], geometry["n_inputs"]
    # the densest fan-out whose worst case fits the synapse memory
    fanout = max(1, (cap - (n + n_in)) // (n + n_in))
    cfg = random_config(rng, n_neurons=n, n_inputs=n_in, max_fanout=fanout)
    return cfg, random_inputs(rng, n_in, steps, per_step=4)


def bench_gatelevel(say=print, quick=False):
    """Gate-level vs RTL Verilator on the same script (default geometry, a random config
    with extremes, gap = stall = 0.3): wall time of the runs (builds made before timing),
    synthesis and build times of a cold cache where measured, and cell counts.

    Returns a JSON-serialisable dict: per family ``synth_s``, ``build_s`` (0 when cached),
    ``cells``, ``wall_s``, ``sim_s``, ``cycles``, ``bit_exact``, ``ratio`` (gate wall time /
    RTL Verilator wall time); ``rtl`` the RTL run's summary.
    """
    from neurofab.cosim.core import run_core_cosim, run_gate_cosim
    from neurofab.cosim.gatelevel import FAMILIES, GEOMETRY, gate_build
    from neurofab.cosim.verilator import build
    from neurofab.rtl.core import NeuronCore
    steps = 5 if quick else 20
    cfg, inputs = _bench_config(1, steps, GEOMETRY)
    geo = dict(GEOMETRY)
    kw = dict(seed=1, gap=0.3, stall=0.3, check_state="every",
              syn_capacity=geo["syn_capacity"])
    build(NeuronCore(None, **geo), name="neurofab_core")
    say(f"gate-level bench: {geo['n_neurons']} neurons, {cfg.n_synapses} synapses, "
        f"{steps} steps")
    rtl = run_core_cosim(cfg, inputs, backend="verilator", **kw).summary()
    say(f"  RTL Verilator: {rtl['wall_s']:.2f} s, bit_exact={rtl['bit_exact']}")
    out = {"neurons": geo["n_neurons"], "synapses": int(cfg.n_synapses), "steps": steps,
           "geometry": geo, "rtl": rtl, "families": {}}
    for family in FAMILIES:
        t0 = time.perf_counter()
        b, net = gate_build(NeuronCore(None, **geo), family)
        prep_s = time.perf_counter() - t0
        res = run_gate_cosim(cfg, inputs, family=family, **kw).summary()
        out["families"][family] = {
            "synth_s": net.synth_s, "synth_cached": net.cached,
            "build_s": round(b.build_s, 3), "build_cached": b.cached,
            "prepare_s": round(prep_s, 3), "cells": net.cells,
            "wall_s": res["wall_s"], "sim_s": res["sim_s"], "cycles": res["cycles"],
            "bit_exact": res["bit_exact"],
            "ratio": round(res["wall_s"] / rtl["wall_s"], 2) if rtl["wall_s"] else None}
        say(f"  gate {family}: {res['wall_s']:.2f} s ({out['families'][family]['ratio']}x "
            f"RTL), bit_exact={res['bit_exact']}, synth {net.synth_s:.1f} s"
            f"{' (cached)' if net.cached else ''}, build {b.build_s:.1f} s"
            f"{' (cached)' if b.cached else ''}, {sum(net.cells.values())} cells")
    out["bit_exact"] = rtl["bit_exact"] and all(f["bit_exact"]
                                                for f in out["families"].values())
    return out
