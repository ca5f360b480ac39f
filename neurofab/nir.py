"""NIR in and out: graphs of the Neuromorphic Intermediate Representation on the core.

``from_nir(graph, dt=...)`` turns a NIR graph (snnTorch, Norse, Rockpool, Sinabs,
Lava-dl, or ``nir`` by hand) into a ``Network`` of CUBA-LIF neurons and a
``QuantReport`` saying what quantising did; ``to_nir(network_or_config, dt=...)`` writes
a network (e.g. with weights learned on the board) back as a graph; ``simulate`` is a
float64 simulation of a graph with the same conventions, the reference the imported
network is measured against. ``docs/nir.md`` is the text these functions follow: the
discretisations, the reset and threshold conventions, the per-layer scale and the one
step per neuron hop the core adds (``GraphMap`` hides it).
"""

import math
import os
from dataclasses import dataclass, field

import nir
import numpy as np

from neurofab import spec
from neurofab.checks import check_int
from neurofab.models import check_float

__all__ = ["from_nir", "to_nir", "simulate", "QuantReport", "LayerReport", "GraphMap",
           "raster_agreement", "DISCRETISATIONS", "RESETS", "COMPARES"]

#: ``euler``: ``x' = (1 - dt/tau) x + (dt/tau) u`` (snnTorch, Norse: the exporter writes
#: ``r = tau/dt`` so that this gives back its decay); ``exact``: ``x' = e^(-dt/tau) x +
#: (1 - e^(-dt/tau)) u`` (the input held over the step).
DISCRETISATIONS = ("euler", "exact")
#: ``to_v_reset`` (NIR's text: ``v`` becomes ``v_reset`` after a spike) or ``subtract``
#: (``v`` loses the threshold: snnTorch's default, exported with ``v_reset = 0``).
RESETS = ("to_v_reset", "subtract")
#: The spike condition of the graph: ``>`` (NIR, snnTorch) or ``>=``.
COMPARES = (">", ">=")

_NEURONS = (nir.CubaLIF, nir.LIF, nir.IF)
_SUPPORTED = ("Input, Output, Affine, Linear, Scale, Delay, Flatten, CubaLIF, LIF, IF "
              "and nested graphs")
#: Calibration input when none is given: Bernoulli spikes on every input channel.
DEFAULT_CALIBRATION = {"samples": 8, "steps": 200, "rate": 0.2, "seed": 0}
#: Headroom factors ``scale="auto"`` tries (state scale = headroom x 32767 / peak).
AUTO_HEADROOM = (1.0, 0.7, 0.5, 0.35, 0.25, 0.125)
_MAX_PROFILES = spec.PROFILE_COUNT


# --- the graph ---------------------------------------------------------------------------
def _read(graph):
    if isinstance(graph, (str, os.PathLike)):
        path = os.fspath(graph)
        if not os.path.exists(path):
            raise FileNotFoundError(f"NIR file {path!r} does not exist")
        try:
            graph = nir.read(path)
        except Exception as exc:                       # h5py and nir raise many types
            raise ValueError(f"{path!r} is not a readable NIR file: {exc}") from None
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph must be a nir.NIRGraph or the path of a NIR file, not "
                        f"{type(graph).__name__}")
    return graph


