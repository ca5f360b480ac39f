"""The real host driver against the simulated board (the real top level under Verilator).

No mocks: ``Board`` talks the byte protocol over TCP to the Verilated ``BoardTop`` whose
UART pins the simulated-board harness drives bit by bit.
"""

import socket

import numpy as np
import pytest

from neurofab import golden, spec
from neurofab.config import random_config
from neurofab.host import Board, BoardError, codec
from neurofab.host.simboard import start_simulated_board

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim():
    with start_simulated_board("icebreaker") as proc:
        yield proc


def random_inputs(rng, n_inputs, steps, per_step=4):
    return [rng.choice(n_inputs, int(rng.integers(0, per_step + 1)), replace=False)
            for _ in range(steps)]


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_networks_match_golden_spikes_and_state(sim, seed):
    rng = np.random.default_rng(seed)
    cfg = random_config(rng, n_neurons=[16, 64, 128][seed], n_inputs=12)
    inputs = random_inputs(rng, 12, 25)
    with Board.open(sim.url) as board:
        board.load(cfg)
        got = board.run(inputs)
        state = board.read_state()
    gold, states = golden.run(cfg.padded(board.info.n_neurons, board.info.n_inputs), inputs,
                              trace=True)
    assert same(got, gold)
    final = states[-1]
    assert np.array_equal(state.i, final.i) and np.array_equal(state.v, final.v)
    assert np.array_equal(state.ref, final.ref) and np.array_equal(state.acc, final.acc)
    assert state.step == final.step == 25


def test_run_continues_where_it_stopped_and_status_counts(sim):
    rng = np.random.default_rng(7)
    cfg = random_config(rng, n_neurons=32, n_inputs=8)
    inputs = random_inputs(rng, 8, 30, per_step=6)
    with Board.open(sim.url) as board:
        board.load(cfg)
        board.clear_status()
        sent = board.stats.commands
        got = board.run(inputs[:10]) + board.run(inputs[10:], steps=25)
        status = board.status()          # counts its own frame, not the CLEAR_STATUS
        assert status.frames_ok == board.stats.commands - sent >= 4   # INJECT, RUN, READ_EVENTS, STATUS
        assert (status.crc_errors, status.naks_sent, status.steps_pending) == (0, 0, 0)
    assert same(got, golden.run(cfg, inputs + [[]] * 5))


def raw_reply(board, wire):
    """Send raw bytes, return the first frame (or FrameError) that comes back."""
    board.transport.write(wire)
    decoder = codec.FrameDecoder()
    while True:
        data = board.transport.read(4096, 2.0)
        assert data, "the board did not answer"
        items = decoder.feed(data)
        if items:
            return items[0]


ERRORS = ("crc_errors", "framing_errors", "oversize_frames", "unknown_opcodes")


def errors(status):
    return np.array([getattr(status, name) for name in ERRORS])


def test_faults_are_counted_and_the_board_keeps_answering(sim):
    from neurofab.golden.link.cobs import cobs_encode
    rng = np.random.default_rng(3)
    with Board.open(sim.url) as board:
        board.clear_status()
        start = board.status()
        # random garbage between frames, then a delimiter: one bad frame of some kind
        board.transport.write(bytes(rng.integers(1, 256, 100, dtype=np.uint8)) + b"\x00")
        assert board.identify().protocol == spec.PROTOCOL_VERSION
        base = board.status()
        assert errors(base).sum() == errors(start).sum() + 1
        faults = [  # (raw wire bytes, NAK reason, counter)
            (codec.encode_frame(spec.Opcode.IDENTIFY, 0x42), spec.Nak.CRC, "crc_errors"),
            (cobs_encode(codec.frame_body(spec.Opcode.STATUS, 0x43)[:2]) + b"\x00",
             spec.Nak.FRAMING, "framing_errors"),
            (codec.encode_frame(spec.Opcode.ECHO, 0x44, bytes(508)), spec.Nak.OVERSIZE,
             "oversize_frames"),
            (codec.encode_frame(0x7E, 0x45), spec.Nak.UNKNOWN_OPCODE, "unknown_opcodes"),
        ]
        flipped = bytearray(faults[0][0])
        flipped[2] ^= 0x10                       # one flipped bit inside the body
        faults[0] = (bytes(flipped),) + faults[0][1:]
        for wire, reason, counter in faults:
            before = board.status()
            nak = raw_reply(board, wire)
            assert nak.is_nak and nak.payload[0] == reason.value, (reason, nak)
            after = board.status()
            assert getattr(after, counter) == getattr(before, counter) + 1
            assert errors(after).sum() == errors(before).sum() + 1
            assert after.naks_sent == before.naks_sent + 1
        assert board.echo(b"\x00still here\x00") == b"\x00still here\x00"


def test_host_disconnects_mid_run_and_a_new_host_collects_every_spike(sim):
    rng = np.random.default_rng(11)
    cfg = random_config(rng, n_neurons=32, n_inputs=8)
    inputs = random_inputs(rng, 8, 40, per_step=5)
    with Board.open(sim.url) as board:
        board.load(cfg)
        for cmd in codec.split_inject(inputs, max_payload=board.max_payload):
            board.transact(cmd)
        board.transact(codec.run(len(inputs)))
        first = board.transact(codec.read_events())      # some output, then the host vanishes
    # the board keeps running; a new host connects and drains the rest
    with Board.open(sim.url) as board:
        got = board.drain(first)
    assert same(got, golden.run(cfg, inputs))


def test_unknown_url_and_dead_port_are_clear_errors():
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(OSError, match=f"cannot connect to tcp://127.0.0.1:{port}"):
        Board.open(f"tcp://127.0.0.1:{port}")


def test_a_board_reset_mid_run_is_an_error_not_a_hang(sim):
    """Queued steps lost on the board (a RESET standing in for a glitch or a reprogram):
    run() says so instead of polling for ever or pinning later output on lost steps."""
    rng = np.random.default_rng(12)
    cfg = random_config(rng, n_neurons=32, n_inputs=8)
    inputs = random_inputs(rng, 8, 40, per_step=2)
    with Board.open(sim.url) as board:
        board.load(cfg)

        def glitch(done, total):
            if done == 3:
                board.reset()
        with pytest.raises(BoardError, match=r"the board lost \d+ queued steps"):
            board.run(inputs, progress=glitch)
        assert board.status().steps_pending == 0


def test_run_refuses_an_unfinished_earlier_run_and_load_recovers(sim):
    rng = np.random.default_rng(13)
    cfg = random_config(rng, n_neurons=32, n_inputs=8)
    inputs = random_inputs(rng, 8, 10, per_step=3)
    with Board.open(sim.url) as board:
        board.load(cfg)
        board.transact(codec.run(5))                     # an earlier host's run, never read
        with pytest.raises(BoardError, match="still has .* of an earlier run"):
            board.run(inputs)
    with Board.open(sim.url) as board:                   # a new host loads anyway
        board.load(cfg)
        assert same(board.run(inputs), golden.run(cfg, inputs))
