"""Link reliability: the host driver against the golden link controller behind a
transport that damages, drops and merges frames like a noisy UART.

``GoldenLink`` (``neurofab.fuzz``, shared with the link fuzz campaign) is a ``Transport``
whose far end is ``golden.link.LinkController`` (the golden twin of the board's command
controller, proven against the RTL by the link-controller cosim), so these tests run the
real ``Board`` driver over the real byte protocol in milliseconds.
"""

import random
import socket
import time

import numpy as np
import pytest

from neurofab import golden, spec
from neurofab.config import random_config
from neurofab.fuzz import GOLDEN_GEOMETRY, GOLDEN_LINK, GoldenLink, NoisyLine
from neurofab.golden.link.cobs import cobs_decode, cobs_encode
from neurofab.golden.link.controller import LinkController
from neurofab.host import Board, BoardError, LinkTimeout, codec
from neurofab.spec import Opcode

GEOMETRY, LINK = GOLDEN_GEOMETRY, GOLDEN_LINK


def make_link(seed=3, fault=None, cls=GoldenLink):
    cfg = random_config(seed, n_neurons=GEOMETRY["n_neurons"], n_inputs=GEOMETRY["n_inputs"],
                        max_fanout=3)
    return cls(LinkController(cfg, GEOMETRY, **LINK), fault), cfg


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("rate", [0.05, 0.10])
def test_a_noisy_line_is_ridden_through_and_a_long_run_equals_golden(rate):
    # defect 8: at 5-10 % damaged frames a run ended in LinkTimeout after 3 retransmissions
    line = NoisyLine(rate, seed=11)
    link, cfg = make_link(fault=line)
    rng = np.random.default_rng(5)
    inputs = [rng.choice(8, int(rng.integers(0, 4)), replace=False) for _ in range(1000)]
    board = Board(link, timeout=0.005)
    board.load(cfg)
    got = board.run(inputs)
    assert line.faults > 0.5 * rate * 2 * board.stats.commands
    assert board.stats.retransmissions > 0
    assert same(got, golden.run(cfg, inputs))


def test_link_timeout_names_what_was_received():
    link, _ = make_link()
    board = Board(link, timeout=0.005)
    link.fault = lambda direction, wire: (wire[:-2] + bytes([wire[-2] ^ 0x10, 0])
                                          if direction == "rx" else wire)
    with pytest.raises(LinkTimeout, match=r"STATUS .*attempts.*received: \d+ corrupt frames"):
        board.status()


def test_a_link_nak_with_a_damaged_seq_is_retransmitted_at_once():
    # defect 5: a CRC NAK carries the seq as received; one with another seq was ignored and
    # the driver waited out its timeout before it retransmitted
    flipped = []

    def flip_seq(direction, wire):
        if direction == "tx" and not flipped:
            flipped.append(wire)
            body = bytearray(cobs_decode(wire[:-1]))
            body[1] ^= 0x01
            return cobs_encode(bytes(body)) + b"\x00"
        return wire

    link, _ = make_link()
    board = Board(link, timeout=0.005)
    board.timeout = 2.0
    link.fault = flip_seq
    t0 = time.monotonic()
    board.echo(b"hello")
    assert flipped and time.monotonic() - t0 < 1.0
    assert board.stats.retransmissions == 1


class ResetMidRun(GoldenLink):
    """Another host RESETs the board right after the first RUN."""

    def after(self, body):
        if body and body[0] == Opcode.RUN.value and not getattr(self, "done", False):
            self.done = True
            self.ctl.send(codec.frame_body(Opcode.RESET.value, 0x5A))


def test_run_raises_when_the_board_loses_its_queued_steps():
    # defect 2: Board.run looped forever when a RESET emptied the queue mid-run
    link, cfg = make_link(cls=ResetMidRun)
    board = Board(link, timeout=0.005)
    board.load(cfg)
    before = board.stats.commands
    with pytest.raises(BoardError, match=r"lost \d+ queued steps .* 0 of 40 steps"):
        board.run([[1]] * 40)
    assert board.stats.commands - before <= 10


