"""COBS (Consistent Overhead Byte Stuffing) golden model.

Encoding is the minimal form (Cheshire & Baker; the examples of the Wikipedia article): a
frame that ends exactly after a full 254-byte block gets no trailing ``01`` code. The
decoder also accepts the non-minimal form. ``cobs_encode`` / ``cobs_decode`` work on whole
frames (without the ``0x00`` delimiter) and cost a few C-level calls per zero byte;
``CobsDecoder`` is the byte-by-byte twin of the RTL decoder (same tokens, same errors);
``encode_frames`` is the twin of the RTL encoder's output stream.
"""

from neurofab import spec
from neurofab.spec import FrameStatus

__all__ = ["CobsError", "CobsOversize", "cobs_encode", "cobs_decode", "encode_frames", "CobsDecoder"]

_MAX = spec.COBS_MAX_BLOCK


class CobsError(ValueError):
    """A COBS frame is malformed; ``offset`` is the position in the encoded frame."""

    def __init__(self, message, offset):
        super().__init__(message)
        self.offset = offset


class CobsOversize(CobsError):
    """A COBS frame decodes to more than the allowed length."""

    def __init__(self, message, limit, length):
        super().__init__(message, limit)
        self.limit = limit
        self.length = length


def cobs_encode(data):
    """COBS-encode one frame; the result contains no zero byte and no delimiter."""
    data = bytes(data)
    out = bytearray()
    segments = data.split(b"\x00")
    last = len(segments) - 1
    for k, seg in enumerate(segments):
        n = len(seg)
        full = n // _MAX
        for j in range(full):
            out.append(_MAX + 1)
            out += seg[j * _MAX:(j + 1) * _MAX]
        rest = seg[full * _MAX:]
        # The block that stands for the zero after this segment (or the frame end). A frame
        # ending right after a full block needs none (minimal form).
        if k < last or rest or not full:
            out.append(len(rest) + 1)
            out += rest
    return bytes(out)


def cobs_decode(encoded, max_len=None):
    """Decode one COBS frame (without delimiter).

    Raises ``CobsError`` if the frame is malformed (its last block is cut short, or it holds
    a zero byte) and ``CobsOversize`` if it decodes to more than ``max_len`` bytes. Like the
    RTL decoder, a frame that is both too long and cut short counts as oversized: the
    length is that of everything the decoder would have emitted.
    """
    encoded = bytes(encoded)
    zero = encoded.find(b"\x00")
    if zero >= 0:
        raise CobsError(f"zero byte at offset {zero} inside a COBS frame", zero)
    out = bytearray()
    pos, n, truncated = 0, len(encoded), None
    while pos < n:
        code = encoded[pos]
        end = pos + code
        if end > n:
            truncated = CobsError(
                f"COBS block code {code:#04x} at offset {pos} needs {code - 1} data bytes, "
                f"only {n - pos - 1} left: frame truncated", pos)
        out += encoded[pos + 1:end]
        pos = end
        if code != _MAX + 1 and pos < n:
            out.append(0)
    if max_len is not None and len(out) > max_len:
        raise CobsOversize(f"COBS frame decodes to {len(out)} bytes or more, limit {max_len}",
                           max_len, len(out))
    if truncated:
        raise truncated
    return bytes(out)


def encode_frames(frames):
    """Wire bytes of ``frames``: each COBS-encoded and followed by the delimiter."""
    return b"".join(cobs_encode(f) + b"\x00" for f in frames)


class CobsDecoder:
    """Byte-by-byte twin of ``neurofab.rtl.link.CobsDecoder``.

    ``feed(data)`` returns the tokens the RTL emits for these input bytes, as
    ``(data, end, status)`` tuples: decoded bytes ``(b, 0, FrameStatus.OK)``, then one end
    token ``(0, 1, status)`` per non-empty frame. Decoded bytes are emitted as soon as they
    are known (a malformed frame's bytes come out before its ``COBS`` end token); past
    ``max_frame`` decoded bytes nothing more of the frame is emitted and the end token says
    ``OVERSIZE``. Empty frames (delimiter after delimiter) produce nothing.
    """

    def __init__(self, max_frame=spec.MAX_BODY):
        if max_frame < 1:
            raise ValueError(f"max_frame = {max_frame} must be at least 1")
        self.max_frame = max_frame
        self._reset()

    def _reset(self):
        self.in_frame = False
        self.count = 0              # data bytes left in the current block
        self.zero_pending = False   # the current block ended below 0xFF: a zero follows
        self.length = 0
        self.oversize = False

    def _emit(self, out, byte):
        if self.length == self.max_frame:
            self.oversize = True
        if not self.oversize:
            out.append((byte, 0, FrameStatus.OK))
            self.length += 1

    def feed(self, data):
        out = []
        for b in bytes(data):
            if b == 0:
                if self.in_frame:
                    status = (FrameStatus.OVERSIZE if self.oversize else
                              FrameStatus.COBS if self.count else FrameStatus.OK)
                    out.append((0, 1, status))
                self._reset()
            elif self.count == 0:
                self.in_frame = True
                if self.zero_pending:
                    self._emit(out, 0)
                self.count = b - 1
                self.zero_pending = b != _MAX + 1
            else:
                self._emit(out, b)
                self.count -= 1
        return out
