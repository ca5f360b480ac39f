"""What an imported graph becomes on the core (``GraphMap``) and what quantising it did
(``LayerReport``, ``QuantReport``)."""

from dataclasses import dataclass, field

import numpy as np

from .simulate import input_batch


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
        checked, (batch, steps) = input_batch(_Inputs(self), inputs, "inputs")
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
    """The part of ``Graph`` that ``input_batch`` reads, from a ``GraphMap``."""

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
