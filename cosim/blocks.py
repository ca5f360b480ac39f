"""Co-simulation of single blocks — the encoder blocks (``rtl/encoders``) and the host-link
blocks (``rtl/link``, cases in :mod:`.link`) — against their golden twins, on the Amaranth
simulator or on Verilator, with the transaction scripts of :mod:`.player`.

``BLOCKS`` maps a block name to a builder ``make(rng, steps, **params)`` that draws a random
valid instance (parameters not given in ``params``) and random stimulus, and computes the
golden expectation: a :class:`BlockCase`. :func:`run_case` plays a case, :func:`cosim_block`
is ``BLOCKS[name]`` + :func:`run_case` from one seed.

A case is a list of **steps**. A spike encoder's step is a timestep (one value per channel
in, the step's events and the end-of-step marker out); a bit-level block's step is a chunk
of ``chunk`` clocks (transactions). Every step is one script phase: the inputs are offered
with random valid gaps, the outputs drained with random ``ready`` back-pressure. After every
step the block's architectural state is read back and compared with the golden state:

* the RTL block is wrapped in :class:`Probed`, which forwards its ports and adds a
  request/response pair ``i_state``/``o_state``: request ``k`` answers state word ``k`` —
  registers (LFSR state, Sobol index and point, CORDIV flip-flops, Stanh counters, decoder
  accumulators, encoder position) and memory words (the delta encoder's ``prev``) — so the
  same readback runs on both back ends;
* a case may add further reads (the encoded core reads the neuron core's state through its
  ``i_mem`` port, see ``encoded-core``).

Compared are every output transaction of every step, in order, and every state word after
every step. On a mismatch the result names the first divergence (step, block, port or state
word, field, expected, got) and a VCD of the failing run is written (the run is repeated
with tracing up to the failing step; ``NEUROFAB_VCD=1`` traces passing runs too).
"""

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from amaranth import Module, Signal, Value, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped
from amaranth.utils import ceil_log2

from neurofab import spec
from neurofab.spec import encoders as S

from .harness import Divergence, DivergenceLog
from .player import Get, Mem, Phase, Put, Script, play_amaranth, play_verilator

__all__ = ["BLOCKS", "LINK_BLOCKS", "BlockCase", "Step", "StateRead", "Probed", "BlockCosimResult",
           "run_case", "cosim_block", "make_case", "encoded_core_case", "default_vcd_path"]


# ======================================================================================
# State probe wrapper
# ======================================================================================
class Probed(wiring.Component):
    """``dut`` with its ports forwarded and a state readback port pair.

    Parameters
    ----------
    dut : wiring.Component
    items : list of (name, Value or amaranth.lib.memory.Memory)
        The state words, in order: a value is one word, a memory is one word per entry
        (named ``name[k]``). Memory entries are read through an asynchronous read port
        added to the memory here (before it is elaborated).

    Ports
    -----
    every port of ``dut``, plus
    i_state : In(stream.Signature(unsigned(index_width)))    word index
    o_state : Out(stream.Signature(unsigned(word_width)))    one response per request
    """

    def __init__(self, dut, items):
        self.dut = dut
        self.words = []          # (name, value) or (name, (read port, entry))
        self._mem_ports = []
        for name, item in items:
            if isinstance(item, memory.Memory):
                rd = item.read_port(domain="comb")
                self._mem_ports.append(rd)
                self.words += [(f"{name}[{k}]", (rd, k)) for k in range(item.depth)]
            else:
                self.words.append((name, Value.cast(item)))
        if not self.words:
            raise ValueError("a probe needs at least one state word")
        self.names = [n for n, _ in self.words]
        width = max(max(len(w[0].data) if isinstance(w, tuple) else len(w), 1)
                    for _, w in self.words)
        self.word_width = width
        members = dict(dut.signature.members)
        for name in ("i_state", "o_state"):
            if name in members:
                raise ValueError(f"{dut!r} already has a port named {name}")
        members["i_state"] = In(stream.Signature(unsigned(max(1, ceil_log2(len(self.words))))))
        members["o_state"] = Out(stream.Signature(unsigned(width)))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        for name, member in dut.signature.members.items():
            ours, theirs = getattr(self, name), getattr(dut, name)
            if member.is_signature:
                connect(m, flipped(ours), theirs)
            elif member.flow == Out:
                m.d.comb += ours.eq(theirs)
            else:
                m.d.comb += theirs.eq(ours)
        i, o = self.i_state, self.o_state
        word = Signal(self.word_width)
        for rd in self._mem_ports:
            m.d.comb += rd.addr.eq(0)
        with m.Switch(i.payload):
            for k, (_, w) in enumerate(self.words):
                with m.Case(k):
                    if isinstance(w, tuple):
                        rd, entry = w
                        m.d.comb += [rd.addr.eq(entry), word.eq(rd.data)]
                    else:
                        m.d.comb += word.eq(w)
        free = ~o.valid | o.ready
        m.d.comb += i.ready.eq(free)
        with m.If(o.valid & o.ready):
            m.d.sync += o.valid.eq(0)
        with m.If(i.valid & free):
            m.d.sync += [o.valid.eq(1), o.payload.eq(word)]
        return m


# ======================================================================================
# Cases
# ======================================================================================
@dataclass
class StateRead:
    """An extra state readback after every step: ``requests`` on ``req``, one response each
    on ``resp``; ``compare(t, words)`` returns the divergences of step ``t``."""
    req: str
    resp: str
    requests: list
    compare: object


@dataclass
class Step:
    """One step of a case: what goes in, what must come out, the state after it."""
    puts: dict                    #: input port -> payloads (ints)
    gets: dict                    #: output port -> expected payloads (ints)
    state: dict = field(default_factory=dict)   #: probe word name -> expected int
    clocks: int = 0               #: clocks the step needs without gaps (timeout budget)


