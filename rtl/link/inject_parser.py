"""INJECT's payload parser: event records from the frame buffer into the input buffer."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from neurofab import spec
from neurofab.checks import check_int
from neurofab.rtl.util import checked_init

__all__ = ["InjectParser"]


class InjectParser(wiring.Component):
    """Parses the event records of an INJECT payload (``docs/protocol.md``), in two passes.

    A record is a u16 header (bits 0..14: count, bit 15: END) and ``count`` u16 channel
    indices, little endian. The first pass (``i_start``) only validates: it counts the
    input-buffer entries the payload needs (``o_entries``: one per index, one per END) and
    flags a channel ``>= n_inputs`` (``o_bad_arg``) or a payload that ends inside a record
    (``o_bad_length``). The second pass (``i_second_pass``, from the same first byte) writes
    the entries (``o_write``). A pass ends with ``o_done`` when it reaches the payload's end.

    The payload is read from the frame buffer's read port at two clocks per byte: the byte
    read is registered before it is parsed.

    Parameters
    ----------
    n_inputs : int
        Input channels of the core (>= 0).
    max_payload : int
        Longest payload, ``[0, spec.MAX_PAYLOAD]`` (bounds ``o_entries``).

    Attributes
    ----------
    i_start : In(1)
        Begin the first pass (clears ``o_entries`` and the flags).
    i_second_pass : In(1)
        Begin the second pass (the caller has moved the read address back).
    i_data : In(8)
        The frame buffer's byte at its read address, when ``i_data_valid``.
    i_data_valid : In(1)
        ``i_data`` is valid.
    i_at_end : In(1)
        The read address is the payload's end (valid with ``i_data_valid``).
    o_take : Out(1)
        ``i_data`` is taken: advance the read address.
    o_write : Out(1)
        Second pass: enqueue ``o_channel`` or, with ``o_end``, an END entry.
    o_channel : Out(channel_width)
        The channel (0 with ``o_end``).
    o_end : Out(1)
        The entry is a step's END.
    o_done : Out(1)
        The pass reached the payload's end (in this clock).
    o_entries : Out(range(max_payload + 1))
        Entries counted by the first pass.
    o_bad_length : Out(1)
        The first pass ended inside a record.
    o_bad_arg : Out(1)
        The first pass met a channel index ``>= n_inputs``.
    """

    @checked_init
    def __init__(self, *, n_inputs, max_payload=spec.MAX_PAYLOAD):
        self.n_inputs = check_int("n_inputs", n_inputs, 0, spec.MAX_INPUTS)
        self.max_payload = check_int("max_payload", max_payload, 0, spec.MAX_PAYLOAD)
        #: Bits of a channel as stored in the input buffer.
        self.channel_width = max(1, ceil_log2(n_inputs)) if n_inputs else 1
        super().__init__({
            "i_start": In(1),
            "i_second_pass": In(1),
            "i_data": In(8),
            "i_data_valid": In(1),
            "i_at_end": In(1),
            "o_take": Out(1),
            "o_write": Out(1),
            "o_channel": Out(self.channel_width),
            "o_end": Out(1),
            "o_done": Out(1),
            "o_entries": Out(range(max_payload + 1)),
            "o_bad_length": Out(1),
            "o_bad_arg": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        second = Signal()                # the second pass: enqueue
        field = Signal(2)                # next byte: 0 header lo, 1 header hi, 2 index lo, 3 hi
        low_byte = Signal(8)
        left = Signal(15)                # indices left in the record
        record_end = Signal()            # the record closes its step
        byte = Signal(8)                 # the byte read, registered
        entries = self.o_entries
        m.d.comb += self.o_bad_length.eq(field != 0)

        def enqueue_end():
            m.d.comb += [self.o_write.eq(1), self.o_end.eq(1)]

        with m.FSM(name="inject") as fsm:
            with m.State("IDLE"):
                with m.If(self.i_start):
                    m.d.sync += [second.eq(0), field.eq(0), entries.eq(0),
                                 self.o_bad_arg.eq(0)]
                    m.next = "READ"
                with m.If(self.i_second_pass):
                    m.d.sync += [second.eq(1), field.eq(0)]
                    m.next = "READ"
            with m.State("READ"):
                with m.If(~self.i_data_valid):
                    pass
                with m.Elif(self.i_at_end):
                    m.d.comb += self.o_done.eq(1)
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += self.o_take.eq(1)
                    m.d.sync += byte.eq(self.i_data)
                    m.next = "PARSE"
            with m.State("PARSE"):
                m.next = "READ"
                with m.Switch(field):
                    with m.Case(0):
                        m.d.sync += [low_byte.eq(byte), field.eq(1)]
                    with m.Case(1):
                        count = Cat(low_byte, byte[:7])
                        m.d.sync += [left.eq(count), record_end.eq(byte[7])]
                        with m.If(count == 0):
                            m.d.sync += field.eq(0)
                            with m.If(byte[7]):
                                with m.If(second):
                                    enqueue_end()
                                with m.Else():
                                    m.d.sync += entries.eq(entries + 1)
                        with m.Else():
                            m.d.sync += field.eq(2)
                    with m.Case(2):
                        m.d.sync += [low_byte.eq(byte), field.eq(3)]
                    with m.Case(3):
                        channel = Cat(low_byte, byte)
                        last = left == 1
                        m.d.sync += [left.eq(left - 1), field.eq(Mux(last, 0, 2))]
                        with m.If(second):
                            m.d.comb += [self.o_write.eq(1),
                                         self.o_channel.eq(channel[:self.channel_width])]
                            with m.If(last & record_end):
                                m.next = "END"
                        with m.Else():
                            m.d.sync += entries.eq(entries + 1 + (last & record_end))
                            with m.If(channel >= self.n_inputs):
                                m.d.sync += self.o_bad_arg.eq(1)
            with m.State("END"):             # the END entry after the record's last index
                enqueue_end()
                m.next = "READ"
        fsm.state.attrs["fsm_encoding"] = "one-hot"
        return m
