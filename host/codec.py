"""Host-link codec: frames, commands, replies, memory words and event records.

This module is the golden model of the link's framing: ``encode_frame`` produces exactly
the bytes the board's gateware sends and expects (``docs/protocol.md``), and the RTL is
tested byte for byte against it. Numbers come from ``neurofab.spec`` (``spec/link.py``).

Frames::

    wire = cobs(body) + b"\\x00"      body = opcode u8 | seq u8 | payload | crc16 (big endian)

Typical use by a driver::

    cmd = codec.write_mem(Region.STATE, 0, words)
    transport.write(codec.encode_frame(cmd.opcode, seq, cmd.payload))
    for item in decoder.feed(transport.read(...)):   # decoder = codec.FrameDecoder()
        if isinstance(item, codec.FrameError): ...     # corrupt frame: log, maybe retry
        elif item.seq == seq: result = codec.parse_reply(cmd, item)

Decoding errors are exceptions naming what is wrong (``CrcError`` with expected and got,
``TruncatedFrame``, ``OversizedFrame``, ``CobsFrameError``, ``UnknownOpcode``); a NAK
reply raises ``NakError`` from ``parse_reply``.
"""

from dataclasses import dataclass, make_dataclass

import numpy as np
from amaranth import Shape

from neurofab import spec
from neurofab.kernels import DEFAULT_KERNEL, KERNELS, get_kernel
from neurofab.spec import Opcode, Nak, Region
from neurofab.golden.link.cobs import CobsError, CobsOversize, cobs_encode, cobs_decode
from neurofab.golden.link.crc import crc16

__all__ = [
    "LinkError", "FrameError", "CobsFrameError", "TruncatedFrame", "OversizedFrame",
    "CrcError", "UnknownOpcode", "NakError", "ReplyError",
    "Frame", "frame_body", "encode_frame", "decode_body", "decode_frame", "FrameDecoder",
    "pack_struct", "unpack_struct",
    "Command", "identify", "status", "clear_status", "reset", "echo", "write_mem", "read_mem",
    "write_routes",
    "inject", "run", "pace", "read_events", "split_inject",
    "Identify", "Status", "EventsReply", "parse_reply",
    "pack_records", "unpack_records", "split_steps", "StepAssembler",
    "pack_words", "unpack_words", "fields_to_words", "words_to_fields",
]


# --- errors ------------------------------------------------------------------------
class LinkError(Exception):
    """Base of every host-link protocol error."""


class FrameError(LinkError):
    """A received frame is not a valid frame (``raw``: its encoded bytes, if known)."""
    raw = b""


class CobsFrameError(FrameError):
    """Malformed COBS (a block cut short by the delimiter)."""


class TruncatedFrame(FrameError):
    """Body shorter than opcode + seq + CRC."""

    def __init__(self, length):
        super().__init__(f"truncated frame: body is {length} bytes, a frame needs at least "
                         f"{spec.MIN_BODY} (opcode, seq, 2-byte CRC)")
        self.length = length


class OversizedFrame(FrameError):
    """Body longer than the receiver's limit."""

    def __init__(self, length, limit):
        more = "" if length is None else f" {length} bytes"
        super().__init__(f"oversized frame: body{more} exceeds the limit of {limit} bytes")
        self.length = length
        self.limit = limit


class CrcError(FrameError):
    """CRC mismatch: ``expected`` is the CRC computed over the body, ``got`` the received."""

    def __init__(self, expected, got, opcode, seq):
        super().__init__(f"bad CRC: expected {expected:#06x}, got {got:#06x} (frame opcode "
                         f"{opcode:#04x}, seq {seq})")
        self.expected, self.got, self.opcode, self.seq = expected, got, opcode, seq


class UnknownOpcode(FrameError):
    """CRC good but the opcode is neither a command, a reply nor NAK."""

    def __init__(self, opcode, seq):
        super().__init__(f"unknown opcode {opcode:#04x} (seq {seq})")
        self.opcode, self.seq = opcode, seq


class NakError(LinkError):
    """The board refused a command (``reason``: a ``Nak`` or an unknown int)."""

    def __init__(self, reason, opcode, seq):
        try:
            reason = Nak(reason)
            rname = reason.name
        except ValueError:
            rname = f"unknown reason {reason:#04x}"
        try:
            oname = Opcode(opcode).name
        except ValueError:
            oname = f"opcode {opcode:#04x}"
        super().__init__(f"board refused {oname} (seq {seq}): NAK {rname}")
        self.reason, self.opcode, self.seq = reason, opcode, seq

    @property
    def link_error(self):
        """True if the frame was damaged on the way (retransmission is the remedy)."""
        return self.reason in (Nak.CRC, Nak.FRAMING, Nak.OVERSIZE)


