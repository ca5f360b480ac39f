"""The link controller's frame buffer: one byte-wide block RAM with registered ports."""

from amaranth import *
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from neurofab.checks import check_pow2
from neurofab.rtl.util import checked_init

__all__ = ["FrameBuffer"]


class FrameBuffer(wiring.Component):
    """Byte-wide block RAM with a read pointer and a registered write port.

    ``LinkController`` keeps the frame being received in its lower half and the reply
    payload being built in its upper half. Both ports are laid out for block-RAM timing:

    * the read address is a register (``o_addr``: nothing but a flip-flop in front of the
      memory); ``o_data`` is the byte at ``o_addr`` when ``o_data_valid``, one clock after
      the address last changed, and ``o_data_reg`` is that byte registered once more
      (valid a clock later, ``o_data_reg_valid``) for paths that are long after it;
    * writes are registered on their way to the memory (the byte is written one clock after
      ``i_write_en``): a byte read from another block RAM passes a multiplexer into a
      register, never into this block RAM, in the same clock.

    A byte can be read two or more clocks after its write, or one clock after it through
    the write-transparent read port (transparent only because that is cheaper on iCE40
    block RAM; the controller never reads a byte in the clock it is written).

    Parameters
    ----------
    depth : int
        Bytes, a power of two >= 2.

    Attributes
    ----------
    i_write_addr : In(range(depth))
        Address of the byte to write.
    i_write_data : In(8)
        Byte to write.
    i_write_en : In(1)
        Write ``i_write_data`` at ``i_write_addr`` (in the memory one clock later).
    i_seek : In(1)
        Move the read address to ``i_seek_addr``; ``o_data_valid`` and
        ``o_data_reg_valid`` drop. Takes precedence over ``i_advance``.
    i_seek_addr : In(range(depth))
        The new read address.
    i_advance : In(1)
        The byte at the read address is taken (only while ``o_data_valid``): the address
        advances by one, ``o_data_valid`` and ``o_data_reg_valid`` drop.
    o_addr : Out(range(depth))
        The read address, a register.
    o_data : Out(8)
        The memory's output: the byte at ``o_addr`` when ``o_data_valid``.
    o_data_valid : Out(1)
        A clock has passed since the read address last changed.
    o_data_reg : Out(8)
        ``o_data`` one clock later, from a register.
    o_data_reg_valid : Out(1)
        ``o_data_reg`` is the byte at ``o_addr`` (one clock after ``o_data_valid``).
    """

    @checked_init
    def __init__(self, *, depth):
        self.depth = check_pow2("depth", depth, 2, 1 << 16)
        addr_width = exact_log2(depth)
        super().__init__({
            "i_write_addr": In(addr_width),
            "i_write_data": In(8),
            "i_write_en": In(1),
            "i_seek": In(1),
            "i_seek_addr": In(addr_width),
            "i_advance": In(1),
            "o_addr": Out(addr_width),
            "o_data": Out(8),
            "o_data_valid": Out(1),
            "o_data_reg": Out(8),
            "o_data_reg_valid": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.storage = storage = memory.Memory(shape=8, depth=self.depth, init=[])
        wr = storage.write_port()
        rd = storage.read_port(domain="sync", transparent_for=(wr,))

        m.d.comb += [rd.addr.eq(self.o_addr), self.o_data.eq(rd.data)]
        m.d.sync += [self.o_data_valid.eq(1), self.o_data_reg_valid.eq(self.o_data_valid),
                     self.o_data_reg.eq(rd.data)]
        with m.If(self.i_advance):
            m.d.sync += [self.o_addr.eq(self.o_addr + 1), self.o_data_valid.eq(0),
                         self.o_data_reg_valid.eq(0)]
        with m.If(self.i_seek):
            m.d.sync += [self.o_addr.eq(self.i_seek_addr), self.o_data_valid.eq(0),
                         self.o_data_reg_valid.eq(0)]

        m.d.sync += [wr.addr.eq(self.i_write_addr), wr.data.eq(self.i_write_data),
                     wr.en.eq(self.i_write_en)]
        return m
