"""Float front end: neuron models in physical units, quantised to a kernel's profile.

The models: :class:`CubaLif` (``cuba-lif``), :class:`AdaptiveLif` (``alif``),
:class:`Izhikevich` (``izhikevich``) and :class:`AdEx` (``adex``).

``net.population(n, model=neurofab.models.Izhikevich(a=0.02, b=0.2, c=-65, d=8), dt=1.0)``
turns a model given in the units of its paper (ms, mV, ...) into the integer profile of
its kernel (``neurofab.kernels``) and records a :class:`QuantReport`: the integers, the
effective values they stand for, and the relative error of each parameter.

Every model here is a :class:`Model`:

* ``kernel`` — the name of the kernel it quantises to;
* ``quantise(dt)`` — the :class:`QuantReport` (``report.params`` is the integer profile);
* ``to_current(current, dt)`` — a float input current (the model's units) as the
  integer accumulator input of one step;
* ``to_voltage(v)`` — integer membrane values back in the model's voltage unit.

Each kernel's module (``neurofab.models.<kernel>``) also holds its float64 reference
(``reference``), written from the equations independently of the golden model, and the
named firing behaviours (``BEHAVIOURS``) that ``neurofab fidelity`` compares. The
interface and the helpers the quantisers share live in ``neurofab.models.base``.
"""

from .adex import AdEx
from .alif import AdaptiveLif
from .base import (Behaviour, Model, QuantReport, check_float, check_tau, decay_of,
                   exp_factor, fit_int, parse_reset, quantise_current, tau_of)
from .izhikevich import Izhikevich
from .lif import CubaLif

__all__ = ["Model", "QuantReport", "Behaviour", "check_float", "CubaLif", "AdaptiveLif",
           "Izhikevich", "AdEx", "MODELS", "check_tau", "decay_of", "tau_of",
           "exp_factor", "fit_int", "parse_reset", "quantise_current"]

#: The float model class of every kernel, by kernel name.
MODELS = {cls.kernel: cls for cls in (CubaLif, AdaptiveLif, Izhikevich, AdEx)}
