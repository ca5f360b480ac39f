"""Float64 simulation of a NIR graph with the importer's conventions (``docs/nir.md``):
the reference an imported network is measured against."""

import math
from dataclasses import dataclass

import nir
import numpy as np

from neurofab.checks import check_float

from .graph import (COMPARES, DISCRETISATIONS, RESETS, Graph, float_array, node_params, read_graph)


# --- neuron dynamics in float ---------------------------------------------------------
def _decay(tau, dt, disc):
    """``(a, g)``: ``x' = a x + g u`` for time constant ``tau`` (``inf``: ``a = 1, g = 0``)."""
    with np.errstate(divide="ignore"):
        ratio = np.where(np.isinf(tau), 0.0, dt / tau)
    if disc == "euler":
        return 1.0 - ratio, ratio
    a = np.exp(-ratio)
    return a, 1.0 - a


def _gain(g, factor):
    """``g * factor`` with the snnTorch convention ``factor = tau/dt`` carried to the
    limit: an infinite factor with ``g = 0`` (an infinite ``tau``) is a gain of 1."""
    factor = np.asarray(factor, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out = g * factor
    return np.where(np.isinf(factor) & (g == 0), 1.0, out)


@dataclass
class NeuronNode:
    """A neuron node as per-neuron float arrays: ``I' = a_i I + u`` (``u`` the summed
    input times ``gain``), ``v' = a_v v + I' + leak``, spike on ``v' > theta`` (or ``>=``),
    then the reset. ``I`` is in the units of ``v`` (``g_m r`` folded in)."""
    name: str
    kind: str
    a_i: np.ndarray
    a_v: np.ndarray
    gain: np.ndarray
    leak: np.ndarray
    theta: np.ndarray
    v_reset: np.ndarray
    reset: np.ndarray            # True: subtract
    refractory: np.ndarray
    tau: dict                    # the given time constants, for the report

    @classmethod
    def of(cls, name, node, size, dt, disc, reset):
        p = {k: np.broadcast_to(float_array(name, k, v).reshape(-1) if np.ndim(v) else
                                float_array(name, k, v), (size,)).astype(np.float64)
             for k, v in node_params(node).items()}
        for k in ("tau_syn", "tau_mem", "tau"):
            if k in p and (p[k] <= 0).any():
                raise ValueError(f"node {name!r}: {k} = {p[k][p[k] <= 0][0]:g} must be "
                                 f"positive")
        one = np.ones(size)
        if isinstance(node, nir.CubaLIF):
            a_i, g_i = _decay(p["tau_syn"], dt, disc)
            a_v, g_v = _decay(p["tau_mem"], dt, disc)
            gain = _gain(g_v, p["r"]) * _gain(g_i, p["w_in"])
            leak, kind, tau = g_v * p["v_leak"], "CubaLIF", {"tau_syn": p["tau_syn"],
                                                             "tau_mem": p["tau_mem"]}
        elif isinstance(node, nir.LIF):
            a_i = np.zeros(size)
            a_v, g_v = _decay(p["tau"], dt, disc)
            gain, leak, kind, tau = _gain(g_v, p["r"]), g_v * p["v_leak"], "LIF", {
                "tau_mem": p["tau"]}
        else:
            a_i, a_v, gain = np.zeros(size), one, dt * p["r"]
            leak, kind, tau = np.zeros(size), "IF", {}
        for what, a in (("tau_syn", a_i), ("tau_mem", a_v)):
            if (a < 0).any():
                raise ValueError(f"node {name!r}: {what} is shorter than dt = {dt:g} s, so "
                                 f"the Euler factor 1 - dt/tau is negative: use "
                                 f"discretisation='exact' or a smaller dt")
        v_reset = p.get("v_reset", np.zeros(size))
        meta = getattr(node, "metadata", None) or {}
        subtract = np.full(size, reset == "subtract")
        if reset is None:
            modes = [as_text(m) for m in np.atleast_1d(meta.get("reset", "to_v_reset"))]
            bad = [m for m in modes if m not in RESETS]
            if bad:
                raise ValueError(f"node {name!r}: metadata reset {bad[0]!r} is not one of "
                                 f"{', '.join(RESETS)}")
            subtract = np.broadcast_to(np.array([m == "subtract" for m in modes]), (size,))
        refr = np.broadcast_to(np.asarray(meta.get("refractory", 0), dtype=np.int64), (size,))
        leak = leak + np.broadcast_to(np.asarray(meta.get("v_bias", 0.0), np.float64), (size,))
        return cls(name, kind, a_i, a_v, gain, leak, p["v_threshold"], v_reset,
                   subtract.copy(), refr.copy(), tau)


def as_text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


# --- float simulation ------------------------------------------------------------------
@dataclass
class Options:
    dt: float
    discretisation: str
    reset: object
    compare: str


def sim_options(graph, dt, discretisation, reset, compare):
    meta = dict(graph.metadata or {})
    given = meta.get("dt")
    if dt is None:
        if given is None:
            raise ValueError("dt is missing: a NIR graph stores no time step, so from_nir "
                             "needs dt (in seconds; snnTorch exports assume dt = 1e-4)")
        dt = float(given)
    dt = check_float("dt", dt, 0.0, lo_open=True)
    if given is not None and not math.isclose(float(given), dt, rel_tol=1e-9):
        raise ValueError(f"dt = {dt:g} s differs from the graph's metadata dt = "
                         f"{float(given):g} s")
    discretisation = discretisation or as_text(meta.get("discretisation", "euler"))
    if discretisation not in DISCRETISATIONS:
        raise ValueError(f"discretisation = {discretisation!r} is not one of "
                         f"{', '.join(DISCRETISATIONS)}")
    if reset is None and "reset" in meta:
        reset = as_text(meta["reset"])
    if reset is not None and reset not in RESETS:
        raise ValueError(f"reset = {reset!r} is not one of {', '.join(RESETS)}")
    compare = compare or as_text(meta.get("threshold_compare", ">"))
    if compare not in COMPARES:
        raise ValueError(f"compare = {compare!r} is not one of {', '.join(COMPARES)}")
    return Options(dt, discretisation, reset, compare)


def input_batch(g, inputs, what):
    """``{Input name: bool array (B, T, n)}`` from an array (one Input node) or a dict;
    shapes and values checked."""
    if not isinstance(inputs, dict):
        if len(g.inputs) != 1:
            raise ValueError(f"{what}: the graph has {len(g.inputs)} Input nodes "
                             f"({', '.join(g.inputs)}): give a dict by name")
        inputs = {g.inputs[0]: inputs}
    unknown = sorted(set(inputs) - set(g.inputs))
    if unknown:
        raise ValueError(f"{what}: {unknown[0]!r} is not an Input node (inputs: "
                         f"{', '.join(g.inputs)})")
    out, shape = {}, None
    for name in g.inputs:
        if name not in inputs:
            raise ValueError(f"{what}: Input {name!r} has no data")
        x = np.asarray(inputs[name])
        if x.dtype.kind not in "biu":
            raise TypeError(f"{what}[{name!r}] must hold 0/1 spikes (bool or integer), not "
                            f"{x.dtype} values")
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[2] != g.size[name]:
            raise ValueError(f"{what}[{name!r}] has shape {np.shape(inputs[name])}, "
                             f"expected (steps, {g.size[name]}) or (batch, steps, "
                             f"{g.size[name]})")
        if x.size and (x.min() < 0 or x.max() > 1):
            raise ValueError(f"{what}[{name!r}] holds {int(x.max() if x.max() > 1 else x.min())}"
                             f": spikes are 0 or 1")
        if shape is not None and x.shape[:2] != shape:
            raise ValueError(f"{what}[{name!r}] has {x.shape[:2]} (batch, steps), the other "
                             f"inputs {shape}")
        shape = x.shape[:2]
        out[name] = x.astype(bool)
    return out, shape


def simulate(graph, inputs, *, dt=None, discretisation=None, reset=None, compare=None,
             record=False):
    """Float64 simulation of a NIR graph, node by node, with ``from_nir``'s conventions.

    Parameters
    ----------
    graph : nir.NIRGraph or path
    inputs : array (steps, n) or (batch, steps, n), or dict of them by Input node name
        0/1 spikes per step.
    dt, discretisation, reset, compare
        As for ``from_nir`` (``reset`` default ``to_v_reset``, NIR's).
    record : bool
        Also return the peak ``|v|`` and ``|I|`` of every neuron node (``(spikes,
        peaks)``, ``peaks[name] = (max |v|, max |I|)`` per neuron).

    Returns
    -------
    dict
        Every neuron node and Output node name to a bool array (batch, steps, size) of
        its spikes (a 2-D input gives 2-D rasters). Feed-forward edges carry a value in
        the same step, back edges (cycles) the previous step's.
    """
    graph = read_graph(graph)
    opt = sim_options(graph, dt, discretisation, reset, compare)
    g = Graph(graph, opt.dt)
    data, (batch, steps) = input_batch(g, inputs, "inputs")
    squeeze = all(np.ndim(v) == 2 for v in (inputs.values() if isinstance(inputs, dict)
                                              else [inputs]))
    neurons = {n: NeuronNode.of(n, g.nodes[n], g.size[n], opt.dt, opt.discretisation,
                             opt.reset) for n in g.neurons}
    out = {n: np.zeros((batch, g.size[n])) for n in g.nodes}
    state = {n: [np.zeros((batch, g.size[n])), np.zeros((batch, g.size[n])),
                 np.zeros((batch, g.size[n]), dtype=np.int64)] for n in g.neurons}
    peak = {n: [np.zeros(g.size[n]), np.zeros(g.size[n])] for n in g.neurons}
    history = {n: [] for n in g.nodes if g.kind[n] == "delay"}
    spikes = {n: np.zeros((batch, steps, g.size[n]), dtype=bool) for n in g.neurons}
    for t in range(steps):
        prev = {n: v.copy() for n, v in out.items()}
        for n in g.order:
            kind = g.kind[n]
            if kind == "input":
                out[n] = data[n][:, t].astype(np.float64)
                continue
            x = sum((prev if (p, n) in g.back else out)[p] for p in g.preds[n])
            if kind == "neuron":
                out[n] = _float_step(neurons[n], state[n], x, peak[n], opt.compare)
                spikes[n][:, t] = out[n] > 0
            elif kind in ("affine", "linear"):
                w = float_array(n, "weight", g.nodes[n].weight)
                out[n] = x @ w.T + (float_array(n, "bias", g.nodes[n].bias).reshape(-1)
                                    if kind == "affine" else 0.0)
            elif kind == "scale":
                out[n] = x * float_array(n, "scale", g.nodes[n].scale).reshape(-1)
            elif kind == "delay":
                steps_n = np.broadcast_to(g._delay_steps(n, g.nodes[n]), (g.size[n],))
                history[n].append(x)
                hist = history[n]
                out[n] = np.stack([hist[-1 - d][:, k] if d < len(hist) else
                                   np.zeros(batch) for k, d in enumerate(steps_n)], axis=1)
            else:
                out[n] = x
    result = dict(spikes)
    for o, src in g.output_of.items():
        result[o] = spikes[src]
    if squeeze:
        result = {k: v[0] for k, v in result.items()}
    if record:
        return result, {n: tuple(p) for n, p in peak.items()}
    return result


def _float_step(nrn, st, x, peak, compare):
    """One step of a neuron node (``st``: ``I``, ``v``, refractory count); the
    refractory period (neurofab metadata only) freezes ``v`` like the core's."""
    i, v, ref = st
    i = nrn.a_i * i + nrn.gain * x
    v_new = nrn.a_v * v + i + nrn.leak
    np.maximum(peak[0], np.abs(v_new).max(axis=0), out=peak[0])
    np.maximum(peak[1], np.abs(i).max(axis=0), out=peak[1])
    active = ref == 0
    spike = active & (v_new > nrn.theta if compare == ">" else v_new >= nrn.theta)
    v_new = np.where(spike, np.where(nrn.reset, v_new - nrn.theta, nrn.v_reset), v_new)
    st[0], st[1] = i, np.where(active, v_new, v)
    st[2] = np.where(active, np.where(spike, nrn.refractory, 0), ref - 1)
    return spike.astype(np.float64)


def raster_agreement(a, b):
    """Share of raster entries (neuron x step) on which two spike rasters agree."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"rasters of shape {a.shape} and {b.shape} cannot be compared")
    return float((a == b).mean()) if a.size else 1.0
