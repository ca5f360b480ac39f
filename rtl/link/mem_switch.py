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
    index=index)`` on ``o_table`` and is answered at once with a zero word. The requester
    keeps ``i_target`` from its request until the response (``MemoryAccess`` does: one
    request at a time), so the response is taken from the core the target names.

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
        req, resp, target = self.i_mem, self.o_mem, self.i_target
        route = target == spec.ROUTE_TARGET
        answered = Signal()               # a table write was taken: its (zero) response
        tw = self.o_table
        m.d.comb += [tw.payload.route.eq(req.payload.data[:spec.Route.size]),
                     tw.payload.index.eq(req.payload.index),
                     tw.valid.eq(req.valid & route)]
        with m.If(tw.valid & tw.ready):
            m.d.sync += answered.eq(1)
        with m.If(resp.valid & resp.ready & answered):
            m.d.sync += answered.eq(0)
        m.d.comb += req.ready.eq(route & tw.ready)
        with m.If(answered):
            m.d.comb += resp.valid.eq(1)
        for k in range(self.cores):
            o, i = getattr(self, f"o_mem_{k}"), getattr(self, f"i_mem_{k}")
            mine = target == k
            m.d.comb += [o.payload.eq(req.payload), o.valid.eq(req.valid & mine)]
            with m.If(mine):
                m.d.comb += [req.ready.eq(o.ready), resp.valid.eq(i.valid),
                             resp.payload.eq(i.payload), i.ready.eq(resp.ready)]
        return m
