"""Time-multiplexed neuron core: the RTL twin of ``neurofab.golden.core.NeuronCore``.

N neurons share one pipelined neuron kernel (``neurofab.kernels``; CUBA-LIF by default).
State, accumulators, profiles, CSR row pointers, synapses and the spike queue live in
synchronous-read block memories. A step has two phases (``docs/numerics.md``, "Timestep"):

* **integrate** — the spikes the core emitted in its previous update (spike queue), then
  the external events of ``i_events`` up to the end-of-step marker, are delivered: the CSR
  row of every event is walked one synapse per clock, each adding ``weight << w_shift``
  into the accumulator slot ``(STEP + delay - 1) % 8`` of its target. The row pointer of
  the next event is fetched while the current row is walked, and read-modify-write
  hazards on the accumulator memory are resolved by its write-transparent read port plus
  one forwarding register (the read data is registered before the add), so the walker
  never stalls: one synapse per clock.
* **update** — neuron ``n = 0 .. N-1``, one per clock, runs the kernel on its state, its
  profile and accumulator slot ``STEP % 8``; the state is written back, the slot cleared
  and spikes are pushed to ``o_spikes`` (in neuron order) and to the spike queue. A small
  output FIFO with credit-based issue absorbs back-pressure. After the last neuron the
  end-of-step marker follows and ``STEP`` increments.

``CoreConfig.memory_image`` / ``CoreConfig.upload_words`` (``neurofab.config``) are the one
place where a ``CoreConfig`` is packed into memory words: the memory init here, the host
driver and the co-simulation harness (through ``i_mem``) use exactly these words.
``memory_init`` / ``config_words`` are those two under their older names.
"""

from amaranth import Cat, Elaboratable, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

from neurofab import spec
from neurofab.checks import check_bool, check_int, check_pow2
from neurofab.config import CoreConfig
from neurofab.kernels import DEFAULT_KERNEL, get_kernel
from neurofab.spec import Ctrl, Region

from .learning import LearnUnit, PostUpdate

__all__ = ["NeuronCore", "SPIKE_FIFO_KINDS", "memory_init", "config_words", "row_storage"]

#: Bits of the accumulator slot index (``index = neuron * DELAY_SLOTS + slot``).
SLOT_BITS = exact_log2(spec.DELAY_SLOTS)

#: Where ``NeuronCore(spike_fifo=...)`` puts the output FIFO: flip-flops or a memory.
SPIKE_FIFO_KINDS = ("registers", "memory")

#: ``spec.row_storage`` under its old name here (the layout of the stored row pointers).
row_storage = spec.row_storage


class _SpikeFifo(Elaboratable):
    """The core's output FIFO, in flip-flops: ``SyncFIFOBuffered`` of ``depth`` entries,
    cycle for cycle (an entry is readable two clocks after its write; ``level`` counts
    the output register; ``w_rdy`` while fewer than ``depth - 1`` entries wait behind
    it).

    A write is registered first (the stage): the written word then moves behind the last
    entry of a shift register that advances towards the output register, or straight
    into the output register if nothing is held. So every flip-flop is fed by one small
    multiplexer, there is no read multiplexer and the placement of a write is decoded
    from registers (a one-hot count of the entries held), not from ``w_en``: on iCE40
    this costs no block RAM and fewer logic cells than a register file.
    """

    def __init__(self, *, width, depth):
        self.width = width
        self.depth = depth
        self.w_data = Signal(width)
        self.w_en = Signal()
        self.w_rdy = Signal()
        self.r_data = Signal(width)
        self.r_en = Signal()
        self.r_rdy = Signal()
        self.level = Signal(range(depth + 1))

    def elaborate(self, platform):
        m = Module()
        inner = self.depth - 1
        fill = Signal(range(inner + 1))     # words behind the output register
        stage_v = Signal()                  # the stage holds a word (counted in fill)
        stage = Signal(self.width)
        entries = [Signal(self.width, name=f"entry_{k}") for k in range(inner)]
        held = Signal(inner + 1, init=1)    # one-hot: entries held (entries[0]: head)
        do_write = self.w_en & self.w_rdy
        do_read = (fill != 0) & (~self.r_rdy | self.r_en)
        m.d.comb += [
            self.w_rdy.eq(fill != inner),
            self.level.eq(fill + self.r_rdy),
        ]
        with m.If(do_write & ~do_read):
            m.d.sync += fill.eq(fill + 1)
        with m.Elif(do_read & ~do_write):
            m.d.sync += fill.eq(fill - 1)
        m.d.sync += [stage_v.eq(do_write), stage.eq(self.w_data)]

        empty = held[0]                     # no entry held: a read takes the stage
        shift = do_read & ~empty
        store = stage_v & ~(do_read & empty)
        for k, entry in enumerate(entries):
            # the stage lands behind the last entry, one place earlier when they shift
            with m.If(store & Mux(shift, held[k + 1], held[k])):
                m.d.sync += entry.eq(stage)
            if k + 1 < inner:
                with m.Elif(shift):
                    m.d.sync += entry.eq(entries[k + 1])
        with m.If(store & ~shift):
            m.d.sync += held.eq(held << 1)
        with m.Elif(shift & ~store):
            m.d.sync += held.eq(held >> 1)

        with m.If(do_read):
            m.d.sync += [self.r_data.eq(Mux(empty, stage, entries[0])), self.r_rdy.eq(1)]
        with m.Elif(self.r_en):
            m.d.sync += self.r_rdy.eq(0)
        return m


def _check_cfg(cfg):
    if not isinstance(cfg, CoreConfig):
        raise TypeError(f"cfg must be a CoreConfig, not {cfg!r}")
    return cfg


def memory_init(cfg, *, n_inputs=None):
    """``cfg.memory_image(n_inputs=n_inputs)`` as one list of int words per region
    (``CoreConfig.memory_image`` is the memory map)."""
    image = _check_cfg(cfg).memory_image(n_inputs=n_inputs)
    return {region: words.tolist() for region, words in image.items()}


def config_words(cfg, *, n_inputs=None, clear_acc=True):
    """``cfg.upload_words(n_inputs=n_inputs, clear_acc=clear_acc)``: the memory-port
    writes ``(region, index, word)`` that load ``cfg`` into a core and restart it."""
    return _check_cfg(cfg).upload_words(n_inputs=n_inputs, clear_acc=clear_acc)


