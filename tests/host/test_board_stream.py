"""``Board.stream``: steps in flight, read lazily, yielded as they are read.

Most tests run the real driver over the real byte protocol against the golden link
controller (``golden.link.LinkController``) in-process, behind :class:`PacedBoard`, which
gives the controller a board's timing: RUN only queues steps, the core runs them while its
output buffer (``out_depth`` entries) has room and waits when it is full, and a
READ_EVENTS reply carries at most ``max_payload`` bytes, cut anywhere, inside a step too.
One test streams on the simulated iCEBreaker (the Verilated board top).
"""

import itertools
import time

import numpy as np
import pytest

from neurofab import golden, spec
from neurofab.bench import busy_config
from neurofab.config import random_config
from neurofab.golden.link.cobs import CobsError, cobs_decode, cobs_encode
from neurofab.golden.link.controller import LinkController
from neurofab.host import Board, BoardError, codec
from neurofab.host.transport import Transport, TransportError
from neurofab.spec import FrameStatus, Opcode

LINK = dict(clk_hz=12_000_000, board_id=0, build_hash=0x0123456789ABCDEF)


class PacedBoard:
    """A golden link controller with a board's timing (``send`` like the controller's).

    Every command lets the core move up to ``rng.integers(0, speed)`` output entries into
    the output buffer (a step runs when the one before it has all its entries in); the
    core waits while the buffer is full (``waits`` counts the commands that found it so).
    """

    def __init__(self, cfg, geometry, rng, speed=60):
        self.ctl = LinkController(cfg, geometry, **LINK)
        self.g, self.rng, self.speed = dict(geometry), rng, speed
        self.max_body = self.ctl.max_body
        self.pending = 0            # steps queued whose end marker is not in the buffer
        self.core_out = []          # entries of the running step not yet in the buffer
        self.waits = 0
        self.cut_steps = 0          # replies that ended inside a step
        self.last = None            # (opcode, seq, reply) of the last command handled here

    def advance(self):
        out = self.ctl.out_fifo
        for _ in range(int(self.rng.integers(0, self.speed))):
            if not self.core_out:
                if not self.pending:
                    return
                before = len(out)
                self.ctl.run(1)                 # one step of the golden core
                self.core_out = out[before:]
                del out[before:]
            if len(out) >= self.g["out_depth"]:
                self.waits += 1
                return
            entry = self.core_out.pop(0)
            out.append(entry)
            if entry == "END":
                self.pending -= 1

    def _read_events(self):
        out, room = self.ctl.out_fifo, self.g["max_payload"] - spec.EventsHeader.size // 8
        taken, used, open_record = 0, 0, False
        for entry in out:
            cost = (0 if open_record else 2) + (0 if entry == "END" else 2)
            if used + cost > room:
                break
            used += cost
            taken += 1
            open_record = entry != "END"
        entries, self.ctl.out_fifo[:taken] = out[:taken], []
        steps, cur = [], []
        for e in entries:
            if e == "END":
                steps.append(cur)
                cur = []
            else:
                cur.append(e)
        self.ctl.steps_read = (self.ctl.steps_read + len(steps)) & 0xFFFF
        if cur:
            self.cut_steps += 1
        records = codec.pack_records(steps + [cur], close=False) if cur else \
            codec.pack_records(steps)
        self.advance()
        return codec.pack_struct(spec.EventsHeader, steps_pending=self.pending,
                                 remaining=len(self.ctl.out_fifo),
                                 steps_read=self.ctl.steps_read) + records

    def send(self, body, status=FrameStatus.OK):
        self.advance()
        ok = (status == FrameStatus.OK and len(body) >= spec.MIN_BODY
              and codec.crc16(body) == spec.CRC16.residue)
        op = body[0] if ok else None
        if op not in (Opcode.RUN.value, Opcode.READ_EVENTS.value, Opcode.STATUS.value):
            self.last = None
            if ok and op == Opcode.RESET.value:
                self.pending, self.core_out = 0, []
            return self.ctl.send(body, status)
        seq = body[1]
        if self.last is not None and self.last[:2] == (op, seq):
            return self.last[2]                 # a retransmission: the stored reply
        self.ctl.last = None
        if op == Opcode.RUN.value:
            self.pending += codec.unpack_struct(spec.RunRequest, body[2:-2])["steps"]
            payload = b""
        elif op == Opcode.READ_EVENTS.value:
            payload = self._read_events()
        else:
            payload = codec.pack_struct(
                spec.StatusReply, **{c.name.lower(): v for c, v in self.ctl.counters.items()},
                steps_pending=self.pending, in_level=len(self.ctl.in_fifo),
                out_level=len(self.ctl.out_fifo))
        reply = codec.frame_body(spec.reply_opcode(Opcode(op)), seq, payload)
        self.last = (op, seq, reply)
        return reply


