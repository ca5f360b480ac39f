"""Cases of the encoder blocks (``rtl/encoders/`` against ``golden/encoders/``): random
sources (LFSR, Sobol / van der Corput), SNG banks, SC arithmetic (AND/XNOR multiply,
MUX/OR add, CORDIV divide, Stanh, counters) and the spike encoders (rate, latency, delta,
population).

Every builder ``make_<block>(rng, steps, **params)`` draws a random valid instance (the
parameters not given in ``params``) and random stimulus, computes the golden expectation
and returns a :class:`~neurofab.cosim.engine.StepCase`. A bit-level block's step is a chunk
of ``chunk`` clocks (transactions); a spike encoder's step is a timestep (one value per
channel in, the step's events and the end-of-step marker out). The block's registers and
memories are read through the :class:`~neurofab.cosim.engine.Probed` state port after every
step.
"""

import numpy as np

from neurofab import spec
from neurofab.spec import encoders as S

from .engine import Step, StepCase

__all__ = ["make_lfsr", "make_sobol", "make_sng", "make_sc_mul", "make_sc_add", "make_sc_div",
           "make_sc_tanh", "make_sc_count", "make_rate", "make_latency", "make_delta",
           "make_population", "pick", "encoder_values", "ENCODER_PROBES", "encoder_state"]


def pick(rng, params, name, choices):
    """``params[name]`` if given, else a random one of ``choices``."""
    if name in params:
        return params[name]
    return choices[int(rng.integers(len(choices)))]


def _pack_lanes(words, width):
    """Rows of per-lane ints -> packed ints (lane 0 in the low bits)."""
    words = np.asarray(words)
    out = []
    for row in words.reshape(len(words), -1) if len(words) else []:
        v = 0
        for lane, x in enumerate(row):
            v |= int(x) << (width * lane)
        out.append(v)
    return out


def _held(rng, n, lanes, width, hold=(1, 12)):
    """``(n, lanes)`` random ``width``-bit values, each held for a random number of clocks."""
    out = np.empty((n, lanes), dtype=np.int64)
    t = 0
    while t < n:
        k = int(rng.integers(hold[0], hold[1] + 1))
        out[t:t + k] = rng.integers(0, 1 << width, lanes)
        t += k
    return out


def _sng_bits(rng, n, lanes, *, shared=False, values=None, width=8):
    """Bitstreams from a golden LFSR SNG bank at random held values."""
    from neurofab.golden.encoders import sng_bank
    if values is None:
        values = _held(rng, n, lanes, width)
    seed = int(rng.integers(1, 1 << 16))
    return sng_bank(values, width=width, source="lfsr", source_width=16, seed=seed,
                    shared=shared)


def _chunks(n_steps, chunk):
    return [(t * chunk, (t + 1) * chunk) for t in range(n_steps)]


def _event_words(transactions):
    return [spec.pack(spec.InputEvent, channel=c, eos=e) for c, e in transactions]


