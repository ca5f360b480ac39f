"""Shared helpers of the encoder RTL (not a block: no golden twin)."""

from amaranth import Cat, Const

from neurofab.spec import encoders as S


__all__ = ["join", "lfsr_next"]


def join(m, inputs, output):
    """Combinational join: ``output`` carries one transaction per transaction of *every*
    stream in ``inputs``. Returns the transfer strobe (``output.valid & output.ready``).

    ``output.valid`` is the AND of the input valids (never depends on ``ready``); every
    input is acknowledged exactly when the output transfers.
    """
    valid = Const(1)
    for port in inputs:
        valid = valid & port.valid
    m.d.comb += output.valid.eq(valid)
    transfer = output.valid & output.ready
    for port in inputs:
        m.d.comb += port.ready.eq(transfer)
    return transfer


def lfsr_next(state, width, poly=None, leap=1):
    """State ``leap`` clocks after ``state`` of the Galois LFSR (right shift, toggle
    ``P >> 1`` when bit 0 is 1), as an XOR network over the bits of ``state``
    (``spec.lfsr_leap_columns``; for ``leap = 1`` this is the shift and the toggle)."""
    cols = S.lfsr_leap_columns(width, leap, poly)
    out = []
    for j in range(width):
        taps = [state[i] for i in range(width) if (cols[i] >> j) & 1]
        bit = taps[0]
        for t in taps[1:]:
            bit = bit ^ t
        out.append(bit)
    return Cat(out)
