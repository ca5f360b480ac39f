"""Bench section for the bitstream encoders: stochastic-computing accuracy headlines.

``bench_stochastic(say, quick)`` measures, in this run, the RMS error of an AND multiplier
(two independent unipolar streams of 12-bit values, ``golden.encoders.accuracy``) at
bitstream lengths 256 and 4096 for each random source, the mean ``|SCC|`` between its two
operand streams (0 = independent, what the multiplier assumes), the SCC of a shared-source
pair (+1 by construction), and the golden SNG throughput.
"""

import time

import numpy as np

__all__ = ["bench_stochastic"]

LENGTHS = (256, 4096)
SOURCES = ("lfsr", "lfsr-leap", "sobol")


def _key(source):
    return source.replace("-", "_")


def bench_stochastic(say, quick):
    from neurofab.golden.encoders import sng_bank
    from neurofab.golden.encoders.accuracy import accuracy_study, scc, scc_study

    samples, trials = (64, 4) if quick else (256, 8)
    study = accuracy_study(LENGTHS, samples=samples, trials=trials, sources=SOURCES,
                           metric="rmse")
    corr = scc_study(LENGTHS, samples=samples, trials=trials, sources=SOURCES)
    out = {}
    for name in SOURCES:
        m256, m4096 = study[name]["multiply"]
        s256, s4096 = corr[name]
        say(f"SC multiply, {name:9s}: RMSE {m256:.4f} at L=256, {m4096:.5f} at L=4096; "
            f"operand |SCC| {s256:.3f} / {s4096:.3f}")
        k = _key(name)
        out[f"sc_mul_rmse_L256_{k}"] = round(m256, 6)
        out[f"sc_mul_rmse_L4096_{k}"] = round(m4096, 6)
        out[f"sc_scc_L256_{k}"] = round(s256, 4)
        out[f"sc_scc_L4096_{k}"] = round(s4096, 4)
    # a shared source gives maximally correlated streams (what CORDIV and min need)
    rng = np.random.default_rng(7)
    vals = np.broadcast_to(rng.integers(1, 4095, (1, 2)), (4096, 2))
    bits = sng_bank(vals, width=12, source="lfsr", seed=0x5A5, shared=True)
    shared = float(scc(bits[:, 0], bits[:, 1]))
    out["sc_scc_shared_lfsr"] = round(shared, 4)
    # golden SNG throughput: 64 independent LFSR lanes
    n = 1 << (14 if quick else 16)
    vals = rng.integers(0, 256, (n, 64))
    t = time.perf_counter()
    sng_bank(vals, width=8, source="lfsr", source_width=16, seed=0xBEEF)
    rate = n * 64 / (time.perf_counter() - t)
    out["sc_golden_sng_bits_per_s"] = round(rate)
    say(f"SCC of a shared-source pair: {shared:+.3f}; golden SNG bank: "
        f"{rate / 1e6:.1f} M bits/s (64 LFSR lanes)")
    return out
