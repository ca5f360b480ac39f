"""Parameter checks shared by the spec, the config, the RTL and the host driver.

One wording everywhere, naming the field, the value and the limit:

* ``TypeError``:  ``"<name> must be an integer, not <value!r>"``
* ``ValueError``: ``"<name> = <value> is outside the limit [<lo>, <hi>]"`` (one-sided:
  ``"... is below the limit <lo>"``, ``"... is above the limit <hi>"``)
* ``ValueError``: ``"<name> = <value> must be a power of two in [<lo>, <hi>]"``
* ``TypeError``:  ``"<name> must hold integers, not <dtype> values"`` (arrays)
* ``ValueError``: ``"<name> has shape <shape>, expected ..."`` (arrays)

An integer is a Python ``int`` or a numpy integer scalar; ``bool`` (and ``numpy.bool_``),
floats (also integral ones such as ``8.0``, numpy floats and NaN) and strings are refused.
Every check returns the value as a plain Python ``int``.
"""

import math

import numpy as np

__all__ = ["check_int", "check_pow2", "check_bool", "check_range", "check_float",
           "check_int_array"]


def _as_int(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    return int(value)


def check_int(name, value, lo=None, hi=None):
    """``value`` as an ``int`` if it is an integer in ``[lo, hi]`` (both inclusive; a
    limit of ``None`` is no limit on that side, both ``None`` checks the type only).

    Raises ``TypeError`` for a non-integer and ``ValueError`` for an integer outside the
    limit, e.g. ``"n_inputs = -1 is outside the limit [0, 65536]"`` (one-sided:
    ``"depth = 1 is below the limit 2"``, ``"... is above the limit ..."``).
    """
    value = _as_int(name, value)
    if lo is not None and hi is not None:
        if not lo <= value <= hi:
            raise ValueError(f"{name} = {value} is outside the limit [{lo}, {hi}]")
    elif lo is not None and value < lo:
        raise ValueError(f"{name} = {value} is below the limit {lo}")
    elif hi is not None and value > hi:
        raise ValueError(f"{name} = {value} is above the limit {hi}")
    return value


def check_pow2(name, value, lo, hi):
    """``value`` as an ``int`` if it is a power of two in ``[lo, hi]``, e.g.
    ``"n_neurons = 12 must be a power of two in [2, 4096]"``."""
    value = _as_int(name, value)
    if not lo <= value <= hi or value & (value - 1):
        raise ValueError(f"{name} = {value} must be a power of two in [{lo}, {hi}]")
    return value


def check_bool(name, value):
    """``value`` if it is a ``bool`` (or ``numpy.bool_``), as a ``bool``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, not {value!r}")
    return bool(value)


def check_range(name, values, lo, hi):
    """Refuse the first element of the integer array ``values`` outside ``[lo, hi]``:
    ``"<name>[<k>] = <value> is outside the limit [<lo>, <hi>]"`` (``k`` indexes the
    flattened array). An empty array passes."""
    values = np.asarray(values)
    if values.size == 0:
        return
    bad = (values < lo) | (values > hi)
    if bad.any():
        k = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"{name}[{k}] = {int(values.ravel()[k])} is outside the limit "
                         f"[{lo}, {hi}]")


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


def check_int_array(name, value, shape, lo=None, hi=None):
    """``value`` — an integer, or an integer array of exactly ``shape`` — as an int64 array
    of ``shape``, checked against ``[lo, hi]`` (``check_range``).

    Floats (also integral ones and NaN), bools and strings are refused with a
    ``TypeError`` naming ``name``; a wrong shape with a ``ValueError`` before anything of
    ``shape`` is allocated beyond the value itself.
    """
    shape = tuple(int(n) for n in shape)
    if np.ndim(value) == 0:
        scalar = value.item() if isinstance(value, np.ndarray) else value
        if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
            scalar = value.dtype.type(scalar)
        i64 = np.iinfo(np.int64)
        v = check_int(name, scalar, i64.min if lo is None else lo,
                      i64.max if hi is None else hi)
        return np.full(shape, v, dtype=np.int64)
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, not {arr.dtype} values")
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected a scalar or {shape}")
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"{name} holds {int(arr.max())}, beyond the signed 64-bit range")
    arr = arr.astype(np.int64)
    if lo is not None and hi is not None:
        check_range(name, arr, lo, hi)
    return arr
