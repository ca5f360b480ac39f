"""``from_nir``: a NIR graph as a ``Network`` of CUBA-LIF neurons and its
``QuantReport`` (``docs/nir.md``, "Mapping onto the core", "Choosing the scale")."""

import math

import numpy as np

from neurofab import spec
from neurofab.checks import check_float

from .graph import AUTO_HEADROOM, DEFAULT_CALIBRATION, MAX_PROFILES, Graph, read_graph
from .report import GraphMap, LayerReport, QuantReport
from .simulate import (NeuronNode, input_batch, sim_options, as_text, raster_agreement,
                       simulate)


# --- import ------------------------------------------------------------------------------
def _default_calibration(g):
    c = DEFAULT_CALIBRATION
    rng = np.random.default_rng(c["seed"])
    data = {n: rng.random((c["samples"], c["steps"], g.size[n])) < c["rate"]
            for n in g.inputs}
    what = (f"{c['samples']} x {c['steps']} steps of Bernoulli spikes at rate {c['rate']} "
            f"(seed {c['seed']})")
    return data, what


def _profile_rows(ints):
    fields = spec.PROFILE_FIELDS
    return np.stack([np.concatenate([ints[n][f] for n in ints]) for f in fields], axis=1)


def _cluster(rows, limit):
    """Merge the distinct profile rows (neurons x fields) into at most ``limit``: the two
    nearest (range-normalised distance, same reset mode) merge into their neuron-weighted
    mean until few enough. Returns (new rows, worst relative parameter change)."""
    unique, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    if len(unique) <= limit:
        return rows, 0.0
    reset_col = spec.PROFILE_FIELDS.index("reset")
    centres = unique.astype(np.float64)
    weight = counts.astype(np.float64)
    members = [[k] for k in range(len(unique))]
    span = np.maximum(unique.max(axis=0) - unique.min(axis=0), 1).astype(np.float64)
    while len(centres) > limit:
        z = centres / span
        d = ((z[:, None, :] - z[None, :, :]) ** 2).sum(axis=2)
        d[centres[:, None, reset_col] != centres[None, :, reset_col]] = np.inf
        np.fill_diagonal(d, np.inf)
        a, b = np.unravel_index(np.argmin(d), d.shape)
        if not np.isfinite(d[a, b]):
            raise ValueError(f"the graph needs more than {limit} neuron profiles even "
                             f"after merging (reset modes differ)")
        merged = (centres[a] * weight[a] + centres[b] * weight[b]) / (weight[a] + weight[b])
        centres[a], weight[a] = merged, weight[a] + weight[b]
        members[a] += members[b]
        centres, weight = np.delete(centres, b, 0), np.delete(weight, b)
        del members[b]
    table = np.empty_like(unique)
    for c, group in enumerate(members):
        table[group] = np.rint(centres[c]).astype(np.int64)
    new = table[inverse]
    worst = float((np.abs(new - rows) / np.maximum(np.abs(rows), 1)).max())
    return new, worst


def _node_integers(nrn, s, compare, where):
    """The integer profile fields of neuron node ``nrn`` at state scale ``s``."""
    if (nrn.theta <= 0).any():
        raise ValueError(f"{where}: v_threshold = {nrn.theta[nrn.theta <= 0][0]:g} must be "
                         f"positive (the core's threshold is at least 1)")
    thr = (np.floor(s * nrn.theta) + 1 if compare == ">" else np.ceil(s * nrn.theta))
    ints = {"decay_i": np.rint(spec.DECAY_ONE * (1 - nrn.a_i)),
            "decay_v": np.rint(spec.DECAY_ONE * (1 - nrn.a_v)),
            "threshold": thr, "bias": np.rint(s * nrn.leak),
            "v_reset": np.rint(s * nrn.v_reset),
            "reset": np.where(nrn.reset, spec.Reset.SUBTRACT.value, spec.Reset.TO_VRESET.value),
            "refractory": nrn.refractory}
    for f, v in ints.items():
        lo, hi = spec.lif.LIMITS[f]
        if (v < lo).any() or (v > hi).any():
            k = int(np.flatnonzero((v < lo) | (v > hi))[0])
            raise ValueError(f"{where}: {f} of neuron {k} would be {int(v[k])} at scale "
                             f"{s:.6g}, outside the limit [{lo}, {hi}]: choose a smaller scale")
    return {f: v.astype(np.int64) for f, v in ints.items()}


def _node_peak(nrn, peak):
    vmax, imax = peak
    return float(np.max(np.concatenate([vmax, imax, np.abs(nrn.theta) * 1.001,
                                        np.abs(nrn.v_reset), np.abs(nrn.leak)])))


