"""Host codec: frames (round trips, incremental decoding, every error), commands and replies,
event records, memory words — and docs/protocol.md's tables and hex dumps."""

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neurofab import spec
from neurofab.golden.link.cobs import CobsDecoder, cobs_encode
from neurofab.golden.link.crc import crc16
from neurofab.host import codec
from neurofab.spec import Counter, FrameStatus, Nak, Opcode, Region

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"

OPCODES = sorted({op.value for op in Opcode} | {op.value | 0x80 for op in Opcode} | {0xFF})
zero_heavy = st.lists(st.sampled_from([0, 0, 0, 1, 0xFF]), max_size=spec.MAX_PAYLOAD).map(bytes)
long_runs = st.lists(st.tuples(st.integers(0, 300), st.integers(0, 2)), max_size=3).map(
    lambda parts: b"".join(b"\x77" * n + b"\x00" * z for n, z in parts)[:spec.MAX_PAYLOAD])
payloads = st.one_of(st.binary(max_size=spec.MAX_PAYLOAD), zero_heavy, long_runs)


# --- frames ------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.sampled_from(OPCODES), st.integers(0, 255), payloads)
def test_frame_round_trip(opcode, seq, payload):
    wire = codec.encode_frame(opcode, seq, payload)
    assert wire.endswith(b"\x00") and b"\x00" not in wire[:-1]
    assert len(wire) <= spec.MAX_ENCODED
    body = codec.frame_body(opcode, seq, payload)
    assert body[:2] == bytes([opcode, seq]) and crc16(body) == spec.CRC16.residue
    assert codec.decode_frame(wire) == codec.Frame(opcode, seq, payload)
    assert codec.decode_frame(wire[:-1]) == codec.Frame(opcode, seq, payload)


def test_frame_limits():
    codec.encode_frame(0x05, 0, bytes(spec.MAX_PAYLOAD))
    with pytest.raises(ValueError, match="509 bytes exceeds the limit of 508"):
        codec.encode_frame(0x05, 0, bytes(spec.MAX_PAYLOAD + 1))
    with pytest.raises(ValueError, match="seq = 256 is not a byte"):
        codec.encode_frame(0x05, 256)
    with pytest.raises(ValueError, match="opcode = -1"):
        codec.encode_frame(-1, 0)


def test_decode_errors_name_the_problem():
    good = codec.frame_body(0x01, 7, b"\x10\x20")
    bad = good[:-1] + bytes([good[-1] ^ 0x01])
    with pytest.raises(codec.CrcError) as exc:
        codec.decode_frame(cobs_encode(bad))
    e = exc.value
    assert (e.expected, e.got, e.opcode, e.seq) == (crc16(good[:-2]), crc16(good[:-2]) ^ 1, 1, 7)
    assert f"expected {e.expected:#06x}, got {e.got:#06x}" in str(e)

    with pytest.raises(codec.TruncatedFrame, match="body is 3 bytes, a frame needs at least 4"):
        codec.decode_frame(cobs_encode(b"\x01\x02\x03"))
    with pytest.raises(codec.OversizedFrame, match="exceeds the limit of 512"):
        codec.decode_frame(cobs_encode(bytes(600)))
    with pytest.raises(codec.OversizedFrame, match="limit of 10"):
        codec.decode_frame(codec.encode_frame(1, 0, bytes(7)), max_body=10)
    with pytest.raises(codec.CobsFrameError, match="code 0x09 at offset 0 needs 8 data bytes"):
        codec.decode_frame(b"\x09\x01\x02\x03\x00")
    unknown = codec.frame_body(0x7E, 9)
    with pytest.raises(codec.UnknownOpcode, match=r"unknown opcode 0x7e \(seq 9\)"):
        codec.decode_frame(cobs_encode(unknown))
    assert codec.decode_frame(cobs_encode(unknown), known=False).opcode == 0x7E
    assert all(issubclass(c, codec.FrameError) for c in (
        codec.CrcError, codec.TruncatedFrame, codec.OversizedFrame, codec.CobsFrameError,
        codec.UnknownOpcode))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.just("frame"), st.sampled_from(OPCODES), st.integers(0, 255), payloads),
    st.tuples(st.just("junk"), st.binary(max_size=80))), max_size=8),
    st.lists(st.integers(1, 200), min_size=1, max_size=10))
