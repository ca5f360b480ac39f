"""AdEx (Brette & Gerstner 2005) in physical units, its quantiser, float64 reference and
the firing patterns of Naud, Marcille, Clopath & Gerstner (2008, Table 1).

Units: C in pF, g_L and a in nS, voltages in mV, tau_w and dt in ms, b and currents in pA
(pA / nS = mV, pF / nS = ms). The integer formats are those of ``neurofab.spec.adex``
(``docs/numerics-adex.md``).
"""

import math
from dataclasses import dataclass

import numpy as np

from neurofab.spec import adex as S

from .base import (Behaviour, Model, QuantReport, check_float, fit_int,
                   quantise_current, step_current)

__all__ = ["AdEx", "reference", "BEHAVIOURS", "NAUD_2008"]


def _int_in(name, value, lo, hi, what):
    """``round(value)``, refused with a message if outside ``[lo, hi]``."""
    return fit_int(name, value, lo, hi, what, "adex")


@dataclass(frozen=True)
class AdEx(Model):
    """Adaptive exponential integrate-and-fire neuron.

    ``C dV/dt = -g_L (V - E_L) + g_L Delta_T exp((V - V_T)/Delta_T) - w + I``,
    ``tau_w dw/dt = a (V - E_L) - w``; at ``V >= V_peak``: ``V <- V_reset``, ``w <- w + b``.

    Parameters
    ----------
    C : float, pF (> 0)
    g_L : float, nS (> 0)
    E_L, V_T : float, mV (the kernel needs E_L <= V_T < E_L + 88.7 mV)
    Delta_T : float, mV (> 0; the kernel uses the nearest of 0.5, 1, 2, 4 mV)
    a : float, nS
    tau_w : float, ms (> 0)
    b : float, pA (>= 0)
    V_reset : float, mV
    V_peak : float or None, mV
        ``None`` means ``V_T + 5 Delta_T``, the only value the kernel represents.
    """
    C: float
    g_L: float
    E_L: float
    V_T: float
    Delta_T: float
    a: float
    tau_w: float
    b: float
    V_reset: float
    V_peak: float = None

    kernel = "adex"

    def __post_init__(self):
        check_float("C", self.C, 0, lo_open=True)
        check_float("g_L", self.g_L, 0, lo_open=True)
        check_float("E_L", self.E_L)
        check_float("V_T", self.V_T)
        check_float("Delta_T", self.Delta_T, 0, lo_open=True)
        check_float("a", self.a)
        check_float("tau_w", self.tau_w, 0, lo_open=True)
        check_float("b", self.b, 0)
        check_float("V_reset", self.V_reset)
        if self.V_peak is not None:
            check_float("V_peak", self.V_peak, self.V_T, lo_open=True)

    @property
    def v_peak(self):
        """``V_peak`` in mV (``V_T + 5 Delta_T`` unless given)."""
        if self.V_peak is None:
            return self.V_T + S.PEAK_DELTAS * self.Delta_T
        return float(self.V_peak)

    def quantise(self, dt):
        """The integer profile at time step ``dt`` (ms) and what it represents."""
        dt = check_float("dt", dt, 0, lo_open=True)
        unit_vt = S.V_LSB_MV * (1 << S.VT_SHIFT)
        unit_vr = S.V_LSB_MV * (1 << S.VR_SHIFT)
        unit_beta = S.V_LSB_MV * (1 << S.BETA_SHIFT)
        notes = []
        tau_m = self.C / self.g_L
        k_m = _int_in("k_m", dt / tau_m * 2 ** S.KM_FRAC, 1, S.LIMITS["k_m"][1],
                      f"dt/tau_m * 2**{S.KM_FRAC} (tau_m = C/g_L = {tau_m:g} ms)")
        k_w = _int_in("k_w", dt / self.tau_w * 2 ** S.KW_FRAC, 1, S.LIMITS["k_w"][1],
                      f"dt/tau_w * 2**{S.KW_FRAC} (tau_w = {self.tau_w:g} ms)")
        alpha = _int_in("alpha", self.a / self.g_L * 2 ** S.ALPHA_FRAC, *S.LIMITS["alpha"],
                        f"a/g_L * 2**{S.ALPHA_FRAC}")
        beta = _int_in("beta", self.b / self.g_L / unit_beta, *S.LIMITS["beta"],
                       f"b/g_L / {unit_beta:.4g} mV")
        v_t = _int_in("v_t", (self.V_T - self.E_L) / unit_vt, *S.LIMITS["v_t"],
                      f"(V_T - E_L) / {unit_vt:.4g} mV")
        v_r = _int_in("v_r", (self.V_reset - self.E_L) / unit_vr, *S.LIMITS["v_r"],
                      f"(V_reset - E_L) / {unit_vr:.4g} mV")
        grid = S.DELTA_T_MV
        delta_t = min(range(len(grid)), key=lambda i: abs(math.log(grid[i] / self.Delta_T)))
        if grid[delta_t] != self.Delta_T:
            notes.append(f"Delta_T = {self.Delta_T:g} mV forced onto the grid "
                         f"{{{', '.join(f'{g:g}' for g in grid)}}} mV: {grid[delta_t]:g} mV")
        v_t_eff = self.E_L + v_t * unit_vt
        v_peak_eff = v_t_eff + S.PEAK_OFFSET[delta_t] * S.V_LSB_MV
        if self.V_peak is not None and not math.isclose(self.V_peak,
                                                        self.V_T + 5 * self.Delta_T):
            notes.append(f"V_peak = {self.V_peak:g} mV is not representable: the kernel "
                         f"fires at V_T + 5 Delta_T = {v_peak_eff:.4g} mV")
        params = {"k_m": k_m, "k_w": k_w, "alpha": alpha, "beta": beta, "v_t": v_t,
                  "v_r": v_r, "delta_t": delta_t}
        values = {"C": self.C, "g_L": self.g_L, "E_L": self.E_L, "V_T": self.V_T,
                  "Delta_T": self.Delta_T, "a": self.a, "tau_w": self.tau_w, "b": self.b,
                  "V_reset": self.V_reset, "V_peak": self.v_peak}
        effective = {"C": dt * self.g_L / (k_m / 2 ** S.KM_FRAC), "g_L": self.g_L,
                     "E_L": self.E_L, "V_T": v_t_eff, "Delta_T": grid[delta_t],
                     "a": alpha / 2 ** S.ALPHA_FRAC * self.g_L,
                     "tau_w": dt / (k_w / 2 ** S.KW_FRAC),
                     "b": beta * unit_beta * self.g_L,
                     "V_reset": self.E_L + v_r * unit_vr, "V_peak": v_peak_eff}
        notes.append("E_L and g_L are exact: voltages are stored relative to E_L, w and "
                     "the input current in units of g_L")
        return QuantReport(kernel=self.kernel, dt=dt, params=params, values=values,
                           effective=effective, notes=notes)

    def to_current(self, current, dt):
        """Input current (pA, one value per step) as the integer ``acc`` of each step:
        ``round(I / g_L / D_LSB_MV)`` (the current holds for the whole step, so ``dt``
        does not enter). Refuses a value outside the accumulator's s24 range."""
        check_float("dt", dt, 0, lo_open=True)
        return quantise_current(current, 1.0 / (self.g_L * S.D_LSB_MV), "pA")

    def to_voltage(self, v):
        """Integer ``v`` (voltage units relative to E_L) as absolute mV."""
        return self.E_L + np.asarray(v, dtype=np.float64) * S.V_LSB_MV