def _unit_weight(g, nrns, n):
    """Largest |integer-unit weight| into ``n`` per unit of state scale (synapses and
    bias)."""
    m = [np.abs(nrns[n].gain[:, None] * u.M).max(initial=0.0) for u in g.terms[n]]
    m.append(np.abs(nrns[n].gain * g.bias[n]).max(initial=0.0))
    return max(m)


def _shift_for(need):
    """The least ``w_shift`` (0..7) that brings ``need`` (largest integer-unit weight)
    within 127.49."""
    if need <= 127.49:
        return 0
    return int(min(spec.W_SHIFT_MAX, math.ceil(math.log2(need / 127.49))))


def _quantise(g, nrns, scales, shift, opt):
    """The ``Network`` and its layer reports for per-node ``scales`` and ``shift``."""
    from neurofab.config import Network
    ints = {n: _node_integers(nrns[n], scales[n], opt.compare, f"{nrns[n].kind} {n!r}")
            for n in g.neurons}
    rows = _profile_rows(ints)
    total = sum(g.size[n] for n in g.neurons)
    padded = total < 2 or total & (total - 1)
    rows, prof_err = _cluster(rows, MAX_PROFILES - (1 if padded else 0))
    net = Network(w_shift=shift, kernel="cuba-lif")
    inputs = {n: net.inputs(g.size[n], name=n) for n in g.inputs}
    biased = [n for n in g.neurons if np.any(g.bias[n] != 0)]
    bias_groups = {n: net.inputs(1, name=f"{n}.bias") for n in biased}
    pops, start = {}, 0
    for n in g.neurons:
        cols = rows[start:start + g.size[n]]
        start += g.size[n]
        pops[n] = net.population(g.size[n], name=n, **{
            f: cols[:, k] for k, f in enumerate(spec.PROFILE_FIELDS)})
        net.names[n] = pops[n].indices
    for n in g.inputs:
        net.names[n] = inputs[n].indices
    layers = []
    for n in g.neurons:
        layers.append(_project_node(net, g, nrns[n], n, scales[n], shift, pops, inputs,
                                    bias_groups.get(n), ints[n], opt.discretisation))
    outs = {o: src for o, src in g.output_of.items()}
    for o, src in outs.items():
        net.names[o] = pops[src].indices
    net.graph = GraphMap(inputs={n: inputs[n].indices for n in g.inputs},
                         bias_channels={n: int(b.start) for n, b in bias_groups.items()},
                         nodes={n: pops[n].indices for n in g.neurons}, outputs=outs,
                         latency=dict(g.latency), n_inputs=net.n_inputs)
    return net, layers, prof_err, ints


def _project_node(net, g, nrn, n, s, shift, pops, inputs, bias_group, ints, disc):
    """Add the synapses into node ``n``; returns its ``LayerReport`` (peak fields unset)."""
    unit = 1 << shift
    made = clipped = zeroed = 0
    levels, err2, ref2, total = 0, 0.0, 0.0, 0
    for u in g.terms[n]:
        want = s * nrn.gain[:, None] * u.M / unit
        w = np.rint(want)
        clip = (w < spec.WEIGHT_MIN) | (w > spec.WEIGHT_MAX)
        w = np.clip(w, spec.WEIGHT_MIN, spec.WEIGHT_MAX).astype(np.int64)
        nz = u.M != 0
        clipped += int(clip.sum())
        zeroed += int((nz & (w == 0)).sum())
        made += int((w != 0).sum())
        total += int(nz.sum())
        levels = max(levels, int(np.abs(w).max(initial=0)))
        err2 += float(((w - want)[nz] ** 2).sum())
        ref2 += float((want[nz] ** 2).sum())
        pre = inputs[u.src] if u.src in inputs else pops[u.src]
        net.project(pre, pops[n], weight=w.T, delay=g.core_delay(n, u).T)
    bias_err = 0.0
    if bias_group is not None:
        want = s * nrn.gain * g.bias[n] / unit
        w = np.clip(np.rint(want), spec.WEIGHT_MIN, spec.WEIGHT_MAX).astype(np.int64)
        delay = 1 + g.latency[n]
        if delay > spec.DELAY_MAX:
            raise ValueError(f"node {n!r}: its bias channel needs a delay of {delay} steps "
                             f"(1 + the node's latency), above the limit {spec.DELAY_MAX}")
        net.project(bias_group, pops[n], weight=w[None, :], delay=delay)
        nzb = g.bias[n] != 0
        bias_err = float(np.sqrt(((w - want)[nzb] ** 2).sum() / (want[nzb] ** 2).sum()))
    thr_int = ints["threshold"]
    eff_thr = (thr_int - 0.5) / s              # the middle of the integer step it stands for
    thr_err = float(np.abs(eff_thr - nrn.theta).max() / np.abs(nrn.theta).max())
    taus = {}
    for name, given in nrn.tau.items():
        a = nrn.a_i if name == "tau_syn" else nrn.a_v
        decay = np.rint(spec.DECAY_ONE * (1 - a)) / spec.DECAY_ONE
        eff = _tau_of(decay, g.dt, disc)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(np.isinf(given) & np.isinf(eff), 0.0,
                           np.abs(eff - given) / np.abs(given))
        k = int(np.argmax(rel))
        taus[name] = (float(given[k]), float(eff[k]), float(rel[k]))
    gain = float(np.median(np.abs(nrn.gain))) or 1.0
    return LayerReport(
        name=n, kind=nrn.kind, size=g.size[n], latency=g.latency[n], scale=float(s),
        weights=made, weight_levels=levels, weight_step=unit / (s * gain),
        clipped=clipped, clipped_share=clipped / max(total, 1), zeroed=zeroed,
        weight_error=math.sqrt(err2 / ref2) if ref2 else 0.0,
        threshold=float(np.median(nrn.theta)), threshold_int=int(np.median(thr_int)),
        threshold_error=thr_err, taus=taus,
        bias_channel=None if bias_group is None else f"{n}.bias", bias_error=bias_err,
        peak=0.0, headroom=math.inf, profiles=sorted({int(x) for x in np.atleast_1d(
            pops[n].profile)}))


