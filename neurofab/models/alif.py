"""Adaptive LIF (LSNN / e-prop ALIF) in physical units, its quantiser and float64
reference.

Units: times in ms; voltages in a unit of the user's choosing, "V" below (the natural
one is threshold-relative: ``threshold = 1``, the default); the synaptic current ``i``,
the ``bias`` and input currents in V/ms (what they add to ``v`` per ms). The model::

    tau_syn di/dt = -i + I(t)                     (I: input current; unit DC gain)
    dv/dt = -v / tau_mem + i + bias
    tau_adapt da/dt = -a;    theta = threshold + a
    v >= theta:  spike;  v <- v_reset (TO_VRESET) or v - theta (SUBTRACT);
                 a <- a + adapt_increment;  v frozen for ``refractory`` ms

at time step ``dt``, in the kernel's discrete form (exponential decays, the drive held
over the step, the new current acting in the same step)::

    i_t = e^(-dt/tau_syn) i_(t-1) + (1 - e^(-dt/tau_syn)) I_t
    theta_t = threshold + a_(t-1)
    v_t = e^(-dt/tau_mem) v_(t-1) + dt (i_t + bias)          (unless refractory)
    a_t = e^(-dt/tau_adapt) a_(t-1) + adapt_increment * spike_t

An e-prop ALIF (``A = v_th + beta a``, ``a <- rho a + z``) is ``threshold = v_th``,
``adapt_increment = beta``; an LSNN one (``B = b0 + beta b``, ``b <- rho b + (1 - rho) z``)
is ``threshold = b0``, ``adapt_increment = beta (1 - rho)``. The integer formats are those
of ``neurofab.spec.alif`` (``docs/numerics-alif.md``).
"""

import math
from dataclasses import dataclass

import numpy as np

from neurofab import spec as core_spec
from neurofab.spec import Reset
from neurofab.spec import alif as S

from .base import (Behaviour, Model, QuantReport, check_float, check_tau,
                   decay_of, exp_factor, fit_int, parse_reset, step_current, tau_of)
from .lif import synaptic_input

__all__ = ["AdaptiveLif", "reference", "BEHAVIOURS", "decay_of", "tau_of"]


def _fit(name, value, lo, hi, what):
    """``round(value)``, refused with a message if outside ``[lo, hi]``."""
    return fit_int(name, value, lo, hi, what, "alif")


