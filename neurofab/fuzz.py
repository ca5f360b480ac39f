"""The link fuzz campaign (``neurofab fuzz``): attacks on the host link, each followed by
a check that the board still answers, that its STATUS counters add up and that a load
and run still equal the golden model.

Two targets speak the same byte protocol (``docs/protocol.md``):

* ``golden`` — the golden link controller (``golden.link.LinkController``, the RTL's
  cosim-proven twin) behind an in-process transport (:class:`GoldenLink`): milliseconds
  per attack;
* ``sim`` — the simulated board (``sim://icebreaker``: the real board top compiled by
  Verilator, its UART bridged to TCP).

Every trial of an attack ends in one outcome (:data:`OUTCOMES`):

``ok``
    the attack's run (or, for an attack without one, the check's) completed equal to
    golden;
``refused``
    a clear error (``NakError``, ``BoardError``, ``LinkTimeout``, a busy board, a
    ``ValueError`` naming the bad argument ...) with a message, and the board recovered;
``hang``
    a trial went over its wall-clock budget, or the board stopped answering;
``crash``
    the simulated board's process died, an unexpected exception type escaped, or the
    board did not recover;
``silently_wrong``
    a run (or a drain) returned without error but differs from golden: lost, duplicated
    or shifted spikes, or STATUS counters that do not add up.

:func:`campaign` runs the attacks and returns a :class:`FuzzResult` (``markdown()``,
``summary()``); ``neurofab fuzz`` prints its table.
"""

import contextlib
import json
import random
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from neurofab import golden, spec
from neurofab.config import random_config
from neurofab.golden.link.cobs import CobsError, CobsOversize, cobs_decode, cobs_encode
from neurofab.golden.link.controller import LinkController
from neurofab.host import Board, BoardError, codec
from neurofab.host.transport import TcpTransport, Transport, TransportError
from neurofab.spec import Ctrl, FrameStatus, Nak, Opcode, Region

__all__ = ["OUTCOMES", "ATTACKS", "GoldenLink", "FaultyTransport", "NoisyLine", "Hang",
           "GoldenTarget", "SimTarget", "FuzzResult", "campaign", "same_spikes",
           "GOLDEN_GEOMETRY", "GOLDEN_LINK"]

OUTCOMES = ("ok", "refused", "hang", "crash", "silently_wrong")
#: Errors that say what went wrong: a refusal (the board must recover afterwards).
REFUSALS = (BoardError, codec.LinkError, TransportError)
#: ... and, for the API and config attacks, the argument checks' errors.
API_REFUSALS = REFUSALS + (ValueError, TypeError, KeyError)

#: The golden target's core and controller (a 16-neuron core, small event buffers).
GOLDEN_GEOMETRY = dict(n_neurons=16, n_inputs=8, syn_capacity=128, max_payload=252,
                       in_depth=8, out_depth=256)
GOLDEN_LINK = dict(clk_hz=12_000_000, board_id=0, build_hash=0x0123456789ABCDEF)


class Hang(BaseException):
    """A trial went over its wall-clock budget (raised by :class:`FaultyTransport`; a
    ``BaseException`` so that no handler in the driver swallows it)."""


def same_spikes(a, b):
    """Whether two per-step spike lists are equal (same steps, same neurons)."""
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def _diff(got, want):
    """A short description of how ``got`` differs from ``want`` (spike lists)."""
    if len(got) != len(want):
        return f"{len(got)} steps returned, {len(want)} expected"
    t = next(k for k, (x, y) in enumerate(zip(got, want)) if not np.array_equal(x, y))
    return f"step {t}: {list(map(int, got[t]))} instead of {list(map(int, want[t]))}"


# --- transports ------------------------------------------------------------------------
class GoldenLink(Transport):
    """A byte stream to a golden link controller; ``fault(direction, frame)`` may return
    the frame's wire bytes changed (``direction`` is ``"tx"`` host → board or ``"rx"``).

    ``commands`` and ``seqs`` list the opcodes and seqs the controller received intact;
    ``after(body)`` is called with each received body once the controller answered it.
    ``reconnect()`` is a new client on the same line: the replies not yet read are lost,
    the controller keeps whatever it has received of an unfinished frame.
    """

    url = "golden://link"

    def __init__(self, ctl, fault=None):
        self.ctl, self.fault = ctl, fault
        self.inbox, self.outbox = bytearray(), bytearray()
        self.commands = []
        self.seqs = []

    def _faulty(self, direction, wire):
        return wire if self.fault is None else self.fault(direction, wire)

    def write(self, data):
        self.inbox += self._faulty("tx", bytes(data))
        while (end := self.inbox.find(0)) >= 0:
            encoded, self.inbox = bytes(self.inbox[:end]), self.inbox[end + 1:]
            if not encoded:
                continue
            try:
                body, status = cobs_decode(encoded, self.ctl.max_body), FrameStatus.OK
            except CobsOversize:
                body, status = b"", FrameStatus.OVERSIZE
            except CobsError:
                body, status = b"", FrameStatus.COBS
            if status == FrameStatus.OK and codec.crc16(body) == spec.CRC16.residue:
                self.commands.append(body[0])
                self.seqs.append(body[1])
            reply = self.ctl.send(body, status)
            self.outbox += self._faulty("rx", cobs_encode(reply) + b"\x00")
            self.after(body)

    def after(self, body):
        """Hook: called with each received body after the controller answered it."""

    def read(self, n, timeout):
        if not self.outbox:
            time.sleep(min(timeout, 0.001))
            return b""
        data, self.outbox = bytes(self.outbox[:n]), self.outbox[n:]
        return data

    def reconnect(self):
        self.outbox.clear()

    def close(self):
        pass


