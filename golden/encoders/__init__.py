"""Golden (numpy) twins of ``rtl/encoders``: random sources, SNGs, SC arithmetic,
decoders and spike encoders. ``docs/stochastic.md`` states every definition."""

from .lfsr import lfsr_sequence, lfsr_advance                                    # noqa: F401
from .sobol import sobol_sequence, vdc_sequence                                  # noqa: F401
from .sng import comparator_sng, source_bank, sng_bank                           # noqa: F401
from .arith import sc_and, sc_or, sc_xnor, sc_mux, sc_cordiv, sc_tanh            # noqa: F401
from .decode import sc_count, count_width, unipolar, bipolar                     # noqa: F401
from .spike import (ENCODERS, RateEncoder, LatencyEncoder, DeltaEncoder,  # noqa: F401
                    PopulationEncoder,
                    rate_encode, latency_encode, delta_encode, population_encode,
                    to_transactions)