class Line(Transport):
    """A host's line to a :class:`PacedBoard`: replies come back in small random chunks,
    now and then after a short delay; ``cut()`` pulls the cable (every later write raises
    ``TransportError``). ``commands`` lists the opcodes of the frames sent."""

    url = "golden://paced"

    def __init__(self, board, rng):
        self.board, self.rng, self.dead = board, rng, False
        self.inbox, self.outbox, self.commands = bytearray(), bytearray(), []

    def cut(self):
        self.dead = True

    def write(self, data):
        if self.dead:
            raise TransportError(f"{self.url}: the line is cut")
        self.inbox += data
        while (end := self.inbox.find(0)) >= 0:
            encoded, self.inbox = bytes(self.inbox[:end]), self.inbox[end + 1:]
            try:
                body, status = cobs_decode(encoded, self.board.max_body), FrameStatus.OK
            except CobsError:
                body, status = b"", FrameStatus.COBS
            self.commands += body[:1]
            self.outbox += cobs_encode(self.board.send(body, status)) + b"\x00"

    def read(self, n, timeout):
        if not self.outbox or self.rng.random() < 0.05:
            time.sleep(min(timeout, 0.0002))
            return b""
        n = min(n, int(self.rng.integers(1, 24)))
        data, self.outbox = bytes(self.outbox[:n]), self.outbox[n:]
        return data


def geometry(rng, n_neurons=16, n_inputs=8):
    """A random board geometry; output buffers small enough to fill (back-pressure)."""
    return dict(n_neurons=n_neurons, n_inputs=n_inputs, syn_capacity=256,
                max_payload=int(rng.choice([64, 100, 252])),
                in_depth=int(rng.choice([8, 16, 32])), out_depth=int(rng.choice([4, 8])))


def setup(seed, cfg=None, geo=(), **kwargs):
    rng = np.random.default_rng(seed)
    cfg = random_config(rng, n_neurons=16, n_inputs=8, max_fanout=3) if cfg is None else cfg
    paced = PacedBoard(cfg, {**geometry(rng), **dict(geo)}, rng, **kwargs)
    line = Line(paced, rng)
    board = Board(line, timeout=0.5)
    board.load(cfg)
    return board, cfg, paced, line, rng


def random_inputs(rng, steps, n_inputs=8, per_step=4):
    return [rng.choice(n_inputs, int(rng.integers(0, per_step + 1)), replace=False)
            for _ in range(steps)]


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def idle(board):
    st = board.status()
    return (st.steps_pending, st.in_level, st.out_level) == (0, 0, 0)


# (seeds whose draws fill the output buffer with each window kind: the check below)
@pytest.mark.parametrize("seed", [0, 1, 6, 3, 4, 5])
def test_stream_equals_golden_with_back_pressure(seed):
    board, cfg, paced, line, rng = setup(seed)
    inputs = random_inputs(rng, 150)
    window = [None, 1, 3, int(rng.integers(2, board.info.in_depth + 1))][seed % 4]
    limit = board.info.in_depth if window is None else window
    taken = []

    def source():
        for x in inputs:
            taken.append(x)
            yield x

    got = []
    for k, spikes in enumerate(board.stream(source(), window=window)):
        # the iterable is read lazily: at most `window` steps ahead of the yielded ones
        assert len(taken) <= k + limit
        got.append(spikes)
        if rng.random() < 0.05:
            time.sleep(0.001)                   # a slow consumer
    assert same(got, golden.run(cfg, inputs))
    assert idle(board)
    runs = line.commands.count(Opcode.RUN.value)
    if window is None and board.info.in_depth >= 16:    # steps queued in batches
        assert runs <= len(inputs) // 2
    assert paced.cut_steps > 0                  # replies ended inside steps
    if limit > 1:                               # the full output buffer made the core wait
        assert paced.waits > 0


