"""The golden link controller (``golden/link/controller.py``) on its own: replies that the
host codec parses, link checks in protocol order, the stored reply of a retransmission,
and a network uploaded and run through it equal to ``golden.run`` on the same config. Its
RTL twin is proven against it by the ``link-controller`` cosim (``tests/cosim/test_link.py``).
"""

import numpy as np
import pytest

from neurofab import golden, spec
from neurofab.config import random_config
from neurofab.golden.link.controller import LinkController
from neurofab.host import codec
from neurofab.spec import FrameStatus, Nak, Opcode, Region

GEOMETRY = dict(n_neurons=16, n_inputs=8, syn_capacity=128, max_payload=64, in_depth=64,
                out_depth=64)
LINK = dict(clk_hz=12_000_000, board_id=7, build_hash=0x0123456789ABCDEF)


@pytest.fixture
def ctl():
    cfg = random_config(3, n_neurons=16, n_inputs=8, max_fanout=3)
    return LinkController(cfg, GEOMETRY, **LINK), cfg


def _ask(ctl, cmd, seq):
    body = codec.frame_body(cmd.opcode.value, seq, cmd.payload,
                            max_payload=spec.MAX_PAYLOAD)
    return codec.parse_reply(cmd, codec.decode_body(ctl.send(body)))


def _upload(ctl, cfg):
    seq = 0
    for region, index, word in cfg.upload_words(n_inputs=GEOMETRY["n_inputs"],
                                                clear_acc=False):
        seq += 1
        _ask(ctl, codec.write_mem(region, index, [word]), seq & 0xFF)
    return seq


def test_identify_is_the_geometry(ctl):
    ctl, _ = ctl
    info = _ask(ctl, codec.identify(), 1)
    assert (info.n_neurons, info.n_inputs, info.n_synapses) == (16, 8, 128)
    assert (info.board, info.build, info.clk_hz) == (7, 0x0123456789ABCDEF, 12_000_000)
    assert info.protocol == spec.PROTOCOL_VERSION
    assert ctl.counters[spec.Counter.FRAMES_OK] == 1


def test_link_checks_in_order_and_counted(ctl):
    ctl, _ = ctl
    good = codec.frame_body(Opcode.ECHO.value, 5, b"hi")
    bad_crc = bytearray(good)
    bad_crc[2] ^= 1
    cases = [(bytes(bad_crc), FrameStatus.OK, Nak.CRC, spec.Counter.CRC_ERRORS),
             (good[:3], FrameStatus.OK, Nak.FRAMING, spec.Counter.FRAMING_ERRORS),
             (good, FrameStatus.COBS, Nak.FRAMING, spec.Counter.FRAMING_ERRORS),
             (good, FrameStatus.OVERSIZE, Nak.OVERSIZE, spec.Counter.OVERSIZE_FRAMES),
             (codec.frame_body(0x42, 6), FrameStatus.OK, Nak.UNKNOWN_OPCODE,
              spec.Counter.UNKNOWN_OPCODES)]
    for body, status, reason, counter in cases:
        before = ctl.counters[counter]
        reply = codec.decode_body(ctl.send(body, status))
        assert reply.is_nak and reply.payload[0] == reason.value, (body, status)
        assert ctl.counters[counter] == before + 1
    assert ctl.counters[spec.Counter.NAKS_SENT] == len(cases)


def test_retransmission_gets_the_stored_reply_without_executing(ctl):
    ctl, cfg = ctl
    _upload(ctl, cfg)
    inject = codec.inject([[1, 2]])
    body = codec.frame_body(inject.opcode.value, 200, inject.payload)
    first = ctl.send(body)
    fifo = list(ctl.in_fifo)
    assert ctl.send(body) == first and ctl.in_fifo == fifo     # not injected twice


def test_upload_and_run_equal_golden_run(ctl):
    ctl, cfg = ctl
    seq = _upload(ctl, cfg)
    rng = np.random.default_rng(4)
    inputs = [np.sort(rng.choice(8, int(rng.integers(0, 5)), replace=False))
              for _ in range(6)]
    _ask(ctl, codec.inject(inputs), (seq + 1) & 0xFF)
    assert ctl.run_fits(len(inputs))        # the output buffer holds the whole run
    _ask(ctl, codec.run(len(inputs)), (seq + 2) & 0xFF)
    events = _ask(ctl, codec.read_events(), (seq + 3) & 0xFF)
    got, partial = codec.split_steps(events.indices, events.ends)
    want = golden.run(cfg, inputs)
    assert partial.size == 0 and events.remaining == 0
    assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))
    words = _ask(ctl, codec.read_mem(Region.CTRL, spec.Ctrl.STEP.value, 1), (seq + 4) & 0xFF)
    assert list(words) == [len(inputs)]