def _tau_of(decay, dt, disc):
    """Effective time constant of the decay fraction the core applies per step."""
    with np.errstate(divide="ignore"):
        if disc == "euler":
            return np.where(decay == 0, np.inf, dt / decay)
        return np.where(decay == 0, np.inf, -dt / np.log1p(-np.minimum(decay, 1 - 1e-300)))


def _golden_raster(cfg, raster):
    """Golden spikes (batch, steps, n_neurons) of ``cfg`` on input rasters
    (batch, steps, n_inputs)."""
    from neurofab.golden import run_batch
    return run_batch(cfg, raster)


def _scales(g, nrns, scale, peaks, meta):
    """Candidate ``(label, headroom, scales, w_shift)`` for the scale option."""
    unit = {n: _unit_weight(g, nrns, n) for n in g.neurons}
    if isinstance(scale, str) and scale == "graph":
        if as_text(meta.get("producer", "")) != "neurofab":
            raise ValueError("scale = 'graph' needs a graph written by neurofab.nir.to_nir "
                             "(its metadata carries the scale and w_shift)")
        s = float(meta["neurofab_scale"])
        return [("from the graph's metadata", None, {n: s for n in g.neurons},
                 int(meta["neurofab_w_shift"]))]
    if isinstance(scale, str) and scale == "auto":
        out = []
        for h in AUTO_HEADROOM:
            sat = {n: h * spec.STATE_MAX / peaks[n] for n in g.neurons}
            shift = _shift_for(max(sat[n] * unit[n] for n in g.neurons))
            s = {n: min(sat[n], 127.49 * (1 << shift) / unit[n]) if unit[n] else sat[n]
                 for n in g.neurons}
            out.append((f"auto (headroom {h:g})", h, s, shift))
        return out
    if isinstance(scale, dict):
        unknown = sorted(set(scale) - set(g.neurons))
        if unknown:
            raise ValueError(f"scale: {unknown[0]!r} is not a neuron node (nodes: "
                             f"{', '.join(g.neurons)})")
        missing = [n for n in g.neurons if n not in scale]
        if missing:
            raise ValueError(f"scale: neuron node {missing[0]!r} has no scale")
        s = {n: check_float(f"scale[{n!r}]", scale[n], 0.0, lo_open=True) for n in g.neurons}
    elif isinstance(scale, str):
        raise ValueError(f"scale = {scale!r}: give 'auto', a positive number or a dict of "
                         f"them by neuron node name")
    else:
        value = check_float("scale", scale, 0.0, lo_open=True)
        s = {n: value for n in g.neurons}
    return [("explicit", None, s, _shift_for(max(s[n] * unit[n] for n in g.neurons)))]