# --- random sources ---------------------------------------------------------------------
def make_lfsr(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders.lfsr import lfsr_advance, lfsr_sequence
    from neurofab.rtl.encoders import Lfsr
    width = pick(rng, p, "width", [4, 5, 8, 12, 16, 24, 32])
    poly = p.get("poly", None if width != 16 or rng.random() < 0.5 else 0x16801)
    leap = pick(rng, p, "leap", [1, S.default_leap(width)])
    seed = p.get("seed", int(rng.integers(1, 1 << width)))
    n = steps * chunk
    seq = lfsr_sequence(width, seed, n, poly, leap=leap)
    params = {"width": width, "seed": seed, "leap": leap, "poly": poly}
    out = []
    for t, (a, b) in enumerate(_chunks(steps, chunk)):
        state = int(lfsr_advance(width, seed, b * leap, poly))
        out.append(Step({}, {"o_data": [int(x) for x in seq[a:b]]}, {"state": state}, chunk))
    return StepCase("lfsr", params, lambda: Lfsr(width, seed, poly=poly, leap=leap), out,
                     {"o_data": "words"}, probe=lambda d: [("state", d.state)])


def make_sobol(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders import sobol_sequence, vdc_sequence
    from neurofab.rtl.encoders import Sobol, VanDerCorput
    kind = pick(rng, p, "kind", ["sobol", "sobol", "vdc"])
    bits = pick(rng, p, "bits", [1, 4, 6, 8, 12, 16, 32])
    n = steps * chunk
    mask = (1 << bits) - 1
    if kind == "sobol":
        dim = p.get("dim", int(rng.integers(1, S.SOBOL_MAX_DIM + 1)))
        seq = sobol_sequence(n + 1, dim, bits)
        params = {"kind": kind, "dim": dim, "bits": bits}

        def factory():
            return Sobol(dim, bits)

        def probe(d):
            return [("index", d.index), ("value", d.value)]

        def state(k):
            return {"index": k & mask, "value": int(seq[k])}
    else:
        seq = vdc_sequence(n + 1, bits)
        params = {"kind": kind, "bits": bits}

        def factory():
            return VanDerCorput(bits)

        def probe(d):
            return [("index", d.index)]

        def state(k):
            return {"index": k & mask}
    out = [Step({}, {"o_data": [int(x) for x in seq[a:b]]}, state(b), chunk)
           for a, b in _chunks(steps, chunk)]
    return StepCase("sobol", params, factory, out, {"o_data": "words"}, probe=probe)


def make_sng(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders import sng_bank, sobol_sequence
    from neurofab.golden.encoders.lfsr import lfsr_advance
    from neurofab.rtl.encoders import SngBank
    source = pick(rng, p, "source", list(S.SNG_SOURCES))
    shared = p.get("shared", True if source == "vdc" else bool(rng.random() < 0.4))
    lanes = p.get("lanes", int(rng.integers(1, 9)))
    width = p.get("width", int(rng.integers(1, 13)))
    kw = {"source": source, "shared": shared}
    if source == "lfsr":
        kw["source_width"] = p.get("source_width", int(rng.integers(max(width, 4), 21)))
        kw["seed"] = p.get("seed", int(rng.integers(1, 1 << kw["source_width"])))
        kw["leap"] = p.get("leap", 1 if rng.random() < 0.5 else S.default_leap(kw["source_width"]))
    else:
        kw["source_width"] = p.get("source_width", int(rng.integers(width, width + 5)))
        if source == "sobol":
            top = S.SOBOL_MAX_DIM if shared else S.SOBOL_MAX_DIM - lanes + 1
            kw["dim"] = p.get("dim", int(rng.integers(1, top + 1)))
    sw, srcs = S.sng_sources(lanes=lanes, width=width, **kw)
    n = steps * chunk
    values = _held(rng, n, lanes, width)
    bits = sng_bank(values, width=width, **kw)
    params = {"width": width, "lanes": lanes, **kw}

    def state(k):
        out = {}
        for j, s in enumerate(srcs):
            if source == "lfsr":
                out[f"source{j}.state"] = int(lfsr_advance(sw, s, k * kw["leap"]))
            elif source == "sobol":
                out[f"source{j}.index"] = k & ((1 << sw) - 1)
                out[f"source{j}.value"] = int(sobol_sequence(1, s, sw, start=k)[0])
            else:
                out[f"source{j}.index"] = k & ((1 << sw) - 1)
        return out

    def probe(d):
        items = []
        for j, src in enumerate(d.sources):
            if source == "lfsr":
                items.append((f"source{j}.state", src.state))
            else:
                items.append((f"source{j}.index", src.index))
                if source == "sobol":
                    items.append((f"source{j}.value", src.value))
        return items

    out = [Step({"i_value": _pack_lanes(values[a:b], width)},
                {"o_bits": _pack_lanes(bits[a:b], 1)}, state(b), chunk)
           for a, b in _chunks(steps, chunk)]
    return StepCase("sng", params, lambda: SngBank(width, lanes, **kw), out,
                     {"o_bits": "bits"}, probe=probe)


# --- SC arithmetic ----------------------------------------------------------------------
def _binary_case(name, rng, steps, chunk, ops, p, inputs):
    """A combinational join: ``ops`` maps op names to (component class, golden function)."""
    op = pick(rng, p, "op", sorted(ops))
    lanes = p.get("lanes", int(rng.integers(1, 17)))
    cls, gold = ops[op]
    n = steps * chunk
    streams = inputs(rng, n, lanes)
    z = gold(*[streams[k] for k in sorted(streams)])
    out = [Step({port: _pack_lanes(s[a:b], 1) for port, s in streams.items()},
                {"o_bits": _pack_lanes(z[a:b], 1)}, {}, chunk)
           for a, b in _chunks(steps, chunk)]
    return StepCase(name, {"op": op, "lanes": lanes}, lambda: cls(lanes), out,
                     {"o_bits": "bits"})


def make_sc_mul(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders import sc_and, sc_xnor
    from neurofab.rtl.encoders import ScAnd, ScXnor

    def inputs(rng, n, lanes):
        return {"i_a": _sng_bits(rng, n, lanes), "i_b": _sng_bits(rng, n, lanes)}
    return _binary_case("sc-mul", rng, steps, chunk,
                        {"and": (ScAnd, sc_and), "xnor": (ScXnor, sc_xnor)}, p, inputs)


def make_sc_add(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders import sc_mux, sc_or
    from neurofab.rtl.encoders import ScMux, ScOr
    op = pick(rng, p, "op", ["mux", "or"])

    def inputs(rng, n, lanes):
        s = {"i_a": _sng_bits(rng, n, lanes), "i_b": _sng_bits(rng, n, lanes)}
        if op == "mux":      # select from its own source at one half
            s["i_sel"] = _sng_bits(rng, n, lanes, values=np.full((n, lanes), 128))
        return s
    ops = {"mux": (ScMux, sc_mux), "or": (ScOr, sc_or)}
    return _binary_case("sc-add", rng, steps, chunk, ops, {**p, "op": op}, inputs)


def make_sc_div(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders import sc_cordiv
    from neurofab.rtl.encoders import ScCordiv
    lanes = p.get("lanes", int(rng.integers(1, 17)))
    init = pick(rng, p, "init", [0, 1])
    n = steps * chunk
    # dividend <= divisor from one shared source (SCC = +1), as CORDIV needs
    vb = _held(rng, n, lanes, 8)
    va = (vb * rng.random((n, lanes))).astype(np.int64)
    from neurofab.golden.encoders import sng_bank
    seed = int(rng.integers(1, 1 << 16))
    both = sng_bank(np.concatenate([va, vb], axis=1), width=8, source="lfsr", source_width=16,
                    seed=seed, shared=True)
    a, b = both[:, :lanes], both[:, lanes:]
    out, q = [], np.full(lanes, init, dtype=np.uint8)
    for lo, hi in _chunks(steps, chunk):
        z, q = sc_cordiv(a[lo:hi], b[lo:hi], q, return_state=True)
        out.append(Step({"i_a": _pack_lanes(a[lo:hi], 1), "i_b": _pack_lanes(b[lo:hi], 1)},
                        {"o_bits": _pack_lanes(z, 1)}, {"state": _pack_lanes([q], 1)[0]},
                        chunk))
    return StepCase("sc-div", {"lanes": lanes, "init": init},
                     lambda: ScCordiv(lanes, init=init), out, {"o_bits": "bits"},
                     probe=lambda d: [("state", d.state)])


def make_sc_tanh(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders import sc_tanh, sng_bank
    from neurofab.rtl.encoders import ScTanh
    lanes = p.get("lanes", int(rng.integers(1, 17)))
    states = pick(rng, p, "states", [2, 4, 6, 8, 16, 32])
    n = steps * chunk
    x = sng_bank(_held(rng, n, lanes, 8, hold=(8, 64)), width=8, source="lfsr",
                 source_width=16, seed=int(rng.integers(1, 1 << 16)),
                 leap=S.default_leap(16))
    out, s = [], np.full(lanes, states // 2, dtype=np.int64)
    for lo, hi in _chunks(steps, chunk):
        y, s = sc_tanh(x[lo:hi], states, s, return_state=True)
        out.append(Step({"i_bits": _pack_lanes(x[lo:hi], 1)}, {"o_bits": _pack_lanes(y, 1)},
                        {f"state[{l}]": int(s[l]) for l in range(lanes)}, chunk))
    return StepCase("sc-tanh", {"lanes": lanes, "states": states},
                     lambda: ScTanh(lanes, states), out, {"o_bits": "bits"},
                     probe=lambda d: [(f"state[{l}]", v) for l, v in enumerate(d.state)])


def make_sc_count(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders import count_width, sc_count
    from neurofab.rtl.encoders import ScCounter
    lanes = p.get("lanes", int(rng.integers(1, 9)))
    length = pick(rng, p, "length", [1, 3, 16, 50, 256])
    cw = count_width(length)
    n = steps * chunk
    bits = _sng_bits(rng, n, lanes)
    out, done = [], 0
    for lo, hi in _chunks(steps, chunk):
        counts, acc, phase = sc_count(bits[:hi], length, return_state=True)
        new = counts[done:]
        done = len(counts)
        state = {f"acc[{l}]": int(acc[l]) for l in range(lanes)}
        state["phase"] = int(phase)
        out.append(Step({"i_bits": _pack_lanes(bits[lo:hi], 1)},
                        {"o_count": _pack_lanes(new, cw)}, state, chunk))
    return StepCase("sc-count", {"lanes": lanes, "length": length},
                     lambda: ScCounter(lanes, length), out,
                     {"o_count": ("counts", cw, lanes)},
                     probe=lambda d: [(f"acc[{l}]", a) for l, a in enumerate(d.acc)]
                     + [("phase", d.phase)])


# --- spike encoders ---------------------------------------------------------------------
def encoder_values(rng, steps, channels, width, *, walk=False):
    top = (1 << width) - 1
    if not walk:
        v = rng.integers(0, top + 1, (steps, channels))
        hold = rng.random((steps, channels)) < 0.3        # some values repeat
        for t in range(1, steps):
            v[t, hold[t]] = v[t - 1, hold[t]]
        return v
    step = rng.integers(-(top // 4) - 1, top // 4 + 2, (steps, channels))
    step[rng.random((steps, channels)) < 0.3] = 0
    return np.clip(np.cumsum(step, axis=0) + top // 2, 0, top)


def _spike_case(name, steps, rtl_cls, gold, params, values, state_of, probe, fields=1):
    from neurofab.golden.encoders.spike import to_transactions
    out = []
    for t in range(steps):
        chans = gold.run(values[t:t + 1])
        out.append(Step({"i_value": [int(x) for x in values[t]]},
                        {"o_event": _event_words(to_transactions(chans))},
                        {"channel": 0, **state_of(gold)},
                        values.shape[1] * fields + 2))
    return StepCase(name, params, lambda: rtl_cls(**params), out, {"o_event": "events"},
                     probe=lambda d: [("channel", d.channel)] + probe(d))


def make_rate(rng, steps, **p):
    from neurofab.golden.encoders import spike as G
    from neurofab.rtl.encoders import RateEncoder
    channels = p.get("channels", int(rng.integers(1, 13)))
    width = pick(rng, p, "width", [1, 4, 8, 12, 16])
    rand_width = p.get("rand_width", int(rng.integers(max(width, 4), 25)))
    leap = pick(rng, p, "leap", [None, 1])
    seed = p.get("seed", int(rng.integers(1, 1 << rand_width)))
    params = dict(channels=channels, width=width, seed=seed, rand_width=rand_width, leap=leap)
    vals = encoder_values(rng, steps, channels, width)
    return _spike_case("rate", steps, RateEncoder, G.RateEncoder(**params), params, vals,
                       lambda g: {"lfsr": g.lfsr}, lambda d: [("lfsr", d.lfsr)])


def make_latency(rng, steps, **p):
    from neurofab.golden.encoders import spike as G
    from neurofab.rtl.encoders import LatencyEncoder
    channels = p.get("channels", int(rng.integers(1, 13)))
    width = pick(rng, p, "width", [1, 4, 8, 12, 16])
    window = pick(rng, p, "window", [1, 2, 5, 8, 16])
    params = dict(channels=channels, width=width, window=window)
    vals = encoder_values(rng, steps, channels, width)
    return _spike_case("latency", steps, LatencyEncoder, G.LatencyEncoder(**params), params,
                       vals, lambda g: {"phase": g.phase}, lambda d: [("phase", d.phase)])


def make_delta(rng, steps, **p):
    from neurofab.golden.encoders import spike as G
    from neurofab.rtl.encoders import DeltaEncoder
    channels = p.get("channels", int(rng.integers(1, 13)))
    width = pick(rng, p, "width", [1, 4, 8, 12])
    threshold = p.get("threshold", int(rng.integers(1, max(2, (1 << width) // 4) + 1)))
    params = dict(channels=channels, width=width, threshold=threshold)
    vals = encoder_values(rng, steps, channels, width, walk=True)
    return _spike_case("delta", steps, DeltaEncoder, G.DeltaEncoder(**params), params,
                       vals, lambda g: {f"prev[{c}]": int(x) for c, x in enumerate(g.prev)},
                       lambda d: [("prev", d.prev)])


def make_population(rng, steps, **p):
    from neurofab.golden.encoders import spike as G
    from neurofab.rtl.encoders import PopulationEncoder
    channels = p.get("channels", int(rng.integers(1, 5)))
    width = pick(rng, p, "width", [2, 4, 6, 8])
    fields = p.get("fields", int(rng.integers(2, 9)))
    rand_width = p.get("rand_width", int(rng.integers(max(width, 4), 21)))
    seed = p.get("seed", int(rng.integers(1, 1 << rand_width)))
    sigma = p.get("sigma", None if rng.random() < 0.5 else
                  float(round(rng.uniform(0.3, 2.0) * ((1 << width) - 1) / (fields - 1), 3)))
    peak = p.get("peak", None if rng.random() < 0.5 else int(rng.integers(0, 1 << width)))
    leap = pick(rng, p, "leap", [None, 1])
    params = dict(channels=channels, width=width, fields=fields, sigma=sigma, peak=peak,
                  seed=seed, rand_width=rand_width, leap=leap)
    vals = encoder_values(rng, steps, channels, width)
    return _spike_case("population", steps, PopulationEncoder, G.PopulationEncoder(**params),
                       params, vals, lambda g: {"field": 0, "lfsr": g.lfsr},
                       lambda d: [("field", d.field), ("lfsr", d.lfsr)], fields=fields)


ENCODER_PROBES = {
    "rate": lambda d: [("lfsr", d.lfsr)],
    "latency": lambda d: [("phase", d.phase)],
    "delta": lambda d: [("prev", d.prev)],
    "population": lambda d: [("field", d.field), ("lfsr", d.lfsr)],
}


def encoder_state(kind, g):
    if kind == "rate":
        return {"lfsr": g.lfsr}
    if kind == "latency":
        return {"phase": g.phase}
    if kind == "delta":
        return {f"prev[{c}]": int(x) for c, x in enumerate(g.prev)}
    return {"field": 0, "lfsr": g.lfsr}
