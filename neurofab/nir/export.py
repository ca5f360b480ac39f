"""``to_nir``: a ``Network`` or ``CoreConfig`` as a NIR graph (``docs/nir.md``,
"Export")."""

import nir
import numpy as np

from neurofab import spec
from neurofab.checks import check_float

from .graph import RESETS, NEURON_NODES, walk


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
    neuron_nodes = [n for n, v in nodes.items() if isinstance(v, NEURON_NODES)]
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
    _, back = walk([n for n, v in nodes.items() if isinstance(v, nir.Input)], nodes, succs)
    for a, dly, lin, b, d in pending:
        is_back = any(e in back for e in ((a, dly), (dly, lin), (lin, b)))
        steps = d - 1 if (isinstance(nodes[a], nir.Input) or is_back) else d
        nodes[dly] = nir.Delay(delay=np.full(_node_size(nodes[a]), steps * dt))
    return edges


def _node_size(node):
    if isinstance(node, nir.Input):
        return int(np.prod(node.input_type["input"]))
    return int(np.size(node.v_threshold))
