"""Current-based LIF in physical units, its quantiser and float64 reference.

Units as in ``neurofab.models.alif``: times in ms; voltages in a unit of the user's
choosing, "V" below (the natural one is threshold-relative, ``threshold = 1``); the
synaptic current ``i``, the ``bias`` and input currents in V/ms (what they add to ``v``
per ms). The model::

    tau_syn di/dt = -i + I(t)                     (I: input current; unit DC gain)
    dv/dt = -v / tau_mem + i + bias
    v >= threshold:  spike;  v <- v_reset ("zero") or v - threshold ("subtract");
                     v frozen for ``refractory`` ms

at time step ``dt``, in the kernel's discrete form (exponential decays, the drive held
over the step, the new current acting in the same step)::

    i_t = e^(-dt/tau_syn) i_(t-1) + (1 - e^(-dt/tau_syn)) I_t
    v_t = e^(-dt/tau_mem) v_(t-1) + dt (i_t + bias)          (unless refractory)

The integers are those of ``docs/numerics.md``: ``decay_i = round(4096 (1 -
exp(-dt/tau_syn)))``, ``decay_v`` likewise, ``threshold``, ``v_reset`` and ``bias * dt`` in
integer ``v`` units (``scale`` per V), ``refractory`` in steps. The integer ``i`` holds
``dt * scale`` times the float ``i``, so that ``v' = rtz_decay(v) + i' + bias`` is the
discrete equation above.
"""

import math
from dataclasses import dataclass

import numpy as np

from neurofab import spec as core_spec
from neurofab.spec import Reset
from neurofab.spec import lif as S

from .base import (Behaviour, Model, QuantReport, check_float, check_tau, decay_of,
                   exp_factor, fit_int, parse_reset, quantise_current, step_current,
                   tau_of)

__all__ = ["CubaLif", "reference", "BEHAVIOURS", "V_UNITS"]

#: Integer ``v`` units the larger of ``threshold`` and ``|v_reset|`` becomes when no
#: ``scale`` is given: a quarter of the s16 range, leaving room for the overshoot of ``v``
#: above the threshold and for a large synaptic current ``i`` (both saturate at 32767).
V_UNITS = 8192


def _fit(name, value, lo, hi, what):
    return fit_int(name, value, lo, hi, what, "cuba-lif")


@dataclass(frozen=True)
class CubaLif(Model):
    """Current-based leaky integrate-and-fire neuron.

    Parameters
    ----------
    tau_mem : float, ms (>= 0; ``inf`` = no leak, 0 = memoryless)
    tau_syn : float, ms (>= 0, finite; 0 = the input current acts directly)
    threshold : float, V (> 0)
    v_reset : float, V
        ``v`` after a spike with ``reset = "zero"``.
    bias : float, V/ms
        Constant drive of ``v``.
    refractory : float, ms (>= 0)
        ``v`` frozen after a spike (rounded to whole steps, at most 15).
    reset : str or Reset
        ``"zero"`` (default; ``v <- v_reset``, also ``"to_vreset"``,
        ``Reset.TO_VRESET``) or ``"subtract"`` (``v <- v - threshold``,
        ``Reset.SUBTRACT``).
    scale : float or None
        Integer ``v`` units per V. ``None``: ``max(threshold, |v_reset|)`` becomes
        :data:`V_UNITS` (8192). Independent of ``dt``.
    """
    tau_mem: float
    tau_syn: float
    threshold: float = 1.0
    v_reset: float = 0.0
    bias: float = 0.0
    refractory: float = 0.0
    reset: Reset = "zero"
    scale: float = None

    kernel = "cuba-lif"

    def __post_init__(self):
        check_tau("tau_mem", self.tau_mem)
        check_float("tau_syn", self.tau_syn, 0)
        check_float("threshold", self.threshold, 0, lo_open=True)
        check_float("v_reset", self.v_reset)
        check_float("bias", self.bias)
        check_float("refractory", self.refractory, 0)
        if self.scale is not None:
            check_float("scale", self.scale, 0, lo_open=True)
        object.__setattr__(self, "reset", parse_reset(self.reset))

    @property
    def voltage_scale(self):
        """Integer ``v`` units per V (``scale``, or see the class)."""
        if self.scale is not None:
            return float(self.scale)
        return V_UNITS / max(self.threshold, abs(self.v_reset))

    def quantise(self, dt):
        """The integer profile at time step ``dt`` (ms) and what it represents."""
        dt = check_float("dt", dt, 0, lo_open=True)
        sc = self.voltage_scale
        lim = S.LIMITS
        decay_i = decay_of(self.tau_syn, dt)
        decay_v = decay_of(self.tau_mem, dt)
        threshold = _fit("threshold", self.threshold * sc, *lim["threshold"],
                         "threshold * scale")
        v_reset = _fit("v_reset", self.v_reset * sc, *lim["v_reset"], "v_reset * scale")
        bias = _fit("bias", self.bias * dt * sc, *lim["bias"],
                    f"bias * dt * scale (lower bias or pass a smaller scale than {sc:.6g})")
        refractory = _fit("refractory", self.refractory / dt, *lim["refractory"],
                          "refractory / dt")
        notes = [f"voltage unit: {sc:.6g} integer units per V (threshold "
                 f"{self.threshold:g} V -> {threshold}); v and i saturate at "
                 f"{core_spec.STATE_MAX / sc:.4g} V and {core_spec.STATE_MAX / (sc * dt):.4g} "
                 f"V/ms"]
        if refractory * dt != self.refractory:
            notes.append(f"refractory = {self.refractory:g} ms rounded to {refractory} "
                         f"steps of {dt:g} ms")
        if decay_v == 0 and not math.isinf(self.tau_mem):
            notes.append(f"tau_mem = {self.tau_mem:g} ms is beyond the decay resolution "
                         f"at dt = {dt:g} ms (decay_v rounds to 0): v never leaks")
        if decay_i == 0:
            notes.append(f"tau_syn = {self.tau_syn:g} ms at dt = {dt:g} ms rounds decay_i "
                         f"to 0: the synaptic current never decays and takes no float "
                         f"input (to_current refuses)")
        else:
            notes.append(f"input current I (V/ms) enters as acc = round(I * dt * scale * "
                         f"decay_i / 4096) per step (to_current): one acc unit is "
                         f"{core_spec.DECAY_ONE / (dt * sc * decay_i):.4g} V/ms")
        params = {"decay_i": decay_i, "decay_v": decay_v, "threshold": threshold,
                  "bias": bias, "v_reset": v_reset, "reset": self.reset.value,
                  "refractory": refractory}
        values = {"tau_mem": self.tau_mem, "tau_syn": self.tau_syn,
                  "threshold": self.threshold, "v_reset": self.v_reset,
                  "refractory": self.refractory, "bias": self.bias}
        effective = {"tau_mem": tau_of(decay_v, dt), "tau_syn": tau_of(decay_i, dt),
                     "threshold": threshold / sc, "v_reset": v_reset / sc,
                     "refractory": refractory * dt, "bias": bias / (dt * sc)}
        return QuantReport(kernel=self.kernel, dt=dt, params=params, values=values,
                           effective=effective, notes=notes)

    def to_current(self, current, dt):
        """Input current (V/ms) as ``acc`` per step: :func:`synaptic_input`."""
        return synaptic_input(self, current, dt)

    def to_voltage(self, v):
        """Integer ``v`` in V."""
        return np.asarray(v, dtype=np.float64) / self.voltage_scale


