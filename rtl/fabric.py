# amaranth: UnusedElaboratable=no
# (the cores and the router are built in ``Fabric.__init__`` so that bad parameters fail
# there; an unused Fabric is still reported — it is created in the caller's file)
"""Multi-core fabric: K neuron cores behind one AER router, plus the host port.

The golden twin is ``neurofab.golden.fabric``; ``docs/aer.md`` ("Fabric") is the
specification. Router port ``k < K`` is core ``k``, port ``K`` the host::

    host i_events ──▶ router port K ──┐                       ┌──▶ router port K ──▶ o_spikes
                                      │      AerRouter        │
    core k o_spikes ─▶ spike buffer ─▶ port k   (table)   port k ──▶ core k i_events

* A core's spikes (local neuron numbers) enter the router as ``AerEvent(addr=neuron,
  core=k)``; a spike buffer of ``n_neurons + 2`` entries holds a whole update, so a core
  always finishes its update even while the router holds its output (see the leader).
* Router outputs reach core ``k`` as ``InputEvent(channel=addr)`` — axons, see
  ``neurofab.partition``; the host port's output is ``SpikeEvent(neuron=addr)`` (global
  neuron numbers).
* Before its first spike, each core port of the router gets one end-of-step marker (the
  empty "update -1"), so router step ``t`` carries the spikes of update ``t - 1`` and the
  host inputs of step ``t``: the host's ``o_spikes`` of host step ``t`` are the spikes of
  update ``t - 1`` (step 0: none).
* The host is the router's **leader**: the cores' spikes of update ``t`` are routed only
  once the host has begun step ``t + 1``, so between host steps every core rests at a step
  boundary.
* ``i_mem_<k>`` / ``o_mem_<k>`` reach core ``k``'s memory port; a request is passed on
  only once core ``k`` has finished every step the host has closed (its state is then the
  state after the last host step, exactly what the golden fabric holds).
* ``host_tap=True`` (the board tops): ``o_spikes`` of host step ``t`` are the spikes of
  update ``t`` itself, taken from the cores beside the router (``HostTap``: core ``k``'s
  neuron ``n`` as ``k * n_neurons + n``, cores in order, one marker when every core has
  finished) — no one-step lag; the router's host output is discarded. ``i_flush`` (one
  clock, between host steps) empties the spike buffers and primes the core ports again:
  the next host step starts like the first (RESET of a board).
"""

from amaranth import Array, Cat, Module, Mux, Signal
from amaranth.hdl import ResetInserter
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from neurofab import spec
from neurofab.checks import check_int
from neurofab.partition import FabricConfig
from .aer.router import AerRouter, table_words
from .core import NeuronCore

__all__ = ["Fabric", "HostTap", "table_words"]