class ReplyError(LinkError):
    """A well-formed reply frame that does not fit the command it answers."""


# --- frames --------------------------------------------------------------------------
_COMMANDS = frozenset(op.value for op in Opcode)
_REPLIES = frozenset(op.value | spec.REPLY_FLAG for op in Opcode) | {spec.NAK_OPCODE}


@dataclass(frozen=True)
class Frame:
    """A decoded frame: ``opcode``, ``seq`` (ints) and ``payload`` (bytes)."""
    opcode: int
    seq: int
    payload: bytes = b""

    @property
    def is_reply(self):
        return self.opcode in _REPLIES

    @property
    def is_nak(self):
        return self.opcode == spec.NAK_OPCODE

    def __repr__(self):
        if self.opcode in _COMMANDS:
            name = Opcode(self.opcode).name
        elif self.is_nak:
            name = "NAK"
        elif self.opcode in _REPLIES:
            name = Opcode(self.opcode & ~spec.REPLY_FLAG).name + "_ACK"
        else:
            name = f"{self.opcode:#04x}"
        return f"Frame({name}, seq={self.seq}, payload={self.payload.hex(' ') or '-'})"


def _check_byte(name, value):
    value = int(getattr(value, "value", value))      # an Opcode member or an int
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{name} = {value} is not a byte (0..255)")
    return value


def frame_body(opcode, seq, payload=b"", *, max_payload=spec.MAX_PAYLOAD):
    """Frame body before COBS: opcode, seq, payload, CRC-16 (big endian)."""
    opcode = _check_byte("opcode", opcode)
    seq = _check_byte("seq", seq)
    payload = bytes(payload)
    if len(payload) > max_payload:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the limit of {max_payload}")
    body = bytes((opcode, seq)) + payload
    return body + crc16(body).to_bytes(spec.CRC_BYTES, "big")


def encode_frame(opcode, seq, payload=b"", *, max_payload=spec.MAX_PAYLOAD):
    """Wire bytes of one frame: COBS(body) followed by the 0x00 delimiter."""
    return cobs_encode(frame_body(opcode, seq, payload, max_payload=max_payload)) + b"\x00"


def decode_body(body, *, max_body=spec.MAX_BODY, known=True):
    """Check and split a decoded body; raises ``FrameError`` subclasses.

    With ``known`` the opcode must be a command, a reply or NAK (else ``UnknownOpcode``).
    """
    body = bytes(body)
    if len(body) > max_body:
        raise OversizedFrame(len(body), max_body)
    if len(body) < spec.MIN_BODY:
        raise TruncatedFrame(len(body))
    opcode, seq = body[0], body[1]
    got = int.from_bytes(body[-spec.CRC_BYTES:], "big")
    expected = crc16(body[:-spec.CRC_BYTES])
    if got != expected:
        raise CrcError(expected, got, opcode, seq)
    if known and opcode not in _COMMANDS and opcode not in _REPLIES:
        raise UnknownOpcode(opcode, seq)
    return Frame(opcode, seq, body[spec.HEADER_BYTES:-spec.CRC_BYTES])


def _decode_cobs(encoded, max_body):
    try:
        return cobs_decode(encoded, max_len=max_body)
    except CobsOversize as exc:
        raise OversizedFrame(None, max_body) from exc
    except CobsError as exc:
        raise CobsFrameError(f"malformed COBS: {exc}") from exc


def decode_frame(encoded, *, max_body=spec.MAX_BODY, known=True):
    """Decode one encoded frame (its trailing 0x00 delimiter is optional)."""
    encoded = bytes(encoded)
    if encoded.endswith(b"\x00"):
        encoded = encoded[:-1]
    return decode_body(_decode_cobs(encoded, max_body), max_body=max_body, known=known)


