"""Link attacks (hypothesis): whatever happens to the frames on the line — bits flipped
(delimiters too), bytes lost, frames lost, garbage, replies lost — the host driver either
returns exactly the golden model's spikes or raises a ``BoardError`` (``LinkTimeout``
included) that says so; never wrong or missing spikes without an error (the reliability
issue's fuzz suite, link part).

The board is the golden link controller (``golden.link.LinkController``, the RTL's
cosim-proven twin) behind an in-process transport.
"""

import time

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from neurofab import golden, spec
from neurofab.config import random_config
from neurofab.golden.link.cobs import CobsError, cobs_decode, cobs_encode
from neurofab.golden.link.controller import LinkController
from neurofab.host import Board, BoardError
from neurofab.host.transport import Transport
from neurofab.spec import FrameStatus

GEOMETRY = dict(n_neurons=16, n_inputs=8, syn_capacity=128, max_payload=252, in_depth=8,
                out_depth=256)
LINK = dict(clk_hz=12_000_000, board_id=0, build_hash=1)
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

#: (kind, argument) applied to one frame: none, flip bit, drop byte, drop frame, garbage
fault = st.one_of(st.just(("none", 0)), st.tuples(st.just("flip"), st.integers(0, 10 ** 6)),
                  st.tuples(st.just("drop_byte"), st.integers(0, 10 ** 6)),
                  st.just(("drop", 0)), st.tuples(st.just("garbage"), st.binary(min_size=1, max_size=6)))


class FaultyGoldenLink(Transport):
    url = "golden://fuzz"

    def __init__(self, ctl, plan):
        self.ctl, self.plan, self.k = ctl, list(plan), 0
        self.inbox, self.outbox = bytearray(), bytearray()

    def _apply(self, wire):
        kind, arg = self.plan[self.k % len(self.plan)] if self.plan else ("none", 0)
        self.k += 1
        wire = bytearray(wire)
        if kind == "flip":
            wire[arg // 8 % len(wire)] ^= 1 << (arg % 8)
        elif kind == "drop_byte":
            del wire[arg % len(wire)]
        elif kind == "drop":
            wire = bytearray()
        elif kind == "garbage":
            wire = bytearray(arg) + wire
        return bytes(wire)

    def write(self, data):
        self.inbox += self._apply(bytes(data))
        while (end := self.inbox.find(0)) >= 0:
            encoded, self.inbox = bytes(self.inbox[:end]), self.inbox[end + 1:]
            if not encoded:
                continue
            try:
                body, status = cobs_decode(encoded, self.ctl.max_body), FrameStatus.OK
            except CobsError:
                body, status = b"", FrameStatus.COBS
            self.outbox += self._apply(cobs_encode(self.ctl.send(body, status)) + b"\x00")

    def read(self, n, timeout):
        if not self.outbox:
            time.sleep(min(timeout, 0.0005))
            return b""
        data, self.outbox = bytes(self.outbox[:n]), self.outbox[n:]
        return data

    def close(self):
        pass


@SETTINGS
@given(st.lists(fault, min_size=1, max_size=40), st.integers(0, 2 ** 16))
def test_any_fault_pattern_gives_golden_spikes_or_an_error(plan, seed):
    cfg = random_config(seed % 7, n_neurons=16, n_inputs=8, max_fanout=3)
    rng = np.random.default_rng(seed)
    inputs = [rng.choice(8, int(rng.integers(0, 3)), replace=False) for _ in range(20)]
    link = FaultyGoldenLink(LinkController(cfg, GEOMETRY, **LINK), [("none", 0)])
    board = Board(link, timeout=0.002, retries=4)
    board.load(cfg)
    link.plan = plan
    try:
        got = board.run(inputs)
    except BoardError:
        return                                  # said so: allowed
    want = golden.run(cfg, inputs)
    assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))


def test_the_protocol_constants_the_fuzz_relies_on():
    assert spec.DEFAULT_RETRIES >= 8 and spec.CRC16.residue != 0
