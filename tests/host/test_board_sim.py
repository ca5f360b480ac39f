"""The simulated iCEBreaker (Verilated BoardTop, UART bridged to TCP): raw codec frames.

A smoke test of the whole board path — UART, COBS, CRC, the command controller and the
neuron core — with frames from ``neurofab.host.codec``. The host driver (``Board``) has
its own tests.
"""

import socket
import time

import numpy as np
import pytest

from neurofab import spec
from neurofab.boards import get_board
from neurofab.boards.top import link_defaults
from neurofab.host import codec
from neurofab.host.simboard import start_simulated_board
from neurofab.spec import Nak, Region

pytestmark = pytest.mark.slow

BOARD = "icebreaker"


class Link:
    """One TCP connection to the simulated board, speaking raw frames."""

    def __init__(self, port, timeout=60.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.dec = codec.FrameDecoder()
        self.timeout = timeout
        self.seq = 0x30
        self.errors = []

    def close(self):
        self.sock.close()

    def replies(self, n, seconds=None):
        """The next ``n`` decoded items (``Frame`` or ``FrameError``)."""
        out = []
        deadline = time.monotonic() + (seconds or self.timeout)
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"only {len(out)} of {n} replies within the timeout: {out}")
            self.sock.settimeout(left)
            data = self.sock.recv(4096)
            assert data, "the simulated board closed the connection"
            out += self.dec.feed(data)
        return out

    def frame(self, cmd, seq=None):
        self.seq = (self.seq + 1) & 0xFF if seq is None else seq
        self.sock.sendall(codec.encode_frame(cmd.opcode.value, self.seq, cmd.payload))
        (rep,) = self.replies(1)
        assert isinstance(rep, codec.Frame), rep
        assert rep.seq == self.seq, rep
        return rep

    def call(self, cmd, **kwargs):
        return codec.parse_reply(cmd, self.frame(cmd, **kwargs))


@pytest.fixture(scope="module")
def board():
    with start_simulated_board(BOARD) as b:
        yield b


@pytest.fixture
def link(board):
    link = Link(board.port)
    yield link
    link.close()


def test_identify(link):
    b = get_board(BOARD)
    ident = link.call(codec.identify())
    assert ident.protocol == spec.PROTOCOL_VERSION and ident.board == 0
    assert ident.clk_hz == round(b.pll.f_out) and ident.n_cores == 1
    assert (ident.n_neurons, ident.n_inputs, ident.n_synapses) == \
        (b.n_neurons, b.n_inputs, b.syn_capacity)
    defaults = link_defaults(b)
    assert (ident.max_payload, ident.in_depth, ident.out_depth) == \
        (defaults["max_payload"], defaults["in_depth"], defaults["out_depth"])
    assert ident.build != 0


def test_echo(link):
    rng = np.random.default_rng(1)
    for data in (b"", b"\x00\x00", rng.bytes(252)):
        assert link.call(codec.echo(data, max_payload=252)) == data


def test_memory_round_trip(link):
    b = get_board(BOARD)
    rng = np.random.default_rng(2)
    state = codec.fields_to_words(spec.NeuronState, i=rng.integers(-3000, 3000, 40),
                                  v=rng.integers(-3000, 3000, 40), ref=rng.integers(0, 16, 40),
                                  profile=rng.integers(0, 16, 40))
    syn = rng.integers(0, 1 << spec.Synapse.size, 60)
    prof = [int(w) for w in rng.integers(0, 1 << 62, 16)]
    for region, start, words in ((Region.STATE, 10, state),
                                 (Region.SYNAPSE, b.syn_capacity - 60, syn),
                                 (Region.PROFILE, 0, prof)):
        assert link.call(codec.write_mem(region, start, words, max_payload=252)) is None
        got = link.call(codec.read_mem(region, start, len(words), max_payload=252))
        assert [int(w) for w in got] == [int(w) for w in words], region.name
    # restore an empty network for the next test
    assert link.call(codec.write_mem(Region.STATE, 10, [0] * 40, max_payload=252)) is None
    assert link.call(codec.write_mem(Region.PROFILE, 0, [0] * 16, max_payload=252)) is None


def test_a_short_run_and_damaged_frames(link):
    """An all-zero network (threshold 0): every neuron fires in every step, so the output
    buffer fills and the core waits for READ_EVENTS; bad frames get NAKs."""
    b = get_board(BOARD)
    assert link.call(codec.reset()) is None
    assert link.call(codec.clear_status()) is None
    assert link.call(codec.inject([[0, 1], []])) is None
    assert link.call(codec.run(2)) is None
    asm = codec.StepAssembler()
    steps = []
    for _ in range(50):
        ev = link.call(codec.read_events())
        steps += asm.feed(ev.indices, ev.ends)
        if ev.steps_pending == 0 and ev.remaining == 0:
            break
    assert [s.tolist() for s in steps] == [list(range(b.n_neurons))] * 2
    # a flipped CRC bit, then garbage: NAKs; the board still answers
    body = bytearray(codec.frame_body(spec.Opcode.ECHO.value, 0x77, b"abc"))
    body[3] ^= 0x04
    from neurofab.golden.link.cobs import cobs_encode
    link.sock.sendall(cobs_encode(bytes(body)) + b"\x00")
    (nak,) = link.replies(1)
    assert nak == codec.Frame(spec.NAK_OPCODE, 0x77, bytes([Nak.CRC.value, 0x05]))
    link.sock.sendall(b"\x13\x37\x00")
    (nak,) = link.replies(1)
    assert nak.is_nak and nak.payload[0] == Nak.FRAMING.value
    st = link.call(codec.status())
    assert (st.crc_errors, st.framing_errors, st.naks_sent) == (1, 1, 2)
    assert (st.uart_errors, st.rx_overruns) == (0, 0)
    assert (st.steps_pending, st.in_level, st.out_level) == (0, 0, 0)
    assert list(link.call(codec.read_mem(Region.CTRL, 1, 1))) == [2]