def test_a_spike_heavy_stream_fills_the_output_buffer_and_loses_nothing():
    cfg = busy_config(16, 8, busy=0.75, seed=1)
    board, cfg, paced, line, rng = setup(7, cfg, speed=200)
    inputs = random_inputs(rng, 200)
    got = list(board.stream(iter(inputs)))
    assert same(got, golden.run(cfg, inputs))
    assert paced.waits > 10 and paced.cut_steps > 10
    # queued in batches: the queue is topped up when half of it is free, not every step
    assert line.commands.count(Opcode.RUN.value) <= len(inputs) // 2
    assert board.run(inputs[:5]) is not None and idle(board)


def test_run_and_stream_are_the_same_engine():
    board, cfg, paced, line, rng = setup(11)
    inputs = random_inputs(rng, 60)
    calls = []
    ran = board.run(inputs, progress=lambda k, n: calls.append((k, n)))
    assert calls == [(k, 60) for k in range(1, 61)]
    board.reset()
    calls.clear()
    streamed = list(board.stream(inputs, progress=lambda k, n: calls.append((k, n))))
    assert calls == [(k, 60) for k in range(1, 61)]
    assert same(ran, streamed) and same(ran, golden.run(cfg, inputs))
    board.reset()
    calls.clear()
    list(board.stream(iter(inputs[:3]), progress=lambda k, n: calls.append((k, n))))
    assert calls == [(1, None), (2, None), (3, None)]


@pytest.mark.parametrize("how", ["close", "break"])
def test_an_endless_stream_closed_early_leaves_the_board_idle(how):
    board, cfg, paced, line, rng = setup(21)
    seed = int(rng.integers(1 << 30))

    def endless():
        r = np.random.default_rng(seed)
        while True:
            yield r.choice(8, int(r.integers(0, 4)), replace=False)

    stop = int(rng.integers(20, 60))
    got = []
    if how == "close":
        stream = board.stream(endless())
        got = [next(stream) for _ in range(stop)]
        stream.close()
    else:
        for spikes in board.stream(endless()):
            got.append(spikes)
            if len(got) == stop:
                break
    assert idle(board)
    ran = board.read_state().step               # steps yielded + queued steps discarded
    assert ran >= stop
    # a following run continues from the state the discarded steps left
    more = random_inputs(rng, 30)
    after = board.run(more)
    first = list(itertools.islice(endless(), ran))
    gold = golden.run(cfg, first + more)
    assert same(got, gold[:stop]) and same(after, gold[ran:])


def disconnect_mid_stream(seed):
    """A host streams, takes some steps and loses its line; the next host drains with the
    replies the broken stream handed on. Returns the events of the step it had begun."""
    cfg = busy_config(16, 8, busy=0.5, seed=seed)
    board, cfg, paced, line, rng = setup(30 + seed, cfg)
    inputs = random_inputs(rng, 120)
    stop = int(rng.integers(5, 80))
    stream = board.stream(inputs)
    got = [next(stream) for _ in range(stop)]
    line.cut()
    with pytest.raises(TransportError, match="the line is cut") as err:
        for spikes in stream:                   # the steps already read, then the error
            got.append(spikes)
    replies = err.value.replies
    other = Board(Line(paced, rng), timeout=0.5)            # the next host
    rest = other.drain(*replies)
    union = got + rest
    assert len(union) >= stop
    assert same(union, golden.run(cfg, inputs[:len(union)]))
    assert idle(other)
    return sum(r.indices.size for r in replies)


