"""The learning datapath (``rtl/learning.py``) against ``golden/learning.py``, bit for bit:
``PostUpdate`` against ``homeostatic_params`` and ``after_update``, ``SynapseUpdate``
against ``learn``, over random inputs with the extremes (bounds hit, traces at 4095,
amplitudes 65535, ``m_shift`` 0 and 31, modulator at both rails, eligibility saturated)."""

from types import SimpleNamespace

import numpy as np
import pytest
from amaranth.sim import Simulator

from neurofab import spec
from neurofab.golden import learning as gl
from neurofab.kernels import KERNELS, get_kernel
from neurofab.rtl.learning import LearnUnit, PostUpdate, SynapseUpdate

N = 160


def _stream(dut, vectors, drive, collect, *, seed=0, gap=0.3):
    """Drive one vector per clock (random idle clocks) through a pipeline whose
    ``o_valid`` follows ``i_valid`` by ``LATENCY``; ``collect`` reads each result."""
    rng = np.random.default_rng(seed)
    sched = []
    for k in range(vectors):
        while rng.random() < gap:
            sched.append(-1)
        sched.append(k)
    lat = type(dut).LATENCY
    sched += [-1] * lat
    seen = []

    async def tb(ctx):
        for clock, k in enumerate(sched):
            ctx.set(dut.i_valid, int(k >= 0))
            if k >= 0:
                drive(ctx, k)
            await ctx.tick()
            src = clock - lat + 1
            expect = sched[src] if src >= 0 else -1
            assert ctx.get(dut.o_valid) == (expect >= 0), f"o_valid at clock {clock}"
            if expect >= 0:
                collect(ctx, expect)
                seen.append(expect)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert seen == list(range(vectors))


def _corners(rng, n, lo, hi, p=0.15):
    v = rng.integers(lo, hi + 1, n)
    pick = rng.random(n)
    return np.where(pick < p, lo, np.where(pick < 2 * p, hi, v))


# --- PostUpdate --------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", list(KERNELS))
@pytest.mark.parametrize("mode", [0, 1])
def test_post_update(kernel, mode):
    k = get_kernel(kernel)
    rng = np.random.default_rng([mode, len(kernel)])
    params = {f: _corners(rng, N, *k.limits[f]) for f in k.param_fields}
    learn = {"y": _corners(rng, N, 0, spec.TRACE_MAX), "fired": rng.integers(0, 2, N),
             "theta": _corners(rng, N, spec.THETA_MIN, spec.THETA_MAX)}
    spike = rng.random(N) < 0.5
    lo, hi = np.sort(_corners(rng, (2, N), spec.THETA_MIN, spec.THETA_MAX), axis=0)
    lc = SimpleNamespace(post_amp=_corners(rng, N, 0, spec.TRACE_MAX), mode=mode,
                         post_decay=_corners(rng, N, 0, spec.DECAY_ONE),
                         up=_corners(rng, N, 0, spec.HOMEO_STEP_MAX),
                         down=_corners(rng, N, 0, spec.HOMEO_STEP_MAX), lo=lo, hi=hi)
    cfg = SimpleNamespace(kernel=k, learning=lc, profile=np.arange(N))
    exp_params = gl.homeostatic_params(params, learn, cfg) if k.homeostasis else params
    before = {key: v.copy() for key, v in learn.items()}
    gl.after_update(learn, spike, cfg)
    dut = PostUpdate(k)
    got = {key: np.zeros(N, dtype=np.int64) for key in (*k.param_fields, "y", "fired", "theta")}

    def drive(ctx, j):
        ctx.set(dut.i_params.as_value(), spec.pack(k.profile, **{f: int(params[f][j])
                                                                 for f in k.param_fields}))
        ctx.set(dut.i_post, {f: int(before[f][j]) for f in ("y", "fired", "theta")})
        ctx.set(dut.i_homeo, {f: int(getattr(lc, f)[j]) for f in spec.HOMEO_FIELDS})
        ctx.set(dut.i_traces.as_value(), spec.pack(
            spec.Traces, pre_decay=0, pre_amp=0, post_decay=int(lc.post_decay[j]),
            post_amp=int(lc.post_amp[j]), mode=mode))

    def collect(ctx, j):
        word = spec.unpack(k.profile, ctx.get(dut.o_params.as_value()))
        for f in k.param_fields:
            got[f][j] = word[f]
        post = spec.unpack(spec.PostTrace, ctx.get(
            (dut.o_fired if spike[j] else dut.o_quiet).as_value()))
        for f in ("y", "fired", "theta"):
            got[f][j] = post[f]

    _stream(dut, N, drive, collect, seed=mode)
    for f in k.param_fields:
        np.testing.assert_array_equal(got[f], exp_params[f], err_msg=f"param {f}")
    for f in ("y", "fired", "theta"):
        np.testing.assert_array_equal(got[f], learn[f], err_msg=f)
    # the extremes happened: clamps of theta and of the homeostasis field, y saturated
    assert np.any(learn["theta"] == lo) and np.any(learn["theta"] == hi)
    if k.homeostasis:
        field = k.homeostasis[0]
        assert np.any((exp_params[field] != params[field]))
        assert np.any(exp_params[field] == k.limits[field][0]) and \
            np.any(exp_params[field] == k.limits[field][1])


