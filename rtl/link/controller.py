"""Command controller of the host link: frames in, replies out, the neuron core in between.

``LinkController`` sits between the COBS decoder/encoder and the ``NeuronCore`` and
implements the board side of ``docs/protocol.md``; ``neurofab.host.codec`` is its golden
model (tests drive it with frames built by the codec and parse its replies with it).

Data path (each named unit is a component of its own, in this package)::

    CobsDecoder ─i_frame─▶ Receiver ─▶ FrameBuffer, receive half ──┐  (Crc16 checks it)
                                                                   ▼
               command FSM, with InjectParser, MemoryAccess and EventPacker
                                                                   ▼
    CobsEncoder ◀─o_frame─ Sender ◀─ FrameBuffer, reply half ◀─────┘  (Crc16 appended)

    InjectParser ─▶ StepFeeder (input FIFO ─▶ feeder) ─o_events─▶ core
    core ─i_spikes─▶ StepFeeder (output FIFO) ─▶ EventPacker (READ_EVENTS)
    MemoryAccess ─o_mem─▶ core ─i_mem─▶ MemoryAccess (WRITE_MEM, READ_MEM, RESET)
    Counters (nine u32 counters, the IDENTIFY payload) ─▶ STATUS, IDENTIFY

* **Receive** (:class:`~.receiver.Receiver`). Decoded bytes are written into the receive
  half of one byte-wide block RAM (:class:`~.frame_buffer.FrameBuffer`) while the CRC
  unit checks the residue; opcode and seq are also kept in registers. At the frame's end
  token the link checks of protocol §3.4 run in order (oversize, COBS, runt, CRC, opcode).
* **Execute** (this module). A command is executed by one FSM that reads its payload from
  the receive half (fixed headers are shifted into a word register) and writes its reply
  payload into the reply half of the same RAM; INJECT's records are parsed by
  :class:`~.inject_parser.InjectParser`, READ_EVENTS' records packed by
  :class:`~.event_packer.EventPacker`, and WRITE_MEM, READ_MEM and RESET's clearing of the
  state run through the core's memory port in :class:`~.memory_access.MemoryAccess`. The reply (or a NAK) is the *stored reply*:
  a frame with the seq and opcode of the last executed command is a retransmission and
  gets the stored reply again without being executed. Link NAKs (CRC, FRAMING, OVERSIZE)
  and UNKNOWN_OPCODE NAKs are sent from registers and leave the stored reply alone.
* **Count** (:class:`~.counters.Counters`). The counters live in a small memory,
  incremented one byte at a time by an engine fed from per-counter pending counts; STATUS
  and IDENTIFY copy their bytes from that memory into the reply (STATUS: one atomic
  snapshot of all counters).
* **Send** (:class:`~.sender.Sender`). Opcode, seq, payload and the CRC (most significant
  byte first) go out as ``FrameByte`` s with ``last`` on the final CRC byte; ``o_frame``
  is a register.
* **Run** (:class:`~.feeder.StepFeeder`). ``RUN`` adds to ``steps_pending``; a background
  feeder starts one step at a time while ``steps_pending > 0``: the events of one complete
  buffered step (up to and including its END entry, which is the core's end-of-step
  marker), or a lone end-of-step marker if no complete step is buffered. The core's
  spikes and its end-of-step marker go into the output FIFO (the core waits while it is
  full); ``steps_pending`` drops when the marker enters it.

The receiver takes decoded bytes only while it waits for a frame: bytes that arrive while
a command executes or its reply is sent are held back, and the UART counts what it has to
drop (``RX_OVERRUNS``); the cut frame then fails its link checks. No input can stall the
controller: every frame end leads back to receiving.

Timing (iCE40 at 30 MHz): every block-RAM address comes straight from a register, wide
compares that steer the FSM are registered a clock ahead, and payload bytes are read at
two clocks per byte — far faster than any UART still.
"""

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped
from amaranth.utils import ceil_log2

from neurofab import spec
from neurofab.checks import check_bool, check_int, check_pow2
from neurofab.kernels import DEFAULT_KERNEL, get_kernel
from neurofab.rtl.util import checked_init
from neurofab.spec import Counter, Nak, Opcode
from .counters import Counters
from .crc import Crc16
from .event_packer import EventPacker
from .feeder import StepFeeder
from .frame_buffer import FrameBuffer
from .inject_parser import InjectParser
from .memory_access import MemoryAccess
from .receiver import Receiver
from .sender import Sender

__all__ = ["LinkController", "identify_payload"]