def synaptic_input(model, current, dt):
    """Input current (V/ms, one value per step) of a LIF model (``model.tau_syn``,
    ``model.voltage_scale``: ``CubaLif``, ``AdaptiveLif``) as the integer ``acc`` of each
    step: ``round(I * dt * scale * decay_i / 4096)``, which holds the integer ``i`` at
    ``I * dt * scale`` in steady state. Refuses ``decay_i = 0`` (``tau_syn = inf``: the
    synaptic current takes no input) and a value outside the accumulator's s24 range."""
    dt = check_float("dt", dt, 0, lo_open=True)
    decay_i = decay_of(model.tau_syn, dt)
    if decay_i == 0:
        raise ValueError(f"tau_syn = {model.tau_syn:g} ms at dt = {dt:g} ms: the "
                         f"synaptic current never takes input (decay_i = 0)")
    unit = dt * model.voltage_scale * decay_i / core_spec.DECAY_ONE
    return quantise_current(current, unit, "V/ms")


def reference(model, current, dt):
    """Float64 CUBA-LIF at step ``dt`` (ms): the model's discrete equations (see the
    module documentation) with exact ``exp`` factors, no rounding and no saturation.

    ``current`` (V/ms) holds one value per step. Each step: ``i`` first (also while
    refractory); if refractory, ``v`` is frozen and the counter runs down, else ``v``
    integrates and fires at ``v >= threshold``. The refractory period is
    ``round(refractory / dt)`` steps.

    Returns
    -------
    (v, spikes) : float array of ``v`` (V) after each step, int array of the spiking steps
    """
    x = np.asarray(current, dtype=np.float64)
    keep_i = exp_factor(model.tau_syn, dt)
    keep_v = exp_factor(model.tau_mem, dt)
    frozen = int(round(model.refractory / dt))
    subtract = model.reset is Reset.SUBTRACT
    i = v = 0.0
    left = 0
    trace = np.zeros(x.size)
    spikes = []
    for t in range(x.size):
        i = keep_i * i + (1.0 - keep_i) * x[t]
        if left:
            left -= 1
        else:
            v = keep_v * v + dt * (i + model.bias)
            if v >= model.threshold:
                spikes.append(t)
                v = v - model.threshold if subtract else model.v_reset
                left = frozen
        trace[t] = v
    return trace, np.asarray(spikes, dtype=np.int64)


#: Step onset (ms), run length (ms) and time step (ms) of the behaviours.
ONSET, DURATION, DT = 20.0, 1000.0, 1.0


#: Firing under a step current (V/ms): tonic (a moderate current, constant intervals set
#: by the leak), refractory-limited (a strong current: the neuron fires as soon as its
#: refractory period ends, one spike every ``refractory / dt + 1`` steps) and subtract
#: (tonic with ``v - threshold`` reset, the remainder carried over).
BEHAVIOURS = {
    "tonic": Behaviour("tonic", CubaLif(tau_mem=20.0, tau_syn=5.0, threshold=1.0,
                                        refractory=2.0),
                       current=step_current(0.15, ONSET), duration=DURATION, dt=DT),
    "refractory-limited": Behaviour(
        "refractory-limited", CubaLif(tau_mem=20.0, tau_syn=2.0, threshold=1.0,
                                      refractory=5.0),
        current=step_current(1.5, ONSET), duration=DURATION, dt=DT),
    "subtract": Behaviour("subtract", CubaLif(tau_mem=10.0, tau_syn=5.0, threshold=1.0,
                                              reset="subtract"),
                          current=step_current(0.3, ONSET), duration=DURATION, dt=DT),
}