@dataclass(frozen=True)
class AdaptiveLif(Model):
    """Current-based LIF neuron with spike-triggered threshold adaptation.

    Parameters
    ----------
    tau_mem : float, ms (>= 0; ``inf`` = no leak, 0 = memoryless)
    tau_syn : float, ms (>= 0, finite; 0 = the input current acts directly)
    tau_adapt : float, ms (> 0; ``inf`` = the adaptation never decays)
    threshold : float, V (> 0)
        Baseline threshold.
    adapt_increment : float, V (>= 0)
        Rise of the threshold per spike.
    v_reset : float, V
        ``v`` after a spike in ``TO_VRESET`` mode.
    refractory : float, ms (>= 0)
        ``v`` frozen after a spike (rounded to whole steps).
    bias : float, V/ms
        Constant drive of ``v``.
    reset : Reset or str
        ``Reset.SUBTRACT`` (default, as LSNN and e-prop: ``v - theta``) or
        ``Reset.TO_VRESET``; also ``"subtract"``, ``"to_vreset"``.
    scale : float or None
        Integer units per V. ``None``: the finest that fits ``threshold``, ``v_reset``
        and ``adapt_increment`` (the threshold becomes 1023 unless one of the others
        needs a coarser unit). Independent of ``dt``.
    """
    tau_mem: float
    tau_syn: float
    tau_adapt: float
    threshold: float = 1.0
    adapt_increment: float = 0.0
    v_reset: float = 0.0
    refractory: float = 0.0
    bias: float = 0.0
    reset: Reset = Reset.SUBTRACT
    scale: float = None

    kernel = "alif"

    def __post_init__(self):
        check_tau("tau_mem", self.tau_mem)
        check_float("tau_syn", self.tau_syn, 0)
        check_tau("tau_adapt", self.tau_adapt, lo_open=True)
        check_float("threshold", self.threshold, 0, lo_open=True)
        check_float("adapt_increment", self.adapt_increment, 0)
        check_float("v_reset", self.v_reset)
        check_float("refractory", self.refractory, 0)
        check_float("bias", self.bias)
        if self.scale is not None:
            check_float("scale", self.scale, 0, lo_open=True)
        object.__setattr__(self, "reset", parse_reset(self.reset))

    @property
    def voltage_scale(self):
        """Integer units per V (``scale``, or the finest that fits; see the class)."""
        if self.scale is not None:
            return float(self.scale)
        s = S.THRESHOLD_MAX / self.threshold
        lo, hi = S.LIMITS["v_reset"]
        if self.v_reset > 0:
            s = min(s, hi / self.v_reset)
        elif self.v_reset < 0:
            s = min(s, lo / self.v_reset)
        if self.adapt_increment > 0:
            s = min(s, S.ADAPT_INC_MAX / self.adapt_increment)
        return s

    def quantise(self, dt):
        """The integer profile at time step ``dt`` (ms) and what it represents."""
        dt = check_float("dt", dt, 0, lo_open=True)
        sc = self.voltage_scale
        notes = []
        decay_i = decay_of(self.tau_syn, dt)
        decay_v = decay_of(self.tau_mem, dt)
        decay_a = decay_of(self.tau_adapt, dt)
        if decay_a > S.DECAY_A_MAX:
            shortest = -dt / math.log1p(-(S.DECAY_A_MAX + 0.5) / core_spec.DECAY_ONE)
            raise ValueError(f"decay_a: tau_adapt = {self.tau_adapt:g} ms at dt = {dt:g} ms "
                             f"gives decay_a = {decay_a}, above {S.DECAY_A_MAX}: kernel alif "
                             f"needs tau_adapt >= {shortest:.4g} ms ({shortest / dt:.3g} dt)")
        if decay_a == 0 and not math.isinf(self.tau_adapt):
            notes.append(f"tau_adapt = {self.tau_adapt:g} ms is beyond the decay resolution "
                         f"at dt = {dt:g} ms (decay_a rounds to 0): a never decays")
        threshold = _fit("threshold", self.threshold * sc, *S.LIMITS["threshold"],
                         "threshold * scale")
        notes.append(f"voltage unit: {sc:.6g} integer units per V (threshold "
                     f"{self.threshold:g} V -> {threshold})")
        v_reset = _fit("v_reset", self.v_reset * sc, *S.LIMITS["v_reset"], "v_reset * scale")
        bias = _fit("bias", self.bias * dt * sc, *S.LIMITS["bias"],
                    f"bias * dt * scale (lower bias or pass a smaller scale than {sc:.6g})")
        refractory = _fit("refractory", self.refractory / dt, *S.LIMITS["refractory"],
                          "refractory / dt")
        if refractory * dt != self.refractory:
            notes.append(f"refractory = {self.refractory:g} ms rounded to {refractory} "
                         f"steps of {dt:g} ms")
        jump = self.adapt_increment * sc                  # in integer v units
        _fit("adapt_inc", jump, *S.LIMITS["adapt_inc"], "adapt_increment * scale")
        shift = 0                        # the finest a whose jump still fits adapt_inc
        if jump:
            shift = max(k for k in range(S.ADAPT_SHIFT_MAX + 1)
                        if round(jump * 2 ** k) <= S.ADAPT_INC_MAX)
        adapt_inc = int(round(jump * 2 ** shift))
        a_unit = 1.0 / (sc * 2 ** shift)               # one adapt_inc unit in V
        notes.append(f"the threshold rises in 1/{2 ** shift} of the integer v unit "
                     f"(adapt_shift = {shift}); it saturates at {S.THETA_MAX / sc:.4g} V, "
                     f"a at {(S.ADAPT_MAX >> S.ADAPT_FRAC_BITS) * a_unit:.4g} V")
        jump_a = adapt_inc << S.ADAPT_FRAC_BITS
        if jump_a and decay_a and jump_a * decay_a < core_spec.DECAY_ONE:
            # below 4096 / decay_a units of a, rounding toward zero takes at least one
            # unit per step: a lone jump decays linearly, faster than exp(-t/tau_adapt)
            notes.append(f"a single jump ({jump_a} units of a) is below "
                         f"{core_spec.DECAY_ONE / decay_a:.4g}, where a loses at least one "
                         f"unit per step: after an isolated spike the threshold relaxes "
                         f"faster than tau_adapt")
        params = {"decay_i": decay_i, "decay_v": decay_v, "threshold": threshold,
                  "bias": bias, "v_reset": v_reset, "reset": self.reset.value,
                  "refractory": refractory, "decay_a": decay_a, "adapt_inc": adapt_inc,
                  "adapt_shift": shift}
        values = {"tau_mem": self.tau_mem, "tau_syn": self.tau_syn,
                  "tau_adapt": self.tau_adapt, "threshold": self.threshold,
                  "adapt_increment": self.adapt_increment, "v_reset": self.v_reset,
                  "refractory": self.refractory, "bias": self.bias}
        effective = {"tau_mem": tau_of(decay_v, dt), "tau_syn": tau_of(decay_i, dt),
                     "tau_adapt": tau_of(decay_a, dt), "threshold": threshold / sc,
                     "adapt_increment": adapt_inc * a_unit, "v_reset": v_reset / sc,
                     "refractory": refractory * dt, "bias": bias / (dt * sc)}
        if decay_i:
            notes.append(f"input current I (V/ms) enters as acc = round(I * dt * scale * "
                         f"decay_i / 4096) per step (to_current): one acc unit is "
                         f"{core_spec.DECAY_ONE / (dt * sc * decay_i):.4g} V/ms")
        return QuantReport(kernel=self.kernel, dt=dt, params=params, values=values,
                           effective=effective, notes=notes)

    def to_current(self, current, dt):
        """The CUBA-LIF conversion, ``neurofab.models.lif.synaptic_input``."""
        return synaptic_input(self, current, dt)

    def to_voltage(self, v):
        """Integer ``v`` (or ``theta``) in V."""
        return np.asarray(v, dtype=np.float64) / self.voltage_scale


