"""Bench section for the AER router and the multi-core fabric.

``bench_fabric(say, quick)`` measures, in this run (Amaranth simulator, no gaps, no
back-pressure): the router's events per clock per output port at full offered load for
three traffic patterns (broadcast: every output has every input contending; permutation;
hot spot: every input to one output), and the clock cycles per timestep of one random
network on one big core and partitioned over 2 and 4 cores (``partition.compile_fabric``),
with the fabric's RTL checked against golden in the same runs.
"""

import numpy as np

__all__ = ["bench_fabric"]


def bench_fabric(say, quick):
    from neurofab.config import random_config
    from neurofab.cosim.aer import router_saturation
    from neurofab.cosim.core import random_inputs, run_core_cosim
    from neurofab.cosim.fabric import run_fabric_cosim
    from neurofab.partition import compile_fabric

    out = {}
    events = 200 if quick else 1000
    rates = []
    for pattern in ("broadcast", "permutation", "hotspot"):
        r = router_saturation(5, events, pattern=pattern)
        rates.append(r["events_per_clock"])
        out[f"router_events_per_clock_{pattern}"] = r["events_per_clock"]
        say(f"AER router, 5 ports, {pattern:11s}: {r['events_per_clock']:.4f} events/clock "
            f"per output ({r['events_per_output']} events in {r['cycles']} clocks, "
            f"bit-exact {r['bit_exact']})")
    out["router_events_per_clock_min"] = min(rates)

    n, steps = (32, 8) if quick else (64, 16)
    rng = np.random.default_rng(1)
    big = random_config(rng, n_neurons=n, n_inputs=8, max_fanout=n // 2)
    inputs = random_inputs(rng, 8, steps, per_step=4)
    core = run_core_cosim(big, inputs, gap=0.0, stall=0.0, check_state="end")
    single = core.cycles / core.steps
    out["single_core_cycles_per_step"] = round(single, 1)
    say(f"one core, {n} neurons, {big.n_synapses} synapses: {single:.1f} cycles/step "
        f"(bit-exact {core.bit_exact})")
    for k in (2, 4):
        fab = compile_fabric(big, cores=k)
        res = run_fabric_cosim(fab, inputs, gap=0.0, stall=0.0, check_state="end")
        per = res.cycles / res.steps
        out[f"fabric{k}_cycles_per_step"] = round(per, 1)
        out[f"fabric{k}_speedup"] = round(single / per, 2)
        out[f"fabric{k}_bit_exact"] = bool(res.bit_exact)
        say(f"fabric, {k} cores x {n // k} neurons: {per:.1f} cycles/step, "
            f"{single / per:.2f}x the single core (bit-exact {res.bit_exact})")
    return out
