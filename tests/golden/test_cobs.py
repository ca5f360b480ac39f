"""Golden COBS: reference examples, round trips (hypothesis), errors, streaming decoder."""

import pytest
from hypothesis import given, settings, strategies as st

from neurofab import spec
from neurofab.golden.link.cobs import (CobsDecoder, CobsError, CobsOversize, cobs_decode,
                                       cobs_encode, encode_frames)
from neurofab.spec import FrameStatus

NZ = bytes(range(1, 256))

#: (decoded, encoded) pairs of the COBS article's examples (minimal form).
EXAMPLES = [
    (b"", "01"),
    (b"\x00", "01 01"),
    (b"\x00\x00", "01 01 01"),
    (b"\x00\x11\x00", "01 02 11 01"),
    (b"\x11\x22\x00\x33", "03 11 22 02 33"),
    (b"\x11\x22\x33\x44", "05 11 22 33 44"),
    (b"\x11\x00\x00\x00", "02 11 01 01 01"),
    (NZ[:254], "ff " + NZ[:254].hex(" ")),
    (b"\x00" + NZ[:254], "01 ff " + NZ[:254].hex(" ")),
    (NZ, "ff " + NZ[:254].hex(" ") + " 02 ff"),
    (NZ[1:] + b"\x00", "ff " + NZ[1:].hex(" ") + " 01 01"),
    (NZ[2:] + b"\x00\x01", "fe " + NZ[2:].hex(" ") + " 02 01"),
]

# frames rich in what breaks COBS coders: zeros, and runs of non-zero bytes past 254
zero_heavy = st.lists(st.sampled_from([0, 0, 0, 1, 0xFF, 0x7E]), max_size=600).map(bytes)
long_runs = st.lists(st.tuples(st.integers(0, 600), st.integers(0, 3)), max_size=4).map(
    lambda parts: b"".join(bytes([0x5A]) * n + b"\x00" * z for n, z in parts))
frames = st.one_of(st.binary(max_size=700), zero_heavy, long_runs)


@pytest.mark.parametrize("decoded,encoded", EXAMPLES)
def test_reference_examples(decoded, encoded):
    assert cobs_encode(decoded) == bytes.fromhex(encoded)
    assert cobs_decode(bytes.fromhex(encoded)) == decoded


def test_non_minimal_form_accepted():
    # a frame ending with a full block may carry a trailing empty block
    assert cobs_decode(b"\xff" + NZ[:254] + b"\x01") == NZ[:254]


@settings(max_examples=300, deadline=None)
@given(frames)
def test_round_trip(data):
    enc = cobs_encode(data)
    assert b"\x00" not in enc
    assert len(enc) <= spec.cobs_max_encoded(len(data))
    assert cobs_decode(enc) == data
    assert cobs_decode(enc, max_len=len(data)) == data


@settings(max_examples=100, deadline=None)
@given(st.lists(frames.filter(len), max_size=5), st.integers(1, 700))
def test_streaming_decoder_matches_frames(fs, max_frame):
    tokens = CobsDecoder(max_frame).feed(b"\x00\x00" + encode_frames(fs) + b"\x00")
    out, cur = [], bytearray()
    for data, end, status in tokens:
        if end:
            out.append((bytes(cur), status))
            cur.clear()
        else:
            cur.append(data)
    assert not cur
    assert out == [(f, FrameStatus.OK) if len(f) <= max_frame else
                   (f[:max_frame], FrameStatus.OVERSIZE) for f in fs]


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.integers(1, 300))
def test_streaming_decoder_agrees_with_whole_frame_decoder(garbage, max_frame):
    """Any non-empty byte string between delimiters: same verdict both ways."""
    raw = garbage.replace(b"\x00", b"")
    if not raw:
        return
    tokens = CobsDecoder(max_frame).feed(raw + b"\x00")
    status = tokens[-1][2]
    data = bytes(t[0] for t in tokens[:-1])
    try:
        assert cobs_decode(raw, max_len=max_frame) == data and status == FrameStatus.OK
    except CobsOversize:
        assert status == FrameStatus.OVERSIZE and len(data) == max_frame
    except CobsError:
        assert status == FrameStatus.COBS


def test_errors_name_the_problem():
    with pytest.raises(CobsError, match=r"code 0x05 at offset 0 needs 4 data bytes, only 2"):
        cobs_decode(b"\x05\x01\x02")
    with pytest.raises(CobsError, match="zero byte at offset 1"):
        cobs_decode(b"\x02\x00")
    with pytest.raises(CobsOversize, match="limit 3") as exc:
        cobs_decode(b"\x05\x01\x02\x03\x04", max_len=3)
    assert exc.value.limit == 3 and exc.value.length == 4


def test_max_encoded():
    assert spec.MAX_ENCODED == spec.MAX_BODY + 3 + 1
    assert len(cobs_encode(b"\x5a" * spec.MAX_BODY)) + 1 == spec.MAX_ENCODED
