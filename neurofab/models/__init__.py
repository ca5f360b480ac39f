"""Float front end: neuron models in physical units, quantised to a kernel's profile.

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
named firing behaviours (``BEHAVIOURS``) that ``neurofab fidelity`` compares.
"""

import math
from dataclasses import dataclass, field

__all__ = ["Model", "QuantReport", "Behaviour", "check_float"]


def check_float(name, value, lo=-math.inf, hi=math.inf, *, lo_open=False, hi_open=False):
    """``value`` as a float, refusing a non-number, NaN, infinity or a value outside
    ``[lo, hi]`` (open at an end with ``lo_open``/``hi_open``) with a message naming the
    field, the value and the limit."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(
            value, "__float__"):
        raise TypeError(f"{name} must be a number, not {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} = {x} must be a finite number")
    below = x <= lo if lo_open else x < lo
    above = x >= hi if hi_open else x > hi
    if below or above:
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ValueError(f"{name} = {x:g} is outside the limit {left}{lo:g}, {hi:g}{right}")
    return x


@dataclass
class QuantReport:
    """What quantising a float model to an integer profile did.

    Attributes
    ----------
    kernel : str
        The kernel the profile is for.
    dt : float
        Time step (ms) the integers assume.
    params : dict
        The integer profile (every profile field of the kernel).
    values : dict
        Each float parameter as given, by name.
    effective : dict
        The value each float parameter takes once quantised (same names and units).
    notes : list of str
        Anything else the user should know (clipping, a fixed grid, ...).
    """
    kernel: str
    dt: float
    params: dict
    values: dict = field(default_factory=dict)
    effective: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def errors(self):
        """Relative error of every quantised parameter (0 where both are 0)."""
        out = {}
        for name, want in self.values.items():
            got = self.effective[name]
            out[name] = 0.0 if want == got else abs(got - want) / max(abs(want), 1e-300)
        return out

    @property
    def worst_error(self):
        """``(name, relative error)`` of the worst parameter."""
        errors = self.errors
        if not errors:
            return ("", 0.0)
        name = max(errors, key=errors.get)
        return name, errors[name]

    def as_dict(self):
        return {"kernel": self.kernel, "dt": self.dt,
                "params": {k: int(v) for k, v in self.params.items()},
                "values": dict(self.values), "effective": dict(self.effective),
                "errors": self.errors, "worst_error": list(self.worst_error),
                "notes": list(self.notes)}

    def __str__(self):
        lines = [f"{self.kernel} profile at dt = {self.dt:g} ms"]
        lines.append(f"  {'parameter':<12} {'given':>12} {'effective':>12} {'rel. error':>11}")
        for name, want in self.values.items():
            lines.append(f"  {name:<12} {want:>12.6g} {self.effective[name]:>12.6g} "
                         f"{self.errors[name]:>11.2e}")
        lines.append("  integers: " + ", ".join(f"{k}={int(v)}" for k, v in self.params.items()))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


class Model:
    """Base of the float models (see the module documentation)."""
    kernel = None

    def quantise(self, dt):
        raise NotImplementedError

    def to_current(self, current, dt):
        raise NotImplementedError

    def to_voltage(self, v):
        raise NotImplementedError


@dataclass(frozen=True)
class Behaviour:
    """A named firing behaviour: a model, a step current and how long to run.

    ``current(t_ms)`` gives the input current at time ``t_ms`` in the model's units.
    """
    name: str
    model: Model
    current: object
    duration: float
    dt: float
