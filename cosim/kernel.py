"""A neuron kernel alone, RTL against golden: vectors of (state, acc, params) streamed
through the pipelined RTL update one per clock (or with idle clocks), every result
compared with the kernel's golden ``step``.

This is the first rung of every kernel's proof (``tests/rtl/test_<kernel>.py``); the
core co-simulation (``cosim/core.py``) is the second.
"""

import numpy as np
from amaranth.sim import Simulator

from neurofab import spec
from neurofab.kernels import get_kernel

__all__ = ["run_kernel", "check_kernel", "random_vectors"]


def run_kernel(kernel, vectors, *, gap=0.0, seed=0):
    """Stream ``vectors`` through the RTL of ``kernel``.

    ``vectors`` maps every state field, ``profile``, ``acc`` and every profile parameter
    to an int array (one entry per update). An update enters every ``kernel.ii`` clocks
    (with random extra idle clocks when ``gap`` > 0). Checks that ``o_valid`` follows
    ``i_valid`` by exactly ``LATENCY`` clocks; returns the outputs as a dict of int64
    arrays (the state fields, ``profile``, ``spike``).
    """
    kernel = get_kernel(kernel)
    dut = kernel.rtl()
    lat = type(dut).LATENCY
    n = len(vectors["acc"])
    rng = np.random.default_rng(seed)
    sched = []
    for k in range(n):
        while gap and rng.random() < gap:
            sched.append(-1)
        sched.append(k)
        sched += [-1] * (kernel.ii - 1)
    sched += [-1] * lat
    names = (*kernel.state_fields, "profile", "spike")
    out = {name: np.zeros(n, dtype=np.int64) for name in names}
    seen = []

    async def tb(ctx):
        for clock, k in enumerate(sched):
            if k >= 0:
                ctx.set(dut.i_valid, 1)
                ctx.set(dut.i_state, {f: int(vectors[f][k])
                                      for f in (*kernel.state_fields, "profile")})
                ctx.set(dut.i_acc, int(vectors["acc"][k]))
                ctx.set(dut.i_params.as_value(), spec.pack(
                    kernel.profile, **{f: int(vectors[f][k]) for f in kernel.param_fields}))
            else:
                ctx.set(dut.i_valid, 0)
            await ctx.tick()
            src = clock - lat + 1
            expect = sched[src] if src >= 0 else -1
            valid = ctx.get(dut.o_valid)
            assert valid == (expect >= 0), f"o_valid = {valid} at clock {clock}"
            if valid:
                word = spec.unpack(kernel.state_word, ctx.get(dut.o_state.as_value()))
                for f in (*kernel.state_fields, "profile"):
                    out[f][expect] = int(word[f])
                out["spike"][expect] = ctx.get(dut.o_spike)
                seen.append(expect)
            else:
                assert ctx.get(dut.o_spike) == 0, f"o_spike without o_valid at clock {clock}"

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert seen == list(range(n)), "results out of order or missing"
    return out


def check_kernel(kernel, vectors, **kw):
    """:func:`run_kernel`, then compare with the golden ``step``; raises
    ``AssertionError`` naming the first mismatching field, vector and inputs."""
    kernel = get_kernel(kernel)
    got = run_kernel(kernel, vectors, **kw)
    state = {f: np.asarray(vectors[f], dtype=np.int64) for f in kernel.state_fields}
    params = {f: np.asarray(vectors[f], dtype=np.int64) for f in kernel.param_fields}
    new, spike = kernel.step(state, np.asarray(vectors["acc"], dtype=np.int64), params)
    expect = {**new, "spike": np.asarray(spike).astype(np.int64),
              "profile": np.asarray(vectors["profile"], dtype=np.int64)}
    for name in ("spike", *kernel.state_fields, "profile"):
        bad = np.flatnonzero(got[name] != expect[name])
        if bad.size:
            k = int(bad[0])
            inputs = {f: int(vectors[f][k]) for f in vectors}
            raise AssertionError(
                f"{kernel.name}: {bad.size} mismatches in {name}; first at vector {k}: "
                f"golden {int(expect[name][k])}, RTL {int(got[name][k])}; inputs {inputs}")
    return got


def _field_range(shape):
    if shape.signed:
        return -(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1
    return 0, (1 << shape.width) - 1


def random_vectors(kernel, rng, n, *, corners=True):
    """``n`` random update vectors for ``kernel``: every state field over its whole
    width, ``acc`` over its whole width half of the time, every parameter inside its
    limit; with ``corners``, every field also takes both of its extremes."""
    kernel = get_kernel(kernel)
    rng = np.random.default_rng(rng)
    vec = {}
    for name, field in kernel.state:
        lo, hi = _field_range(field.shape)
        vec[name] = rng.integers(lo, hi + 1, n)
    vec["profile"] = rng.integers(0, spec.PROFILE_COUNT, n)
    vec["acc"] = np.where(rng.random(n) < 0.5, rng.integers(-3000, 3000, n),
                          rng.integers(spec.ACC_MIN, spec.ACC_MAX + 1, n))
    for name in kernel.param_fields:
        lo, hi = kernel.limits[name]
        vec[name] = rng.integers(lo, hi + 1, n)
    if corners:
        extremes = {name: _field_range(field.shape) for name, field in kernel.state}
        extremes["acc"] = (spec.ACC_MIN, spec.ACC_MAX)
        extremes.update(kernel.limits)
        for name, (lo, hi) in extremes.items():
            pick = rng.random(n)
            vec[name] = np.where(pick < 0.1, lo, np.where(pick < 0.2, hi, vec[name]))
    return vec
