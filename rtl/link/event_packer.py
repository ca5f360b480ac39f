"""READ_EVENTS' record writer: output-buffer entries into reply records."""

from amaranth import *
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from neurofab import spec
from neurofab.checks import check_int, check_pow2
from neurofab.rtl.util import checked_init

__all__ = ["EventPacker"]


class EventPacker(wiring.Component):
    """Packs the output buffer's entries into READ_EVENTS records (``docs/protocol.md``).

    A record is a u16 header (bits 0..14: count, bit 15: END) and ``count`` u16 neuron
    indices, little endian; a step's spikes make one record with END, an empty step the
    record ``00 80``. Records are appended to the reply at ``i_wptr`` for as long as
    entries are buffered and fit in ``max_payload`` bytes; a record cut by a full reply
    goes out without END (the rest of the step follows in the next reply). The header of
    a record with indices is reserved first (``o_reserve``) and written when the record
    closes (``o_patch_*``). The caller writes the EventsHeader in front (bytes 0..7) after
    ``o_done``.

    Every decision waits one clock after the last write (the room flags are registered
    from ``i_wptr``), and the head entry is used from a register: the buffer's block-RAM
    output feeds nothing but a flip-flop.

    Parameters
    ----------
    n_neurons : int
        Neurons of the core, a power of two >= 2 (width of the stored indices).
    max_payload : int
        Longest reply payload, ``[8, spec.MAX_PAYLOAD]``.

    Attributes
    ----------
    i_start : In(1)
        Start packing (``i_wptr`` is 8, past the EventsHeader).
    i_events : In(stream.Signature(data.StructLayout({"neuron": neuron_width, "eos": 1})))
        The output buffer's head entry: a spike, or a step's end (``eos``).
    i_wptr : In(range(max_payload + 1))
        The reply's length so far (where ``o_append`` writes).
    o_append : Out(1)
        Append ``o_data`` to the reply (the caller advances ``i_wptr`` by one).
    o_data : Out(8)
        The byte to append.
    o_reserve : Out(1)
        Skip two bytes for a record header (the caller advances ``i_wptr`` by two).
    o_patch_addr : Out(range(max_payload + 1))
        Reply offset of a record header byte to write now.
    o_patch_data : Out(8)
        That byte.
    o_patch_en : Out(1)
        Write ``o_patch_data`` at ``o_patch_addr`` (never together with ``o_append``).
    o_done : Out(1)
        The records are complete (in this clock); idle from the next.
    """

    @checked_init
    def __init__(self, *, n_neurons, max_payload=spec.MAX_PAYLOAD):
        self.n_neurons = check_pow2("n_neurons", n_neurons, 2, spec.MAX_NEURONS)
        self.max_payload = check_int("max_payload", max_payload,
                                     spec.EventsHeader.size // 8, spec.MAX_PAYLOAD)
        #: Bits of a stored neuron index.
        self.neuron_width = max(1, ceil_log2(n_neurons))
        super().__init__({
            "i_start": In(1),
            "i_events": In(stream.Signature(data.StructLayout(
                {"neuron": self.neuron_width, "eos": 1}))),
            "i_wptr": In(range(max_payload + 1)),
            "o_append": Out(1),
            "o_data": Out(8),
            "o_reserve": Out(1),
            "o_patch_addr": Out(range(max_payload + 1)),
            "o_patch_data": Out(8),
            "o_patch_en": Out(1),
            "o_done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        events = self.i_events
        head = Signal(events.payload.shape())    # the head entry, registered
        m.d.sync += head.eq(events.payload)
        room2 = Signal()                         # 2 / 4 more reply bytes fit
        room4 = Signal()
        m.d.sync += [room2.eq(self.i_wptr <= self.max_payload - 2),
                     room4.eq(self.i_wptr <= self.max_payload - 4)]
        rec_start = Signal.like(self.i_wptr)     # reply offset of the open record
        rec_count = Signal(8)                    # its indices so far
        rec_end = Signal()                       # it closes its step
        index_hi = Signal(8)

        def append(byte):
            m.d.comb += [self.o_data.eq(byte), self.o_append.eq(1)]

        def patch(addr, byte):
            m.d.comb += [self.o_patch_addr.eq(addr), self.o_patch_data.eq(byte),
                         self.o_patch_en.eq(1)]

        with m.FSM(name="packer"):
            with m.State("IDLE"):
                with m.If(self.i_start):
                    m.next = "NEW_WAIT"
            with m.State("NEW_WAIT"):
                m.next = "NEW"
            with m.State("NEW"):                 # a new record
                with m.If(~events.valid):
                    m.next = "FIN"
                with m.Elif(head.eos):
                    with m.If(~room2):
                        m.next = "FIN"
                    with m.Else():               # an empty step: 00 80
                        append(0)
                        m.d.comb += events.ready.eq(1)
                        m.next = "END_HI"
                with m.Else():
                    with m.If(~room4):
                        m.next = "FIN"
                    with m.Else():
                        m.d.comb += self.o_reserve.eq(1)
                        m.d.sync += [rec_start.eq(self.i_wptr), rec_count.eq(0)]
                        m.next = "INDEX_WAIT"
            with m.State("END_HI"):
                append(spec.RECORD_END >> 8)
                m.next = "NEW_WAIT"
            with m.State("INDEX_WAIT"):
                m.next = "INDEX"
            with m.State("INDEX"):               # the next index of the open record
                with m.If(~events.valid):
                    m.d.sync += rec_end.eq(0)
                    m.next = "CLOSE"
                with m.Elif(head.eos):
                    m.d.comb += events.ready.eq(1)
                    m.d.sync += rec_end.eq(1)
                    m.next = "CLOSE"
                with m.Elif(~room2):
                    m.d.sync += rec_end.eq(0)
                    m.next = "CLOSE"
                with m.Else():
                    hi = head.neuron[8:16] if self.neuron_width > 8 else C(0, 8)
                    append(head.neuron[:8])
                    m.d.comb += events.ready.eq(1)
                    m.d.sync += [index_hi.eq(hi), rec_count.eq(rec_count + 1)]
                    m.next = "INDEX_HI"
            with m.State("INDEX_HI"):
                append(index_hi)
                m.next = "INDEX_WAIT"
            # write the record header at rec_start, then continue after the record
            with m.State("CLOSE"):
                patch(rec_start, rec_count)
                m.next = "CLOSE_HI"
            with m.State("CLOSE_HI"):
                patch(rec_start | 1, rec_end << 7)
                with m.If(rec_end):
                    m.next = "NEW_WAIT"
                with m.Else():
                    m.next = "FIN"
            with m.State("FIN"):
                m.d.comb += self.o_done.eq(1)
                m.next = "IDLE"
        return m
