"""CubaLif RTL kernel vs the golden ``cuba_lif_step``, bit for bit."""

import itertools

import numpy as np
import pytest
from amaranth.sim import Simulator

from neurofab import spec
from neurofab.config import PROFILE_FIELDS, PROFILE_LIMITS
from neurofab.golden.lif import cuba_lif_step
from neurofab.rtl.lif import CubaLif

STATE_FIELDS = ("i", "v", "ref", "acc")


def run_kernel(vectors, *, gap=0.0, seed=0):
    """Stream ``vectors`` (dict of equal-length int arrays) through the kernel, one per
    clock (with random idle cycles if ``gap``); returns (i, v, ref, profile, spike) arrays
    and checks that ``o_valid`` follows ``i_valid`` by exactly ``LATENCY`` clocks."""
    dut = CubaLif()
    lat = dut.LATENCY
    assert lat == CubaLif.LATENCY and lat >= 1
    n = len(vectors["i"])
    rng = np.random.default_rng(seed)
    # schedule: per clock, the vector index presented (or -1 for an idle clock)
    sched = []
    for k in range(n):
        while gap and rng.random() < gap:
            sched.append(-1)
        sched.append(k)
    sched += [-1] * lat
    results = {name: np.zeros(n, dtype=np.int64) for name in ("i", "v", "ref", "profile",
                                                                "spike")}
    seen = []

    async def tb(ctx):
        for clock, k in enumerate(sched):
            if k >= 0:
                ctx.set(dut.i_valid, 1)
                ctx.set(dut.i_state, {"i": int(vectors["i"][k]), "v": int(vectors["v"][k]),
                                      "ref": int(vectors["ref"][k]),
                                      "profile": int(vectors["profile"][k])})
                ctx.set(dut.i_acc, int(vectors["acc"][k]))
                ctx.set(dut.i_params, {name: (spec.Reset(int(vectors[name][k]))
                                              if name == "reset" else int(vectors[name][k]))
                                       for name in PROFILE_FIELDS})
            else:
                ctx.set(dut.i_valid, 0)
            await ctx.tick()
            # after edge ``clock`` the outputs belong to the input of clock - lat + 1
            src = clock - lat + 1
            expect = sched[src] if src >= 0 else -1
            valid = ctx.get(dut.o_valid)
            assert valid == (expect >= 0), f"o_valid={valid} at clock {clock}"
            if valid:
                st = ctx.get(dut.o_state)
                results["i"][expect] = st.i
                results["v"][expect] = st.v
                results["ref"][expect] = st.ref
                results["profile"][expect] = st.profile
                results["spike"][expect] = ctx.get(dut.o_spike)
                seen.append(expect)
            else:
                assert ctx.get(dut.o_spike) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert seen == list(range(n))
    return results


def check(vectors, **kw):
    got = run_kernel(vectors, **kw)
    params = {name: vectors[name] for name in PROFILE_FIELDS}
    i, v, ref, spike = cuba_lif_step(vectors["i"], vectors["v"], vectors["ref"],
                                     vectors["acc"], params)
    expect = {"i": i, "v": v, "ref": ref, "spike": spike.astype(np.int64),
              "profile": vectors["profile"]}
    for name in ("spike", "i", "v", "ref", "profile"):
        bad = np.flatnonzero(got[name] != expect[name])
        if bad.size:
            k = int(bad[0])
            inputs = {f: int(vectors[f][k]) for f in vectors}
            pytest.fail(f"{bad.size} mismatches in {name}; first at vector {k}: "
                        f"expected {int(expect[name][k])}, got {int(got[name][k])}; "
                        f"inputs {inputs}")
    return got


def random_vectors(rng, n):
    vec = {
        "i": rng.integers(spec.STATE_MIN, spec.STATE_MAX + 1, n),
        "v": rng.integers(spec.STATE_MIN, spec.STATE_MAX + 1, n),
        "ref": np.where(rng.random(n) < 0.6, 0, rng.integers(0, spec.REF_MAX + 1, n)),
        "profile": rng.integers(0, spec.PROFILE_COUNT, n),
        "acc": np.where(rng.random(n) < 0.5, rng.integers(-3000, 3000, n),
                        rng.integers(spec.ACC_MIN, spec.ACC_MAX + 1, n)),
    }
    for name, (lo, hi) in PROFILE_LIMITS.items():
        vec[name] = rng.integers(lo, hi + 1, n)
    # moderate thresholds and small states too, so that spikes and both resets happen often
    small = rng.random(n) < 0.5
    vec["threshold"] = np.where(small, rng.integers(1, 3000, n), vec["threshold"])
    vec["v"] = np.where(small, rng.integers(-4000, 4000, n), vec["v"])
    vec["i"] = np.where(small, rng.integers(-4000, 4000, n), vec["i"])
    return vec


