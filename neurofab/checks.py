"""Parameter checks shared by the spec, the config, the RTL and the host driver.

One wording everywhere, naming the field, the value and the limit:

* ``TypeError``:  ``"<name> must be an integer, not <value!r>"``
* ``ValueError``: ``"<name> = <value> is outside the limit [<lo>, <hi>]"`` (one-sided:
  ``"... is below the limit <lo>"``, ``"... is above the limit <hi>"``)
* ``ValueError``: ``"<name> = <value> must be a power of two in [<lo>, <hi>]"``

An integer is a Python ``int`` or a numpy integer scalar; ``bool`` (and ``numpy.bool_``),
floats (also integral ones such as ``8.0``, numpy floats and NaN) and strings are refused.
Every check returns the value as a plain Python ``int``.
"""

import numpy as np

__all__ = ["check_int", "check_pow2", "check_bool", "check_range"]


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