#: Bytes of the widest memory word the core's port carries (``MEM_DATA_WIDTH`` bits).
_WORD_BYTES = spec.MEM_DATA_WIDTH // 8
#: Payload bytes of the fixed headers captured while a frame is received (``MemHeader``).
_HDR_BYTES = spec.MemHeader.size // 8


def identify_payload(*, n_neurons, n_inputs, syn_capacity, clk_hz, max_payload, in_depth,
                     out_depth, board_id, build_hash, kernel=DEFAULT_KERNEL, learning=False,
                     n_cores=1, route_entries=0, encoder=None, queue=False, pace=False):
    """The IDENTIFY reply payload (``spec.IdentifyReply``) of a controller (``encoder``:
    ``None`` or the dict ``LinkController.encoder``)."""
    enc = encoder or {}
    value = spec.IdentifyReply.const({
        "protocol": spec.PROTOCOL_VERSION, "board": board_id, "build": build_hash,
        "clk_hz": clk_hz, "max_payload": max_payload, "n_cores": n_cores,
        "n_profiles": spec.PROFILE_COUNT, "n_neurons": n_neurons, "n_inputs": n_inputs,
        "n_synapses": syn_capacity, "in_depth": in_depth, "out_depth": out_depth,
        "kernel": get_kernel(kernel).kernel_id, "learning": int(bool(learning)),
        "route_entries": route_entries,
        "encoder": spec.ENCODER_IDS[enc["kind"]] if enc else 0,
        "enc_width": enc.get("width", 0), "enc_channels": enc.get("channels", 0),
        "enc_seed": enc.get("seed", 0), "enc_arg": enc.get("arg", 0),
        "queue": int(bool(queue)), "pace": int(bool(pace)),
    }).as_value().value
    return value.to_bytes(spec.IdentifyReply.size // 8, "little")


def _build_hash(value):
    """``build_hash`` as the u64 of ``IdentifyReply.build``: an int, or the first 8 bytes of
    a digest (bytes, or a hex string), read most significant byte first so that the hex
    digest's first 16 digits are the number."""
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value)
        except ValueError:
            raise ValueError(f"build_hash {value!r} is not a hex string") from None
    if isinstance(value, (bytes, bytearray)):
        if len(value) < 8:
            raise ValueError(f"build_hash needs at least 8 bytes, got {len(value)}")
        return int.from_bytes(bytes(value[:8]), "big")
    return check_int("build_hash", value, 0, (1 << 64) - 1)


