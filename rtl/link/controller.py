"""Command controller of the host link: frames in, replies out, the neuron core in between.

``LinkController`` sits between the COBS decoder/encoder and the ``NeuronCore`` and
implements the board side of ``docs/protocol.md``; ``neurofab.host.codec`` is its golden
model (tests drive it with frames built by the codec and parse its replies with it).

Data path::

    CobsDecoder ──i_frame──▶ receive buffer ─▶ command FSM ─▶ reply buffer ──o_frame──▶ CobsEncoder
                              (+ Crc16)           │  ▲                    (+ Crc16)
                                   o_mem ◀────────┘  └──────── i_mem        (core memory port)
                  INJECT ─▶ input event FIFO ─▶ step feeder ──o_events──▶ core.i_events
                core.o_spikes ──i_spikes──▶ output event FIFO ─▶ READ_EVENTS

* **Receive.** Decoded bytes are written into the receive half of one byte-wide block
  RAM while a ``Crc16`` checks the residue; opcode, seq and the first seven payload bytes
  (``MemHeader`` / ``RunRequest``) are also captured in registers. At the frame's end
  token the link checks of protocol §3.4 run in order (oversize, COBS, runt, CRC, opcode).
* **Execute.** A command is executed by one FSM that reads its payload from the receive
  half and writes its reply payload into the reply half of the same RAM (one read and one
  write port). The reply (or a NAK) is the *stored reply*: a frame with the seq and opcode
  of the last executed command is a retransmission and gets the stored reply again
  without being executed. Link NAKs (CRC, FRAMING, OVERSIZE) and UNKNOWN_OPCODE NAKs are
  sent from registers and leave the stored reply alone.
* **Send.** Opcode, seq, payload and the CRC (most significant byte first) go out as
  ``FrameByte`` s with ``last`` on the final CRC byte.
* **Run.** ``RUN`` adds to ``steps_pending``; a background feeder starts one step at a
  time while ``steps_pending > 0``: the events of one complete buffered step (up to and
  including its END entry, which is the core's end-of-step marker), or a lone
  end-of-step marker if no complete step is buffered. The core's spikes and its
  end-of-step marker go into the output FIFO (the core waits while it is full);
  ``steps_pending`` drops when the marker enters it.

The receiver takes decoded bytes only while it waits for a frame: bytes that arrive while
a command executes or its reply is sent are held back, and the UART counts what it has to
drop (``RX_OVERRUNS``); the cut frame then fails its link checks. No input can stall the
controller: every frame end leads back to receiving.
"""

from amaranth import *
from amaranth.hdl import ResetInserter
from amaranth.lib import fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from neurofab import spec
from neurofab.spec import Counter, Ctrl, FrameStatus, Nak, Opcode, Region
from ._util import checked_init
from .crc import Crc16

__all__ = ["LinkController", "identify_payload", "region_depths"]

#: Bytes of the widest memory word the core's port carries (``MEM_DATA_WIDTH`` bits).
_WORD_BYTES = spec.MEM_DATA_WIDTH // 8
#: Payload bytes of the fixed headers captured while a frame is received (``MemHeader``).
_HDR_BYTES = spec.MemHeader.size // 8
#: Counter values in a STATUS reply, then steps_pending, in_level, out_level.
_STATUS_WORDS = spec.StatusReply.size // 32


def region_depths(n_neurons, n_inputs, syn_capacity):
    """Words of every ``Region`` on a core of this geometry (``Identify.region_depth``)."""
    return {Region.STATE: n_neurons, Region.ACC: n_neurons * spec.DELAY_SLOTS,
            Region.PROFILE: spec.PROFILE_COUNT, Region.ROWPTR: n_neurons + n_inputs,
            Region.SYNAPSE: syn_capacity, Region.CTRL: len(Ctrl)}


def identify_payload(*, n_neurons, n_inputs, syn_capacity, clk_hz, max_payload, in_depth,
                     out_depth, board_id, build_hash):
    """The IDENTIFY reply payload (``spec.IdentifyReply``, 40 bytes) of a controller."""
    value = spec.IdentifyReply.const({
        "protocol": spec.PROTOCOL_VERSION, "board": board_id, "build": build_hash,
        "clk_hz": clk_hz, "max_payload": max_payload, "n_cores": 1,
        "n_profiles": spec.PROFILE_COUNT, "n_neurons": n_neurons, "n_inputs": n_inputs,
        "n_synapses": syn_capacity, "in_depth": in_depth, "out_depth": out_depth,
    }).as_value().value
    return value.to_bytes(spec.IdentifyReply.size // 8, "little")


def _check_int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} = {value} is outside [{lo}, {hi}]")
    return value


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
    return _check_int("build_hash", value, 0, (1 << 64) - 1)


