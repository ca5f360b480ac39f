"""Block co-simulation of the host link (``rtl/link``) against its golden twins.

The case builders here are the ``uart-rx``, ``uart-tx``, ``cobs-dec``, ``cobs-enc``,
``crc16`` and ``link-controller`` entries of :data:`neurofab.cosim.registry.BLOCKS`: each
draws a random instance and stimulus and returns a :class:`~neurofab.cosim.engine.StepCase`
that :func:`~neurofab.cosim.engine.run` plays on every back end.

Blocks whose ports are streams are played as they are (COBS). The others get a small
wrapper component here that turns their wires into streams the transaction player can
drive and the golden model can predict exactly:

* :class:`UartRxBench`: the line is a script of runs (level, clocks) offered without gaps
  (``StepCase.timed``), so the line the receiver sees is the concatenation of the runs —
  exactly the ``line`` given to ``golden.link.uart.uart_receive``. Received bytes and
  error pulses leave as events stamped with their line time.
* :class:`UartTxBench`: the line is sampled at every clock except those where the
  transmitter idles for want of input (``ready`` high, no byte offered, line high). Those
  clocks depend on the random input gaps; without them the line is the back-to-back
  waveform ``golden.link.uart.uart_waveform(data, divisor, lead=1)``, cycle for cycle.
* :class:`Crc16Bench`: the CRC output after every byte, as one transaction per byte.
* :class:`ControllerBench`: a ``LinkController`` serving a real ``NeuronCore``; frames in
  and replies out at the decoded-byte level. The replies are predicted by the golden
  ``golden.link.controller.LinkController`` (``host.codec`` for the frames,
  ``golden.core`` for the network).
"""

import numpy as np
from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from neurofab import spec
from neurofab.host import codec
from neurofab.spec import Ctrl, FrameStatus, Nak, Opcode, Region

from neurofab.golden.link.controller import LinkController as GoldenController

from .encoders import pick as _pick
from .engine import Step, StepCase

__all__ = ["LineRun", "RxEvent", "UartRxBench", "UartTxBench", "Crc16Bench",
           "ControllerBench", "controller_model", "controller_bench", "RX_LATENCY", "CONTROLLER_GEOMETRY",
           "uart_rx_case", "uart_tx_case", "cobs_dec_case", "cobs_enc_case", "crc16_case",
           "link_controller_case"]

#: One run of the UART line script: ``level`` held for ``cycles`` clocks.
LineRun = data.StructLayout({"level": 1, "cycles": 12})
_RUN_MAX = (1 << 12) - 1

#: A receiver event: ``kind`` 0 = byte (``data``), 1 = frame error, 2 = overrun; ``time``
#: is the line time (index into the line script) of the clock it appeared in.
RxEvent = data.StructLayout({"data": 8, "kind": 2, "time": 20})
_RX_BYTE, _RX_FRAME_ERROR, _RX_OVERRUN = 0, 1, 2

#: Clocks from the stop-bit sample (``RxEvent.clock`` of the golden receiver) to the
#: receiver's output: the 2-FF synchroniser plus the output register.
RX_LATENCY = 3


def _fifo_out(m, buf, port):
    """Drive output stream ``port`` (plain payload) from the FIFO ``buf``."""
    m.d.comb += [port.valid.eq(buf.r_stream.valid), port.payload.eq(buf.r_stream.payload),
                 buf.r_stream.ready.eq(port.ready)]


