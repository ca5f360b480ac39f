"""neurofab.spec — the single source of truth for every bit format.

Every width, layout, enumeration and rounding/saturation rule used by ``rtl/``,
``golden/``, ``host/`` and ``boards/`` is defined here (or in a submodule of this
package, re-exported below) and nowhere else. ``docs/numerics.md`` states the
arithmetic in prose; this package states it in numbers.

Submodules, one per block family, keep the owners of different blocks out of each
other's way; everything is re-exported so users write ``from neurofab.spec import X``.
"""

from .packing import *       # noqa: F401,F403  pack / unpack: fields <-> layout words
from .core import *          # noqa: F401,F403  neuron core: state, profiles, CSR, events, memory map
from .learning import *      # noqa: F401,F403  plasticity: traces, plastic synapses, rules
from .link import *          # noqa: F401,F403  host link: framing, CRC, opcodes
from .encoders import *      # noqa: F401,F403  bitstream encoders and stochastic computing
from .aer import *  # noqa
from .reliability import *   # noqa: F401,F403  memory protection: parity, error counter
