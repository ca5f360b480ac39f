"""What every float model shares: the :class:`Model` interface, the :class:`QuantReport`,
:class:`Behaviour`, and the checks and conversions the kernels' quantisers have in common.

The package ``neurofab.models`` re-exports all of it; the model modules import it from
here, so that the package can import them without a cycle.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from neurofab import spec as core_spec
from neurofab.spec import Reset

from neurofab.checks import check_float

__all__ = ["Model", "QuantReport", "Behaviour", "check_float", "check_tau", "decay_of",
           "tau_of", "exp_factor", "fit_int", "parse_reset", "quantise_current",
           "step_current"]


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


def check_tau(name, value, *, lo_open=False):
    """A time constant (ms): :func:`check_float` from 0 (open with ``lo_open``), with
    ``inf`` (no decay) allowed."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == math.inf:
        return math.inf
    return check_float(name, value, 0, lo_open=lo_open)


def decay_of(tau, dt):
    """The integer decay ``round(4096 * (1 - exp(-dt/tau)))`` of a time constant (ms):
    0 for ``tau = inf`` (no leak), 4096 for ``tau = 0`` (memoryless)."""
    if math.isinf(tau):
        return 0
    if tau == 0:
        return core_spec.DECAY_ONE
    return int(round(core_spec.DECAY_ONE * -math.expm1(-dt / tau)))


def tau_of(decay, dt):
    """The time constant (ms) an integer decay stands for: ``-dt / ln(1 - decay/4096)``
    (``inf`` for 0, 0 for 4096)."""
    if decay == 0:
        return math.inf
    if decay >= core_spec.DECAY_ONE:
        return 0.0
    return -dt / math.log1p(-decay / core_spec.DECAY_ONE)


def exp_factor(tau, dt):
    """``exp(-dt/tau)``: 1 for ``tau = inf``, 0 for ``tau = 0``."""
    return 0.0 if tau == 0 else math.exp(-dt / tau)


def fit_int(name, value, lo, hi, what, kernel):
    """``round(value)``, refused with a message if outside ``[lo, hi]``; ``what`` says
    how ``value`` was computed."""
    q = int(round(value))
    if not lo <= q <= hi:
        raise ValueError(f"{name}: {what} = {value:.6g} rounds to {q}, outside the "
                         f"representable range [{lo}, {hi}] of kernel {kernel}")
    return q


_RESETS = {"subtract": Reset.SUBTRACT, "to_vreset": Reset.TO_VRESET,
           "v_reset": Reset.TO_VRESET, "zero": Reset.TO_VRESET}


def parse_reset(value):
    """A reset mode: a ``Reset``, or ``"subtract"``, ``"to_vreset"`` (also ``"v_reset"``
    and ``"zero"``: ``v`` is set to ``v_reset``)."""
    if isinstance(value, Reset):
        return value
    if isinstance(value, str) and value.lower() in _RESETS:
        return _RESETS[value.lower()]
    raise ValueError(f"reset = {value!r} is not a reset mode (Reset.SUBTRACT, "
                     f"Reset.TO_VRESET, 'subtract' or 'to_vreset')")


def quantise_current(current, per_unit, unit, *, lo=core_spec.ACC_MIN, hi=core_spec.ACC_MAX,
                     limit=None):
    """A float input current (one value per step, in ``unit``) as integer accumulator
    input: ``rint(current * per_unit)`` as int64.

    Refuses a non-finite value, and one whose integer lies outside ``[lo, hi]`` (default
    the accumulator's s24 range) with a message naming the step, the value and ``limit``
    (default ``"the accumulator range [lo, hi] x <one integer unit> <unit>"``).
    """
    x = np.asarray(current, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("current must be finite")
    q = np.rint(x * per_unit)
    bad = (q < lo) | (q > hi)
    if bad.any():
        if limit is None:
            limit = f"the accumulator range [{lo}, {hi}] x {1 / per_unit:.4g} {unit}"
        k = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"current[{k}] = {x.ravel()[k]:g} {unit} is outside {limit}")
    return q.astype(np.int64)


def step_current(amp, onset):
    """The current of a step-current behaviour: 0 before ``onset`` ms, ``amp`` from then
    on (a ``Behaviour.current``)."""
    return lambda t: amp if t >= onset else 0.0
