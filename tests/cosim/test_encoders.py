"""Encoder blocks through the Verilator back end (generated Verilog == golden), and the same
transaction scripts on the Amaranth simulator."""

import numpy as np
import pytest

from neurofab import spec
from neurofab.cosim import verilator as V
from neurofab.cosim.player import Get, Phase, Put, Script, play_amaranth, play_verilator
from neurofab.golden.encoders import sng_bank
from neurofab.golden.encoders import spike as G
from neurofab.rtl.encoders import DeltaEncoder, RateEncoder, SngBank


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