class HostTap(wiring.Component):
    """The spikes of every core's update for the host, in order, without the router.

    Each core's ``o_spikes`` (local neurons in increasing order, then ``eos``) enters a
    FIFO of ``n_neurons + 1`` entries (a whole update); ``o_spikes`` forwards core 0's
    spikes, then core 1's, ..., as ``k * n_neurons + neuron`` (``n_neurons`` a power of
    two), then one ``eos`` after core ``cores - 1``'s: increasing numbers, one marker per
    step, the step complete as soon as the last core has finished its update.

    Parameters
    ----------
    cores : int
        Cores, ``1 .. spec.AER_MAX_PORTS - 1``.
    n_neurons : int
        Neurons per core, a power of two; ``cores * n_neurons <= spec.MAX_NEURONS``.

    Attributes
    ----------
    i_spikes_<k> : In(stream.Signature(spec.SpikeEvent))
        Core ``k``'s spikes.
    o_spikes : Out(stream.Signature(spec.SpikeEvent))
    i_flush : In(1)
        Empty the FIFOs and start over at core 0.
    o_empty : Out(1)
        Every FIFO is empty.
    """

    def __init__(self, cores, n_neurons):
        self.cores = check_int("cores", cores, 1, spec.AER_MAX_PORTS - 1)
        self.n_neurons = check_int("n_neurons", n_neurons, 2, spec.MAX_NEURONS)
        if n_neurons & (n_neurons - 1):
            raise ValueError(f"n_neurons = {n_neurons} must be a power of two")
        if cores * n_neurons > spec.MAX_NEURONS:
            raise ValueError(f"cores x n_neurons = {cores * n_neurons} exceeds the "
                             f"{spec.NEURON_ADDR_WIDTH}-bit neuron number")
        members = {f"i_spikes_{k}": In(stream.Signature(spec.SpikeEvent))
                   for k in range(cores)}
        members.update({"o_spikes": Out(stream.Signature(spec.SpikeEvent)),
                        "i_flush": In(1), "o_empty": Out(1)})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        K, bits = self.cores, (self.n_neurons - 1).bit_length()
        fifos, staged, words = [], [], []
        takes = Signal(K)                 # core k's staged entry is taken
        for k in range(K):
            f = fifo.SyncFIFOBuffered(width=spec.SpikeEvent.size, depth=self.n_neurons + 1)
            m.submodules[f"fifo_{k}"] = ResetInserter({"sync": self.i_flush})(f)
            i = getattr(self, f"i_spikes_{k}")
            m.d.comb += [f.w_data.eq(i.payload), f.w_en.eq(i.valid), i.ready.eq(f.w_rdy)]
            # a register after each FIFO: its block RAM's output decides nothing
            st, w = Signal(name=f"staged_{k}"), Signal(spec.SpikeEvent, name=f"stage_{k}")
            m.d.comb += f.r_en.eq(~st | takes[k])
            with m.If(takes[k]):
                m.d.sync += st.eq(0)
            with m.If(f.r_rdy & (~st | takes[k])):
                m.d.sync += [st.eq(1), w.eq(f.r_data)]
            with m.If(self.i_flush):
                m.d.sync += st.eq(0)
            fifos.append(f)
            staged.append(st)
            words.append(w)
        cur = Signal(range(K))
        r_rdy = Array(staged)[cur]
        word = Array(words)[cur]
        take = Signal()
        for k in range(K):
            m.d.comb += takes[k].eq(take & (cur == k))
        # o_spikes is a register (block-RAM outputs go nowhere else)
        o = self.o_spikes
        free = ~o.valid | o.ready
        put, put_eos = Signal(), Signal()
        with m.If(~word.eos):
            m.d.comb += [put.eq(r_rdy), take.eq(free)]
        with m.Elif(cur == K - 1):                       # the last core's marker: the step's
            m.d.comb += [put.eq(r_rdy), put_eos.eq(1), take.eq(free)]
            with m.If(r_rdy & free):
                m.d.sync += cur.eq(0)
        with m.Else():                                   # another core's marker: next core
            m.d.comb += take.eq(r_rdy)
            with m.If(r_rdy):
                m.d.sync += cur.eq(cur + 1)
        with m.If(o.valid & o.ready):
            m.d.sync += o.valid.eq(0)
        with m.If(put & free):
            m.d.sync += [o.valid.eq(1), o.payload.eos.eq(put_eos),
                         o.payload.neuron.eq(Mux(put_eos, 0, Cat(word.neuron[:bits], cur)))]
        with m.If(self.i_flush):
            m.d.sync += [cur.eq(0), o.valid.eq(0)]
        m.d.comb += self.o_empty.eq(~Cat(f.r_rdy for f in fifos).any() & ~Cat(staged).any() &
                                    ~o.valid)
        return m