def test_frame_decoder_incremental(items, cuts):
    """Frames and garbage, fed in arbitrary chunks: every good frame comes out, in order,
    and every delimited piece gets the same verdict as the RTL decoder's end token."""
    stream = bytearray(b"\x00")
    sent = []
    for item in items:
        if item[0] == "frame":
            _, op, seq, payload = item
            stream += codec.encode_frame(op, seq, payload)
            sent.append(codec.Frame(op, seq, payload))
        else:
            stream += item[1] + b"\x00"
    dec = codec.FrameDecoder()
    out, pos, k = [], 0, 0
    while pos < len(stream):
        n = cuts[k % len(cuts)]
        out += dec.feed(stream[pos:pos + n])
        pos, k = pos + n, k + 1
    frames = [x for x in out if isinstance(x, codec.Frame)]
    # garbage may happen to be a valid frame; every frame sent is found in order
    it = iter(frames)
    assert all(any(f == g for g in it) for f in sent)
    assert dec.frames == len(frames) and dec.errors == len(out) - len(frames)
    # verdicts match the RTL decoder twin: OVERSIZE <-> OversizedFrame, COBS <-> CobsFrameError
    ends = [t[2] for t in CobsDecoder(spec.MAX_BODY).feed(bytes(stream)) if t[1]]
    assert len(ends) == len(out)
    for status, x in zip(ends, out):
        if status == FrameStatus.OVERSIZE:
            assert isinstance(x, codec.OversizedFrame)
        elif status == FrameStatus.COBS:
            assert isinstance(x, codec.CobsFrameError)
        else:
            assert isinstance(x, (codec.Frame, codec.TruncatedFrame, codec.CrcError,
                                  codec.UnknownOpcode))


def test_frame_decoder_resynchronises_after_flood():
    dec = codec.FrameDecoder()
    flood = bytes(range(1, 256)) * 20                  # 5100 bytes, no delimiter
    good = codec.encode_frame(0x82, 3, b"\x01\x00\x02")
    out = dec.feed(flood) + dec.feed(b"\x00\x00" + good + good[:4])
    assert isinstance(out[0], codec.OversizedFrame) and out[0].raw == b""
    assert out[1:] == [codec.Frame(0x82, 3, b"\x01\x00\x02")]
    assert dec.feed(good[4:]) == [codec.Frame(0x82, 3, b"\x01\x00\x02")]
    err = dec.feed(b"\x03\x01\x00")[0]
    assert isinstance(err, codec.CobsFrameError) and err.raw == b"\x03\x01\x00"


# --- structs, commands, replies ------------------------------------------------------------
def reply(cmd, payload=b"", seq=0):
    return codec.Frame(spec.reply_opcode(cmd.opcode), seq, payload)


def test_identify_and_status():
    values = dict(protocol=1, board=3, build=2**64 - 1, clk_hz=12_000_000, max_payload=508,
                  n_cores=1, n_profiles=16, n_neurons=256, n_inputs=64, n_synapses=4096,
                  in_depth=1024, out_depth=2048, kernel=2, learning=0,
                  route_entries=0, encoder=0, enc_width=0, enc_channels=0, enc_seed=0,
                  enc_arg=0, queue=0, pace=0)
    cmd = codec.identify()
    assert cmd.opcode == Opcode.IDENTIFY and cmd.payload == b""
    ident = codec.parse_reply(cmd, reply(cmd, codec.pack_struct(spec.IdentifyReply, **values)))
    assert ident == codec.Identify(**values)
    assert [ident.region_depth(r) for r in Region] == [256, 2048, 16, 320, 4096, 2, 0, 0, 0]
    assert ident.kernel_info.name == "izhikevich"
    assert ident.word_bytes == ident.kernel_info.word_bytes
    counters = {c.name.lower(): 1000 + c.value for c in Counter}
    st_ = codec.parse_reply(codec.status(), reply(codec.status(), codec.pack_struct(
        spec.StatusReply, **counters, steps_pending=5, in_level=6, out_level=7)))
    assert st_.crc_errors == 1001 and st_.rx_overruns == 1008 and st_.out_level == 7
    with pytest.raises(codec.ReplyError, match="IDENTIFY reply has 42 payload bytes, "
                                               "expected 59"):
        codec.parse_reply(cmd, reply(cmd, bytes(42)))
    with pytest.raises(ValueError, match="build = 18446744073709551616 does not fit"):
        codec.pack_struct(spec.IdentifyReply, build=2**64)
    with pytest.raises(ValueError, match="unknown fields"):
        codec.pack_struct(spec.RunRequest, step=1)