def test_a_host_that_disconnects_mid_stream_leaves_every_step_to_the_next():
    begun = [disconnect_mid_stream(seed) for seed in range(10)]
    # some of the cuts came inside a step: its first events went with the replies
    assert sum(map(bool, begun)) >= 3


def test_a_bad_step_raises_after_the_steps_before_it():
    board, cfg, paced, line, rng = setup(41, geo={"in_depth": 8})
    inputs = random_inputs(rng, 20) + [[3, 99]] + random_inputs(rng, 5)
    got = []
    with pytest.raises(ValueError, match=r"^inputs\[20\]\[1\] = 99 is outside the limit "
                                         r"\[0, 7\]$"):
        for spikes in board.stream(iter(inputs)):
            got.append(spikes)
    assert same(got, golden.run(cfg, inputs[:20]))
    assert idle(board)
    with pytest.raises(ValueError, match=r"^inputs\[2\] repeats a channel"):
        list(board.stream([[1], [], [4, 4]]))
    with pytest.raises(TypeError, match=r"^inputs\[1\] must hold integer channel indices, "
                                        r"not float64 values$"):
        list(board.stream([[1], [1.5]]))
    with pytest.raises(ValueError, match=r"^inputs\[1\] has 8 events; the board's input "
                                         r"buffer holds 7 per step$"):
        list(board.stream([[], list(range(8))]))
    assert idle(board)


def test_stream_arguments_are_checked():
    board, cfg, paced, line, rng = setup(42)
    depth = board.info.in_depth
    for window, exc, msg in ((0, ValueError, f"window = 0 is outside the limit \\[1, {depth}\\]"),
                             (depth + 1, ValueError, f"window = {depth + 1} is outside the "
                                                     f"limit \\[1, {depth}\\]"),
                             (2.0, TypeError, "window must be an integer, not 2.0"),
                             (float("nan"), TypeError, "window must be an integer, not nan"),
                             (True, TypeError, "window must be an integer, not True")):
        with pytest.raises(exc, match=f"^{msg}$"):
            board.stream([[1]], window=window)
    with pytest.raises(TypeError, match="^inputs must be an iterable of per-step inputs"):
        board.stream(5)
    with pytest.raises(TypeError, match="^progress must be callable"):
        board.stream([[1]], progress="yes")
    with pytest.raises(TypeError, match=r"^stream\(\) takes no reward: set_modulator"):
        board.stream([[1]], reward=[1])
    assert idle(board)


def test_stream_refuses_a_board_with_an_unfinished_run():
    board, cfg, paced, line, rng = setup(43)
    for cmd in codec.split_inject([[1], [2]], max_payload=board.max_payload):
        board.transact(cmd)
    board.transact(codec.run(2))
    with pytest.raises(BoardError, match=r"still has \d+ steps pending and \d+ output events"):
        next(board.stream([[1]]))
    assert len(board.drain()) == 2


@pytest.mark.slow
def test_stream_on_the_simulated_board():
    from neurofab.host.simboard import start_simulated_board
    rng = np.random.default_rng(5)
    cfg = busy_config(64, 16, busy=0.25, seed=5)
    inputs = random_inputs(rng, 300, n_inputs=16, per_step=6)
    with start_simulated_board("icebreaker") as sim, Board.open(sim.url) as board:
        board.load(cfg)
        got = list(board.stream(iter(inputs)))
        gold = golden.run(board.fit(cfg), inputs)
        assert same(got, gold)
        # an early close on the real top: the board is idle and runs on from there
        stream = board.stream(iter(inputs), window=7)
        head = [next(stream) for _ in range(10)]
        stream.close()
        assert idle(board)
        ran = board.read_state().step - 300
        tail = board.run(inputs[:20])
        gold = golden.run(board.fit(cfg), inputs + inputs[:ran] + inputs[:20])
        assert same(head, gold[300:310]) and same(tail, gold[300 + ran:])
