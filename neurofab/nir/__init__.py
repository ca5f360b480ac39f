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

from .export import to_nir
from .graph import (AUTO_HEADROOM, COMPARES, DEFAULT_CALIBRATION, DISCRETISATIONS,
                    RESETS)
from .importer import from_nir
from .report import GraphMap, LayerReport, QuantReport
from .simulate import raster_agreement, simulate

__all__ = ["from_nir", "to_nir", "simulate", "QuantReport", "LayerReport", "GraphMap",
           "raster_agreement", "DISCRETISATIONS", "RESETS", "COMPARES",
           "DEFAULT_CALIBRATION", "AUTO_HEADROOM"]