def _const_mul(x, k):
    """``x * k`` for a small constant ``k`` as shifts and adds (never a DSP multiplier)."""
    terms = [x << b for b in range(k.bit_length()) if k >> b & 1]
    out = C(0, 1)
    for t in terms:
        out = out + t
    return out


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
        Entries of the input and output event buffers (events plus step ends), >= 2.
    board_id : int
        Board id for IDENTIFY (0: simulated board).
    build_hash : int, bytes or str
        Gateware build hash for IDENTIFY: a u64, or a digest whose first 8 bytes are used.

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
    o_running : Out(1)
        Steps are queued or one is in progress (e.g. for an LED).
    """

    @checked_init
    def __init__(self, *, n_neurons, n_inputs, syn_capacity, clk_hz,
                 max_payload=spec.MAX_PAYLOAD, in_depth=1024, out_depth=1024, board_id=0,
                 build_hash=0):
        _check_int("n_neurons", n_neurons, 2, spec.MAX_NEURONS)
        if n_neurons & (n_neurons - 1):
            raise ValueError(f"n_neurons = {n_neurons} must be a power of two")
        _check_int("n_inputs", n_inputs, 0, spec.MAX_INPUTS)
        _check_int("syn_capacity", syn_capacity, 1, spec.MAX_SYNAPSES)
        _check_int("clk_hz", clk_hz, 1, (1 << 32) - 1)
        _check_int("max_payload", max_payload, spec.MIN_MAX_PAYLOAD, spec.MAX_PAYLOAD)
        _check_int("in_depth", in_depth, 2, 1 << 24)
        _check_int("out_depth", out_depth, 2, 1 << 24)
        _check_int("board_id", board_id, 0, 0xFFFF)
        self.n_neurons = n_neurons
        self.n_inputs = n_inputs
        self.syn_capacity = syn_capacity
        self.clk_hz = clk_hz
        self.max_payload = max_payload
        self.in_depth = in_depth
        self.out_depth = out_depth
        self.board_id = board_id
        self.build_hash = _build_hash(build_hash)
        self.depths = region_depths(n_neurons, n_inputs, syn_capacity)
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
            "i_rx_overrun": In(1),
            "o_running": Out(1),
        })

    def identify_payload(self):
        """The 40-byte IDENTIFY reply payload this controller sends."""
        return identify_payload(
            n_neurons=self.n_neurons, n_inputs=self.n_inputs, syn_capacity=self.syn_capacity,
            clk_hz=self.clk_hz, max_payload=self.max_payload, in_depth=self.in_depth,
            out_depth=self.out_depth, board_id=self.board_id, build_hash=self.build_hash)

    def elaborate(self, platform):
        m = Module()
        N = self.n_neurons
        MAXB = self.max_body
        MAXP = self.max_payload

        # --- frame buffer: receive half (body as received) and reply half (payload) ------
        half = 1 << ceil_log2(MAXB)
        abits = ceil_log2(2 * half)
        RX, TX = 0, half
        m.submodules.buf = buf = memory.Memory(shape=8, depth=2 * half, init=[])
        wr = buf.write_port()
        rd = buf.read_port(domain="sync")
        rptr = Signal(abits)            # rd.data == buf[rptr] one cycle after rptr settles
        rd_adv = Signal()               # consume buf[rptr]: the next cycle shows buf[rptr+1]
        m.d.comb += rd.addr.eq(Mux(rd_adv, rptr + 1, rptr))
        with m.If(rd_adv):
            m.d.sync += rptr.eq(rptr + 1)
        wptr = Signal(range(half))      # next reply byte
        wr_data = Signal(8)
        tx_write = Signal()             # write wr_data to reply byte wptr and advance
        m.d.comb += [wr.addr.eq(TX + wptr), wr.data.eq(wr_data), wr.en.eq(tx_write)]
        with m.If(tx_write):
            m.d.sync += wptr.eq(wptr + 1)

        m.submodules.rx_crc = rx_crc = Crc16()
        m.submodules.tx_crc = tx_crc = Crc16()

        # --- event buffers -------------------------------------------------------------
        cbits = max(1, ceil_log2(self.n_inputs)) if self.n_inputs else 1
        nbits = max(1, ceil_log2(N))
        in_clear = Signal()
        out_clear = Signal()
        in_fifo = fifo.SyncFIFOBuffered(width=cbits + 1, depth=self.in_depth)
        out_fifo = fifo.SyncFIFOBuffered(width=nbits + 1, depth=self.out_depth)
        m.submodules.in_fifo = ResetInserter(in_clear)(in_fifo)
        m.submodules.out_fifo = ResetInserter(out_clear)(out_fifo)

        # --- status ----------------------------------------------------------------------
        counters = [Signal(32, name=f"cnt_{c.name.lower()}") for c in Counter]
        cnt_inc = Signal(len(counters))
        cnt_clear = Signal()
        for k, c in enumerate(counters):
            with m.If(cnt_clear):
                m.d.sync += c.eq(0)
            with m.Elif(cnt_inc[k]):
                m.d.sync += c.eq(c + 1)
        m.d.comb += [cnt_inc[Counter.UART_ERRORS.value].eq(self.i_uart_error),
                     cnt_inc[Counter.RX_OVERRUNS.value].eq(self.i_rx_overrun)]

        def count(counter):
            m.d.comb += cnt_inc[counter.value].eq(1)

        steps_pending = Signal(32)
        pend_add = Signal(32)
        pend_dec = Signal()
        pend_clear = Signal()
        with m.If(pend_clear):
            m.d.sync += steps_pending.eq(0)
        with m.Else():
            m.d.sync += steps_pending.eq(steps_pending + pend_add - pend_dec)
        in_flight = Signal()            # a step has been started and its end not seen
        resetting = Signal()            # RESET in progress: no new step, discard output
        running = Signal()
        m.d.comb += [running.eq((steps_pending != 0) | in_flight),
                     self.o_running.eq(running)]
        ends = Signal(range(self.in_depth + 1))     # END entries in the input buffer
        ends_inc = Signal()
        ends_dec = Signal()
        with m.If(in_clear):
            m.d.sync += ends.eq(0)
        with m.Else():
            m.d.sync += ends.eq(ends + ends_inc - ends_dec)

        # --- step feeder: input buffer -> core ----------------------------------------------
        ev = self.o_events
        with m.FSM(name="feeder"):
            with m.State("IDLE"):
                with m.If((steps_pending != 0) & ~in_flight & ~resetting):
                    m.d.sync += in_flight.eq(1)
                    with m.If(ends != 0):
                        m.next = "FEED"
                    with m.Else():
                        m.next = "EOS"
            with m.State("FEED"):
                m.d.comb += [
                    ev.valid.eq(in_fifo.r_rdy),
                    ev.payload.channel.eq(in_fifo.r_data[:cbits]),
                    ev.payload.eos.eq(in_fifo.r_data[cbits]),
                    in_fifo.r_en.eq(ev.ready),
                ]
                with m.If(ev.valid & ev.ready & ev.payload.eos):
                    m.d.comb += ends_dec.eq(1)
                    m.next = "IDLE"
            with m.State("EOS"):
                m.d.comb += [ev.valid.eq(1), ev.payload.eos.eq(1)]
                with m.If(ev.ready):
                    m.next = "IDLE"

        # --- core output -> output buffer -------------------------------------------------
        sp = self.i_spikes
        m.d.comb += [
            sp.ready.eq(out_fifo.w_rdy | resetting),
            out_fifo.w_en.eq(sp.valid & ~resetting),
            out_fifo.w_data.eq(Cat(sp.payload.neuron[:nbits], sp.payload.eos)),
        ]
        with m.If(sp.valid & sp.ready & sp.payload.eos):
            m.d.sync += in_flight.eq(0)
            with m.If(steps_pending != 0):
                m.d.comb += pend_dec.eq(1)

        # --- frame registers ---------------------------------------------------------------
        fi = self.i_frame
        length = Signal(range(MAXB + 1))     # body bytes stored
        overflow = Signal()                   # more than MAXB bytes arrived
        cur_op = Signal(8)
        cur_seq = Signal(8)
        hdr = Signal(8 * _HDR_BYTES)          # payload bytes 0..6
        plen = Signal(range(MAXP + 1))        # payload bytes of a good frame
        known = Signal()
        m.d.comb += known.eq(Cat(cur_op == op.value for op in Opcode).any())

        # stored reply (of the last executed command) and the frame being sent
        last_valid = Signal()
        last_op = Signal(8)
        last_seq = Signal(8)
        rep_nak = Signal()
        rep_reason = Signal(8)
        rep_len = Signal(range(MAXP + 1))
        snd_link = Signal()                   # sending a link / unknown-opcode NAK
        lnk_reason = Signal(8)

        # command registers
        word = Signal(spec.MEM_DATA_WIDTH)    # memory word / status word being moved
        bcnt = Signal(range(_WORD_BYTES + 1))
        widx = Signal(range(_STATUS_WORDS))
        sidx = Signal(range(MAXP + 1))
        m_index = Signal(spec.MEM_INDEX_WIDTH)
        m_region = Signal(3)
        m_write = Signal()
        m_count = Signal(16)
        m_end = Signal(spec.MEM_INDEX_WIDTH + 1)
        m_hi = Signal()
        m_depth = Signal(spec.MEM_INDEX_WIDTH + 1)
        m_nb = Signal(range(_WORD_BYTES + 1))
        m_total = Signal(16 + 4)
        r_phase = Signal(2)
        # INJECT parser
        pass2 = Signal()
        pst = Signal(2)                       # 0 header lo, 1 header hi, 2 index lo, 3 hi
        lo = Signal(8)
        rc = Signal(15)
        rend = Signal()
        pos = Signal(range(MAXP + 1))
        entries = Signal(range(MAXP + 1))
        bad_arg = Signal()
        in_free = Signal(range(self.in_depth + 1))
        m.d.comb += in_free.eq(self.in_depth - in_fifo.level)
        # READ_EVENTS
        rec_start = Signal(range(half))
        rcount = Signal(8)
        ev_hi = Signal(8)
        rec_end = Signal()
        rlen = Signal(range(MAXP + 1))

        hdr_b = [hdr[8 * k:8 * k + 8] for k in range(_HDR_BYTES)]
        req_region = hdr_b[0]
        req_start = Cat(*hdr_b[1:5])
        req_count = Cat(*hdr_b[5:7])
        req_steps = Cat(*hdr_b[0:4])
        is_read = Signal()
        m.d.comb += is_read.eq(cur_op == Opcode.READ_MEM.value)

        regions = list(Region)
        depth_of = Array(C(self.depths[r], spec.MEM_INDEX_WIDTH + 1) for r in regions)
        nb_of = Array(C(spec.REGION_WORD_BYTES[r], 4) for r in regions)
        total_of = Array(_const_mul(req_count, spec.REGION_WORD_BYTES[r]) for r in regions)

        status_words = Array([*counters, steps_pending, in_fifo.level, out_fifo.level])
        ident = self.identify_payload()
        ident_rom = Array(C(b, 8) for b in ident)
        state_mask = ((1 << spec.NeuronState["profile"].width) - 1) << \
            spec.NeuronState["profile"].offset

        # --- memory request port -----------------------------------------------------------
        mreq = self.o_mem.payload
        m.d.comb += [mreq.index.eq(m_index), mreq.region.eq(m_region),
                     mreq.write.eq(m_write), mreq.data.eq(word)]

        # --- reply frame out ------------------------------------------------------------------
        fo = self.o_frame
        is_nak = Signal()
        m.d.comb += is_nak.eq(snd_link | rep_nak)
        out_len = Mux(is_nak, spec.NakPayload.size // 8, rep_len)
        nak_byte = Mux(sidx == 0, Mux(snd_link, lnk_reason, rep_reason),
                       Mux(snd_link, cur_op, last_op))
        tx_feed = Signal()
        m.d.comb += [tx_crc.i_stream.valid.eq(fo.valid & fo.ready & tx_feed),
                     tx_crc.i_stream.payload.data.eq(fo.payload.data)]

        def link_nak(reason, counter):
            count(counter)
            m.d.sync += [lnk_reason.eq(reason), snd_link.eq(1), rptr.eq(TX)]
            m.next = "SEND_OP"

        def nak(reason):
            m.d.sync += [rep_nak.eq(1), rep_reason.eq(reason)]
            m.next = "FINISH"

        def ack(n):
            m.d.sync += [rep_nak.eq(0), rep_len.eq(n)]
            m.next = "FINISH"

        def load_word(value):
            m.d.sync += word.eq(value)

        with m.FSM(name="link"):
            # ---------------------------------------------------------------- receive
            with m.State("RECV"):
                m.d.comb += fi.ready.eq(1)
                byte = fi.payload.data
                with m.If(fi.valid & ~fi.payload.end):
                    m.d.comb += [rx_crc.i_stream.valid.eq(1),
                                 rx_crc.i_stream.payload.data.eq(byte),
                                 rx_crc.i_stream.payload.first.eq(length == 0)]
                    with m.If(length == MAXB):
                        m.d.sync += overflow.eq(1)
                    with m.Else():
                        m.d.comb += [wr.addr.eq(RX + length), wr.data.eq(byte), wr.en.eq(1)]
                        m.d.sync += length.eq(length + 1)
                    with m.If(length == 0):
                        m.d.sync += [cur_op.eq(byte), cur_seq.eq(0)]
                    with m.If(length == 1):
                        m.d.sync += cur_seq.eq(byte)
                    for k in range(_HDR_BYTES):
                        with m.If(length == spec.HEADER_BYTES + k):
                            m.d.sync += hdr_b[k].eq(byte)
                with m.If(fi.valid & fi.payload.end):
                    m.d.sync += [length.eq(0), overflow.eq(0),
                                 plen.eq(length - spec.MIN_BODY), wptr.eq(0)]
                    with m.If(length == 0):
                        m.d.sync += cur_op.eq(0)
                    status = fi.payload.status
                    with m.If(overflow | (status == FrameStatus.OVERSIZE)):
                        link_nak(Nak.OVERSIZE, Counter.OVERSIZE_FRAMES)
                    with m.Elif((status != FrameStatus.OK) | (length < spec.MIN_BODY)):
                        link_nak(Nak.FRAMING, Counter.FRAMING_ERRORS)
                    with m.Elif(~rx_crc.o_residue):
                        link_nak(Nak.CRC, Counter.CRC_ERRORS)
                    with m.Else():
                        count(Counter.FRAMES_OK)
                        with m.If(~known):
                            link_nak(Nak.UNKNOWN_OPCODE, Counter.UNKNOWN_OPCODES)
                        with m.Elif(last_valid & (cur_op == last_op) & (cur_seq == last_seq)):
                            m.d.sync += [snd_link.eq(0), rptr.eq(TX)]      # replay
                            m.next = "SEND_OP"
                        with m.Else():
                            m.d.sync += rptr.eq(RX + spec.HEADER_BYTES)
                            m.next = "DISPATCH"

            # ---------------------------------------------------------------- dispatch
            with m.State("DISPATCH"):
                m.d.sync += [widx.eq(0), bcnt.eq(0), pos.eq(0), pst.eq(0), pass2.eq(0),
                             entries.eq(0), bad_arg.eq(0)]
                empty = plen == 0
                with m.Switch(cur_op):
                    with m.Case(Opcode.IDENTIFY):
                        with m.If(~empty):
                            nak(Nak.BAD_LENGTH)
                        with m.Else():
                            m.next = "IDENTIFY"
                    with m.Case(Opcode.STATUS):
                        with m.If(~empty):
                            nak(Nak.BAD_LENGTH)
                        with m.Else():
                            m.next = "STATUS"
                    with m.Case(Opcode.CLEAR_STATUS):
                        with m.If(~empty):
                            nak(Nak.BAD_LENGTH)
                        with m.Else():
                            m.d.comb += cnt_clear.eq(1)
                            ack(0)
                    with m.Case(Opcode.RESET):
                        with m.If(~empty):
                            nak(Nak.BAD_LENGTH)
                        with m.Else():
                            m.d.comb += pend_clear.eq(1)
                            m.d.sync += resetting.eq(1)
                            m.next = "RESET_WAIT"
                    with m.Case(Opcode.ECHO):
                        m.next = "ECHO"
                    with m.Case(Opcode.WRITE_MEM, Opcode.READ_MEM):
                        m.next = "MEM_CHECK"
                    with m.Case(Opcode.INJECT):
                        m.next = "INJECT"
                    with m.Case(Opcode.RUN):
                        total = Signal(33)
                        m.d.comb += total.eq(steps_pending + req_steps)
                        with m.If(plen != spec.RunRequest.size // 8):
                            nak(Nak.BAD_LENGTH)
                        with m.Elif(total[32]):
                            nak(Nak.BAD_ARG)
                        with m.Else():
                            m.d.comb += pend_add.eq(req_steps)
                            ack(0)
                    with m.Case(Opcode.READ_EVENTS):
                        with m.If(~empty):
                            nak(Nak.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += wptr.eq(spec.EventsHeader.size // 8)
                            m.next = "EV_NEW"
                    with m.Default():
                        nak(Nak.UNKNOWN_OPCODE)       # unreachable: opcode checked

            # ---------------------------------------------------------------- IDENTIFY
            with m.State("IDENTIFY"):
                m.d.comb += [wr_data.eq(ident_rom[wptr]), tx_write.eq(1)]
                with m.If(wptr == len(ident) - 1):
                    ack(len(ident))

            # ---------------------------------------------------------------- STATUS
            with m.State("STATUS"):
                load_word(status_words[widx])
                m.d.sync += bcnt.eq(4)
                m.next = "EMIT"

            # word[:8 * bcnt] -> reply, least significant byte first; then by command
            with m.State("EMIT"):
                m.d.comb += [wr_data.eq(word[:8]), tx_write.eq(1)]
                m.d.sync += [word.eq(word >> 8), bcnt.eq(bcnt - 1)]
                with m.If(bcnt == 1):
                    with m.Switch(cur_op):
                        with m.Case(Opcode.STATUS):
                            with m.If(widx == _STATUS_WORDS - 1):
                                ack(spec.StatusReply.size // 8)
                            with m.Else():
                                m.d.sync += widx.eq(widx + 1)
                                m.next = "STATUS"
                        with m.Case(Opcode.READ_MEM):
                            with m.If(m_count == 1):
                                ack(m_total)
                            with m.Else():
                                m.d.sync += [m_count.eq(m_count - 1),
                                             m_index.eq(m_index + 1)]
                                m.next = "MEM_REQ"
                        with m.Default():          # READ_EVENTS header
                            ack(rlen)

            # ---------------------------------------------------------------- ECHO
            with m.State("ECHO"):
                with m.If(wptr == plen):
                    ack(plen)
                with m.Else():
                    m.d.comb += [wr_data.eq(rd.data), tx_write.eq(1), rd_adv.eq(1)]

            # ---------------------------------------------------------------- WRITE/READ_MEM
            with m.State("MEM_CHECK"):
                with m.If(Mux(is_read, plen != _HDR_BYTES, plen < _HDR_BYTES)):
                    nak(Nak.BAD_LENGTH)
                with m.Elif(req_region >= len(regions)):
                    nak(Nak.BAD_REGION)
                with m.Else():
                    region = req_region[:3]
                    m.d.sync += [
                        m_end.eq(req_start[:spec.MEM_INDEX_WIDTH] + req_count),
                        m_hi.eq(req_start[spec.MEM_INDEX_WIDTH:] != 0),
                        m_depth.eq(depth_of[region]),
                        m_nb.eq(nb_of[region]),
                        m_total.eq(total_of[region]),
                        m_count.eq(req_count),
                        m_index.eq(req_start[:spec.MEM_INDEX_WIDTH]),
                        m_region.eq(region),
                        m_write.eq(~is_read),
                        rptr.eq(RX + spec.HEADER_BYTES + _HDR_BYTES),
                    ]
                    m.next = "MEM_CHECK2"
            with m.State("MEM_CHECK2"):
                with m.If(m_hi | (m_end > m_depth)):
                    nak(Nak.BAD_RANGE)
                with m.Elif(Mux(is_read, m_total > MAXP, m_total + _HDR_BYTES != plen)):
                    nak(Nak.BAD_LENGTH)
                with m.Elif(running):
                    nak(Nak.BUSY)
                with m.Elif(m_count == 0):
                    ack(0)
                with m.Elif(is_read):
                    m.next = "MEM_REQ"
                with m.Else():
                    m.next = "MEM_LOAD"
            # assemble one word: m_nb bytes, little endian, then zeros, into word
            with m.State("MEM_LOAD"):
                take = bcnt < m_nb
                m.d.comb += rd_adv.eq(take)
                m.d.sync += word.eq(Cat(word[8:], Mux(take, rd.data, 0)))
                with m.If(bcnt == _WORD_BYTES - 1):
                    m.d.sync += bcnt.eq(0)
                    m.next = "MEM_REQ"
                with m.Else():
                    m.d.sync += bcnt.eq(bcnt + 1)
            with m.State("MEM_REQ"):
                m.d.comb += self.o_mem.valid.eq(1)
                with m.If(self.o_mem.ready):
                    m.next = "MEM_RESP"
            with m.State("MEM_RESP"):
                m.d.comb += self.i_mem.ready.eq(1)
                resp = self.i_mem.payload.data
                with m.If(self.i_mem.valid):
                    with m.Switch(cur_op):
                        with m.Case(Opcode.WRITE_MEM):
                            with m.If(m_count == 1):
                                ack(0)
                            with m.Else():
                                m.d.sync += [m_count.eq(m_count - 1),
                                             m_index.eq(m_index + 1)]
                                m.next = "MEM_LOAD"
                        with m.Case(Opcode.READ_MEM):
                            load_word(resp)
                            m.d.sync += bcnt.eq(m_nb)
                            m.next = "EMIT"
                        with m.Default():          # RESET
                            m.next = "MEM_REQ"
                            with m.Switch(r_phase):
                                with m.Case(0):    # STATE read -> write it, profile kept
                                    load_word(resp & state_mask)
                                    m.d.sync += [m_write.eq(1), r_phase.eq(1)]
                                with m.Case(1):
                                    with m.If(m_index == N - 1):
                                        load_word(0)
                                        m.d.sync += [m_index.eq(0), m_region.eq(Region.ACC),
                                                     r_phase.eq(2)]
                                    with m.Else():
                                        m.d.sync += [m_index.eq(m_index + 1),
                                                     m_write.eq(0), r_phase.eq(0)]
                                with m.Case(2):
                                    with m.If(m_index == N * spec.DELAY_SLOTS - 1):
                                        m.d.sync += [m_index.eq(Ctrl.STEP.value),
                                                     m_region.eq(Region.CTRL),
                                                     r_phase.eq(3)]
                                    with m.Else():
                                        m.d.sync += m_index.eq(m_index + 1)
                                with m.Default():
                                    m.d.sync += resetting.eq(0)
                                    ack(0)

            # ---------------------------------------------------------------- RESET
            with m.State("RESET_WAIT"):
                with m.If(~in_flight):
                    m.d.comb += [in_clear.eq(1), out_clear.eq(1)]
                    m.d.sync += [m_index.eq(0), m_region.eq(Region.STATE), m_write.eq(0),
                                 r_phase.eq(0)]
                    m.next = "MEM_REQ"

            # ---------------------------------------------------------------- INJECT
            # two passes over the records: validate everything, then enqueue
            with m.State("INJECT"):
                with m.If(pos == plen):
                    with m.If(pass2):
                        ack(0)
                    with m.Elif(pst != 0):
                        nak(Nak.BAD_LENGTH)
                    with m.Elif(bad_arg):
                        nak(Nak.BAD_ARG)
                    with m.Elif(entries > in_free):
                        count(Counter.EVENT_OVERFLOWS)
                        nak(Nak.NO_SPACE)
                    with m.Else():
                        m.d.sync += [pass2.eq(1), pos.eq(0), pst.eq(0),
                                     rptr.eq(RX + spec.HEADER_BYTES)]
                        m.next = "INJECT_PRIME"
                with m.Else():
                    byte = rd.data
                    m.d.comb += rd_adv.eq(1)
                    m.d.sync += pos.eq(pos + 1)
                    with m.Switch(pst):
                        with m.Case(0):
                            m.d.sync += [lo.eq(byte), pst.eq(1)]
                        with m.Case(1):
                            cnt = Cat(lo, byte[:7])
                            m.d.sync += [rc.eq(cnt), rend.eq(byte[7])]
                            with m.If(cnt == 0):
                                m.d.sync += pst.eq(0)
                                with m.If(byte[7]):
                                    with m.If(pass2):
                                        m.d.comb += [in_fifo.w_en.eq(1),
                                                     in_fifo.w_data.eq(1 << cbits),
                                                     ends_inc.eq(1)]
                                    with m.Else():
                                        m.d.sync += entries.eq(entries + 1)
                            with m.Else():
                                m.d.sync += pst.eq(2)
                        with m.Case(2):
                            m.d.sync += [lo.eq(byte), pst.eq(3)]
                        with m.Case(3):
                            chan = Cat(lo, byte)
                            last = rc == 1
                            m.d.sync += [rc.eq(rc - 1), pst.eq(Mux(last, 0, 2))]
                            with m.If(pass2):
                                m.d.comb += [in_fifo.w_en.eq(1),
                                             in_fifo.w_data.eq(chan[:cbits])]
                                with m.If(last & rend):
                                    m.next = "INJECT_END"
                            with m.Else():
                                m.d.sync += entries.eq(entries + 1 + (last & rend))
                                with m.If(chan >= self.n_inputs):
                                    m.d.sync += bad_arg.eq(1)
            with m.State("INJECT_PRIME"):
                m.next = "INJECT"
            with m.State("INJECT_END"):
                m.d.comb += [in_fifo.w_en.eq(1), in_fifo.w_data.eq(1 << cbits),
                             ends_inc.eq(1)]
                m.next = "INJECT"

            # ---------------------------------------------------------------- READ_EVENTS
            # records from reply byte 8 on; the header is written last (sampled then)
            head_eos = out_fifo.r_data[nbits]
            head_neuron = out_fifo.r_data[:nbits]
            with m.State("EV_NEW"):
                with m.If(~out_fifo.r_rdy):
                    m.next = "EV_FIN"
                with m.Elif(head_eos):
                    with m.If(wptr + 2 > MAXP):
                        m.next = "EV_FIN"
                    with m.Else():                 # an empty step: 00 80
                        m.d.comb += [wr_data.eq(0), tx_write.eq(1), out_fifo.r_en.eq(1)]
                        m.next = "EV_END_HI"
                with m.Else():
                    with m.If(wptr + 4 > MAXP):
                        m.next = "EV_FIN"
                    with m.Else():
                        m.d.sync += [rec_start.eq(wptr), wptr.eq(wptr + 2), rcount.eq(0)]
                        m.next = "EV_INDEX"
            with m.State("EV_END_HI"):
                m.d.comb += [wr_data.eq(spec.RECORD_END >> 8), tx_write.eq(1)]
                m.next = "EV_NEW"
            with m.State("EV_INDEX"):
                with m.If(~out_fifo.r_rdy):
                    m.d.sync += rec_end.eq(0)
                    m.next = "EV_CLOSE"
                with m.Elif(head_eos):
                    m.d.comb += out_fifo.r_en.eq(1)
                    m.d.sync += rec_end.eq(1)
                    m.next = "EV_CLOSE"
                with m.Elif(wptr + 2 > MAXP):
                    m.d.sync += rec_end.eq(0)
                    m.next = "EV_CLOSE"
                with m.Else():
                    hi = head_neuron[8:16] if nbits > 8 else C(0, 8)
                    m.d.comb += [wr_data.eq(head_neuron[:8]), tx_write.eq(1),
                                 out_fifo.r_en.eq(1)]
                    m.d.sync += [ev_hi.eq(hi), rcount.eq(rcount + 1)]
                    m.next = "EV_INDEX_HI"
            with m.State("EV_INDEX_HI"):
                m.d.comb += [wr_data.eq(ev_hi), tx_write.eq(1)]
                m.next = "EV_INDEX"
            # write the record header at rec_start, then continue after the record
            with m.State("EV_CLOSE"):
                m.d.comb += [wr.addr.eq(TX + rec_start), wr.data.eq(rcount), wr.en.eq(1)]
                m.next = "EV_CLOSE_HI"
            with m.State("EV_CLOSE_HI"):
                m.d.comb += [wr.addr.eq(TX + rec_start + 1), wr.data.eq(rec_end << 7),
                             wr.en.eq(1)]
                with m.If(rec_end):
                    m.next = "EV_NEW"
                with m.Else():
                    m.next = "EV_FIN"
            with m.State("EV_FIN"):
                # EventsHeader: steps_pending and remaining, sampled in this cycle
                load_word(Cat(steps_pending, out_fifo.level))
                m.d.sync += [rlen.eq(wptr), wptr.eq(0), bcnt.eq(spec.EventsHeader.size // 8)]
                m.next = "EMIT"

            # ---------------------------------------------------------------- reply
            with m.State("FINISH"):
                m.d.sync += [last_valid.eq(1), last_op.eq(cur_op), last_seq.eq(cur_seq),
                             snd_link.eq(0), rptr.eq(TX)]
                m.next = "SEND_OP"
            with m.State("SEND_OP"):
                m.d.comb += [fo.valid.eq(1), tx_feed.eq(1),
                             tx_crc.i_stream.payload.first.eq(1),
                             fo.payload.data.eq(Mux(is_nak, spec.NAK_OPCODE,
                                                    last_op | spec.REPLY_FLAG))]
                with m.If(fo.ready):
                    m.d.sync += sidx.eq(0)
                    with m.If(is_nak):
                        count(Counter.NAKS_SENT)
                    m.next = "SEND_SEQ"
            with m.State("SEND_SEQ"):
                m.d.comb += [fo.valid.eq(1), tx_feed.eq(1),
                             fo.payload.data.eq(Mux(snd_link, cur_seq, last_seq))]
                with m.If(fo.ready):
                    with m.If(out_len == 0):
                        m.next = "SEND_CRC_HI"
                    with m.Else():
                        m.next = "SEND_PAYLOAD"
            with m.State("SEND_PAYLOAD"):
                m.d.comb += [fo.valid.eq(1), tx_feed.eq(1),
                             fo.payload.data.eq(Mux(is_nak, nak_byte, rd.data))]
                with m.If(fo.ready):
                    m.d.comb += rd_adv.eq(1)
                    m.d.sync += sidx.eq(sidx + 1)
                    with m.If(sidx == out_len - 1):
                        m.next = "SEND_CRC_HI"
            with m.State("SEND_CRC_HI"):
                m.d.comb += [fo.valid.eq(1), fo.payload.data.eq(tx_crc.o_crc[8:])]
                with m.If(fo.ready):
                    m.next = "SEND_CRC_LO"
            with m.State("SEND_CRC_LO"):
                m.d.comb += [fo.valid.eq(1), fo.payload.data.eq(tx_crc.o_crc[:8]),
                             fo.payload.last.eq(1)]
                with m.If(fo.ready):
                    m.next = "RECV"
        return m