@dataclass
class BlockCase:
    """A block instance, its stimulus and its golden expectation.

    ``factory()`` returns a fresh component under test (each run elaborates its own);
    ``probe(dut)`` lists its state words (see :class:`Probed`), or is None. ``kinds`` maps an
    output port to how its payloads read: ``"bits"`` (one bit per lane), ``"events"``
    (``spec.InputEvent``, a step ends with the end-of-step marker), ``"spikes"``
    (``spec.SpikeEvent``), ``"words"`` or ``("counts", width, lanes)``.

    A payload kind may also be ``("struct", layout)`` (a ``data.StructLayout``: a mismatch
    names the field), ``("frames", layout)`` (the same, and a step's output ends with the
    first payload whose ``last`` field is set) or ``("line", cycles, divisor)`` (``cycles``
    line levels sampled one per clock, the first in bit 0: a mismatch names the cycle).

    ``setup`` (a list of :class:`StateRead` whose ``compare`` may be None) is played before
    step 0 on Verilator, whose build is made by ``verilator_factory`` when given — the
    encoded core is built with empty memories (one build per geometry) and the network is
    uploaded through ``i_mem``.
    """
    block: str
    params: dict
    factory: object
    steps: list
    kinds: dict
    probe: object = None
    reads: list = field(default_factory=list)
    synaptic_events: int = 0
    setup: list = field(default_factory=list)
    verilator_factory: object = None
    #: input ports offered without random gaps: their timing is part of the stimulus (a
    #: UART line script), so both back ends and the golden model must see the same one
    timed: tuple = ()

    def build(self, backend="amaranth"):
        """The component played: the block, wrapped in :class:`Probed` when it has state."""
        factory = self.factory
        if backend == "verilator" and self.verilator_factory is not None:
            factory = self.verilator_factory
        dut = factory()
        if self.probe is None:
            return dut
        return Probed(dut, self.probe(dut))


def _pick(rng, params, name, choices):
    if name in params:
        return params[name]
    return choices[int(rng.integers(len(choices)))]


def _pack_lanes(words, width):
    """Rows of per-lane ints -> packed ints (lane 0 in the low bits)."""
    words = np.asarray(words)
    out = []
    for row in words.reshape(len(words), -1) if len(words) else []:
        v = 0
        for lane, x in enumerate(row):
            v |= int(x) << (width * lane)
        out.append(v)
    return out


def _held(rng, n, lanes, width, hold=(1, 12)):
    """``(n, lanes)`` random ``width``-bit values, each held for a random number of clocks."""
    out = np.empty((n, lanes), dtype=np.int64)
    t = 0
    while t < n:
        k = int(rng.integers(hold[0], hold[1] + 1))
        out[t:t + k] = rng.integers(0, 1 << width, lanes)
        t += k
    return out


def _sng_bits(rng, n, lanes, *, shared=False, values=None, width=8):
    """Bitstreams from a golden LFSR SNG bank at random held values."""
    from neurofab.golden.encoders import sng_bank
    if values is None:
        values = _held(rng, n, lanes, width)
    seed = int(rng.integers(1, 1 << 16))
    return sng_bank(values, width=width, source="lfsr", source_width=16, seed=seed,
                    shared=shared)


def _chunks(n_steps, chunk):
    return [(t * chunk, (t + 1) * chunk) for t in range(n_steps)]


def _event_words(transactions):
    return [spec.InputEvent.const({"channel": c, "eos": e}).as_value().value
            for c, e in transactions]


