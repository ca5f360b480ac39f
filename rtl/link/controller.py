"""Command controller of the host link: frames in, replies out, the neuron core in between.

``LinkController`` sits between the COBS decoder/encoder and the ``NeuronCore`` and
implements the board side of ``docs/protocol.md``; ``neurofab.host.codec`` is its golden
model (tests drive it with frames built by the codec and parse its replies with it).

Data path::

    CobsDecoder ─i_frame─▶ frame buffer (receive half) ─▶ command FSM ─▶ frame buffer
                           + Crc16 (shared)                 │   ▲          (reply half)
                                                  o_mem ◀───┘   └─── i_mem    │
      INJECT ─▶ input event FIFO ─▶ step feeder ─o_events─▶ core     o_frame ◀┘─▶ CobsEncoder
      core ─i_spikes─▶ output event FIFO ─▶ READ_EVENTS
      status memory: the nine counters (u32) and the IDENTIFY payload

* **Receive.** Decoded bytes are written into the receive half of one byte-wide block
  RAM while the CRC unit checks the residue; opcode and seq are also kept in registers.
  At the frame's end token the link checks of protocol §3.4 run in order (oversize,
  COBS, runt, CRC, opcode).
* **Execute.** A command is executed by one FSM that reads its payload from the receive
  half (fixed headers are shifted into a word register) and writes its reply payload into
  the reply half of the same RAM. The reply (or a NAK) is the *stored reply*: a frame
  with the seq and opcode of the last executed command is a retransmission and gets the
  stored reply again without being executed. Link NAKs (CRC, FRAMING, OVERSIZE) and
  UNKNOWN_OPCODE NAKs are sent from registers and leave the stored reply alone.
* **Count.** The counters live in a small memory, incremented one byte at a time by an
  engine fed from per-counter pending counts; STATUS and IDENTIFY copy their bytes from
  that memory into the reply (STATUS: one atomic snapshot of all counters).
* **Send.** Opcode, seq, payload and the CRC (most significant byte first) go out as
  ``FrameByte`` s with ``last`` on the final CRC byte; ``o_frame`` is a register.
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

Timing (iCE40 at 30 MHz): every block-RAM address comes straight from a register, wide
compares that steer the FSM are registered a clock ahead, and payload bytes are read at
two clocks per byte — far faster than any UART still.
"""

from amaranth import *
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from neurofab import spec
from neurofab.spec import Counter, Ctrl, FrameStatus, Nak, Opcode, Region
from ._util import checked_init
from ._fifo import EventFifo
from .crc import Crc16

__all__ = ["LinkController", "identify_payload", "region_depths"]