def from_nir(graph, *, dt=None, scale=None, calibration=None, discretisation=None,
             reset=None, compare=None):
    """Import a NIR graph as a ``Network`` of CUBA-LIF neurons.

    Parameters
    ----------
    graph : nir.NIRGraph or path of a ``.nir`` file
        Input, Output, Affine, Linear, Scale, Delay, Flatten, CubaLIF, LIF, IF and nested
        graphs, feed-forward or recurrent. Anything else is refused, naming the node.
    dt : float
        The time step in seconds (a graph stores none; a ``dt`` in the graph's metadata is
        used when given and must agree). snnTorch's exporter assumes 1e-4.
    scale : 'auto', float or dict, optional
        State scale (integer units per unit of the graph's ``v``), one for every neuron
        node or a dict by node. ``'auto'`` (default; a graph written by ``to_nir`` keeps
        its own): per node the largest scale that keeps the calibration run's peak
        ``|v|``, ``|I|`` and threshold inside 16 bits times a headroom, the shared
        ``w_shift`` that fits the weights in 8 bits, each headroom of ``AUTO_HEADROOM``
        tried and the one whose golden raster is closest to ``simulate`` on the
        calibration input kept.
    calibration : array or dict, optional
        0/1 input spikes ((steps, n) or (batch, steps, n), a dict by Input node for
        several) that ``'auto'`` measures on and the predicted error comes from; default
        ``DEFAULT_CALIBRATION`` (Bernoulli spikes).
    discretisation : {'euler', 'exact'}, optional
        How time constants become per-step decays (default Euler, snnTorch's and Norse's
        export convention; ``DISCRETISATIONS``).
    reset : {'to_v_reset', 'subtract'}, optional
        Reset after a spike (default: the graph's metadata, else NIR's ``to_v_reset``;
        snnTorch's default reset-by-subtraction needs ``'subtract'``).
    compare : {'>', '>='}, optional
        The graph's spike condition (default ``>``, NIR's): the integer threshold is
        ``floor(scale x v_threshold) + 1`` for ``>``, ``ceil(...)`` for ``>=``.

    Returns
    -------
    (Network, QuantReport)
        ``net.index(name)`` gives the neuron indices of a neuron or Output node and the
        channels of an Input node; ``net.graph`` (a ``GraphMap``) turns graph inputs into
        core inputs and core spikes back into graph time.
    """
    from neurofab.config import compile as compile_network
    graph = read_graph(graph)
    opt = sim_options(graph, dt, discretisation, reset, compare)
    g = Graph(graph, opt.dt)
    nrns = {n: NeuronNode.of(n, g.nodes[n], g.size[n], opt.dt, opt.discretisation, opt.reset)
            for n in g.neurons}
    if calibration is None:
        calib, what = _default_calibration(g)
    else:
        calib, _ = input_batch(g, calibration, "calibration")
        shape = next(iter(calib.values())).shape
        what = f"{shape[0]} x {shape[1]} steps given"
    ref, peaks = simulate(graph, calib, dt=opt.dt, discretisation=opt.discretisation,
                          reset=opt.reset, compare=opt.compare, record=True)
    peak = {n: _node_peak(nrns[n], peaks[n]) for n in g.neurons}
    mode = "auto" if scale is None and as_text((graph.metadata or {}).get(
        "producer", "")) != "neurofab" else ("graph" if scale is None else scale)
    best, failure = None, None
    for label, h, scales, shift in _scales(g, nrns, mode, peak, graph.metadata or {}):
        try:
            net, layers, prof_err, _ = _quantise(g, nrns, scales, shift, opt)
            cfg = compile_network(net)
        except ValueError as exc:
            if len(AUTO_HEADROOM) > 1 and h is not None:
                failure = exc
                continue
            raise
        core = _golden_raster(cfg, net.graph.core_inputs(calib))
        err = 1.0 - raster_agreement(
            np.concatenate([net.graph.spikes(core, n) for n in g.neurons], axis=-1),
            np.concatenate([ref[n] for n in g.neurons], axis=-1))
        if best is None or err < best[0]:
            best = (err, label, h, net, layers, prof_err, shift)
    if best is None:
        raise failure
    err, label, h, net, layers, prof_err, shift = best
    for rep in layers:
        rep.peak = peak[rep.name]
        rep.headroom = spec.STATE_MAX / (rep.scale * rep.peak) if rep.peak else math.inf
    report = QuantReport(
        dt=opt.dt, discretisation=opt.discretisation,
        reset=opt.reset or ("per node (graph metadata)" if any(
            "reset" in (g.nodes[n].metadata or {}) for n in g.neurons) else
            "to_v_reset (NIR's; the graph names none)"), compare=opt.compare,
        w_shift=shift, scale_mode=label, headroom=h, calibration=what,
        predicted_raster_error=err, lag=net.graph.lag, profiles=len(net.profiles),
        profile_error=prof_err, layers=layers, notes=_notes(g, net, opt))
    return net, report


def _notes(g, net, opt):
    notes = [{"euler": "time constants by forward Euler: decay = dt/tau, input gain "
                       "dt/tau x r (x w_in), as snnTorch and Norse export",
              "exact": "time constants by the exact solution: decay = 1 - exp(-dt/tau), "
                       "gain (1 - exp(-dt/tau)) x r (x w_in)"}[opt.discretisation]]
    for n, lat in g.latency.items():
        if lat:
            notes.append(f"{n!r} runs {lat} step(s) behind the graph on the core (one step "
                         f"per neuron hop); net.graph.core_inputs / spikes align it")
    for n, chan in net.graph.bias_channels.items():
        notes.append(f"the Affine bias into {n!r} is a current: it enters through input "
                     f"channel {chan} ({n}.bias), on for every input step")
    return notes
