"""RTL ComparatorSng / SngBank == golden with random gaps and back-pressure."""

import numpy as np
import pytest
from amaranth import ClockDomain, Module
from amaranth.sim import Simulator

from neurofab.cosim.streams import get_all, put_all
from neurofab.golden.encoders.sng import comparator_sng, sng_bank
from neurofab.rtl.encoders.sng import ComparatorSng, SngBank


def _pack(row, width):
    return [int(v) for v in row]          # an ArrayLayout payload is set from a sequence


def _bits(word, lanes):
    return [(int(word) >> l) & 1 for l in range(lanes)]


def _run(dut, *tbs):
    top = Module()                        # combinational blocks still need a clock to tick
    top.domains.sync = ClockDomain()
    top.submodules.dut = dut
    sim = Simulator(top)
    sim.add_clock(1e-6)
    for tb in tbs:
        sim.add_testbench(tb)
    sim.run()


def test_comparator_sng():
    rng = np.random.default_rng(5)
    width, lanes, n = 6, 5, 200
    rand = rng.integers(0, 1 << width, (n, lanes))
    vals = rng.integers(0, 1 << width, (n, lanes))
    dut = ComparatorSng(width, lanes)
    got = []

    async def rand_tb(ctx):
        await put_all(ctx, dut.i_rand, [_pack(r, width) for r in rand], rng=rng, gap=0.3)

    async def value_tb(ctx):
        await put_all(ctx, dut.i_value, [_pack(v, width) for v in vals], rng=rng, gap=0.5)

    async def sink_tb(ctx):
        got.extend(await get_all(ctx, dut.o_bits, n, rng=rng, stall=0.3))

    _run(dut, rand_tb, value_tb, sink_tb)
    assert [_bits(w, lanes) for w in got] == comparator_sng(rand, vals).tolist()


@pytest.mark.parametrize("kw", [
    dict(width=8, lanes=4, source="lfsr", seed=0x5A, shared=False),
    dict(width=8, lanes=4, source="lfsr", seed=0x5A, shared=True),
    dict(width=6, lanes=3, source="lfsr", source_width=17, seed=[3, 99, 12345]),
    dict(width=8, lanes=2, source="lfsr", source_width=16, seed=0xACE1, leap=16),
    dict(width=8, lanes=4, source="sobol", dim=2, shared=False),
    dict(width=5, lanes=2, source="sobol", source_width=12, shared=True, dim=7),
    dict(width=8, lanes=3, source="vdc", shared=True),
    dict(width=1, lanes=1, source="vdc", source_width=4),
])
def test_sng_bank(kw):
    rng = np.random.default_rng(len(str(kw)))
    n, width, lanes = 250, kw["width"], kw["lanes"]
    # piecewise-constant values, as an SC pipeline would hold them
    vals = np.repeat(rng.integers(0, 1 << width, (5, lanes)), n // 5, axis=0)
    if kw["source"] == "lfsr" and isinstance(kw.get("seed"), int):
        src_width = kw.get("source_width") or max(kw["width"], 4)
        kw = dict(kw, seed=int(rng.integers(1, 1 << src_width)))      # random seeds
    dut = SngBank(**kw)
    got = []

    async def src_tb(ctx):
        await put_all(ctx, dut.i_value, [_pack(v, width) for v in vals], rng=rng, gap=0.3)

    async def sink_tb(ctx):
        got.extend(await get_all(ctx, dut.o_bits, n, rng=rng, stall=0.3))

    _run(dut, src_tb, sink_tb)
    gkw = {k: v for k, v in kw.items() if k != "lanes"}        # lanes = values.shape[1]
    assert [_bits(w, lanes) for w in got] == sng_bank(vals, **gkw).tolist()


@pytest.mark.parametrize("make, match", [
    (lambda: SngBank(10, 2, source_width=8), "value width = 10 is wider than the random source"),
    (lambda: SngBank(8, 2, seed=0), "seed = 0 is the lock-up state"),
    (lambda: SngBank(8, 2, source="vdc"), "van der Corput has a single sequence"),
    (lambda: SngBank(8, 0), r"lanes = 0 is outside the limit \[1, 1024\]"),
    (lambda: ComparatorSng(33), r"value width = 33 is outside the limit \[1, 32\]"),
    (lambda: SngBank(8, 1, source="sobol", leap=8), "leap = 8 applies to LFSR sources only"),
])
def test_invalid(make, match):
    with pytest.raises(ValueError, match=match):
        make()