class Fabric(wiring.Component):
    """K neuron cores + AER router + host port.

    Parameters
    ----------
    fcfg : FabricConfig or None
        Network to load as memory and table init; ``None``: empty memories and table
        (upload through ``i_mem_<k>`` and ``i_table``), geometry from the keywords.
    cores, n_neurons, n_inputs, syn_capacity : int
        Geometry without ``fcfg`` (every core the same): cores, neurons per core, input
        channels (axons) per core, synapse memory depth per core.
    entries_per_port : int
        Routing-table slots per port (default: the table's, else 2).
    depth : int
        Router output FIFO depth.
    host_tap : bool
        ``o_spikes`` from a ``HostTap`` (update ``t`` in host step ``t``, neurons
        numbered ``k * n_neurons + local``) instead of the router's host port (update
        ``t - 1``, global neuron numbers).
    syn_bank_depth : int, optional
        Passed on to every ``NeuronCore``.
    spike_fifo : str
        Passed on to every ``NeuronCore`` (where its output FIFO lives).
    """

    def __init__(self, fcfg=None, *, cores=None, n_neurons=None, n_inputs=None,
                 syn_capacity=None, entries_per_port=None, depth=4, host_tap=False,
                 syn_bank_depth=None, spike_fifo="registers"):
        if fcfg is not None:
            if not isinstance(fcfg, FabricConfig):
                raise TypeError(f"fcfg must be a FabricConfig or None, not {fcfg!r}")
            fcfg.validate()
            cores = fcfg.n_cores
            n_neurons = max(c.n_neurons for c in fcfg.cores)
            n_inputs = max(c.n_inputs for c in fcfg.cores)
            cap = max(max(1, c.n_synapses) for c in fcfg.cores)
            syn_capacity = cap if syn_capacity is None else syn_capacity
            entries_per_port = (fcfg.table.entries_per_port if entries_per_port is None
                                else entries_per_port)
        else:
            for name, v in (("cores", cores), ("n_neurons", n_neurons),
                            ("n_inputs", n_inputs), ("syn_capacity", syn_capacity)):
                if v is None:
                    raise TypeError(f"{name} is required when fcfg is None")
        cores = check_int("cores", cores, 1, spec.AER_MAX_PORTS - 1)
        self.fcfg = fcfg
        self.n_cores = cores
        self.n_neurons = n_neurons
        self.n_inputs = n_inputs
        self.syn_capacity = syn_capacity
        self.entries_per_port = 2 if entries_per_port is None else entries_per_port
        self.depth = depth
        self.host = cores
        self.host_tap = bool(host_tap)
        # built here so that parameter errors surface at construction
        self.cores = [NeuronCore(fcfg.cores[k] if fcfg is not None else None,
                                 n_neurons=n_neurons, n_inputs=n_inputs,
                                 syn_capacity=syn_capacity, syn_bank_depth=syn_bank_depth,
                                 spike_fifo=spike_fifo)
                      for k in range(cores)]
        self.tap = HostTap(cores, self.cores[0].n_neurons) if self.host_tap else None
        self.router = AerRouter(cores + 1, fcfg.table if fcfg is not None else None,
                                entries_per_port=self.entries_per_port, depth=depth,
                                lossless=True, leader=cores, registered_ready=(cores,))
        members = {
            "i_events": In(stream.Signature(spec.InputEvent)),
            "o_spikes": Out(stream.Signature(spec.SpikeEvent)),
            "i_table": In(stream.Signature(spec.RouteWrite)),
        }
        for k in range(cores):
            members[f"i_mem_{k}"] = In(stream.Signature(spec.MemRequest))
            members[f"o_mem_{k}"] = Out(stream.Signature(spec.MemResponse))
        members["o_dropped"] = Out(spec.AER_COUNTER_WIDTH)
        members["o_unrouted"] = Out(spec.AER_COUNTER_WIDTH)
        members["o_step"] = Out(spec.STEP_WIDTH)
        members["o_idle"] = Out(1)
        members["i_flush"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        K = self.n_cores
        m.submodules.router = router = self.router
        wiring.connect(m, wiring.flipped(self.i_table), router.i_table)
        m.d.comb += [self.o_dropped.eq(router.o_dropped),
                     self.o_unrouted.eq(router.o_unrouted),
                     self.o_step.eq(router.o_step)]

        # --- host port --------------------------------------------------------------------
        h_in, h_out = router.inputs()[K], router.outputs()[K]
        host_steps = Signal(spec.STEP_WIDTH)      # end-of-step markers the host has sent
        m.d.comb += [
            h_in.valid.eq(self.i_events.valid),
            h_in.payload.addr.eq(self.i_events.payload.channel),
            h_in.payload.core.eq(K),
            h_in.payload.eos.eq(self.i_events.payload.eos),
            self.i_events.ready.eq(h_in.ready),
        ]
        tap = self.tap
        if tap is None:
            m.d.comb += [self.o_spikes.valid.eq(h_out.valid),
                         self.o_spikes.payload.neuron.eq(h_out.payload.addr),
                         self.o_spikes.payload.eos.eq(h_out.payload.eos),
                         h_out.ready.eq(self.o_spikes.ready)]
        else:
            m.submodules.tap = tap
            wiring.connect(m, tap.o_spikes, wiring.flipped(self.o_spikes))
            m.d.comb += [h_out.ready.eq(1), tap.i_flush.eq(self.i_flush)]
        with m.If(self.i_events.valid & self.i_events.ready & self.i_events.payload.eos):
            m.d.sync += host_steps.eq(host_steps + 1)

        idle = router.o_idle
        for k, core in enumerate(self.cores):
            m.submodules[f"core_{k}"] = core
            # core -> spike buffer -> router (after one priming end-of-step marker)
            buf = fifo.SyncFIFOBuffered(width=spec.SpikeEvent.size, depth=self.n_neurons + 2)
            m.submodules[f"spike_buffer_{k}"] = ResetInserter({"sync": self.i_flush})(buf)
            core_steps = Signal(spec.STEP_WIDTH, name=f"core_steps_{k}")
            # (with the tap: both take each spike, or neither)
            tap_ready = 1 if tap is None else getattr(tap, f"i_spikes_{k}").ready
            m.d.comb += [buf.w_data.eq(core.o_spikes.payload),
                         buf.w_en.eq(core.o_spikes.valid & tap_ready),
                         core.o_spikes.ready.eq(buf.w_rdy & tap_ready)]
            if tap is not None:
                t_in = getattr(tap, f"i_spikes_{k}")
                m.d.comb += [t_in.payload.eq(core.o_spikes.payload),
                             t_in.valid.eq(core.o_spikes.valid & buf.w_rdy)]
            with m.If(core.o_spikes.valid & buf.w_rdy & core.o_spikes.payload.eos):
                m.d.sync += core_steps.eq(core_steps + 1)
            primed = Signal(name=f"primed_{k}")
            r_in = router.inputs()[k]
            # a register between the spike buffer's block RAM and the router's lookup
            staged = Signal(name=f"staged_{k}")
            word = Signal(spec.SpikeEvent, name=f"stage_{k}")
            taken = primed & staged & r_in.ready
            m.d.comb += buf.r_en.eq(~staged | taken)
            with m.If(taken):
                m.d.sync += staged.eq(0)
            with m.If(buf.r_rdy & (~staged | taken)):
                m.d.sync += [staged.eq(1), word.eq(buf.r_data)]
            with m.If(~primed):
                m.d.comb += [r_in.valid.eq(1), r_in.payload.eos.eq(1)]
                with m.If(r_in.ready):
                    m.d.sync += primed.eq(1)
            with m.Else():
                m.d.comb += [r_in.valid.eq(staged), r_in.payload.addr.eq(word.neuron),
                             r_in.payload.eos.eq(word.eos)]
            with m.If(self.i_flush):                 # RESET: prime the port again
                m.d.sync += [primed.eq(0), staged.eq(0)]
            m.d.comb += r_in.payload.core.eq(k)
            # router -> core: axons as input channels
            r_out = router.outputs()[k]
            m.d.comb += [core.i_events.valid.eq(r_out.valid),
                         core.i_events.payload.channel.eq(r_out.payload.addr),
                         core.i_events.payload.eos.eq(r_out.payload.eos),
                         r_out.ready.eq(core.i_events.ready)]
            # memory port: passed on once the core has finished every host step
            req, resp = getattr(self, f"i_mem_{k}"), getattr(self, f"o_mem_{k}")
            held = Signal(name=f"mem_held_{k}")
            go = (core_steps == host_steps) | held
            m.d.comb += [core.i_mem.payload.eq(req.payload),
                         core.i_mem.valid.eq(req.valid & go),
                         req.ready.eq(core.i_mem.ready & go)]
            m.d.sync += held.eq(core.i_mem.valid & ~core.i_mem.ready)
            wiring.connect(m, core.o_mem, wiring.flipped(resp))
            idle = idle & core.o_idle & ~buf.r_rdy & ~staged & primed
        if tap is not None:
            idle = idle & tap.o_empty
        m.d.comb += self.o_idle.eq(idle)
        return m