class NeuronCore(wiring.Component):
    """Time-multiplexed neuron core, generic over its neuron kernel.

    Parameters
    ----------
    cfg : CoreConfig or None
        Network to load as memory init. ``None``: all memories zero (load a configuration
        through ``i_mem`` with the words of ``config_words``).
    kernel : str or Kernel
        The neuron model (``neurofab.kernels``). Default ``cfg.kernel``, else CUBA-LIF;
        with a ``cfg`` it must be the config's kernel. The state memory holds
        ``kernel.state_word`` words and the profile memory ``kernel.profile`` words.
    n_neurons : int
        Neurons, a power of two in [2, ``spec.MAX_NEURONS``]. Default ``cfg.n_neurons``;
        with a ``cfg`` it must equal ``cfg.n_neurons``. Required without a ``cfg``.
    n_inputs : int
        External input channels, [0, ``spec.MAX_INPUTS``]. Default ``cfg.n_inputs`` (0
        without a ``cfg``); at least ``cfg.n_inputs``.
    syn_capacity : int
        Depth of the synapse memory, [1, ``spec.MAX_SYNAPSES``]. Default
        ``max(1, cfg.n_synapses)``; at least ``cfg.n_synapses``. Required without a ``cfg``.
    syn_bank_depth : int or None
        Split the synapse memory into banks of this depth (a power of two), read in
        parallel, whose outputs are registered before the bank is selected. Use it where
        a deep memory would be built from a long cascade of block RAMs whose output
        multiplexer limits fmax (ECP5: 4096). ``None``: one memory named ``syn_mem``
        (iCE40: it maps to SPRAM). A learning core keeps one synapse memory.
    learning : bool or None
        Build a learning core (``docs/numerics.md``, "Learning"): ``PlasticSynapse``
        words in a simple dual-port synapse memory, the ``PRE`` and ``POST`` regions, the
        registers ``TRACES``, ``MODULATOR``, ``LEARN_END``, the rule table (``CTRL_RULE +
        r``, rule 0 reads 0) and the homeostasis table (``CTRL_HOMEO + profile``), and a
        learn phase after every update (``rtl.learning``). Default: ``cfg.learning is not
        None`` with a ``cfg``, else False; a config with learning needs ``True``.
    parity : str or sequence of str
        Memories to protect with a parity bit per word (``spec.PARITY_MEMORIES``:
        ``"synapse"``, ``"rowptr"``, ``"profile"``; default none, and then the core is
        exactly the unprotected one). The bit is written with every word through
        ``i_mem`` (and in a memory init) and checked one clock after the datapath uses
        the word — the walker's row pointer, the synapse in ``r1``, the profile at U4;
        every word found wrong adds one to ``parity_errors`` (saturating), readable and
        writable at ``CTRL`` index ``spec.CTRL_PARITY``. What ``i_mem`` reads and writes
        does not change. Not with ``learning`` (its learn phase rewrites synapses).
    queue_port : bool
        Region ``QUEUE`` through ``i_mem``: the spike queue (the spikes of the last update,
        which the next integrate phase delivers first) read and written for snapshots —
        word ``k < n_neurons`` the ``k``-th queued neuron (its low ``ceil_log2(n_neurons)``
        bits are stored), word ``n_neurons`` the count (a count above ``n_neurons`` is the
        writer's error: what is delivered then is unspecified). Default off: the core is
        then exactly the one without the region.
    spike_fifo : str
        Where the ``o_spikes`` FIFO lives (``SPIKE_FIFO_KINDS``): ``"registers"`` (the
        default: a shift register of flip-flops, no block RAM) or ``"memory"``
        (``SyncFIFOBuffered``: one block RAM and about 200 fewer iCE40 logic cells). The
        two behave alike cycle for cycle (``tests/rtl/test_core.py``); a board picks the
        one its device has room for (``Board.spike_fifo``).

    Attributes
    ----------
    n_neurons, n_inputs, syn_capacity : int
        Geometry.
    syn_banks, syn_bank_depth : int
        Synapse memory banks and the depth of each (one bank of ``syn_capacity`` unless
        ``syn_bank_depth`` splits it).
    pipeline_depth : int
        Clocks from issuing a neuron of the update phase to its write-back.
    parity : tuple of str
        The memories with a parity bit (``spec.PARITY_MEMORIES`` order).
    parity_errors : Signal(PARITY_COUNT_WIDTH)
        With ``parity``: the words found with a wrong parity bit since the counter was
        last written (not a port: a top level reads it directly, the host through
        ``CTRL_PARITY``).
    i_events : In(stream.Signature(spec.InputEvent))
        External events of the current step: an event on ``channel`` (CSR source
        ``n_neurons + channel``; channels ``>= n_inputs`` have no fan-out), or ``eos=1``,
        the end of the step's input. The first transaction offered while idle starts a
        step; it is accepted once the spikes of the previous update have been delivered.
    o_spikes : Out(stream.Signature(spec.SpikeEvent))
        The neurons that fired in the update, in increasing index order, then one
        transaction with ``eos=1``.
    i_mem : In(stream.Signature(spec.MemRequest))
        Memory access (see ``spec.Region``), served only while the core is idle between
        steps (a request during a step waits). Out-of-range writes are ignored.
        ``ROWPTR`` words are stored with ``start`` and ``count`` in the bits of
        ``row_storage(syn_capacity)``: a write keeps the low bits of each field, so the
        rows of valid configurations read back as written.
        ``ACC`` words are the low ``ACC_WIDTH`` bits of ``data``; writing ``Ctrl.STEP``
        also empties the spike queue (pending recurrent spikes).
    o_mem : Out(stream.Signature(spec.MemResponse))
        One response per request, in order: the word read (zero-extended; 0 for an
        out-of-range read), or 0 for a write.
    o_idle : Out(1)
        High while the core is between steps and not serving a memory request. Spikes of
        the last step may still be queued in the ``o_spikes`` FIFO.

    Notes
    -----
    Clocks per step with ``i_events`` offered at full rate and ``o_spikes`` always ready
    (``o_idle`` low from the first event to the end-of-step marker)::

        cycles = ii * (n_neurons - 1) + 1 + S + Z + LATENCY + 13

    (CUBA-LIF: ``ii = 1``, ``LATENCY = 4``: ``N + S + Z + 18``). ``ii`` and ``LATENCY`` are
    the kernel's (``neurofab.kernels``).

    A learning core adds one update stage (``PostUpdate``) and the learn phase, which
    visits ``K = min(LEARN_END, syn_capacity)`` synapses one per clock::

        cycles_learning = cycles + 1 + (K + 12 if K > 0 else 3)

    (CUBA-LIF: ``N + S + Z + K + 31`` for ``K > 0``).

    ``S``: synapses delivered (fan-out of the pending spikes and of the external events);
    ``Z``: delivered events with no fan-out (one walker clock each). When the step's last
    ``T`` events have no fan-out they hide part of the integrate tail: ``+ 14`` becomes
    ``+ 7 + max(1, 7 - T)``. A step that delivers no synapse takes
    ``n_neurons + Z + LATENCY + 8`` (``+ 7`` if it delivers no event at all). A memory
    request takes 5 clocks plus the response handshake.

    Every block-RAM output goes into a register directly or through one multiplexer (the
    row pointer into the walker, the spike queue into the source register), never through
    arithmetic, and every block-RAM address comes from a register or a multiplexer of
    registers: the output multiplexers of a block-RAM cascade get most of a clock period. State, accumulators,
    profiles, row pointers and the spike queue are simple dual-port memories; the synapse
    memory is used as a single-port RAM (shared address, no read while writing) so that
    iCE40 builds can put it in SPRAM.
    """

    i_events: In(stream.Signature(spec.InputEvent))
    o_spikes: Out(stream.Signature(spec.SpikeEvent))
    i_mem: In(stream.Signature(spec.MemRequest))
    o_mem: Out(stream.Signature(spec.MemResponse))
    o_idle: Out(1)

    def __init__(self, cfg=None, *, n_neurons=None, n_inputs=None, syn_capacity=None,
                 syn_bank_depth=None, kernel=None, learning=None, parity=(),
                 queue_port=False, spike_fifo="registers"):
        if spike_fifo not in SPIKE_FIFO_KINDS:
            raise ValueError(f"spike_fifo = {spike_fifo!r} is not one of "
                             f"{', '.join(map(repr, SPIKE_FIFO_KINDS))}")
        self.spike_fifo = spike_fifo
        if isinstance(parity, str):
            parity = (parity,)
        parity = tuple(parity)
        for name in parity:
            if name not in spec.PARITY_MEMORIES:
                raise ValueError(f"parity: {name!r} is not one of "
                                 f"{', '.join(spec.PARITY_MEMORIES)}")
        if learning is None:
            learning = cfg is not None and getattr(cfg, "learning", None) is not None
        if not isinstance(learning, bool):
            raise TypeError(f"learning must be a bool or None, not {learning!r}")
        if cfg is not None:
            if not isinstance(cfg, CoreConfig):
                raise TypeError(f"cfg must be a CoreConfig or None, not {cfg!r}")
            cfg.validate()
            if kernel is not None and get_kernel(kernel) is not cfg.kernel:
                raise ValueError(f"cfg is a {cfg.kernel.name} config, not one of kernel "
                                 f"{get_kernel(kernel).name}")
            kernel = cfg.kernel
            n_neurons = cfg.n_neurons if n_neurons is None else n_neurons
            n_inputs = cfg.n_inputs if n_inputs is None else n_inputs
            syn_capacity = max(1, cfg.n_synapses) if syn_capacity is None else syn_capacity
        else:
            if n_neurons is None:
                raise TypeError("n_neurons is required when cfg is None")
            if syn_capacity is None:
                raise TypeError("syn_capacity is required when cfg is None")
            n_inputs = 0 if n_inputs is None else n_inputs
        n_neurons = check_pow2("n_neurons", n_neurons, 2, spec.MAX_NEURONS)
        n_inputs = check_int("n_inputs", n_inputs, 0, spec.MAX_INPUTS)
        syn_capacity = check_int("syn_capacity", syn_capacity, 1, spec.MAX_SYNAPSES)
        if syn_bank_depth is not None:
            syn_bank_depth = check_pow2("syn_bank_depth", syn_bank_depth, 1, spec.MAX_SYNAPSES)
        if cfg is not None:
            if cfg.n_neurons != n_neurons:
                raise ValueError(f"cfg.n_neurons = {cfg.n_neurons} does not match "
                                 f"n_neurons = {n_neurons}")
            if cfg.n_inputs > n_inputs:
                raise ValueError(f"cfg.n_inputs = {cfg.n_inputs} exceeds n_inputs = "
                                 f"{n_inputs}")
            if cfg.n_synapses > syn_capacity:
                raise ValueError(f"cfg.n_synapses = {cfg.n_synapses} exceeds syn_capacity = "
                                 f"{syn_capacity}")
            if cfg.learning is not None and not learning:
                raise ValueError("cfg has learning (cfg.learning is not None): it needs a "
                                 "learning core (learning=True)")
        if learning and syn_bank_depth is not None and syn_bank_depth < syn_capacity:
            raise ValueError(f"syn_bank_depth = {syn_bank_depth} would split the synapse "
                             f"memory of {syn_capacity} words: a learning core keeps one "
                             f"(syn_bank_depth None or at least syn_capacity)")
        self.queue_port = check_bool("queue_port", queue_port)
        for region, depth in spec.region_depths(n_neurons, n_inputs, syn_capacity,
                                                learning=learning,
                                                queue=self.queue_port).items():
            if depth > 1 << spec.MEM_INDEX_WIDTH:
                raise ValueError(f"{region.name} region of {depth} words does not fit the "
                                 f"{spec.MEM_INDEX_WIDTH}-bit memory index")
        self.kernel = get_kernel(DEFAULT_KERNEL if kernel is None else kernel)
        self.cfg = cfg
        self.n_neurons = n_neurons
        self.n_inputs = n_inputs
        self.syn_capacity = syn_capacity
        if syn_bank_depth is None or syn_bank_depth >= syn_capacity:
            self.syn_banks, self.syn_bank_depth = 1, syn_capacity
        else:
            self.syn_banks = -(-syn_capacity // syn_bank_depth)
            self.syn_bank_depth = syn_bank_depth
        if parity and learning:
            raise ValueError(f"parity = {parity!r} is for cores without learning (the "
                             f"learn phase rewrites the synapse words)")
        self.learning = learning
        self.parity = tuple(m for m in spec.PARITY_MEMORIES if m in parity)
        if self.parity:
            #: words found with a wrong parity bit (saturating; also at CTRL_PARITY)
            self.parity_errors = Signal(spec.PARITY_COUNT_WIDTH)
        # a learning core has one more update stage (the homeostatic parameter, PostUpdate)
        self.pipeline_depth = 4 + learning + self.kernel.latency
        # Output FIFO: room for every neuron in flight plus a little slack, so that a
        # freely flowing o_spikes never throttles the update phase.
        self.spike_fifo_depth = 1 << ceil_log2(self.pipeline_depth + 4)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        N = self.n_neurons
        NB = exact_log2(N)
        n_src = N + self.n_inputs
        init = {} if self.cfg is None else self.cfg.memory_image(
            n_neurons=N, n_inputs=self.n_inputs, syn_capacity=self.syn_capacity)
        init = {region: words.tolist() for region, words in init.items()}

        def mem(name, shape, depth, region=None):
            words = init.get(region, []) if region is not None else []
            m.submodules[name] = mm = memory.Memory(shape=shape, depth=depth, init=words)
            return mm

        kernel = self.kernel
        # parity: a parity bit above every word of these memories (1: protected)
        P = bool(self.parity)
        P_syn, P_row, P_prof = (int(name in self.parity) for name in spec.PARITY_MEMORIES)
        for region, width, on in ((Region.PROFILE, kernel.profile.size, P_prof),
                                  (Region.SYNAPSE, spec.Synapse.size, P_syn)):
            if on and region in init:
                init[region] = spec.with_parity(init[region], width)
        state_mem = mem("state_mem", unsigned(kernel.state_word.size), N, Region.STATE)
        acc_mem = mem("acc_mem", signed(spec.ACC_WIDTH), N * spec.DELAY_SLOTS)
        prof_mem = mem("prof_mem", unsigned(kernel.profile.size + P_prof), spec.PROFILE_COUNT,
                       Region.PROFILE)
        # row pointers: only the bits the synapse capacity can use (``row_storage``)
        row_layout = spec.row_storage(self.syn_capacity)
        row_init = spec.store_rows(init.get(Region.ROWPTR, []), self.syn_capacity).tolist()
        if P_row:
            row_init = spec.with_parity(row_init, row_layout.size)
        m.submodules.row_mem = row_mem = memory.Memory(
            shape=unsigned(row_layout.size + P_row), depth=n_src, init=row_init)
        sq_mem = mem("spike_queue", unsigned(max(NB, 1)), N)

        st_wr, st_rd = state_mem.write_port(), state_mem.read_port()
        acc_wr = acc_mem.write_port()
        acc_rd = acc_mem.read_port(transparent_for=(acc_wr,))
        prof_wr, prof_rd = prof_mem.write_port(), prof_mem.read_port()
        row_wr, row_rd = row_mem.write_port(), row_mem.read_port()
        # Synapse memory bank(s). Each is accessed as a single-port RAM (one address for
        # reads and writes, no read while writing) so that it can be mapped to iCE40 SPRAM.
        # The address is always the walker's address register (loaded with the request
        # index when a memory request is accepted) and the write enables are registers,
        # so that at most an address decode sits in front of a block-RAM cascade.
        n_banks, bank_depth = self.syn_banks, self.syn_bank_depth
        bank_bits = exact_log2(bank_depth) if n_banks > 1 else ceil_log2(self.syn_capacity)
        syn_init = init.get(Region.SYNAPSE, [])
        syn_layout = spec.PlasticSynapse if self.learning else spec.Synapse
        syn_bits = syn_layout.size + P_syn  # (a stored word: with its parity bit)
        syn_ports = []
        for k in range(n_banks):
            depth = min(bank_depth, self.syn_capacity - k * bank_depth)
            name = "syn_mem" if n_banks == 1 else f"syn_mem_{k}"
            m.submodules[name] = bank = memory.Memory(
                shape=unsigned(syn_bits), depth=depth,
                init=syn_init[k * bank_depth:(k + 1) * bank_depth])
            syn_ports.append((bank.write_port(), bank.read_port()))
        sq_wr, sq_rd = sq_mem.write_port(), sq_mem.read_port()
        if self.learning:
            # PRE, POST and the homeostasis table: simple dual-port memories
            post_mem = mem("post_mem", unsigned(spec.PostTrace.size), N, Region.POST)
            pre_mem = mem("pre_mem", unsigned(spec.TRACE_WIDTH), n_src, Region.PRE)
            homeo = init.get(Region.CTRL, [])[spec.CTRL_HOMEO:]
            m.submodules.homeo_mem = homeo_mem = memory.Memory(
                shape=unsigned(spec.Homeo.size), depth=spec.PROFILE_COUNT, init=homeo)
            post_wr, post_rd = post_mem.write_port(), post_mem.read_port()
            pre_wr, pre_rd = pre_mem.write_port(), pre_mem.read_port()
            homeo_wr, homeo_rd = homeo_mem.write_port(), homeo_mem.read_port()

        m.submodules.kernel = lif = kernel.rtl()
        # the output FIFO holds the neuron's NB bits and eos (zero-extended on output)
        fifo_class = _SpikeFifo if self.spike_fifo == "registers" else fifo.SyncFIFOBuffered
        m.submodules.spike_fifo = sfifo = fifo_class(width=NB + 1,
                                                     depth=self.spike_fifo_depth)
        m.d.comb += [
            self.o_spikes.payload.neuron.eq(sfifo.r_data[:NB]),
            self.o_spikes.payload.eos.eq(sfifo.r_data[NB]),
            self.o_spikes.valid.eq(sfifo.r_rdy),
            sfifo.r_en.eq(self.o_spikes.ready),
        ]
        spike_word = Signal(spec.SpikeEvent)
        m.d.comb += sfifo.w_data.eq(Cat(spike_word.neuron[:NB], spike_word.eos))

        # --- architectural registers ---------------------------------------------------
        cfg = self.cfg
        w_shift = Signal(spec.W_SHIFT_WIDTH, init=cfg.w_shift if cfg is not None else 0)
        step = Signal(spec.STEP_WIDTH)
        sq_count = Signal(range(N + 1))      # spikes of the last update, in the spike queue
        slot_now = step[:SLOT_BITS]
        if self.learning:
            ctrl_init = init.get(Region.CTRL, [])

            def reg(shape, index, name):
                word = int(ctrl_init[index]) if index < len(ctrl_init) else 0
                if isinstance(shape, data.Layout):
                    return shape(Signal(shape.size, name=name, init=word))
                return Signal(shape, name=name, init=word)
            traces = reg(spec.Traces, Ctrl.TRACES.value, "traces")
            modulator = reg(signed(spec.MOD_WIDTH), Ctrl.MODULATOR.value, "modulator")
            learn_end = reg(ceil_log2(self.syn_capacity + 1), Ctrl.LEARN_END.value,
                            "learn_end")
            rules = [reg(spec.Rule, spec.CTRL_RULE + r, f"rule{r}")
                     for r in range(1, spec.RULE_COUNT)]
            m.submodules.learn = learn = LearnUnit(N, n_src, self.syn_capacity)
            m.d.comb += [learn.i_traces.eq(traces), learn.i_modulator.eq(modulator),
                         learn.i_learn_end.eq(learn_end),
                         *[learn.i_rules[r + 1].eq(rule) for r, rule in enumerate(rules)]]

        # --- memory port request register ----------------------------------------------
        # The request is decoded when it is accepted: one read and one write flag per
        # memory and per control register (all zero for an out-of-range request), so that
        # no wide compare sits on the access path.
        req = Signal(spec.MemRequest)
        p = self.i_mem.payload
        depths = spec.region_depths(N, self.n_inputs, self.syn_capacity,
                                    learning=self.learning, queue=self.queue_port)
        n_ctrl = depths.pop(Region.CTRL)    # registers, decoded one by one below
        if self.queue_port:                 # the queued spikes; their count is index N
            depths[Region.QUEUE] = N
        # (only the regions this core has: PRE and POST of a learning core, QUEUE)
        hits = {region: (p.region == region) & (p.index < depth)
                for region, depth in depths.items() if depth}
        if self.queue_port:
            hits["queue_len"] = (p.region == Region.QUEUE) & (p.index == N)
        for reg in list(Ctrl)[:n_ctrl]:
            hits[reg] = (p.region == Region.CTRL) & (p.index == reg.value)
        if P:                               # the parity-error counter
            hits["parity"] = (p.region == Region.CTRL) & (p.index == spec.CTRL_PARITY)
        if self.learning:                   # the rule (1..3) and homeostasis tables
            for r in range(1, spec.RULE_COUNT):
                hits[f"rule{r}"] = (p.region == Region.CTRL) & (p.index == spec.CTRL_RULE + r)
            hits["homeo"] = ((p.region == Region.CTRL) & (p.index >= spec.CTRL_HOMEO) &
                             (p.index < spec.CTRL_HOMEO + spec.PROFILE_COUNT))
        rd_sel = {key: Signal(name=f"rd_{getattr(key, 'name', key).lower()}") for key in hits}
        wr_sel = {key: Signal(name=f"wr_{getattr(key, 'name', key).lower()}") for key in hits}
        # one write pulse per synapse bank
        wr_bank = [Signal(name=f"wr_syn_bank_{k}") for k in range(n_banks)]
        bank_hits = [hits[Region.SYNAPSE] & p.write &
                     ((p.index >> bank_bits) == k if n_banks > 1 else 1)
                     for k in range(n_banks)]

        def idx(port):
            return req.index[:len(port.addr)]

        def parity_word(value, on):
            """A word as its memory stores it: with its parity bit if ``on``."""
            return Cat(value, value.xor()) if on else value

        # Synapse bank outputs, registered every clock (the integrate pipeline's first
        # register, and the capture register of memory-port reads).
        r1_bank = [Signal(syn_bits, name=f"r1_syn_{k}") for k in range(n_banks)]
        m.d.sync += [r1.eq(rd.data) for r1, (_, rd) in zip(r1_bank, syn_ports)]

        def select_bank(sel):
            word = Signal(syn_bits)
            if n_banks == 1:
                m.d.comb += word.eq(r1_bank[0])
            else:
                with m.Switch(sel):
                    for k in range(n_banks):
                        with m.Case(k):
                            m.d.comb += word.eq(r1_bank[k])
            return word

        # Capture registers of memory-port reads (loaded in MEM_DATA). The update
        # pipeline's registers of the state, accumulator and profile words load the read
        # data every clock: they capture those three memories' reads too.
        u2_state = Signal(kernel.state_word)
        u2_acc = Signal(signed(spec.ACC_WIDTH))
        u4_params = Signal(kernel.profile)
        m.d.sync += [u2_state.eq(st_rd.data), u2_acc.eq(acc_rd.data)]
        if P_prof:                          # (the profile word with its parity bit)
            u4_prof = Signal(kernel.profile.size + 1)
            m.d.sync += u4_prof.eq(prof_rd.data)
            m.d.comb += u4_params.eq(u4_prof[:kernel.profile.size])
        else:
            m.d.sync += u4_params.eq(prof_rd.data)
        if self.learning:                  # (and likewise POST, PRE and HOMEO)
            u2_post, x_cap = Signal(spec.PostTrace), Signal(spec.TRACE_WIDTH)
            u4_homeo = Signal(spec.Homeo)
            m.d.sync += [u2_post.eq(post_rd.data), x_cap.eq(pre_rd.data),
                         u4_homeo.eq(homeo_rd.data)]
        cap_row = Signal(row_layout)
        row_word = Signal(spec.RowPtr)       # cap_row zero-extended to a RowPtr word
        m.d.comb += [row_word.start.eq(cap_row.start), row_word.count.eq(cap_row.count)]
        captured = {Region.STATE: u2_state.as_value(), Region.ACC: u2_acc.as_unsigned(),
                    Region.PROFILE: u4_params.as_value(), Region.ROWPTR: row_word.as_value(),
                    Region.SYNAPSE: select_bank(req.index >> bank_bits)[:syn_layout.size],
                    Ctrl.W_SHIFT: w_shift, Ctrl.STEP: step}
        if P:
            captured["parity"] = self.parity_errors
        if self.queue_port:                 # (a spike-queue word captured in MEM_DATA)
            sq_cap = Signal(len(sq_rd.data))
            captured.update({Region.QUEUE: sq_cap, "queue_len": sq_count})
        if self.learning:
            captured.update({Region.PRE: x_cap, Region.POST: u2_post.as_value(),
                             Ctrl.TRACES: traces.as_value(),
                             Ctrl.MODULATOR: modulator.as_unsigned(),
                             Ctrl.LEARN_END: learn_end, "homeo": u4_homeo.as_value(),
                             **{f"rule{r + 1}": rule.as_value()
                                for r, rule in enumerate(rules)}})

        # --- integrate-phase pipeline --------------------------------------------------
        sq_ptr = Signal(range(N + 1))        # next spike-queue entry to read
        q_valid = Signal()                   # sq_rd.data holds a source to deliver
        e_valid = Signal()                   # e_src holds the next event's CSR source
        e_src = Signal(range(n_src + (1 << spec.CHANNEL_WIDTH)))
        e_empty = Signal()                   # ... a channel beyond n_inputs: no fan-out
        nr_valid = Signal()                  # row_rd.data holds the next event's row
        nr_empty = Signal()                  # ... of a channel beyond n_inputs: no fan-out
        # walker: next synapse address. When a row is taken, its start is registered in
        # w_start (next to the row-pointer memory) and w_addr is a multiplexer of two
        # registers for a clock: the row-pointer read reaches a register of its own, not
        # the address register that fans out to every synapse block RAM.
        w_addr_r = Signal(len(cap_row.start))
        w_start = Signal(len(cap_row.start))
        w_popped = Signal()                  # w_addr is w_start (a row was just taken)
        w_addr = Signal(len(cap_row.start))
        m.d.comb += w_addr.eq(Mux(w_popped, w_start, w_addr_r))
        for (wr, rd), pulse in zip(syn_ports, wr_bank):
            m.d.comb += [rd.addr.eq(w_addr), wr.addr.eq(w_addr), wr.en.eq(pulse),
                         rd.en.eq(~pulse), wr.data.eq(parity_word(req.data[:syn_layout.size], P_syn))]
        w_left = Signal(len(cap_row.count))  # walker: synapses left in the current row
        s1_valid = Signal()                  # the synapse bank outputs hold a synapse
        s1_bank = Signal(range(n_banks))     # ... of this bank
        r1_valid = Signal()                  # r1_bank[r1_sel] holds it
        r1_sel = Signal(range(n_banks))
        s2_valid = Signal()                  # s2_addr is read from the accumulators
        s2_addr = Signal(range(N * spec.DELAY_SLOTS))
        s2_w = Signal(signed(spec.WEIGHT_WIDTH))
        s3_valid = Signal()                  # acc_rd.data holds the word to add to
        s3_addr = Signal.like(s2_addr)
        s3_w = Signal(signed(spec.ACC_WIDTH))
        s4_valid = Signal()                  # s4_old + s4_w is written this clock
        s4_addr = Signal.like(s2_addr)
        s4_w = Signal.like(s3_w)
        s4_old = Signal(signed(spec.ACC_WIDTH))
        s4_hit = Signal()                    # s4_addr was written by the previous synapse
        last_sum = Signal(signed(spec.ACC_WIDTH))
        eos_seen = Signal()

        pop = nr_valid & (w_left <= 1)       # walker takes the next row this clock
        advance = ~nr_valid | pop            # row-pointer stage may load
        e_adv = ~e_valid | advance           # source stage may load
        q_take = e_adv & q_valid
        q_adv = ~q_valid | q_take
        spikes_done = sq_ptr == sq_count
        ext_ok = e_adv & ~q_valid & spikes_done & ~eos_seen
        ev = self.i_events.payload
        ext_take = Signal()
        issue = w_left != 0
        r1_word = select_bank(r1_sel)
        syn = spec.Synapse(r1_word[:spec.Synapse.size])
        nr = row_layout(row_rd.data[:row_layout.size])
        syn_slot = (slot_now + syn.delay)[:SLOT_BITS]
        syn_acc_addr = Cat(syn_slot, syn.target[:NB])
        if spec.NEURON_ADDR_WIDTH > NB:
            syn_target_ok = syn.target[NB:] == 0
        else:
            syn_target_ok = 1
        # parity checks, one register after the word is used: the row pointer taken by
        # the walker, the synapse in r1 (below: the profile at U4); one pulse per word
        perr = []
        if P_row:
            row_chk = Signal(row_layout.size + 1)
            row_chk_v = Signal()
            perr_row = Signal()
            m.d.sync += [row_chk_v.eq(0), perr_row.eq(row_chk_v & row_chk.xor())]
            perr.append(perr_row)
        if P_syn:
            perr_syn = Signal()
            m.d.sync += perr_syn.eq(r1_valid & r1_word.xor())
            perr.append(perr_syn)
        integrate_done = (eos_seen & ~q_valid & ~e_valid & ~nr_valid & (w_left == 0) &
                          ~s1_valid &
                          ~r1_valid & ~s2_valid & ~s3_valid & ~s4_valid)

        # --- update-phase pipeline -----------------------------------------------------
        n_issue = Signal(range(N + 1))
        inflight = Signal(range(self.pipeline_depth + 2))
        wb_n = Signal(range(N))
        sq_fill = Signal(range(N + 1))
        u1_valid = Signal()
        u1_addr = Signal(range(N * spec.DELAY_SLOTS))
        u2_valid = Signal()
        u_issue = Signal()
        # a kernel with an initiation interval ii > 1 takes a neuron every ii clocks
        if kernel.ii > 1:
            ii_wait = Signal(range(kernel.ii))
            ii_ready = ii_wait == 0
            with m.If(u_issue):
                m.d.sync += ii_wait.eq(kernel.ii - 1)
            with m.Elif(~ii_ready):
                m.d.sync += ii_wait.eq(ii_wait - 1)
        else:
            ii_ready = 1
        u_acc_addr = Cat(slot_now, n_issue[:NB])

        def end_of_step():
            m.d.comb += [spike_word.eos.eq(1), sfifo.w_en.eq(1)]
            with m.If(sfifo.w_rdy):
                # (wb_n has wrapped to 0 and inflight is 0)
                m.d.sync += [step.eq(step + 1), sq_count.eq(sq_fill), sq_fill.eq(0),
                             n_issue.eq(0)]
                m.next = "IDLE"

        if self.learning:                   # POST after the update, chosen by the spike
            post_fired, post_quiet = Signal(spec.PostTrace), Signal(spec.PostTrace)

        with m.FSM(name="core_fsm") as fsm:
            with m.State("IDLE"):
                m.d.comb += self.o_idle.eq(1)
                m.d.comb += self.i_mem.ready.eq(1)
                with m.If(self.i_mem.valid):
                    m.d.sync += [req.eq(p), w_addr_r.eq(p.index), w_popped.eq(0)]
                    for key, hit in hits.items():
                        m.d.sync += [rd_sel[key].eq(hit & ~p.write),
                                     wr_sel[key].eq(hit & p.write)]
                    m.d.sync += [pulse.eq(hit) for pulse, hit in zip(wr_bank, bank_hits)]
                    m.next = "MEM_ACCESS"
                with m.Elif(self.i_events.valid):
                    # the head of the spike queue is already on sq_rd.data (read below)
                    m.d.sync += [q_valid.eq(sq_count != 0), sq_ptr.eq(sq_count != 0)]
                    m.next = "INTEGRATE"
                m.d.comb += sq_rd.addr.eq(0)

            with m.State("MEM_ACCESS"):
                # read ports: address from the request, data valid in MEM_DATA
                m.d.comb += [
                    st_rd.addr.eq(idx(st_rd)), acc_rd.addr.eq(idx(acc_rd)),
                    prof_rd.addr.eq(idx(prof_rd)), row_rd.addr.eq(idx(row_rd)),
                ]
                req_row = spec.RowPtr(req.data[:spec.RowPtr.size])
                for region, port, word in (
                        (Region.STATE, st_wr, req.data[:kernel.state_word.size]),
                        (Region.ACC, acc_wr, req.data[:spec.ACC_WIDTH]),
                        (Region.PROFILE, prof_wr,
                         parity_word(req.data[:kernel.profile.size], P_prof)),
                        # (the low bits of start and count: see row_storage)
                        (Region.ROWPTR, row_wr,
                         parity_word(Cat(req_row.start[:len(cap_row.start)],
                                         req_row.count[:len(cap_row.count)]), P_row))):
                    m.d.comb += [port.addr.eq(idx(port)), port.en.eq(wr_sel[region]),
                                 port.data.eq(word)]
                # the write flags are one-clock pulses
                m.d.sync += [flag.eq(0) for flag in [*wr_sel.values(), *wr_bank]]
                with m.If(wr_sel[Ctrl.W_SHIFT]):
                    m.d.sync += w_shift.eq(req.data[:spec.W_SHIFT_WIDTH])
                with m.If(wr_sel[Ctrl.STEP]):
                    m.d.sync += [step.eq(req.data[:spec.STEP_WIDTH]), sq_count.eq(0)]
                if self.queue_port:
                    m.d.comb += [sq_rd.addr.eq(idx(sq_rd)), sq_wr.addr.eq(idx(sq_wr)),
                                 sq_wr.data.eq(req.data[:len(sq_wr.data)]),
                                 sq_wr.en.eq(wr_sel[Region.QUEUE])]
                    with m.If(wr_sel["queue_len"]):
                        m.d.sync += sq_count.eq(req.data[:len(sq_count)])
                if P:
                    with m.If(wr_sel["parity"]):
                        m.d.sync += self.parity_errors.eq(req.data[:spec.PARITY_COUNT_WIDTH])
                if self.learning:
                    assert spec.CTRL_HOMEO % spec.PROFILE_COUNT == 0
                    for key, port, word in (
                            (Region.POST, post_wr, req.data[:spec.PostTrace.size]),
                            (Region.PRE, pre_wr, req.data[:spec.TRACE_WIDTH]),
                            ("homeo", homeo_wr, req.data[:spec.Homeo.size])):
                        m.d.comb += [port.addr.eq(idx(port)), port.en.eq(wr_sel[key]),
                                     port.data.eq(word)]
                    m.d.comb += [post_rd.addr.eq(idx(post_rd)), pre_rd.addr.eq(idx(pre_rd)),
                                 homeo_rd.addr.eq(idx(homeo_rd))]
                    for key, reg in ((Ctrl.TRACES, traces), (Ctrl.MODULATOR, modulator),
                                     (Ctrl.LEARN_END, learn_end),
                                     *((f"rule{r + 1}", rule) for r, rule in enumerate(rules))):
                        with m.If(wr_sel[key]):
                            m.d.sync += reg.eq(req.data[:len(Value.cast(reg))])
                m.next = "MEM_DATA"

            with m.State("MEM_DATA"):
                # the read data are valid: capture them (no logic between a block RAM,
                # with its cascade multiplexers, and a register) ...
                m.d.sync += cap_row.eq(row_rd.data[:row_layout.size])
                if self.queue_port:
                    m.d.sync += sq_cap.eq(sq_rd.data)
                m.next = "MEM_SELECT"

            with m.State("MEM_SELECT"):
                # ... then select the requested one (AND-OR) into the response register
                resp = 0
                for key, word in captured.items():
                    resp = resp | Mux(rd_sel[key], word, 0)
                m.d.sync += self.o_mem.payload.data.eq(resp)
                m.next = "MEM_RESP"

            with m.State("MEM_RESP"):
                m.d.comb += self.o_mem.valid.eq(1)
                with m.If(self.o_mem.ready):
                    m.next = "IDLE"

            with m.State("INTEGRATE"):
                # event source: spike queue first, then the external stream
                m.d.comb += [sq_rd.addr.eq(sq_ptr), sq_rd.en.eq(q_adv)]
                with m.If(q_adv):
                    m.d.sync += q_valid.eq(~spikes_done)
                    with m.If(~spikes_done):
                        m.d.sync += sq_ptr.eq(sq_ptr + 1)
                m.d.comb += [
                    self.i_events.ready.eq(ext_ok),
                    ext_take.eq(ext_ok & self.i_events.valid & ~ev.eos),
                ]
                with m.If(ext_ok & self.i_events.valid & ev.eos):
                    m.d.sync += eos_seen.eq(1)
                # source stage (a register between the spike-queue and row-pointer memories)
                with m.If(e_adv):
                    m.d.sync += [
                        e_valid.eq(q_take | ext_take),
                        e_src.eq(Mux(q_valid, sq_rd.data, N + ev.channel)),
                        e_empty.eq(~q_valid & (ev.channel >= self.n_inputs)),
                    ]
                if self.learning:            # this step's pre events
                    m.d.comb += [learn.i_event.eq(e_valid & advance & ~e_empty),
                                 learn.i_event_src.eq(e_src)]
                # row-pointer stage (its read port register is the prefetch buffer)
                m.d.comb += [row_rd.en.eq(advance), row_rd.addr.eq(e_src)]
                with m.If(advance):
                    m.d.sync += [nr_valid.eq(e_valid), nr_empty.eq(e_empty)]
                # walker: one synapse per clock, next row loaded on the last one
                with m.If(pop):
                    m.d.sync += [w_start.eq(nr.start), w_popped.eq(1),
                                 w_left.eq(Mux(nr_empty, 0, nr.count))]
                    if P_row:                # the row taken, for its parity check
                        m.d.sync += [row_chk.eq(row_rd.data), row_chk_v.eq(~nr_empty)]
                with m.Elif(issue):
                    m.d.sync += [w_addr_r.eq(w_addr + 1), w_popped.eq(0),
                                 w_left.eq(w_left - 1)]
                m.d.sync += [s1_valid.eq(issue), s1_bank.eq(w_addr >> bank_bits)]
                m.d.sync += [r1_valid.eq(s1_valid), r1_sel.eq(s1_bank)]
                # synapse stage: accumulator address and scaled weight (registered, so that
                # no block-RAM output drives another block-RAM address directly)
                m.d.sync += [
                    s2_valid.eq(r1_valid & syn_target_ok),
                    s2_addr.eq(syn_acc_addr),
                    s2_w.eq(syn.weight),
                ]
                # read the accumulator word; scale the weight
                m.d.comb += acc_rd.addr.eq(s2_addr)
                m.d.sync += [s3_valid.eq(s2_valid), s3_addr.eq(s2_addr),
                             s3_w.eq(s2_w << w_shift)]
                # register the word. Its read was issued one clock before the synapse ahead
                # of it writes back: if that one hits the same word, forward its sum.
                m.d.sync += [
                    s4_valid.eq(s3_valid),
                    s4_addr.eq(s3_addr),
                    s4_w.eq(s3_w),
                    s4_old.eq(acc_rd.data),
                    s4_hit.eq(s4_valid & (s4_addr == s3_addr)),
                ]
                # accumulate. Writes of older synapses reached the read through the memory
                # or, when written in the same clock as the read, the transparent read port.
                acc_sum = Signal(signed(spec.ACC_WIDTH))
                m.d.comb += [
                    acc_sum.eq(Mux(s4_hit, last_sum, s4_old) + s4_w),
                    acc_wr.addr.eq(s4_addr),
                    acc_wr.data.eq(acc_sum),
                    acc_wr.en.eq(s4_valid),
                ]
                m.d.sync += last_sum.eq(acc_sum)
                with m.If(integrate_done):
                    m.d.sync += [eos_seen.eq(0), sq_ptr.eq(0)]
                    m.next = "UPDATE"

            with m.State("UPDATE"):
                # U0: issue neuron n_issue if the output FIFO has room for all in flight
                m.d.comb += u_issue.eq((n_issue != N) & ii_ready &
                                       (sfifo.level + inflight < self.spike_fifo_depth))
                m.d.comb += [st_rd.addr.eq(n_issue[:NB]), acc_rd.addr.eq(u_acc_addr)]
                if self.learning:
                    m.d.comb += post_rd.addr.eq(n_issue[:NB])
                with m.If(u_issue):
                    m.d.sync += n_issue.eq(n_issue + 1)
                m.d.sync += [u1_valid.eq(u_issue), u1_addr.eq(u_acc_addr)]
                # U1: state and accumulator arrive (registered); clear the slot
                m.d.comb += [acc_wr.addr.eq(u1_addr), acc_wr.data.eq(0),
                             acc_wr.en.eq(u1_valid)]
                m.d.sync += u2_valid.eq(u1_valid)          # (u2_state, u2_acc: above)
                # U2: fetch the profile
                m.d.comb += prof_rd.addr.eq(u2_state.profile)
                if self.learning:
                    m.d.comb += homeo_rd.addr.eq(u2_state.profile)
                # U3, U4: below, outside the FSM
                # write-back
                m.d.sync += inflight.eq(inflight + u_issue - lif.o_valid)
                with m.If(lif.o_valid):
                    m.d.comb += [st_wr.addr.eq(wb_n), st_wr.data.eq(lif.o_state),
                                 st_wr.en.eq(1)]
                    m.d.sync += wb_n.eq(wb_n + 1)
                    if self.learning:
                        m.d.comb += [post_wr.addr.eq(wb_n), post_wr.en.eq(1),
                                     post_wr.data.eq(Mux(lif.o_spike, post_fired, post_quiet))]
                    with m.If(lif.o_spike):
                        m.d.comb += [
                            spike_word.neuron.eq(wb_n), sfifo.w_en.eq(1),
                            sq_wr.addr.eq(sq_fill), sq_wr.data.eq(wb_n), sq_wr.en.eq(1),
                        ]
                        m.d.sync += sq_fill.eq(sq_fill + 1)
                with m.If((n_issue == N) & (inflight == 0)):
                    if self.learning:
                        m.d.comb += learn.i_start.eq(1)
                        m.next = "LEARN"
                    else:
                        end_of_step()

            if self.learning:
                with m.State("LEARN"):
                    # synapses 0 .. LEARN_END - 1 (LearnUnit), then the end-of-step marker
                    wr, rd = syn_ports[0]
                    m.d.comb += [
                        rd.addr.eq(learn.o_syn_addr), learn.i_syn.eq(r1_bank[0]),
                        wr.addr.eq(learn.o_syn_waddr), wr.data.eq(learn.o_syn_wdata),
                        wr.en.eq(learn.o_syn_we),
                        post_rd.addr.eq(learn.o_post_addr), pre_rd.addr.eq(learn.o_pre_addr),
                        learn.i_post.eq(u2_post), learn.i_x.eq(x_cap),
                        pre_wr.addr.eq(learn.o_pre_waddr), pre_wr.data.eq(learn.o_pre_wdata),
                        pre_wr.en.eq(learn.o_pre_we),
                    ]
                    with m.If(~learn.o_busy):
                        end_of_step()

        # U3: the profile arrives (registered, with the state and accumulator word)
        # U4: kernel
        u3_valid = Signal()
        u3_state = Signal(kernel.state_word)
        u3_acc = Signal(signed(spec.ACC_WIDTH))
        u4_valid = Signal()
        u4_state = Signal(kernel.state_word)
        u4_acc = Signal(signed(spec.ACC_WIDTH))
        m.d.sync += [
            u3_valid.eq(u2_valid), u3_state.eq(u2_state), u3_acc.eq(u2_acc),
            u4_valid.eq(u3_valid), u4_state.eq(u3_state), u4_acc.eq(u3_acc),
        ]                                    # (u4_params: above, with u2_state)
        if not self.learning:
            m.d.comb += [
                lif.i_valid.eq(u4_valid),
                lif.i_state.eq(u4_state),
                lif.i_acc.eq(u4_acc),
                lif.i_params.eq(u4_params),
            ]
            if P_prof:                      # the profile word used at U4
                perr_prof = Signal()
                m.d.sync += perr_prof.eq(u4_valid & u4_prof.xor())
                perr.append(perr_prof)
            if P:                           # count every word found wrong (saturating)
                count = self.parity_errors + sum(perr)
                top = (1 << spec.PARITY_COUNT_WIDTH) - 1
                with m.If(Cat(*perr).any()):
                    m.d.sync += self.parity_errors.eq(Mux(count > top, top, count))
            return m
        # U4 of a learning core: the homeostatic parameter and the two possible POST words
        # (PostUpdate); U5: kernel. The POST words wait in a small FIFO beside the kernel.
        m.submodules.post_update = pu = PostUpdate(kernel)
        u3_post, u4_post = Signal(spec.PostTrace), Signal(spec.PostTrace)
        u5_state, u5_acc = Signal.like(u4_state), Signal.like(u4_acc)
        m.d.sync += [u3_post.eq(u2_post), u4_post.eq(u3_post),
                     u5_state.eq(u4_state), u5_acc.eq(u4_acc)]
        m.d.comb += [
            pu.i_valid.eq(u4_valid), pu.i_params.eq(u4_params), pu.i_post.eq(u4_post),
            pu.i_homeo.eq(u4_homeo), pu.i_traces.eq(traces),
            lif.i_valid.eq(pu.o_valid), lif.i_state.eq(u5_state), lif.i_acc.eq(u5_acc),
            lif.i_params.eq(pu.o_params),
        ]
        th = spec.THETA_WIDTH
        fifo_depth = 1 << ceil_log2(kernel.latency + 1)
        m.submodules.post_fifo = pf = memory.Memory(
            shape=unsigned(spec.TRACE_WIDTH + 2 * th), depth=fifo_depth, init=[])
        pf_wr, pf_rd = pf.write_port(), pf.read_port(domain="comb")
        pf_wp, pf_rp = Signal(range(fifo_depth)), Signal(range(fifo_depth))
        m.d.comb += [pf_wr.addr.eq(pf_wp), pf_wr.en.eq(pu.o_valid),
                     pf_wr.data.eq(Cat(pu.o_fired.y, pu.o_fired.theta, pu.o_quiet.theta)),
                     pf_rd.addr.eq(pf_rp)]
        with m.If(pu.o_valid):
            m.d.sync += pf_wp.eq(pf_wp + 1)
        with m.If(lif.o_valid):
            m.d.sync += pf_rp.eq(pf_rp + 1)
        y = pf_rd.data[:spec.TRACE_WIDTH]
        m.d.comb += [post_fired.y.eq(y), post_fired.fired.eq(1),
                     post_fired.theta.eq(pf_rd.data[spec.TRACE_WIDTH:][:th]),
                     post_quiet.y.eq(y), post_quiet.theta.eq(pf_rd.data[spec.TRACE_WIDTH + th:])]
        return m