class FaultyTransport(Transport):
    """Another transport with frame faults and a deadline.

    ``fault(direction, wire)`` (``"tx"``: each ``write``, a whole frame when the driver
    writes; ``"rx"``: each received frame, up to its delimiter) returns the bytes to pass
    on. ``deadline`` (``time.monotonic()``): any read or write after it raises
    :class:`Hang`. ``delay``: seconds between the bytes of each write (a slow sender).
    """

    def __init__(self, inner, fault=None, deadline=None, delay=0.0):
        self.inner, self.fault, self.deadline, self.delay = inner, fault, deadline, delay
        self.url = inner.url
        self._rx = bytearray()

    def _tick(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Hang(f"{self.url}: over the trial's time budget")

    def write(self, data):
        self._tick()
        data = bytes(data)
        if self.fault is not None:
            data = self.fault("tx", data)
        if self.delay and len(data) > 1:
            for k in range(len(data)):
                self.inner.write(data[k:k + 1])
                time.sleep(self.delay)
                self._tick()
        else:
            self.inner.write(data)

    def read(self, n, timeout):
        self._tick()
        if self.deadline is not None:
            timeout = max(0.0, min(timeout, self.deadline - time.monotonic()))
        data = self.inner.read(n, timeout)
        if self.fault is None:
            return data
        self._rx += data
        out = bytearray()
        while (end := self._rx.find(0)) >= 0:
            wire, self._rx = bytes(self._rx[:end + 1]), self._rx[end + 1:]
            out += self.fault("rx", wire)
        return bytes(out)

    def close(self):
        self.inner.close()


class NoisyLine:
    """Damages a fraction ``rate`` of frames: one bit flipped (delimiter included), a
    byte dropped, the frame lost, or garbage in front of it."""

    def __init__(self, rate, seed):
        self.rate, self.rng, self.faults, self.frames = rate, random.Random(seed), 0, 0

    def __call__(self, direction, wire):
        rng = self.rng
        self.frames += 1
        if rng.random() >= self.rate:
            return wire
        self.faults += 1
        wire = bytearray(wire)
        kind = rng.randrange(4)
        if kind == 0:
            k = rng.randrange(8 * len(wire))
            wire[k // 8] ^= 1 << (k % 8)
        elif kind == 1:
            del wire[rng.randrange(len(wire))]
        elif kind == 2:
            wire = bytearray()
        else:
            wire = bytearray(rng.randrange(256) for _ in range(rng.randrange(1, 6))) + wire
        return bytes(wire)


class FlipOnce:
    """Flips bit ``bit`` of the first frame of ``opcode`` going ``direction`` (a reply's
    opcode is the command's with the reply flag, or the NAK opcode)."""

    def __init__(self, direction, opcode, bit):
        self.direction, self.opcode, self.bit, self.done = direction, opcode, bit, False

    def __call__(self, direction, wire):
        if self.done or direction != self.direction or not wire:
            return wire
        try:
            body = cobs_decode(wire[:-1] if wire.endswith(b"\x00") else wire)
        except CobsError:
            return wire
        if not body or body[0] != self.opcode:
            return wire
        self.done = True
        out = bytearray(wire)
        out[self.bit // 8 % len(out)] ^= 1 << (self.bit % 8)
        return bytes(out)


# --- targets ---------------------------------------------------------------------------
class _Target:
    name = ""
    timeout = 0.1              #: the driver's reply timeout on this target (seconds)
    budget = 30.0              #: seconds a trial may take before it is a hang

    def __init__(self, seed):
        self.seed = seed
        self.cfg = random_config(seed, n_neurons=16, n_inputs=8, max_fanout=3)
        rng = np.random.default_rng(seed + 1)
        self.check_inputs = [rng.choice(8, int(rng.integers(0, 4)), replace=False)
                             for _ in range(20)]
        self.check_golden = golden.run(self.cfg, self.check_inputs)
        self.deadline = None

    def inputs(self, steps, seed):
        rng = np.random.default_rng(seed)
        return [rng.choice(8, int(rng.integers(0, 4)), replace=False) for _ in range(steps)]

    def transport(self, fault=None, delay=0.0):
        """A new client's connection (``FaultyTransport`` with the trial's deadline)."""
        return FaultyTransport(self._connect(), fault, self.deadline, delay)

    def board(self, fault=None, delay=0.0, **kwargs):
        """A ``Board`` on a new connection (IDENTIFY done)."""
        kwargs.setdefault("timeout", self.timeout)
        for attempt in range(50):
            tr = self.transport(fault, delay)
            try:
                return Board(tr, **kwargs)
            except TransportError as exc:
                tr.close()
                # the bridge has not seen the last client leave yet: ask again
                if "board busy" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.05)
            except BaseException:
                tr.close()
                raise

    def alive(self):
        return True

    def restart(self):
        pass

    def close(self):
        pass


class GoldenTarget(_Target):
    """The golden link controller in-process; a new client is :meth:`GoldenLink.reconnect`."""

    name = "golden"
    timeout = 0.005
    budget = 20.0
    #: attacks that need a board of its own (run time, a TCP bridge): not on golden
    skip = {"absurd_run"}

    def __init__(self, seed=0):
        super().__init__(seed)
        self.link = GoldenLink(LinkController(self.cfg, GOLDEN_GEOMETRY, **GOLDEN_LINK))

    def _connect(self):
        self.link.reconnect()
        return self.link

    def other_host(self):
        """A second host on its own line to the same board."""
        return FaultyTransport(GoldenLink(self.link.ctl), None, self.deadline)


class SimTarget(_Target):
    """The simulated board ``sim://BOARD`` (the real top, Verilated, over TCP)."""

    name = "sim"
    timeout = 0.1
    budget = 120.0
    skip = set()

    def __init__(self, seed=0, board="icebreaker"):
        super().__init__(seed)
        from neurofab.host.simboard import start_simulated_board
        self.board_name = board
        self._start = lambda: start_simulated_board(board)
        self.proc = self._start()
        self.restarts = 0

    def _connect(self):
        return TcpTransport("127.0.0.1", self.proc.port, url=f"sim://{self.board_name}")

    def other_host(self):
        return FaultyTransport(self._connect(), None, self.deadline)

    def alive(self):
        return self.proc.running()

    def restart(self):
        self.proc.close()
        self.proc = self._start()
        self.restarts += 1

    def close(self):
        self.proc.close()


# --- trials ----------------------------------------------------------------------------
class _Wrong(Exception):
    """A result differs from golden without an error (silently wrong)."""


class _NoRecovery(Exception):
    """The check after a refusal failed: the board did not recover."""


def _exchange(tr, wire, wait):
    """Write ``wire`` (raw bytes) and return the frames and frame errors received until
    the first good frame or ``wait`` seconds."""
    tr.write(wire)
    dec, items = codec.FrameDecoder(), []
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        items += dec.feed(tr.read(4096, left))
        if any(isinstance(i, codec.Frame) for i in items):
            break
    return items


def _expect_nak(items, reasons, what):
    """The outcome of a raw frame the board must refuse with a NAK of ``reasons``."""
    frames = [i for i in items if isinstance(i, codec.Frame)]
    if not frames:
        raise _NoRecovery(f"{what}: no reply (expected NAK "
                          f"{'/'.join(r.name for r in reasons)})")
    f = frames[0]
    if f.opcode != spec.NAK_OPCODE:
        raise _Wrong(f"{what}: answered {f.opcode:#04x} {f.payload.hex()} instead of a NAK")
    if f.payload[0] not in {r.value for r in reasons}:
        raise _Wrong(f"{what}: NAK {f.payload[0]:#04x}, expected "
                     f"{'/'.join(r.name for r in reasons)}")
    return "refused", f"NAK {Nak(f.payload[0]).name}"


def check(target):
    """The board still answers, its STATUS counters add up (every frame since
    CLEAR_STATUS counted once as good, no error counted, buffers empty after the run),
    and a load and run equal golden. Raises ``_Wrong`` or an exception."""
    with target.board() as b:
        b.clear_status()
        c0, r0 = b.stats.commands, b.stats.retransmissions
        b.load(target.cfg)
        got = b.run(target.check_inputs)
        st = b.status()
        frames = b.stats.commands - c0 + b.stats.retransmissions - r0
    if not same_spikes(got, target.check_golden):
        raise _Wrong(f"check run: {_diff(got, target.check_golden)}")
    errors = {c.name.lower(): getattr(st, c.name.lower()) for c in spec.Counter
              if c is not spec.Counter.FRAMES_OK and getattr(st, c.name.lower())}
    if st.frames_ok != frames or errors or st.steps_pending or st.in_level or st.out_level:
        raise _Wrong(f"check STATUS: frames_ok {st.frames_ok} for {frames} frames sent, "
                     f"errors {errors}, steps_pending {st.steps_pending}, in_level "
                     f"{st.in_level}, out_level {st.out_level}")


def _trial(target, body, refusals=REFUSALS, do_check=True):
    """Run one trial: ``body(target)`` returns ``"ok"``, ``"refused"`` or
    ``(outcome, detail)``, or raises; then the check. Returns ``(outcome, detail)``."""
    target.deadline = time.monotonic() + target.budget
    detail = ""
    try:
        got = body(target)
        outcome, detail = got if isinstance(got, tuple) else (got, "")
    except Hang as exc:
        outcome, detail = "hang", str(exc)
    except _Wrong as exc:
        outcome, detail = "silently_wrong", str(exc)
    except _NoRecovery as exc:
        outcome, detail = "hang", str(exc)
    except refusals as exc:
        outcome, detail = ("refused", f"{type(exc).__name__}: {exc}") if str(exc) else \
            ("crash", f"{type(exc).__name__} without a message")
    except Exception as exc:                      # noqa: BLE001 (classified, not hidden)
        outcome = "crash"
        detail = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
    if not target.alive():
        outcome, detail = "crash", f"the simulated board died ({detail})"
        target.restart()
        return outcome, detail
    if do_check and outcome in ("ok", "refused"):
        target.deadline = time.monotonic() + target.budget
        try:
            check(target)
        except Hang as exc:
            return "hang", f"check after the attack: {exc}"
        except _Wrong as exc:
            return "silently_wrong", f"check after the attack: {exc}"
        except BoardError as exc:
            what = "hang" if "no valid reply" in str(exc) else "crash"
            return what, f"check after the attack (board did not recover): {exc}"
        except Exception as exc:                  # noqa: BLE001
            return "crash", f"check after the attack: {type(exc).__name__}: {exc}"
        finally:
            if not target.alive():
                target.restart()
                outcome, detail = "crash", "the simulated board died during the check"
    return outcome, detail


def _compare(got, want, what="run"):
    if not same_spikes(got, want):
        raise _Wrong(f"{what}: {_diff(got, want)}")
    return "ok"


# --- attacks ---------------------------------------------------------------------------
def _garbage(target, rng, quick):
    """Random bytes (with and without zeros, up to 600) on the line, then the check."""
    for k in range(8 if quick else 40):
        n = rng.choice((1, 2, 3, 7, 40, 255, 600))
        zeros = k % 2 == 0
        data = bytes(rng.randrange(0 if zeros else 1, 256) for _ in range(n))

        def body(t, data=data):
            tr = t.transport()
            try:
                _exchange(tr, data + b"\x00", t.timeout)
            finally:
                tr.close()
            return "ok"
        yield body


def _script(b, t, inputs, want):
    """What each bit-flip trial does: every command type once, results checked."""
    if b.identify() != b.info:
        raise _Wrong("IDENTIFY returned another reply")
    if b.echo(b"\x00ab\x00") != b"\x00ab\x00":
        raise _Wrong("ECHO returned other bytes")
    w_shift = int(t.cfg.memory_image(n_inputs=b.info.n_inputs)[Region.CTRL][Ctrl.W_SHIFT.value])
    b.write_mem(Region.CTRL, Ctrl.W_SHIFT.value, [w_shift])
    if int(b.read_mem(Region.CTRL, Ctrl.W_SHIFT.value, 1)[0]) != w_shift:
        raise _Wrong("READ_MEM of W_SHIFT returned another value")
    b.clear_status()
    b.reset()
    _compare(b.run(inputs), want)
    b.status()
    return "ok"


_CMD_TYPES = [Opcode.IDENTIFY, Opcode.ECHO, Opcode.WRITE_MEM, Opcode.READ_MEM,
              Opcode.CLEAR_STATUS, Opcode.RESET, Opcode.STATUS, Opcode.INJECT, Opcode.RUN,
              Opcode.READ_EVENTS]


def _frame_bits(target):
    """Wire bits of each command frame type and each reply type of the script."""
    b = target.board()
    try:
        lengths = {}
        tr = b.transport

        class Spy:
            def __call__(self, direction, wire):
                try:
                    body = cobs_decode(wire[:-1])
                    lengths.setdefault((direction, body[0]), len(wire))
                except (CobsError, IndexError):
                    pass
                return wire
        tr.fault = Spy()
        b.load(target.cfg)
        with contextlib.suppress(_Wrong):     # (the trials say so)
            _script(b, target, target.inputs(3, 7),
                    golden.run(target.cfg, target.inputs(3, 7)))
    finally:
        b.close()
    return lengths


def _bit_flips(direction):
    def attack(target, rng, quick):
        """Every single-bit flip (delimiter included) of each frame type of the script
        on the way ``direction``; the script's results must equal golden."""
        inputs = target.inputs(3, 7)
        want = golden.run(target.cfg, inputs)
        lengths = _frame_bits(target)
        cases = [(op, bit) for (d, op), n in sorted(lengths.items()) if d == direction
                 for bit in range(8 * n)]
        if quick:
            cases = rng.sample(cases, min(len(cases), 60))
        session = {}

        for n, (op, bit) in enumerate(cases):
            def body(t, op=op, bit=bit):
                if "board" not in session:
                    session["board"] = t.board()
                    session["board"].load(t.cfg)
                b = session["board"]
                b.transport.deadline = t.deadline
                b.transport.fault = FlipOnce(direction, op, bit)
                try:
                    return _script(b, t, inputs, want)
                except BaseException:
                    session.pop("board").close()
                    raise
                finally:
                    if "board" in session:
                        b.transport.fault = None
            # the full check every 64 flips and after the last (it reconnects)
            last = n == len(cases) - 1 or n % 64 == 63
            if last:
                def checked(t, body=body):
                    try:
                        return body(t)
                    finally:
                        if "board" in session:
                            session.pop("board").close()
                yield checked
            else:
                yield body, {"check": False}
    return attack


def _truncation(target, rng, quick):
    """Each command frame type cut after every byte, then a delimiter: a link NAK."""
    frames = [codec.encode_frame(cmd.opcode, 0x33, cmd.payload) for cmd in (
        codec.identify(), codec.echo(b"truncated"), codec.run(1), codec.read_events(),
        codec.write_mem(Region.CTRL, Ctrl.W_SHIFT.value, [0]),
        codec.read_mem(Region.STATE, 0, 2), codec.inject([[1, 2], []]))]
    cases = [(w, cut) for w in frames for cut in range(1, len(w) - 1)]
    if quick:
        cases = rng.sample(cases, 8)
    for wire, cut in cases:
        def body(t, wire=wire, cut=cut):
            tr = t.transport()
            try:
                items = _exchange(tr, wire[:cut] + b"\x00", t.timeout * 20)
            finally:
                tr.close()
            return _expect_nak(items, (Nak.FRAMING, Nak.CRC), f"cut at {cut}")
        yield body


def _oversize(target, rng, quick):
    """Bodies over ``max_payload + 4`` (valid CRC) and 2-5 kB without a delimiter."""
    sizes = (253, 300, 1000, 2000, 5000) if not quick else (253, 2000)
    for n in sizes:
        def body(t, n=n):
            tr = t.transport()
            try:
                if n <= 1000:
                    wire = codec.encode_frame(Opcode.ECHO.value, 9, bytes(n),
                                              max_payload=n)
                else:
                    wire = bytes(rng.randrange(1, 256) for _ in range(n)) + b"\x00"
                items = _exchange(tr, wire, t.timeout * 20)
            finally:
                tr.close()
            return _expect_nak(items, (Nak.OVERSIZE,), f"{n}-byte frame")
        yield body


def _unknown_opcodes(target, rng, quick):
    """Every opcode byte that is not a command, with a good CRC: NAK UNKNOWN_OPCODE."""
    known = {op.value for op in Opcode}
    ops = [op for op in range(256) if op not in known]
    if quick:
        ops = rng.sample(ops, 8)
    for op in ops:
        def body(t, op=op):
            tr = t.transport()
            try:
                items = _exchange(tr, codec.encode_frame(op, 0x42, b"\x01\x02"),
                                  t.timeout * 20)
            finally:
                tr.close()
            return _expect_nak(items, (Nak.UNKNOWN_OPCODE,), f"opcode {op:#04x}")
        yield body


def _out_of_range(target, rng, quick):
    """WRITE_MEM/READ_MEM of regions the core has not, ranges past a region's end,
    counts past max_payload, wrong lengths, INJECT channels >= n_inputs."""
    def mem(op, region, start, count, data=b""):
        return op.value, codec.pack_struct(spec.MemHeader, region=region, start=start,
                                           count=count) + data
    cases = []
    for r in range(len(Region), 16):
        cases.append((mem(Opcode.READ_MEM, r, 0, 1), (Nak.BAD_REGION,)))
    for region in (Region.STATE, Region.SYNAPSE, Region.CTRL):
        cases += [(mem(Opcode.READ_MEM, region, 0xFFFFFFFF, 1), (Nak.BAD_RANGE,)),
                  (mem(Opcode.READ_MEM, region, 0x10000000, 2), (Nak.BAD_RANGE,)),
                  (mem(Opcode.READ_MEM, region, 0, 0xFFFF), (Nak.BAD_RANGE, Nak.BAD_LENGTH)),
                  (mem(Opcode.WRITE_MEM, region, 0xFFFFFFF0, 1, bytes(16)),
                   (Nak.BAD_RANGE, Nak.BAD_LENGTH)),
                  (mem(Opcode.WRITE_MEM, region, 0, 1, b"\x01"), (Nak.BAD_LENGTH,))]
    cases += [((Opcode.READ_MEM.value, b"\x00\x00"), (Nak.BAD_LENGTH,)),
              ((Opcode.RUN.value, b"\x01"), (Nak.BAD_LENGTH,)),
              ((Opcode.IDENTIFY.value, b"\x00"), (Nak.BAD_LENGTH,)),
              ((Opcode.INJECT.value, codec.pack_records([[0xFFFF]])), (Nak.BAD_ARG,)),
              ((Opcode.INJECT.value, b"\x05"), (Nak.BAD_LENGTH,))]
    if quick:
        cases = rng.sample(cases, 8)
    for (op, payload), reasons in cases:
        def body(t, op=op, payload=payload, reasons=reasons):
            tr = t.transport()
            try:
                items = _exchange(tr, codec.encode_frame(op, 0x51, payload), t.timeout * 20)
            finally:
                tr.close()
            return _expect_nak(items, reasons, f"{Opcode(op).name} {payload.hex()}")
        yield body


def _absurd_run(target, rng, quick):
    """RUN 0, RUN 2**32 - 1 (and once more: BAD_ARG, the count would overflow), RUN
    2**31 after RUN 1; the host then loads (a board left running is reset) and runs."""
    for counts in ([0], [0xFFFFFFFF], [0xFFFFFFFF, 0xFFFFFFFF], [1, 0x80000000],
                   [0, 0xFFFFFFFF, 0xFFFFFFFF]):
        def body(t, counts=counts):
            with t.board() as b:
                answers = []
                for n in counts:
                    try:
                        b.transact(codec.run(n))
                        answers.append("ack")
                    except codec.NakError as exc:
                        answers.append(exc.reason.name)
                st = b.status()
            pending = sum(counts)
            if pending >= 1 << 32:          # the second RUN must have been refused
                if "BAD_ARG" not in answers:
                    raise _Wrong(f"RUN {counts}: answers {answers}, pending "
                                 f"{st.steps_pending}: the overflow was not refused")
                return "refused", f"RUN {counts}: {answers}"
            return "ok", f"RUN {counts}: {answers}, steps_pending {st.steps_pending}"
        yield body


def _slow_sender(target, rng, quick):
    """Frames written a byte at a time (1-20 ms apart), and one paused past the host's
    timeout mid-frame; the driver's results must equal golden."""
    delays = (0.001, 0.005) if quick else (0.001, 0.005, 0.02)
    for delay in delays:
        def body(t, delay=delay):
            inputs = t.inputs(4, 3)
            with t.board(delay=delay, timeout=max(t.timeout, 0.05)) as b:
                if b.echo(b"slow") != b"slow":
                    raise _Wrong("ECHO returned other bytes")
                b.transport.delay = 0.0
                b.load(t.cfg)
                b.transport.delay = delay
                return _compare(b.run(inputs), golden.run(t.cfg, inputs))
        yield body

    def paused(t):
        # half a frame, a pause of three host timeouts, then the rest: the board answers
        # the late frame (the driver ignores that stray reply) and the next command
        with t.board() as b:
            wire = codec.encode_frame(Opcode.ECHO.value, 0x77, b"paused frame")
            b.transport.write(wire[:6])
            time.sleep(3 * b.timeout)
            b.transport.write(wire[6:])
            time.sleep(b.timeout)
            if b.echo(b"after") != b"after":
                raise _Wrong("ECHO returned other bytes")
        return "ok"
    yield paused


def _disconnect_mid_frame(target, rng, quick):
    """A client sends part of a frame and leaves; the next client's commands work."""
    wire = codec.encode_frame(Opcode.WRITE_MEM.value, 0x21,
                              codec.write_mem(Region.STATE, 0, [0] * 8).payload)
    cuts = (1, 5, len(wire) // 2, len(wire) - 1) if quick else range(1, len(wire), 3)
    for cut in cuts:
        def body(t, cut=cut):
            tr = t.transport()
            tr.write(wire[:cut])
            tr.close()
            return "ok"
        yield body


class _Leave(Exception):
    """Raised from a run's progress callback: the host goes away mid-run."""


def _disconnect_mid_run(target, rng, quick):
    """A host leaves after some steps of a run (board still running or holding events);
    the next host loads and runs."""
    for after in ((1, 7) if quick else (1, 3, 7, 15, 40)):
        def body(t, after=after):
            b = t.board()
            try:
                b.load(t.cfg)

                def leave(done, total):
                    if done >= after:
                        raise _Leave()
                with contextlib.suppress(_Leave):
                    b.run(t.inputs(60, after), progress=leave)
            finally:
                b.close()
            return "ok"
        yield body


def _disconnect_mid_reply(target, rng, quick):
    """A host leaves while a READ_EVENTS reply is on its way; it comes back and
    ``drain(*replies)`` with the replies it did receive: it must get every step of its
    run, or an error."""
    for variant in ("first reply lost", "second reply lost"):
        def body(t, variant=variant):
            inputs = t.inputs(12, 5)
            want = golden.run(t.cfg, inputs)
            b = t.board()
            try:
                b.load(t.cfg)
                replies = [b.transact(codec.read_events())]      # before the run
                half = 0 if variant == "first reply lost" else 6
                for first, end in ((0, half), (half, len(inputs))):
                    for k in range(first, end, 2):                # two steps per INJECT
                        b.transact(codec.inject(inputs[k:min(k + 2, end)],
                                                max_payload=b.max_payload))
                        b.transact(codec.run(min(k + 2, end) - k))
                    while b.status().steps_pending:
                        time.sleep(0.001)
                    if end < len(inputs):
                        replies.append(b.transact(codec.read_events()))
                # the last READ_EVENTS: sent, and the host leaves before its reply
                # (the board's last command was a STATUS: this one is executed)
                b.transport.write(codec.encode_frame(Opcode.READ_EVENTS.value, 0x99))
            finally:
                b.close()
            with t.board() as again:
                got = again.drain(*replies)
            return _compare(got, want, f"drain after the reply was lost ({variant})")
        yield body


def _two_clients(target, rng, quick):
    """A second host while the first one runs: on the simulated board it is told
    "busy"; on the golden board (two hosts on their own lines to one board) its IDENTIFY
    and STATUS must not disturb the run, and its RESET must not go unnoticed (the run
    raises: its output is not the network's)."""
    kinds = ("identify", "status", "reset") if target.name == "golden" else ("connect",)
    for kind in kinds:
        def body(t, kind=kind):
            inputs = t.inputs(40, 11)
            result = {}

            def meddle(done, total):
                if done != 10 or result:
                    return
                other = t.other_host()
                try:
                    if kind == "connect":
                        try:
                            Board(other, timeout=t.timeout)
                            result["second"] = "served"
                        except TransportError as exc:
                            result["second"] = f"refused: {exc}"
                    else:
                        cmd = {"identify": codec.identify(), "status": codec.status(),
                               "reset": codec.reset()}[kind]
                        items = _exchange(other, codec.encode_frame(cmd.opcode.value, 3),
                                          1.0)
                        result["second"] = [type(i).__name__ for i in items]
                finally:
                    other.close()
            with t.board() as b:
                b.load(t.cfg)
                try:
                    got = b.run(inputs, progress=meddle)
                except BoardError as exc:
                    if kind != "reset":
                        raise
                    return "refused", str(exc)
            if kind == "reset":
                raise _Wrong(f"a RESET by a second host during a run went unnoticed "
                             f"({result.get('second')})")
            if kind == "connect" and result.get("second") == "served":
                raise _Wrong("a second client was served while the first was connected")
            _compare(got, golden.run(t.cfg, inputs))
            return ("refused" if kind == "connect" else "ok"), str(result.get("second"))
        yield body


def _noisy_line(rates, steps):
    def attack(target, rng, quick):
        """1-10 % of the frames damaged in both directions (a bit flipped, a byte or the
        frame lost, garbage in front) during a long run: equal to golden, or an error."""
        for rate in rates:
            def body(t, rate=rate):
                line = NoisyLine(rate, seed=rng.randrange(1 << 30))
                inputs = t.inputs(steps, int(rate * 1000))
                with t.board() as b:
                    b.load(t.cfg)
                    b.transport.fault = line
                    got = b.run(inputs)
                    b.transport.fault = None
                    stats = b.stats
                _compare(got, golden.run(t.cfg, inputs), f"{steps}-step run at {rate:.0%}")
                return "ok", (f"{rate:.0%}: {line.faults} of {line.frames} frames damaged, "
                              f"{stats.retransmissions} retransmissions, {steps} steps equal "
                              f"to golden")
            yield body
    return attack


def _api(target, rng, quick):
    """Bad arguments to the driver: inputs out of range, too many events per step, wrong
    types, regions and ranges past the end, a too long ECHO; a clear refusal each."""
    calls = [
        ("run([[8]])", lambda b: b.run([[8]])), ("run([[-1]])", lambda b: b.run([[-1]])),
        ("run([[0.5]])", lambda b: b.run([[0.5]])),
        ("run(in_depth events in a step)", lambda b: b.run([[0] * b.info.in_depth])),
        ("run(steps=-3)", lambda b: b.run([[1]], steps=-3)), ("run(None)", lambda b: b.run(None)),
        ("read_mem(99, 0, 1)", lambda b: b.read_mem(99, 0, 1)),
        ("read_mem(STATE, 0, 10**6)", lambda b: b.read_mem(Region.STATE, 0, 10 ** 6)),
        ("read_mem(STATE, -1, 1)", lambda b: b.read_mem(Region.STATE, -1, 1)),
        ("write_mem(STATE, n_neurons, [1])",
         lambda b: b.write_mem(Region.STATE, b.info.n_neurons, [1])),
        ("write_mem(CTRL, 0, [2**60])", lambda b: b.write_mem(Region.CTRL, 0, [1 << 60])),
        ("echo(10 kB)", lambda b: b.echo(bytes(10 ** 4))),
        ("load('not a config')", lambda b: b.load("not a config")),
        ("load(twice the board's neurons)", lambda b: b.load(random_config(
            1, n_neurons=2 * b.info.n_neurons, n_inputs=4, max_fanout=2))),
    ]
    if quick:
        calls = calls[::3]
    for label, call in calls:
        def body(t, label=label, call=call):
            with t.board() as b:
                b.load(t.cfg)
                got = call(b)
            raise _Wrong(f"the driver accepted {label} (returned {str(got)[:80]})")
        yield body, {"refusals": API_REFUSALS}


def _cli(target, rng, quick):
    """Bad command lines to ``neurofab`` (run as a user runs it, in a process of its
    own): exit status 2 and one JSON error line, never a traceback."""
    argvs = [["fuzz", "--seed", "-1", "--json"], ["fuzz", "--target", "nope", "--json"],
             ["fuzz", "--bogus", "--json"], ["run", "--url", "nope://x", "--network",
                                               "missing.nfcfg", "--json"],
             ["run", "--url", "sim://no-such-board", "--network", "missing.nfcfg",
              "--json"], ["cosim", "--steps", "nan", "--json"]]
    if quick:
        argvs = argvs[:3]
    for argv in argvs:
        def body(t, argv=argv):
            proc = subprocess.run([sys.executable, "-c", "import sys; from neurofab.cli "
                                   "import main; sys.exit(main(sys.argv[1:]))", *argv],
                                  capture_output=True, text=True, timeout=120)
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
            last = out.strip().splitlines()[-1:]
            try:
                doc = json.loads(last[0]) if last else None
            except json.JSONDecodeError:
                doc = None
            if rc != 2 or not isinstance(doc, dict) or doc.get("ok") is not False \
                    or not doc.get("error") or "Traceback" in err:
                raise _Wrong(f"neurofab {' '.join(argv)}: exit {rc}, stdout "
                             f"{out!r}, stderr {err[-300:]!r}")
            return "refused", doc["error"]
        yield body, {"check": False}


#: name -> attack: ``attack(target, rng, quick)`` yields trials, each ``body`` or
#: ``(body, {"refusals": ..., "check": bool})``; ``body(target)`` returns an outcome
ATTACKS = {
    "garbage": _garbage,
    "bit_flip_command": _bit_flips("tx"),
    "bit_flip_reply": _bit_flips("rx"),
    "truncation": _truncation,
    "oversize": _oversize,
    "unknown_opcode": _unknown_opcodes,
    "out_of_range": _out_of_range,
    "absurd_run": _absurd_run,
    "slow_sender": _slow_sender,
    "disconnect_mid_frame": _disconnect_mid_frame,
    "disconnect_mid_run": _disconnect_mid_run,
    "disconnect_mid_reply": _disconnect_mid_reply,
    "two_clients": _two_clients,
    "noisy_line": None,          # rates and steps set by campaign()
    "api": _api,
    "cli": _cli,
}


# --- the campaign ----------------------------------------------------------------------
@dataclass
class FuzzResult:
    """Outcome counts per ``"target/attack"`` and the details of the notable trials."""
    seed: int
    quick: bool
    counts: dict = field(default_factory=dict)       # name -> {outcome: n}
    details: dict = field(default_factory=dict)      # name -> [(outcome, detail)]
    notes: dict = field(default_factory=dict)        # name -> [detail of ok trials]
    seconds: dict = field(default_factory=dict)

    def add(self, name, outcome, detail):
        self.counts.setdefault(name, {o: 0 for o in OUTCOMES})[outcome] += 1
        if outcome not in ("ok", "refused"):
            self.details.setdefault(name, []).append((outcome, detail))
        elif detail and len(self.notes.setdefault(name, [])) < 3:
            self.notes[name].append(detail)

    @property
    def failures(self):
        return sum(c[o] for c in self.counts.values() for o in OUTCOMES[2:])

    @property
    def ok(self):
        return self.failures == 0

    def markdown(self):
        rows = ["| target | attack | trials | " + " | ".join(OUTCOMES) + " | seconds |",
                "|---|---|---:|" + "---:|" * len(OUTCOMES) + "---:|"]
        total = {o: 0 for o in OUTCOMES}
        for name, c in self.counts.items():
            target, attack = name.split("/", 1)
            rows.append(f"| {target} | {attack} | {sum(c.values())} | "
                        + " | ".join(str(c[o]) for o in OUTCOMES)
                        + f" | {self.seconds.get(name, 0):.1f} |")
            for o in OUTCOMES:
                total[o] += c[o]
        rows.append(f"| **all** | | **{sum(total.values())}** | "
                    + " | ".join(f"**{total[o]}**" for o in OUTCOMES)
                    + f" | {sum(self.seconds.values()):.1f} |")
        return "\n".join(rows)

    def summary(self):
        return {"ok": self.ok, "seed": self.seed, "quick": self.quick,
                "attacks": self.counts,
                "failures": {k: [{"outcome": o, "detail": d} for o, d in v[:5]]
                             for k, v in self.details.items()},
                "notes": self.notes,
                "seconds": {k: round(v, 2) for k, v in self.seconds.items()}}


def campaign(targets=("golden",), *, quick=False, seed=0, attacks=None, progress=None,
             say=None, sim_board="icebreaker", noisy_steps=None):
    """Run the attacks against each target; returns a :class:`FuzzResult`.

    ``targets``: ``"golden"``, ``"sim"`` (``sim://sim_board``) or target objects
    (:class:`GoldenTarget`, :class:`SimTarget`; closed at the end);
    ``quick``: a few trials per attack and a 200-step noisy line (seconds on golden);
    ``attacks``: names from :data:`ATTACKS` (default all); ``noisy_steps``: the noisy
    line's run length (default 1000, 200 with ``quick``); ``progress(name, done)`` after
    each trial; ``say(text)``: one line per attack.
    """
    for t in targets:
        if not isinstance(t, _Target) and t not in ("golden", "sim"):
            raise ValueError(f"target {t!r} is not golden or sim")
    names = list(ATTACKS) if attacks is None else list(attacks)
    for name in names:
        if name not in ATTACKS:
            raise ValueError(f"unknown attack {name!r} (known: {', '.join(ATTACKS)})")
    result = FuzzResult(seed, quick)
    for k, t in enumerate(targets):
        if isinstance(t, _Target):
            target = t
        else:
            target = GoldenTarget(seed) if t == "golden" else SimTarget(seed, sim_board)
        tname = target.name
        try:
            for name in names:
                if name in target.skip or (name == "cli" and k):
                    continue                      # (the command line has no target)
                if name == "noisy_line":
                    rates = (0.01, 0.05, 0.10) if tname == "golden" or not quick else (0.05,)
                    attack = _noisy_line(rates, noisy_steps or (200 if quick else 1000))
                else:
                    attack = ATTACKS[name]
                rng = random.Random(f"{seed}/{tname}/{name}")
                key = f"{tname}/{name}"
                t0 = time.perf_counter()
                trials = attack(target, rng, quick)
                while True:
                    try:
                        item = next(trials)
                    except StopIteration:
                        break
                    except Exception as exc:       # noqa: BLE001 (the attack's set-up)
                        result.add(key, "crash", f"setting up the attack: "
                                                 f"{type(exc).__name__}: {exc}")
                        if not target.alive():
                            target.restart()
                        break
                    body, opts = item if isinstance(item, tuple) else (item, {})
                    outcome, detail = _trial(target, body, opts.get("refusals", REFUSALS),
                                             opts.get("check", True))
                    result.add(key, outcome, detail)
                    if progress is not None:
                        progress(key, sum(result.counts[key].values()))
                result.seconds[key] = time.perf_counter() - t0
                if say is not None and key in result.counts:
                    c = result.counts[key]
                    say(f"{key:36} " + "  ".join(f"{o} {c[o]}" for o in OUTCOMES if c[o])
                        + f"  ({result.seconds[key]:.1f} s)")
        finally:
            target.close()
    return result
