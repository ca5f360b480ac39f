"""The link's status counters and IDENTIFY payload, in one small byte-wide memory."""

from amaranth import *
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from neurofab.rtl.util import checked_init
from neurofab.spec import Counter

__all__ = ["Counters"]


class Counters(wiring.Component):
    """The nine ``Counter`` s (u32, little endian, bytes ``0 .. 4 * len(Counter) - 1``)
    followed by a constant block (the IDENTIFY payload) in one byte-wide memory.

    Counters are incremented by a small engine, one read-modify-write of one byte at a time
    (carrying into the next byte), from per-counter pending counts of 2 bits each: the link
    cannot produce events of one counter faster than the engine retires them (a fourth
    pending event of one counter is lost). The lowest-numbered pending counter goes first.

    The memory's read port is the engine's unless ``i_hold``: then it reads ``i_addr``, and
    the engine starts no new increment (``o_quiet`` says that none is pending or under way,
    so what is read is one consistent snapshot of all counters).

    Parameters
    ----------
    constant : bytes
        Bytes stored after the counters (address ``4 * len(Counter)`` on); may be empty.

    Attributes
    ----------
    i_count : In(len(Counter))
        One-clock pulses: bit ``c`` counts one event of ``Counter(c)``.
    i_clear : In(1)
        Zero every counter (from ``o_idle``): pending events are dropped, then the counter
        bytes are cleared one per clock.
    o_clearing : Out(1)
        The counter bytes are being cleared.
    o_idle : Out(1)
        The engine is idle (neither incrementing nor clearing).
    o_quiet : Out(1)
        Idle and nothing pending: the counters are a consistent snapshot.
    i_hold : In(1)
        The read port reads ``i_addr`` (the engine waits).
    i_addr : In(range(4 * len(Counter) + len(constant)))
        Byte to read while ``i_hold``.
    o_data : Out(8)
        The memory's output: the byte at ``i_addr`` one clock after ``i_hold`` and
        ``i_addr`` were presented.
    """

    @checked_init
    def __init__(self, *, constant=b""):
        if not isinstance(constant, (bytes, bytearray)):
            raise TypeError(f"constant must be bytes, not {constant!r}")
        #: Address of the first byte of ``constant``.
        self.constant_base = 4 * len(Counter)
        self.constant = bytes(constant)
        self.depth = self.constant_base + len(constant)
        super().__init__({
            "i_count": In(len(Counter)),
            "i_clear": In(1),
            "o_clearing": Out(1),
            "o_idle": Out(1),
            "o_quiet": Out(1),
            "i_hold": In(1),
            "i_addr": In(range(self.depth)),
            "o_data": Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        n_counters = len(Counter)
        m.submodules.storage = storage = memory.Memory(
            shape=8, depth=self.depth, init=[0] * self.constant_base + list(self.constant))
        wr = storage.write_port()
        rd = storage.read_port(domain="sync", transparent_for=(wr,))

        # pending events per counter
        retire = Signal(n_counters)             # the engine has incremented counter k
        pending = [Signal(2, name=f"pending_{c.name.lower()}") for c in Counter]
        busy = Signal(n_counters)
        for k, p in enumerate(pending):
            m.d.comb += busy[k].eq(p != 0)
            with m.If(self.i_count[k] & ~retire[k] & (p != 3)):
                m.d.sync += p.eq(p + 1)
            with m.Elif(~self.i_count[k] & retire[k]):
                m.d.sync += p.eq(p - 1)

        counter = Signal(range(n_counters))     # being incremented
        byte = Signal(2)                        # its byte
        clear_addr = Signal(range(self.constant_base))
        m.d.comb += [rd.addr.eq(Mux(self.i_hold, self.i_addr, Cat(byte, counter))),
                     self.o_data.eq(rd.data)]
        with m.FSM(name="engine") as engine:
            with m.State("IDLE"):
                m.d.comb += self.o_quiet.eq(~busy.any())
                with m.If(self.i_clear):
                    m.d.sync += clear_addr.eq(0)
                    for p in pending:
                        m.d.sync += p.eq(0)
                    m.next = "CLEAR"
                with m.Elif(busy.any() & ~self.i_hold):
                    for k in reversed(range(n_counters)):     # lowest index first
                        with m.If(busy[k]):
                            m.d.sync += counter.eq(k)
                    m.d.sync += byte.eq(0)
                    m.next = "READ"
            with m.State("READ"):                   # rd.addr = Cat(byte, counter)
                m.next = "WRITE"
            with m.State("WRITE"):
                m.d.comb += [wr.addr.eq(Cat(byte, counter)), wr.data.eq(rd.data + 1),
                             wr.en.eq(1)]
                with m.If((rd.data == 0xFF) & (byte != 3)):
                    m.d.sync += byte.eq(byte + 1)
                    m.next = "READ"
                with m.Else():
                    m.d.comb += retire.eq(1 << counter)
                    m.next = "IDLE"
            with m.State("CLEAR"):
                m.d.comb += [wr.addr.eq(clear_addr), wr.data.eq(0), wr.en.eq(1)]
                m.d.sync += clear_addr.eq(clear_addr + 1)
                with m.If(clear_addr == self.constant_base - 1):
                    m.next = "IDLE"
        m.d.comb += [self.o_idle.eq(engine.ongoing("IDLE")),
                     self.o_clearing.eq(engine.ongoing("CLEAR"))]
        return m