def test_identify_of_a_learning_core():
    """IDENTIFY's ``learning`` byte: the learning depths (PRE, POST, 32 CTRL registers)
    and word widths (9-byte SYNAPSE and CTRL words) of the board's cores."""
    values = dict(protocol=spec.PROTOCOL_VERSION, board=0, build=1, clk_hz=12_000_000,
                  max_payload=508, n_cores=1, n_profiles=16, n_neurons=64, n_inputs=32,
                  n_synapses=1024, in_depth=256, out_depth=256, kernel=0, learning=1,
                  route_entries=0, encoder=0, enc_width=0, enc_channels=0, enc_seed=0,
                  enc_arg=0, queue=0, pace=0)
    payload = codec.pack_struct(spec.IdentifyReply, **values)
    assert len(payload) == spec.IdentifyReply.size // 8 == 59 and payload[40:42] == b"\x00\x01"
    ident = codec.parse_reply(codec.identify(), reply(codec.identify(), payload))
    assert [ident.region_depth(r) for r in Region] == [64, 512, 16, 96, 1024, 32, 96, 64, 0]
    # IDENTIFY's queue byte: region QUEUE, the 64 queued spikes and their count
    queued = codec.parse_reply(codec.identify(), reply(codec.identify(), codec.pack_struct(
        spec.IdentifyReply, **{**values, "queue": 1})))
    assert queued.region_depth(Region.QUEUE) == 65
    assert ident.word_bytes == spec.region_word_byte_counts(learning=True)
    assert ident.word_bytes[Region.SYNAPSE] == ident.word_bytes[Region.CTRL] == 9
    with pytest.raises(ValueError, match="kernel number 9 is unknown to this host"):
        codec.Identify(**dict(values, kernel=9)).word_bytes


def test_learning_memory_words():
    """WRITE_MEM / READ_MEM of a learning core: 9-byte SYNAPSE and CTRL words, PRE and
    POST exist; a core without learning has no PRE or POST words."""
    syn = spec.pack(spec.PlasticSynapse, target=3, weight=-2, delay=7, rule=3, frac=255,
                    source=(1 << 17) - 1, elig=-32768)
    assert int(syn) >> 69 == 1
    cmd = codec.write_mem(Region.SYNAPSE, 5, [int(syn)], learning=True)
    assert cmd.payload[7:] == int(syn).to_bytes(9, "little")
    ctrl = codec.write_mem(Region.CTRL, spec.Ctrl.MODULATOR.value, [0xFFFF], learning=True)
    assert ctrl.payload[7:] == b"\xff\xff" + bytes(7)
    with pytest.raises(ValueError, match="SYNAPSE word 0 = .* does not fit 27 bits"):
        codec.write_mem(Region.SYNAPSE, 0, [int(syn)])
    with pytest.raises(ValueError, match="region PRE exists on learning cores only"):
        codec.write_mem(Region.PRE, 0, [1])
    rd = codec.read_mem(Region.SYNAPSE, 0, 2, learning=True)
    assert rd.learning and rd.count == 2
    words = codec.parse_reply(rd, reply(rd, int(syn).to_bytes(9, "little") * 2))
    assert list(words) == [int(syn)] * 2
    post = codec.read_mem(Region.POST, 0, 1, learning=True)
    assert codec.parse_reply(post, reply(post, b"\x01\x10\x00\x00")).tolist() == [0x1001]
    with pytest.raises(ValueError, match="READ_MEM of 57 SYNAPSE words: reply of 513 bytes"):
        codec.read_mem(Region.SYNAPSE, 0, 57, learning=True)