def reference(model, current, dt):
    """Float64 forward Euler of the AdEx equations at step ``dt`` (ms), true ``exp``.

    ``current`` (pA) holds one value per step. Each step: ``dV`` and ``dw`` from the old
    ``(V, w)``; ``V += dV``, ``w += dw``; if ``V >= V_peak``: ``V = V_reset``, ``w += b``.

    Returns
    -------
    (v, spikes) : float array of V (mV) after each step, int array of the spiking steps
    """
    current = np.asarray(current, dtype=np.float64)
    C, g_L, E_L, V_T = model.C, model.g_L, model.E_L, model.V_T
    D_T, a, tau_w, b, V_r, V_p = (model.Delta_T, model.a, model.tau_w, model.b,
                                  model.V_reset, model.v_peak)
    V, w = E_L, 0.0
    out = np.empty(len(current))
    spikes = []
    for t, i in enumerate(current):
        dv = dt / C * (-g_L * (V - E_L) + g_L * D_T * math.exp((V - V_T) / D_T) - w + i)
        dw = dt / tau_w * (a * (V - E_L) - w)
        V += dv
        w += dw
        if V >= V_p:
            V = V_r
            w += b
            spikes.append(t)
        out[t] = V
    return out, np.array(spikes, dtype=np.int64)


#: Naud et al. 2008, Table 1: (C pF, g_L nS, E_L mV, V_T mV, Delta_T mV, a nS, tau_w ms,
#: b pA, V_reset mV, step current pA).
NAUD_2008 = {
    "tonic": (200, 10, -70, -50, 2, 2, 30, 0, -58, 500),
    "adapting": (200, 12, -70, -50, 2, 2, 300, 60, -58, 500),
    "initial burst": (130, 18, -58, -50, 2, 4, 150, 120, -50, 400),
    "regular bursting": (200, 10, -58, -50, 2, 2, 120, 100, -46, 210),
    "delayed accelerating": (200, 12, -70, -50, 2, -10, 300, 0, -58, 300),
    "delayed regular bursting": (100, 10, -65, -50, 2, -10, 90, 30, -47, 110),
    "transient": (100, 10, -65, -50, 2, 10, 90, 100, -47, 180),
    "irregular": (100, 12, -60, -50, 2, -11, 130, 30, -48, 160),
}

#: Step onset (ms), run length (ms) and time step (ms) of every behaviour.
ONSET, DURATION, DT = 10.0, 500.0, 0.1


BEHAVIOURS = {
    name: Behaviour(name, AdEx(*p[:9]), current=step_current(float(p[9]), ONSET),
                    duration=DURATION, dt=DT)
    for name, p in NAUD_2008.items()
}
