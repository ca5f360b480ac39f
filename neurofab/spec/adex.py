"""AdEx kernel formats: per-neuron state, profile, legal ranges, the exp table.

Adaptive exponential integrate-and-fire (Brette & Gerstner 2005), forward Euler, in the
units of ``docs/numerics.md`` ("Kernel: adex")::

    C dV/dt  = -g_L (V - E_L) + g_L D_T exp((V - V_T)/D_T) - w + I
    t_w dw/dt = a (V - E_L) - w;      V >= V_peak:  V <- V_reset,  w <- w + b

Design (every choice is there to fit the 80-bit profile and few multipliers):

* Voltages are stored **relative to E_L** (``E_L`` is not stored), in the voltage unit
  ``V_LSB_MV`` = ln 2 * 2**-15 mV (about 21.15 nV). This odd unit makes the exponential's
  argument a power of two: with ``D_T = 2**(DT_K0 + delta_t - 15)`` mV (0.5, 1, 2 or 4 mV),
  ``D_T * ln 2`` is exactly ``2**k`` voltage units (``k = DT_K0 + delta_t``), so
  ``exp((V - V_T)/D_T) = 2**((V - V_T) / 2**k)``: the integer part of the argument is a
  shift, its fraction indexes a 32-entry table. No multiplier for the exponential.
* ``w`` is stored as ``w / g_L`` (a voltage, same unit as ``v``), the input ``I`` arrives
  as ``I / g_L`` (``acc``, in drive units of ``2**D_SHIFT`` voltage units), so ``g_L`` is
  not stored either.
* Coefficients are precombined: ``k_m = dt/tau_m = dt g_L / C`` and ``k_w = dt/tau_w``
  (unsigned fractions), ``alpha = a / g_L``, ``beta = b / g_L`` (a voltage).
* ``V_peak = V_T + 5 D_T`` (the Brian2 AdEx convention), a constant per ``delta_t``
  (``PEAK_OFFSET``), so it is not stored.
"""

import math

from amaranth import signed, unsigned
from amaranth.lib import data

__all__ = ["STATE", "PROFILE", "LIMITS", "SILENT",
           "V_WIDTH", "W_WIDTH", "V_MIN", "V_MAX", "W_MIN", "W_MAX", "V_LSB_MV",
           "KM_WIDTH", "KM_FRAC", "KW_WIDTH", "KW_FRAC", "ALPHA_WIDTH", "ALPHA_FRAC",
           "BETA_WIDTH", "BETA_SHIFT", "VT_WIDTH", "VT_SHIFT", "VR_WIDTH", "VR_SHIFT",
           "DT_WIDTH", "DT_K0", "DELTA_T_MV",
           "D_SHIFT", "D_WIDTH", "D_MIN", "D_MAX", "D_LSB_MV",
           "E_SHIFT", "E_WIDTH", "E_MAX", "E_LSB_MV",
           "U_TOP_SHIFT", "X_SHIFT", "X_WIDTH",
           "EXP_INDEX_BITS", "EXP_FRAC", "EXP_TABLE", "EXP_LSHIFT_MAX", "EXP_RSHIFT_MAX",
           "EXP_SHIFT_BIAS", "PEAK_DELTAS", "PEAK_OFFSET"]

# --- state -----------------------------------------------------------------------------
#: ``v = V - E_L`` and ``w / g_L``, both in voltage units, two's complement.
V_WIDTH = 24
W_WIDTH = 24
V_MIN, V_MAX = -(1 << (V_WIDTH - 1)), (1 << (V_WIDTH - 1)) - 1
W_MIN, W_MAX = -(1 << (W_WIDTH - 1)), (1 << (W_WIDTH - 1)) - 1
#: One voltage unit in mV: ln 2 * 2**-15 (the s24 range is +-177.4 mV around E_L).
V_LSB_MV = math.log(2) * 2.0 ** -15

# --- profile ---------------------------------------------------------------------------
#: ``k_m = dt / tau_m`` in units of 2**-KM_FRAC (at most 0.125).
KM_WIDTH, KM_FRAC = 15, 18
#: ``k_w = dt / tau_w`` in units of 2**-KW_FRAC (at most 1/64).
KW_WIDTH, KW_FRAC = 15, 21
#: ``alpha = a / g_L``, signed, in units of 2**-ALPHA_FRAC (-4 .. 4).
ALPHA_WIDTH, ALPHA_FRAC = 12, 9
#: ``beta = b / g_L`` (spike-triggered jump of ``w``), unsigned, in 2**BETA_SHIFT
#: voltage units (0 .. 44.3 mV, step 10.8 uV).
BETA_WIDTH, BETA_SHIFT = 12, 9
#: ``v_t = V_T - E_L``, unsigned (V_T >= E_L), in 2**VT_SHIFT voltage units (step
#: 10.8 uV, 0 .. 88.7 mV): spike timing is sensitive to V_T, so it gets the finest grid.
VT_WIDTH, VT_SHIFT = 13, 9
#: ``v_r = V_reset - E_L``, signed, in 2**VR_SHIFT voltage units (step 43.3 uV,
#: -44.4 .. 44.3 mV).
VR_WIDTH, VR_SHIFT = 11, 11
#: ``delta_t`` selects D_T = 2**(DT_K0 + delta_t - 15) mV: 0.5, 1, 2, 4 mV.
DT_WIDTH, DT_K0 = 2, 14
DELTA_T_MV = tuple(2.0 ** (DT_K0 + i - 15) for i in range(1 << DT_WIDTH))

