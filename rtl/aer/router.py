"""AER router: K input and K output event streams, table lookup, multicast, round-robin
arbitration, back-pressure, end-of-step barrier. The golden twin is
``neurofab.golden.aer.router``; ``docs/aer.md`` is the specification.

Datapath (one event per clock per output port under saturation):

* **Lookup** (per input, combinational on the offered payload): the input's table slots
  are compared in parallel (``lo <= addr <= hi``, valid), the first hit gives the
  destination mask and the rewritten address ``offset + addr - lo``. The event is then
  registered in the input's **head** register with its pending mask (no match: counted as
  unrouted and consumed; empty mask: a sink, consumed).
* **Arbitration** (per output): every head with the output's bit pending requests it; a
  round-robin arbiter (priority starts after the last grant) picks one when the output
  FIFO has room; the grant clears that bit of the head. A head is free again — and its
  input ready — in the clock its last pending bit is granted, so a stream of unicast
  events passes at one per clock.
* **Output FIFOs** (``depth`` entries, registered ``w_rdy``) cut the path from an output's
  ``ready`` back to the inputs.
* **Barrier**: an input's end-of-step marker is consumed at once and blocks that input
  until the router's step advances; an output emits its marker once every input has sent
  its marker and no head holds an event for it; when every output has emitted its
  marker the step advances (``o_step``) and the inputs reopen.
* **Bounded mode** (``lossless=False``): a pending bit whose output FIFO is full is
  dropped instead of waiting, and counted in ``o_dropped``; markers are never dropped.
* **Leader** (optional): in each step the inputs other than ``leader`` are held until the
  leader has transferred its first transaction of the step (the fabric makes the host pace
  the cores this way, so that between host steps the cores rest at a step boundary).
"""

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from neurofab import spec
from neurofab.checks import check_bool, check_int
from neurofab.partition import RoutingTable

__all__ = ["AerRouter", "table_words", "route_word"]


def route_word(lo=0, hi=0, offset=0, mask=0, valid=1):
    """Packed ``spec.Route`` word."""
    return spec.pack(spec.Route, lo=lo, hi=hi, offset=offset, mask=mask, valid=valid)


def _table_init(table, ports, entries):
    """Per (port, slot) packed route words of ``table`` (unused slots invalid)."""
    words = [[0] * entries for _ in range(ports)]
    if table is None:
        return words
    for p, slots in enumerate(table.slots()):
        for s, e in enumerate(slots):
            if e is not None:
                words[p][s] = route_word(table.lo[e], table.hi[e], table.offset[e],
                                         table.mask[e], 1)
    return words


def table_words(table, *, entries_per_port=None):
    """The ``i_table`` writes that load ``table`` (every slot, unused ones invalid), as
    packed ``spec.RouteWrite`` words."""
    table.validate()
    entries = table.entries_per_port if entries_per_port is None else entries_per_port
    if entries < table.entries_per_port:
        raise ValueError(f"entries_per_port = {entries} is below the table's "
                         f"{table.entries_per_port}")
    init = _table_init(RoutingTable(table.ports, table.src, table.lo, table.hi, table.mask,
                                    table.offset, entries_per_port=entries),
                       table.ports, entries)
    return [spec.pack(spec.RouteWrite, route=init[p][s], index=p * entries + s)
            for p in range(table.ports) for s in range(entries)]