#: Bytes of the widest memory word the core's port carries (``MEM_DATA_WIDTH`` bits).
_WORD_BYTES = spec.MEM_DATA_WIDTH // 8
#: Payload bytes of the fixed headers captured while a frame is received (``MemHeader``).
_HDR_BYTES = spec.MemHeader.size // 8


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
        for name, depth in (("in_depth", in_depth), ("out_depth", out_depth)):
            _check_int(name, depth, 2, 1 << 24)
            if depth & (depth - 1):
                raise ValueError(f"{name} = {depth} must be a power of two")
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
        HDR = spec.HEADER_BYTES

        # --- frame buffer: receive half (body as received) and reply half (payload) ------
        half = 1 << ceil_log2(MAXB)
        abits = ceil_log2(2 * half)
        RX, TX = 0, half
        # (read ports are write-transparent because that is cheaper on iCE40 block RAM;
        # no read here ever uses a byte written in the same clock)
        m.submodules.buf = buf = memory.Memory(shape=8, depth=2 * half, init=[])
        wr = buf.write_port()
        rd = buf.read_port(domain="sync", transparent_for=(wr,))
        # The read address is a register (nothing but a flip-flop in front of the block
        # RAM); rd.data is buf[rptr] when rd_ok, one clock after rptr last changed.
        rptr = Signal(abits)
        rd_ok = Signal()
        rd_adv = Signal()               # take buf[rptr] (only when rd_ok): rptr advances
        # rd_byte is rd.data registered: buf[rptr] when rd_ok2 (a clock after rd_ok), for
        # the reply bytes sent, whose path (CRC, output register) is longer
        rd_ok2 = Signal()
        rd_byte = Signal(8)
        m.d.comb += rd.addr.eq(rptr)
        m.d.sync += [rd_ok.eq(1), rd_ok2.eq(rd_ok), rd_byte.eq(rd.data)]
        with m.If(rd_adv):
            m.d.sync += [rptr.eq(rptr + 1), rd_ok.eq(0), rd_ok2.eq(0)]

        def set_rptr(value):
            m.d.sync += [rptr.eq(value), rd_ok.eq(0), rd_ok2.eq(0)]
        wptr = Signal(range(half))      # next reply byte; the reply is bytes 0 .. wptr-1
        wr_data = Signal(8)
        cp_byte = Signal(8)             # ECHO, STATUS: a byte read, written next clock
        cp_pend = Signal()
        cp_last = Signal()
        tx_write = Signal()             # write wr_data to reply byte wptr and advance
        # Writes are registered on their way to the block RAM (w_addr / w_data / w_en
        # say what to write, it is written one clock later): a byte read from a block
        # RAM (ECHO, STATUS) passes a multiplexer into a register, not into another
        # block RAM, in one clock. A byte is read two or more clocks after its write,
        # or one clock after it through the write-transparent read port.
        w_addr = Signal(abits)
        w_data = Signal(8)
        w_en = Signal()
        m.d.comb += [w_addr.eq(TX + wptr), w_data.eq(wr_data), w_en.eq(tx_write)]
        m.d.sync += [wr.addr.eq(w_addr), wr.data.eq(w_data), wr.en.eq(w_en)]
        with m.If(tx_write):
            m.d.sync += wptr.eq(wptr + 1)

        # one CRC unit: the received frame, then (after its check) the reply
        m.submodules.crc = crc = Crc16()

        # --- event buffers -------------------------------------------------------------
        cbits = max(1, ceil_log2(self.n_inputs)) if self.n_inputs else 1
        nbits = max(1, ceil_log2(N))
        m.submodules.in_fifo = in_fifo = EventFifo(width=cbits + 1, depth=self.in_depth)
        m.submodules.out_fifo = out_fifo = EventFifo(width=nbits + 1, depth=self.out_depth)

        # --- status memory: counters (bytes 0..35, u32 little endian) and IDENTIFY -------
        # Counters are incremented by a small engine, one read-modify-write of one byte at
        # a time, from per-counter pending counts (2 bits each: the link cannot produce
        # events faster than the engine retires them). STATUS and IDENTIFY copy bytes
        # from this memory into the reply while the engine is held.
        n_cnt = len(Counter)
        ident = self.identify_payload()
        ID_BASE = 4 * n_cnt
        m.submodules.status_mem = smem = memory.Memory(
            shape=8, depth=ID_BASE + len(ident), init=[0] * ID_BASE + list(ident))
        s_wr = smem.write_port()
        s_rd = smem.read_port(domain="sync", transparent_for=(s_wr,))
        cnt_inc = Signal(n_cnt)
        cnt_dec = Signal(n_cnt)
        pend = [Signal(2, name=f"pend_{c.name.lower()}") for c in Counter]
        busy = Signal(n_cnt)
        for k, p in enumerate(pend):
            m.d.comb += busy[k].eq(p != 0)
            with m.If(cnt_inc[k] & ~cnt_dec[k] & (p != 3)):
                m.d.sync += p.eq(p + 1)
            with m.Elif(~cnt_inc[k] & cnt_dec[k]):
                m.d.sync += p.eq(p - 1)
        m.d.comb += [cnt_inc[Counter.UART_ERRORS.value].eq(self.i_uart_error),
                     cnt_inc[Counter.RX_OVERRUNS.value].eq(self.i_rx_overrun)]

        def count(counter):
            m.d.comb += cnt_inc[counter.value].eq(1)

        s_hold = Signal()               # the main FSM owns the status memory's read port
        s_ok = Signal()                 # s_rd.data is status_mem[s_addr]
        s_addr = Signal(range(ID_BASE + len(ident)))    # its read address
        cnt_clear = Signal()            # request: zero every counter
        cnt_quiet = Signal()            # engine idle, nothing pending: a consistent view
        ck = Signal(range(n_cnt))       # counter being incremented
        cb = Signal(2)                  # its byte
        c_addr = Signal(range(ID_BASE))
        m.d.comb += s_rd.addr.eq(Mux(s_hold, s_addr, Cat(cb, ck)))
        with m.FSM(name="counters") as cfsm:
            with m.State("IDLE"):
                m.d.comb += cnt_quiet.eq(~busy.any())     # (no cnt_clear in STATUS)
                with m.If(cnt_clear):
                    m.d.sync += c_addr.eq(0)
                    for p in pend:
                        m.d.sync += p.eq(0)
                    m.next = "CLEAR"
                with m.Elif(busy.any() & ~s_hold):
                    for k in reversed(range(n_cnt)):      # lowest index first
                        with m.If(busy[k]):
                            m.d.sync += ck.eq(k)
                    m.d.sync += cb.eq(0)
                    m.next = "READ"
            with m.State("READ"):               # s_rd.addr = Cat(cb, ck)
                m.next = "WRITE"
            with m.State("WRITE"):
                m.d.comb += [s_wr.addr.eq(Cat(cb, ck)), s_wr.data.eq(s_rd.data + 1),
                             s_wr.en.eq(1)]
                with m.If((s_rd.data == 0xFF) & (cb != 3)):
                    m.d.sync += cb.eq(cb + 1)
                    m.next = "READ"
                with m.Else():
                    m.d.comb += cnt_dec.eq(1 << ck)
                    m.next = "IDLE"
            with m.State("CLEAR"):
                m.d.comb += [s_wr.addr.eq(c_addr), s_wr.data.eq(0), s_wr.en.eq(1)]
                m.d.sync += c_addr.eq(c_addr + 1)
                with m.If(c_addr == ID_BASE - 1):
                    m.next = "IDLE"

        # --- command word: MemHeader / RunRequest / memory words / status words ---------
        # HDR_LOAD shifts payload bytes 0..6 in from the top: byte k lands at 24 + 8k.
        word = Signal(spec.MEM_DATA_WIDTH)
        H = spec.MEM_DATA_WIDTH - 8 * _HDR_BYTES
        req_region = word[H:H + 8]
        req_start = word[H + 8:H + 40]
        req_count = word[H + 40:H + 56]
        req_steps = word[H:H + 32]

        # --- run state ---------------------------------------------------------------------
        # one adder: a step end in the same clock as a RUN is taken off a clock later
        steps_pending = Signal(32)
        pend_add = Signal()             # RUN: add req_steps
        pend_dec = Signal()             # a step ended
        pend_clear = Signal()
        dec_owed = Signal()
        dec_now = pend_dec | dec_owed
        sp_next = Signal(32)
        pending = Signal()              # steps_pending != 0, a register of its own
        m.d.comb += sp_next.eq(steps_pending)
        with m.If(pend_clear):
            m.d.comb += sp_next.eq(0)
            m.d.sync += dec_owed.eq(0)
        with m.Elif(pend_add | dec_now):
            m.d.comb += sp_next.eq(steps_pending + Mux(pend_add, req_steps, -1))
            m.d.sync += dec_owed.eq(pend_add & dec_now)
        # pending = sp_next != 0, from compares of registers only
        pending_next = Mux(pend_clear, 0,
                           Mux(pend_add, (steps_pending != 0) | (req_steps != 0),
                               Mux(dec_now, steps_pending != 1, steps_pending != 0)))
        m.d.sync += [steps_pending.eq(sp_next), pending.eq(pending_next)]
        in_flight = Signal()            # a step has been started and its end not seen
        resetting = Signal()            # RESET in progress: no new step, discard output
        running = Signal()
        m.d.comb += [running.eq(pending | in_flight),
                     self.o_running.eq(running)]
        ends = Signal(range(self.in_depth + 1))     # END entries in the input buffer
        ends_inc = Signal()
        ends_dec = Signal()
        with m.If(in_fifo.clear):
            m.d.sync += ends.eq(0)
        with m.Else():
            m.d.sync += ends.eq(ends + ends_inc - ends_dec)

        # --- step feeder: input buffer -> core ----------------------------------------------
        # The core takes the events from a two-register pipeline (a: next to the input
        # buffer, b: the output register), refilled at one event per clock and not after
        # the step's end: the buffer's block-RAM output reaches nothing but register a.
        ev = self.o_events
        a_valid, b_valid = Signal(), Signal()
        a_chan, b_chan = Signal(cbits), Signal(cbits)
        a_eos, b_eos = Signal(), Signal()
        b_load = a_valid & (~b_valid | ev.ready)
        pulled_end = (a_valid & a_eos) | (b_valid & b_eos)   # the step's end was read
        with m.FSM(name="feeder"):
            with m.State("IDLE"):
                with m.If(pending & ~in_flight & ~resetting):
                    m.d.sync += in_flight.eq(1)
                    with m.If(ends != 0):
                        m.next = "FEED"
                    with m.Else():
                        m.next = "EOS"
            with m.State("FEED"):
                m.d.comb += [
                    ev.valid.eq(b_valid),
                    ev.payload.channel.eq(b_chan),
                    ev.payload.eos.eq(b_eos),
                    in_fifo.r_en.eq((~a_valid | b_load) & ~pulled_end),
                ]
                with m.If(b_valid & ev.ready):
                    m.d.sync += b_valid.eq(0)
                    with m.If(b_eos):
                        m.d.comb += ends_dec.eq(1)
                        m.next = "IDLE"
                with m.If(b_load):
                    m.d.sync += [b_valid.eq(1), b_chan.eq(a_chan), b_eos.eq(a_eos),
                                 a_valid.eq(0)]
                with m.If(in_fifo.r_en & in_fifo.r_rdy):
                    m.d.sync += [a_valid.eq(1), a_chan.eq(in_fifo.r_data[:cbits]),
                                 a_eos.eq(in_fifo.r_data[cbits])]
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
            with m.If(pending):
                m.d.comb += pend_dec.eq(1)

        # --- frame registers ---------------------------------------------------------------
        fi = self.i_frame
        length = Signal(range(MAXB + 1))     # body bytes stored
        overflow = Signal()                   # more than MAXB bytes arrived
        cur_op = Signal(8)
        cur_seq = Signal(8)
        pay_end = Signal(range(MAXB + 1))     # receive-buffer index after the payload
        # link-check inputs, registered (all stable when CHECK runs)
        status_r = Signal(FrameStatus)
        known = Signal()
        residue = Signal()
        dup = Signal()
        runt = Signal()
        m.d.sync += [known.eq(Cat(cur_op == op.value for op in Opcode).any()),
                     residue.eq(crc.o_residue), runt.eq(length < spec.MIN_BODY)]

        at_end = Signal()               # rptr is at pay_end (valid with rd_ok)
        m.d.sync += at_end.eq(rptr == RX + pay_end)

        def pay_len_is(n):
            return pay_end == HDR + n

        # stored reply (of the last executed command) and the frame being sent
        last_valid = Signal()
        last_op = Signal(8)
        last_seq = Signal(8)
        rep_reason = Signal(4)                # 0: the stored reply is an ACK
        rep_nak = rep_reason != 0
        rep_len = Signal(range(MAXP + 1))
        snd_link = Signal()                   # sending a link / unknown-opcode NAK
        lnk_reason = Signal(4)

        # command registers
        bcnt = Signal(range(_WORD_BYTES + 1))
        widx = Signal(2)
        # Indices below the largest region's depth need ib bits (a start beyond is refused
        # with m_hi); m_total holds start + count, then (once the range is known good, so
        # count <= that depth) count * bytes.
        max_depth = max(self.depths.values())
        ib = max(1, ceil_log2(max_depth))
        m_index = Signal(ib)
        m_region = Signal(3)
        m_write = Signal()
        m_count = Signal(16)
        m_total = Signal(range(max((1 << ib) + (1 << 16), max_depth * _WORD_BYTES + 1)))
        m_hi = Signal()
        m_nb = Signal(range(_WORD_BYTES + 1))
        m_nb1 = Signal(range(_WORD_BYTES))    # m_nb - 1
        m_left = Signal(range(_WORD_BYTES + 1))   # MEM_LOAD: bytes of the word still to read
        r_phase = Signal(2)
        range_bad = Signal()
        # INJECT parser
        pass2 = Signal()
        pst = Signal(2)                       # 0 header lo, 1 header hi, 2 index lo, 3 hi
        lo = Signal(8)
        rc = Signal(15)
        rend = Signal()
        entries = Signal(range(MAXP + 1))
        bad_arg = Signal()
        byte_r = Signal(8)
        # READ_EVENTS
        rec_start = Signal(range(half))
        rcount = Signal(8)
        ev_hi = Signal(8)
        rec_end = Signal()
        rlen = Signal(range(MAXP + 1))
        room2 = Signal()                      # 2 / 4 more reply bytes fit (registered from
        room4 = Signal()                      # wptr: valid after a clock without a write)
        m.d.sync += [room2.eq(wptr <= MAXP - 2), room4.eq(wptr <= MAXP - 4)]

        is_read = Signal()
        m.d.comb += is_read.eq(cur_op == Opcode.READ_MEM.value)

        regions = list(Region)
        depth_of = Array(C(self.depths[r], len(m_total)) for r in regions)
        nb_of = Array(C(spec.REGION_WORD_BYTES[r], 4) for r in regions)
        nb1_of = Array(C(spec.REGION_WORD_BYTES[r] - 1, 4) for r in regions)
        other_words = Array([steps_pending, in_fifo.level, out_fifo.level])
        state_mask = ((1 << spec.NeuronState["profile"].width) - 1) << \
            spec.NeuronState["profile"].offset

        # decisions taken from registers (they are long carry chains)
        space_ok = Signal()       # INJECT fits; the level only falls meanwhile
        run_ovf = Signal()        # RUN would overflow steps_pending (only falls meanwhile)
        length_bad = Signal()     # WRITE_MEM / READ_MEM length, once m_total is the size
        m.d.sync += [
            space_ok.eq(entries + in_fifo.level <= self.in_depth),
            run_ovf.eq((steps_pending + req_steps)[32]),
            length_bad.eq(Mux(is_read, m_total > MAXP,
                              m_total + HDR + _HDR_BYTES != pay_end)),
        ]

        # --- memory request port -----------------------------------------------------------
        mreq = self.o_mem.payload
        m.d.comb += [mreq.index.eq(m_index), mreq.region.eq(m_region),
                     mreq.write.eq(m_write), mreq.data.eq(word)]

        # --- reply frame out: o_frame is a register ------------------------------------
        fo = self.o_frame
        is_nak = Signal()
        m.d.comb += is_nak.eq(snd_link | rep_nak)
        snd_left = Signal(range(MAXP + 1))     # payload bytes still to send
        nak_first = Signal()                   # next NAK payload byte is the reason
        nak_byte = Mux(nak_first, Mux(snd_link, lnk_reason, rep_reason),
                       Mux(snd_link, cur_op, last_op))
        tx_load = Signal()            # the output register can take a byte this cycle
        tx_go = Signal()
        tx_byte = Signal(8)
        tx_last = Signal()
        tx_feed = Signal()
        m.d.comb += tx_load.eq(~fo.valid | fo.ready)
        with m.If(fo.valid & fo.ready):
            m.d.sync += fo.valid.eq(0)
        with m.If(tx_go):
            m.d.sync += [fo.valid.eq(1), fo.payload.data.eq(tx_byte),
                         fo.payload.last.eq(tx_last)]

        def send(byte, *, last=0, feed=1):
            m.d.comb += [tx_byte.eq(byte), tx_last.eq(last), tx_feed.eq(feed),
                         tx_go.eq(tx_load)]
            return tx_load

        # CRC input: received bytes in RECV, reply bytes while sending
        crc_in = crc.i_stream
        rx_take = Signal()
        with m.If(rx_take):
            m.d.comb += [crc_in.valid.eq(1), crc_in.payload.data.eq(fi.payload.data),
                         crc_in.payload.first.eq(length == 0)]
        with m.Else():
            m.d.comb += [crc_in.valid.eq(tx_go & tx_feed), crc_in.payload.data.eq(tx_byte)]

        def link_nak(reason, counter):
            count(counter)
            m.d.sync += [lnk_reason.eq(reason), snd_link.eq(1)]
            m.next = "SEND_OP"

        def nak(reason):
            m.d.sync += rep_reason.eq(reason)
            m.next = "FINISH"

        def ack():                    # (rep_reason was cleared in DISPATCH)
            m.next = "FINISH"

        def load_word(value):
            m.d.sync += word.eq(value)

        with m.FSM(name="link") as lfsm:
            # ---------------------------------------------------------------- receive
            with m.State("RECV"):
                m.d.comb += fi.ready.eq(1)
                byte = fi.payload.data
                with m.If(fi.valid & ~fi.payload.end):
                    m.d.comb += rx_take.eq(1)
                    with m.If(length == MAXB):
                        m.d.sync += overflow.eq(1)
                    with m.Else():
                        m.d.comb += [w_addr.eq(RX + length), w_data.eq(byte), w_en.eq(1)]
                        m.d.sync += length.eq(length + 1)
                    with m.If(length == 0):
                        m.d.sync += [cur_op.eq(byte), cur_seq.eq(0)]
                    with m.If(length == 1):
                        m.d.sync += cur_seq.eq(byte)
                with m.If(fi.valid & fi.payload.end):
                    m.d.sync += [pay_end.eq(length - spec.CRC_BYTES), wptr.eq(0),
                                 status_r.eq(fi.payload.status),
                                 dup.eq(last_valid & (cur_op == last_op) &
                                        (cur_seq == last_seq))]
                    with m.If(length == 0):     # no body: the NAK says opcode 0, seq 0
                        m.d.sync += [cur_op.eq(0), cur_seq.eq(0)]
                    m.next = "CHECK"

            # the link checks of protocol section 3.4, in order; the CRC residue, runt
            # and known flags were registered in the cycle after the last byte or later
            with m.State("CHECK"):
                m.d.sync += [length.eq(0), overflow.eq(0)]
                set_rptr(TX)
                with m.If(overflow | (status_r == FrameStatus.OVERSIZE)):
                    link_nak(Nak.OVERSIZE, Counter.OVERSIZE_FRAMES)
                with m.Elif((status_r != FrameStatus.OK) | runt):
                    link_nak(Nak.FRAMING, Counter.FRAMING_ERRORS)
                with m.Elif(~residue):
                    link_nak(Nak.CRC, Counter.CRC_ERRORS)
                with m.Else():
                    count(Counter.FRAMES_OK)
                    with m.If(~known):
                        link_nak(Nak.UNKNOWN_OPCODE, Counter.UNKNOWN_OPCODES)
                    with m.Elif(dup):
                        m.d.sync += snd_link.eq(0)       # replay the stored reply
                        m.next = "SEND_OP"
                    with m.Else():
                        set_rptr(RX + HDR)
                        m.next = "DISPATCH"

            # ---------------------------------------------------------------- dispatch
            # (rd.data shows the first payload byte from the next state on)
            with m.State("DISPATCH"):
                m.d.sync += [bcnt.eq(0), widx.eq(0), pst.eq(0), pass2.eq(0),
                             entries.eq(0), bad_arg.eq(0), rep_reason.eq(0)]
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
                            m.d.comb += pend_clear.eq(1)
                            m.d.sync += resetting.eq(1)
                            m.next = "RESET_WAIT"
                    with m.Case(Opcode.ECHO):
                        m.next = "ECHO"
                    with m.Case(Opcode.WRITE_MEM, Opcode.READ_MEM):
                        with m.If(Mux(is_read, ~pay_len_is(_HDR_BYTES),
                                      pay_end < HDR + _HDR_BYTES)):
                            nak(Nak.BAD_LENGTH)
                        with m.Else():
                            m.next = "HDR_LOAD"
                    with m.Case(Opcode.INJECT):
                        m.next = "INJECT"
                    with m.Case(Opcode.RUN):
                        with m.If(~pay_len_is(spec.RunRequest.size // 8)):
                            nak(Nak.BAD_LENGTH)
                        with m.Else():
                            m.next = "HDR_LOAD"
                    with m.Case(Opcode.READ_EVENTS):
                        with m.If(~empty):
                            nak(Nak.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += wptr.eq(spec.EventsHeader.size // 8)
                            m.next = "EV_NEW_WAIT"
                    with m.Default():
                        nak(Nak.UNKNOWN_OPCODE)       # unreachable: opcode checked

            # payload bytes 0..6 -> word[24:80] (a RUN reads 3 bytes beyond its payload,
            # ignored)
            with m.State("HDR_LOAD"):
                with m.If(rd_ok):
                    m.d.comb += rd_adv.eq(1)
                    m.d.sync += [word.eq(Cat(word[8:], rd.data)), bcnt.eq(bcnt + 1)]
                    with m.If(bcnt == _HDR_BYTES - 1):
                        m.d.sync += bcnt.eq(0)
                        with m.If(cur_op == Opcode.RUN.value):
                            m.next = "RUN_WAIT"
                        with m.Else():
                            m.next = "MEM_CHECK"

            # ---------------------------------------------------------------- RUN
            with m.State("RUN_WAIT"):                 # run_ovf registers now
                m.next = "RUN"
            with m.State("RUN"):
                with m.If(run_ovf):
                    nak(Nak.BAD_ARG)
                with m.Else():
                    m.d.comb += pend_add.eq(1)
                    ack()

            # ---------------------------------------------------------------- CLEAR_STATUS
            with m.State("CLEAR"):
                m.d.comb += cnt_clear.eq(1)
                with m.If(cfsm.ongoing("CLEAR")):
                    m.next = "CLEAR_WAIT"
            with m.State("CLEAR_WAIT"):
                with m.If(cfsm.ongoing("IDLE")):
                    ack()

            # ---------------------------------------------------------------- STATUS, IDENTIFY
            # copy bytes of the status memory into the reply, the counters engine held
            # (s_hold and s_addr are registers: two clocks per byte, s_ok alternating)
            with m.State("STATUS_WAIT"):
                m.d.sync += [s_addr.eq(Mux(cur_op == Opcode.STATUS.value, 0, ID_BASE)),
                             s_ok.eq(0)]
                with m.If(cnt_quiet):
                    m.d.sync += s_hold.eq(1)
                    m.next = "STATUS_COPY"
            # (the byte read is registered in cp_byte and written in the next clock)
            with m.State("STATUS_COPY"):
                m.d.sync += s_ok.eq(1)
                last = Mux(cur_op == Opcode.STATUS.value, ID_BASE - 1,
                           ID_BASE + len(ident) - 1)
                with m.If(s_ok):
                    m.d.sync += [cp_byte.eq(s_rd.data), cp_pend.eq(1),
                                 s_addr.eq(s_addr + 1), s_ok.eq(0)]
                    with m.If(s_addr == last):
                        m.d.sync += [s_hold.eq(0), cp_last.eq(1)]
                with m.If(cp_pend):
                    m.d.comb += [wr_data.eq(cp_byte), tx_write.eq(1)]
                    m.d.sync += [cp_pend.eq(0), cp_last.eq(0)]
                    with m.If(cp_last):
                        with m.If(cur_op == Opcode.STATUS.value):
                            m.next = "STATUS_WORDS"
                        with m.Else():
                            ack()
            # steps_pending, in_level, out_level
            with m.State("STATUS_WORDS"):
                load_word(other_words[widx])
                m.d.sync += bcnt.eq(4)
                m.next = "EMIT"

            # word[:8 * bcnt] -> reply, least significant byte first; then by command
            with m.State("EMIT"):
                m.d.comb += [wr_data.eq(word[:8]), tx_write.eq(1)]
                m.d.sync += [word.eq(word >> 8), bcnt.eq(bcnt - 1)]
                with m.If(bcnt == 1):
                    with m.Switch(cur_op):
                        with m.Case(Opcode.STATUS):
                            with m.If(widx == len(other_words) - 1):
                                ack()
                            with m.Else():
                                m.d.sync += widx.eq(widx + 1)
                                m.next = "STATUS_WORDS"
                        with m.Default():          # READ_EVENTS header: reply length
                            m.d.sync += wptr.eq(rlen)
                            ack()

            # ---------------------------------------------------------------- ECHO
            # (the byte read is registered in cp_byte and written in the next clock, when
            # rd_ok is low: the read address has just advanced)
            with m.State("ECHO"):
                with m.If(rd_ok):
                    with m.If(at_end):
                        ack()
                    with m.Else():
                        m.d.comb += rd_adv.eq(1)
                        m.d.sync += [cp_byte.eq(rd.data), cp_pend.eq(1)]
                with m.If(cp_pend):
                    m.d.comb += [wr_data.eq(cp_byte), tx_write.eq(1)]
                    m.d.sync += cp_pend.eq(0)

            # ---------------------------------------------------------------- WRITE/READ_MEM
            with m.State("MEM_CHECK"):
                with m.If(req_region >= len(regions)):
                    nak(Nak.BAD_REGION)
                with m.Else():
                    region = req_region[:3]
                    m.d.sync += [
                        m_total.eq(req_start[:ib] + req_count),
                        m_hi.eq(req_start[ib:] != 0),
                        m_nb.eq(nb_of[region]),
                        m_nb1.eq(nb1_of[region]),
                        m_count.eq(req_count),
                        m_index.eq(req_start[:ib]),
                        m_region.eq(region),
                        m_write.eq(~is_read),
                    ]
                    m.next = "MEM_RANGE"
            with m.State("MEM_RANGE"):
                m.d.sync += [range_bad.eq(m_hi | (m_total > depth_of[m_region])),
                             m_total.eq(0), bcnt.eq(m_nb)]
                m.next = "MEM_MUL"
            # m_total = m_count * m_nb, one addition per clock; length_bad registers
            with m.State("MEM_MUL"):
                with m.If(bcnt == 0):
                    m.next = "MEM_CHECK2"
                with m.Else():
                    m.d.sync += [m_total.eq(m_total + m_count), bcnt.eq(bcnt - 1)]
            with m.State("MEM_CHECK2"):
                with m.If(range_bad):
                    nak(Nak.BAD_RANGE)
                with m.Elif(length_bad):
                    nak(Nak.BAD_LENGTH)
                with m.Elif(running):
                    nak(Nak.BUSY)
                with m.Elif(m_count == 0):
                    ack()
                with m.Elif(is_read):
                    m.next = "MEM_REQ"
                with m.Else():
                    m.d.sync += m_left.eq(m_nb)
                    m.next = "MEM_LOAD"       # rptr is at the first word already
            # assemble one word: m_nb bytes, little endian, then zeros, into word
            with m.State("MEM_LOAD"):
                take = m_left != 0
                with m.If(rd_ok | ~take):
                    m.d.comb += rd_adv.eq(take)
                    m.d.sync += [word.eq(Cat(word[8:], Mux(take, rd.data, 0))),
                                 m_left.eq(m_left - take)]
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
                        with m.Case(Opcode.READ_MEM):
                            m.d.comb += self.i_mem.ready.eq(0)   # held while emitted
                            m.next = "MEM_EMIT"
                        with m.Case(Opcode.WRITE_MEM):
                            with m.If(m_count == 1):
                                ack()
                            with m.Else():
                                m.d.sync += [m_count.eq(m_count - 1),
                                             m_index.eq(m_index + 1), m_left.eq(m_nb)]
                                m.next = "MEM_LOAD"
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
                                    ack()

            # the core holds its response until it is taken: its bytes go straight out
            with m.State("MEM_EMIT"):
                m.d.comb += [wr_data.eq(self.i_mem.payload.data.word_select(bcnt, 8)),
                             tx_write.eq(1)]
                m.d.sync += bcnt.eq(bcnt + 1)
                with m.If(bcnt == m_nb1):
                    m.d.comb += self.i_mem.ready.eq(1)
                    m.d.sync += bcnt.eq(0)
                    with m.If(m_count == 1):
                        ack()
                    with m.Else():
                        m.d.sync += [m_count.eq(m_count - 1), m_index.eq(m_index + 1)]
                        m.next = "MEM_REQ"

            # ---------------------------------------------------------------- RESET
            with m.State("RESET_WAIT"):
                with m.If(~in_flight):
                    m.d.comb += [in_fifo.clear.eq(1), out_fifo.clear.eq(1)]
                    m.d.sync += [m_index.eq(0), m_region.eq(Region.STATE), m_write.eq(0),
                                 r_phase.eq(0)]
                    m.next = "MEM_REQ"

            # ---------------------------------------------------------------- INJECT
            # two passes over the records: validate everything, then enqueue
            # (two clocks per byte: the block RAM output is registered before parsing)
            with m.State("INJECT"):
                with m.If(~rd_ok):
                    pass
                with m.Elif(at_end):
                    with m.If(pass2):
                        ack()
                    with m.Else():
                        m.next = "INJECT_CHECK"      # space_ok registers now
                with m.Else():
                    m.d.comb += rd_adv.eq(1)
                    m.d.sync += byte_r.eq(rd.data)
                    m.next = "INJECT_PARSE"
            with m.State("INJECT_PARSE"):
                byte = byte_r
                m.next = "INJECT"
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
            with m.State("INJECT_CHECK"):
                with m.If(pst != 0):
                    nak(Nak.BAD_LENGTH)
                with m.Elif(bad_arg):
                    nak(Nak.BAD_ARG)
                with m.Elif(~space_ok):
                    count(Counter.EVENT_OVERFLOWS)
                    nak(Nak.NO_SPACE)
                with m.Else():
                    m.d.sync += [pass2.eq(1), pst.eq(0)]
                    set_rptr(RX + HDR)
                    m.next = "INJECT"
            with m.State("INJECT_END"):
                m.d.comb += [in_fifo.w_en.eq(1), in_fifo.w_data.eq(1 << cbits),
                             ends_inc.eq(1)]
                m.next = "INJECT"

            # ---------------------------------------------------------------- READ_EVENTS
            # records from reply byte 8 on; the header is written last (sampled then)
            # The head entry is used from a register: the FIFO's block-RAM output feeds
            # nothing but a flip-flop. It is the live head in EV_NEW and EV_INDEX, which
            # always follow a clock without a read (the head only changes on a read, or
            # is written while r_rdy is low, one clock before r_rdy rises).
            head = Signal(nbits + 1)
            m.d.sync += head.eq(out_fifo.r_data)
            head_eos = head[nbits]
            head_neuron = head[:nbits]
            # (each decision waits one clock after the last write: room2 / room4 settle)
            with m.State("EV_NEW_WAIT"):
                m.next = "EV_NEW"
            with m.State("EV_NEW"):
                with m.If(~out_fifo.r_rdy):
                    m.next = "EV_FIN"
                with m.Elif(head_eos):
                    with m.If(~room2):
                        m.next = "EV_FIN"
                    with m.Else():                 # an empty step: 00 80
                        m.d.comb += [wr_data.eq(0), tx_write.eq(1), out_fifo.r_en.eq(1)]
                        m.next = "EV_END_HI"
                with m.Else():
                    with m.If(~room4):
                        m.next = "EV_FIN"
                    with m.Else():
                        m.d.sync += [rec_start.eq(wptr), wptr.eq(wptr + 2), rcount.eq(0)]
                        m.next = "EV_INDEX_WAIT"
            with m.State("EV_END_HI"):
                m.d.comb += [wr_data.eq(spec.RECORD_END >> 8), tx_write.eq(1)]
                m.next = "EV_NEW_WAIT"
            with m.State("EV_INDEX_WAIT"):
                m.next = "EV_INDEX"
            with m.State("EV_INDEX"):
                with m.If(~out_fifo.r_rdy):
                    m.d.sync += rec_end.eq(0)
                    m.next = "EV_CLOSE"
                with m.Elif(head_eos):
                    m.d.comb += out_fifo.r_en.eq(1)
                    m.d.sync += rec_end.eq(1)
                    m.next = "EV_CLOSE"
                with m.Elif(~room2):
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
                m.next = "EV_INDEX_WAIT"
            # write the record header at rec_start, then continue after the record
            with m.State("EV_CLOSE"):
                m.d.comb += [w_addr.eq(TX + rec_start), w_data.eq(rcount), w_en.eq(1)]
                m.next = "EV_CLOSE_HI"
            with m.State("EV_CLOSE_HI"):
                m.d.comb += [w_addr.eq(TX + (rec_start | 1)), w_data.eq(rec_end << 7),
                             w_en.eq(1)]
                with m.If(rec_end):
                    m.next = "EV_NEW_WAIT"
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
                             snd_link.eq(0), rep_len.eq(wptr)]
                set_rptr(TX)
                m.next = "SEND_OP"
            with m.State("SEND_OP"):
                m.d.comb += crc_in.payload.first.eq(1)
                with m.If(send(Mux(is_nak, spec.NAK_OPCODE, last_op | spec.REPLY_FLAG))):
                    m.d.sync += [nak_first.eq(1),
                                 snd_left.eq(Mux(is_nak, spec.NakPayload.size // 8,
                                                 rep_len))]
                    with m.If(is_nak):
                        count(Counter.NAKS_SENT)
                    m.next = "SEND_SEQ"
            with m.State("SEND_SEQ"):
                with m.If(send(Mux(snd_link, cur_seq, last_seq))):
                    with m.If(snd_left == 0):
                        m.next = "SEND_CRC_HI"
                    with m.Else():
                        m.next = "SEND_PAYLOAD"
            with m.State("SEND_PAYLOAD"):
                with m.If(is_nak | rd_ok2):
                    with m.If(send(Mux(is_nak, nak_byte, rd_byte))):
                        m.d.comb += rd_adv.eq(~is_nak)
                        m.d.sync += [nak_first.eq(0), snd_left.eq(snd_left - 1)]
                        with m.If(snd_left == 1):
                            m.next = "SEND_CRC_HI"
            with m.State("SEND_CRC_HI"):
                with m.If(send(crc.o_crc[8:], feed=0)):
                    m.next = "SEND_CRC_LO"
            with m.State("SEND_CRC_LO"):
                with m.If(send(crc.o_crc[:8], last=1, feed=0)):
                    m.next = "RECV"
        lfsm.state.attrs["fsm_encoding"] = "one-hot"
        return m
