"""RTL SC operators and decoder == golden, multi-lane, random gaps and back-pressure."""

import numpy as np
import pytest
from amaranth import ClockDomain, Module
from amaranth.sim import Simulator

from neurofab.cosim.streams import get_all, put_all
from neurofab.golden.encoders.arith import sc_and, sc_cordiv, sc_mux, sc_or, sc_tanh, sc_xnor
from neurofab.golden.encoders.decode import sc_count
from neurofab.rtl.encoders.arith import ScAnd, ScCordiv, ScMux, ScOr, ScTanh, ScXnor
from neurofab.rtl.encoders.decode import ScCounter


def _word(row):
    return sum(int(b) << l for l, b in enumerate(row))


def _unword(word, lanes):
    return [(int(word) >> l) & 1 for l in range(lanes)]


def _simulate(dut, inputs, out_port, n_out, *, seed, gap=0.3, stall=0.3, probes=(), state=None):
    """Feed ``inputs`` ({port: [payloads]}) concurrently, drain ``n_out`` from ``out_port``;
    then read ``probes`` (architectural state) into the ``state`` list."""
    rng = np.random.default_rng(seed)
    top = Module()
    top.domains.sync = ClockDomain()
    top.submodules.dut = dut
    sim = Simulator(top)
    sim.add_clock(1e-6)
    got, finished = [], []

    def producer(port, payloads):
        async def tb(ctx):
            await put_all(ctx, port, payloads, rng=rng, gap=gap)
            finished.append(port)
        return tb

    async def sink(ctx):
        got.extend(await get_all(ctx, out_port, n_out, rng=rng, stall=stall))
        while len(finished) < len(inputs):     # let the producers run dry before probing
            await ctx.tick()
        if state is not None:
            state.extend(ctx.get(p) for p in probes)

    for port, payloads in inputs.items():
        sim.add_testbench(producer(port, payloads))
    sim.add_testbench(sink)
    sim.run()
    return got


LANES = 5
N = 300


@pytest.mark.parametrize("cls, fn", [(ScAnd, sc_and), (ScOr, sc_or), (ScXnor, sc_xnor)])
def test_binary_ops(cls, fn):
    rng = np.random.default_rng(11)
    a = rng.integers(0, 2, (N, LANES))
    b = rng.integers(0, 2, (N, LANES))
    dut = cls(LANES)
    got = _simulate(dut, {dut.i_a: [_word(r) for r in a], dut.i_b: [_word(r) for r in b]},
                    dut.o_bits, N, seed=1)
    assert [_unword(w, LANES) for w in got] == fn(a, b).tolist()


def test_mux():
    rng = np.random.default_rng(12)
    a, b, s = (rng.integers(0, 2, (N, LANES)) for _ in range(3))
    dut = ScMux(LANES)
    got = _simulate(dut, {dut.i_a: [_word(r) for r in a], dut.i_b: [_word(r) for r in b],
                          dut.i_sel: [_word(r) for r in s]}, dut.o_bits, N, seed=2)
    assert [_unword(w, LANES) for w in got] == sc_mux(a, b, s).tolist()


@pytest.mark.parametrize("init", [0, 1])
def test_cordiv(init):
    rng = np.random.default_rng(13)
    a = rng.integers(0, 2, (N, LANES))
    b = (rng.random((N, LANES)) < 0.3).astype(int)
    dut = ScCordiv(LANES, init=init)
    state = []
    got = _simulate(dut, {dut.i_a: [_word(r) for r in a], dut.i_b: [_word(r) for r in b]},
                    dut.o_bits, N, seed=3, probes=[dut.state], state=state)
    z, q = sc_cordiv(a, b, init, return_state=True)
    assert [_unword(w, LANES) for w in got] == z.tolist()
    assert _unword(state[0], LANES) == q.tolist()


@pytest.mark.parametrize("states, lanes", [(8, 3), (2, 1), (16, 4), (6, 2)])
def test_tanh(states, lanes):
    rng = np.random.default_rng(states)
    x = (rng.random((N, lanes)) < rng.random(lanes)).astype(int)
    dut = ScTanh(lanes, states)
    state = []
    got = _simulate(dut, {dut.i_bits: [_word(r) for r in x]}, dut.o_bits, N, seed=4,
                    probes=dut.state, state=state)
    y, s = sc_tanh(x, states, return_state=True)
    assert [_unword(w, lanes) for w in got] == y.tolist()
    assert state == s.tolist()


@pytest.mark.parametrize("lanes, length", [(3, 16), (1, 1), (4, 7)])
def test_counter(lanes, length):
    rng = np.random.default_rng(length)
    n = 20 * length + 3
    bits = rng.integers(0, 2, (n, lanes))
    dut = ScCounter(lanes, length)
    expected = sc_count(bits, length)
    # leave the last window unfinished: drain the complete ones, then check the partial sum
    state = []
    got = _simulate(dut, {dut.i_bits: [_word(r) for r in bits]}, dut.o_count, len(expected),
                    seed=5, gap=0.2, stall=0.5, probes=dut.acc + [dut.phase], state=state)
    assert [[int(c) for c in w] for w in got] == expected.tolist()
    _, acc, phase = sc_count(bits, length, return_state=True)
    assert state == acc.tolist() + [phase]


@pytest.mark.parametrize("make, match", [
    (lambda: ScAnd(0), r"lanes = 0 is outside the limit \[1, 1024\]"),
    (lambda: ScMux(2000), r"lanes = 2000 is outside the limit \[1, 1024\]"),
    (lambda: ScTanh(2, 7), "tanh states = 7 must be even"),
    (lambda: ScTanh(2, 1 << 17), "tanh states = 131072 is outside the limit"),
    (lambda: ScCordiv(2, init=2), "CORDIV init = 2 must be 0 or 1"),
    (lambda: ScCounter(2, 0), "decoder length = 0 is outside the limit"),
])
def test_invalid(make, match):
    with pytest.raises(ValueError, match=match):
        make()
