"""A small block-RAM FIFO for the link's event buffers (not a block: no golden twin)."""

from amaranth import *
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from neurofab.checks import check_int, check_pow2
from neurofab.rtl.util import checked_init

__all__ = ["EventFifo"]


class EventFifo(wiring.Component):
    """Synchronous FIFO of ``depth`` (a power of two) entries in one memory, first word
    fall-through without an output register.

    The read address looks one entry ahead when an entry is taken (``r_en & r_rdy``), so
    the memory's registered output always shows the head entry. An entry becomes readable
    one clock after the clock that wrote it, so a read never depends on a write in the
    same clock. ``r_rdy`` and ``w_rdy`` are registers (nothing combinational reaches
    them from ``r_en`` / ``w_en`` of the other side). ``level`` counts every stored
    entry; ``clear`` empties the FIFO. The read port is write-transparent only because
    that is cheaper on iCE40 block RAM (no read-first emulation): a same-address write
    never reaches a head entry.

    Parameters
    ----------
    width : int
        Bits of an entry (>= 1).
    depth : int
        Entries, a power of two >= 2.

    Attributes
    ----------
    w_data : In(width)
        Entry to write.
    w_en : In(1)
        Write ``w_data`` (taken only while ``w_rdy``).
    w_rdy : Out(1)
        Not full.
    r_data : Out(width)
        The head entry, while ``r_rdy``.
    r_en : In(1)
        Take the head entry (only while ``r_rdy``).
    r_rdy : Out(1)
        Not empty: ``r_data`` is the head entry.
    level : Out(range(depth + 1))
        Entries stored.
    clear : In(1)
        Empty the FIFO.
    """

    @checked_init
    def __init__(self, *, width, depth):
        self.width = check_int("width", width, 1, None)
        self.depth = check_pow2("depth", depth, 2, 1 << 24)
        super().__init__({
            "w_data": In(width),
            "w_en": In(1),
            "w_rdy": Out(1, init=1),
            "r_data": Out(width),
            "r_en": In(1),
            "r_rdy": Out(1),
            "level": Out(range(depth + 1)),
            "clear": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        n = exact_log2(self.depth)
        m.submodules.storage = mem = memory.Memory(shape=self.width, depth=self.depth,
                                                   init=[])
        wr = mem.write_port()
        rd = mem.read_port(domain="sync", transparent_for=(wr,))
        w_ptr = Signal(n + 1)
        r_ptr = Signal(n + 1)
        r_ptr1 = Signal(n + 1, init=1)  # r_ptr + 1, a register of its own
        do_w = Signal()
        do_r = Signal()
        m.d.comb += [
            self.level.eq(w_ptr - r_ptr),
            self.r_data.eq(rd.data),
            do_w.eq(self.w_en & self.w_rdy),
            do_r.eq(self.r_en & self.r_rdy),
            wr.addr.eq(w_ptr[:n]),
            wr.data.eq(self.w_data),
            wr.en.eq(do_w),
            # a multiplexer, no adder, between r_en and the block-RAM address
            rd.addr.eq(Mux(do_r, r_ptr1[:n], r_ptr[:n])),
        ]
        # both flags are registers, computed a clock ahead: an entry written in this
        # clock is readable from the next clock but one (after the memory has it). The
        # compares use registers only; do_r / do_w just pick one.
        nonempty_now = w_ptr != r_ptr
        nonempty_after_read = w_ptr != r_ptr1
        full_now = self.level == self.depth
        full_after_write = self.level == self.depth - 1
        with m.If(do_w):
            m.d.sync += w_ptr.eq(w_ptr + 1)
        with m.If(do_r):
            m.d.sync += [r_ptr.eq(r_ptr1), r_ptr1.eq(r_ptr1 + 1)]
        m.d.sync += [
            self.r_rdy.eq(Mux(do_r, nonempty_after_read, nonempty_now)),
            self.w_rdy.eq(~Mux(do_w, Mux(do_r, full_now, full_after_write),
                               Mux(do_r, 0, full_now))),
        ]
        with m.If(self.clear):
            m.d.sync += [w_ptr.eq(0), r_ptr.eq(0), r_ptr1.eq(1), self.r_rdy.eq(0),
                         self.w_rdy.eq(1)]
        return m
