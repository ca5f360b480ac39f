"""Packing fields into the integer words of a ``StructLayout``, and back.

The one packer of the project: the RTL's memory init, the host driver, the link codec, the
co-simulation and the tests all turn layouts into words with these two functions.

A layout's first field is the least significant (``amaranth.lib.data``). A signed field
holds its value in two's complement; an enum field takes the member or its value; a field
whose shape is itself a layout takes the packed int (or, in the scalar form, a dict of its
fields). Every value is range-checked against its field — nothing is silently truncated.
"""

from collections.abc import Mapping

import numpy as np
from amaranth import Shape
from amaranth.lib import data

__all__ = ["pack", "unpack"]


def _fields(layout):
    """``(name, offset, width, signed, shape)`` of every field of ``layout``."""
    for name, field in layout:
        shape = Shape.cast(field.shape)
        yield name, field.offset, shape.width, shape.signed, field.shape


def _limits(width, signed):
    if signed:
        return -(1 << (width - 1)), (1 << (width - 1)) - 1
    return 0, (1 << width) - 1


def _fit_error(name, value, width, signed):
    lo, hi = _limits(width, signed)
    return ValueError(f"{name} = {value} does not fit its {width}-bit "
                      f"{'signed' if signed else 'unsigned'} field [{lo}, {hi}]")


def _scalar(name, value, shape):
    """A scalar field value as an int (enum member → value, sub-layout dict → packed)."""
    if isinstance(value, Mapping) and isinstance(shape, data.Layout):
        return pack(shape, **value)
    value = getattr(value, "value", value)          # an enum member
    if isinstance(value, (float, np.floating)) or not isinstance(
            value, (int, np.integer, np.bool_)):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    return int(value)


def _is_array(value):
    return isinstance(value, (np.ndarray, list, tuple))


def _check_names(layout, fields):
    names = {name for name, *_ in _fields(layout)}
    extra = set(fields) - names
    if extra:
        raise ValueError(f"unknown fields {sorted(extra)}; the layout has {sorted(names)}")


def pack(layout, **fields):
    """Pack ``fields`` into words of ``layout``; a missing field is 0.

    Scalar values give one Python ``int``. If any value is an array (numpy array, list or
    tuple) the values are broadcast against each other and the result is an array of that
    shape: ``uint64`` words for layouts of up to 64 bits, an object array of Python ints
    for wider ones. Raises ``ValueError`` naming the field (and the index of an array
    element), the value and the field's range for a value that doesn't fit, ``TypeError``
    for a non-integer value.
    """
    _check_names(layout, fields)
    if not any(_is_array(v) for v in fields.values()):
        word = 0
        for name, offset, width, signed, shape in _fields(layout):
            if name not in fields:
                continue
            value = _scalar(name, fields[name], shape)
            lo, hi = _limits(width, signed)
            if not lo <= value <= hi:
                raise _fit_error(name, value, width, signed)
            word |= (value & ((1 << width) - 1)) << offset
        return word

    wide = layout.size > 64
    arrays = {name: np.asarray(v) for name, v in fields.items()}
    out_shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    word = np.zeros(out_shape, dtype=object if wide else np.uint64)
    for name, offset, width, signed, shape in _fields(layout):
        if name not in arrays:
            continue
        arr = arrays[name]
        if arr.dtype.kind == "f" and arr.size == 0:     # np.asarray([])
            arr = arr.astype(np.int64)
        if arr.dtype.kind == "f":
            raise TypeError(f"{name} must hold integers, not {arr.dtype}")
        big = arr.dtype == object or arr.dtype == np.uint64 or width > 62 or wide
        if arr.dtype == object:
            arr = np.frompyfunc(lambda v: _scalar(name, v, shape), 1, 1)(arr)
        elif arr.dtype.kind not in "iub":
            raise TypeError(f"{name} must hold integers, not {arr.dtype}")
        if big:
            arr = arr.astype(object)
        else:
            arr = arr.astype(np.int64)
        lo, hi = _limits(width, signed)
        bad = (arr < lo) | (arr > hi)
        if np.any(bad):
            k = int(np.flatnonzero(np.ravel(bad))[0])
            raise _fit_error(f"{name}[{k}]", int(np.ravel(arr)[k]), width, signed)
        mask = (1 << width) - 1
        if big:
            part = (arr & mask) << offset
            part = part if wide else part.astype(np.uint64)
        else:
            part = (arr & mask).astype(np.uint64) << np.uint64(offset)
        word = word | part
    return word


def unpack(layout, words):
    """The fields of ``layout`` in ``words``: the inverse of :func:`pack`.

    ``words`` is one int (gives a dict of ints) or an array-like of non-negative words
    (numpy integers, or Python ints of any width in an object array or list; gives a dict
    of ``int64`` arrays of the same shape — an object array for a field wider than 63
    bits). Signed fields are sign-extended; enum fields give their integer value; bits
    above ``layout.size`` are ignored.
    """
    if isinstance(words, (int, np.integer)) and not isinstance(words, (bool, np.bool_)):
        words = int(words)
        out = {}
        for name, offset, width, signed, _ in _fields(layout):
            value = (words >> offset) & ((1 << width) - 1)
            if signed and value >> (width - 1):
                value -= 1 << width
            out[name] = value
        return out
    arr = np.asarray(words)
    if arr.dtype.kind == "f" and arr.size == 0:         # np.asarray([])
        arr = arr.astype(np.uint64)
    if arr.dtype.kind == "f":
        raise TypeError(f"words must be integers, not {arr.dtype}")
    big = arr.dtype == object or layout.size > 64
    arr = arr.astype(object) if big else arr.astype(np.uint64)
    out = {}
    for name, offset, width, signed, _ in _fields(layout):
        mask = (1 << width) - 1
        if big:
            value = (arr >> offset) & mask
            value = value.astype(object if width > 63 else np.int64)
        else:
            value = ((arr >> np.uint64(offset)) & np.uint64(mask)).astype(np.int64)
        if signed:
            value = np.where(value >> (width - 1), value - (1 << width), value)
        out[name] = value
    return out