def reference(model, current, dt):
    """Float64 ALIF at step ``dt`` (ms): the model's discrete equations (see the module
    documentation) with exact ``exp`` factors, no rounding and no rails.

    ``current`` (V/ms) holds one value per step. Each step: ``i`` first; ``theta`` from
    the adaptation as it enters the step; if refractory, ``v`` is frozen and the counter
    runs down, else ``v`` integrates and fires at ``v >= theta``; then ``a`` decays and
    takes the spike's increment. The refractory period is ``round(refractory / dt)``
    steps.

    Returns
    -------
    (v, spikes) : float array of ``v`` (V) after each step, int array of the spiking steps
    """
    current = np.asarray(current, dtype=np.float64)
    k_s = exp_factor(model.tau_syn, dt)
    k_m = exp_factor(model.tau_mem, dt)
    k_a = exp_factor(model.tau_adapt, dt)
    n_ref = int(round(model.refractory / dt))
    subtract = model.reset == Reset.SUBTRACT
    i = v = a = 0.0
    ref = 0
    out = np.empty(len(current))
    spikes = []
    for t, x in enumerate(current):
        i = k_s * i + (1.0 - k_s) * x
        theta = model.threshold + a
        fired = False
        if ref > 0:
            ref -= 1
        else:
            v = k_m * v + dt * (i + model.bias)
            if v >= theta:
                fired = True
                v = v - theta if subtract else model.v_reset
                ref = n_ref
                spikes.append(t)
        a = k_a * a + (model.adapt_increment if fired else 0.0)
        out[t] = v
    return out, np.array(spikes, dtype=np.int64)


#: Step onset (ms), run length (ms), time step (ms) and step current (V/ms) of the
#: behaviours.
ONSET, DURATION, DT, CURRENT = 20.0, 1000.0, 1.0, 0.15


#: Two firing patterns under a step current: the same neuron without adaptation (tonic:
#: constant inter-spike intervals) and with it (adapting: intervals that lengthen, as in
#: LSNN and e-prop's ALIF).
BEHAVIOURS = {
    "tonic": Behaviour("tonic", AdaptiveLif(tau_mem=20.0, tau_syn=5.0, tau_adapt=200.0,
                                            refractory=2.0),
                       current=step_current(CURRENT, ONSET), duration=DURATION, dt=DT),
    "adapting": Behaviour("adapting", AdaptiveLif(tau_mem=20.0, tau_syn=5.0,
                                                  tau_adapt=200.0, adapt_increment=0.2,
                                                  refractory=2.0),
                          current=step_current(CURRENT, ONSET), duration=DURATION, dt=DT),
}