def test_acks_and_naks():
    for cmd in (codec.clear_status(), codec.reset(), codec.run(10), codec.inject([[1]]),
                codec.write_mem(Region.CTRL, 0, [3])):
        assert codec.parse_reply(cmd, reply(cmd)) is None
        with pytest.raises(codec.ReplyError, match="expected 0"):
            codec.parse_reply(cmd, reply(cmd, b"\x01"))
    cmd = codec.write_mem(Region.STATE, 4, [1, 2])
    nak = codec.Frame(spec.NAK_OPCODE, 9, bytes([Nak.BAD_RANGE.value, Opcode.WRITE_MEM.value]))
    with pytest.raises(codec.NakError, match=r"refused WRITE_MEM \(seq 9\): NAK BAD_RANGE") \
            as exc:
        codec.parse_reply(cmd, nak)
    assert exc.value.reason == Nak.BAD_RANGE and not exc.value.link_error
    with pytest.raises(codec.NakError) as exc:
        codec.parse_reply(cmd, codec.Frame(0xFF, 9, b"\x01\x10"))
    assert exc.value.link_error
    with pytest.raises(codec.NakError, match="unknown reason 0x77"):
        codec.parse_reply(cmd, codec.Frame(0xFF, 9, b"\x77\x10"))
    with pytest.raises(codec.ReplyError, match="does not answer WRITE_MEM"):
        codec.parse_reply(cmd, codec.Frame(0x91, 9))
    echo = codec.echo(b"\x00ab")
    assert codec.parse_reply(echo, reply(echo, b"\x00ab")) == b"\x00ab"
    with pytest.raises(codec.ReplyError, match="differs"):
        codec.parse_reply(echo, reply(echo, b"\x00ac"))
    assert codec.run(2**32 - 1).payload == b"\xff\xff\xff\xff"
    with pytest.raises(ValueError, match="steps"):
        codec.run(2**32)


def test_memory_commands():
    cmd = codec.read_mem(Region.SYNAPSE, 70000, 3)
    assert cmd.payload == bytes([4]) + (70000).to_bytes(4, "little") + b"\x03\x00"
    words = codec.parse_reply(cmd, reply(cmd, bytes(range(12))))
    assert words.tolist() == [0x03020100, 0x07060504, 0x0B0A0908]
    with pytest.raises(codec.ReplyError, match="11 payload bytes, expected 12"):
        codec.parse_reply(cmd, reply(cmd, bytes(11)))
    with pytest.raises(ValueError, match="reply of 510 bytes exceeds max_payload = 508"):
        codec.read_mem(Region.PROFILE, 0, 51)
    with pytest.raises(ValueError, match="start = 16777216 is outside"):
        codec.read_mem(Region.STATE, 1 << 24, 1)
    with pytest.raises(ValueError, match="not a valid Region"):
        codec.read_mem(9, 0, 1)
    w = codec.write_mem(Region.ACC, 2, [0xFFFFFF, 1])
    assert w.payload == b"\x01\x02\x00\x00\x00\x02\x00" + b"\xff\xff\xff\x01\x00\x00"
    with pytest.raises(ValueError, match="ACC word 1 = 16777216 does not fit 24 bits"):
        codec.write_mem(Region.ACC, 0, [0, 1 << 24])
    with pytest.raises(ValueError, match="exceeds max_payload = 100"):
        codec.write_mem(Region.STATE, 0, np.zeros(20, np.int64), max_payload=100)


@pytest.mark.parametrize("learning", [False, True])
@pytest.mark.parametrize("region", list(Region))
def test_words_round_trip(region, learning):
    rng = np.random.default_rng(region.value)
    width = spec.region_word_widths(learning=learning)[region]
    if width == 0:
        with pytest.raises(ValueError, match=f"region {region.name} exists on learning"):
            codec.pack_words(region, [0], learning=learning)
        return
    nbytes = (width + 7) // 8
    words = [int.from_bytes(rng.bytes(16), "little") >> (128 - width) for _ in range(20)]
    words += [0, (1 << width) - 1]
    arr = words if width > 63 else np.array(words, dtype=np.int64)
    data = codec.pack_words(region, arr, learning=learning)
    assert len(data) == len(words) * nbytes
    assert data == b"".join(w.to_bytes(nbytes, "little") for w in words)
    assert [int(w) for w in codec.unpack_words(region, data, learning=learning)] == words


