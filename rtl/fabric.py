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
"""

from amaranth import Module, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from neurofab import spec
from neurofab.checks import check_int
from neurofab.partition import FabricConfig
from .aer.router import AerRouter, table_words
from .core import NeuronCore

__all__ = ["Fabric", "table_words"]


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
    """

    def __init__(self, fcfg=None, *, cores=None, n_neurons=None, n_inputs=None,
                 syn_capacity=None, entries_per_port=None, depth=4):
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
        # built here so that parameter errors surface at construction
        self.cores = [NeuronCore(fcfg.cores[k] if fcfg is not None else None,
                                 n_neurons=n_neurons, n_inputs=n_inputs,
                                 syn_capacity=syn_capacity) for k in range(cores)]
        self.router = AerRouter(cores + 1, fcfg.table if fcfg is not None else None,
                                entries_per_port=self.entries_per_port, depth=depth,
                                lossless=True, leader=cores)
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
            self.o_spikes.valid.eq(h_out.valid),
            self.o_spikes.payload.neuron.eq(h_out.payload.addr),
            self.o_spikes.payload.eos.eq(h_out.payload.eos),
            h_out.ready.eq(self.o_spikes.ready),
        ]
        with m.If(self.i_events.valid & self.i_events.ready & self.i_events.payload.eos):
            m.d.sync += host_steps.eq(host_steps + 1)

        idle = router.o_idle
        for k, core in enumerate(self.cores):
            m.submodules[f"core_{k}"] = core
            # core -> spike buffer -> router (after one priming end-of-step marker)
            m.submodules[f"spike_buffer_{k}"] = buf = fifo.SyncFIFOBuffered(
                width=spec.SpikeEvent.size, depth=self.n_neurons + 2)
            core_steps = Signal(spec.STEP_WIDTH, name=f"core_steps_{k}")
            m.d.comb += [buf.w_data.eq(core.o_spikes.payload),
                         buf.w_en.eq(core.o_spikes.valid),
                         core.o_spikes.ready.eq(buf.w_rdy)]
            with m.If(core.o_spikes.valid & buf.w_rdy & core.o_spikes.payload.eos):
                m.d.sync += core_steps.eq(core_steps + 1)
            primed = Signal(name=f"primed_{k}")
            r_in = router.inputs()[k]
            word = spec.SpikeEvent(buf.r_data)
            with m.If(~primed):
                m.d.comb += [r_in.valid.eq(1), r_in.payload.eos.eq(1)]
                with m.If(r_in.ready):
                    m.d.sync += primed.eq(1)
            with m.Else():
                m.d.comb += [r_in.valid.eq(buf.r_rdy), r_in.payload.addr.eq(word.neuron),
                             r_in.payload.eos.eq(word.eos), buf.r_en.eq(r_in.ready)]
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
            idle = idle & core.o_idle & ~buf.r_rdy & primed
        m.d.comb += self.o_idle.eq(idle)
        return m
