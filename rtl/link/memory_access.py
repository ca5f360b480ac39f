"""WRITE_MEM, READ_MEM and RESET's state clearing through the core's memory port."""

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from neurofab import spec
from neurofab.checks import check_bool, check_int, check_pow2
from neurofab.kernels import DEFAULT_KERNEL, get_kernel
from neurofab.rtl.util import checked_init
from neurofab.spec import Ctrl, Nak, Region

__all__ = ["MemoryAccess"]

#: Bytes of the widest memory word the core's port carries (``MEM_DATA_WIDTH`` bits).
_WORD_BYTES = spec.MEM_DATA_WIDTH // 8
#: Bytes in front of the words of a WRITE_MEM payload: opcode, seq, ``MemHeader``.
_WORDS_START = spec.HEADER_BYTES + spec.MemHeader.size // 8


class MemoryAccess(wiring.Component):
    """Runs a WRITE_MEM or READ_MEM command, or RESET's sequence, on the core's memory port.

    **WRITE_MEM / READ_MEM** (``i_start`` with the ``MemHeader`` in ``i_header``): the checks
    of ``docs/protocol.md`` in order (region, range, length, busy), each from registers;
    ``count * bytes per word`` is formed by one addition per clock. WRITE_MEM then
    assembles each word from the frame buffer (``bytes per word`` bytes, little endian,
    shifted into the caller's word register with ``o_word_shift``) and writes it; READ_MEM
    reads each word and appends its bytes to the reply (``o_append``), taking them straight
    from the core's held response.

    **RESET** (``i_reset``): every neuron's state is read and written back with only its
    profile kept, every accumulator slot is zeroed and the step counter cleared. A
    ``learning`` core's learning dynamics restart as well: the modulator is zeroed, every
    ``PRE`` and ``POST`` word (traces, fired flags, homeostatic offsets) is zeroed and every
    synapse is read and written back with its eligibility zeroed (its weight and fraction
    bits, what it has learned, are kept).

    Each ends with ``o_done`` and ``o_reason`` (0: ACK, else the ``Nak``).

    Parameters
    ----------
    n_neurons, n_inputs, syn_capacity : int
        Geometry of the core (its region depths, ``spec.region_depths``).
    max_payload : int
        Longest payload, ``[spec.MIN_MAX_PAYLOAD, spec.MAX_PAYLOAD]``: a READ_MEM reply
        longer than it is refused.
    kernel : str or Kernel
        The core's neuron kernel (``neurofab.kernels``): the widths of its STATE and
        PROFILE words.
    learning : bool
        The core learns: its regions ``PRE`` and ``POST`` exist and its ``SYNAPSE`` and
        ``CTRL`` words are wider (``spec.region_word_widths(..., learning=True)``).
    n_cores : int
        Cores behind the memory port, all of this geometry (``MemHeader.target`` selects
        one, ``o_target`` says which); RESET clears every one of them in turn.
    route_depth : int
        Words of the routing table (``MemHeader.target = spec.ROUTE_TARGET``, region 0,
        ``spec.ROUTE_WORD_BYTES`` per word, write-only); 0: no routing table.

    Attributes
    ----------
    i_start : In(1)
        Start WRITE_MEM or READ_MEM.
    i_reset : In(1)
        Start RESET's sequence.
    i_read_mem, i_write_mem : In(1)
        The command is READ_MEM / WRITE_MEM (neither: RESET); held until ``o_done``.
    i_header : In(spec.MemHeader)
        The command's header, from ``i_start`` until the range is checked.
    i_payload_end : In(range(max_payload + spec.MIN_BODY + 1))
        WRITE_MEM: frame-buffer index after the payload (the words must end there).
    i_running : In(1)
        Steps are pending or running: refuse with ``BUSY``.
    i_word : In(spec.MEM_DATA_WIDTH)
        The caller's word register: the data of a memory write.
    o_word_shift : Out(1)
        Shift ``o_word_byte`` into the word register from the top (``word = Cat(word[8:],
        byte)``).
    o_word_byte : Out(8)
        The byte shifted in.
    o_word_load : Out(1)
        Load ``o_word_value`` into the word register.
    o_word_value : Out(spec.MEM_DATA_WIDTH)
        The value loaded.
    i_data : In(8)
        The frame buffer's byte at its read address, when ``i_data_valid``.
    i_data_valid : In(1)
        ``i_data`` is valid.
    o_take : Out(1)
        ``i_data`` is taken: advance the read address.
    o_append : Out(1)
        Append ``o_data`` to the reply.
    o_data : Out(8)
        The byte appended.
    o_mem : Out(stream.Signature(spec.MemRequest))
        To the core's ``i_mem``.
    i_mem : In(stream.Signature(spec.MemResponse))
        From the core's ``o_mem``.
    o_target : Out(4)
        The target of the request on ``o_mem`` (``MemHeader.target``: a core, or
        ``spec.ROUTE_TARGET``).
    o_done : Out(1)
        The command is finished (in this clock).
    o_reason : Out(4)
        With ``o_done``: 0 for an ACK, else the ``Nak`` reason.
    """

    @checked_init
    def __init__(self, *, n_neurons, n_inputs, syn_capacity, max_payload=spec.MAX_PAYLOAD,
                 kernel=DEFAULT_KERNEL, learning=False, n_cores=1, route_depth=0,
                 queue=False):
        self.kernel = get_kernel(kernel)
        self.learning = check_bool("learning", learning)
        self.queue = check_bool("queue", queue)
        self.n_cores = check_int("n_cores", n_cores, 1, spec.ROUTE_TARGET)
        self.route_depth = check_int("route_depth", route_depth, 0,
                                     spec.AER_MAX_PORTS * spec.ROUTE_MAX_ENTRIES)
        if self.learning and self.n_cores > 1:
            raise ValueError(f"n_cores = {n_cores}: learning cores are served one at a time "
                             f"(n_cores must be 1 with learning)")
        self.n_neurons = check_pow2("n_neurons", n_neurons, 2, spec.MAX_NEURONS)
        self.n_inputs = check_int("n_inputs", n_inputs, 0, spec.MAX_INPUTS)
        self.syn_capacity = check_int("syn_capacity", syn_capacity, 1, spec.MAX_SYNAPSES)
        self.max_payload = check_int("max_payload", max_payload, spec.MIN_MAX_PAYLOAD,
                                     spec.MAX_PAYLOAD)
        self.depths = spec.region_depths(n_neurons, n_inputs, syn_capacity,
                                         learning=self.learning, queue=self.queue)
        #: Bytes of one word of every region on the wire.
        self.word_bytes = spec.region_word_byte_counts(
            self.kernel.state_word, self.kernel.profile, learning=self.learning)
        super().__init__({
            "i_start": In(1),
            "i_reset": In(1),
            "i_read_mem": In(1),
            "i_write_mem": In(1),
            "i_header": In(spec.MemHeader),
            "i_payload_end": In(range(max_payload + spec.MIN_BODY + 1)),
            "i_running": In(1),
            "i_word": In(spec.MEM_DATA_WIDTH),
            "o_word_shift": Out(1),
            "o_word_byte": Out(8),
            "o_word_load": Out(1),
            "o_word_value": Out(spec.MEM_DATA_WIDTH),
            "i_data": In(8),
            "i_data_valid": In(1),
            "o_take": Out(1),
            "o_append": Out(1),
            "o_data": Out(8),
            "o_mem": Out(stream.Signature(spec.MemRequest)),
            "i_mem": In(stream.Signature(spec.MemResponse)),
            "o_target": Out(4),
            "o_done": Out(1),
            "o_reason": Out(4),
        })

    def elaborate(self, platform):
        m = Module()
        N = self.n_neurons
        # Indices up to the largest region's depth need `ib` bits (a start equal to a
        # region's depth with count 0 is an empty access at its end, like any start + count
        # <= depth; a start beyond is refused with start_hi); total holds start + count,
        # then (once the range is known good, so count <= that depth) count * bytes.
        max_depth = max(max(self.depths.values()), self.route_depth)
        ib = max(1, ceil_log2(max_depth + 1))
        index = Signal(ib)
        # the regions of this core: numbers 0 .. n_reg - 1, those of depth 0 absent (a core
        # without learning has no PRE, POST, one without the queue port no QUEUE: their
        # numbers are answered BAD_REGION, and a core with neither decodes six regions)
        n_reg = max(r.value for r in Region if self.depths[r]) + 1
        rbits = ceil_log2(n_reg)
        absent = [r for r in range(n_reg) if not self.depths[Region(r)]]
        region = Signal(rbits)
        target = Signal(4)              # core (or ROUTE_TARGET) of the request
        route = Signal()                # the request is a routing-table write
        write = Signal()
        count = Signal(16)              # words still to transfer
        total = Signal(range(max((1 << ib) + (1 << 16), max_depth * _WORD_BYTES + 1)))
        start_hi = Signal()
        nbytes = Signal(range(_WORD_BYTES + 1))      # bytes per word of the region
        nbytes1 = Signal(range(_WORD_BYTES))         # nbytes - 1
        left = Signal(range(_WORD_BYTES + 1))        # LOAD: bytes of the word still to read
        byte_count = Signal(range(_WORD_BYTES + 1))
        reset_phase = Signal(range(9 if self.learning else 4))
        range_bad = Signal()
        length_bad = Signal()           # registered, valid once total is the size
        m.d.sync += length_bad.eq(Mux(self.i_read_mem, total > self.max_payload,
                                      total + _WORDS_START != self.i_payload_end))
        word_bytes = self.word_bytes
        depth_of = Array(C(self.depths[Region(r)], len(total)) for r in range(n_reg))
        nbytes_of = Array(C(word_bytes[Region(r)], 4) for r in range(n_reg))
        nbytes1_of = Array(C(word_bytes[Region(r)] - 1, 4) for r in range(n_reg))
        profile = self.kernel.state_word["profile"]
        profile_mask = ((1 << profile.width) - 1) << profile.offset
        elig = spec.PlasticSynapse["elig"]
        keep_learned = (1 << elig.offset) - 1           # a synapse without its eligibility
        assert elig.offset + elig.width == spec.PlasticSynapse.size
        n_sources = self.n_neurons + self.n_inputs
        hdr = self.i_header
        rb = spec.RegionByte(hdr.region)

        m.d.comb += [self.o_mem.payload.index.eq(index), self.o_mem.payload.region.eq(region),
                     self.o_mem.payload.write.eq(write),
                     self.o_mem.payload.data.eq(self.i_word), self.o_target.eq(target)]
        # the header's target: a core of this board, or (writes only) the routing table
        hdr_route = (rb.target == spec.ROUTE_TARGET) if self.route_depth else C(0)
        bad_region = Mux(hdr_route, (rb.region != 0) | self.i_read_mem,
                         (rb.region >= n_reg) | (rb.target >= self.n_cores) |
                         Cat(rb.region == r for r in absent).any())

        def finish(reason=0):
            m.d.comb += [self.o_done.eq(1), self.o_reason.eq(reason)]
            m.next = "IDLE"

        def load_word(value):
            m.d.comb += [self.o_word_load.eq(1), self.o_word_value.eq(value)]

        with m.FSM(name="memory") as fsm:
            with m.State("IDLE"):
                with m.If(self.i_start):
                    m.next = "CHECK"
                with m.If(self.i_reset):
                    m.d.sync += [index.eq(0), region.eq(Region.STATE), write.eq(0),
                                 reset_phase.eq(0), target.eq(0), route.eq(0)]
                    m.next = "REQUEST"
            with m.State("CHECK"):
                with m.If(bad_region):
                    finish(Nak.BAD_REGION)
                with m.Else():
                    m.d.sync += [
                        total.eq(hdr.start[:ib] + hdr.count),
                        start_hi.eq(hdr.start[ib:] != 0),
                        nbytes.eq(Mux(hdr_route, spec.ROUTE_WORD_BYTES,
                                      nbytes_of[rb.region[:rbits]])),
                        nbytes1.eq(Mux(hdr_route, spec.ROUTE_WORD_BYTES - 1,
                                       nbytes1_of[rb.region[:rbits]])),
                        count.eq(hdr.count),
                        index.eq(hdr.start[:ib]),
                        region.eq(rb.region[:rbits]),
                        target.eq(rb.target),
                        route.eq(hdr_route),
                        write.eq(~self.i_read_mem),
                    ]
                    m.next = "RANGE"
            with m.State("RANGE"):
                depth = Mux(route, self.route_depth, depth_of[region]) if self.route_depth \
                    else depth_of[region]
                m.d.sync += [range_bad.eq(start_hi | (total > depth)),
                             total.eq(0), byte_count.eq(nbytes)]
                m.next = "MULTIPLY"
            # total = count * nbytes, one addition per clock; length_bad registers
            with m.State("MULTIPLY"):
                with m.If(byte_count == 0):
                    m.next = "CHECK2"
                with m.Else():
                    m.d.sync += [total.eq(total + count), byte_count.eq(byte_count - 1)]
            with m.State("CHECK2"):
                with m.If(range_bad):
                    finish(Nak.BAD_RANGE)
                with m.Elif(length_bad):
                    finish(Nak.BAD_LENGTH)
                with m.Elif(self.i_running):
                    finish(Nak.BUSY)
                with m.Elif(count == 0):
                    finish()
                with m.Elif(self.i_read_mem):
                    m.next = "REQUEST"
                with m.Else():
                    m.d.sync += left.eq(nbytes)
                    m.next = "LOAD"       # the read address is at the first word already
            # assemble one word: nbytes bytes, little endian, then zeros
            with m.State("LOAD"):
                take = left != 0
                with m.If(self.i_data_valid | ~take):
                    m.d.comb += [self.o_take.eq(take), self.o_word_shift.eq(1),
                                 self.o_word_byte.eq(Mux(take, self.i_data, 0))]
                    m.d.sync += left.eq(left - take)
                    with m.If(byte_count == _WORD_BYTES - 1):
                        m.d.sync += byte_count.eq(0)
                        m.next = "REQUEST"
                    with m.Else():
                        m.d.sync += byte_count.eq(byte_count + 1)
            with m.State("REQUEST"):
                m.d.comb += self.o_mem.valid.eq(1)
                with m.If(self.o_mem.ready):
                    m.next = "RESPONSE"
            with m.State("RESPONSE"):
                m.d.comb += self.i_mem.ready.eq(1)
                resp = self.i_mem.payload.data
                with m.If(self.i_mem.valid):
                    with m.If(self.i_read_mem):
                        m.d.comb += self.i_mem.ready.eq(0)   # held while emitted
                        m.next = "EMIT"
                    with m.Elif(self.i_write_mem):
                        with m.If(count == 1):
                            finish()
                        with m.Else():
                            m.d.sync += [count.eq(count - 1), index.eq(index + 1),
                                         left.eq(nbytes)]
                            m.next = "LOAD"
                    with m.Else():                  # RESET
                        m.next = "REQUEST"
                        with m.Switch(reset_phase):
                            with m.Case(0):    # STATE read -> write it, profile kept
                                load_word(resp & profile_mask)
                                m.d.sync += [write.eq(1), reset_phase.eq(1)]
                            with m.Case(1):
                                with m.If(index == N - 1):
                                    load_word(0)
                                    m.d.sync += [index.eq(0), region.eq(Region.ACC),
                                                 reset_phase.eq(2)]
                                with m.Else():
                                    m.d.sync += [index.eq(index + 1), write.eq(0),
                                                 reset_phase.eq(0)]
                            with m.Case(2):
                                with m.If(index == N * spec.DELAY_SLOTS - 1):
                                    m.d.sync += [index.eq(Ctrl.STEP.value),
                                                 region.eq(Region.CTRL), reset_phase.eq(3)]
                                with m.Else():
                                    m.d.sync += index.eq(index + 1)
                            if self.learning:
                                self._reset_learning(m, index, region, write, reset_phase,
                                                     resp, load_word, finish, n_sources,
                                                     keep_learned)
                            elif self.n_cores > 1:
                                with m.Case(3):         # STEP written: the next core
                                    with m.If(target == self.n_cores - 1):
                                        finish()
                                    with m.Else():
                                        m.d.sync += [target.eq(target + 1), index.eq(0),
                                                     region.eq(Region.STATE), write.eq(0),
                                                     reset_phase.eq(0)]
                            with m.Default():
                                finish()
            # the core holds its response until it is taken: its bytes go straight out
            with m.State("EMIT"):
                m.d.comb += [self.o_data.eq(self.i_mem.payload.data.word_select(byte_count, 8)),
                             self.o_append.eq(1)]
                m.d.sync += byte_count.eq(byte_count + 1)
                with m.If(byte_count == nbytes1):
                    m.d.comb += self.i_mem.ready.eq(1)
                    m.d.sync += byte_count.eq(0)
                    with m.If(count == 1):
                        finish()
                    with m.Else():
                        m.d.sync += [count.eq(count - 1), index.eq(index + 1)]
                        m.next = "REQUEST"
        fsm.state.attrs["fsm_encoding"] = "one-hot"
        return m

    def _reset_learning(self, m, index, region, write, reset_phase, resp, load_word, finish,
                        n_sources, keep_learned):
        """RESET's phases 3 .. 8 on a learning core (cases of the ``reset_phase`` switch,
        entered with the word register zero and ``write`` set): MODULATOR, every PRE word,
        every POST word zeroed, then every synapse read (7) and written back without its
        eligibility (8)."""
        with m.Case(3):                 # STEP written -> MODULATOR
            m.d.sync += [index.eq(Ctrl.MODULATOR.value), reset_phase.eq(4)]
        with m.Case(4):                 # MODULATOR written -> PRE
            m.d.sync += [index.eq(0), region.eq(Region.PRE), reset_phase.eq(5)]
        with m.Case(5):
            with m.If(index == n_sources - 1):
                m.d.sync += [index.eq(0), region.eq(Region.POST), reset_phase.eq(6)]
            with m.Else():
                m.d.sync += index.eq(index + 1)
        with m.Case(6):
            with m.If(index == self.n_neurons - 1):
                m.d.sync += [index.eq(0), region.eq(Region.SYNAPSE), write.eq(0),
                             reset_phase.eq(7)]
            with m.Else():
                m.d.sync += index.eq(index + 1)
        with m.Case(7):                 # a synapse read -> written back, eligibility 0
            load_word(resp & keep_learned)
            m.d.sync += [write.eq(1), reset_phase.eq(8)]
        with m.Case(8):
            with m.If(index == self.syn_capacity - 1):
                finish()
            with m.Else():
                m.d.sync += [index.eq(index + 1), write.eq(0), reset_phase.eq(7)]