def test_random_vectors_back_to_back():
    rng = np.random.default_rng(1234)
    got = check(random_vectors(rng, 4000))
    # the run must have exercised both outcomes
    assert 200 < got["spike"].sum() < 3800


def test_random_vectors_with_gaps():
    rng = np.random.default_rng(99)
    check(random_vectors(rng, 600), gap=0.4, seed=5)


def test_extremes():
    """Cartesian product of the corners of every operand, plus hand-picked cases."""
    smin, smax = spec.STATE_MIN, spec.STATE_MAX
    corners = {
        "i": [smin, -1, 0, 1, smax],
        "v": [smin, -4097, -1, 0, 1000, smax],
        "ref": [0, 1, spec.REF_MAX],
        "acc": [spec.ACC_MIN, -1, 0, 1, spec.ACC_MAX],
        "decay_i": [0, 1, spec.DECAY_ONE - 1, spec.DECAY_ONE],
        "decay_v": [0, 2048, spec.DECAY_ONE],
        "threshold": [1, 1000, smax],
        "bias": [smin, 0, smax],
        "v_reset": [smin, -7, smax],
        "reset": [0, 1],
        "refractory": [0, 1, spec.REF_MAX],
    }
    # full product is too large; cover every pair of corner values of (i, v, acc, decays,
    # ref) and sample the rest
    rng = np.random.default_rng(7)
    rows = []
    for i, v, acc, di, dv, ref in itertools.product(corners["i"], corners["v"], corners["acc"],
                                                    corners["decay_i"], corners["decay_v"],
                                                    corners["ref"]):
        row = {"i": i, "v": v, "acc": acc, "decay_i": di, "decay_v": dv, "ref": ref}
        for name in ("threshold", "bias", "v_reset", "reset", "refractory"):
            row[name] = corners[name][int(rng.integers(len(corners[name])))]
        rows.append(row)
    # v' lands exactly on the threshold (>=, not >), one below, one above; both resets.
    for th, reset, delta, refr in itertools.product([1, 500, smax], [0, 1], [-1, 0, 1],
                                                    [0, 1, spec.REF_MAX]):
        target = th + delta
        if target > smax:
            continue
        rows.append({"i": 0, "v": target, "acc": 0, "decay_i": 0, "decay_v": 0, "ref": 0,
                     "threshold": th, "bias": 0, "v_reset": -3, "reset": reset,
                     "refractory": refr})
        # the same via i' + bias with memoryless v
        rows.append({"i": 0, "v": 12345, "acc": target - 10, "decay_i": spec.DECAY_ONE,
                     "decay_v": spec.DECAY_ONE, "ref": 0, "threshold": th, "bias": 10,
                     "v_reset": 77, "reset": reset, "refractory": refr})
    # saturation of v happens only on the full sum: v + i' + bias overflowing in an
    # intermediate but landing in range must not clip
    rows.append({"i": smax, "v": smax, "acc": 0, "decay_i": 0, "decay_v": 0, "ref": 0,
                 "threshold": smax, "bias": smin, "v_reset": 0, "reset": 0, "refractory": 0})
    rows.append({"i": smin, "v": smin, "acc": 0, "decay_i": 0, "decay_v": 0, "ref": 0,
                 "threshold": 1, "bias": smax, "v_reset": 0, "reset": 0, "refractory": 0})
    # rtz of negative values: -1 * 4095/4096 must give 0 (not -1)
    for x in (-1, -4095, -4096, -4097, smin):
        rows.append({"i": x, "v": x, "acc": 0, "decay_i": 1, "decay_v": 1, "ref": 0,
                     "threshold": smax, "bias": 0, "v_reset": 0, "reset": 0,
                     "refractory": 0})
    vec = {name: np.array([r[name] for r in rows], dtype=np.int64) for name in rows[0]}
    vec["profile"] = np.arange(len(rows)) % spec.PROFILE_COUNT
    got = check(vec)
    assert got["spike"].any() and not got["spike"].all()
