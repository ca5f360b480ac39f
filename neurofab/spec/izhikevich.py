"""Izhikevich kernel formats: per-neuron state, profile, legal ranges, the fixed constants.

Izhikevich (2003), in the units of the paper (v in mV, t in ms, u and I in mV/ms)::

    v' = 0.04 v^2 + 5 v + 140 - u + I
    u' = a (b v - u);          v >= 30 mV:  v <- c,  u <- u + d

``docs/numerics.md`` ("Kernel: izhikevich") states the integer update; this module holds
its numbers.

Design (one 16x16 square per ``v`` half-step, no constant multiplier):

* **Time step** ``DT_MS`` = 1 ms, as in Izhikevich's network code: ``v`` takes two
  explicit Euler half-steps of 0.5 ms, ``u`` one step of 1 ms from the *old* ``v``;
  ``u`` and the input ``I`` hold during both half-steps.
* **Voltage unit** ``V_LSB_MV`` = 100/16384 mV (6.1 uV): 16384 units are 100 mV. In
  this unit the quadratic term of a half-step, ``0.5 ms * 0.04 v^2``, is exactly
  ``v_int^2 / 2**13``: one square and a shift. ``v`` is signed 16 bits; the arithmetic
  clamps it to ``[V_FLOOR, V_MAX]`` = [-100 mV, +200 mV) after every half-step (the
  floor keeps the half-step stable, see the docs).
* **Recovery** ``u`` (mV/ms) has 8 more fraction bits than ``v`` (``U_SHIFT``), signed
  24 bits (+-200 mV/ms), so that ``a (b v - u)`` does not stall in a dead zone.
* **Current** ``I`` (``acc + bias``, mV/ms) is in voltage units per ms, saturated to
  signed 16 bits (+-200 mV/ms) before use.
* **Peak** 30 mV is the fixed ``V_PEAK`` = 4916 (the least ``v_int`` with
  ``v_int * V_LSB_MV >= 30``), not a parameter.
"""

from fractions import Fraction

from amaranth import signed, unsigned
from amaranth.lib import data

__all__ = ["STATE", "PROFILE", "LIMITS", "SILENT",
           "DT_MS", "HALF_STEPS", "V_LSB_MV", "V_PER_MV",
           "V_WIDTH", "V_MIN", "V_MAX", "V_FLOOR", "V_PEAK",
           "U_WIDTH", "U_MIN", "U_MAX", "U_SHIFT",
           "I_WIDTH", "I_MIN", "I_MAX",
           "A_WIDTH", "A_FRAC", "B_WIDTH", "B_FRAC", "D_WIDTH", "D_SHIFT",
           "HALF_SHIFT", "V_COEF", "U_COEF", "I_COEF", "K140", "K_HALF",
           "X_WIDTH", "X_MIN", "X_MAX", "DU_SHIFT"]

# --- time --------------------------------------------------------------------------------
#: One update is 1 ms: two ``v`` half-steps of 0.5 ms and one ``u`` step of 1 ms.
DT_MS = 1.0
HALF_STEPS = 2

# --- voltage -----------------------------------------------------------------------------
#: Voltage unit: 100/16384 mV. ``V_PER_MV`` units make one mV.
V_LSB_MV = 100 / 16384
V_PER_MV = 16384 / 100
V_WIDTH = 16
V_MIN, V_MAX = -(1 << (V_WIDTH - 1)), (1 << (V_WIDTH - 1)) - 1
#: After every half-step ``v`` is clamped to [V_FLOOR, V_MAX]: -100 mV .. +199.99 mV.
V_FLOOR = -16384
#: Spike when ``v >= V_PEAK`` after the second half-step: the first unit at or above 30 mV.
V_PEAK = 4916
assert (V_PEAK - 1) * V_LSB_MV < 30 <= V_PEAK * V_LSB_MV
assert V_FLOOR * V_LSB_MV == -100

# --- recovery ----------------------------------------------------------------------------
#: ``u`` in units of ``V_LSB_MV / 2**U_SHIFT`` (mV/ms), signed ``U_WIDTH``: +-200 mV/ms.
U_SHIFT = 8
U_WIDTH = 24
U_MIN, U_MAX = -(1 << (U_WIDTH - 1)), (1 << (U_WIDTH - 1)) - 1

# --- input current -----------------------------------------------------------------------
#: ``I = sat(acc + bias)`` to signed ``I_WIDTH`` bits, in ``V_LSB_MV`` per ms (+-200 mV/ms).
I_WIDTH = 16
I_MIN, I_MAX = -(1 << (I_WIDTH - 1)), (1 << (I_WIDTH - 1)) - 1

