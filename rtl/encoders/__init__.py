"""Bitstream encoders and stochastic computing (Amaranth components).

Golden twins live in ``neurofab.golden.encoders`` under the same module names;
``docs/stochastic.md`` states every definition.
"""

from .lfsr import Lfsr                                                           # noqa: F401
from .sobol import Sobol, VanDerCorput                                           # noqa: F401
from .sng import ComparatorSng, SngBank                                          # noqa: F401
from .arith import ScAnd, ScOr, ScXnor, ScMux, ScCordiv, ScTanh                  # noqa: F401
from .decode import ScCounter                                                    # noqa: F401
from .spike import RateEncoder, LatencyEncoder, DeltaEncoder, PopulationEncoder  # noqa: F401
from .spike import ENCODERS                                                      # noqa: F401