class AerRouter(wiring.Component):
    """AER router with ``ports`` input and output ports.

    Parameters
    ----------
    ports : int
        K, ``spec.AER_MIN_PORTS .. spec.AER_MAX_PORTS`` (the host port is one of them).
    table : RoutingTable or None
        Initial table (``None``: empty — load one through ``i_table``).
    entries_per_port : int
        Table slots per input port (default ``table.entries_per_port``, else 4).
    depth : int
        Output FIFO depth (>= 2).
    lossless : bool
        True: back-pressure, nothing dropped. False: bounded mode (drop and count).
    leader : int or None
        Input port that opens every step for the others (see module doc).
    registered_ready : sequence of int
        Input ports whose ``ready`` comes from registers only: such a port takes an event
        only into an empty head register (at most one event every two clocks), so no
        arbitration reaches its handshake — for a source placed far from the router (a
        fabric's host port). Default none: every port takes its next event in the clock
        its last target is granted.

    Ports
    -----
    i_aer_<k> : In(stream.Signature(spec.AerEvent))     events from source port k
    o_aer_<k> : Out(stream.Signature(spec.AerEvent))    events to destination port k
    i_table : In(stream.Signature(spec.RouteWrite))     table writes (always ready)
    o_dropped, o_unrouted : Out(AER_COUNTER_WIDTH)      saturating event counters
    o_step : Out(STEP_WIDTH)                            steps completed
    o_idle : Out(1)                                     no event in flight, no step open
    """

    def __init__(self, ports, table=None, *, entries_per_port=None, depth=4, lossless=True,
                 leader=None, registered_ready=()):
        ports = check_int("ports", ports, spec.AER_MIN_PORTS, spec.AER_MAX_PORTS)
        if table is not None:
            if not isinstance(table, RoutingTable):
                raise TypeError(f"table must be a RoutingTable or None, not {table!r}")
            table.validate()
            if table.ports != ports:
                raise ValueError(f"table has {table.ports} ports, the router {ports}")
            if entries_per_port is None:
                entries_per_port = table.entries_per_port
        entries_per_port = 4 if entries_per_port is None else entries_per_port
        entries_per_port = check_int("entries_per_port", entries_per_port, 1,
                                     spec.ROUTE_MAX_ENTRIES)
        if table is not None and table.entries_per_port > entries_per_port:
            raise ValueError(f"table needs {table.entries_per_port} entries per port, the "
                             f"router has {entries_per_port}")
        if ports * entries_per_port > 1 << spec.ROUTE_INDEX_WIDTH:
            raise ValueError(f"ports x entries_per_port = {ports * entries_per_port} exceeds "
                             f"the {spec.ROUTE_INDEX_WIDTH}-bit table index")
        depth = check_int("depth", depth, 2, 1 << 16)
        lossless = check_bool("lossless", lossless)
        if leader is not None:
            leader = check_int("leader", leader, 0, ports - 1)
        if isinstance(registered_ready, (int, str)) or not hasattr(registered_ready,
                                                                    "__iter__"):
            raise TypeError(f"registered_ready must be a sequence of input ports, not "
                            f"{registered_ready!r}")
        registered_ready = tuple(check_int(f"registered_ready[{k}]", p, 0, ports - 1)
                                 for k, p in enumerate(registered_ready))
        self.ports = ports
        self.table = table
        self.entries_per_port = entries_per_port
        self.depth = depth
        self.lossless = lossless
        self.leader = leader
        self.registered_ready = registered_ready
        members = {}
        for k in range(ports):
            members[f"i_aer_{k}"] = In(stream.Signature(spec.AerEvent))
        for k in range(ports):
            members[f"o_aer_{k}"] = Out(stream.Signature(spec.AerEvent))
        members["i_table"] = In(stream.Signature(spec.RouteWrite))
        members["o_dropped"] = Out(spec.AER_COUNTER_WIDTH)
        members["o_unrouted"] = Out(spec.AER_COUNTER_WIDTH)
        members["o_step"] = Out(spec.STEP_WIDTH)
        members["o_idle"] = Out(1)
        super().__init__(members)

    def inputs(self):
        return [getattr(self, f"i_aer_{k}") for k in range(self.ports)]

    def outputs(self):
        return [getattr(self, f"o_aer_{k}") for k in range(self.ports)]

    def elaborate(self, platform):
        m = Module()
        K, E = self.ports, self.entries_per_port
        ins, outs = self.inputs(), self.outputs()
        cmax = (1 << spec.AER_COUNTER_WIDTH) - 1

        # --- routing table (registers, written through i_table) ------------------------
        init = _table_init(self.table, K, E)
        table = [[Signal(unsigned(spec.Route.size), init=init[p][s], name=f"route_{p}_{s}")
                  for s in range(E)] for p in range(K)]
        tw = self.i_table
        m.d.comb += tw.ready.eq(1)
        with m.If(tw.valid):
            with m.Switch(tw.payload.index):
                for p in range(K):
                    for s in range(E):
                        with m.Case(p * E + s):
                            m.d.sync += table[p][s].eq(tw.payload.route)

        # --- step state -----------------------------------------------------------------
        step = Signal(spec.STEP_WIDTH)
        in_eos = Signal(K)                # input k has sent this step's marker
        closed = Signal(K)                # output k has emitted this step's marker
        started = Signal()                # the leader has opened this step
        advance = closed.all()
        m.d.comb += self.o_step.eq(step)

        # --- heads ----------------------------------------------------------------------
        h_valid = [Signal(name=f"h_valid_{i}") for i in range(K)]
        h_pend = [Signal(K, name=f"h_pend_{i}") for i in range(K)]
        h_addr = [Signal(spec.AER_ADDR_WIDTH, name=f"h_addr_{i}") for i in range(K)]
        # grant[o][i] / drop[o][i]: output o takes / drops input i's head this clock
        grant = [[Signal(name=f"grant_{o}_{i}") for i in range(K)] for o in range(K)]
        drop = [[Signal(name=f"drop_{o}_{i}") for i in range(K)] for o in range(K)]

        unrouted_now = []
        for i, port in enumerate(ins):
            taken = Cat(*(grant[o][i] | drop[o][i] for o in range(K)))
            left = Signal(K, name=f"h_left_{i}")
            m.d.comb += left.eq(h_pend[i] & ~taken)
            free = ~h_valid[i] if i in self.registered_ready else ~h_valid[i] | (left == 0)
            gate = 1 if self.leader is None or i == self.leader else started
            m.d.comb += port.ready.eq(~in_eos[i] & gate & free)
            xfer = port.valid & port.ready
            # lookup: slot 0 is assigned last, so the first matching slot wins
            matched = Signal(name=f"matched_{i}")
            mask = Signal(K, name=f"mask_{i}")
            out_addr = Signal(spec.AER_ADDR_WIDTH, name=f"out_addr_{i}")
            addr = port.payload.addr
            for s in reversed(range(E)):
                r = spec.Route(table[i][s])
                with m.If(r.valid & (r.lo <= addr) & (addr <= r.hi)):
                    m.d.comb += [matched.eq(1), mask.eq(r.mask[:K]),
                                 out_addr.eq(r.offset + (addr - r.lo))]
            is_ev = xfer & ~port.payload.eos
            unr = Signal(name=f"unrouted_{i}")
            m.d.comb += unr.eq(is_ev & ~matched)
            unrouted_now.append(unr)
            with m.If(xfer & port.payload.eos):
                m.d.sync += in_eos[i].eq(1)
            with m.If(is_ev & matched & (mask != 0)):
                m.d.sync += [h_valid[i].eq(1), h_pend[i].eq(mask), h_addr[i].eq(out_addr)]
            with m.Elif(h_valid[i]):
                m.d.sync += [h_pend[i].eq(left), h_valid[i].eq(left != 0)]
            if self.leader is not None and i == self.leader:
                with m.If(xfer):
                    m.d.sync += started.eq(1)

        # --- outputs: arbitration, FIFOs, markers ---------------------------------------
        drops_now, fifos = [], []
        for o, port in enumerate(outs):
            m.submodules[f"ofifo_{o}"] = q = fifo.SyncFIFOBuffered(
                width=spec.AerEvent.size, depth=self.depth)
            fifos.append(q)
            m.d.comb += [port.payload.eq(q.r_data), port.valid.eq(q.r_rdy),
                         q.r_en.eq(port.ready)]
            req = Cat(*(h_valid[i] & h_pend[i][o] for i in range(K)))
            last = Signal(range(K), name=f"rr_{o}", init=K - 1)
            if self.lossless:
                can = q.w_rdy
            else:
                can = q.w_rdy
                for i in range(K):
                    m.d.comb += drop[o][i].eq(~q.w_rdy & req[i])
                    drops_now.append(drop[o][i])
            # round robin: priority to last+1, last+2, ... (mod K)
            with m.If(can & req.any()):
                with m.Switch(last):
                    for p in range(K):
                        with m.Case(p):
                            order = [(p + j) % K for j in range(1, K + 1)]
                            for n, i in enumerate(order):
                                cond = req[i]
                                if n == 0:
                                    ctx = m.If(cond)
                                else:
                                    ctx = m.Elif(cond)
                                with ctx:
                                    m.d.comb += grant[o][i].eq(1)
                                    m.d.sync += last.eq(i)
            word = Signal(spec.AerEvent, name=f"oword_{o}")
            for i in range(K):
                with m.If(grant[o][i]):
                    m.d.comb += [word.addr.eq(h_addr[i]), word.core.eq(i)]
            done = in_eos.all() & ~req.any() & ~closed[o]
            with m.If(done & q.w_rdy):
                m.d.comb += word.eos.eq(1)
                m.d.sync += closed[o].eq(1)
            m.d.comb += [q.w_data.eq(word),
                         q.w_en.eq(Cat(*(grant[o][i] for i in range(K))).any() |
                                   (done & q.w_rdy))]

        with m.If(advance):
            m.d.sync += [step.eq(step + 1), in_eos.eq(0), closed.eq(0), started.eq(0)]

        # --- counters -------------------------------------------------------------------
        def bump(counter, bits):
            if not bits:
                return
            n = sum(bits)
            wide = Signal(spec.AER_COUNTER_WIDTH + 1, name=f"{counter.name}_next")
            m.d.comb += wide.eq(counter + n)
            m.d.sync += counter.eq(Mux(wide > cmax, cmax, wide))

        dropped = Signal(spec.AER_COUNTER_WIDTH, name="dropped")
        unrouted = Signal(spec.AER_COUNTER_WIDTH, name="unrouted")
        bump(dropped, drops_now)
        bump(unrouted, unrouted_now)
        m.d.comb += [self.o_dropped.eq(dropped), self.o_unrouted.eq(unrouted)]
        busy = Cat(*h_valid).any() | in_eos.any()
        for q in fifos:
            busy = busy | q.r_rdy
        m.d.comb += self.o_idle.eq(~busy)
        return m
