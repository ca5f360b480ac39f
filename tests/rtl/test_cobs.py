"""RTL CobsEncoder / CobsDecoder vs golden COBS, byte for byte, with gaps and back-pressure."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from neurofab import spec
from neurofab.cosim.streams import get, put_all
from neurofab.golden.link.cobs import CobsDecoder as GoldenDecoder, cobs_decode, cobs_encode, \
    encode_frames
from neurofab.rtl.link.cobs import CobsDecoder, CobsEncoder
from neurofab.spec import FrameStatus


def frame_zoo(rng, n_random=30, max_len=300):
    """Edge cases around the 254-byte block rule, then random frames of mixed zero density."""
    nz = lambda n: rng.integers(1, 256, n, dtype=np.uint8).tobytes()   # noqa: E731
    frames = [b"\x00", b"\x00\x00", b"\x01", b"\x00\x11\x00", b"\x11\x22\x00\x33",
              nz(253), nz(254), nz(255), nz(254) + b"\x00", nz(508), nz(254) + nz(254),
              b"\x00" + nz(254), nz(254) + b"\x00" + nz(254), nz(3) + b"\x00" * 5 + nz(300)]
    for _ in range(n_random):
        n = int(rng.integers(1, max_len))
        density = rng.choice([0.0, 0.01, 0.3, 0.9])
        f = rng.integers(1, 256, n, dtype=np.uint8)
        f[rng.random(n) < density] = 0
        frames.append(f.tobytes())
    return frames


async def drain(ctx, out, n, patience=2000):
    """After the input: let the output drain (at most ``patience`` idle cycles)."""
    idle, seen = 0, len(out)
    while len(out) < n and idle < patience:
        await ctx.tick()
        idle = 0 if len(out) != seen else idle + 1
        seen = len(out)
    await ctx.tick().repeat(20)          # nothing more may come


# --- encoder ---------------------------------------------------------------------------
def run_encoder(frames, *, seed, gap, stall):
    dut = CobsEncoder()
    rng = np.random.default_rng(seed)
    items = [{"data": b, "last": int(k == len(f) - 1)} for f in frames for k, b in enumerate(f)]
    expected = encode_frames(frames)
    out = []

    async def producer(ctx):
        await put_all(ctx, dut.i_stream, items, rng=rng, gap=gap)
        await drain(ctx, out, len(expected))

    async def consumer(ctx):
        while True:
            out.append(await get(ctx, dut.o_stream, rng=rng, stall=stall))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer, background=True)
    sim.run()
    return bytes(out), expected


@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.4, 0.4)])
def test_encoder_is_golden(gap, stall):
    frames = frame_zoo(np.random.default_rng(1), n_random=20)
    got, expected = run_encoder(frames, seed=2, gap=gap, stall=stall)
    assert got == expected
    # and the golden encoding is what the decoder inverts
    assert [cobs_decode(f) for f in expected.split(b"\x00")[:-1]] == frames


# --- decoder ---------------------------------------------------------------------------
def run_decoder(stream, *, max_frame=spec.MAX_BODY, seed, gap, stall):
    dut = CobsDecoder(max_frame=max_frame)
    rng = np.random.default_rng(seed)
    expected = GoldenDecoder(max_frame).feed(stream)
    out = []

    async def producer(ctx):
        await put_all(ctx, dut.i_stream, list(stream), rng=rng, gap=gap)
        await drain(ctx, out, len(expected))

    async def consumer(ctx):
        while True:
            p = await get(ctx, dut.o_stream, rng=rng, stall=stall)
            out.append((p.data, p.end, FrameStatus(p.status)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer, background=True)
    sim.run()
    return out, expected


def frames_of(tokens):
    """(frame bytes, status) per end token."""
    frames, cur = [], bytearray()
    for data, end, status in tokens:
        if end:
            frames.append((bytes(cur), status))
            cur = bytearray()
        else:
            cur.append(data)
    return frames


@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.3, 0.5)])
def test_decoder_is_golden_on_valid_frames(gap, stall):
    frames = frame_zoo(np.random.default_rng(3), n_random=20)
    stream = b"\x00" + encode_frames(frames) + b"\x00\x00"     # extra delimiters: no frames
    got, expected = run_decoder(stream, seed=4, gap=gap, stall=stall)
    assert got == expected
    assert frames_of(got) == [(f, FrameStatus.OK) for f in frames]


def test_decoder_garbage_truncated_oversized():
    rng = np.random.default_rng(5)
    max_frame = 40
    good = [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in (1, 17, 40)]
    enc = [cobs_encode(f) for f in good]
    parts = [
        enc[1][:5] + b"\x00",                          # cut short by a delimiter: COBS
        enc[0] + b"\x00",
        b"\x05\x01\x02\x00",                           # block of 4 with 2 bytes: COBS
        enc[2] + b"\x00",                              # exactly max_frame: OK
        cobs_encode(bytes(range(1, 60))) + b"\x00",    # 59 > 40: OVERSIZE
        cobs_encode(b"\x00" * 41) + b"\x00",           # 41 zeros: OVERSIZE
        b"\xff" + bytes(range(1, 60)) + b"\x00",       # oversized and truncated: OVERSIZE
        b"\x01\x00",                                   # empty frame: OK, no bytes
        rng.integers(0, 256, 400, dtype=np.uint8).tobytes(),   # garbage
        b"\x00" + enc[1] + b"\x00",                    # and a good frame after it all
    ]
    stream = b"".join(parts)
    got, expected = run_decoder(stream, max_frame=max_frame, seed=6, gap=0.2, stall=0.3)
    assert got == expected
    frames = frames_of(got)
    assert frames[:8] == [
        (frames[0][0], FrameStatus.COBS),
        (good[0], FrameStatus.OK),
        (b"\x01\x02", FrameStatus.COBS),
        (good[2], FrameStatus.OK),
        (bytes(range(1, 41)), FrameStatus.OVERSIZE),
        (b"\x00" * 40, FrameStatus.OVERSIZE),
        (bytes(range(1, 41)), FrameStatus.OVERSIZE),
        (b"", FrameStatus.OK),
    ]
    assert frames[-1] == (good[1], FrameStatus.OK)


def test_decoder_random_bytes_bit_true():
    """Arbitrary input (zero-heavy random bytes between valid frames, so many short frames
    of every kind): RTL == golden, token for token."""
    rng = np.random.default_rng(7)
    parts = []
    for _ in range(40):
        junk = rng.integers(0, 256, int(rng.integers(0, 40)), dtype=np.uint8)
        junk[rng.random(junk.size) < 0.1] = 0
        junk[rng.random(junk.size) < 0.1] = 1
        frame = rng.integers(0, 256, int(rng.integers(1, 30)), dtype=np.uint8).tobytes()
        parts += [junk.tobytes(), b"\x00", cobs_encode(frame), b"\x00"]
    got, expected = run_decoder(b"".join(parts), max_frame=24, seed=8, gap=0.1, stall=0.1)
    assert got == expected
    statuses = {s for _, end, s in got if end}
    assert statuses == {FrameStatus.OK, FrameStatus.COBS, FrameStatus.OVERSIZE}


def test_encoder_to_decoder_loopback():
    frames = frame_zoo(np.random.default_rng(9), n_random=5)
    wire, _ = run_encoder(frames, seed=10, gap=0.1, stall=0.1)
    got, _ = run_decoder(wire, seed=11, gap=0.1, stall=0.1)
    assert frames_of(got) == [(f, FrameStatus.OK) for f in frames]


def test_parameters_validated():
    with pytest.raises(ValueError, match=r"^max_frame = 0 is below the limit 1$"):
        CobsDecoder(max_frame=0)
    with pytest.raises(TypeError, match=r"^max_frame must be an integer, not 12\.5$"):
        CobsDecoder(max_frame=12.5)


DUTS = lambda: [CobsDecoder(), CobsEncoder()]  # noqa: E731


def test_converts_to_verilog():
    from amaranth.back import verilog
    for dut in DUTS():
        assert "module top" in verilog.convert(dut, name="top")