def _flatten(graph, prefix=""):
    """Nodes and edges of ``graph`` with nested graphs inlined (``outer.inner`` names):
    an edge into a nested graph enters at its Input nodes, one out of it leaves from its
    Output nodes."""
    nodes, edges, ports = {}, [], {}
    for name, node in graph.nodes.items():
        full = prefix + str(name)
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(node, full + ".")
            nodes.update(sub_nodes)
            edges.extend(sub_edges)
            ins = [full + "." + n for n, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs = [full + "." + n for n, v in node.nodes.items() if isinstance(v, nir.Output)]
            ports[full] = (ins, outs)
        else:
            nodes[full] = node
    for a, b in graph.edges:
        a, b = prefix + str(a), prefix + str(b)
        for src in (ports[a][1] if a in ports else [a]):
            for dst in (ports[b][0] if b in ports else [b]):
                edges.append((src, dst))
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise ValueError(f"edge {a} -> {b}: no node is named {end!r}")
    return nodes, edges


def _array(node_name, fname, value):
    arr = np.asarray(value, dtype=np.float64)
    if np.isnan(arr).any():
        raise ValueError(f"node {node_name!r}: {fname} holds NaN")
    return arr


@dataclass
class _Term:
    """One path of linear nodes from a spiking source (Input or neuron node) into a node:
    the current it adds is ``M @ s(t - d) + b`` with ``d[j, k] = dpost[j] + dpre[k]``."""
    src: str
    M: np.ndarray
    b: np.ndarray
    dpre: np.ndarray
    dpost: np.ndarray
    back: bool
    fresh: bool = True          # no linear node applied yet (per-source delays allowed)

    @property
    def delay(self):
        return self.dpost[:, None] + self.dpre[None, :]


def _walk(inputs, nodes, succs):
    """Evaluation order of a graph (reverse post-order of a depth-first walk from the
    Input nodes sorted by name, then any node not reached, successors in edge order) and
    its back edges, which carry the previous step's value."""
    state, post, back = {}, [], set()
    for root in sorted(inputs) + sorted(n for n in nodes if n not in inputs):
        if root in state:
            continue
        stack = [(root, iter(succs[root]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[node] = 2
                post.append(node)
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succs[nxt])))
    return post[::-1], back


class _Graph:
    """A flattened NIR graph: node kinds, sizes, evaluation order, back edges, and the
    currents into every neuron node as sums of ``_Term``."""

    def __init__(self, graph, dt):
        self.dt = dt
        self.nodes, self.edges = _flatten(graph)
        self.preds = {n: [] for n in self.nodes}
        self.succs = {n: [] for n in self.nodes}
        for a, b in self.edges:
            self.preds[b].append(a)
            self.succs[a].append(b)
        self.kind = {n: self._kind(n, node) for n, node in self.nodes.items()}
        self.inputs = [n for n in self.nodes if self.kind[n] == "input"]
        self.neurons = [n for n in self.nodes if self.kind[n] == "neuron"]
        self.outputs = [n for n in self.nodes if self.kind[n] == "output"]
        if not self.inputs:
            raise ValueError("graph has no Input node")
        if not self.neurons:
            raise ValueError("graph has no spiking node (CubaLIF, LIF, IF)")
        self.size = self._sizes()
        self.order, self.back = self._order()
        self.terms = {n: self._terms_into(n) for n in self.neurons}
        self.bias = {n: sum((t.b for t in self.terms[n]), np.zeros(self.size[n]))
                     for n in self.neurons}
        self.output_of = {o: self._output_source(o) for o in self.outputs}
        self.latency = self._latencies()

    def _kind(self, name, node):
        if isinstance(node, nir.Input):
            return "pass" if self.preds[name] else "input"
        if isinstance(node, nir.Output):
            return "pass" if self.succs[name] else "output"
        if isinstance(node, _NEURONS):
            return "neuron"
        if isinstance(node, nir.Flatten):
            return "pass"
        for cls, kind in ((nir.Affine, "affine"), (nir.Linear, "linear"),
                          (nir.Scale, "scale"), (nir.Delay, "delay")):
            if isinstance(node, cls):
                return kind
        raise ValueError(f"node {name!r} is a {type(node).__name__}, which the core cannot "
                         f"run (neurofab.nir imports {_SUPPORTED})")

    def _own_size(self, name):
        """(in, out) size a node fixes by itself, ``None`` where its neighbours decide."""
        node, kind = self.nodes[name], self.kind[name]
        if kind == "input":
            n = int(np.prod(node.input_type["input"]))
            return n, n
        if kind in ("affine", "linear"):
            w = _array(name, "weight", node.weight)
            if w.ndim != 2:
                raise ValueError(f"node {name!r}: weight has shape {w.shape}, expected "
                                 f"(out, in)")
            return w.shape[1], w.shape[0]
        if kind in ("scale", "delay", "neuron"):
            n = max((np.size(v) for v in _params(node).values()), default=1)
            return (n, n) if n > 1 else (None, None)
        return None, None

    def _sizes(self):
        own = {n: self._own_size(n) for n in self.nodes}
        size = {n: o[1] for n, o in own.items()}
        for _ in range(len(self.nodes)):
            for n in self.nodes:
                if size[n] is None:
                    known = [size[p] for p in self.preds[n] if size[p] is not None]
                    if known:
                        size[n] = known[0]
        for a, b in self.edges:
            want = own[b][0] if own[b][0] is not None else size[b]
            if size[a] is None or want is None:
                raise ValueError(f"edge {a} -> {b}: the size of {a!r} cannot be inferred")
            if size[a] != want:
                raise ValueError(f"edge {a} -> {b}: {a!r} gives {size[a]} values, {b!r} "
                                 f"takes {want}")
        return size

    def _order(self):
        return _walk(self.inputs, self.nodes, self.succs)

    def _terms_into(self, node, seen=()):
        """The ``_Term`` of every path into ``node``."""
        terms = []
        for p in self.preds[node]:
            back = (p, node) in self.back
            if self.kind[p] in ("input", "neuron"):
                n = self.size[p]
                terms.append(_Term(p, np.eye(n), np.zeros(n), np.zeros(n, np.int64),
                                   np.zeros(n, np.int64), back))
                continue
            if p in seen:
                raise ValueError(f"node {p!r} is on a loop of linear nodes with no spiking "
                                 f"node: the core cannot run it")
            for t in self._terms_into(p, seen + (p,)):
                t.back |= back
                terms.append(self._through(p, t))
        return terms

    def _through(self, name, t):
        """``t`` carried through the linear node ``name``."""
        node, kind = self.nodes[name], self.kind[name]
        if kind in ("affine", "linear"):
            w = _array(name, "weight", node.weight)
            if np.unique(t.dpost).size > 1:
                raise ValueError(f"node {name!r} mixes signals that a Delay before it "
                                 f"delayed by different amounts: per-element delays are "
                                 f"representable only right after a spiking node or an "
                                 f"Input, or right before a neuron node")
            b = w @ t.b
            if kind == "affine":
                b = b + _array(name, "bias", node.bias).reshape(-1)
            d = t.dpost[0] if t.dpost.size else 0
            return _Term(t.src, w @ t.M, b, t.dpre, np.full(w.shape[0], d, np.int64),
                         t.back, False)
        if kind == "scale":
            s = np.broadcast_to(_array(name, "scale", node.scale).reshape(-1),
                                (self.size[name],))
            return _Term(t.src, s[:, None] * t.M, s * t.b, t.dpre, t.dpost, t.back, False)
        if kind == "delay":
            steps = self._delay_steps(name, node)
            steps = np.broadcast_to(steps, (self.size[name],))
            if t.fresh:
                return _Term(t.src, t.M, t.b, t.dpre + steps, t.dpost, t.back, True)
            return _Term(t.src, t.M, t.b, t.dpre, t.dpost + steps, t.back, False)
        return t                                              # pass-through

    def _delay_steps(self, name, node):
        d = _array(name, "delay", node.delay).reshape(-1) / self.dt
        steps = np.rint(d)
        if (np.abs(d - steps) > 1e-6 * np.maximum(1.0, np.abs(steps))).any() or (d < 0).any():
            k = int(np.flatnonzero((np.abs(d - steps) > 1e-6 * np.maximum(1.0, np.abs(steps)))
                                   | (d < 0))[0])
            raise ValueError(f"Delay {name!r}: delay[{k}] = {d[k] * self.dt:g} s is not a "
                             f"whole, non-negative number of steps of dt = {self.dt:g} s")
        return steps.astype(np.int64)

    def _output_source(self, name):
        preds = self.preds[name]
        node = preds[0] if len(preds) == 1 else None
        while node is not None and self.kind[node] == "pass":
            node = self.preds[node][0] if len(self.preds[node]) == 1 else None
        if node is None or self.kind[node] != "neuron":
            what = (f"a {type(self.nodes[node]).__name__} ({node!r})" if node is not None
                    else f"{len(preds)} nodes")
            raise ValueError(f"Output {name!r} is fed by {what}: the core emits spikes only, "
                             f"so an Output must follow exactly one spiking node "
                             f"(CubaLIF, LIF, IF)")
        return node

    def _latencies(self):
        """Steps the core runs behind the graph at each neuron node: every neuron hop
        costs the core one step, so ``L(n) = max(0, L(p) + 1 - d)`` over the
        feed-forward sources ``p`` (Input: ``L = -1``) and their least delay ``d``."""
        lat = {}
        for n in self.order:
            if self.kind[n] != "neuron":
                continue
            best = 0
            for t in self.terms[n]:
                if t.back:
                    continue
                lp = -1 if self.kind[t.src] == "input" else lat[t.src]
                best = max(best, lp + 1 - (int(t.delay.min()) if t.delay.size else 0))
            lat[n] = best
        return lat

    def core_delay(self, dst, term):
        """Synaptic delays (steps) of ``term`` into ``dst`` on the core."""
        lp = -1 if self.kind[term.src] == "input" else self.latency[term.src]
        delay = term.delay + self.latency[dst] - lp + (1 if term.back else 0)
        bad = (delay < spec.DELAY_MIN) | (delay > spec.DELAY_MAX)
        if bad.any():
            j, k = np.argwhere(bad)[0]
            raise ValueError(f"edge {term.src} -> {dst}: element {k} -> {j} needs a core "
                             f"delay of {int(delay[j, k])} steps, outside the limit "
                             f"[{spec.DELAY_MIN}, {spec.DELAY_MAX}] (graph delays plus the "
                             f"one step per neuron hop the core adds)")
        return delay


def _params(node):
    """The float parameter arrays of a neuron, Scale or Delay node."""
    if isinstance(node, nir.CubaLIF):
        names = ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")
    elif isinstance(node, nir.LIF):
        names = ("tau", "r", "v_leak", "v_threshold", "v_reset")
    elif isinstance(node, nir.IF):
        names = ("r", "v_threshold", "v_reset")
    elif isinstance(node, nir.Scale):
        names = ("scale",)
    elif isinstance(node, nir.Delay):
        names = ("delay",)
    else:
        return {}
    return {n: getattr(node, n) for n in names if getattr(node, n, None) is not None}


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
class _Neuron:
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
        p = {k: np.broadcast_to(_array(name, k, v).reshape(-1) if np.ndim(v) else
                                _array(name, k, v), (size,)).astype(np.float64)
             for k, v in _params(node).items()}
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
            modes = [_text(m) for m in np.atleast_1d(meta.get("reset", "to_v_reset"))]
            bad = [m for m in modes if m not in RESETS]
            if bad:
                raise ValueError(f"node {name!r}: metadata reset {bad[0]!r} is not one of "
                                 f"{', '.join(RESETS)}")
            subtract = np.broadcast_to(np.array([m == "subtract" for m in modes]), (size,))
        refr = np.broadcast_to(np.asarray(meta.get("refractory", 0), dtype=np.int64), (size,))
        leak = leak + np.broadcast_to(np.asarray(meta.get("v_bias", 0.0), np.float64), (size,))
        return cls(name, kind, a_i, a_v, gain, leak, p["v_threshold"], v_reset,
                   subtract.copy(), refr.copy(), tau)


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


# --- float simulation ------------------------------------------------------------------
@dataclass
class _Options:
    dt: float
    discretisation: str
    reset: object
    compare: str


def _options(graph, dt, discretisation, reset, compare):
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
    discretisation = discretisation or _text(meta.get("discretisation", "euler"))
    if discretisation not in DISCRETISATIONS:
        raise ValueError(f"discretisation = {discretisation!r} is not one of "
                         f"{', '.join(DISCRETISATIONS)}")
    if reset is None and "reset" in meta:
        reset = _text(meta["reset"])
    if reset is not None and reset not in RESETS:
        raise ValueError(f"reset = {reset!r} is not one of {', '.join(RESETS)}")
    compare = compare or _text(meta.get("threshold_compare", ">"))
    if compare not in COMPARES:
        raise ValueError(f"compare = {compare!r} is not one of {', '.join(COMPARES)}")
    return _Options(dt, discretisation, reset, compare)


def _input_batch(g, inputs, what):
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
    graph = _read(graph)
    opt = _options(graph, dt, discretisation, reset, compare)
    g = _Graph(graph, opt.dt)
    data, (batch, steps) = _input_batch(g, inputs, "inputs")
    squeeze = all(np.ndim(v) == 2 for v in (inputs.values() if isinstance(inputs, dict)
                                              else [inputs]))
    neurons = {n: _Neuron.of(n, g.nodes[n], g.size[n], opt.dt, opt.discretisation,
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
                w = _array(n, "weight", g.nodes[n].weight)
                out[n] = x @ w.T + (_array(n, "bias", g.nodes[n].bias).reshape(-1)
                                    if kind == "affine" else 0.0)
            elif kind == "scale":
                out[n] = x * _array(n, "scale", g.nodes[n].scale).reshape(-1)
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


# --- the imported network's map -----------------------------------------------------------
@dataclass
class GraphMap:
    """How an imported graph sits on the core (``net.graph``).

    Every neuron hop costs the core one step where the graph passes a spike on in the
    same step, so node ``n`` runs ``latency[n]`` steps behind the graph; input and bias
    channels are delayed on the synapses to match. ``core_inputs`` and ``spikes`` convert
    between graph time and core time.

    Attributes
    ----------
    inputs : dict
        Input node name to its channel indices.
    bias_channels : dict
        Neuron node name to the channel that carries its ``Affine`` bias (on every step
        the input lasts).
    nodes : dict
        Neuron node name to its neuron indices.
    outputs : dict
        Output node name to the neuron node it reads.
    latency : dict
        Neuron node name to the steps the core runs behind the graph there.
    n_inputs : int
        Input channels of the network (graph inputs, then bias channels).
    """
    inputs: dict
    bias_channels: dict
    nodes: dict
    outputs: dict
    latency: dict
    n_inputs: int

    @property
    def lag(self):
        """Extra steps a run needs so that every node's last graph step is computed."""
        return max(self.latency.values(), default=0)

    def core_inputs(self, inputs):
        """The core's input raster for graph inputs.

        ``inputs``: a 0/1 array (steps, n) or (batch, steps, n) for a graph with one
        Input node, else a dict of them by Input name. Returns a bool array
        (steps + lag, n_inputs), or (batch, steps + lag, n_inputs): the inputs, the bias
        channels on for the input's steps, then ``lag`` silent steps.
        """
        if not isinstance(inputs, dict):
            if len(self.inputs) != 1:
                raise ValueError(f"inputs: the graph has {len(self.inputs)} Input nodes "
                                 f"({', '.join(self.inputs)}): give a dict by name")
            inputs = {next(iter(self.inputs)): inputs}
        checked, (batch, steps) = _input_batch(_Inputs(self), inputs, "inputs")
        out = np.zeros((batch, steps + self.lag, self.n_inputs), dtype=bool)
        for name, chans in self.inputs.items():
            out[:, :steps, chans] = checked[name]
        for chan in self.bias_channels.values():
            out[:, :steps, chan] = True
        squeeze = all(np.ndim(v) == 2 for v in inputs.values())
        return out[0] if squeeze else out

    def spikes(self, core_spikes, name):
        """The spikes of neuron or Output node ``name`` in graph time.

        ``core_spikes``: ``golden.run``'s list of per-step fired-neuron arrays (or
        ``Board.run``'s), or a bool raster (steps, n_neurons) / (batch, steps,
        n_neurons). Returns bool (steps - lag, size) or (batch, steps - lag, size).
        """
        node = self.outputs.get(name, name)
        if node not in self.nodes:
            raise KeyError(f"{name!r} is not a neuron or Output node of the graph (nodes: "
                           f"{', '.join(list(self.nodes) + list(self.outputs))})")
        if isinstance(core_spikes, (list, tuple)):
            n = 1 + max((int(np.max(s)) for s in core_spikes if len(s)), default=0)
            n = max(n, 1 + max(int(ix.max()) for ix in self.nodes.values()))
            raster = np.zeros((len(core_spikes), n), dtype=bool)
            for t, fired in enumerate(core_spikes):
                raster[t, np.asarray(fired, dtype=np.int64)] = True
        else:
            raster = np.asarray(core_spikes, dtype=bool)
        steps = raster.shape[-2] - self.lag
        if steps < 0:
            raise ValueError(f"core_spikes has {raster.shape[-2]} steps, fewer than the "
                             f"graph's lag of {self.lag}")
        lat = self.latency[node]
        return raster[..., lat:lat + steps, :][..., self.nodes[node]]

    @staticmethod
    def channels(raster):
        """Per-step channel arrays (``golden.run``, ``Board.run``) of a (steps, n) raster."""
        return [np.flatnonzero(row) for row in np.asarray(raster, dtype=bool)]


class _Inputs:
    """The part of ``_Graph`` that ``_input_batch`` reads, from a ``GraphMap``."""

    def __init__(self, gmap):
        self.inputs = list(gmap.inputs)
        self.size = {n: len(c) for n, c in gmap.inputs.items()}


# --- the report -------------------------------------------------------------------------
@dataclass
class LayerReport:
    """What quantising one neuron node did (state scale: integer units per unit of the
    graph's ``v``)."""
    name: str
    kind: str
    size: int
    latency: int
    scale: float
    weights: int                 # synapses made (non-zero after rounding)
    weight_levels: int           # largest |integer weight|
    weight_step: float           # one integer weight step in the graph's weight units
    clipped: int
    clipped_share: float
    zeroed: int                  # non-zero graph weights that rounded to 0
    weight_error: float          # RMS rounding error / RMS weight
    threshold: float
    threshold_int: int
    threshold_error: float       # worst relative error of threshold_int / scale
    taus: dict                   # name -> (given, effective, relative error), worst neuron
    bias_channel: object
    bias_error: float            # RMS rounding error / RMS of the bias weights
    peak: float                  # calibration peak of |v|, |I|, threshold, reset (graph units)
    headroom: float              # 32767 / (scale x peak): > 1 means no saturation predicted
    profiles: list

    def as_dict(self):
        out = dict(self.__dict__)
        out["taus"] = {k: list(v) for k, v in self.taus.items()}
        return out


@dataclass
class QuantReport:
    """What ``from_nir`` did to a graph: conventions applied, the shared weight shift, one
    ``LayerReport`` per neuron node, profiles, and the calibration's raster error.

    ``print(report)`` is a table; ``report.as_dict()`` is JSON-ready.
    """
    dt: float
    discretisation: str
    reset: str
    compare: str
    w_shift: int
    scale_mode: str
    headroom: float
    calibration: str
    predicted_raster_error: float
    lag: int
    profiles: int
    profile_error: float
    layers: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def layer(self, name):
        for rep in self.layers:
            if rep.name == name:
                return rep
        raise KeyError(f"no layer named {name!r} (layers: "
                       f"{', '.join(r.name for r in self.layers)})")

    def as_dict(self):
        out = {k: v for k, v in self.__dict__.items() if k != "layers"}
        out["layers"] = [r.as_dict() for r in self.layers]
        out["notes"] = list(self.notes)
        return out

    def __str__(self):
        lines = [f"NIR import at dt = {self.dt:g} s ({self.discretisation}), reset "
                 f"{self.reset}, spike on v {self.compare} threshold, w_shift = "
                 f"{self.w_shift}, scale {self.scale_mode}",
                 f"  calibration: {self.calibration}; predicted raster error "
                 f"{self.predicted_raster_error:.2%}; lag {self.lag} step(s); "
                 f"{self.profiles} profile(s)"
                 + (f" (clustered, worst parameter error {self.profile_error:.2%})"
                    if self.profile_error else ""),
                 f"  {'layer':<14} {'kind':<8} {'size':>5} {'scale':>9} {'w step':>9} "
                 f"{'|w|max':>6} {'clip':>6} {'zeroed':>6} {'w err':>7} {'thr':>6} "
                 f"{'thr err':>8} {'tau err':>8} {'headroom':>8}"]
        for r in self.layers:
            tau_err = max((v[2] for v in r.taus.values()), default=0.0)
            lines.append(
                f"  {r.name:<14.14} {r.kind:<8} {r.size:>5} {r.scale:>9.4g} "
                f"{r.weight_step:>9.3g} {r.weight_levels:>6} {r.clipped_share:>6.1%} "
                f"{r.zeroed:>6} {r.weight_error:>7.2%} {r.threshold_int:>6} "
                f"{r.threshold_error:>8.2%} {tau_err:>8.2%} {r.headroom:>8.2f}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


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
    rows, prof_err = _cluster(rows, _MAX_PROFILES - (1 if padded else 0))
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
        if _text(meta.get("producer", "")) != "neurofab":
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
    graph = _read(graph)
    opt = _options(graph, dt, discretisation, reset, compare)
    g = _Graph(graph, opt.dt)
    nrns = {n: _Neuron.of(n, g.nodes[n], g.size[n], opt.dt, opt.discretisation, opt.reset)
            for n in g.neurons}
    if calibration is None:
        calib, what = _default_calibration(g)
    else:
        calib, _ = _input_batch(g, calibration, "calibration")
        shape = next(iter(calib.values())).shape
        what = f"{shape[0]} x {shape[1]} steps given"
    ref, peaks = simulate(graph, calib, dt=opt.dt, discretisation=opt.discretisation,
                          reset=opt.reset, compare=opt.compare, record=True)
    peak = {n: _node_peak(nrns[n], peaks[n]) for n in g.neurons}
    mode = "auto" if scale is None and _text((graph.metadata or {}).get(
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


# --- export ------------------------------------------------------------------------------
def to_nir(source, *, dt):
    """A NIR graph of a ``Network`` or ``CoreConfig`` (CUBA-LIF only), e.g. with weights
    learned on the board, for other tools.

    Neurons become CubaLIF (``LIF`` where ``decay_i = 4096``, ``IF`` where the neuron also
    has no leak and no bias), weights ``Linear`` nodes in the core's units (state scale 1,
    weight ``w << w_shift``), synaptic delays ``Delay`` nodes, such that ``simulate`` of
    the graph at ``dt`` runs like the core up to the core's rounding toward zero and
    saturation (Euler; a threshold ``θ`` is written ``θ - 0.5``, exact for both ``>`` and
    ``>=`` on integer states). Reset modes
    and refractory periods, which NIR lacks, go to each node's metadata; the graph's
    metadata says ``dt``, the conventions and ``w_shift``, so ``from_nir`` gives back the
    same config (up to the order of synapses inside a source's row, which no sum sees).

    Parameters
    ----------
    source : Network or CoreConfig
    dt : float
        Time step in seconds written into the graph.

    Returns
    -------
    nir.NIRGraph
        (``nir.write(path, graph)`` saves it.)
    """
    from neurofab.config import CoreConfig, Network, compile as compile_network
    dt = check_float("dt", dt, 0.0, lo_open=True)
    if isinstance(source, Network):
        cfg = compile_network(source)
        groups = _network_groups(source, cfg)
        in_groups = [(g.name or f"input{k}", g.indices) for k, g in
                     enumerate(source.input_groups)]
    elif isinstance(source, CoreConfig):
        cfg = source.validate()
        groups = [("neurons", np.arange(cfg.n_neurons))]
        in_groups = [("input", np.arange(cfg.n_inputs))] if cfg.n_inputs else []
    else:
        raise TypeError(f"source must be a neurofab Network or CoreConfig, not "
                        f"{type(source).__name__}")
    if cfg.kernel.name != "cuba-lif":
        raise ValueError(f"to_nir exports CUBA-LIF neurons; kernel {cfg.kernel.name} has no "
                         f"NIR node")
    params = cfg.neuron_params()
    nodes, node_of = {}, np.zeros(cfg.n_neurons + cfg.n_inputs, dtype=object)
    local = np.zeros(cfg.n_neurons + cfg.n_inputs, dtype=np.int64)
    for name, idx in in_groups:
        nodes[name] = nir.Input(input_type={"input": np.array([len(idx)])})
        node_of[cfg.n_neurons + idx], local[cfg.n_neurons + idx] = name, np.arange(len(idx))
    for name, idx in groups:
        for node_name, run in _runs(name, idx, params):
            nodes[node_name] = _neuron_node(params, run, dt)
            node_of[run], local[run] = node_name, np.arange(len(run))
    neuron_nodes = [n for n, v in nodes.items() if isinstance(v, _NEURONS)]
    edges = _export_edges(cfg, nodes, node_of, local, dt)
    for n in neuron_nodes:
        size = _node_size(nodes[n])
        if not any(b == n for _, b in edges):
            # nir.read adds an Input to a node without inputs: a zero self-loop prevents it
            nodes[f"z.{n}"] = nir.Linear(weight=np.zeros((size, size)))
            edges += [(n, f"z.{n}"), (f"z.{n}", n)]
        nodes[f"output.{n}"] = nir.Output(output_type={"output": np.array([size])})
        edges.append((n, f"output.{n}"))
    meta = {"dt": dt, "discretisation": "euler", "threshold_compare": ">",
            "producer": "neurofab", "neurofab_scale": 1.0, "neurofab_w_shift": cfg.w_shift}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)


def _network_groups(net, cfg):
    """(name, neuron indices) of a network's named populations, in order; unnamed ones
    ``population<k>``, the padding neurons ``padding``."""
    groups, seen = [], {}
    for k, pop in enumerate(net.populations):
        name = pop.name or f"population{k}"
        if name in seen:
            groups[seen[name]] = (name, np.concatenate([groups[seen[name]][1], pop.indices]))
        else:
            seen[name] = len(groups)
            groups.append((name, pop.indices))
    if cfg.n_neurons > net.n_neurons:
        groups.append(("padding", np.arange(net.n_neurons, cfg.n_neurons)))
    return groups


def _kind_of(params, k):
    if params["decay_i"][k] == spec.DECAY_ONE:
        if params["decay_v"][k] == 0 and params["bias"][k] == 0:
            return "IF"
        return "LIF"
    return "CubaLIF"


def _runs(name, idx, params):
    """Split a group into runs of one node kind (``name``, or ``name.000``, ...)."""
    kinds = [_kind_of(params, int(k)) for k in idx]
    cuts = [0] + [i for i in range(1, len(idx)) if kinds[i] != kinds[i - 1]] + [len(idx)]
    runs = [np.asarray(idx[a:b]) for a, b in zip(cuts, cuts[1:])]
    if len(runs) == 1:
        return [(name, runs[0])]
    return [(f"{name}.{k:03d}", r) for k, r in enumerate(runs)]


def _neuron_node(params, run, dt):
    p = {f: np.asarray(params[f], dtype=np.int64)[run] for f in spec.PROFILE_FIELDS}
    kind = _kind_of(params, int(run[0]))
    g_i = p["decay_i"] / spec.DECAY_ONE
    g_v = p["decay_v"] / spec.DECAY_ONE
    with np.errstate(divide="ignore", invalid="ignore"):
        tau_syn, tau_mem = dt / g_i, dt / g_v
        r = np.where(g_v == 0, np.inf, 1.0 / g_v)
        w_in = np.where(g_i == 0, np.inf, 1.0 / g_i)
        v_leak = np.where(g_v == 0, 0.0, p["bias"] / g_v)
    thr = p["threshold"] - 0.5
    v_reset = p["v_reset"].astype(np.float64)
    meta = {"reset": [RESETS[1] if m == spec.Reset.SUBTRACT.value else RESETS[0]
                      for m in p["reset"]],
            "refractory": p["refractory"]}
    if ((g_v == 0) & (p["bias"] != 0)).any():
        # NIR's leak (v_leak - v) dt/tau vanishes without leak: the bias goes to metadata
        meta["v_bias"] = np.where(g_v == 0, p["bias"], 0).astype(np.float64)
    if kind == "IF":
        return nir.IF(r=np.full(len(run), 1.0 / dt), v_threshold=thr, v_reset=v_reset,
                      metadata=meta)
    if kind == "LIF":
        return nir.LIF(tau=tau_mem, r=r, v_leak=v_leak, v_threshold=thr, v_reset=v_reset,
                       metadata=meta)
    return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=r, v_leak=v_leak,
                       v_threshold=thr, v_reset=v_reset, w_in=w_in, metadata=meta)


def _export_edges(cfg, nodes, node_of, local, dt):
    """Add a Delay and a Linear node per (source node, target node, delay) and return the
    edges; delays chosen so that ``from_nir`` maps them back to the same core delays."""
    src = np.repeat(np.arange(cfg.n_sources), np.diff(cfg.fanout_ptr))
    tgt, delay = cfg.syn_target, cfg.syn_delay
    weight = cfg.syn_weight.astype(np.float64) * (1 << cfg.w_shift)
    # the k-th synapse of one (source, target, delay) goes to the k-th Linear node, so
    # that parallel synapses stay apart
    rank = np.zeros(src.size, dtype=np.int64)
    seen = {}
    for k, key in enumerate(zip(src.tolist(), tgt.tolist(), delay.tolist())):
        rank[k] = seen.get(key, 0)
        seen[key] = rank[k] + 1
    keys = sorted({(str(node_of[s]), str(node_of[t]), int(d), int(r))
                   for s, t, d, r in zip(src, tgt, delay, rank)})
    edges, pending = [], []
    for a, b, d, r in keys:
        sel = np.flatnonzero((node_of[src] == a) & (node_of[tgt] == b) & (delay == d) &
                             (rank == r))
        n_in, n_out = _node_size(nodes[a]), _node_size(nodes[b])
        w = np.zeros((n_out, n_in))
        w[local[tgt[sel]], local[src[sel]]] = weight[sel]
        tag = f"{a}.{b}.{d}" + (f".{r}" if r else "")
        lin, dly = f"w.{tag}", f"d.{tag}"
        nodes[lin] = nir.Linear(weight=w)
        nodes[dly] = nir.Delay(delay=np.zeros(n_in))
        edges += [(a, dly), (dly, lin), (lin, b)]
        pending.append((a, dly, lin, b, d))
    succs = {n: [] for n in nodes}
    for x, y in edges:
        succs[x].append(y)
    _, back = _walk([n for n, v in nodes.items() if isinstance(v, nir.Input)], nodes, succs)
    for a, dly, lin, b, d in pending:
        is_back = any(e in back for e in ((a, dly), (dly, lin), (lin, b)))
        steps = d - 1 if (isinstance(nodes[a], nir.Input) or is_back) else d
        nodes[dly] = nir.Delay(delay=np.full(_node_size(nodes[a]), steps * dt))
    return edges


def _node_size(node):
    if isinstance(node, nir.Input):
        return int(np.prod(node.input_type["input"]))
    return int(np.size(node.v_threshold))