LAYOUTS = [spec.NeuronState, spec.Profile, spec.RowPtr, spec.Synapse]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda l: str(len(list(l))))
def test_fields_to_words_matches_amaranth(layout):
    rng = np.random.default_rng(layout.size)
    fields = {}
    for name, offset, width, signed in codec._fields(layout):
        lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
        fields[name] = np.concatenate([[lo, hi], rng.integers(lo, hi + 1, 30)])
    words = codec.fields_to_words(layout, **fields)
    for k in range(len(words)):
        ref = layout.const({n: int(v[k]) for n, v in fields.items()}).as_value().value
        assert int(words[k]) == ref
    back = codec.words_to_fields(layout, words)
    assert all(np.array_equal(back[n], fields[n]) for n in fields)


def test_fields_errors():
    good = dict(i=[0], v=[0], ref=[0], profile=[0])
    with pytest.raises(ValueError, match=r"v\[1\] = 40000 does not fit its 16-bit signed"):
        codec.fields_to_words(spec.NeuronState, **(good | {"v": [0, 40000], "i": [0, 0],
                                                            "ref": [0, 0], "profile": [0, 0]}))
    with pytest.raises(ValueError, match="missing field 'profile'"):
        codec.fields_to_words(spec.NeuronState, i=[0], v=[0], ref=[0])
    with pytest.raises(ValueError, match="field 'v' has 2 values, expected 1"):
        codec.fields_to_words(spec.NeuronState, **(good | {"v": [0, 1]}))
    words = codec.fields_to_words(spec.Profile, decay_i=[1], decay_v=[2], threshold=[3],
                                  bias=[-4], v_reset=[5], reset=[spec.Reset.SUBTRACT],
                                  refractory=[6])
    assert codec.words_to_fields(spec.Profile, words)["reset"].tolist() == [1]


# --- event records -------------------------------------------------------------------------
steps_st = st.lists(st.lists(st.integers(0, 65535), max_size=300), max_size=12)


@settings(max_examples=150, deadline=None)
@given(steps_st, st.booleans())
def test_records_round_trip(steps, close):
    data = codec.pack_records(steps, close=close)
    indices, ends = codec.unpack_records(data)
    done, partial = codec.split_steps(indices, ends)
    if close or not steps:
        assert [d.tolist() for d in done] == steps and partial.size == 0
    else:
        assert [d.tolist() for d in done] == steps[:-1] and partial.tolist() == steps[-1]


def test_record_layout_and_errors():
    assert codec.pack_records([[3, 7], [], [256]]) == bytes.fromhex("0280 0300 0700 0080 0180 0001")
    big = np.arange(40000) % 65536
    data = codec.pack_records([big])
    assert data[:2] == (32767).to_bytes(2, "little")            # split, first without END
    indices, ends = codec.unpack_records(data)
    assert np.array_equal(indices, big) and ends.tolist() == [40000]
    with pytest.raises(ValueError, match="whole 16-bit words"):
        codec.unpack_records(b"\x01\x80\x05")
    with pytest.raises(ValueError, match="announces 2 events, only 1 follow"):
        codec.unpack_records(b"\x02\x80\x05\x00")
    with pytest.raises(ValueError, match="event index 65536 is outside"):
        codec.pack_records([[65536]])
    cmd = codec.read_events()
    with pytest.raises(codec.ReplyError, match="announces"):
        codec.parse_reply(cmd, reply(cmd, bytes(8) + b"\x02\x80\x05\x00"))


@settings(max_examples=100, deadline=None)
@given(steps_st, st.integers(64, spec.MAX_PAYLOAD))
def test_split_inject(steps, max_payload):
    cmds = codec.split_inject(steps, max_payload=max_payload)
    assert all(c.opcode == Opcode.INJECT and 0 < len(c.payload) <= max_payload for c in cmds)
    asm = codec.StepAssembler()
    got = []
    for c in cmds:
        got += [s.tolist() for s in asm.feed(*codec.unpack_records(c.payload))]
    assert got == steps and asm.partial.size == 0


