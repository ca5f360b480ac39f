"""Golden Galois LFSR: full period for every width, primitive tap table, seed rules."""

import numpy as np
import pytest

from neurofab.golden.encoders.lfsr import lfsr_advance, lfsr_sequence
from neurofab.spec import encoders as S


# --- an independent GF(2) toolkit (deliberately not the spec's helpers) -------------
def _mulmod(a, b, p):
    deg = p.bit_length() - 1
    r = 0
    for i in range(b.bit_length()):
        if (b >> i) & 1:
            r ^= a << i
    for i in range(r.bit_length() - 1, deg - 1, -1):
        if (r >> i) & 1:
            r ^= p << (i - deg)
    return r


def _powmod(a, e, p):
    r = 1
    for bit in bin(e)[2:]:
        r = _mulmod(r, r, p)
        if bit == "1":
            r = _mulmod(r, a, p)
    return r


def _prime_factors(n):
    fs, f = set(), 2
    while f * f <= n:
        while n % f == 0:
            fs.add(f)
            n //= f
        f += 1
    if n > 1:
        fs.add(n)
    return sorted(fs)


def _primitive(p):
    w = p.bit_length() - 1
    order = (1 << w) - 1
    return (_powmod(2, order, p) == 1
            and all(_powmod(2, order // q, p) != 1 for q in _prime_factors(order)))


@pytest.mark.parametrize("width", range(S.LFSR_MIN_WIDTH, 21))
def test_period_exhaustive(width):
    period = (1 << width) - 1
    seq = lfsr_sequence(width, 1, period + 1)
    assert seq[0] == 1 and seq[period] == 1
    # every non-zero state exactly once in one period: maximal length
    seen = np.zeros(1 << width, dtype=bool)
    seen[seq[:period]] = True
    assert not seen[0] and seen[1:].all()


@pytest.mark.parametrize("width", range(S.LFSR_MIN_WIDTH, S.LFSR_MAX_WIDTH + 1))
def test_tap_table_primitive(width):
    taps = S.LFSR_TAPS[width]
    assert taps[0] == width and all(0 < t <= width for t in taps)
    p = S.LFSR_POLY[width]
    assert p == 1 | sum(1 << t for t in taps)
    assert p.bit_length() - 1 == width
    assert _primitive(p)
    assert S.LFSR_TOGGLE[width] == p >> 1


def test_primitive_check_rejects():
    # x^4 + x^2 + 1 = (x^2 + x + 1)^2 is not primitive; x^4+x^3+x^2+x+1 has order 5
    assert not _primitive(0b10101) and not _primitive(0b11111)
    assert not S.gf2_is_primitive(0b10101) and not S.gf2_is_primitive(0b11111)
    with pytest.raises(ValueError, match="not primitive"):
        S.lfsr_poly(4, 0b11111)
    with pytest.raises(ValueError, match="degree 4, expected 5"):
        S.lfsr_poly(5, 0b10011)


def test_sequence_definition_matches_step():
    """Element 0 is the seed; element k+1 is one Galois clock after element k."""
    rng = np.random.default_rng(1)
    for width in (4, 9, 16, 23, 32):
        seed = int(rng.integers(1, 1 << width))
        seq = lfsr_sequence(width, seed, 300)
        s = seed
        for k in range(300):
            assert seq[k] == s
            s = (s >> 1) ^ (S.LFSR_TOGGLE[width] if s & 1 else 0)


def test_known_16bit_sequence():
    # x^16+x^15+x^13+x^4+1, toggle 0xD008: from seed 1 the state jumps to the toggle
    seq = lfsr_sequence(16, 1, 4)
    assert list(seq) == [1, 0xD008, 0x6804, 0x3402]


def test_lanes_vectorised_and_jump():
    rng = np.random.default_rng(2)
    seeds = rng.integers(1, 1 << 20, size=(3, 5))
    seq = lfsr_sequence(20, seeds, 1000)
    assert seq.shape == (1000, 3, 5)
    for idx in np.ndindex(3, 5):
        assert np.array_equal(seq[(slice(None),) + idx], lfsr_sequence(20, int(seeds[idx]), 1000))
    assert np.array_equal(lfsr_advance(20, seeds, 999), seq[999])
    assert lfsr_advance(20, 7, (1 << 20) - 1) == 7
    assert S.lfsr_jump(20, 7, 12345) == lfsr_sequence(20, 7, 12346)[-1]


def test_derive_seeds():
    for width, lanes in ((4, 15), (8, 7), (16, 64), (32, 5)):
        seeds = S.derive_seeds(width, 3, lanes)
        assert len(set(seeds)) == lanes and all(0 < s < (1 << width) for s in seeds)
        assert seeds[0] == 3
        stride = ((1 << width) - 1) // lanes
        assert seeds == [S.lfsr_jump(width, 3, k * stride) for k in range(lanes)]
    with pytest.raises(ValueError, match=r"lanes = 16 is outside the limit \[1, 15\]"):
        S.derive_seeds(4, 1, 16)


@pytest.mark.parametrize("width, seed, match", [
    (8, 0, "seed = 0 is the lock-up state"),
    (8, 256, "seed = 256 does not fit width 8"),
    (8, -1, "seed = -1 does not fit width 8"),
    (3, 1, r"LFSR width = 3 is outside the limit \[4, 32\]"),
    (33, 1, r"LFSR width = 33 is outside the limit \[4, 32\]"),
])
def test_invalid(width, seed, match):
    with pytest.raises(ValueError, match=match):
        lfsr_sequence(width, seed, 4)


def test_invalid_array_seed():
    with pytest.raises(ValueError, match="seed = 0"):
        lfsr_sequence(8, np.array([3, 0, 5]), 4)
    with pytest.raises(TypeError):
        lfsr_sequence(8, 1.5, 4)


def test_leap_forward():
    for width, leap in ((8, 8), (16, 16), (13, 5)):
        seq = lfsr_sequence(width, 9, 200, leap=leap)
        assert np.array_equal(seq, lfsr_sequence(width, 9, 200 * leap)[::leap])
        cols = S.lfsr_leap_columns(width, leap)
        for s, nxt in zip(seq[:-1], seq[1:]):
            acc = 0
            for i in range(width):
                if (int(s) >> i) & 1:
                    acc ^= cols[i]
            assert acc == nxt
    assert S.default_leap(16) == 16 and S.default_leap(12) == 16 and S.default_leap(6) == 8
    with pytest.raises(ValueError, match="leap = 6 shares the factor 3 with the period "
                                         "2\\*\\*6 - 1 = 63"):
        lfsr_sequence(6, 1, 4, leap=6)
    with pytest.raises(ValueError, match=r"LFSR leap = 0 is outside the limit \[1, 62\]"):
        lfsr_sequence(6, 1, 4, leap=0)


def test_docs_tap_table_matches_spec():
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / "docs" / "stochastic.md").read_text()
    section = text.split("**Tap table.**")[1].split("Example:")[0]
    found = {}
    for row in section.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        for w, taps in zip(cells[0::2], cells[1::2]):
            if re.fullmatch(r"\d+", w):
                found[int(w)] = tuple(int(t) for t in taps.split(","))
    assert found == S.LFSR_TAPS
