"""Stochastic number generators: comparator SNG and SNG banks with correlation control.

Golden twin: ``neurofab.golden.encoders.sng``.
"""

from amaranth import Cat, Module, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from neurofab.spec import encoders as S
from ..util import checked_init
from ._util import join
from .lfsr import Lfsr
from .sobol import Sobol, VanDerCorput

__all__ = ["ComparatorSng", "SngBank"]


class ComparatorSng(wiring.Component):
    """``lanes`` comparators: ``o_bits[l] = i_rand[l] < i_value[l]`` (a join of both inputs).

    Parameters
    ----------
    width : int
        Width of random words and values (1..32).
    lanes : int
        Number of lanes (1..``spec.MAX_LANES``).

    Ports
    -----
    i_rand : In(stream.Signature(spec.RandLayout(width, lanes)))
    i_value : In(stream.Signature(spec.ValueLayout(width, lanes)))
    o_bits : Out(stream.Signature(unsigned(lanes)))   bit ``l`` = lane ``l``
    """

    @checked_init
    def __init__(self, width, lanes=1):
        width = S.check_value_width(width)
        lanes = S.check_lanes(lanes)
        self.width, self.lanes = width, lanes
        super().__init__({
            "i_rand": In(stream.Signature(S.RandLayout(width, lanes))),
            "i_value": In(stream.Signature(S.ValueLayout(width, lanes))),
            "o_bits": Out(stream.Signature(unsigned(lanes))),
        })

    def elaborate(self, platform):
        m = Module()
        join(m, [self.i_rand, self.i_value], self.o_bits)
        m.d.comb += self.o_bits.payload.eq(Cat(
            self.i_rand.payload[l] < self.i_value.payload[l] for l in range(self.lanes)))
        return m


class SngBank(wiring.Component):
    """``lanes`` comparator SNGs with their own random sources.

    Parameters
    ----------
    width : int
        Value width; lane ``l`` emits ``r_l >> (source_width - width) < value_l``.
    lanes : int
    source : "lfsr" | "sobol" | "vdc"
    source_width : int, optional
        Width of the random words (LFSR width / Sobol or VdC bits); must be ``>= width``.
    seed : int or list of int
        LFSR base seed (independent lanes derive theirs, ``spec.derive_seeds``) or an
        explicit per-lane list.
    shared : bool
        True: one source for all lanes (SCC = +1 between lanes); False: one per lane.
    dim : int
        First Sobol dimension.
    leap : int
        LFSR clocks per draw (default 1, the classic SC generator; ``spec.default_leap``
        decorrelates successive draws, which FSM operators such as ``ScTanh`` need).

    See ``spec.sng_sources`` for the resolution rules; ``golden.encoders.sng_bank`` is the
    golden twin.

    Ports
    -----
    i_value : In(stream.Signature(spec.ValueLayout(width, lanes)))
        One set of lane values per clock (hold it constant for a constant probability).
    o_bits : Out(stream.Signature(unsigned(lanes)))
        Valid with ``i_value``; all sources advance once per transfer.
    """

    @checked_init
    def __init__(self, width, lanes=1, *, source="lfsr", source_width=None, seed=1,
                 shared=False, dim=1, leap=1):
        self.source_width, self.params = S.sng_sources(
            source, lanes, width=width, source_width=source_width, seed=seed, shared=shared,
            dim=dim, leap=leap)
        width, lanes = S.check_value_width(width), S.check_lanes(lanes)   # plain ints
        self.width, self.lanes, self.source, self.shared = width, lanes, source, shared
        super().__init__({
            "i_value": In(stream.Signature(S.ValueLayout(width, lanes))),
            "o_bits": Out(stream.Signature(unsigned(lanes))),
        })
        if source == "lfsr":
            self.sources = [Lfsr(self.source_width, s, leap=leap) for s in self.params]
        elif source == "sobol":
            self.sources = [Sobol(d, self.source_width) for d in self.params]
        else:
            self.sources = [VanDerCorput(self.source_width)]

    def elaborate(self, platform):
        m = Module()
        for k, src in enumerate(self.sources):
            m.submodules[f"source{k}"] = src
        transfer = join(m, [self.i_value], self.o_bits)
        shift = self.source_width - self.width
        bits = []
        for l in range(self.lanes):
            src = self.sources[0 if len(self.sources) == 1 else l]
            bits.append(src.o_data.payload[shift:] < self.i_value.payload[l])
        m.d.comb += self.o_bits.payload.eq(Cat(bits))
        for src in self.sources:
            m.d.comb += src.o_data.ready.eq(transfer)
        return m
