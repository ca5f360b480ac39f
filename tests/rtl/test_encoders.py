"""Every encoder component converts (RTLIL) and survives being elaborated twice — back ends
such as the Verilator build elaborate a design more than once."""

import pytest
from amaranth.back import rtlil

from neurofab.rtl import encoders as E

MAKERS = [
    lambda: E.Lfsr(16, 1), lambda: E.Lfsr(16, 1, leap=16), lambda: E.Sobol(5, 16),
    lambda: E.VanDerCorput(12), lambda: E.ComparatorSng(8, 3), lambda: E.SngBank(8, 3),
    lambda: E.SngBank(8, 3, source="sobol"), lambda: E.SngBank(8, 3, source="vdc", shared=True),
    lambda: E.ScAnd(4), lambda: E.ScOr(4), lambda: E.ScXnor(4), lambda: E.ScMux(4),
    lambda: E.ScCordiv(4), lambda: E.ScTanh(4, 8), lambda: E.ScCounter(4, 64),
    lambda: E.RateEncoder(8), lambda: E.LatencyEncoder(8), lambda: E.DeltaEncoder(8),
    lambda: E.PopulationEncoder(3, 6, fields=4),
]


@pytest.mark.parametrize("k", range(len(MAKERS)))
def test_convert_twice(k):
    dut = MAKERS[k]()
    first = rtlil.convert(dut, name="top")
    assert first == rtlil.convert(dut, name="top")