# ======================================================================================
# Wrappers
# ======================================================================================
class UartRxBench(wiring.Component):
    """``UartRx`` driven by a line script, its outputs as time-stamped events.

    The line shows each ``i_line`` run for its ``cycles`` clocks, runs back to back; with
    no run pending it idles high and the line time stands still (a script leaves the
    receiver idle at every phase boundary, so the pause is invisible to it).

    Ports
    -----
    i_line : In(stream.Signature(LineRun.size))       runs (``LineRun`` bits)
    o_event : Out(stream.Signature(RxEvent.size))     ``RxEvent`` bits, one per byte/pulse
    """

    def __init__(self, divisor):
        from neurofab.rtl.link import UartRx
        self.rx = UartRx(divisor=divisor)
        super().__init__({"i_line": In(stream.Signature(LineRun.size)),
                          "o_event": Out(stream.Signature(RxEvent.size))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx = rx = self.rx
        run = data.View(LineRun, self.i_line.payload)
        level = Signal(init=1)
        left = Signal(LineRun["cycles"].shape)       # clocks of the current run still due
        time = Signal(RxEvent["time"].shape)
        active = left != 0
        # the next run is taken in the last clock of the current one: no gap between them
        m.d.comb += [self.i_line.ready.eq(left <= 1), rx.i_rx.eq(Mux(active, level, 1))]
        with m.If(self.i_line.valid & self.i_line.ready):
            m.d.sync += [level.eq(run.level), left.eq(run.cycles)]
        with m.Elif(active):
            m.d.sync += left.eq(left - 1)
        with m.If(active):
            m.d.sync += time.eq(time + 1)

        # the receiver cannot wait: its bytes are taken at once, into a FIFO that the
        # (back-pressured) output drains; a lost event shows as a missing transaction
        m.submodules.buf = buf = fifo.SyncFIFOBuffered(width=RxEvent.size, depth=4)
        kind = Mux(rx.o_stream.valid, _RX_BYTE, Mux(rx.o_frame_error, _RX_FRAME_ERROR,
                                                    _RX_OVERRUN))
        m.d.comb += [
            rx.o_stream.ready.eq(1),
            buf.w_stream.valid.eq(rx.o_stream.valid | rx.o_frame_error | rx.o_overrun),
            # (a pulse carries no byte: the receiver's payload register is stale then)
            buf.w_stream.payload.eq(Cat(Mux(rx.o_stream.valid, rx.o_stream.payload, 0), kind,
                                        time)),
        ]
        _fifo_out(m, buf, self.o_event)
        return m


class UartTxBench(wiring.Component):
    """``UartTx`` with its line sampled into words of ``10 * divisor`` clocks.

    A clock is sampled unless the transmitter waits for input in it (``ready`` high, no
    byte offered, line high): those clocks are the random input gaps. A low line is always
    sampled, so a transmitter that idles low cannot hide it.

    Ports
    -----
    i_stream : In(stream.Signature(8))                 bytes to send (forwarded)
    o_line : Out(stream.Signature(10 * divisor))       line levels, first clock in bit 0
    """

    def __init__(self, divisor):
        from neurofab.golden.link.uart import BITS_PER_FRAME
        from neurofab.rtl.link import UartTx
        self.tx = UartTx(divisor=divisor)
        self.cycles = BITS_PER_FRAME * divisor
        super().__init__({"i_stream": In(stream.Signature(8)),
                          "o_line": Out(stream.Signature(self.cycles))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx = tx = self.tx
        connect(m, flipped(self.i_stream), tx.i_stream)
        n = self.cycles
        waiting = tx.i_stream.ready & ~tx.i_stream.valid & tx.o_tx
        shift = Signal(n)
        k = Signal(range(n))
        word = Cat(shift[1:], tx.o_tx)
        m.submodules.buf = buf = fifo.SyncFIFOBuffered(width=n, depth=4)
        m.d.comb += buf.w_stream.payload.eq(word)
        with m.If(~waiting):
            m.d.sync += [shift.eq(word), k.eq(Mux(k == n - 1, 0, k + 1))]
            m.d.comb += buf.w_stream.valid.eq(k == n - 1)
        _fifo_out(m, buf, self.o_line)
        return m


class Crc16Bench(wiring.Component):
    """``Crc16`` with ``o_crc`` / ``o_residue`` after every byte as a transaction.

    Ports
    -----
    i_stream : In(stream.Signature(spec.CrcByte))
    o_crc : Out(stream.Signature(17))      CRC in bits 0..15, residue flag in bit 16
    """

    def __init__(self, params=None):
        from neurofab.rtl.link import Crc16
        self.crc = Crc16() if params is None else Crc16(params)
        super().__init__({"i_stream": In(stream.Signature(spec.CrcByte)),
                          "o_crc": Out(stream.Signature(17))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = self.crc
        i = self.i_stream
        # bytes go in at up to one per clock (the CRC's full rate); each result is queued
        # the clock after its byte, so a byte is taken only while the FIFO has room for
        # it and for the result still on its way
        m.submodules.buf = buf = fifo.SyncFIFOBuffered(width=17, depth=8)
        pending = Signal()
        m.d.comb += [crc.i_stream.payload.eq(i.payload),
                     i.ready.eq(buf.level + pending < buf.depth - 1),
                     crc.i_stream.valid.eq(i.valid & i.ready),
                     buf.w_stream.valid.eq(pending),
                     buf.w_stream.payload.eq(Cat(crc.o_crc, crc.o_residue))]
        m.d.sync += pending.eq(i.valid & i.ready)
        _fifo_out(m, buf, self.o_crc)
        return m


class ControllerBench(wiring.Component):
    """``LinkController`` + ``NeuronCore`` (memories empty unless ``cfg`` is given).

    Ports
    -----
    i_frame : In(stream.Signature(spec.DecodedByte))    the controller's
    o_frame : Out(stream.Signature(spec.FrameByte))     the controller's
    o_idle : Out(stream.Signature(1))       valid while no step is queued or running
                                            (``o_running`` low): a script waits on it
    """

    def __init__(self, *, cfg=None, kernel=None, n_neurons, n_inputs, syn_capacity, **link):
        from neurofab.rtl.core import NeuronCore
        from neurofab.rtl.link import LinkController
        self.core = NeuronCore(cfg, n_neurons=n_neurons, n_inputs=n_inputs,
                               syn_capacity=syn_capacity, kernel=kernel)
        self.ctrl = LinkController(n_neurons=n_neurons, n_inputs=n_inputs,
                                   syn_capacity=syn_capacity, kernel=self.core.kernel, **link)
        super().__init__({"i_frame": In(stream.Signature(spec.DecodedByte)),
                          "o_frame": Out(stream.Signature(spec.FrameByte)),
                          "o_idle": Out(stream.Signature(1))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        m.submodules.ctrl = ctrl = self.ctrl
        connect(m, ctrl.o_events, core.i_events)
        connect(m, core.o_spikes, ctrl.i_spikes)
        connect(m, ctrl.o_mem, core.i_mem)
        connect(m, core.o_mem, ctrl.i_mem)
        connect(m, flipped(self.i_frame), ctrl.i_frame)
        connect(m, ctrl.o_frame, flipped(self.o_frame))
        m.d.comb += self.o_idle.valid.eq(~ctrl.o_running)
        return m


# ======================================================================================
# UART
# ======================================================================================
def _runs(line):
    """Run-length ``LineRun`` words of a line (0/1 per clock), runs split at the maximum."""
    line = np.asarray(line, dtype=np.int64)
    if not line.size:
        return []
    edges = np.flatnonzero(np.diff(line)) + 1
    starts = np.concatenate([[0], edges])
    lengths = np.diff(np.concatenate([starts, [line.size]]))
    out = []
    for s, n in zip(starts.tolist(), lengths.tolist()):
        while n:
            k = min(n, _RUN_MAX)
            out.append(spec.pack(LineRun, level=int(line[s]), cycles=k))
            n -= k
    return out


def _rx_unit(rng, divisor):
    """A stretch of line: a byte, a frame error, a glitch or noise, then idle (0/1 levels)."""
    from neurofab.golden.link.uart import uart_waveform
    half = divisor // 2
    kind = rng.choice(["byte", "byte", "byte", "frame_error", "glitch", "noise"])
    idle = np.ones(int(rng.integers(0, 2 * divisor + 1)), dtype=np.uint8)
    if kind == "glitch":
        # a start bit that does not last to mid-bit is rejected; one clock longer is a start
        width = int(rng.integers(1, half + 1)) if rng.random() < 0.8 else half + 1
        return np.concatenate([np.zeros(width, np.uint8), np.ones(half + 1, np.uint8), idle])
    if kind == "noise":
        runs = rng.integers(1, 2 * divisor, int(rng.integers(2, 12)))
        noise = (np.arange(runs.size) % 2).repeat(runs).astype(np.uint8)
        return np.concatenate([noise, np.ones(divisor, np.uint8), idle])
    wave = uart_waveform(bytes([int(rng.integers(256))]), divisor)
    if kind == "frame_error":
        # the stop bit low, and the line held low a while longer (a break)
        wave[9 * divisor:] = 0
        wave = np.concatenate([wave, np.zeros(int(rng.integers(0, 3 * divisor)), np.uint8)])
    return np.concatenate([wave, idle])


def uart_rx_case(rng, steps, **p):
    """``UartRx`` on a random line (bytes back to back or apart, frame errors, glitches,
    noise) against ``golden.link.uart.uart_receive``: bytes and frame errors, in order, at
    the exact clock."""
    from neurofab.golden.link.uart import uart_receive
    divisor = p.get("divisor", int(rng.integers(spec.UART_MIN_DIVISOR, 8)))
    lines = []
    for _ in range(steps):
        parts = [_rx_unit(rng, divisor) for _ in range(int(rng.integers(1, 6)))]
        # every step ends idle long enough for the receiver's last event to come out and
        # for it to be back in its idle state when the next step's line starts
        # (a start bit in the noise just before may still be running: a whole frame)
        parts.append(np.ones(10 * divisor + RX_LATENCY + 2, np.uint8))
        lines.append(np.concatenate(parts))
    ends = np.cumsum([len(x) for x in lines])
    line = np.concatenate(lines)
    expected = [[] for _ in range(steps)]
    for ev in uart_receive(line, divisor):
        time = ev.clock + RX_LATENCY
        t = int(np.searchsorted(ends, time, side="right"))
        kind = _RX_BYTE if ev.kind == "byte" else _RX_FRAME_ERROR
        expected[t].append(spec.pack(RxEvent, data=ev.value, kind=kind, time=time))
    out = [Step({"i_line": _runs(x)}, {"o_event": e}, {}, len(x))
           for x, e in zip(lines, expected)]
    return StepCase("uart-rx", {"divisor": divisor}, lambda: UartRxBench(divisor), out,
                     {"o_event": ("struct", RxEvent)}, timed=("i_line",))


def uart_tx_case(rng, steps, **p):
    """``UartTx`` sending random bytes (random input gaps; the transmitter back-pressures)
    against ``golden.link.uart.uart_waveform``: the line clock for clock."""
    from neurofab.golden.link.uart import BITS_PER_FRAME, uart_receive, uart_waveform
    divisor = p.get("divisor", int(rng.integers(spec.UART_MIN_DIVISOR, 8)))
    data_ = [rng.integers(0, 256, int(rng.integers(1, 6))).tolist() for _ in range(steps)]
    data_[0][:2] = [0x00, 0xFF][:len(data_[0])]
    flat = bytes(b for d in data_ for b in d)
    n = BITS_PER_FRAME * divisor
    # sampled clocks: the accepting clock of the first byte, then back to back
    wave = uart_waveform(flat, divisor, lead=1)
    # (the golden receiver reads the golden line back: the expectation is consistent)
    assert [e.value for e in uart_receive(wave, divisor)] == list(flat)
    words = [int(sum(int(b) << c for c, b in enumerate(wave[k * n:(k + 1) * n])))
             for k in range(len(flat))]
    out, pos = [], 0
    for d in data_:
        out.append(Step({"i_stream": d}, {"o_line": words[pos:pos + len(d)]}, {},
                        n * len(d) + 4))
        pos += len(d)
    return StepCase("uart-tx", {"divisor": divisor}, lambda: UartTxBench(divisor), out,
                     {"o_line": ("line", n, divisor)})


# ======================================================================================
# CRC
# ======================================================================================
def crc16_case(rng, steps, **p):
    """``Crc16`` on random messages (some followed by their CRC: residue) against
    ``golden.link.crc.Crc16``: CRC and residue flag after every byte and every step."""
    from neurofab.golden.link.crc import CATALOGUE, CRC16, Crc16 as Golden, crc16, crc16_bytes
    name = _pick(rng, p, "params", [CRC16.name] * 3 + sorted(CATALOGUE))
    params = CATALOGUE[name]
    gold = Golden(params)
    out = []
    for t in range(steps):
        items = []
        while len(items) < 8:
            body = rng.integers(0, 256, int(rng.integers(0, 12)), dtype=np.uint8).tobytes()
            msg = body + crc16_bytes(crc16(body, params), params) if rng.random() < 0.5 \
                else body
            first = rng.random() < 0.8
            items += [(b, int(first and k == 0)) for k, b in enumerate(msg)]
        puts, gets = [], []
        for b, first in items:
            value = gold.update(b, bool(first))
            puts.append(spec.pack(spec.CrcByte, data=b, first=first))
            gets.append(value | int(value == params.residue) << 16)
        out.append(Step({"i_stream": puts}, {"o_crc": gets},
                        {"crc": gold.value, "residue": int(gold.value == params.residue)},
                        len(items) + 4))

    def factory():
        return Crc16Bench(params)
    return StepCase("crc16", {"params": name}, factory, out, {"o_crc": "words"},
                     probe=lambda d: [("crc", d.crc.o_crc), ("residue", d.crc.o_residue)])


# ======================================================================================
# COBS
# ======================================================================================
def _nonzero(rng, n):
    return rng.integers(1, 256, n, dtype=np.uint8).tobytes()


def _random_frame(rng, max_len):
    """A frame of 1..max_len bytes: zero-free, sparse zeros or zero-rich."""
    n = int(rng.integers(1, max_len + 1))
    f = rng.integers(1, 256, n, dtype=np.uint8)
    f[rng.random(n) < rng.choice([0.0, 0.05, 0.4, 0.9])] = 0
    return f.tobytes()


def _edge_frames(rng, max_len):
    """Frames around the 254-byte block rule and the length limit (those within max_len)."""
    frames = [b"\x00", b"\x00\x00", b"\x01", _nonzero(rng, 253), _nonzero(rng, 254),
              _nonzero(rng, 255), _nonzero(rng, 254) + b"\x00", b"\x00" + _nonzero(rng, 254),
              _random_frame(rng, 8).ljust(max_len, b"\x00"), _nonzero(rng, max_len)]
    return [f for f in frames if len(f) <= max_len]


def cobs_enc_case(rng, steps, **p):
    """``CobsEncoder`` on random frames (zero-free, zero-rich, around the 254-byte block,
    up to ``max_len`` bytes) against ``golden.link.cobs.encode_frames``, byte for byte."""
    from neurofab.golden.link.cobs import encode_frames
    from neurofab.rtl.link import CobsEncoder
    max_len = p.get("max_len", spec.MAX_BODY)
    edges = _edge_frames(rng, max_len)
    rng.shuffle(edges)
    out = []
    for t in range(steps):
        frames = [edges.pop()] if edges and rng.random() < 0.5 else []
        frames += [_random_frame(rng, 40) for _ in range(int(rng.integers(1, 4)))]
        items = [spec.pack(spec.FrameByte, data=b, last=int(k == len(f) - 1))
                 for f in frames for k, b in enumerate(f)]
        wire = list(encode_frames(frames))
        out.append(Step({"i_stream": items}, {"o_stream": wire}, {}, 2 * len(wire) + 8))
    return StepCase("cobs-enc", {"max_len": max_len}, CobsEncoder, out,
                     {"o_stream": "words"})


def _damaged(rng, frame, max_frame):
    """Wire bytes of a damaged or unusual frame (ending with a delimiter)."""
    from neurofab.golden.link.cobs import cobs_encode
    enc = bytearray(cobs_encode(frame))
    kind = rng.choice(["truncated", "corrupt", "oversize", "empty", "garbage", "code"])
    if kind == "truncated":          # cut short: the delimiter arrives inside a block
        enc = enc[:int(rng.integers(1, len(enc) + 1))]
    elif kind == "corrupt":          # a byte changed (a zero would split the frame)
        k = int(rng.integers(len(enc)))
        enc[k] = int(rng.integers(0, 256))
    elif kind == "oversize":         # longer than max_frame (and maybe cut as well)
        enc = bytearray(cobs_encode(_random_frame(rng, 8) + _nonzero(rng, max_frame)))
        if rng.random() < 0.3:
            enc = enc[:-2]
    elif kind == "empty":            # an empty frame, and extra delimiters
        enc = bytearray(b"\x01" if rng.random() < 0.5 else b"\x00")
    elif kind == "code":             # a block code that promises more than follows
        enc = bytearray([int(rng.integers(3, 256))]) + enc[:1]
    else:
        enc = bytearray(rng.integers(0, 256, int(rng.integers(1, 24)), dtype=np.uint8))
    return bytes(enc) + b"\x00"


def cobs_dec_case(rng, steps, **p):
    """``CobsDecoder`` on a random wire (good frames, zero-rich and at the length limit;
    truncated, corrupt, oversized, empty frames, garbage) against
    ``golden.link.cobs.CobsDecoder``, token for token."""
    from neurofab.golden.link.cobs import CobsDecoder as Golden, encode_frames
    from neurofab.rtl.link import CobsDecoder
    max_frame = _pick(rng, p, "max_frame", [1, 8, 40, 68, 300, spec.MAX_BODY])
    gold = Golden(max_frame)
    edges = _edge_frames(rng, max_frame)
    rng.shuffle(edges)
    out = []
    for t in range(steps):
        wire = b""
        for _ in range(int(rng.integers(1, 4))):
            if edges and rng.random() < 0.3:
                frame = edges.pop()
            else:
                frame = _random_frame(rng, min(max_frame, 40))
            wire += encode_frames([frame]) if rng.random() < 0.6 else \
                _damaged(rng, frame, max_frame)
        if t == steps - 1 and rng.random() < 0.5:
            wire = wire[:-1]         # the run may end inside a frame: no end token yet
        tokens = [spec.pack(spec.DecodedByte, data=d, end=e, status=FrameStatus(s))
                  for d, e, s in gold.feed(wire)]
        out.append(Step({"i_stream": list(wire)}, {"o_stream": tokens}, {}, len(wire) + 4))
    return StepCase("cobs-dec", {"max_frame": max_frame},
                     lambda: CobsDecoder(max_frame=max_frame), out,
                     {"o_stream": ("struct", spec.DecodedByte)})


# ======================================================================================
# Link controller
# ======================================================================================
#: The controller instance of the ``link-controller`` block (the boards tests' small one).
CONTROLLER_GEOMETRY = dict(n_neurons=16, n_inputs=8, syn_capacity=64, max_payload=64,
                           in_depth=16, out_depth=16)
_LINK = dict(clk_hz=12_000_000, board_id=7, build_hash=0x0123456789ABCDEF)
_UNKNOWN_OPCODES = (0x00, 0x06, 0x42, 0x81, 0xFF)


def _frame_tokens(body, status=FrameStatus.OK):
    """``DecodedByte`` words of a received frame: its bytes, then the end token."""
    return ([spec.pack(spec.DecodedByte, data=b, end=0, status=FrameStatus.OK) for b in body]
            + [spec.pack(spec.DecodedByte, data=0, end=1, status=status)])


def _reply_tokens(body):
    """``FrameByte`` words of a reply body (``last`` on its final byte)."""
    return [spec.pack(spec.FrameByte, data=b, last=int(k == len(body) - 1))
            for k, b in enumerate(body)]


def controller_model(cfg):
    """The golden controller of :data:`CONTROLLER_GEOMETRY` serving ``cfg``."""
    return GoldenController(cfg, CONTROLLER_GEOMETRY, **_LINK)


def controller_bench():
    """The :class:`ControllerBench` of :data:`CONTROLLER_GEOMETRY` (empty core memories)."""
    return ControllerBench(**CONTROLLER_GEOMETRY, **_LINK)


class _Session:
    """Builds the steps of a ``link-controller`` case: frames in, the model's replies out."""

    def __init__(self, rng, model):
        self.rng, self.model = rng, model
        self.seq = int(rng.integers(256))
        self.steps = []
        self.frames, self.replies = [], []
        self.last_cmd = None          # body of the last command that reached execution

    def frame(self, body, status=FrameStatus.OK):
        before = self.model.last
        reply = self.model.send(body, status)
        if self.model.last is not before:
            self.last_cmd = body
        self.frames.append(_frame_tokens(body, status))
        self.replies.append(_reply_tokens(reply))

    def command(self, cmd, seq=None):
        if seq is None:
            self.seq = (self.seq + 1) & 0xFF
            seq = self.seq
        self.frame(codec.frame_body(cmd.opcode.value, seq, cmd.payload,
                                    max_payload=spec.MAX_PAYLOAD))

    def end_step(self, clocks=0):
        puts = [w for f in self.frames for w in f]
        gets = [w for r in self.replies for w in r]
        # (a generous budget: RESET walks all state words, READ/WRITE_MEM wait on the core)
        self.steps.append(Step({"i_frame": puts}, {"o_frame": gets}, {},
                               clocks + 12 * (len(puts) + len(gets)) + 600 * len(self.frames)))
        self.frames, self.replies = [], []

    def wait_idle(self, steps):
        """A step that waits for the run to end (the controller's ``o_running`` low)."""
        self.steps.append(Step({}, {"o_idle": [0]}, {}, 400 * steps + 400))


def _upload(s, cfg):
    """WRITE_MEM frames loading ``cfg`` into the empty core (runs of consecutive words)."""
    runs = []
    max_payload = s.model.g["max_payload"]
    hdr = spec.MemHeader.size // 8
    for region, index, word in cfg.upload_words(n_inputs=s.model.g["n_inputs"],
                                                clear_acc=False):
        nb = spec.region_word_bytes(region)
        if runs and runs[-1][0] == region and runs[-1][1] + len(runs[-1][2]) == index \
                and hdr + (len(runs[-1][2]) + 1) * nb <= max_payload:
            runs[-1][2].append(word)
        else:
            runs.append((region, index, [word]))
    for region, start, words in runs:
        s.command(codec.write_mem(region, start, words, max_payload=max_payload))


def _read_any(s, rng):
    m = s.model
    present = [r for r in Region if m.depth[r]]     # (absent ones: the "bad" action)
    region = present[int(rng.integers(len(present)))]
    nb = spec.region_word_bytes(region)
    count = int(rng.integers(0, min(m.depth[region], m.g["max_payload"] // nb) + 1))
    start = int(rng.integers(0, m.depth[region] - count + 1))
    s.command(codec.read_mem(region, start, count, max_payload=m.g["max_payload"]))


def _write_unused(s, rng):
    """WRITE_MEM of words no neuron uses (spare synapses, spare profiles), then read back."""
    m = s.model
    spare = {Region.SYNAPSE: (m.cfg.n_synapses, m.depth[Region.SYNAPSE]),
             Region.PROFILE: (int(m.profile.max()) + 1, spec.PROFILE_COUNT)}
    spare = {r: lim for r, lim in spare.items() if lim[0] < lim[1]}
    if not spare:
        return _read_any(s, rng)
    region = list(spare)[int(rng.integers(len(spare)))]
    lo, hi = spare[region]
    nb = spec.region_word_bytes(region)
    count = int(rng.integers(1, min(hi - lo, (m.g["max_payload"] - 7) // nb) + 1))
    start = int(rng.integers(lo, hi - count + 1))
    width = spec.REGION_WORD_WIDTH[region]
    words = [int.from_bytes(rng.bytes(nb), "little") & ((1 << width) - 1)
             for _ in range(count)]
    s.command(codec.write_mem(region, start, words, max_payload=m.g["max_payload"]))
    s.command(codec.read_mem(region, start, count, max_payload=m.g["max_payload"]))


def _inject(s, rng):
    m = s.model
    n_in, free = m.g["n_inputs"], m.g["in_depth"] - len(m.in_fifo)
    kind = rng.choice(["fit", "fit", "fit", "no_space", "bad_arg", "bad_length"])
    if kind == "bad_length":                    # a record announcing more than follows
        return s.command(codec.Command(Opcode.INJECT, b"\x02\x80\x01\x00"))
    steps = [rng.permutation(n_in)[:int(rng.integers(0, 4))].tolist()
             for _ in range(int(rng.integers(1, 4)))]
    if kind == "bad_arg":
        steps[-1].append(int(rng.integers(n_in, 1 << 16)))
    close = rng.random() < 0.8
    entries = sum(len(x) for x in steps) + len(steps) - (not close)
    if kind == "fit":
        while entries > free and steps:
            entries -= len(steps.pop()) + 1
        if not steps:
            return s.command(codec.read_events())
    elif kind == "no_space":
        while entries <= free:
            steps.append(rng.integers(0, n_in, 3).tolist())
            entries += 4
    s.command(codec.inject(steps, close=close, max_payload=spec.MAX_PAYLOAD))


def _corrupt(s, rng):
    """A frame the link checks refuse, or a command the controller refuses."""
    s.seq = (s.seq + 1) & 0xFF
    seq, maxp = s.seq, s.model.g["max_payload"]
    body = bytearray(codec.frame_body(Opcode.STATUS.value, seq))
    kind = rng.choice(["crc", "opcode", "oversize", "oversize_token", "cobs", "runt",
                       "empty", "bad_region", "bad_range", "bad_length"])
    if kind == "crc":
        bit = int(rng.integers(8 * len(body)))
        body[bit // 8] ^= 1 << (bit % 8)
        s.frame(bytes(body))
    elif kind == "opcode":
        op = _UNKNOWN_OPCODES[int(rng.integers(len(_UNKNOWN_OPCODES)))]
        s.frame(codec.frame_body(op, seq, rng.bytes(int(rng.integers(0, 4)))))
    elif kind == "oversize":                    # one byte more than max_payload + 4
        s.frame(codec.frame_body(Opcode.ECHO.value, seq, rng.bytes(maxp + 1)))
    elif kind == "oversize_token":              # the decoder says oversize
        s.frame(bytes(body), FrameStatus.OVERSIZE)
    elif kind == "cobs":                        # the decoder says malformed
        s.frame(bytes(body[:int(rng.integers(0, len(body) + 1))]), FrameStatus.COBS)
    elif kind == "runt":
        s.frame(bytes(body[:int(rng.integers(1, spec.MIN_BODY))]))
    elif kind == "empty":
        s.frame(b"", FrameStatus.COBS)
    elif kind == "bad_region":
        s.command(codec.Command(Opcode.READ_MEM, codec.pack_struct(
            spec.MemHeader, region=int(rng.integers(len(Region), 256)), start=0, count=1)))
    elif kind == "bad_range":
        region = Region(int(rng.integers(len(Region))))
        depth = s.model.depth[region]
        op = Opcode.READ_MEM if rng.random() < 0.5 else Opcode.WRITE_MEM
        payload = codec.pack_struct(spec.MemHeader, region=region.value, start=depth, count=1)
        if op == Opcode.WRITE_MEM:
            payload += bytes(spec.region_word_bytes(region))
        s.command(codec.Command(op, payload))
    else:
        op = [Opcode.IDENTIFY, Opcode.STATUS, Opcode.RUN, Opcode.READ_MEM][
            int(rng.integers(4))]
        payload = {Opcode.RUN: b"\x01\x00\x00",        # RUN takes 4 bytes
                   Opcode.READ_MEM: codec.pack_struct(  # a reply longer than max_payload
                       spec.MemHeader, region=Region.SYNAPSE.value, start=0,
                       count=maxp // 4 + 1)}.get(op, b"\x00")
        s.command(codec.Command(op, payload))


def link_controller_case(rng, steps, **p):
    """``LinkController`` + ``NeuronCore`` (:class:`ControllerBench`, empty memories) in a
    random session against the golden controller: every reply byte for byte.

    Step 0 identifies the board and uploads a random network (``WRITE_MEM``); every
    further step is one action: IDENTIFY, STATUS, CLEAR_STATUS, ECHO, READ_MEM, WRITE_MEM
    (of spare words, read back), INJECT (fitting, or refused), RUN (then a step waiting
    for the run to end), READ_EVENTS, RESET, PACE (0, or a period this controller without
    paced mode refuses), a retransmission of the last command, or a
    damaged or refused frame (bad CRC, unknown opcode, oversized, malformed, runt, bad
    region, range or length).
    """
    from neurofab.config import random_config
    g = CONTROLLER_GEOMETRY
    while True:
        cfg = random_config(rng, n_neurons=g["n_neurons"], n_inputs=g["n_inputs"],
                            max_fanout=p.get("max_fanout", 2))
        if cfg.n_synapses <= g["syn_capacity"]:
            break
    model = controller_model(cfg)
    s = _Session(rng, model)
    s.command(codec.identify())
    _upload(s, cfg)
    s.end_step()
    actions = ["identify", "status", "clear", "echo", "read", "read", "write", "inject",
               "inject", "run", "run", "run", "events", "reset", "again", "bad", "bad",
               "pace"]
    while len(s.steps) < steps:
        action = actions[int(rng.integers(len(actions)))]
        if action == "run" and len(s.steps) + 2 > steps:
            action = "status"
        if action == "run":
            k = next((k for k in (4, 3, 2, 1) if model.run_fits(k)), 0)
            if not k:                       # the output buffer first
                s.command(codec.read_events())
                s.end_step()
                continue
            s.command(codec.run(k))
            s.end_step()
            s.wait_idle(k)
            continue
        if action == "identify":
            s.command(codec.identify())
        elif action == "status":
            s.command(codec.status())
        elif action == "clear":
            s.command(codec.clear_status())
            s.command(codec.status())
        elif action == "echo":
            data_ = rng.integers(0, 256, int(rng.integers(0, g["max_payload"] + 1)),
                                 dtype=np.uint8)
            data_[rng.random(data_.size) < 0.3] = 0
            s.command(codec.echo(data_.tobytes()))
        elif action == "read":
            _read_any(s, rng)
        elif action == "write":
            _write_unused(s, rng)
        elif action == "inject":
            _inject(s, rng)
        elif action == "events":
            s.command(codec.read_events())
        elif action == "pace":              # (no paced mode here: a period is BAD_ARG)
            s.command(codec.pace(0 if rng.random() < 0.5 else int(rng.integers(1, 1 << 32))))
        elif action == "reset":
            s.command(codec.reset())
            s.command(codec.read_mem(Region.STATE, 0, g["max_payload"] // 5,
                                     max_payload=g["max_payload"]))
        elif action == "again" and s.last_cmd is not None:
            s.frame(s.last_cmd)
        else:
            _corrupt(s, rng)
        s.end_step()
    params = {"max_fanout": p.get("max_fanout", 2), "synapses": cfg.n_synapses, **g}

    return StepCase("link-controller", params, controller_bench, s.steps,
                     {"o_frame": ("struct", spec.FrameByte), "o_idle": "words"})
