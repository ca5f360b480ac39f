"""A NIR graph read and analysed: nodes flattened, kinds, sizes, evaluation order,
back edges, the currents into every neuron node and the core's latency per node
(``docs/nir.md``)."""

import os
from dataclasses import dataclass

import nir
import numpy as np

from neurofab import spec

#: ``euler``: ``x' = (1 - dt/tau) x + (dt/tau) u`` (snnTorch, Norse: the exporter writes
#: ``r = tau/dt`` so that this gives back its decay); ``exact``: ``x' = e^(-dt/tau) x +
#: (1 - e^(-dt/tau)) u`` (the input held over the step).
DISCRETISATIONS = ("euler", "exact")
#: ``to_v_reset`` (NIR's text: ``v`` becomes ``v_reset`` after a spike) or ``subtract``
#: (``v`` loses the threshold: snnTorch's default, exported with ``v_reset = 0``).
RESETS = ("to_v_reset", "subtract")
#: The spike condition of the graph: ``>`` (NIR, snnTorch) or ``>=``.
COMPARES = (">", ">=")

NEURON_NODES = (nir.CubaLIF, nir.LIF, nir.IF)
_SUPPORTED = ("Input, Output, Affine, Linear, Scale, Delay, Flatten, CubaLIF, LIF, IF "
              "and nested graphs")
#: Calibration input when none is given: Bernoulli spikes on every input channel.
DEFAULT_CALIBRATION = {"samples": 8, "steps": 200, "rate": 0.2, "seed": 0}
#: Headroom factors ``scale="auto"`` tries (state scale = headroom x 32767 / peak).
AUTO_HEADROOM = (1.0, 0.7, 0.5, 0.35, 0.25, 0.125)
MAX_PROFILES = spec.PROFILE_COUNT


# --- the graph ---------------------------------------------------------------------------
def read_graph(graph):
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


def float_array(node_name, fname, value):
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


def walk(inputs, nodes, succs):
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


class Graph:
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
        if isinstance(node, NEURON_NODES):
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
            w = float_array(name, "weight", node.weight)
            if w.ndim != 2:
                raise ValueError(f"node {name!r}: weight has shape {w.shape}, expected "
                                 f"(out, in)")
            return w.shape[1], w.shape[0]
        if kind in ("scale", "delay", "neuron"):
            n = max((np.size(v) for v in node_params(node).values()), default=1)
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
        return walk(self.inputs, self.nodes, self.succs)

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
            w = float_array(name, "weight", node.weight)
            if np.unique(t.dpost).size > 1:
                raise ValueError(f"node {name!r} mixes signals that a Delay before it "
                                 f"delayed by different amounts: per-element delays are "
                                 f"representable only right after a spiking node or an "
                                 f"Input, or right before a neuron node")
            b = w @ t.b
            if kind == "affine":
                b = b + float_array(name, "bias", node.bias).reshape(-1)
            d = t.dpost[0] if t.dpost.size else 0
            return _Term(t.src, w @ t.M, b, t.dpre, np.full(w.shape[0], d, np.int64),
                         t.back, False)
        if kind == "scale":
            s = np.broadcast_to(float_array(name, "scale", node.scale).reshape(-1),
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
        d = float_array(name, "delay", node.delay).reshape(-1) / self.dt
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


def node_params(node):
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