# --- profile -----------------------------------------------------------------------------
#: ``a`` holds ``a * DT_MS`` in units of 2**-A_FRAC (0 .. 0.49998 per step).
A_WIDTH, A_FRAC = 15, 16
#: ``b`` in units of 2**-B_FRAC, signed (-2 .. 1.99994).
B_WIDTH, B_FRAC = 16, 14
#: ``d`` (added to ``u`` at a spike) in units of ``V_LSB_MV / 2**D_SHIFT`` mV/ms,
#: signed (-12.5 .. 12.4998 mV/ms, step 0.38 uV/ms); ``u += d << (U_SHIFT - D_SHIFT)``.
D_WIDTH, D_SHIFT = 16, 4
assert D_SHIFT <= U_SHIFT

STATE = data.StructLayout({
    "v": signed(V_WIDTH),
    "u": signed(U_WIDTH),
})

#: ``c`` (reset voltage) is in voltage units, ``bias`` (a constant current added to
#: ``acc``) in current units (``V_LSB_MV`` per ms).
PROFILE = data.StructLayout({
    "a": unsigned(A_WIDTH),
    "b": signed(B_WIDTH),
    "c": signed(V_WIDTH),
    "d": signed(D_WIDTH),
    "bias": signed(I_WIDTH),
})
assert STATE.size <= 76 and PROFILE.size <= 80

#: Every field over its whole width except ``c``: a reset voltage lies in
#: [V_FLOOR, V_PEAK - 1], so that every stored ``v`` is in [V_FLOOR, V_PEAK - 1].
LIMITS = {
    "a": (0, (1 << A_WIDTH) - 1),
    "b": (-(1 << (B_WIDTH - 1)), (1 << (B_WIDTH - 1)) - 1),
    "c": (V_FLOOR, V_PEAK - 1),
    "d": (-(1 << (D_WIDTH - 1)), (1 << (D_WIDTH - 1)) - 1),
    "bias": (I_MIN, I_MAX),
}

#: ``a = b = 0`` freezes ``u`` at 0; without input ``v`` rests at the stable root of
#: ``0.04 v^2 + 5 v + 140`` (-82.7 mV) and never fires (``golden.izhikevich.is_silent``).
SILENT = {"a": 0, "b": 0, "c": -10650, "d": 0, "bias": 0}

# --- the half-step, in units of 2**-HALF_SHIFT voltage units ---------------------------
#: ``v1 = clamp((v*v + V_COEF*v + K_HALF - U_COEF*u + I_COEF*I) >> HALF_SHIFT)``: the
#: terms are ``v + 0.5 ms * (0.04 v^2 + 5 v + 140 - u + I)`` times 2**HALF_SHIFT, plus
#: half a voltage unit (in ``K_HALF``) so that the shift rounds to nearest (half up).
HALF_SHIFT = 13
V_COEF = (1 << HALF_SHIFT) + 5 * (1 << HALF_SHIFT) // 2      # (1 + 0.5 * 5) * 2**13
U_COEF = (1 << HALF_SHIFT) // 2 >> U_SHIFT                   # 0.5 * 2**13 / 2**8
I_COEF = (1 << HALF_SHIFT) // 2                              # 0.5 * 2**13
#: 0.5 ms * 140 mV/ms in units of 2**-13 voltage units, rounded (93952409.6).
K140 = round(0.5 * 140 * V_PER_MV * (1 << HALF_SHIFT))
#: The constant term of a half-step: ``K140`` plus the rounding half, 2**(HALF_SHIFT - 1).
K_HALF = K140 + (1 << (HALF_SHIFT - 1))
assert (V_COEF, U_COEF, I_COEF, K140, K_HALF) == (28672, 16, 4096, 93952410, 93956506)
# 0.5 ms * 0.04 / (mV ms) * v^2 is exactly v_int^2 / 2**HALF_SHIFT voltage units:
assert Fraction(1, 2) * Fraction(4, 100) * Fraction(100, 16384) * (1 << HALF_SHIFT) == 1

# --- the u step --------------------------------------------------------------------------
#: ``x = clamp(((b*v) >> B_FRAC) - (u >> U_SHIFT))`` (``b v - u`` in voltage units, each
#: term floored, signed ``X_WIDTH``), then ``u += (a*x) >> DU_SHIFT``.
X_WIDTH = 16
X_MIN, X_MAX = -(1 << (X_WIDTH - 1)), (1 << (X_WIDTH - 1)) - 1
DU_SHIFT = A_FRAC - U_SHIFT

#: The profile field a homeostatic offset moves, and its sign (``docs/numerics.md``,
#: "Learning"): a rising offset lowers the drive ``bias``.
HOMEOSTASIS = ("bias", -1)