def _every_frame_type():
    """Wire frames of every command, every reply (ACK with a payload of its size) and a
    NAK of every reason, at seqs 0 and 255; payloads hold zeros (COBS codes) and ones."""
    from neurofab.spec import Nak, Region
    cmds = [codec.identify(), codec.status(), codec.clear_status(), codec.reset(),
            codec.echo(b"\x00ab\x00"), codec.write_mem(Region.STATE, 0, [0x10FFFB0000, 7]),
            codec.read_mem(Region.CTRL, 1, 1), codec.inject([[3, 7], [], [256]]),
            codec.run(10), codec.read_events()]
    replies = {Opcode.IDENTIFY: spec.IdentifyReply.size // 8,
               Opcode.STATUS: spec.StatusReply.size // 8, Opcode.ECHO: 4,
               Opcode.READ_MEM: 4, Opcode.READ_EVENTS: 14}
    rng = random.Random(1)
    frames = []
    for seq in (0, 255):
        for cmd in cmds:
            frames.append(codec.encode_frame(cmd.opcode.value, seq, cmd.payload))
            n = replies.get(cmd.opcode, 0)
            payload = bytes(rng.choice((0, 0, 1, rng.randrange(256))) for _ in range(n))
            frames.append(codec.encode_frame(spec.reply_opcode(cmd.opcode), seq, payload))
        for reason in Nak:
            frames.append(codec.encode_frame(spec.NAK_OPCODE, seq, bytes([reason.value, 0x10])))
    return frames


