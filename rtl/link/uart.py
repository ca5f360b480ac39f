"""UART PHY (8N1): ``UartTx`` and ``UartRx``, bit-true with ``neurofab.golden.link.uart``."""

from amaranth import *
from amaranth.lib import cdc, stream, wiring
from amaranth.lib.wiring import In, Out

from neurofab import spec
from neurofab.rtl.util import checked_init

__all__ = ["UartTx", "UartRx"]


def _check_divisor(divisor):
    if isinstance(divisor, bool) or not isinstance(divisor, int):
        raise TypeError(f"divisor must be an int (clocks per bit), not {divisor!r}; use "
                        f"neurofab.spec.uart_divisor(clk_hz, baud)")
    if divisor < spec.UART_MIN_DIVISOR:
        raise ValueError(f"divisor = {divisor} is below the minimum of "
                         f"{spec.UART_MIN_DIVISOR} clocks per bit")
    return divisor


class UartTx(wiring.Component):
    """UART transmitter, 8N1, LSB first.

    A byte accepted at clock edge ``t`` is on the line from cycle ``t + 1``: start bit
    (0), eight data bits, stop bit (1), ``divisor`` cycles each. ``i_stream.ready`` is high
    when idle and in the last cycle of a stop bit, so back-to-back bytes take exactly
    ``10 * divisor`` cycles each (``golden.link.uart.uart_waveform``).

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, ``spec.uart_divisor(clk_hz, baud)``; at least
        ``spec.UART_MIN_DIVISOR``.

    Attributes
    ----------
    i_stream : In(stream.Signature(8))
        Bytes to send.
    o_tx : Out(1)
        Line output (registered), idle high.
    """

    @checked_init
    def __init__(self, *, divisor):
        self.divisor = _check_divisor(divisor)
        super().__init__({
            "i_stream": In(stream.Signature(8)),
            "o_tx": Out(1, init=1),
        })

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        shreg = Signal(9)                    # d0..d7, stop; shifts in ones
        bits_left = Signal(range(11))        # bits on the line, the current one included
        cnt = Signal(range(d))
        last_cycle = (bits_left == 1) & (cnt == 0)
        m.d.comb += self.i_stream.ready.eq((bits_left == 0) | last_cycle)
        with m.If(self.i_stream.valid & self.i_stream.ready):
            m.d.sync += [
                self.o_tx.eq(0),
                shreg.eq(Cat(self.i_stream.payload, C(1, 1))),
                bits_left.eq(10),
                cnt.eq(d - 1),
            ]
        with m.Elif(bits_left != 0):
            with m.If(cnt == 0):
                m.d.sync += [
                    cnt.eq(d - 1),
                    bits_left.eq(bits_left - 1),
                    self.o_tx.eq(shreg[0]),
                    shreg.eq(Cat(shreg[1:], C(1, 1))),
                ]
            with m.Else():
                m.d.sync += cnt.eq(cnt - 1)
        return m


class UartRx(wiring.Component):
    """UART receiver, 8N1, LSB first, with glitch rejection and mid-bit sampling.

    ``i_rx`` passes a 2-FF synchroniser. On the synchronised line (sample index ``n``),
    exactly as ``golden.link.uart.uart_receive``: a low sample ``n0`` in idle starts a
    candidate; the start bit is checked at ``n0 + divisor // 2`` (high: a glitch, rejected);
    data bits and the stop bit are sampled ``divisor`` cycles apart from there. A low
    stop bit pulses ``o_frame_error``, drops the byte and makes the receiver wait for the
    line to go high. Sampling mid-bit tolerates a ±2 % rate mismatch (more at larger
    divisors).

    Parameters
    ----------
    divisor : int
        Clock cycles per bit; at least ``spec.UART_MIN_DIVISOR``.

    Attributes
    ----------
    i_rx : In(1)
        Line input (asynchronous), idle high.
    o_stream : Out(stream.Signature(8))
        Received bytes. A UART cannot wait: a byte not taken before the next one is
        complete is lost.
    o_frame_error : Out(1)
        One-cycle pulse per byte with a bad stop bit.
    o_overrun : Out(1)
        One-cycle pulse per received byte dropped because ``o_stream`` still held the
        previous one.
    """

    @checked_init
    def __init__(self, *, divisor):
        self.divisor = _check_divisor(divisor)
        super().__init__({
            "i_rx": In(1, init=1),
            "o_stream": Out(stream.Signature(8)),
            "o_frame_error": Out(1),
            "o_overrun": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        rx = Signal(init=1)
        m.submodules.sync = cdc.FFSynchronizer(self.i_rx, rx, init=1)

        cnt = Signal(range(d))
        bit = Signal(range(9))               # 0..7 data, 8 stop
        shreg = Signal(8)
        got_byte = Signal()

        o = self.o_stream
        with m.If(o.valid & o.ready):
            m.d.sync += o.valid.eq(0)
        m.d.sync += [self.o_frame_error.eq(0), self.o_overrun.eq(0)]
        with m.If(got_byte):
            with m.If(o.valid & ~o.ready):
                m.d.sync += self.o_overrun.eq(1)
            with m.Else():
                m.d.sync += [o.valid.eq(1), o.payload.eq(shreg)]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += cnt.eq(d // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(cnt != 0):
                    m.d.sync += cnt.eq(cnt - 1)
                with m.Elif(rx):
                    m.next = "IDLE"           # glitch shorter than half a bit
                with m.Else():
                    m.d.sync += [cnt.eq(d - 1), bit.eq(0)]
                    m.next = "BITS"
            with m.State("BITS"):
                with m.If(cnt != 0):
                    m.d.sync += cnt.eq(cnt - 1)
                with m.Elif(bit != 8):
                    m.d.sync += [
                        cnt.eq(d - 1),
                        bit.eq(bit + 1),
                        shreg.eq(Cat(shreg[1:], rx)),
                    ]
                with m.Elif(rx):
                    m.d.comb += got_byte.eq(1)
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += self.o_frame_error.eq(1)
                    m.next = "WAIT_HIGH"
            with m.State("WAIT_HIGH"):
                with m.If(rx):
                    m.next = "IDLE"
        return m