# --- random sources ---------------------------------------------------------------------
def _lfsr(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders.lfsr import lfsr_advance, lfsr_sequence
    from neurofab.rtl.encoders import Lfsr
    width = _pick(rng, p, "width", [4, 5, 8, 12, 16, 24, 32])
    poly = p.get("poly", None if width != 16 or rng.random() < 0.5 else 0x16801)
    leap = _pick(rng, p, "leap", [1, S.default_leap(width)])
    seed = p.get("seed", int(rng.integers(1, 1 << width)))
    n = steps * chunk
    seq = lfsr_sequence(width, seed, n, poly, leap=leap)
    params = {"width": width, "seed": seed, "leap": leap, "poly": poly}
    out = []
    for t, (a, b) in enumerate(_chunks(steps, chunk)):
        state = int(lfsr_advance(width, seed, b * leap, poly))
        out.append(Step({}, {"o_data": [int(x) for x in seq[a:b]]}, {"state": state}, chunk))
    return BlockCase("lfsr", params, lambda: Lfsr(width, seed, poly=poly, leap=leap), out,
                     {"o_data": "words"}, probe=lambda d: [("state", d.state)])


def _sobol(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders import sobol_sequence, vdc_sequence
    from neurofab.rtl.encoders import Sobol, VanDerCorput
    kind = _pick(rng, p, "kind", ["sobol", "sobol", "vdc"])
    bits = _pick(rng, p, "bits", [1, 4, 6, 8, 12, 16, 32])
    n = steps * chunk
    mask = (1 << bits) - 1
    if kind == "sobol":
        dim = p.get("dim", int(rng.integers(1, S.SOBOL_MAX_DIM + 1)))
        seq = sobol_sequence(n + 1, dim, bits)
        params = {"kind": kind, "dim": dim, "bits": bits}

        def factory():
            return Sobol(dim, bits)

        def probe(d):
            return [("index", d.index), ("value", d.value)]

        def state(k):
            return {"index": k & mask, "value": int(seq[k])}
    else:
        seq = vdc_sequence(n + 1, bits)
        params = {"kind": kind, "bits": bits}

        def factory():
            return VanDerCorput(bits)

        def probe(d):
            return [("index", d.index)]

        def state(k):
            return {"index": k & mask}
    out = [Step({}, {"o_data": [int(x) for x in seq[a:b]]}, state(b), chunk)
           for a, b in _chunks(steps, chunk)]
    return BlockCase("sobol", params, factory, out, {"o_data": "words"}, probe=probe)


def _sng(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders import sng_bank, sobol_sequence
    from neurofab.golden.encoders.lfsr import lfsr_advance
    from neurofab.rtl.encoders import SngBank
    source = _pick(rng, p, "source", list(S.SNG_SOURCES))
    shared = p.get("shared", True if source == "vdc" else bool(rng.random() < 0.4))
    lanes = p.get("lanes", int(rng.integers(1, 9)))
    width = p.get("width", int(rng.integers(1, 13)))
    kw = {"source": source, "shared": shared}
    if source == "lfsr":
        kw["source_width"] = p.get("source_width", int(rng.integers(max(width, 4), 21)))
        kw["seed"] = p.get("seed", int(rng.integers(1, 1 << kw["source_width"])))
        kw["leap"] = p.get("leap", 1 if rng.random() < 0.5 else S.default_leap(kw["source_width"]))
    else:
        kw["source_width"] = p.get("source_width", int(rng.integers(width, width + 5)))
        if source == "sobol":
            top = S.SOBOL_MAX_DIM if shared else S.SOBOL_MAX_DIM - lanes + 1
            kw["dim"] = p.get("dim", int(rng.integers(1, top + 1)))
    sw, srcs = S.sng_sources(lanes=lanes, width=width, **kw)
    n = steps * chunk
    values = _held(rng, n, lanes, width)
    bits = sng_bank(values, width=width, **kw)
    params = {"width": width, "lanes": lanes, **kw}

    def state(k):
        out = {}
        for j, s in enumerate(srcs):
            if source == "lfsr":
                out[f"source{j}.state"] = int(lfsr_advance(sw, s, k * kw["leap"]))
            elif source == "sobol":
                out[f"source{j}.index"] = k & ((1 << sw) - 1)
                out[f"source{j}.value"] = int(sobol_sequence(1, s, sw, start=k)[0])
            else:
                out[f"source{j}.index"] = k & ((1 << sw) - 1)
        return out

    def probe(d):
        items = []
        for j, src in enumerate(d.sources):
            if source == "lfsr":
                items.append((f"source{j}.state", src.state))
            else:
                items.append((f"source{j}.index", src.index))
                if source == "sobol":
                    items.append((f"source{j}.value", src.value))
        return items

    out = [Step({"i_value": _pack_lanes(values[a:b], width)},
                {"o_bits": _pack_lanes(bits[a:b], 1)}, state(b), chunk)
           for a, b in _chunks(steps, chunk)]
    return BlockCase("sng", params, lambda: SngBank(width, lanes, **kw), out,
                     {"o_bits": "bits"}, probe=probe)


# --- SC arithmetic ----------------------------------------------------------------------
def _binary_case(name, rng, steps, chunk, ops, p, inputs):
    """A combinational join: ``ops`` maps op names to (component class, golden function)."""
    op = _pick(rng, p, "op", sorted(ops))
    lanes = p.get("lanes", int(rng.integers(1, 17)))
    cls, gold = ops[op]
    n = steps * chunk
    streams = inputs(rng, n, lanes)
    z = gold(*[streams[k] for k in sorted(streams)])
    out = [Step({port: _pack_lanes(s[a:b], 1) for port, s in streams.items()},
                {"o_bits": _pack_lanes(z[a:b], 1)}, {}, chunk)
           for a, b in _chunks(steps, chunk)]
    return BlockCase(name, {"op": op, "lanes": lanes}, lambda: cls(lanes), out,
                     {"o_bits": "bits"})


def _sc_mul(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders import sc_and, sc_xnor
    from neurofab.rtl.encoders import ScAnd, ScXnor

    def inputs(rng, n, lanes):
        return {"i_a": _sng_bits(rng, n, lanes), "i_b": _sng_bits(rng, n, lanes)}
    return _binary_case("sc-mul", rng, steps, chunk,
                        {"and": (ScAnd, sc_and), "xnor": (ScXnor, sc_xnor)}, p, inputs)


def _sc_add(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders import sc_mux, sc_or
    from neurofab.rtl.encoders import ScMux, ScOr
    op = _pick(rng, p, "op", ["mux", "or"])

    def inputs(rng, n, lanes):
        s = {"i_a": _sng_bits(rng, n, lanes), "i_b": _sng_bits(rng, n, lanes)}
        if op == "mux":      # select from its own source at one half
            s["i_sel"] = _sng_bits(rng, n, lanes, values=np.full((n, lanes), 128))
        return s
    ops = {"mux": (ScMux, sc_mux), "or": (ScOr, sc_or)}
    return _binary_case("sc-add", rng, steps, chunk, ops, {**p, "op": op}, inputs)


def _sc_div(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders import sc_cordiv
    from neurofab.rtl.encoders import ScCordiv
    lanes = p.get("lanes", int(rng.integers(1, 17)))
    init = _pick(rng, p, "init", [0, 1])
    n = steps * chunk
    # dividend <= divisor from one shared source (SCC = +1), as CORDIV needs
    vb = _held(rng, n, lanes, 8)
    va = (vb * rng.random((n, lanes))).astype(np.int64)
    from neurofab.golden.encoders import sng_bank
    seed = int(rng.integers(1, 1 << 16))
    both = sng_bank(np.concatenate([va, vb], axis=1), width=8, source="lfsr", source_width=16,
                    seed=seed, shared=True)
    a, b = both[:, :lanes], both[:, lanes:]
    out, q = [], np.full(lanes, init, dtype=np.uint8)
    for lo, hi in _chunks(steps, chunk):
        z, q = sc_cordiv(a[lo:hi], b[lo:hi], q, return_state=True)
        out.append(Step({"i_a": _pack_lanes(a[lo:hi], 1), "i_b": _pack_lanes(b[lo:hi], 1)},
                        {"o_bits": _pack_lanes(z, 1)}, {"state": _pack_lanes([q], 1)[0]},
                        chunk))
    return BlockCase("sc-div", {"lanes": lanes, "init": init},
                     lambda: ScCordiv(lanes, init=init), out, {"o_bits": "bits"},
                     probe=lambda d: [("state", d.state)])


def _sc_tanh(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders import sc_tanh, sng_bank
    from neurofab.rtl.encoders import ScTanh
    lanes = p.get("lanes", int(rng.integers(1, 17)))
    states = _pick(rng, p, "states", [2, 4, 6, 8, 16, 32])
    n = steps * chunk
    x = sng_bank(_held(rng, n, lanes, 8, hold=(8, 64)), width=8, source="lfsr",
                 source_width=16, seed=int(rng.integers(1, 1 << 16)),
                 leap=S.default_leap(16))
    out, s = [], np.full(lanes, states // 2, dtype=np.int64)
    for lo, hi in _chunks(steps, chunk):
        y, s = sc_tanh(x[lo:hi], states, s, return_state=True)
        out.append(Step({"i_bits": _pack_lanes(x[lo:hi], 1)}, {"o_bits": _pack_lanes(y, 1)},
                        {f"state[{l}]": int(s[l]) for l in range(lanes)}, chunk))
    return BlockCase("sc-tanh", {"lanes": lanes, "states": states},
                     lambda: ScTanh(lanes, states), out, {"o_bits": "bits"},
                     probe=lambda d: [(f"state[{l}]", v) for l, v in enumerate(d.state)])


def _sc_count(rng, steps, chunk=32, **p):
    from neurofab.golden.encoders import count_width, sc_count
    from neurofab.rtl.encoders import ScCounter
    lanes = p.get("lanes", int(rng.integers(1, 9)))
    length = _pick(rng, p, "length", [1, 3, 16, 50, 256])
    cw = count_width(length)
    n = steps * chunk
    bits = _sng_bits(rng, n, lanes)
    out, done = [], 0
    for lo, hi in _chunks(steps, chunk):
        counts, acc, phase = sc_count(bits[:hi], length, return_state=True)
        new = counts[done:]
        done = len(counts)
        state = {f"acc[{l}]": int(acc[l]) for l in range(lanes)}
        state["phase"] = int(phase)
        out.append(Step({"i_bits": _pack_lanes(bits[lo:hi], 1)},
                        {"o_count": _pack_lanes(new, cw)}, state, chunk))
    return BlockCase("sc-count", {"lanes": lanes, "length": length},
                     lambda: ScCounter(lanes, length), out,
                     {"o_count": ("counts", cw, lanes)},
                     probe=lambda d: [(f"acc[{l}]", a) for l, a in enumerate(d.acc)]
                     + [("phase", d.phase)])


# --- spike encoders ---------------------------------------------------------------------
def _encoder_values(rng, steps, channels, width, *, walk=False):
    top = (1 << width) - 1
    if not walk:
        v = rng.integers(0, top + 1, (steps, channels))
        hold = rng.random((steps, channels)) < 0.3        # some values repeat
        for t in range(1, steps):
            v[t, hold[t]] = v[t - 1, hold[t]]
        return v
    step = rng.integers(-(top // 4) - 1, top // 4 + 2, (steps, channels))
    step[rng.random((steps, channels)) < 0.3] = 0
    return np.clip(np.cumsum(step, axis=0) + top // 2, 0, top)


def _spike_case(name, steps, rtl_cls, gold, params, values, state_of, probe, fields=1):
    from neurofab.golden.encoders.spike import to_transactions
    out = []
    for t in range(steps):
        chans = gold.run(values[t:t + 1])
        out.append(Step({"i_value": [int(x) for x in values[t]]},
                        {"o_event": _event_words(to_transactions(chans))},
                        {"channel": 0, **state_of(gold)},
                        values.shape[1] * fields + 2))
    return BlockCase(name, params, lambda: rtl_cls(**params), out, {"o_event": "events"},
                     probe=lambda d: [("channel", d.channel)] + probe(d))


def _rate(rng, steps, **p):
    from neurofab.golden.encoders import spike as G
    from neurofab.rtl.encoders import RateEncoder
    channels = p.get("channels", int(rng.integers(1, 13)))
    width = _pick(rng, p, "width", [1, 4, 8, 12, 16])
    rand_width = p.get("rand_width", int(rng.integers(max(width, 4), 25)))
    leap = _pick(rng, p, "leap", [None, 1])
    seed = p.get("seed", int(rng.integers(1, 1 << rand_width)))
    params = dict(channels=channels, width=width, seed=seed, rand_width=rand_width, leap=leap)
    vals = _encoder_values(rng, steps, channels, width)
    return _spike_case("rate", steps, RateEncoder, G.RateEncoder(**params), params, vals,
                       lambda g: {"lfsr": g.lfsr}, lambda d: [("lfsr", d.lfsr)])


def _latency(rng, steps, **p):
    from neurofab.golden.encoders import spike as G
    from neurofab.rtl.encoders import LatencyEncoder
    channels = p.get("channels", int(rng.integers(1, 13)))
    width = _pick(rng, p, "width", [1, 4, 8, 12, 16])
    window = _pick(rng, p, "window", [1, 2, 5, 8, 16])
    params = dict(channels=channels, width=width, window=window)
    vals = _encoder_values(rng, steps, channels, width)
    return _spike_case("latency", steps, LatencyEncoder, G.LatencyEncoder(**params), params,
                       vals, lambda g: {"phase": g.phase}, lambda d: [("phase", d.phase)])


def _delta(rng, steps, **p):
    from neurofab.golden.encoders import spike as G
    from neurofab.rtl.encoders import DeltaEncoder
    channels = p.get("channels", int(rng.integers(1, 13)))
    width = _pick(rng, p, "width", [1, 4, 8, 12])
    threshold = p.get("threshold", int(rng.integers(1, max(2, (1 << width) // 4) + 1)))
    params = dict(channels=channels, width=width, threshold=threshold)
    vals = _encoder_values(rng, steps, channels, width, walk=True)
    return _spike_case("delta", steps, DeltaEncoder, G.DeltaEncoder(**params), params,
                       vals, lambda g: {f"prev[{c}]": int(x) for c, x in enumerate(g.prev)},
                       lambda d: [("prev", d.prev)])


def _population(rng, steps, **p):
    from neurofab.golden.encoders import spike as G
    from neurofab.rtl.encoders import PopulationEncoder
    channels = p.get("channels", int(rng.integers(1, 5)))
    width = _pick(rng, p, "width", [2, 4, 6, 8])
    fields = p.get("fields", int(rng.integers(2, 9)))
    rand_width = p.get("rand_width", int(rng.integers(max(width, 4), 21)))
    seed = p.get("seed", int(rng.integers(1, 1 << rand_width)))
    sigma = p.get("sigma", None if rng.random() < 0.5 else
                  float(round(rng.uniform(0.3, 2.0) * ((1 << width) - 1) / (fields - 1), 3)))
    peak = p.get("peak", None if rng.random() < 0.5 else int(rng.integers(0, 1 << width)))
    leap = _pick(rng, p, "leap", [None, 1])
    params = dict(channels=channels, width=width, fields=fields, sigma=sigma, peak=peak,
                  seed=seed, rand_width=rand_width, leap=leap)
    vals = _encoder_values(rng, steps, channels, width)
    return _spike_case("population", steps, PopulationEncoder, G.PopulationEncoder(**params),
                       params, vals, lambda g: {"field": 0, "lfsr": g.lfsr},
                       lambda d: [("field", d.field), ("lfsr", d.lfsr)], fields=fields)


_ENCODER_PROBES = {
    "rate": lambda d: [("lfsr", d.lfsr)],
    "latency": lambda d: [("phase", d.phase)],
    "delta": lambda d: [("prev", d.prev)],
    "population": lambda d: [("field", d.field), ("lfsr", d.lfsr)],
}


def _encoder_state(kind, g):
    if kind == "rate":
        return {"lfsr": g.lfsr}
    if kind == "latency":
        return {"phase": g.phase}
    if kind == "delta":
        return {f"prev[{c}]": int(x) for c, x in enumerate(g.prev)}
    return {"field": 0, "lfsr": g.lfsr}


# --- neuron core memory port (the encoded core's state and upload) ---------------------
def _mem_req(region, index, write=0, data=0):
    from neurofab.spec import Region
    return spec.MemRequest.const({"index": int(index), "region": Region(region),
                                  "write": int(write), "data": int(data)}).as_value().value


def _core_readback(n):
    """Requests reading a core's architectural state: every ``STATE`` word, every ``ACC``
    word (index ``neuron * DELAY_SLOTS + slot``) and the ``STEP`` register."""
    from neurofab.spec import Ctrl, Region
    return ([_mem_req(Region.STATE, k) for k in range(n)]
            + [_mem_req(Region.ACC, k) for k in range(n * spec.DELAY_SLOTS)]
            + [_mem_req(Region.CTRL, Ctrl.STEP.value)])


def _core_upload(cfg, n_inputs):
    from neurofab.rtl.core import config_words
    return [_mem_req(region, index, 1, word)
            for region, index, word in config_words(cfg, n_inputs=n_inputs)]


def _compare_core_state(t, cfg, gstate, words):
    """Divergences of one :func:`_core_readback` against a golden ``CoreState``."""
    from amaranth.lib import data
    n, slots = cfg.n_neurons, spec.DELAY_SLOTS
    if len(words) != n + n * slots + 1:
        return [Divergence(t, "core", "o_mem", "responses", n + n * slots + 1, len(words))]
    out = []
    exp = {"i": gstate.i, "v": gstate.v, "ref": gstate.ref, "profile": cfg.profile}
    acc_mask = (1 << spec.ACC_WIDTH) - 1
    for k in range(n):
        st = data.Const(spec.NeuronState, int(words[k]) & ((1 << spec.NeuronState.size) - 1))
        for name in ("i", "v", "ref", "profile"):
            if int(getattr(st, name)) != int(exp[name][k]):
                out.append(Divergence(t, "core", f"neuron {k}", name, int(exp[name][k]),
                                      int(getattr(st, name))))
        for slot in range(slots):
            raw = int(words[n + k * slots + slot]) & acc_mask
            got = raw - (1 << spec.ACC_WIDTH) if raw >> (spec.ACC_WIDTH - 1) else raw
            if got != int(gstate.acc[slot, k]):
                out.append(Divergence(t, "core", f"neuron {k}", f"acc[slot {slot}]",
                                      int(gstate.acc[slot, k]), got))
    step = int(words[-1]) & ((1 << spec.STEP_WIDTH) - 1)
    if step != gstate.step & ((1 << spec.STEP_WIDTH) - 1):
        out.append(Divergence(t, "core", "register STEP", "step", gstate.step, step))
    return out


def encoded_core_case(cfg, values, encoder="rate", *, syn_capacity=None, params=None,
                      **encoder_args):
    """The :class:`BlockCase` of an ``rtl.encoded_core.EncodedCore`` running ``cfg`` on
    ``values`` (shape ``(steps, channels)``) against ``golden.encoded_core``: the spikes of
    every step, the core's full state through ``i_mem`` (as the core harness reads it) and
    the encoder's state through the probe. On Verilator the core is built with empty
    memories of ``syn_capacity`` synapses (default: the next power of two) and ``cfg`` is
    uploaded through ``i_mem`` first."""
    from neurofab.golden.encoded_core import GoldenEncodedCore
    from neurofab.rtl.encoded_core import EncodedCore
    kind = S.check_encoder_kind(encoder)
    gold = GoldenEncodedCore(cfg, kind, **encoder_args)
    channels, fields = gold.encoder.channels, gold.encoder.fields
    neurons, n_inputs = cfg.n_neurons, cfg.n_inputs
    if syn_capacity is None:
        syn_capacity = 1 << max(0, cfg.n_synapses - 1).bit_length()
    values = np.asarray(values)
    out, states = [], []
    for t in range(values.shape[0]):
        spk = gold.step(values[t])
        states.append(gold.state.copy())
        words = [spec.SpikeEvent.const({"neuron": int(k), "eos": 0}).as_value().value
                 for k in spk]
        words.append(spec.SpikeEvent.const({"neuron": 0, "eos": 1}).as_value().value)
        out.append(Step({"i_value": [int(x) for x in values[t]]}, {"o_spikes": words},
                        {"encoder.channel": 0, **{f"encoder.{k}": v for k, v in
                                                  _encoder_state(kind, gold.encoder).items()}},
                        channels * fields + 2 * cfg.n_synapses + 4 * neurons + 50))
    read = StateRead("i_mem", "o_mem", _core_readback(neurons),
                     lambda t, words: _compare_core_state(t, cfg, states[t], words))
    upload = StateRead("i_mem", "o_mem", _core_upload(cfg, n_inputs), None)
    if params is None:
        params = {"encoder": kind, "neurons": neurons, "n_inputs": n_inputs,
                  "channels": channels, "synapses": cfg.n_synapses, **encoder_args}

    def probe(d):
        return [(f"encoder.{n}", v) for n, v in
                [("channel", d.encoder.channel)] + _ENCODER_PROBES[kind](d.encoder)]
    return BlockCase("encoded-core", params, lambda: EncodedCore(cfg, kind, **encoder_args),
                     out, {"o_spikes": "spikes"}, probe=probe, reads=[read],
                     synaptic_events=gold.synaptic_events, setup=[upload],
                     verilator_factory=lambda: EncodedCore(
                         None, kind, n_neurons=neurons, n_inputs=n_inputs,
                         syn_capacity=syn_capacity, **encoder_args))


def _encoded_core(rng, steps, **p):
    """A random network (``random_config``) behind a random spike encoder."""
    from neurofab.config import random_config
    kind = _pick(rng, p, "encoder", list(S.ENCODER_KINDS))
    neurons = p.get("neurons", _pick(rng, {}, "neurons", [8, 16]))
    n_inputs = p.get("n_inputs", int(rng.integers(2, 9)))
    enc = {}
    if kind in ("rate", "population"):
        enc["seed"] = p.get("seed", int(rng.integers(1, 1 << 16)))
    if kind == "population":
        enc["fields"] = p.get("fields", int(rng.integers(2, n_inputs + 1)))
        enc["width"] = p.get("width", 6)
    else:
        enc["width"] = p.get("width", 8)
    if kind == "latency":
        enc["window"] = p.get("window", int(rng.integers(1, 9)))
    if kind == "delta":
        enc["threshold"] = p.get("threshold", int(rng.integers(1, 40)))
    n_inputs = max(n_inputs, S.encoder_fanout(kind, enc.get("fields", S.POP_DEFAULT_FIELDS)))
    max_fanout = p.get("max_fanout", 8)
    cfg_rng = rng if "config_seed" not in p else np.random.default_rng(p["config_seed"])
    cfg = random_config(cfg_rng, n_neurons=neurons, n_inputs=n_inputs, max_fanout=max_fanout)
    # Verilator: empty memories sized for any config of these parameters, one build each
    capacity = 1 << ((neurons + n_inputs) * (max_fanout + 1) - 1).bit_length()
    channels = S.encoder_channels(kind, n_inputs, enc.get("fields", S.POP_DEFAULT_FIELDS))
    values = _encoder_values(rng, steps, channels, enc["width"], walk=kind == "delta")
    params = {"encoder": kind, "neurons": neurons, "n_inputs": n_inputs, "channels": channels,
              "max_fanout": max_fanout, "synapses": cfg.n_synapses, **enc}
    return encoded_core_case(cfg, values, kind, syn_capacity=capacity, params=params, **enc)


# --- host link (``cosim/link.py``: wrappers, golden expectations) ---------------------
def _link(name):
    def make(rng, steps, **p):
        from . import link
        return getattr(link, name)(rng, steps, **p)
    make.__name__ = make.__qualname__ = f"_{name}"
    return make


#: block name -> builder ``make(rng, steps, **params)`` returning a :class:`BlockCase`
BLOCKS = {
    "lfsr": _lfsr,
    "sobol": _sobol,
    "sng": _sng,
    "sc-mul": _sc_mul,
    "sc-add": _sc_add,
    "sc-div": _sc_div,
    "sc-tanh": _sc_tanh,
    "sc-count": _sc_count,
    "rate": _rate,
    "latency": _latency,
    "delta": _delta,
    "population": _population,
    "encoded-core": _encoded_core,
    "uart-rx": _link("uart_rx_case"),
    "uart-tx": _link("uart_tx_case"),
    "cobs-dec": _link("cobs_dec_case"),
    "cobs-enc": _link("cobs_enc_case"),
    "crc16": _link("crc16_case"),
    "link-controller": _link("link_controller_case"),
}

#: the host-link blocks of ``BLOCKS`` (``cosim/link.py``)
LINK_BLOCKS = ("uart-rx", "uart-tx", "cobs-dec", "cobs-enc", "crc16", "link-controller")

#: steps of a run when none are given
DEFAULT_STEPS = 20


def make_case(block, seed=0, steps=DEFAULT_STEPS, params=None):
    """The :class:`BlockCase` of ``block`` for ``seed``; the block parameters named in the
    dict ``params`` are fixed, the others drawn from ``seed`` (so is the stimulus)."""
    if block not in BLOCKS:
        raise ValueError(f"--block {block}: unknown block (available: core, "
                         f"{', '.join(BLOCKS)})")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps = {steps!r} must be a positive int")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xB10C])
    return BLOCKS[block](rng, steps, **(params or {}))


# ======================================================================================
# Results
# ======================================================================================
@dataclass
class BlockCosimResult:
    """Outcome of one block co-simulation (see :meth:`summary`)."""
    bit_exact: bool
    backend: str
    block: str
    steps: int
    input_events: int        #: input transactions (values, bit words) offered
    synaptic_events: int     #: 0 except for blocks that contain a neuron core
    output_spikes: int       #: events (encoders), 1 bits (bitstreams), words (sources)
    cycles: int
    wall_s: float
    sim_s: float
    seed: int = 0
    params: dict = field(default_factory=dict)
    states_checked: int = 0
    first_divergence: Divergence = None
    divergences: list = field(default_factory=list)
    vcd: str = None
    build: dict = None

    @property
    def cycles_per_step(self):
        return self.cycles / self.steps if self.steps else 0.0

    def summary(self):
        """JSON-serialisable summary (the keys of the core's, plus ``params``)."""
        return {
            "bit_exact": bool(self.bit_exact),
            "backend": self.backend,
            "block": self.block,
            "steps": int(self.steps),
            "input_events": int(self.input_events),
            "synaptic_events": int(self.synaptic_events),
            "output_spikes": int(self.output_spikes),
            "cycles": int(self.cycles),
            "cycles_per_step": round(float(self.cycles_per_step), 3),
            "wall_s": round(float(self.wall_s), 3),
            "sim_s": round(float(self.sim_s), 3),
            "seed": int(self.seed),
            "params": {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v))
                       for k, v in self.params.items()},
            "states_checked": int(self.states_checked),
            "first_divergence": (self.first_divergence.as_dict()
                                 if self.first_divergence is not None else None),
            "vcd": self.vcd,
            "build": self.build,
        }

    def report(self):
        """A readable verdict (several lines when the run diverged)."""
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        head = (f"{self.block} cosim on {self.backend} ({params}): {self.steps} steps, "
                f"{self.input_events} input transactions, {self.output_spikes} output "
                f"events/bits, {self.cycles} cycles ({self.cycles_per_step:.1f}/step), "
                f"{self.states_checked} state checks, {self.wall_s:.2f} s")
        if self.bit_exact:
            return head + "\nbit-exact: RTL = golden"
        lines = [head, f"NOT bit-exact. First divergence: {self.first_divergence}"]
        more = self.divergences[1:6]
        if more:
            lines.append("then: " + "; ".join(str(d) for d in more))
        if self.vcd:
            lines.append(f"waveform of the failing run: {self.vcd}")
        return "\n".join(lines)


def default_vcd_path(block, backend, seed):
    base = Path(os.environ.get("NEUROFAB_VCD_DIR", "neurofab-cosim"))
    return base / f"{block}-{backend}-seed{seed}.vcd"


# ======================================================================================
# Comparison
# ======================================================================================
_EOS = spec.InputEvent["eos"].offset
_CHAN = (spec.InputEvent["channel"].offset, spec.InputEvent["channel"].width)
_SPIKE_EOS = spec.SpikeEvent["eos"].offset
_NEURON = (spec.SpikeEvent["neuron"].offset, spec.SpikeEvent["neuron"].width)


def _last_mask(kind):
    if isinstance(kind, tuple) and kind[0] == "frames":
        return 1 << kind[1]["last"].offset
    if isinstance(kind, tuple):
        return None
    return {"events": 1 << _EOS, "spikes": 1 << _SPIKE_EOS}.get(kind)


def _field_value(layout, name, word):
    f = layout[name]
    return (word >> f.offset) & ((1 << f.width) - 1)


def _describe(kind, exp, got):
    """(field, expected, got) of two differing payloads of an output of ``kind``."""
    if kind in ("events", "spikes"):
        eos_bit = _EOS if kind == "events" else _SPIKE_EOS
        off, width = _CHAN if kind == "events" else _NEURON
        name = "channel" if kind == "events" else "neuron"

        def parts(w):
            return (w >> eos_bit) & 1, (w >> off) & ((1 << width) - 1)
        (ee, ec), (ge, gc) = parts(exp), parts(got)
        if ee != ge:
            return ("eos", f"eos={ee}" + ("" if ee else f" ({name} {ec})"),
                    f"eos={ge}" + ("" if ge else f" ({name} {gc})"))
        return name, ec, gc
    if kind == "bits":
        diff = exp ^ got
        lane = (diff & -diff).bit_length() - 1
        return f"lane {lane}", (exp >> lane) & 1, (got >> lane) & 1
    if isinstance(kind, tuple) and kind[0] in ("struct", "frames"):
        layout = kind[1]
        for name, _ in layout:
            e, g = (_field_value(layout, name, x) for x in (exp, got))
            if e != g:
                return name, e, g
    if isinstance(kind, tuple) and kind[0] == "line":
        _, cycles, divisor = kind
        diff = exp ^ got
        c = (diff & -diff).bit_length() - 1
        # cycle 0 is the idle (or last stop bit) cycle that accepted the byte
        where = "idle" if c == 0 else f"bit {(c - 1) // divisor}"
        return f"cycle {c} ({where})", (exp >> c) & 1, (got >> c) & 1
    if isinstance(kind, tuple) and kind[0] == "counts":
        _, width, lanes = kind
        for lane in range(lanes):
            e, g = ((x >> (width * lane)) & ((1 << width) - 1) for x in (exp, got))
            if e != g:
                return f"count[lane {lane}]", e, g
    return "value", exp, got


def _compare_output(t, block, port, kind, expected, got, hung=None):
    for j, e in enumerate(expected):
        if j >= len(got):
            return Divergence(t, block, f"{port}[{j}]", "transaction", e,
                              f"nothing within {hung} cycles (hung)" if hung else "nothing")
        if got[j] != e:
            f, ev, gv = _describe(kind, e, got[j])
            return Divergence(t, block, f"{port}[{j}]", f, ev, gv)
    if len(got) > len(expected):
        return Divergence(t, block, f"{port}[{len(expected)}]", "transaction", "nothing",
                          got[len(expected)])
    return None


def _output_count(kind, words):
    if kind == "bits":
        return sum(int(w).bit_count() for w in words)
    if kind in ("events", "spikes"):
        eos = _EOS if kind == "events" else _SPIKE_EOS
        return sum(1 for w in words if not (w >> eos) & 1)
    return len(words)


# ======================================================================================
# Running a case
# ======================================================================================
def _script(case, names, *, gap, stall, seed, setup=()):
    slow = 1.0 / max(0.05, 1.0 - max(gap, stall))
    phases, kinds = [], []
    for r in setup:
        phases.append(Phase([Mem(r.req, r.resp, r.requests, gap=gap, stall=stall)], "setup",
                            timeout=int((200 + 8 * len(r.requests)) * slow)))
        kinds.append(("setup", -1))
    for t, st in enumerate(case.steps):
        ops = [Put(port, data, gap=0.0 if port in case.timed else gap)
               for port, data in st.puts.items()]
        for port, exp in st.gets.items():
            mask = _last_mask(case.kinds[port])
            ops.append(Get(port, last_mask=mask, stall=stall) if mask is not None else
                       Get(port, count=len(exp), stall=stall))
        work = max([st.clocks] + [len(d) for d in st.puts.values()] +
                   [len(d) for d in st.gets.values()])
        phases.append(Phase(ops, f"step {t}", timeout=int((200 + 8 * work) * slow)))
        kinds.append(("step", t))
        reads = []
        if names:
            reads.append(Mem("i_state", "o_state", list(range(len(names))), stall=stall))
        reads += [Mem(r.req, r.resp, r.requests, stall=stall) for r in case.reads]
        if reads:
            n = max(len(r.data) for r in reads)
            phases.append(Phase(reads, f"state {t}", timeout=int((200 + 8 * n) * slow)))
            kinds.append(("state", t))
    return Script(phases, seed=seed), kinds


def _compare(case, names, script, kinds, res):
    """(divergences, phase index of the first, output count, states checked, cycles)."""
    log, outputs, checked, cycles = DivergenceLog(), 0, 0, 0
    found = log.found

    for k, ph in enumerate(res.phases):
        kind, t = kinds[k]
        sph = script.phases[k]
        hung = sph.timeout if ph.end is None else None
        if kind == "setup":
            got = len(ph.data[0] or [])
            if hung:
                found(k, [Divergence(t, case.block, f"{sph.ops[0].req}/{sph.ops[0].resp}",
                                     "setup responses", len(sph.ops[0].data),
                                     f"{got} within {hung} cycles (hung)")])
            if ph.end is None:
                break
            continue
        st = case.steps[t]
        if kind == "step":
            if ph.end is not None:
                cycles += ph.cycles
            for j, op in enumerate(sph.ops):
                if not isinstance(op, Get):
                    continue
                got = ph.data[j] or []
                outputs += _output_count(case.kinds[op.port], got)
                d = _compare_output(t, case.block, op.port, case.kinds[op.port],
                                    st.gets[op.port], got, hung)
                found(k, [d] if d is not None else [])
            if ph.end is None and log.first is None:
                found(k, [Divergence(t, case.block, "inputs", "transactions", "accepted",
                                     f"not all accepted within {hung} cycles (hung)")])
        else:
            checked += 1
            j = 0
            if names:
                got = ph.data[0] or []
                ds = []
                for i, name in enumerate(names):
                    if i >= len(got):
                        ds.append(Divergence(t, case.block, "state", name, st.state[name],
                                             "no response" + (" (hung)" if hung else "")))
                        break
                    if name in st.state and got[i] != st.state[name]:
                        ds.append(Divergence(t, case.block, "state", name, st.state[name],
                                             got[i]))
                found(k, ds)
                j = 1
            for i, r in enumerate(case.reads):
                found(k, r.compare(t, ph.data[j + i] or []))
        if ph.end is None:
            break
    return log.divs, log.first, outputs, checked, cycles


def run_case(case, *, backend="amaranth", seed=0, gap=0.3, stall=0.3, vcd_path=None,
             progress=None, workdir=None):
    """Play ``case`` (a :class:`BlockCase`) on ``backend``; returns a :class:`BlockCosimResult`.

    ``gap``/``stall``: probability of an idle input cycle / of ``ready`` low (seeded by
    ``seed``). ``progress(done, total)`` is called after every step.
    """
    if backend not in ("amaranth", "verilator"):
        raise ValueError(f"backend = {backend!r} must be 'amaranth' or 'verilator'")
    for name, p in (("gap", gap), ("stall", stall)):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"{name} = {p} must be in [0, 1)")
    t_start = time.perf_counter()
    first_dut = case.build(backend)
    names = first_dut.names if isinstance(first_dut, Probed) else []
    missing = [n for st in case.steps for n in st.state if n not in names]
    if missing:
        raise ValueError(f"{case.block}: golden state {missing[0]!r} is not a probed word")
    setup = case.setup if backend == "verilator" else ()
    script, kinds = _script(case, names, gap=gap, stall=stall, seed=seed, setup=setup)
    steps = len(case.steps)
    want_vcd = os.environ.get("NEUROFAB_VCD", "") not in ("", "0")
    vcd_target = Path(vcd_path) if vcd_path is not None else default_vcd_path(
        case.block, backend, seed)
    on_phase = None
    if progress is not None:
        last = {}
        for k, (kind, t) in enumerate(kinds):
            if kind != "setup":
                last[t] = k
        ends = {k: t + 1 for t, k in last.items()}

        def on_phase(k):
            if k in ends:
                progress(ends[k], steps)

    build_info = None
    tmp = None
    duts = [first_dut]

    def fresh():
        return duts.pop() if duts else case.build(backend)

    if backend == "amaranth":
        def play(script, vcd=None, cb=None):
            return play_amaranth(fresh(), script, vcd_path=vcd, progress=cb)
    else:
        from .verilator import build as vbuild
        if workdir is None:
            tmp = tempfile.TemporaryDirectory(prefix="neurofab-cosim-")
            workdir = tmp.name
        top = "nf_" + case.block.replace("-", "_")

        def play(script, vcd=None, cb=None):
            nonlocal build_info
            b = vbuild(fresh(), name=top, trace=vcd is not None)
            if build_info is None:
                build_info = {"cached": b.cached, "build_s": round(b.build_s, 3),
                              "key": b.key, "trace": b.trace}
            return play_verilator(b, script, workdir=workdir, vcd_path=vcd, progress=cb)

    try:
        t_sim = time.perf_counter()
        res = play(script, vcd_target if want_vcd else None, on_phase)
        sim_s = time.perf_counter() - t_sim
        divs, first, outputs, checked, cycles = _compare(case, names, script, kinds, res)
        vcd = str(vcd_target) if want_vcd else None
        if divs and not want_vcd:
            play(Script(script.phases[:first + 1], seed=script.seed), vcd_target)
            vcd = str(vcd_target)
    finally:
        if tmp is not None:
            tmp.cleanup()
    inputs = sum(len(d) for st in case.steps for d in st.puts.values())
    return BlockCosimResult(
        bit_exact=not divs, backend=backend, block=case.block, steps=steps,
        input_events=int(inputs), synaptic_events=int(case.synaptic_events),
        output_spikes=int(outputs), cycles=int(cycles), wall_s=time.perf_counter() - t_start,
        sim_s=sim_s, seed=seed, params=dict(case.params), states_checked=checked,
        first_divergence=divs[0] if divs else None, divergences=divs[:100], vcd=vcd,
        build=build_info)


def cosim_block(block, *, backend="amaranth", seed=0, steps=None, gap=0.3, stall=0.3,
                vcd_path=None, progress=None, params=None, workdir=None):
    """Co-simulate block ``block`` (a name in ``BLOCKS``): a random valid instance
    and stimulus from ``seed`` (``params`` fixes chosen parameters), RTL against golden.

    Returns a :class:`BlockCosimResult` (``.summary()``, ``.report()``).
    """
    case = make_case(block, seed, DEFAULT_STEPS if steps is None else steps, params)
    return run_case(case, backend=backend, seed=seed, gap=gap, stall=stall, vcd_path=vcd_path,
                    progress=progress, workdir=workdir)
