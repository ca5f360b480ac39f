"""Link attacks (hypothesis): whatever happens to the frames on the line — bits flipped
(delimiters too), bytes lost, frames lost, garbage, replies lost — the host driver either
returns exactly the golden model's spikes or raises a ``BoardError`` (``LinkTimeout``
included) that says so; never wrong or missing spikes without an error (the reliability
issue's fuzz suite, link part; the campaign is ``neurofab fuzz``, ``neurofab.fuzz``).

The board is the golden link controller (``golden.link.LinkController``, the RTL's
cosim-proven twin) behind the in-process transport ``neurofab.fuzz.GoldenLink``.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from neurofab import golden, spec
from neurofab.config import random_config
from neurofab.fuzz import GOLDEN_GEOMETRY, GOLDEN_LINK, GoldenLink, same_spikes
from neurofab.golden.link.controller import LinkController
from neurofab.host import Board, BoardError

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

#: (kind, argument) applied to one frame: none, flip bit, drop byte, drop frame, garbage
fault = st.one_of(st.just(("none", 0)), st.tuples(st.just("flip"), st.integers(0, 10 ** 6)),
                  st.tuples(st.just("drop_byte"), st.integers(0, 10 ** 6)),
                  st.just(("drop", 0)),
                  st.tuples(st.just("garbage"), st.binary(min_size=1, max_size=6)))


class Plan:
    """Applies ``plan``'s faults in turn to the frames of both directions (cyclically)."""

    def __init__(self, plan):
        self.plan, self.k = list(plan), 0

    def __call__(self, direction, wire):
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


def run_with_faults(plan, seed, steps=20):
    cfg = random_config(seed % 7, n_neurons=16, n_inputs=8, max_fanout=3)
    rng = np.random.default_rng(seed)
    inputs = [rng.choice(8, int(rng.integers(0, 3)), replace=False) for _ in range(steps)]
    link = GoldenLink(LinkController(cfg, GOLDEN_GEOMETRY, **GOLDEN_LINK))
    board = Board(link, timeout=0.002, retries=4)
    board.load(cfg)
    link.fault = Plan(plan)
    return board.run(inputs), golden.run(cfg, inputs)


@SETTINGS
@given(st.lists(fault, min_size=1, max_size=40), st.integers(0, 2 ** 16))
def test_any_fault_pattern_gives_golden_spikes_or_an_error(plan, seed):
    try:
        got, want = run_with_faults(plan, seed)
    except BoardError:
        return                                  # said so: allowed
    assert same_spikes(got, want)


def test_the_fault_plans_reach_the_run():
    # the property above is not vacuous: a plan of damaged frames makes the driver
    # retransmit and still get golden's spikes, and one that damages everything fails
    got, want = run_with_faults([("none", 0)] * 5 + [("flip", 13)], seed=3)
    assert same_spikes(got, want)
    with pytest.raises(BoardError):
        run_with_faults([("drop", 0)], seed=3)


def test_the_protocol_constants_the_fuzz_relies_on():
    assert spec.DEFAULT_RETRIES >= 8 and spec.CRC16.residue != 0