STATE = data.StructLayout({
    "v": signed(V_WIDTH),
    "w": signed(W_WIDTH),
})

PROFILE = data.StructLayout({
    "k_m": unsigned(KM_WIDTH),
    "k_w": unsigned(KW_WIDTH),
    "alpha": signed(ALPHA_WIDTH),
    "beta": unsigned(BETA_WIDTH),
    "v_t": unsigned(VT_WIDTH),
    "v_r": signed(VR_WIDTH),
    "delta_t": unsigned(DT_WIDTH),
})
assert STATE.size <= 76 and PROFILE.size <= 80


def _full(width, signed_):
    return (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed_ else (0, (1 << width) - 1)


#: Every field over its whole width: the arithmetic is defined (saturating) everywhere.
LIMITS = {name: _full(field.shape.width, field.shape.signed) for name, field in PROFILE}

#: ``k_m = 0``: ``v`` never moves from 0 < ``v_t + 5 D_T``, so it never fires.
SILENT = {"k_m": 0, "k_w": 0, "alpha": 0, "beta": 0, "v_t": 0, "v_r": 0,
          "delta_t": 0}

# --- intermediate formats --------------------------------------------------------------
# Every multiplier operand is at most 16 bits signed (one iCE40 SB_MAC16 each).
#: The drive ``D = acc - v - w + E`` (``dt / tau_m`` times it moves ``v``) is in units of
#: 2**D_SHIFT voltage units (21.66 uV), rounded once and saturated to signed D_WIDTH
#: (+-709.8 mV). ``acc`` (the input ``I / g_L``) is in the same unit.
D_SHIFT, D_WIDTH = 10, 16
D_MIN, D_MAX = -(1 << (D_WIDTH - 1)), (1 << (D_WIDTH - 1)) - 1
D_LSB_MV = V_LSB_MV * (1 << D_SHIFT)
#: The exponential term ``E`` is computed in 2**E_SHIFT voltage units (5.41 uV), unsigned
#: E_WIDTH bits, clamped to E_MAX (just above the largest drive, D_MAX + 1 - 2**-2).
E_SHIFT, E_WIDTH = 8, 17
E_MAX = (1 << E_WIDTH) - 1
E_LSB_MV = V_LSB_MV * (1 << E_SHIFT)
#: The multiplier operand of ``alpha * v`` is ``v >> U_TOP_SHIFT`` (signed 16 bits).
U_TOP_SHIFT = 8
#: ``X = alpha v - w`` (what ``k_w`` multiplies) in 2**X_SHIFT voltage units (5.41 uV),
#: rounded once and saturated to signed X_WIDTH (+-177.4 mV).
X_SHIFT, X_WIDTH = 8, 16

# --- the exponential -------------------------------------------------------------------
#: The fraction of the base-2 argument indexes a table of 2**EXP_INDEX_BITS entries.
EXP_INDEX_BITS = 5
#: Table entries hold 2**((j + 1/2)/32) / ln 2 with EXP_FRAC fraction bits (the 1/ln 2
#: turns D_T = 2**k / ln 2 voltage units into the power of two 2**k). Entry j stands for
#: the middle of its interval, so the relative error of 2**f is at most 2**(1/64) - 1.
EXP_FRAC = 14
EXP_TABLE = (23895, 24418, 24952, 25499, 26057, 26628, 27211, 27807,
             28416, 29038, 29674, 30323, 30987, 31666, 32359, 33068,
             33792, 34532, 35288, 36061, 36850, 37657, 38482, 39325,
             40186, 41066, 41965, 42884, 43823, 44782, 45763, 46765)
assert EXP_TABLE == tuple(round(2 ** ((j + 0.5) / 32) / math.log(2) * 2 ** EXP_FRAC)
                          for j in range(1 << EXP_INDEX_BITS))
#: ``E = T[j] * 2**s`` with ``s = n + delta_t - EXP_SHIFT_BIAS`` (``n`` the integer part
#: of the argument); s is clipped to [-EXP_RSHIFT_MAX, EXP_LSHIFT_MAX] (every table entry
#: shifted left by 3 exceeds E_MAX, shifted right by 16 is 0), then E is clamped to E_MAX.
EXP_SHIFT_BIAS = E_SHIFT + EXP_FRAC - DT_K0
EXP_LSHIFT_MAX = 3
EXP_RSHIFT_MAX = 16
assert min(EXP_TABLE) << EXP_LSHIFT_MAX > E_MAX and max(EXP_TABLE) >> EXP_RSHIFT_MAX == 0

# --- spike -----------------------------------------------------------------------------
#: ``V_peak = V_T + PEAK_DELTAS * D_T``: PEAK_OFFSET[delta_t] voltage units above v_t.
PEAK_DELTAS = 5
PEAK_OFFSET = (118186, 236371, 472742, 945485)
#: The peak lies strictly inside the v range, above rest: ``v' >= peak`` is the same test
#: before and after ``v'`` saturates, and ``v = 0`` never fires.
assert 0 < PEAK_OFFSET[0] and (LIMITS["v_t"][1] << VT_SHIFT) + PEAK_OFFSET[-1] < V_MAX
assert PEAK_OFFSET == tuple(round(PEAK_DELTAS * 2 ** (DT_K0 + i) / math.log(2))
                            for i in range(1 << DT_WIDTH))

#: The profile field a homeostatic offset moves, and its sign (``docs/numerics.md``,
#: "Learning"): a rising offset raises the threshold ``v_t``.
HOMEOSTASIS = ("v_t", 1)
