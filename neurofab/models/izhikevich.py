"""Izhikevich (2003) in the units of the paper, its quantiser, float64 reference and the
firing classes of the paper's Figure 2.

``v' = 0.04 v^2 + 5 v + 140 - u + I``, ``u' = a (b v - u)``; at ``v >= 30 mV``:
``v <- c``, ``u <- u + d``. Voltages in mV, time in ms, ``u`` and the current ``I`` in
mV/ms (the paper's dimensionless current). The integer formats are those of
``neurofab.spec.izhikevich`` (``docs/numerics-izhikevich.md``): the kernel integrates
``dt = 1`` ms as two 0.5 ms ``v`` half-steps and one ``u`` step, and clamps ``v`` at
-100 mV; :func:`reference` does the same in float64.
"""

import math
from dataclasses import dataclass

import numpy as np

from neurofab.spec import izhikevich as S

from .base import Behaviour, Model, QuantReport, check_float, quantise_current

__all__ = ["Izhikevich", "reference", "rest", "StepCurrent", "BEHAVIOURS", "FIGURE_2003",
           "PEAK_MV", "FLOOR_MV"]

#: Spike threshold (the peak of the spike) and the floor of ``v``, mV.
PEAK_MV = 30.0
FLOOR_MV = S.V_FLOOR * S.V_LSB_MV


def _check_dt(dt):
    dt = check_float("dt", dt, 0, lo_open=True)
    if dt != S.DT_MS:
        raise ValueError(f"dt = {dt:g} ms: the izhikevich kernel integrates dt = "
                         f"{S.DT_MS:g} ms (two 0.5 ms v half-steps), no other step")
    return dt


def _quantise(name, value, scale, lo, hi, unit):
    """``round(value * scale)``, refused with a message if outside ``[lo, hi]``."""
    q = int(round(value * scale))
    if not lo <= q <= hi:
        unit = f" {unit}" if unit else ""
        raise ValueError(f"{name} = {value:g}{unit} is outside the range "
                         f"[{lo / scale:g}, {hi / scale:g}]{unit} the izhikevich kernel "
                         f"represents")
    return q


def rest(b, bias):
    """The resting potential (mV) for ``I = bias``: the lower root of
    ``0.04 v^2 + (5 - b) v + 140 + bias = 0``, or ``None`` where there is none."""
    disc = (5 - b) ** 2 - 0.16 * (140 + bias)
    if disc < 0:
        return None
    return (-(5 - b) - math.sqrt(disc)) / 0.08


@dataclass(frozen=True)
class Izhikevich(Model):
    """Izhikevich's simple model of spiking neurons.

    Parameters
    ----------
    a : float, 1/ms
        Time scale of the recovery ``u`` (0 .. 0.49998 at dt = 1 ms).
    b : float
        Sensitivity of ``u`` to ``v`` (-2 .. 1.99994).
    c : float, mV
        Reset potential after a spike (-100 .. below 30).
    d : float, mV/ms
        Increment of ``u`` at a spike (-12.5 .. 12.4998).
    bias : float, mV/ms
        Constant current added to the input (default 0; -200 .. 199.99).
    """
    a: float
    b: float
    c: float
    d: float
    bias: float = 0.0

    kernel = "izhikevich"

    def __post_init__(self):
        check_float("a", self.a, 0)
        check_float("b", self.b)
        check_float("c", self.c, FLOOR_MV, PEAK_MV, hi_open=True)
        check_float("d", self.d)
        check_float("bias", self.bias)

    def quantise(self, dt):
        """The integer profile at ``dt`` (only 1 ms) and what rounding did to it."""
        dt = _check_dt(dt)
        v = S.V_PER_MV
        lim = S.LIMITS
        params = {
            "a": _quantise("a", self.a * dt, 1 << S.A_FRAC, *lim["a"], "per step"),
            "b": _quantise("b", self.b, 1 << S.B_FRAC, *lim["b"], ""),
            "c": _quantise("c", self.c, v, *lim["c"], "mV"),
            "d": _quantise("d", self.d, v * (1 << S.D_SHIFT), *lim["d"], "mV/ms"),
            "bias": _quantise("bias", self.bias, v, *lim["bias"], "mV/ms"),
        }
        effective = {
            "a": params["a"] / (1 << S.A_FRAC) / dt,
            "b": params["b"] / (1 << S.B_FRAC),
            "c": params["c"] / v,
            "d": params["d"] / (v * (1 << S.D_SHIFT)),
            "bias": params["bias"] / v,
        }
        values = {"a": self.a, "b": self.b, "c": self.c, "d": self.d, "bias": self.bias}
        notes = [f"dt = {dt:g} ms: two 0.5 ms v half-steps, one u step from the old v",
                 f"v unit {S.V_LSB_MV * 1000:.4g} uV (16384 = 100 mV); spike at v >= "
                 f"{S.V_PEAK} (30 mV), v clamped to [-100, +200) mV",
                 "input current: acc in units of 1/163.84 mV/ms (to_current), "
                 "acc + bias saturated to +-200 mV/ms"]
        return QuantReport(kernel=self.kernel, dt=dt, params=params, values=values,
                           effective=effective, notes=notes)

    def to_current(self, current, dt):
        """Input current (mV/ms, one value per step) as the integer ``acc`` of each step:
        ``round(I * 163.84)``. The kernel saturates ``acc + bias`` to +-200 mV/ms, so a
        current outside that range is refused rather than clipped."""
        _check_dt(dt)
        return quantise_current(current, S.V_PER_MV, "mV/ms", lo=S.I_MIN, hi=S.I_MAX,
                                limit=f"the range [{S.I_MIN * S.V_LSB_MV:g}, "
                                      f"{S.I_MAX * S.V_LSB_MV:g}] of the izhikevich "
                                      f"kernel's input")

    def to_voltage(self, v):
        """Integer ``v`` (voltage units) in mV."""
        return np.asarray(v, dtype=np.float64) * S.V_LSB_MV


