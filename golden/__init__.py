"""Bit-true numpy models: the golden twins of ``rtl/``."""

from .core import CoreState, NeuronCore, run          # noqa: F401
from .batch import run_batch                           # noqa: F401
from .lif import LifParams, cuba_lif_step              # noqa: F401