def test_no_single_bit_flip_passes_the_frame_check():
    # defect 5: with CRC-16/CCITT-FALSE (residue 0) "body + 00" passed: a delimiter flipped
    # to 01 ran a command with an extra byte. Every bit of every frame type and of its
    # delimiter, followed by another frame (with and without a flushing 00): every frame
    # the host decoder (and so the board, same check) accepts is one that was sent.
    frames = _every_frame_type()
    bad = []
    for k, a in enumerate(frames):
        nxt = frames[(k + 1) % len(frames)]
        for tail in (nxt, b"\x00" + nxt):
            stream = a + tail
            for bit in range(8 * len(a)):
                w = bytearray(stream)
                w[bit // 8] ^= 1 << (bit % 8)
                for item in codec.FrameDecoder().feed(bytes(w)):
                    if isinstance(item, codec.Frame):
                        again = codec.encode_frame(item.opcode, item.seq, item.payload)
                        if again not in (a, nxt):
                            bad.append((a.hex(" "), bit, again.hex(" ")))
    assert not bad, f"{len(bad)} single-bit flips passed, e.g. {bad[:3]}"


def test_appended_zero_bytes_fail_the_check():
    for wire in _every_frame_type():
        body = cobs_decode(wire[:-1])
        for extra in (b"\x00", b"\x00\x00", b"\x00" * 5):
            with pytest.raises(codec.CrcError):
                codec.decode_body(body + extra)


def test_a_stale_link_nak_of_earlier_garbage_is_not_a_retransmission():
    link, _ = make_link()
    board = Board(link, timeout=0.005)
    # a damaged WRITE_MEM of another seq: the board NAKs it (CRC), naming neither ours
    wire = bytearray(codec.encode_frame(Opcode.WRITE_MEM.value, (link.seqs[-1] + 128) & 0xFF,
                                        b"\x01\x02\x03"))
    wire[-2] ^= 0x01 if wire[-2] != 0x01 else 0x02
    link.write(bytes(wire))
    before = board.stats.retransmissions
    assert board.echo(b"x") == b"x"
    assert board.stats.retransmissions == before and board.stats.stray_replies == 1


# --- the simulated board's TCP bridge (defect 4) ---------------------------------------
@pytest.fixture(scope="module")
def loopback_binary():
    from neurofab.host.simboard import DEFAULT_DIVISOR, UartEcho, build_simboard
    return build_simboard(UartEcho(DEFAULT_DIVISOR))


def _loopback(binary, **kwargs):
    from neurofab.host.simboard import DEFAULT_DIVISOR, SimBoardProcess
    return SimBoardProcess(binary, DEFAULT_DIVISOR, stats=True, **kwargs)


def _read_exactly(transport, n, timeout=20.0):
    out, deadline = b"", time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        out += transport.read(n - len(out), 0.5)
    return out


@pytest.mark.slow
def test_a_second_client_is_told_the_board_is_busy(loopback_binary):
    from neurofab.host.transport import TcpTransport, TransportError
    with _loopback(loopback_binary) as board:
        with TcpTransport("127.0.0.1", board.port) as first:
            first.write(b"one")
            assert _read_exactly(first, 3) == b"one"
            second = TcpTransport("127.0.0.1", board.port)
            second.write(codec.encode_frame(Opcode.IDENTIFY.value, 1))
            with pytest.raises(TransportError, match="board busy: another client is "
                                                     "connected"):
                _read_exactly(second, 6)
            second.close()
            first.write(b"still mine")          # the first client keeps the board
            assert _read_exactly(first, 10) == b"still mine"
        with TcpTransport("127.0.0.1", board.port) as third:   # free again
            third.write(b"three")
            assert _read_exactly(third, 5) == b"three"
    stats = board.stats
    assert stats["refused"] == 1 and stats["connections"] == 2
    assert stats["bytes_in"] == 3 + 10 + 5          # nothing of the refused client


@pytest.mark.slow
def test_bytes_of_a_client_that_left_never_go_down_the_line(loopback_binary):
    # the defect: a client sent RUN 0x7FFFFFFF and closed; the RUN still ran later
    with _loopback(loopback_binary) as board:
        with socket.create_connection(("127.0.0.1", board.port)) as s:
            s.sendall(bytes(range(1, 256)) * 20)   # ~5 k bytes: long to serialise
        time.sleep(1.0)                             # the bridge sees the EOF
    stats = board.stats
    assert stats["bytes_abandoned"] > 0
    assert stats["bytes_in"] + stats["bytes_abandoned"] == 255 * 20
    assert stats["bytes_in"] < 255 * 20 // 2


@pytest.mark.slow
def test_an_idle_client_is_disconnected_after_the_client_timeout(loopback_binary):
    from neurofab.host.transport import TcpTransport, TransportError
    with _loopback(loopback_binary, client_timeout=1) as board:
        with TcpTransport("127.0.0.1", board.port) as idle:
            idle.write(b"hi")
            assert _read_exactly(idle, 2) == b"hi"
            time.sleep(2.0)
            with pytest.raises(TransportError, match="connection closed by the board"):
                _read_exactly(idle, 1, timeout=5.0)
        with TcpTransport("127.0.0.1", board.port) as next_one:
            next_one.write(b"ok")
            assert _read_exactly(next_one, 2) == b"ok"
    assert board.stats["timeouts"] == 1

class ResetAfterPartialStep(GoldenLink):
    """A board whose first READ_EVENTS reply of a run (after the empty one ``run`` reads
    first) ends inside a step (the reply was full) and which is then RESET by another
    host: the step's end never comes."""

    def write(self, data):
        body = cobs_decode(bytes(data)[:-1])
        if body[0] != Opcode.READ_EVENTS.value:
            return super().write(data)
        self.reads = getattr(self, "reads", 0) + 1
        if self.reads > 50:
            raise RuntimeError("run() keeps polling a board that has nothing left")
        partial = self.reads == 2
        head = codec.pack_struct(spec.EventsHeader, steps_pending=4 if partial else 0,
                                 remaining=0)
        records = codec.pack_records([[1, 2]], close=False) if partial else b""
        reply = codec.frame_body(spec.reply_opcode(Opcode.READ_EVENTS), body[1], head + records)
        self.outbox += cobs_encode(reply) + b"\x00"


def test_run_raises_when_a_reset_cuts_a_step_it_had_started_to_read():
    # defect 2 on the real board: the step's first events were read, RESET dropped the
    # rest; the driver waited for the step's end for ever (READ_EVENTS in a loop)
    link, cfg = make_link(cls=ResetAfterPartialStep)
    board = Board(link, timeout=0.005)
    board.load(cfg)
    with pytest.raises(BoardError, match=r"lost 4 queued steps .* 0 of 4 steps completed, "
                                         r"and 2 events of a step whose end never came"):
        board.run([[1]] * 4)
    assert link.reads == 3


def test_a_lost_read_events_reply_is_an_error_not_missing_spikes():
    # defect 1: a READ_EVENTS reply in flight when its host left; the next host's IDENTIFY
    # replaced the board's stored reply, and drain() returned fewer steps, later ones
    # shifted, without an error
    link, cfg = make_link()
    rng = np.random.default_rng(2)
    inputs = [rng.choice(8, 2, replace=False) for _ in range(4)]
    board = Board(link, timeout=0.005)
    board.load(cfg)
    for cmd in codec.split_inject(inputs[:2], max_payload=board.max_payload):
        board.transact(cmd)
    board.transact(codec.run(2))
    first = board.transact(codec.read_events())          # received
    for cmd in codec.split_inject(inputs[2:], max_payload=board.max_payload):
        board.transact(cmd)
    board.transact(codec.run(2))
    # the host sends READ_EVENTS and leaves before the reply arrives: the reply is lost
    link.ctl.send(codec.frame_body(Opcode.READ_EVENTS.value, 0x33))
    other = Board(link, timeout=0.005)                   # the next host: IDENTIFY
    with pytest.raises(BoardError, match=r"^2 steps of output were lost after step 2: "):
        other.drain(first)
    assert first.steps_read == 2 and len(first.ends) == 2


def test_steps_read_counts_every_step_end_across_runs_and_resets():
    link, cfg = make_link()
    rng = np.random.default_rng(3)
    board = Board(link, timeout=0.005)
    board.load(cfg)
    for steps in (3, 1, 5):
        inputs = [rng.choice(8, 1) for _ in range(steps)]
        assert [list(s) for s in board.run(inputs)] == [list(s) for s in
                                                        golden.run(cfg, inputs)]
        board.reset()
    assert board.transact(codec.read_events()).steps_read == 9


def test_run_refuses_a_float_channel_like_golden():
    # found by the link fuzz campaign: Board.run([[0.5]]) ran channel 0, while
    # golden.run(cfg, [[0.5]]) refuses the float
    link, cfg = make_link()
    board = Board(link, timeout=0.005)
    board.load(cfg)
    with pytest.raises(TypeError, match=r"inputs\[1\]"):
        golden.run(cfg, [[1], [0.5]])
    with pytest.raises(TypeError, match=r"inputs\[1\] .*float"):
        board.run([[1], [0.5]])
    with pytest.raises(ValueError, match=r"inputs\[0\]"):
        board.run([[[1, 2]]])
    assert same(board.run([[1], [2]]), golden.run(cfg, [[1], [2]]))
    board.reset()
    assert same(board.run([[], [3], []]), golden.run(cfg, [[], [3], []]))  # empty steps


def test_a_reset_by_another_host_between_batches_is_an_error():
    # found by the link fuzz campaign: a second host on its own line sent RESET between
    # two batches of a run (nothing queued at that moment); run() returned 40 steps of a
    # restarted network without an error. The core's step counter tells.
    link, cfg = make_link()
    board = Board(link, timeout=0.005)
    board.load(cfg)
    rng = np.random.default_rng(4)
    inputs = [rng.choice(8, 2, replace=False) for _ in range(40)]

    def other_host_resets(done, total):
        if done == 10 and not link.ctl.in_fifo:       # between batches
            link.ctl.send(codec.frame_body(Opcode.RESET.value, 0x77))
    with pytest.raises(BoardError, match="the core's step counter went from 0 to \\d+ "
                                         "during a run of 40 steps"):
        board.run(inputs, progress=other_host_resets)
    board.reset()
    assert same(board.run(inputs), golden.run(cfg, inputs))