# --- SynapseUpdate -------------------------------------------------------------------------
def _synapse_batch(rng, n, modulator):
    """A golden learn phase of ``n`` synapses, each with its own source and target (so the
    per-source trace update is the golden's), random state with the extremes."""
    rules = {name: np.zeros(spec.RULE_COUNT, dtype=np.int64) for name in spec.RULE_FIELDS}
    for r in range(1, spec.RULE_COUNT):
        rules["kind"][r] = rng.integers(0, 2)
        rules["a_plus"][r] = _corners(rng, 1, 0, spec.AMP_MAX, 0.3)[0]
        rules["a_minus"][r] = _corners(rng, 1, 0, spec.AMP_MAX, 0.3)[0]
        rules["w_min"][r], rules["w_max"][r] = np.sort(
            rng.integers(spec.WEIGHT_MIN, spec.WEIGHT_MAX + 1, 2))
        rules["elig_decay"][r] = _corners(rng, 1, 0, spec.DECAY_ONE, 0.3)[0]
        rules["m_shift"][r] = _corners(rng, 1, 0, spec.M_SHIFT_MAX, 0.3)[0]
    rules["w_min"][1], rules["w_max"][1] = spec.WEIGHT_MIN, spec.WEIGHT_MAX
    rules["kind"][3] = 1
    syn_rule = rng.integers(0, spec.RULE_COUNT, n)
    lc = SimpleNamespace(syn_rule=syn_rule, learn_end=n, pre_decay=int(rng.integers(0, 4097)),
                         pre_amp=int(_corners(rng, 1, 0, spec.TRACE_MAX, 0.4)[0]),
                         mode=int(rng.integers(0, 2)), **rules)
    cfg = SimpleNamespace(learning=lc, syn_source=np.arange(n), syn_target=np.arange(n))
    weight = rng.integers(spec.WEIGHT_MIN, spec.WEIGHT_MAX + 1, n)
    plastic = syn_rule != 0
    weight[plastic] = np.clip(weight[plastic], rules["w_min"][syn_rule[plastic]],
                              rules["w_max"][syn_rule[plastic]])
    state = {"x": _corners(rng, n, 0, spec.TRACE_MAX), "y": _corners(rng, n, 0, spec.TRACE_MAX),
             "fired": rng.integers(0, 2, n), "theta": np.zeros(n, dtype=np.int64),
             "weight": weight, "frac": rng.integers(0, 256, n),
             "elig": _corners(rng, n, spec.ELIG_MIN, spec.ELIG_MAX)}
    pre = rng.random(n) < 0.6
    before = {key: v.copy() for key, v in state.items()}
    gl.learn(state, pre, cfg, modulator)
    return lc, before, state, pre


@pytest.mark.parametrize("seed", range(6))
def test_synapse_update(seed):
    rng = np.random.default_rng([seed, 0x5E])
    modulator = [spec.MOD_MIN, spec.MOD_MAX, 0, 1, -1, int(rng.integers(-3000, 3000))][seed]
    n = N
    lc, before, after, pre = _synapse_batch(rng, n, modulator)
    dut = SynapseUpdate()
    got = {key: np.zeros(n, dtype=np.int64) for key in ("weight", "frac", "elig")}

    def drive(ctx, j):
        r = int(lc.syn_rule[j])
        ctx.set(dut.i_syn.as_value(), spec.pack(
            spec.PlasticSynapse, target=j, weight=int(before["weight"][j]), delay=j % 8,
            rule=r, frac=int(before["frac"][j]), source=j, elig=int(before["elig"][j])))
        ctx.set(dut.i_rule.as_value(), spec.pack(spec.Rule, **{
            f: int(getattr(lc, f)[r]) for f in spec.RULE_FIELDS}))
        ctx.set(dut.i_x, int(after["x"][j]))
        ctx.set(dut.i_y, int(before["y"][j]))
        ctx.set(dut.i_fired, int(before["fired"][j]))
        ctx.set(dut.i_pre, int(pre[j]))
        ctx.set(dut.i_modulator, modulator)

    def collect(ctx, j):
        word = spec.unpack(spec.PlasticSynapse, ctx.get(dut.o_syn.as_value()))
        assert (word["target"], word["source"], word["delay"], word["rule"]) == \
            (j, j, j % 8, int(lc.syn_rule[j]))
        for f in got:
            got[f][j] = word[f]

    _stream(dut, n, drive, collect, seed=seed)
    for f in got:
        bad = np.flatnonzero(got[f] != after[f])
        assert not bad.size, (f"{f} of synapse {bad[0]}: golden {after[f][bad[0]]}, RTL "
                              f"{got[f][bad[0]]} (rule {lc.syn_rule[bad[0]]})")
    # the extremes happened
    rule = lc.syn_rule
    wf = (after["weight"] << 8) + after["frac"]
    plastic = rule != 0
    assert np.any(plastic & ((wf == lc.w_min[rule] << 8) | (wf == lc.w_max[rule] << 8)))
    rst = plastic & (lc.kind[rule] == 1)
    assert np.any(rst)
    if seed == 0:
        assert np.any(rst & (np.abs(after["elig"]) >= spec.ELIG_MAX))


def test_learn_unit_parameters():
    with pytest.raises(ValueError, match="n_sources = 3 is outside"):
        LearnUnit(4, 3, 16)
    with pytest.raises(ValueError, match="syn_capacity = 0 is outside"):
        LearnUnit(4, 8, 0)