def reference(model, current, dt):
    """Float64 Euler of the Izhikevich equations, in the kernel's scheme.

    ``current`` (mV/ms) holds one value per step of ``dt`` = 1 ms. The start is the rest
    point for ``I = bias`` (:func:`rest`; ``v = c``, ``u = b c`` where there is none).
    Each step, with ``I = current[k] + bias``: two half-steps
    ``v <- max(v + 0.5 (0.04 v^2 + 5 v + 140 - u + I), -100)`` with ``u`` held, then
    ``u <- u + a (b v_old - u)``; if ``v >= 30``: spike, ``v <- c``, ``u <- u + d``.

    Returns
    -------
    (v, spikes) : float array of v (mV) after each step, int64 array of the spiking steps
    """
    _check_dt(dt)
    current = np.asarray(current, dtype=np.float64)
    a, b, c, d = model.a, model.b, model.c, model.d
    h = dt / S.HALF_STEPS
    v = rest(b, model.bias)
    v = c if v is None else max(v, FLOOR_MV)
    u = b * v
    out = np.empty(len(current))
    spikes = []
    for k, i in enumerate(current):
        i = i + model.bias
        v_old = v
        for _ in range(S.HALF_STEPS):
            v = max(v + h * (0.04 * v * v + 5 * v + 140 - u + i), FLOOR_MV)
        u += dt * a * (b * v_old - u)
        if v >= PEAK_MV:
            v = c
            u += d
            spikes.append(k)
        out[k] = v
    return out, np.array(spikes, dtype=np.int64)


class StepCurrent:
    """A piecewise-constant current (mV/ms): ``levels[j]`` from ``times[j]`` ms on
    (``times[0]`` = 0), ``StepCurrent((0, 0.0), (50, 10.0))`` is a step of 10 at 50 ms.
    Callable on a time in ms or an array of times."""

    def __init__(self, *steps):
        times = [float(t) for t, _ in steps]
        if not times or times[0] != 0 or sorted(times) != times:
            raise ValueError(f"steps {steps!r} must start at t = 0 and increase")
        self.steps = tuple((float(t), float(level)) for t, level in steps)

    def __call__(self, t):
        t = np.asarray(t, dtype=np.float64)
        j = np.searchsorted([s for s, _ in self.steps], t, side="right") - 1
        out = np.asarray([level for _, level in self.steps])[j]
        return float(out) if out.ndim == 0 else out

    def __repr__(self):
        return f"StepCurrent{self.steps}"


#: Figure 2 of Izhikevich (2003): (a, b, c, d) and the step current of each firing class,
#: as in the figure's MATLAB code (OSB ``izhi2003.m``), stimulus times scaled to
#: ``DURATION`` (the code's onsets are fractions of its run length). IB uses I = 10, not
#: the code's 11: at dt = 1 ms, 11 gives irregular doublets whose timing a 1e-4 change of
#: I moves by milliseconds (docs/numerics-izhikevich.md, "Fidelity").
FIGURE_2003 = {
    "RS": ((0.02, 0.2, -65, 8), ((0, 0.0), (50, 14.0))),
    "IB": ((0.02, 0.2, -55, 4), ((0, 0.0), (50, 10.0))),
    "CH": ((0.02, 0.2, -50, 2), ((0, 0.0), (50, 10.0))),
    "FS": ((0.1, 0.2, -65, 2), ((0, 0.0), (50, 10.0))),
    "LTS": ((0.02, 0.25, -65, 2), ((0, 0.0), (50, 10.0))),
    "TC": ((0.02, 0.25, -65, 0.05), ((0, 0.0), (100, 1.5))),
    "TC-burst": ((0.02, 0.25, -65, 0.05), ((0, -25.0), (150, 0.0))),
    "RZ": ((0.1, 0.26, -65, 2), ((0, -2.0), (50, -0.5), (100, 10.0), (105, -0.5))),
}

#: Run length and time step (ms) of every behaviour.
DURATION, DT = 500.0, S.DT_MS

BEHAVIOURS = {
    name: Behaviour(name, Izhikevich(*abcd), current=StepCurrent(*steps),
                    duration=DURATION, dt=DT)
    for name, (abcd, steps) in FIGURE_2003.items()
}
