"""AER (address-event representation) formats: events, routing-table entries, limits.

``docs/aer.md`` is the prose twin of this module. The router (``neurofab.rtl.aer``), its
golden model (``neurofab.golden.aer``), the multi-core fabric and the multi-core compiler
(``neurofab.partition``) take every width from here.

An AER link carries :data:`AerEvent` s: ``(core, addr)`` or, with ``eos = 1``, the end of a
timestep. A router has ``K`` input and ``K`` output ports (the host port is one of them).
On an input port the ``core`` field is informational: the router looks events up by the
input **port** they arrive on (the source) and their ``addr``; on an output port ``core`` is
that source port and ``addr`` the rewritten (destination) address.
"""

from amaranth import unsigned
from amaranth.lib import data

from .core import NEURON_ADDR_WIDTH, CHANNEL_WIDTH, STEP_WIDTH

__all__ = [
    "AER_ADDR_WIDTH", "AER_CORE_WIDTH", "AER_MAX_PORTS", "AER_MIN_PORTS",
    "ROUTE_MAX_ENTRIES", "ROUTE_INDEX_WIDTH", "AER_COUNTER_WIDTH",
    "AerEvent", "Route", "RouteWrite",
]

#: Address bits of an event: a neuron of the source core on the way in, a destination
#: axon (core input channel) on the way out.
AER_ADDR_WIDTH = NEURON_ADDR_WIDTH
assert AER_ADDR_WIDTH == CHANNEL_WIDTH, "an AER address must fit a core input channel"
#: Port/core number bits; a router has at most ``AER_MAX_PORTS`` ports (host included).
AER_CORE_WIDTH = 4
AER_MAX_PORTS = 1 << AER_CORE_WIDTH
AER_MIN_PORTS = 2
#: Routing-table entries per input port (first match wins), at most.
ROUTE_MAX_ENTRIES = 16
#: Bits of a table-write index ``port * entries_per_port + entry``.
ROUTE_INDEX_WIDTH = 8
#: Width of the router's event counters (dropped, unrouted); they saturate.
AER_COUNTER_WIDTH = 32

#: One event of an AER link, or (``eos = 1``) the end of the timestep (then ``core`` and
#: ``addr`` are 0).
AerEvent = data.StructLayout({
    "addr": unsigned(AER_ADDR_WIDTH),
    "core": unsigned(AER_CORE_WIDTH),
    "eos": unsigned(1),
})

#: One routing-table entry of an input port: events with ``lo <= addr <= hi`` go to every
#: output ``o`` with bit ``o`` of ``mask`` set, as address ``offset + (addr - lo)``
#: (modulo ``2**AER_ADDR_WIDTH``; the table validator refuses a wrap). ``valid = 0``
#: disables the entry. A matching entry with ``mask = 0`` is a deliberate sink.
Route = data.StructLayout({
    "lo": unsigned(AER_ADDR_WIDTH),
    "hi": unsigned(AER_ADDR_WIDTH),
    "offset": unsigned(AER_ADDR_WIDTH),
    "mask": unsigned(AER_MAX_PORTS),
    "valid": unsigned(1),
})

#: A write into the routing table: entry ``index = port * entries_per_port + slot``.
RouteWrite = data.StructLayout({
    "route": Route,
    "index": unsigned(ROUTE_INDEX_WIDTH),
})

assert STEP_WIDTH >= 1