def test_events_reply_and_assembler():
    cmd = codec.read_events()
    head = codec.pack_struct(spec.EventsHeader, steps_pending=2, remaining=9)
    r1 = codec.parse_reply(cmd, reply(cmd, head + codec.pack_records([[5, 9], [], [300]],
                                                                      close=False)))
    assert (r1.steps_pending, r1.remaining) == (2, 9)
    asm = codec.StepAssembler()
    assert [s.tolist() for s in asm.feed(r1.indices, r1.ends)] == [[5, 9], []]
    assert asm.partial.tolist() == [300]
    r2 = codec.parse_reply(cmd, reply(cmd, head + codec.pack_records([[301]], close=False)))
    assert asm.feed(r2.indices, r2.ends) == [] and asm.partial.tolist() == [300, 301]
    r3 = codec.parse_reply(cmd, reply(cmd, head + codec.pack_records([[302], [1]])))
    assert [s.tolist() for s in asm.feed(r3.indices, r3.ends)] == [[300, 301, 302], [1]]
    with pytest.raises(codec.ReplyError, match="shorter than its 8-byte header"):
        codec.parse_reply(cmd, reply(cmd, bytes(7)))


# --- docs/protocol.md ----------------------------------------------------------------------
def doc_tables():
    """{marker: [row cells]} for every table preceded by ``<!-- marker -->``."""
    tables, marker = {}, None
    for line in DOC.read_text().splitlines():
        m = re.fullmatch(r"<!-- (.+) -->", line.strip())
        if m:
            marker = m.group(1)
            tables[marker] = []
        elif marker and line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not set(cells[0]) <= set("-") and tables[marker] is not None:
                tables[marker].append(cells)
        elif marker and line.strip() == "" and tables[marker]:
            marker = None
    return {k: v[1:] for k, v in tables.items()}         # drop header rows


def test_doc_frame_examples():
    blocks = re.findall(r"```frame\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 10
    for block in blocks:
        fields = dict(re.findall(r"^(body|wire): (.*)$", block, re.M))
        body = bytes.fromhex(fields["body"].replace("|", " "))
        wire = bytes.fromhex(fields["wire"])
        assert codec.frame_body(body[0], body[1], body[2:-2]) == body, block
        assert codec.encode_frame(body[0], body[1], body[2:-2]) == wire, block
        assert codec.decode_frame(wire) == codec.Frame(body[0], body[1], body[2:-2])


@pytest.mark.parametrize("name", ["IdentifyReply", "StatusReply", "MemHeader", "RunRequest",
                                  "NakPayload", "EventsHeader"])
def test_doc_layout_tables(name):
    rows = doc_tables()[f"layout: {name}"]
    layout = getattr(spec, name)
    assert rows
    expected = [(str(offset // 8), str(width // 8), f"`{n}`")
                for n, offset, width, _ in codec._fields(layout)]
    assert [tuple(r[:3]) for r in rows] == expected


def test_doc_enum_tables():
    tables = doc_tables()
    hexval = lambda cell: int(cell.strip("`"), 16)      # noqa: E731
    assert [(hexval(r[0]), hexval(r[1]), r[2]) for r in tables["enum: Opcode"]] == [
        (op.value, spec.reply_opcode(op), op.name) for op in Opcode]
    assert [(hexval(r[0]), r[1]) for r in tables["enum: Nak"]] == [
        (n.value, n.name) for n in Nak]
    status = [r[2].strip("`") for r in tables["layout: StatusReply"]]
    assert status[:len(Counter)] == [c.name.lower() for c in Counter]


def test_doc_crc_and_word_tables():
    tables = doc_tables()
    assert len(tables["crc-vectors"]) == 6 and len(tables["words"]) == len(Region)
    for cells in tables["crc-vectors"]:
        hexpart = re.match(r"((?:`[0-9A-F ]+`)?)", cells[0]).group(1).strip("`")
        assert crc16(bytes.fromhex(hexpart)) == int(cells[1].strip("`"), 16), cells
    for region, layout, width, nbytes in tables["words"]:
        r = Region[region]
        learning = r in spec.LEARN_REGIONS
        assert (int(width), int(nbytes)) == (
            spec.region_word_widths(learning=learning)[r],
            spec.region_word_byte_counts(learning=learning)[r]), region
    learn = spec.region_word_widths(learning=True)
    assert (learn[Region.SYNAPSE], learn[Region.CTRL]) == (70, 67)
