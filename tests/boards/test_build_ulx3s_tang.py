"""Bitstream builds of the ULX3S's and the Tang Nano 9K's board tops (slow), in a file of
their own so that they run beside the iCEBreaker's (``test_build.py``) on another
pytest-xdist worker."""

import pytest

from neurofab.boards import BOARDS


@pytest.mark.slow
def test_build_ulx3s_85f(board_build, check_build_report):
    rep, _ = board_build("ulx3s")
    check_build_report(rep, BOARDS["ulx3s"])
    assert rep.device == "LFE5U-85F"
    assert rep.resources["dsp"].used == 2


@pytest.mark.slow
def test_build_tang_nano_9k(board_build, check_build_report):
    # The Gowin tools are dependencies (pyproject): a missing tool is a failure, not a skip.
    rep, _ = board_build("tang-nano-9k")
    check_build_report(rep, BOARDS["tang-nano-9k"])
