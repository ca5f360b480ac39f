"""spec.pack / spec.unpack: the one packer of layout words, against Amaranth's own."""

import numpy as np
import pytest
from amaranth import Shape
from amaranth.lib import data, enum

from neurofab import spec
from neurofab.spec import Region, Reset

LAYOUTS = [spec.NeuronState, spec.Profile, spec.RowPtr, spec.Synapse, spec.MemRequest,
           spec.InputEvent, spec.AerEvent, spec.RouteWrite, spec.IdentifyReply]


def _random_fields(rng, layout, n):
    """``n`` values per field, the field's extremes first."""
    out = {}
    for name, field in layout:
        shape = Shape.cast(field.shape)
        if isinstance(field.shape, type) and issubclass(field.shape, enum.Enum):
            values = [m.value for m in field.shape]
            out[name] = [values[0], values[-1]] + [int(rng.choice(values)) for _ in range(n - 2)]
            continue
        w = shape.width
        lo, hi = (-(1 << (w - 1)), (1 << (w - 1)) - 1) if shape.signed else (0, (1 << w) - 1)
        out[name] = [lo, hi] + [lo + int(rng.integers(0, 1 << 62)) % (hi - lo + 1)
                                for _ in range(n - 2)]
    return out


def _amaranth(layout, fields):
    """The word Amaranth packs (nested layouts and enums given as Amaranth wants them)."""
    init = {}
    for name, value in fields.items():
        shape = layout[name].shape
        if isinstance(shape, data.Layout):
            value = data.Const(shape, value)
        elif isinstance(shape, type) and issubclass(shape, enum.Enum):
            value = shape(value)
        init[name] = value
    return layout.const(init).as_value().value


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: str(lay.size))
def test_pack_matches_amaranth(layout):
    rng = np.random.default_rng(layout.size)
    fields = _random_fields(rng, layout, 6)
    words = spec.pack(layout, **{k: np.array(v, dtype=object) for k, v in fields.items()})
    assert words.dtype == (object if layout.size > 64 else np.uint64)
    back = spec.unpack(layout, words)
    for j in range(6):
        one = {k: v[j] for k, v in fields.items()}
        want = _amaranth(layout, one)
        assert spec.pack(layout, **one) == int(words[j]) == want
        assert spec.unpack(layout, want) == one
        assert {k: int(back[k][j]) for k in one} == one
    if layout.size <= 62:           # int64 arrays take the fast path
        fast = spec.pack(layout, **{k: np.array(v, dtype=np.int64) for k, v in fields.items()})
        assert fast.tolist() == [int(w) for w in words]


def test_pack_scalars_enums_and_missing_fields():
    word = spec.pack(spec.Profile, threshold=-3, reset=Reset.SUBTRACT)
    assert word == spec.Profile.const({"threshold": -3, "reset": Reset.SUBTRACT}).as_value().value
    assert spec.unpack(spec.Profile, word)["threshold"] == -3
    assert spec.mem_request(Region.ACC, 5, 1, 7) == spec.MemRequest.const(
        {"index": 5, "region": Region.ACC, "write": 1, "data": 7}).as_value().value
    route = spec.pack(spec.Route, mask=5, valid=1)
    assert spec.pack(spec.RouteWrite, route={"mask": 5, "valid": 1}, index=3) == \
        spec.pack(spec.RouteWrite, route=route, index=3)
    # broadcasting: scalars against arrays, shape kept
    words = spec.pack(spec.NeuronState, i=np.arange(6).reshape(2, 3), ref=1)
    assert words.shape == (2, 3) and spec.unpack(spec.NeuronState, words)["i"].shape == (2, 3)
    assert spec.pack(spec.Synapse, target=[], weight=[], delay=[]).shape == (0,)
    assert spec.unpack(spec.Synapse, [])["weight"].shape == (0,)


def test_pack_refuses_what_does_not_fit():
    with pytest.raises(ValueError, match=r"^v = 40000 does not fit its 16-bit signed field "
                                         r"\[-32768, 32767\]$"):
        spec.pack(spec.NeuronState, v=40000)
    with pytest.raises(ValueError, match=r"^ref\[2\] = 16 does not fit its 4-bit unsigned"):
        spec.pack(spec.NeuronState, ref=np.array([0, 1, 16]))
    with pytest.raises(ValueError, match=r"^unknown fields \['x'\]"):
        spec.pack(spec.NeuronState, x=1)
    with pytest.raises(TypeError, match="i must be an integer"):
        spec.pack(spec.NeuronState, i=1.5)
    with pytest.raises(TypeError, match="i must hold integers"):
        spec.pack(spec.NeuronState, i=np.array([1.0]))
