"""Encoder blocks (``neurofab.cosim.encoders``) co-simulated against their golden twins.

Every encoder block on the Amaranth simulator with two seeds (random parameters, stimulus,
gaps and back-pressure; outputs and state after every step compared); then transaction
scripts of three encoders played directly on both simulators.
"""

import json

import numpy as np
import pytest

from neurofab import spec
from neurofab.cosim import verilator as V
from neurofab.cosim.player import Get, Phase, Put, Script, play_amaranth, play_verilator
from neurofab.cosim.registry import BLOCKS, cosim_block, make_case
from neurofab.golden.encoders import sng_bank
from neurofab.golden.encoders import spike as G
from neurofab.rtl.encoders import DeltaEncoder, RateEncoder, SngBank

#: the blocks of ``cosim/encoders.py`` (and the encoded core)
ENCODER_BLOCKS = sorted(b for b, where in BLOCKS.items()
                        if where.startswith(("encoders:", "encoded_core:")))

SUMMARY_KEYS = {"bit_exact", "backend", "block", "steps", "input_events", "synaptic_events",
                "output_spikes", "cycles", "cycles_per_step", "wall_s", "first_divergence",
                "vcd"}


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("block", ENCODER_BLOCKS)
def test_block_amaranth(block, seed):
    steps = 8 if block == "encoded-core" else 12
    res = cosim_block(block, seed=seed, steps=steps)
    assert res.bit_exact, res.report()
    s = res.summary()
    assert SUMMARY_KEYS <= s.keys() and json.loads(json.dumps(s)) == s
    assert s["block"] == block and s["steps"] == steps and s["cycles"] > 0
    assert s["synaptic_events"] == 0 or block == "encoded-core"
    assert s["states_checked"] == (0 if block in ("sc-mul", "sc-add") else steps)


def test_every_block_has_state_or_is_combinational():
    for block in ENCODER_BLOCKS:
        case = make_case(block, 3, 2)
        assert (case.probe is None) == (block in ("sc-mul", "sc-add")), block
        assert all(st.state or case.probe is None for st in case.steps)


def test_fixed_params_fix_the_instance():
    p = dict(source="sobol", lanes=3, width=6, shared=False, source_width=8, dim=4)
    a, b = make_case("sng", 1, 4, p), make_case("sng", 2, 4, p)
    assert a.params == b.params
    assert a.steps[0].puts != b.steps[0].puts          # other stimulus, same instance


def _event_word(channel, eos):
    return spec.InputEvent.const({"channel": channel, "eos": eos}).as_value().value


def _rate_case(steps=40, channels=12, seed=0x2B67):
    rng = np.random.default_rng(steps)
    vals = rng.integers(0, 256, (steps, channels))
    expected = [_event_word(c, e) for c, e in
                G.to_transactions(G.RateEncoder(channels, seed=seed).run(vals))]
    script = Script([Phase([Put("i_value", [int(v) for v in vals.reshape(-1)], gap=0.3),
                            Get("o_event", count=len(expected), stall=0.3)], "rate")], seed=7)
    return (lambda: RateEncoder(channels, seed=seed)), script, expected


def _delta_case(steps=40, channels=9, threshold=25):
    rng = np.random.default_rng(steps + 1)
    vals = np.repeat(rng.integers(0, 256, (steps // 2, channels)), 2, axis=0)
    expected = [_event_word(c, e) for c, e in
                G.to_transactions(G.DeltaEncoder(channels, threshold=threshold).run(vals))]
    script = Script([Phase([Put("i_value", [int(v) for v in vals.reshape(-1)], gap=0.2),
                            Get("o_event", count=len(expected), stall=0.4)], "delta")], seed=8)
    return (lambda: DeltaEncoder(channels, threshold=threshold)), script, expected


def _sng_case(n=300, lanes=4, width=8):
    rng = np.random.default_rng(n)
    vals = np.repeat(rng.integers(0, 1 << width, (6, lanes)), n // 6, axis=0)
    kw = dict(source="sobol", dim=3, shared=False)
    bits = sng_bank(vals, width=width, **kw)
    words = [sum(int(v) << (width * l) for l, v in enumerate(row)) for row in vals]
    expected = [sum(int(b) << l for l, b in enumerate(row)) for row in bits]
    script = Script([Phase([Put("i_value", words, gap=0.3),
                            Get("o_bits", count=n, stall=0.3)], "sng")], seed=9)
    return (lambda: SngBank(width, lanes, **kw)), script, expected


CASES = {"rate": _rate_case, "delta": _delta_case, "sng": _sng_case}


@pytest.mark.parametrize("case", sorted(CASES))
def test_scripts_amaranth(case):
    make, script, expected = CASES[case]()
    res = play_amaranth(make(), script)
    assert res.timeout is None and res.phases[0].data[1] == expected


@pytest.mark.slow
@pytest.mark.parametrize("case", ["delta", "rate"])     # two builds keep a cold cache < 60 s
def test_scripts_verilator(case, tmp_path):
    make, script, expected = CASES[case]()
    build = V.build(make(), name=f"enc_{case}")
    res = play_verilator(build, script, workdir=tmp_path)
    assert res.timeout is None
    assert res.phases[0].data[1] == expected