class FrameDecoder:
    """Incremental decoder of a received byte stream.

    ``feed(data)`` returns, in order, a ``Frame`` for every good frame completed by
    ``data`` and a ``FrameError`` instance (not raised) for every bad one; the decoder
    resynchronises at the next delimiter. Empty frames (delimiter after delimiter) are
    skipped. Counters ``frames`` and ``errors`` count what it returned.
    """

    def __init__(self, *, max_body=spec.MAX_BODY, known=True):
        self.max_body = max_body
        self.known = known
        # COBS adds at most one byte per 254; anything this long can only be oversized.
        self._cap = 2 * spec.cobs_max_encoded(max_body) + 2
        self._buf = bytearray()
        self._overflow = False
        self.frames = 0
        self.errors = 0

    def feed(self, data):
        out = []
        data = bytes(data)
        pos = 0
        while pos < len(data):
            end = data.find(b"\x00", pos)
            chunk = data[pos:] if end < 0 else data[pos:end]
            if not self._overflow:
                self._buf += chunk
                if len(self._buf) > self._cap:
                    self._overflow = True
                    self._buf.clear()
            if end < 0:
                break
            pos = end + 1
            if self._overflow:
                err = OversizedFrame(None, self.max_body)
                self._overflow = False
                out.append(err)
                self.errors += 1
                continue
            if not self._buf:
                continue
            raw = bytes(self._buf) + b"\x00"
            self._buf.clear()
            try:
                out.append(decode_frame(raw, max_body=self.max_body, known=self.known))
                self.frames += 1
            except FrameError as err:
                err.raw = raw
                out.append(err)
                self.errors += 1
        return out


# --- fixed payload structs -------------------------------------------------------------
def _fields(layout):
    for name, field in layout:
        shape = Shape.cast(field.shape)
        yield name, field.offset, field.width, shape.signed


