"""The link fuzz campaign (``neurofab fuzz``, ``neurofab.fuzz``): its short deterministic
slice on the golden link controller, its outcome classes (each one provoked), the
known-defect attack, the command line's ``--json``, and (slow) a slice on the simulated
board."""

import contextlib
import io
import json

import pytest

from neurofab import fuzz
from neurofab.cli import main
from neurofab.golden.link.controller import LinkController

BAD = ("hang", "crash", "silently_wrong")


def test_the_quick_slice_on_golden_has_no_hang_crash_or_wrong_result():
    attacks = [a for a in fuzz.ATTACKS if a != "disconnect_mid_reply"]
    r = fuzz.campaign(("golden",), quick=True, attacks=attacks)
    c = r.counts
    assert set(c) == {f"golden/{a}" for a in attacks if a != "absurd_run"}
    bad = {k: v for k, v in r.details.items()}
    assert r.failures == 0 and r.ok, bad
    # frames the board must refuse are refused, every time, with a NAK
    for attack in ("truncation", "oversize", "unknown_opcode", "out_of_range", "api", "cli"):
        assert c[f"golden/{attack}"]["refused"] == sum(c[f"golden/{attack}"].values()) > 0
    # what the driver rides through completes equal to golden
    for attack in ("garbage", "bit_flip_command", "bit_flip_reply", "slow_sender",
                   "disconnect_mid_frame", "disconnect_mid_run"):
        assert c[f"golden/{attack}"]["ok"] == sum(c[f"golden/{attack}"].values()) > 0
    # a second host's IDENTIFY and STATUS leave the run alone, its RESET is an error
    assert c["golden/two_clients"] == {"ok": 2, "refused": 1, "hang": 0, "crash": 0,
                                       "silently_wrong": 0}
    assert c["golden/noisy_line"]["ok"] == 3
    assert any("retransmissions" in n for n in r.notes["golden/noisy_line"])


def test_a_reply_lost_with_its_host_is_not_silently_wrong():
    # (protocol 5 returned fewer steps without an error: replies carried no step count)
    r = fuzz.campaign(("golden",), quick=True, attacks=["disconnect_mid_reply"])
    assert r.counts["golden/disconnect_mid_reply"] == {"ok": 0, "refused": 2, "hang": 0,
                                                       "crash": 0, "silently_wrong": 0}
    assert all("steps of output were lost" in n
               for n in r.notes["golden/disconnect_mid_reply"])


def test_a_board_that_loses_a_spike_is_silently_wrong(monkeypatch):
    run = LinkController.run

    def lossy(self, steps):
        run(self, steps)
        for k, e in enumerate(self.out_fifo):
            if e != "END":
                del self.out_fifo[k]
                break
    monkeypatch.setattr(LinkController, "run", lossy)
    r = fuzz.campaign(("golden",), quick=True, attacks=["garbage", "noisy_line"])
    assert r.counts["golden/garbage"]["silently_wrong"] == 8
    assert r.counts["golden/noisy_line"]["silently_wrong"] == 3
    assert not r.ok


def test_a_board_that_stops_answering_is_a_hang():
    t = fuzz.GoldenTarget(0)
    t.link.fault = lambda direction, wire: b"" if direction == "rx" else wire
    r = fuzz.campaign([t], quick=True, attacks=["garbage"])
    assert r.counts["golden/garbage"]["hang"] == 8
    assert "no valid reply" in r.details["golden/garbage"][0][1]


def test_a_trial_over_its_time_budget_is_a_hang():
    t = fuzz.GoldenTarget(0)
    t.budget = 0.05
    r = fuzz.campaign([t], quick=True, attacks=["slow_sender"])
    assert r.counts["golden/slow_sender"]["hang"] >= 2


def test_an_unexpected_exception_is_a_crash():
    t = fuzz.GoldenTarget(0)

    def broken(direction, wire):
        raise RuntimeError("boom")
    t.link.fault = broken
    r = fuzz.campaign([t], quick=True, attacks=["unknown_opcode"])
    assert r.counts["golden/unknown_opcode"]["crash"] == 8
    assert "RuntimeError: boom" in r.details["golden/unknown_opcode"][0][1]


def _cli(*argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        rc = main(list(argv))
    return rc, json.loads(out.getvalue().strip().splitlines()[-1])


def test_fuzz_json_output():
    rc, doc = _cli("fuzz", "--target", "golden", "--quick", "--attack", "garbage",
                   "--attack", "unknown_opcode", "--json")
    assert rc == 0 and doc["ok"] is True and doc["quick"] is True and doc["seed"] == 0
    assert set(doc["attacks"]) == {"golden/garbage", "golden/unknown_opcode"}
    for counts in doc["attacks"].values():
        assert set(counts) == set(fuzz.OUTCOMES)
    assert doc["attacks"]["golden/unknown_opcode"]["refused"] == 8
    assert doc["failures"] == {}


def test_fuzz_json_on_errors():
    rc, doc = _cli("fuzz", "--attack", "no-such-attack", "--target", "golden", "--json")
    assert rc == 2 and doc["ok"] is False and "unknown attack 'no-such-attack'" in doc["error"]
    rc, doc = _cli("fuzz", "--target", "elsewhere", "--json")
    assert rc == 2 and doc["ok"] is False and "elsewhere" in doc["error"]


def test_fuzz_exit_status_is_one_on_a_failure(monkeypatch):
    monkeypatch.setattr(fuzz.FuzzResult, "failures", property(lambda self: 1))
    rc, doc = _cli("fuzz", "--target", "golden", "--quick", "--attack", "garbage", "--json")
    assert rc == 1 and doc["ok"] is False


@pytest.mark.slow
def test_the_quick_slice_on_the_simulated_board():
    attacks = ["garbage", "bit_flip_reply", "out_of_range", "absurd_run", "two_clients",
               "disconnect_mid_run", "noisy_line"]
    r = fuzz.campaign(("sim",), quick=True, attacks=attacks)
    assert r.failures == 0, r.details
    assert r.counts["sim/two_clients"]["refused"] == 1          # told "busy"
    assert "board busy" in r.notes["sim/two_clients"][0]
    assert r.counts["sim/noisy_line"]["ok"] == 1
