"""UART (8N1) golden model: the line waveform of a byte sequence, and the receiver.

Times are in clock cycles. ``uart_waveform`` draws the line level at every cycle (idle
high; start bit 0, eight data bits LSB first, stop bit 1), at an integer divisor (what
``UartTx`` must produce, cycle for cycle) or a fractional one (a transmitter whose rate is
off, to test the receiver's tolerance). ``uart_receive`` is the bit-true twin of
``UartRx`` working on the line as the receiver sees it after its synchroniser:

* idle: the first low sample ``n0`` starts a candidate frame;
* start-bit check at ``n0 + divisor // 2``: still low, or the candidate was a glitch and
  the receiver is idle again from the next sample;
* data bit ``k`` (0..7) sampled at ``n0 + divisor // 2 + (k + 1) * divisor``, the stop bit
  at ``n0 + divisor // 2 + 9 * divisor``;
* stop bit high: the byte is received; low: a framing error, and the receiver waits for a
  high sample before it looks for a new start bit (a held-low line is one error, not many).
"""

from typing import NamedTuple

import numpy as np

from neurofab import spec

__all__ = ["BITS_PER_FRAME", "uart_bits", "uart_waveform", "RxEvent", "uart_receive"]

#: start + data + stop
BITS_PER_FRAME = 1 + spec.UART_DATA_BITS + 1


def uart_bits(data):
    """Line levels of each byte's frame, shape (len(data), 10): start, d0..d7, stop."""
    data = np.frombuffer(bytes(data), dtype=np.uint8)
    bits = np.zeros((data.size, BITS_PER_FRAME), dtype=np.uint8)
    bits[:, 1:-1] = (data[:, None] >> np.arange(spec.UART_DATA_BITS)) & 1
    bits[:, -1] = 1
    return bits


def uart_waveform(data, divisor, *, starts=None, lead=0, length=None):
    """Line level (uint8 0/1) at every clock cycle while ``data`` is sent.

    Parameters
    ----------
    data : bytes-like
    divisor : float
        Clock cycles per bit; bit ``j`` of a frame starting at ``s`` covers cycles
        ``round(s + j * divisor) .. round(s + (j + 1) * divisor) - 1``.
    starts : sequence of float, optional
        Cycle at which each byte's start bit begins (must not overlap the previous frame);
        default back to back from ``lead``.
    length : int, optional
        Cycles to return (default: up to the end of the last stop bit); idle high after.
    """
    bits = uart_bits(data)
    n = bits.shape[0]
    frame = BITS_PER_FRAME * divisor
    if starts is None:
        starts = lead + frame * np.arange(n)
    starts = np.asarray(starts, dtype=np.float64)
    if starts.shape != (n,):
        raise ValueError(f"starts has shape {starts.shape}, expected ({n},)")
    if n > 1 and (np.diff(starts) < frame - 1e-9).any():
        k = int(np.flatnonzero(np.diff(starts) < frame - 1e-9)[0])
        raise ValueError(f"byte {k + 1} starts at {starts[k + 1]}, inside byte {k}'s frame "
                         f"({starts[k]} + {frame})")
    edges = np.rint(starts[:, None] + divisor * np.arange(BITS_PER_FRAME + 1)).astype(np.int64)
    end = int(edges[-1, -1]) if n else 0
    if length is None:
        length = end
    wave = np.ones(max(length, end), dtype=np.uint8)
    # Only zeros need drawing: mark each low bit's cycle range with +1/-1 and integrate.
    lows = bits == 0
    mark = np.zeros(wave.size + 1, dtype=np.int64)
    np.add.at(mark, edges[:, :-1][lows], 1)
    np.add.at(mark, edges[:, 1:][lows], -1)
    wave[np.cumsum(mark[:-1]) > 0] = 0
    return wave[:length]


class RxEvent(NamedTuple):
    """One receiver outcome: ``kind`` is "byte" or "frame_error"; ``clock`` is the
    cycle of the stop-bit sample."""
    kind: str
    value: int
    clock: int


def uart_receive(line, divisor):
    """Decode ``line`` (levels per cycle) exactly as ``UartRx`` does; list of ``RxEvent``."""
    if divisor < spec.UART_MIN_DIVISOR or int(divisor) != divisor:
        raise ValueError(f"divisor = {divisor} must be an integer >= {spec.UART_MIN_DIVISOR}")
    line = np.asarray(line, dtype=np.uint8)
    half = divisor // 2
    lows = np.flatnonzero(line == 0)
    highs = np.flatnonzero(line != 0)
    offsets = half + divisor * np.arange(1, BITS_PER_FRAME)   # d0..d7, stop
    weights = 1 << np.arange(spec.UART_DATA_BITS)
    events, pos, armed = [], 0, True
    while True:
        if not armed:
            k = np.searchsorted(highs, pos)
            if k == highs.size:
                break
            pos, armed = int(highs[k]), True
        k = np.searchsorted(lows, pos)
        if k == lows.size:
            break
        n0 = int(lows[k])
        if n0 + offsets[-1] >= line.size:
            break
        if line[n0 + half]:
            pos = n0 + half + 1          # glitch: shorter than half a bit
            continue
        samples = line[n0 + offsets]
        stop = n0 + int(offsets[-1])
        if samples[-1]:
            events.append(RxEvent("byte", int(samples[:-1] @ weights), stop))
        else:
            events.append(RxEvent("frame_error", 0, stop))
            armed = False
        pos = stop + 1
    return events