class LinkController(wiring.Component):
    """Board side of the host-link protocol (``docs/protocol.md``) for one ``NeuronCore``.

    Parameters
    ----------
    n_neurons, n_inputs, syn_capacity : int
        Geometry of the core behind the controller (announced by IDENTIFY, used for range
        checks); as for ``NeuronCore``.
    clk_hz : int
        Core clock in Hz, announced by IDENTIFY.
    max_payload : int
        Longest payload accepted and sent, [``spec.MIN_MAX_PAYLOAD``, ``spec.MAX_PAYLOAD``].
        Frames with a longer body than ``max_payload + 4`` are NAKed ``OVERSIZE``.
    in_depth, out_depth : int
        Entries of the input and output event buffers (events plus step ends), powers
        of two >= 2.
    board_id : int
        Board id for IDENTIFY (0: simulated board).
    build_hash : int, bytes or str
        Gateware build hash for IDENTIFY: a u64, or a digest whose first 8 bytes are used.
    kernel : str or Kernel
        The core's neuron kernel (``neurofab.kernels``), announced by IDENTIFY; it sets
        the widths of STATE and PROFILE words.
    learning : bool
        The core learns (``NeuronCore(learning=True)``): announced by IDENTIFY; the
        regions PRE and POST exist, SYNAPSE and CTRL words are 9 bytes, and RESET also
        clears the learning dynamics (``MemoryAccess``).
    n_cores : int
        Cores of this geometry behind the memory port (``o_mem_target`` selects one); the
        spikes of core ``k`` arrive on ``i_spikes`` as ``k * n_neurons + neuron``.
    route_entries : int
        Routing-table slots per router port (``n_cores + 1`` ports); 0: no router.
    encoder : dict, optional
        An on-chip spike encoder in front of the core: ``{"kind", "width", "channels",
        "seed", "arg"}`` (announced by IDENTIFY); INJECT then carries values below
        ``2 ** width`` instead of channel numbers.
    pace : bool
        Paced mode (PACE takes a period, ``StepFeeder(pace=True)``; announced by
        IDENTIFY); without it PACE takes only period 0.
    queue : bool
        The cores have the ``QUEUE`` region (``NeuronCore(queue_port=True)``; announced by
        IDENTIFY): a host reads and writes the spike queue for snapshots.

    Attributes
    ----------
    i_frame : In(stream.Signature(spec.DecodedByte))
        Decoded frame bytes and end tokens, from ``CobsDecoder``.
    o_frame : Out(stream.Signature(spec.FrameByte))
        Reply frame bodies (CRC included, ``last`` on its second byte), to ``CobsEncoder``.
    o_events : Out(stream.Signature(spec.InputEvent))
        To the core's ``i_events``.
    i_spikes : In(stream.Signature(spec.SpikeEvent))
        From the core's ``o_spikes``.
    o_mem : Out(stream.Signature(spec.MemRequest))
        To the core's ``i_mem``.
    i_mem : In(stream.Signature(spec.MemResponse))
        From the core's ``o_mem``.
    i_uart_error, i_rx_overrun : In(1)
        One-cycle pulses from ``UartRx`` (counted as ``UART_ERRORS`` / ``RX_OVERRUNS``).
    i_parity_errors : In(spec.PARITY_COUNT_WIDTH)
        The core's parity-error counter (``NeuronCore.parity_errors``), reported by
        STATUS; 0 on a core without parity.
    o_running : Out(1)
        Steps are queued or one is in progress (e.g. for an LED).
    o_mem_target : Out(4)
        The target (core, or ``spec.ROUTE_TARGET``) of the request on ``o_mem``.
    o_clear : Out(1)
        One-clock pulse of RESET once no step is in progress: clear what lies between
        the link and the cores (spike buffers, an encoder's state).
    """

    @checked_init
    def __init__(self, *, n_neurons, n_inputs, syn_capacity, clk_hz,
                 max_payload=spec.MAX_PAYLOAD, in_depth=1024, out_depth=1024, board_id=0,
                 build_hash=0, kernel=DEFAULT_KERNEL, learning=False, n_cores=1,
                 route_entries=0, encoder=None, queue=False, pace=False):
        self.kernel = get_kernel(kernel)
        self.pace = check_bool("pace", pace)
        self.learning = check_bool("learning", learning)
        self.queue = check_bool("queue", queue)
        self.n_cores = check_int("n_cores", n_cores, 1, spec.AER_MAX_PORTS - 1)
        self.route_entries = check_int("route_entries", route_entries, 0,
                                       spec.ROUTE_MAX_ENTRIES)
        if encoder is not None:
            if not isinstance(encoder, dict) or set(encoder) != {"kind", "width", "channels",
                                                                 "seed", "arg"}:
                raise TypeError(f"encoder must be None or a dict with the keys kind, width, "
                                f"channels, seed, arg, not {encoder!r}")
            spec.check_encoder_kind(encoder["kind"])
            check_int("encoder width", encoder["width"], spec.ENC_MIN_WIDTH, spec.ENC_MAX_WIDTH)
        self.encoder = encoder
        self.n_neurons = check_pow2("n_neurons", n_neurons, 2, spec.MAX_NEURONS)
        self.n_inputs = check_int("n_inputs", n_inputs, 0, spec.MAX_INPUTS)
        self.syn_capacity = check_int("syn_capacity", syn_capacity, 1, spec.MAX_SYNAPSES)
        self.clk_hz = check_int("clk_hz", clk_hz, 1, (1 << 32) - 1)
        self.max_payload = check_int("max_payload", max_payload, spec.MIN_MAX_PAYLOAD,
                                     spec.MAX_PAYLOAD)
        self.in_depth = check_pow2("in_depth", in_depth, 2, 1 << 24)
        self.out_depth = check_pow2("out_depth", out_depth, 2, spec.MAX_OUT_DEPTH)
        self.board_id = check_int("board_id", board_id, 0, 0xFFFF)
        self.build_hash = _build_hash(build_hash)
        self.depths = spec.region_depths(n_neurons, n_inputs, syn_capacity,
                                         learning=self.learning, queue=self.queue)
        for region, depth in self.depths.items():
            if depth > 1 << spec.MEM_INDEX_WIDTH:
                raise ValueError(f"{region.name} region of {depth} words does not fit the "
                                 f"{spec.MEM_INDEX_WIDTH}-bit memory index")
        #: Longest frame body accepted.
        self.max_body = max_payload + spec.MIN_BODY
        super().__init__({
            "i_frame": In(stream.Signature(spec.DecodedByte)),
            "o_frame": Out(stream.Signature(spec.FrameByte)),
            "o_events": Out(stream.Signature(spec.InputEvent)),
            "i_spikes": In(stream.Signature(spec.SpikeEvent)),
            "o_mem": Out(stream.Signature(spec.MemRequest)),
            "i_mem": In(stream.Signature(spec.MemResponse)),
            "i_uart_error": In(1),
            "i_parity_errors": In(spec.PARITY_COUNT_WIDTH),
            "i_rx_overrun": In(1),
            "o_running": Out(1),
            "o_mem_target": Out(4),
            "o_clear": Out(1),
        })

    def identify_payload(self):
        """The IDENTIFY reply payload this controller sends."""
        return identify_payload(
            n_neurons=self.n_neurons, n_inputs=self.n_inputs, syn_capacity=self.syn_capacity,
            clk_hz=self.clk_hz, max_payload=self.max_payload, in_depth=self.in_depth,
            out_depth=self.out_depth, board_id=self.board_id, build_hash=self.build_hash,
            kernel=self.kernel, learning=self.learning, n_cores=self.n_cores,
            route_entries=self.route_entries, encoder=self.encoder, queue=self.queue,
            pace=self.pace)

    def elaborate(self, platform):
        m = Module()
        N = self.n_neurons
        MAXP = self.max_payload
        HDR = spec.HEADER_BYTES

        # --- frame buffer: receive half (body as received) and reply half (payload) ------
        half = 1 << ceil_log2(self.max_body)
        RX, TX = 0, half
        m.submodules.buffer = buf = FrameBuffer(depth=2 * half)
        rd_ok = buf.o_data_valid        # buf.o_data is the byte at the read address
        rd_take = Signal()               # take it: the read address advances

        def seek(addr):
            m.d.comb += [buf.i_seek.eq(1), buf.i_seek_addr.eq(addr)]

        reply_ptr = Signal(range(half))     # next reply byte: the reply is bytes 0 .. ptr - 1
        reply_data = Signal(8)
        reply_write = Signal()              # write reply_data at reply_ptr and advance
        copy_byte = Signal(8)           # ECHO, STATUS: a byte read, written next clock
        copy_pending = Signal()
        copy_last = Signal()
        m.d.comb += [buf.i_write_addr.eq(TX + reply_ptr), buf.i_write_data.eq(reply_data),
                     buf.i_write_en.eq(reply_write)]
        with m.If(reply_write):
            m.d.sync += reply_ptr.eq(reply_ptr + 1)

        # --- receive, send and one CRC unit: the received frame, then the reply -----------
        m.submodules.receiver = rx = Receiver(max_body=self.max_body)
        m.submodules.sender = tx = Sender(max_payload=MAXP)
        m.submodules.crc = crc = Crc16()
        connect(m, flipped(self.i_frame), rx.i_frame)
        connect(m, tx.o_frame, flipped(self.o_frame))
        m.d.comb += [rx.i_crc_residue.eq(crc.o_residue), tx.i_crc.eq(crc.o_crc),
                     tx.i_byte.eq(buf.o_data_reg), tx.i_byte_valid.eq(buf.o_data_reg_valid)]
        with m.If(rx.o_crc.valid):
            m.d.comb += [crc.i_stream.valid.eq(1), crc.i_stream.p.eq(rx.o_crc.p)]
        with m.Else():
            m.d.comb += [crc.i_stream.valid.eq(tx.o_crc.valid), crc.i_stream.p.eq(tx.o_crc.p)]
        cur_op = rx.o_opcode
        cur_seq = rx.o_seq
        pay_end = rx.o_payload_end      # receive-buffer index after the payload
        at_end = Signal()               # the read address is at pay_end (valid with rd_ok)
        m.d.sync += at_end.eq(buf.o_addr == RX + pay_end)

        def pay_len_is(n):
            return pay_end == HDR + n

        # --- counters and the IDENTIFY payload ---------------------------------------------
        ident = self.identify_payload()
        m.submodules.counters = counters = Counters(constant=ident)
        ID_BASE = counters.constant_base
        count_now = Signal(len(Counter))
        m.d.comb += [counters.i_count.eq(count_now),
                     count_now[Counter.UART_ERRORS.value].eq(self.i_uart_error),
                     count_now[Counter.RX_OVERRUNS.value].eq(self.i_rx_overrun),
                     count_now[Counter.NAKS_SENT.value].eq(tx.o_nak_sent)]
        # (counter PACE_OVERRUNS: from the feeder, below)

        def count(counter):
            m.d.comb += count_now[counter.value].eq(1)

        status_hold = Signal()          # the command FSM owns the counters' read port
        status_ok = Signal()            # counters.o_data is the byte at status_addr
        status_addr = Signal(range(counters.depth))
        m.d.comb += [counters.i_hold.eq(status_hold), counters.i_addr.eq(status_addr)]

        # --- command word: MemHeader / RunRequest / memory words / status words ---------
        # HDR_LOAD shifts payload bytes 0..6 in from the top: byte k lands at 24 + 8k.
        word = Signal(spec.MEM_DATA_WIDTH)
        hdr_lsb = spec.MEM_DATA_WIDTH - 8 * _HDR_BYTES
        req_steps = word[hdr_lsb:hdr_lsb + 32]
        byte_count = Signal(range(_WORD_BYTES + 1))

        def load_word(value):
            m.d.sync += word.eq(value)

        def memory_word():            # MemoryAccess assembles and loads words in `word`
            with m.If(mem.o_word_shift):
                m.d.sync += word.eq(Cat(word[8:], mem.o_word_byte))
            with m.If(mem.o_word_load):
                m.d.sync += word.eq(mem.o_word_value)

        # --- event buffers, steps pending, step feeder ------------------------------------
        # INJECT's indices: input channels, or an encoder's values; output neuron numbers:
        # core * N + neuron
        n_index = 1 << self.encoder["width"] if self.encoder else self.n_inputs
        n_out = N * (1 << ceil_log2(self.n_cores))
        m.submodules.feeder = feeder = StepFeeder(
            n_neurons=n_out, n_inputs=n_index, in_depth=self.in_depth,
            out_depth=self.out_depth, pace=self.pace)
        resetting = Signal()            # RESET in progress: no new step, discard output
        connect(m, feeder.o_events, flipped(self.o_events))
        connect(m, flipped(self.i_spikes), feeder.i_spikes)
        m.d.comb += [feeder.i_run_steps.eq(req_steps), feeder.i_resetting.eq(resetting),
                     self.o_running.eq(feeder.o_running)]
        steps_pending = feeder.o_steps_pending
        period = Signal(32)             # PACE: clocks per step (0: free running)
        if self.pace:
            m.d.comb += [feeder.i_period.eq(period),
                         count_now[Counter.PACE_OVERRUNS.value].eq(feeder.o_overrun)]

        # --- INJECT: records -> input buffer; READ_EVENTS: output buffer -> records -------
        m.submodules.inject = inject = InjectParser(n_inputs=n_index, max_payload=MAXP)
        m.d.comb += [inject.i_data.eq(buf.o_data), inject.i_data_valid.eq(rd_ok),
                     inject.i_at_end.eq(at_end), feeder.i_write.eq(inject.o_write),
                     feeder.i_channel.eq(inject.o_channel), feeder.i_end.eq(inject.o_end)]
        m.submodules.events = events = EventPacker(n_neurons=n_out, max_payload=MAXP)
        connect(m, feeder.o_out, events.i_events)
        # EventsHeader.steps_read: step ends taken into READ_EVENTS replies (power-up only)
        steps_read = Signal(16)
        with m.If(feeder.o_out.valid & feeder.o_out.ready & feeder.o_out.payload.eos):
            m.d.sync += steps_read.eq(steps_read + 1)
        m.d.comb += events.i_wptr.eq(reply_ptr)

        # --- WRITE_MEM, READ_MEM, RESET: the core's memory port ----------------------------
        m.submodules.memory = mem = MemoryAccess(
            n_neurons=N, n_inputs=self.n_inputs, syn_capacity=self.syn_capacity,
            max_payload=MAXP, kernel=self.kernel, learning=self.learning,
            n_cores=self.n_cores, route_depth=(self.n_cores + 1) * self.route_entries,
            queue=self.queue)
        connect(m, mem.o_mem, flipped(self.o_mem))
        m.d.comb += self.o_mem_target.eq(mem.o_target)
        connect(m, flipped(self.i_mem), mem.i_mem)
        m.d.comb += [mem.i_read_mem.eq(cur_op == Opcode.READ_MEM.value),
                     mem.i_write_mem.eq(cur_op == Opcode.WRITE_MEM.value),
                     mem.i_header.eq(word[hdr_lsb:]), mem.i_payload_end.eq(pay_end),
                     mem.i_running.eq(feeder.o_running), mem.i_word.eq(word),
                     mem.i_data.eq(buf.o_data), mem.i_data_valid.eq(rd_ok)]
        m.d.comb += buf.i_advance.eq(rd_take | tx.o_byte_take | inject.o_take | mem.o_take)

        # --- stored reply (of the last executed command) and the frame being sent --------
        last_valid = Signal()
        last_op = Signal(8)
        last_seq = Signal(8)
        dup = Signal()                  # the frame received repeats the last command
        last_reason = Signal(4)         # 0: the stored reply is an ACK
        last_len = Signal(range(MAXP + 1))
        send_link_nak = Signal()        # sending a link / unknown-opcode NAK
        link_reason = Signal(4)
        m.d.comb += [tx.i_nak.eq(send_link_nak | (last_reason != 0)),
                     tx.i_opcode.eq(last_op),
                     tx.i_nak_opcode.eq(Mux(send_link_nak, cur_op, last_op)),
                     tx.i_seq.eq(Mux(send_link_nak, cur_seq, last_seq)),
                     tx.i_reason.eq(Mux(send_link_nak, link_reason, last_reason)),
                     tx.i_length.eq(last_len)]

        # --- STATUS, READ_EVENTS -----------------------------------------------------------
        status_word = Signal(2)                     # STATUS: the words after the counters
        other_words = Array([steps_pending, feeder.o_in_level, feeder.o_out_level,
                             self.i_parity_errors])
        events_len = Signal(range(MAXP + 1))        # READ_EVENTS: the records' end

        # INJECT fits (a long carry chain: registered; the level only falls meanwhile)
        space_ok = Signal()
        m.d.sync += space_ok.eq(inject.o_entries + feeder.o_in_level <= self.in_depth)

        def send_reply():
            m.d.comb += tx.i_start.eq(1)
            m.next = "SEND"

        def link_nak(reason, counter):
            count(counter)
            m.d.sync += [link_reason.eq(reason), send_link_nak.eq(1)]
            send_reply()

        def nak(reason):
            m.d.sync += last_reason.eq(reason)
            m.next = "FINISH"

        def ack():                    # (last_reason was cleared in DISPATCH)
            m.next = "FINISH"

        with m.FSM(name="link") as fsm:
            # ---------------------------------------------------------------- receive
            with m.State("RECV"):
                m.d.comb += rx.i_enable.eq(1)
                with m.If(rx.o_write_en):
                    m.d.comb += [buf.i_write_addr.eq(RX + rx.o_write_addr),
                                 buf.i_write_data.eq(rx.o_write_data), buf.i_write_en.eq(1)]
                with m.If(rx.o_done):
                    m.d.sync += [reply_ptr.eq(0), dup.eq(last_valid & (cur_op == last_op) &
                                                    (cur_seq == last_seq))]
                    m.next = "CHECK"

            # the link checks of protocol section 3.4, in order (from registers only)
            with m.State("CHECK"):
                m.d.comb += rx.i_clear.eq(1)
                seek(TX)
                with m.If(rx.o_oversize):
                    link_nak(Nak.OVERSIZE, Counter.OVERSIZE_FRAMES)
                with m.Elif(rx.o_framing):
                    link_nak(Nak.FRAMING, Counter.FRAMING_ERRORS)
                with m.Elif(~rx.o_crc_ok):
                    link_nak(Nak.CRC, Counter.CRC_ERRORS)
                with m.Else():
                    count(Counter.FRAMES_OK)
                    with m.If(~rx.o_known):
                        link_nak(Nak.UNKNOWN_OPCODE, Counter.UNKNOWN_OPCODES)
                    with m.Elif(dup):
                        m.d.sync += send_link_nak.eq(0)       # replay the stored reply
                        send_reply()
                    with m.Else():
                        seek(RX + HDR)
                        m.next = "DISPATCH"

            # ---------------------------------------------------------------- dispatch
            # (buf.o_data shows the first payload byte from the next state on)
            with m.State("DISPATCH"):
                m.d.sync += [byte_count.eq(0), status_word.eq(0), last_reason.eq(0)]
                empty = pay_len_is(0)
                with m.Switch(cur_op):
                    with m.Case(Opcode.IDENTIFY, Opcode.STATUS):
                        with m.If(~empty):
                            nak(Nak.BAD_LENGTH)
                        with m.Else():
                            m.next = "STATUS_WAIT"
                    with m.Case(Opcode.CLEAR_STATUS):
                        with m.If(~empty):
                            nak(Nak.BAD_LENGTH)
                        with m.Else():
                            m.next = "CLEAR"
                    with m.Case(Opcode.RESET):
                        with m.If(~empty):
                            nak(Nak.BAD_LENGTH)
                        with m.Else():
                            m.d.comb += feeder.i_run_cancel.eq(1)
                            m.d.sync += resetting.eq(1)
                            m.next = "RESET_WAIT"
                    with m.Case(Opcode.ECHO):
                        m.next = "ECHO"
                    with m.Case(Opcode.WRITE_MEM, Opcode.READ_MEM):
                        with m.If(Mux(mem.i_read_mem, ~pay_len_is(_HDR_BYTES),
                                      pay_end < HDR + _HDR_BYTES)):
                            nak(Nak.BAD_LENGTH)
                        with m.Else():
                            m.next = "HDR_LOAD"
                    with m.Case(Opcode.INJECT):
                        m.d.comb += inject.i_start.eq(1)
                        m.next = "INJECT_CHECK_PASS"
                    with m.Case(Opcode.RUN, Opcode.PACE):
                        with m.If(~pay_len_is(spec.RunRequest.size // 8)):
                            nak(Nak.BAD_LENGTH)
                        with m.Else():
                            m.next = "HDR_LOAD"
                    with m.Case(Opcode.READ_EVENTS):
                        with m.If(~empty):
                            nak(Nak.BAD_LENGTH)
                        with m.Else():
                            m.d.comb += events.i_start.eq(1)
                            m.d.sync += reply_ptr.eq(spec.EventsHeader.size // 8)
                            m.next = "EVENTS"
                    with m.Default():
                        nak(Nak.UNKNOWN_OPCODE)       # unreachable: opcode checked

            # payload bytes 0..6 -> word[24:80] (a RUN reads 3 bytes beyond its payload,
            # ignored)
            with m.State("HDR_LOAD"):
                with m.If(rd_ok):
                    m.d.comb += rd_take.eq(1)
                    m.d.sync += [word.eq(Cat(word[8:], buf.o_data)),
                                 byte_count.eq(byte_count + 1)]
                    with m.If(byte_count == _HDR_BYTES - 1):
                        m.d.sync += byte_count.eq(0)
                        with m.If(cur_op == Opcode.RUN.value):
                            m.next = "RUN_WAIT"
                        with m.Elif(cur_op == Opcode.PACE.value):
                            m.next = "PACE"
                        with m.Else():
                            m.d.comb += mem.i_start.eq(1)
                            m.next = "MEMORY"

            # ---------------------------------------------------------------- RUN
            with m.State("RUN_WAIT"):                 # feeder.o_run_overflow registers now
                m.next = "RUN"
            with m.State("RUN"):
                with m.If(feeder.o_run_overflow):
                    nak(Nak.BAD_ARG)
                with m.Else():
                    m.d.comb += feeder.i_run.eq(1)
                    ack()

            # ---------------------------------------------------------------- PACE
            with m.State("PACE"):                     # the period is req_steps' bytes
                if self.pace:
                    m.d.sync += period.eq(req_steps)
                    ack()
                else:                                 # only "as fast as it goes"
                    with m.If(req_steps != 0):
                        nak(Nak.BAD_ARG)
                    with m.Else():
                        ack()

            # ---------------------------------------------------------------- CLEAR_STATUS
            with m.State("CLEAR"):
                m.d.comb += counters.i_clear.eq(1)
                with m.If(counters.o_clearing):
                    m.next = "CLEAR_WAIT"
            with m.State("CLEAR_WAIT"):
                with m.If(counters.o_idle):
                    ack()

            # ---------------------------------------------------------------- STATUS, IDENTIFY
            # copy bytes of the counters' memory into the reply, the counters engine held
            # (status_hold and status_addr are registers: two clocks per byte, status_ok
            # alternating)
            with m.State("STATUS_WAIT"):
                m.d.sync += [status_addr.eq(Mux(cur_op == Opcode.STATUS.value, 0, ID_BASE)),
                             status_ok.eq(0)]
                with m.If(counters.o_quiet):
                    m.d.sync += status_hold.eq(1)
                    m.next = "STATUS_COPY"
            # (the byte read is registered in copy_byte and written in the next clock)
            with m.State("STATUS_COPY"):
                m.d.sync += status_ok.eq(1)
                last = Mux(cur_op == Opcode.STATUS.value, ID_BASE - 1, counters.depth - 1)
                with m.If(status_ok):
                    m.d.sync += [copy_byte.eq(counters.o_data), copy_pending.eq(1),
                                 status_addr.eq(status_addr + 1), status_ok.eq(0)]
                    with m.If(status_addr == last):
                        m.d.sync += [status_hold.eq(0), copy_last.eq(1)]
                with m.If(copy_pending):
                    m.d.comb += [reply_data.eq(copy_byte), reply_write.eq(1)]
                    m.d.sync += [copy_pending.eq(0), copy_last.eq(0)]
                    with m.If(copy_last):
                        with m.If(cur_op == Opcode.STATUS.value):
                            m.next = "STATUS_WORDS"
                        with m.Else():
                            ack()
            # steps_pending, in_level, out_level, parity_errors
            with m.State("STATUS_WORDS"):
                load_word(other_words[status_word])
                m.d.sync += byte_count.eq(4)
                m.next = "EMIT"

            # word[:8 * byte_count] -> reply, least significant byte first; then by command
            with m.State("EMIT"):
                m.d.comb += [reply_data.eq(word[:8]), reply_write.eq(1)]
                m.d.sync += [word.eq(word >> 8), byte_count.eq(byte_count - 1)]
                with m.If(byte_count == 1):
                    with m.Switch(cur_op):
                        with m.Case(Opcode.STATUS):
                            with m.If(status_word == len(other_words) - 1):
                                ack()
                            with m.Else():
                                m.d.sync += status_word.eq(status_word + 1)
                                m.next = "STATUS_WORDS"
                        with m.Default():          # READ_EVENTS header: reply length
                            m.d.sync += reply_ptr.eq(events_len)
                            ack()

            # ---------------------------------------------------------------- ECHO
            # (the byte read is registered in copy_byte and written in the next clock, when
            # rd_ok is low: the read address has just advanced)
            with m.State("ECHO"):
                with m.If(rd_ok):
                    with m.If(at_end):
                        ack()
                    with m.Else():
                        m.d.comb += rd_take.eq(1)
                        m.d.sync += [copy_byte.eq(buf.o_data), copy_pending.eq(1)]
                with m.If(copy_pending):
                    m.d.comb += [reply_data.eq(copy_byte), reply_write.eq(1)]
                    m.d.sync += copy_pending.eq(0)

            # ---------------------------------------------------------------- WRITE/READ_MEM
            with m.State("MEMORY"):
                memory_word()
                m.d.comb += [reply_data.eq(mem.o_data), reply_write.eq(mem.o_append)]
                with m.If(mem.o_done):
                    nak(mem.o_reason)            # (0: an ACK)

            # ---------------------------------------------------------------- RESET
            with m.State("RESET_WAIT"):
                with m.If(~feeder.o_in_flight):
                    m.d.comb += [feeder.i_clear.eq(1), mem.i_reset.eq(1),
                                 self.o_clear.eq(1)]
                    m.next = "RESET_MEMORY"
            with m.State("RESET_MEMORY"):
                memory_word()
                with m.If(mem.o_done):
                    m.d.sync += resetting.eq(0)
                    ack()

            # ---------------------------------------------------------------- INJECT
            # two passes over the records: validate everything, then enqueue
            with m.State("INJECT_CHECK_PASS"):
                with m.If(inject.o_done):
                    m.next = "INJECT_CHECK"      # space_ok registers now
            with m.State("INJECT_CHECK"):
                with m.If(inject.o_bad_length):
                    nak(Nak.BAD_LENGTH)
                with m.Elif(inject.o_bad_arg):
                    nak(Nak.BAD_ARG)
                with m.Elif(~space_ok):
                    count(Counter.EVENT_OVERFLOWS)
                    nak(Nak.NO_SPACE)
                with m.Else():
                    m.d.comb += inject.i_second_pass.eq(1)
                    seek(RX + HDR)
                    m.next = "INJECT_ENQUEUE_PASS"
            with m.State("INJECT_ENQUEUE_PASS"):
                with m.If(inject.o_done):
                    ack()

            # ---------------------------------------------------------------- READ_EVENTS
            # records from reply byte 8 on; the header is written last (sampled then)
            with m.State("EVENTS"):
                m.d.comb += [reply_data.eq(events.o_data), reply_write.eq(events.o_append)]
                with m.If(events.o_reserve):
                    m.d.sync += reply_ptr.eq(reply_ptr + 2)
                with m.If(events.o_patch_en):
                    m.d.comb += [buf.i_write_addr.eq(TX + events.o_patch_addr),
                                 buf.i_write_data.eq(events.o_patch_data),
                                 buf.i_write_en.eq(1)]
                with m.If(events.o_done):
                    # EventsHeader: steps_pending, remaining and steps_read, sampled in
                    # this cycle
                    # (out_level fits 16 bits: out_depth <= spec.MAX_OUT_DEPTH)
                    level = feeder.o_out_level
                    load_word(Cat(steps_pending, level, C(0, 16 - len(level)), steps_read))
                    m.d.sync += [events_len.eq(reply_ptr), reply_ptr.eq(0),
                                 byte_count.eq(spec.EventsHeader.size // 8)]
                    m.next = "EMIT"

            # ---------------------------------------------------------------- reply
            with m.State("FINISH"):
                m.d.sync += [last_valid.eq(1), last_op.eq(cur_op), last_seq.eq(cur_seq),
                             send_link_nak.eq(0), last_len.eq(reply_ptr)]
                seek(TX)
                send_reply()
            with m.State("SEND"):
                with m.If(tx.o_done):
                    m.next = "RECV"
        fsm.state.attrs["fsm_encoding"] = "one-hot"
        return m
