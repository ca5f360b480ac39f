"""The link's memory port fanned out to the cores of a fabric and its routing table."""

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from neurofab import spec
from neurofab.checks import check_int
from neurofab.rtl.util import checked_init

__all__ = ["MemorySwitch"]


class MemorySwitch(wiring.Component):
    """One memory-request port (the link's ``MemoryAccess``) to ``cores`` cores and a
    routing table.

    A request goes to core ``i_target`` (``o_mem_<k>``), or, with ``i_target ==
    spec.ROUTE_TARGET``, becomes the routing-table write ``RouteWrite(route=data,
    index=index)`` on ``o_table`` and is answered with a zero word. One request at a time
    (``MemoryAccess`` waits for each response): the request is taken into a register at
    once, passed on from there, and the response comes back through a register too — the
    cores of a fabric lie far apart on the die, and no combinational path crosses the
    switch.

    Parameters
    ----------
    cores : int
        Cores, ``1 .. spec.ROUTE_TARGET``.

    Attributes
    ----------
    i_mem : In(stream.Signature(spec.MemRequest))
    i_target : In(4)
    o_mem : Out(stream.Signature(spec.MemResponse))
    o_mem_<k> : Out(stream.Signature(spec.MemRequest))
        To core ``k``'s ``i_mem``.
    i_mem_<k> : In(stream.Signature(spec.MemResponse))
        From core ``k``'s ``o_mem``.
    o_table : Out(stream.Signature(spec.RouteWrite))
        To the router's ``i_table``.
    """

    @checked_init
    def __init__(self, cores):
        self.cores = check_int("cores", cores, 1, spec.ROUTE_TARGET)
        members = {"i_mem": In(stream.Signature(spec.MemRequest)), "i_target": In(4),
                   "o_mem": Out(stream.Signature(spec.MemResponse)),
                   "o_table": Out(stream.Signature(spec.RouteWrite))}
        for k in range(cores):
            members[f"o_mem_{k}"] = Out(stream.Signature(spec.MemRequest))
            members[f"i_mem_{k}"] = In(stream.Signature(spec.MemResponse))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        req, resp = self.i_mem, self.o_mem
        busy = Signal()                       # a request is taken, its response not sent
        target = Signal(4)
        payload = Signal(spec.MemRequest)
        sent = Signal(self.cores + 1)         # the request waits for core k (bit K: table)
        m.d.comb += req.ready.eq(~busy)
        with m.If(req.valid & ~busy):
            m.d.sync += [busy.eq(1), target.eq(self.i_target), payload.eq(req.payload)]
            with m.If(self.i_target == spec.ROUTE_TARGET):
                m.d.sync += sent[self.cores].eq(1)
            for k in range(self.cores):
                with m.If(self.i_target == k):
                    m.d.sync += sent[k].eq(1)
        got = Signal()                        # the response register is full
        data = Signal(spec.MEM_DATA_WIDTH)
        m.d.comb += [resp.valid.eq(got), resp.payload.data.eq(data)]
        with m.If(got & resp.ready):
            m.d.sync += [got.eq(0), busy.eq(0)]
        tw = self.o_table
        m.d.comb += [tw.payload.route.eq(payload.data[:spec.Route.size]),
                     tw.payload.index.eq(payload.index), tw.valid.eq(sent[self.cores])]
        with m.If(tw.valid & tw.ready):
            m.d.sync += [sent[self.cores].eq(0), got.eq(1), data.eq(0)]
        for k in range(self.cores):
            o, i = getattr(self, f"o_mem_{k}"), getattr(self, f"i_mem_{k}")
            m.d.comb += [o.payload.eq(payload), o.valid.eq(sent[k]),
                         i.ready.eq(busy & ~sent[k] & ~got & (target == k))]
            with m.If(o.valid & o.ready):
                m.d.sync += sent[k].eq(0)
            with m.If(i.valid & i.ready):
                m.d.sync += [got.eq(1), data.eq(i.payload.data)]
        return m
