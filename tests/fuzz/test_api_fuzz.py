"""Config, API and file attacks (hypothesis): whatever a caller passes, the public entry
points either work or refuse with a ``TypeError``/``ValueError``/``KeyError`` whose message
names what was wrong — never another exception from inside numpy, never a silent
truncation (the reliability issue's fuzz suite, config/API part; the deterministic slice
that runs in ``make test``)."""

import hashlib
import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from neurofab import golden, spec
from neurofab.config import CoreConfig, Network, compile, random_config

CLEAN = (TypeError, ValueError, KeyError)
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

# anything a careless or hostile caller might pass where a number is meant
junk = st.one_of(
    st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.none(), st.text(max_size=4), st.binary(max_size=4),
    st.lists(st.integers(-300, 300), max_size=5),
    st.lists(st.floats(allow_nan=True), max_size=5),
    st.builds(lambda n, v: np.full(n, v), st.integers(0, 5),
              st.one_of(st.integers(-300, 300), st.floats(allow_nan=True), st.booleans())),
)


def _clean(fn):
    """Run ``fn``; a refusal must be one of CLEAN and name something."""
    try:
        return fn(), None
    except CLEAN as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        return None, exc


def _is_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


@SETTINGS
@given(field=st.sampled_from(spec.PROFILE_FIELDS), value=junk, size=junk)
def test_population_parameters(field, value, size):
    pop, exc = _clean(lambda: Network().population(size, **{field: value}))
    if pop is not None:                       # accepted: exactly what was asked for
        assert _is_int(size) and pop.size == size
        if _is_int(value):
            assert value == value


@SETTINGS
@given(weight=junk, delay=junk, p=junk)
def test_project_arguments(weight, delay, p):
    net = Network()
    a = net.population(3, threshold=5)
    g = net.inputs(2)
    proj, exc = _clean(lambda: net.project(g, a, weight=weight, delay=delay, p=p))
    if proj is not None:
        w = np.asarray(weight)
        assert w.dtype.kind in "iu" and np.asarray(delay).dtype.kind in "iu"
        assert isinstance(p, (int, float)) and 0 <= p <= 1 and math.isfinite(p)
        assert set(proj.weight.tolist()) <= set(np.ravel(w).tolist())


@SETTINGS
@given(steps=st.lists(junk, max_size=4))
def test_golden_run_inputs(steps):
    cfg = random_config(np.random.default_rng(0), n_neurons=8, n_inputs=4)
    out, exc = _clean(lambda: golden.run(cfg, steps))
    if out is not None:
        assert len(out) == len(steps)
        for chans in steps:
            arr = np.asarray(chans)
            assert arr.size == 0 or arr.dtype.kind in "iu"


def _wrapped(payload, version=spec.CONFIG_VERSION):
    head = spec.CONFIG_MAGIC + struct.pack("<HQ", version, len(payload))
    return head + hashlib.sha256(payload).digest() + payload


GOOD = random_config(np.random.default_rng(1), n_neurons=8, n_inputs=4).to_bytes()


@SETTINGS
@given(data=st.data())
def test_config_file_bytes(data):
    """Random payloads with a valid header and SHA, and single-byte edits of a real file:
    loaded equal to a valid config, or refused cleanly."""
    kind = data.draw(st.sampled_from(["payload", "flip", "truncate"]))
    if kind == "payload":
        blob = _wrapped(data.draw(st.binary(max_size=200)))
    elif kind == "flip":
        k = data.draw(st.integers(0, len(GOOD) - 1))
        bit = data.draw(st.integers(0, 7))
        blob = GOOD[:k] + bytes([GOOD[k] ^ (1 << bit)]) + GOOD[k + 1:]
    else:
        blob = GOOD[:data.draw(st.integers(0, len(GOOD) - 1))]
    cfg, exc = _clean(lambda: CoreConfig.from_bytes(blob, name="f.nfcfg"))
    if cfg is not None:
        assert cfg.validate() is cfg
    else:
        assert str(exc).startswith("f.nfcfg: ")


@SETTINGS
@given(n=junk)
def test_compile_n_neurons(n):
    net = Network()
    net.population(3, threshold=5)
    cfg, exc = _clean(lambda: compile(net, n_neurons=n))
    if cfg is not None:
        assert n is None or (_is_int(n) and cfg.n_neurons == n)


@pytest.mark.parametrize("argv", [
    ["run", "--url", "sim://x", "--network", "n.nfcfg", "--rate", "nan", "--json"],
    ["run", "--url", "sim://x", "--network", "n.nfcfg", "--rate", "7", "--json"],
    ["cosim", "--steps", "-3", "--json"],
    ["cosim", "--steps", "2.5", "--json"],
    ["demo", "--samples", "x", "--task", "digits", "--json"],
    ["sim-board", "--port", "70000", "--json"],
    ["nosuchverb", "--json"],
])
def test_cli_refuses_bad_numbers_with_json(argv, capsys):
    import json

    from neurofab.cli import main
    assert main(argv) == 2
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["ok"] is False and out["error"]
