"""Golden UART: waveform and receiver agree (hypothesis), tolerance and glitch rules."""

import numpy as np
from hypothesis import given, settings, strategies as st

from neurofab.golden.link.uart import BITS_PER_FRAME, uart_receive, uart_waveform


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=40), st.integers(4, 40),
       st.floats(-0.02, 0.02), st.floats(0, 5), st.integers(0, 3))
def test_receive_inverts_waveform(data, divisor, error, lead, max_gap):
    rng = np.random.default_rng(len(data))
    frame = BITS_PER_FRAME * divisor * (1 + error)
    gaps = rng.integers(0, max_gap * divisor + 1, len(data))
    starts = lead + np.cumsum(gaps) + frame * np.arange(len(data))
    wave = uart_waveform(data, divisor * (1 + error), starts=starts)
    events = uart_receive(np.concatenate([wave, np.ones(divisor, np.uint8)]), divisor)
    assert [e.kind for e in events] == ["byte"] * len(data)
    assert bytes(e.value for e in events) == data


@settings(max_examples=50, deadline=None)
@given(st.integers(4, 40), st.data())
def test_glitch_rule(divisor, data):
    half = divisor // 2
    width = data.draw(st.integers(1, divisor))
    line = np.ones(20 * divisor, np.uint8)
    line[5:5 + width] = 0
    events = uart_receive(line, divisor)
    # a low pulse of at most half a bit is a glitch; a longer one is a start bit, and
    # the high line after it reads as 0xFF with a good stop bit
    if width <= half:
        assert events == []
    else:
        assert [(e.kind, e.value) for e in events] == [("byte", 0xFF)]