def pack_struct(layout, **values):
    """Wire bytes of a whole-byte ``StructLayout``: ``spec.pack`` (missing fields zero,
    every value range-checked against its field), little endian."""
    return spec.pack(layout, **values).to_bytes(layout.size // 8, "little")


def unpack_struct(layout, data):
    """Inverse of ``pack_struct``: a dict of ints (``data`` must be exactly the size)."""
    data = bytes(data)
    if len(data) != layout.size // 8:
        raise ValueError(f"expected {layout.size // 8} bytes, got {len(data)}")
    return spec.unpack(layout, int.from_bytes(data, "little"))


def _struct_class(name, layout, doc, **methods):
    cls = make_dataclass(name, [(n, int) for n, *_ in _fields(layout)], frozen=True,
                         namespace=methods)
    cls.__doc__ = doc
    cls.layout = layout
    return cls


def _region_depth(self, region):
    """Words in ``region`` on this board (indices ``0 .. depth - 1``, ``spec.region_depths``
    of its geometry, with or without ``learning`` and ``queue``)."""
    return spec.region_depths(self.n_neurons, self.n_inputs, self.n_synapses,
                              n_profiles=self.n_profiles, learning=bool(self.learning),
                              queue=bool(self.queue))[Region(region)]


def _kernel_of(self):
    """The ``Kernel`` (``neurofab.kernels``) whose number IDENTIFY reports; ``ValueError``
    for a number this host does not know."""
    by_id = {k.kernel_id: k for k in KERNELS.values()}
    if self.kernel not in by_id:
        raise ValueError(f"kernel number {self.kernel} is unknown to this host (known: "
                         f"{', '.join(f'{k.kernel_id} {k.name}' for k in by_id.values())})")
    return by_id[self.kernel]


def _word_bytes_of(self):
    """Bytes per word on the wire of every region of this board's cores (its kernel, with
    or without learning: ``spec.region_word_byte_counts``)."""
    k = _kernel_of(self)
    return spec.region_word_byte_counts(k.state_word, k.profile, learning=bool(self.learning))


Identify = _struct_class("Identify", spec.IdentifyReply,
                         "IDENTIFY reply (``spec.IdentifyReply`` fields).",
                         region_depth=_region_depth, kernel_info=property(_kernel_of),
                         word_bytes=property(_word_bytes_of))
Status = _struct_class("Status", spec.StatusReply,
                       "STATUS reply (``spec.StatusReply``: counters, steps_pending, levels).")


@dataclass(frozen=True)
class EventsReply:
    """READ_EVENTS reply: header fields and the records as ``indices`` + step ``ends``.

    ``ends[k]`` is the number of ``indices`` before the k-th step end in this chunk; the
    indices after ``ends[-1]`` belong to a step that continues in a later reply.
    """
    steps_pending: int
    remaining: int
    indices: np.ndarray
    ends: np.ndarray
    #: step ends sent in READ_EVENTS replies since power-up, this one's included (mod 2**16)
    steps_read: int = 0


# --- commands --------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    """A command ready to frame: ``encode_frame(cmd.opcode, seq, cmd.payload)``."""
    opcode: Opcode
    payload: bytes = b""
    region: Region | None = None     # READ_MEM: how to parse the words of the reply
    count: int = 0                   # READ_MEM: words expected
    kernel: object = None            # READ_MEM: the core's kernel (its word widths)
    learning: bool = False           # READ_MEM: the core learns (its word widths)


def _limit(payload, max_payload, what):
    if len(payload) > max_payload:
        raise ValueError(f"{what}: payload of {len(payload)} bytes exceeds max_payload = "
                         f"{max_payload}")
    return payload


def identify():
    return Command(Opcode.IDENTIFY)


def status():
    return Command(Opcode.STATUS)


def clear_status():
    return Command(Opcode.CLEAR_STATUS)


def reset():
    return Command(Opcode.RESET)


def echo(data=b"", *, max_payload=spec.MAX_PAYLOAD):
    return Command(Opcode.ECHO, _limit(bytes(data), max_payload, "ECHO"))


def _mem_header(region, start, count, target=0):
    region = Region(region)
    if not 0 <= start < (1 << spec.MEM_INDEX_WIDTH):
        raise ValueError(f"start = {start} is outside the index space [0, "
                         f"{(1 << spec.MEM_INDEX_WIDTH) - 1}]")
    if not 0 <= target < spec.ROUTE_TARGET:
        raise ValueError(f"target = {target} is outside the cores [0, "
                         f"{spec.ROUTE_TARGET - 1}]")
    return region, pack_struct(spec.MemHeader, start=start, count=count,
                               region=spec.pack(spec.RegionByte, region=region.value,
                                                target=target))


def write_mem(region, start, words, *, max_payload=spec.MAX_PAYLOAD, kernel=None,
              learning=False, target=0):
    """WRITE_MEM: ``words`` (ints or an integer array, one per index) from ``start``, for
    a core of ``kernel`` (its STATE and PROFILE word widths; default CUBA-LIF), with or
    without ``learning`` (its SYNAPSE and CTRL word widths, the regions PRE and POST);
    ``target``: the core of a multi-core board (``MemHeader.target``)."""
    data = pack_words(region, words, kernel=kernel, learning=learning)
    count = len(data) // _word_bytes(region, kernel, learning)
    region, header = _mem_header(region, int(start), count, int(target))
    return Command(Opcode.WRITE_MEM, _limit(header + data, max_payload,
                                            f"WRITE_MEM of {count} {region.name} words"))


def write_routes(start, words, *, max_payload=spec.MAX_PAYLOAD):
    """WRITE_MEM of routing-table words (``spec.Route``, ``spec.ROUTE_WORD_BYTES`` each)
    from slot ``start`` (``port * route_entries + slot``): ``MemHeader.target =
    spec.ROUTE_TARGET``, region 0."""
    words = [int(w) for w in words]
    for k, w in enumerate(words):
        if not 0 <= w < 1 << spec.Route.size:
            raise ValueError(f"route word {k} = {w} does not fit {spec.Route.size} bits")
    if not 0 <= start < (1 << spec.ROUTE_INDEX_WIDTH):
        raise ValueError(f"start = {start} is outside the table [0, "
                         f"{(1 << spec.ROUTE_INDEX_WIDTH) - 1}]")
    header = pack_struct(spec.MemHeader, start=int(start), count=len(words),
                         region=spec.pack(spec.RegionByte, region=0,
                                          target=spec.ROUTE_TARGET))
    data = b"".join(w.to_bytes(spec.ROUTE_WORD_BYTES, "little") for w in words)
    return Command(Opcode.WRITE_MEM, _limit(header + data, max_payload,
                                            f"WRITE_MEM of {len(words)} route words"))


def read_mem(region, start, count, *, max_payload=spec.MAX_PAYLOAD, kernel=None,
             learning=False, target=0):
    """READ_MEM of ``count`` words of a core of ``kernel`` (default CUBA-LIF), with or
    without ``learning``, of core ``target`` (a multi-core board); the reply must fit
    ``max_payload``."""
    region, header = _mem_header(region, int(start), int(count), int(target))
    size = int(count) * _word_bytes(region, kernel, learning)
    if size > max_payload:
        raise ValueError(f"READ_MEM of {count} {region.name} words: reply of {size} bytes "
                         f"exceeds max_payload = {max_payload}")
    return Command(Opcode.READ_MEM, header, region, int(count), kernel, bool(learning))


def inject(steps, *, close=True, max_payload=spec.MAX_PAYLOAD):
    """INJECT one frame's worth of steps (per-step channel arrays), see ``pack_records``."""
    return Command(Opcode.INJECT, _limit(pack_records(steps, close=close), max_payload,
                                         "INJECT"))


def split_inject(steps, *, max_payload=spec.MAX_PAYLOAD):
    """INJECT commands carrying ``steps`` (per-step channel arrays), each within
    ``max_payload``.

    Frames are filled greedily, so a step may start in one frame and continue in the
    next (its first records have no END; the board keeps partial steps until their END
    arrives). Every step is closed by an END in the last command that carries it.
    """
    per, head = spec.EVENT_INDEX_BYTES, spec.RECORD_HEADER_BYTES
    if max_payload < head + per:
        raise ValueError(f"max_payload = {max_payload} cannot hold one event record")
    cmds, frame, used = [], [], 0
    for chans in steps:
        chans = np.asarray(chans, dtype=np.int64).reshape(-1)
        pos = 0
        while True:
            remaining = chans.size - pos
            if used + head + per * min(remaining, 1) > max_payload:
                cmds.append(Command(Opcode.INJECT, b"".join(frame)))
                frame, used = [], 0
                continue
            take = min((max_payload - used - head) // per, remaining, spec.RECORD_COUNT_MAX)
            rec = _records_bytes([chans[pos:pos + take]], [take == remaining])
            frame.append(rec)
            used += len(rec)
            pos += take
            if take == remaining:
                break
    if frame:
        cmds.append(Command(Opcode.INJECT, b"".join(frame)))
    return cmds


def run(steps):
    """RUN: queue ``steps`` more steps (replies at once; progress via STATUS/READ_EVENTS)."""
    return Command(Opcode.RUN, pack_struct(spec.RunRequest, steps=int(steps)))


def pace(period):
    """PACE: start one step every ``period`` clocks (0: as fast as the steps go)."""
    return Command(Opcode.PACE, pack_struct(spec.PaceRequest, period=int(period)))


def read_events():
    return Command(Opcode.READ_EVENTS)


# --- replies ---------------------------------------------------------------------------
def _expect_len(cmd, payload, n):
    if len(payload) != n:
        raise ReplyError(f"{cmd.name} reply has {len(payload)} payload bytes, expected {n}")


def parse_reply(cmd, frame):
    """Check that ``frame`` answers ``cmd`` (a ``Command`` or an ``Opcode``) and parse it.

    Returns: IDENTIFY → ``Identify``, STATUS → ``Status``, ECHO → bytes, READ_MEM → words
    (``unpack_words``), READ_EVENTS → ``EventsReply``, other commands → ``None``.
    Raises ``NakError`` for a NAK and ``ReplyError`` for a reply that does not fit.
    """
    if not isinstance(cmd, Command):
        cmd = Command(Opcode(cmd))
    op = cmd.opcode
    if frame.opcode == spec.NAK_OPCODE:
        if len(frame.payload) != spec.NakPayload.size // 8:
            raise ReplyError(f"NAK to {op.name} has {len(frame.payload)} payload bytes, "
                             f"expected {spec.NakPayload.size // 8}")
        nak = unpack_struct(spec.NakPayload, frame.payload)
        raise NakError(nak["reason"], nak["opcode"], frame.seq)
    if frame.opcode != spec.reply_opcode(op):
        raise ReplyError(f"reply opcode {frame.opcode:#04x} does not answer {op.name} "
                         f"(expected {spec.reply_opcode(op):#04x} or NAK)")
    p = frame.payload
    if op == Opcode.IDENTIFY:
        _expect_len(op, p, spec.IdentifyReply.size // 8)
        return Identify(**unpack_struct(spec.IdentifyReply, p))
    if op == Opcode.STATUS:
        _expect_len(op, p, spec.StatusReply.size // 8)
        return Status(**unpack_struct(spec.StatusReply, p))
    if op == Opcode.ECHO:
        if p != cmd.payload:
            raise ReplyError(f"ECHO reply {p.hex(' ')} differs from the request "
                             f"{cmd.payload.hex(' ')}")
        return p
    if op == Opcode.READ_MEM:
        if cmd.region is not None:
            _expect_len(op, p, cmd.count * _word_bytes(cmd.region, cmd.kernel, cmd.learning))
            return unpack_words(cmd.region, p, kernel=cmd.kernel, learning=cmd.learning)
        return p
    if op == Opcode.READ_EVENTS:
        n = spec.EventsHeader.size // 8
        if len(p) < n:
            raise ReplyError(f"READ_EVENTS reply has {len(p)} payload bytes, shorter than "
                             f"its {n}-byte header")
        head = unpack_struct(spec.EventsHeader, p[:n])
        try:
            indices, ends = unpack_records(p[n:])
        except ValueError as exc:
            raise ReplyError(f"READ_EVENTS reply: {exc}") from None
        return EventsReply(head["steps_pending"], head["remaining"], indices, ends,
                           head["steps_read"])
    _expect_len(op, p, 0)
    return None


# --- event records ---------------------------------------------------------------------
def _records_bytes(chunks, ends):
    """Records for ``chunks`` (index arrays, each <= RECORD_COUNT_MAX) with END flags."""
    counts = np.array([c.size for c in chunks], dtype=np.int64)
    indices = np.concatenate(chunks) if chunks else np.zeros(0, np.int64)
    limit = 1 << (8 * spec.EVENT_INDEX_BYTES)
    if indices.size and (indices.min() < 0 or indices.max() >= limit):
        k = int(np.flatnonzero((indices < 0) | (indices >= limit))[0])
        raise ValueError(f"event index {int(indices[k])} is outside [0, {limit - 1}]")
    out = np.empty(counts.size + indices.size, dtype="<u2")
    heads = np.cumsum(counts + 1) - counts - 1
    mask = np.ones(out.size, dtype=bool)
    mask[heads] = False
    out[heads] = counts | np.where(np.asarray(ends, dtype=bool), spec.RECORD_END, 0)
    out[mask] = indices
    return out.tobytes()


def pack_records(steps, *, close=True):
    """Event records for per-step index arrays (channels for INJECT).

    Each step becomes one record (several if it has more than ``RECORD_COUNT_MAX``
    events); the last record of each step has END, except the very last step's when
    ``close`` is false (it continues in the next INJECT). Vectorised over events.
    """
    assert spec.EVENT_INDEX_BYTES == 2 and spec.RECORD_HEADER_BYTES == 2
    chunks, ends = [], []
    steps = list(steps)
    for t, chans in enumerate(steps):
        chans = np.asarray(chans, dtype=np.int64).reshape(-1)
        parts = np.split(chans, np.arange(spec.RECORD_COUNT_MAX, chans.size,
                                          spec.RECORD_COUNT_MAX)) if chans.size else [chans]
        chunks += parts
        ends += [False] * (len(parts) - 1) + [close or t < len(steps) - 1]
    return _records_bytes(chunks, ends)


def unpack_records(data):
    """Parse event records: returns ``(indices, ends)`` (see ``EventsReply``).

    Raises ``ValueError`` if the bytes are not a whole number of records.
    """
    words = np.frombuffer(bytes(data), dtype="<u2") if len(data) % 2 == 0 else None
    if words is None:
        raise ValueError(f"event records are whole 16-bit words; got {len(data)} bytes")
    keep = np.ones(words.size, dtype=bool)
    ends, pos, total = [], 0, 0
    while pos < words.size:            # one iteration per record
        head = int(words[pos])
        count = head & spec.RECORD_COUNT_MAX
        if pos + 1 + count > words.size:
            raise ValueError(f"record at byte {2 * pos} announces {count} events, only "
                             f"{words.size - pos - 1} follow")
        keep[pos] = False
        total += count
        if head & spec.RECORD_END:
            ends.append(total)
        pos += 1 + count
    return words[keep].astype(np.int64), np.array(ends, dtype=np.int64)


def split_steps(indices, ends):
    """``(complete steps, trailing partial)`` from ``unpack_records`` output."""
    parts = np.split(np.asarray(indices, dtype=np.int64), np.asarray(ends, dtype=np.int64))
    return parts[:-1], parts[-1]


class StepAssembler:
    """Joins READ_EVENTS chunks into per-step arrays (a step may span replies)."""

    def __init__(self):
        self._partial = np.zeros(0, dtype=np.int64)

    @property
    def partial(self):
        return self._partial

    def feed(self, indices, ends):
        steps, rest = split_steps(indices, ends)
        if steps:
            steps[0] = np.concatenate([self._partial, steps[0]])
            self._partial = rest
        else:
            self._partial = np.concatenate([self._partial, rest])
        return steps


# --- memory words ----------------------------------------------------------------------
def _word_width(region, kernel, learning=False):
    k = get_kernel(kernel or DEFAULT_KERNEL)
    width = (spec.region_word_widths(k.state_word, k.profile, learning=True) if learning
             else k.word_widths)[Region(region)]
    if width == 0:
        raise ValueError(f"region {Region(region).name} exists on learning cores only")
    return width


def _word_bytes(region, kernel, learning=False):
    return (_word_width(region, kernel, learning) + 7) // 8


def pack_words(region, words, *, kernel=None, learning=False):
    """Wire bytes of ``words`` of ``region``: ``region_word_bytes`` each, little endian.

    ``words`` are unsigned ints below ``2**width`` (the region's word width on a core of
    ``kernel``, ``Kernel.word_widths``; default CUBA-LIF's ``spec.REGION_WORD_WIDTH``; a
    ``learning`` core's: ``spec.region_word_widths(..., learning=True)``). A numpy array
    is packed without a Python loop when the words fit 64 bits.
    """
    region = Region(region)
    width = _word_width(region, kernel, learning)
    nbytes = _word_bytes(region, kernel, learning)
    try:
        arr = np.asarray(words, dtype=np.int64).reshape(-1) if len(words) else \
            np.zeros(0, np.int64)
    except OverflowError:           # a word beyond 64 bits: the loop below names it
        arr = None
    if width <= 63 and arr is not None:
        bad = (arr < 0) | (arr >= (1 << width))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{region.name} word {k} = {int(arr[k])} does not fit "
                             f"{width} bits")
        return arr.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :nbytes].tobytes()
    out = bytearray()
    for k, w in enumerate(words):
        w = int(w)
        if not 0 <= w < (1 << width):
            raise ValueError(f"{region.name} word {k} = {w} does not fit {width} bits")
        out += w.to_bytes(nbytes, "little")
    return bytes(out)


def unpack_words(region, data, *, kernel=None, learning=False):
    """Words of ``region`` (of a core of ``kernel``, default CUBA-LIF; with or without
    ``learning``) from wire bytes: uint64 array (object ints above 64 bits)."""
    region = Region(region)
    nbytes = _word_bytes(region, kernel, learning)
    data = bytes(data)
    if len(data) % nbytes:
        raise ValueError(f"{len(data)} bytes are not a whole number of {nbytes}-byte "
                         f"{region.name} words")
    if nbytes <= 8:
        raw = np.zeros((len(data) // nbytes, 8), dtype=np.uint8)
        raw[:, :nbytes] = np.frombuffer(data, dtype=np.uint8).reshape(-1, nbytes)
        return raw.view("<u8").reshape(-1).astype(np.uint64)
    return np.array([int.from_bytes(data[k:k + nbytes], "little")
                     for k in range(0, len(data), nbytes)], dtype=object)


def fields_to_words(layout, **fields):
    """Pack per-field arrays into words of a ``StructLayout`` (``spec.pack``, vectorised
    over words), requiring every field and one value per word.

    Signed fields take two's-complement values in range; every field is range-checked.
    Returns uint64 words, or Python ints (object array) for layouts wider than 64 bits.
    """
    n = None
    arrays = {}
    for name, *_ in _fields(layout):
        if name not in fields:
            raise ValueError(f"missing field {name!r} of the layout")
        arr = np.asarray(fields[name]).reshape(-1)
        n = arr.size if n is None else n
        if arr.size != n:
            raise ValueError(f"field {name!r} has {arr.size} values, expected {n}")
        arrays[name] = arr
    extra = set(fields) - set(arrays)
    if extra:
        raise ValueError(f"unknown fields {sorted(extra)}")
    return spec.pack(layout, **arrays)


def words_to_fields(layout, words):
    """Inverse of ``fields_to_words``: a dict of int64 arrays (``spec.unpack``: signed
    fields sign-extended)."""
    wide = layout.size > 64
    return spec.unpack(layout, np.asarray(words, dtype=object if wide else np.uint64)
                       .reshape(-1))
