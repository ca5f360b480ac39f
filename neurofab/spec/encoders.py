"""Bitstream encoders and stochastic computing: tap tables, direction numbers, widths.

``docs/stochastic.md`` is the prose twin of this module. Everything ``rtl/encoders`` and
``golden/encoders`` agree on is defined here once: the LFSR feedback polynomials, the
Sobol direction-number table, the seed-derivation rule, the width limits of every block,
and the small integer helpers that turn those tables into constants (pure Python ints,
so the RTL can use them as reset values and the golden model as numpy constants).

LFSR convention (Galois, shifting right)
    ``out = s & 1;  s' = (s >> 1) ^ (LFSR_TOGGLE[w] if out else 0)``
    with ``LFSR_TOGGLE[w] = LFSR_POLY[w] >> 1``. Reading bit ``i`` of the state as the
    coefficient of ``x**i``, one clock multiplies the state by ``x**-1`` modulo the
    feedback polynomial ``P(x)``; ``P`` primitive makes the period ``2**w - 1``.
"""

from amaranth import unsigned
from amaranth.lib import data

from ..checks import check_int

__all__ = [
    "LFSR_MIN_WIDTH", "LFSR_MAX_WIDTH", "LFSR_TAPS", "LFSR_POLY", "LFSR_TOGGLE",
    "check_lfsr_width", "check_lfsr_seed", "lfsr_poly", "lfsr_step", "lfsr_jump",
    "check_lfsr_leap", "default_leap", "lfsr_leap_columns",
    "gf2_mulmod", "gf2_powmod", "gf2_is_primitive", "derive_seeds",
    "SOBOL_MIN_BITS", "SOBOL_MAX_BITS", "SOBOL_DEFAULT_BITS", "SOBOL_JOE_KUO",
    "SOBOL_MAX_DIM", "check_sobol_bits", "check_sobol_dim", "sobol_directions",
    "VDC_MIN_BITS", "VDC_MAX_BITS", "check_vdc_bits",
    "SNG_SOURCES", "SNG_MIN_WIDTH", "SNG_MAX_WIDTH", "MAX_LANES",
    "check_lanes", "check_value_width", "RandLayout", "ValueLayout", "sng_sources",
    "TANH_MIN_STATES", "TANH_MAX_STATES", "check_tanh_states",
    "DECODE_MAX_LENGTH", "check_decode_length",
    "ENC_MIN_WIDTH", "ENC_MAX_WIDTH", "ENC_DEFAULT_WIDTH", "ENC_DEFAULT_RAND_WIDTH",
    "check_channels", "check_rand_width", "check_enc_width", "check_fields",
    "DELTA_ON", "DELTA_OFF", "delta_channel",
    "POP_MIN_FIELDS", "POP_MAX_FIELDS", "POP_DEFAULT_FIELDS", "POP_MAX_WIDTH",
    "population_table", "ENCODER_KINDS", "check_encoder_kind", "encoder_fanout",
    "encoder_channels",
    "LATENCY_MAX_WINDOW", "check_window", "latency_of", "check_threshold",
]


# ======================================================================================
# LFSR
# ======================================================================================
LFSR_MIN_WIDTH = 4
LFSR_MAX_WIDTH = 32

#: Maximal-length taps per width, from Xilinx XAPP052 "Efficient Shift Registers, LFSR
#: Counters, and Long Pseudo-Random Sequence Generators" (P. Alfke, 1996), Table 3.
#: The feedback polynomial of width ``w`` is ``P(x) = 1 + sum(x**t for t in taps)``
#: (``w`` is always the first tap). XAPP052 lists them for a Fibonacci (many-to-one)
#: register; a polynomial and its reciprocal are primitive together, so the same list
#: read as ``P`` drives our Galois (one-to-many) register at full period. Every entry is
#: proved primitive by ``tests/golden/test_lfsr.py``.
LFSR_TAPS = {
    4: (4, 3),
    5: (5, 3),
    6: (6, 5),
    7: (7, 6),
    8: (8, 6, 5, 4),
    9: (9, 5),
    10: (10, 7),
    11: (11, 9),
    12: (12, 6, 4, 1),
    13: (13, 4, 3, 1),
    14: (14, 5, 3, 1),
    15: (15, 14),
    16: (16, 15, 13, 4),
    17: (17, 14),
    18: (18, 11),
    19: (19, 6, 2, 1),
    20: (20, 17),
    21: (21, 19),
    22: (22, 21),
    23: (23, 18),
    24: (24, 23, 22, 17),
    25: (25, 22),
    26: (26, 6, 2, 1),
    27: (27, 5, 2, 1),
    28: (28, 25),
    29: (29, 27),
    30: (30, 6, 4, 1),
    31: (31, 28),
    32: (32, 22, 2, 1),
}

#: ``P(x)`` as an int (bit ``i`` = coefficient of ``x**i``), per width.
LFSR_POLY = {w: 1 | sum(1 << t for t in taps) for w, taps in LFSR_TAPS.items()}
#: Galois toggle mask ``P >> 1`` (also ``x**-1 mod P``), per width.
LFSR_TOGGLE = {w: p >> 1 for w, p in LFSR_POLY.items()}


def check_lfsr_width(width):
    return check_int("LFSR width", width, LFSR_MIN_WIDTH, LFSR_MAX_WIDTH)


def check_lfsr_seed(width, seed):
    """A seed is a non-zero ``width``-bit state (zero is the LFSR's lock-up state)."""
    seed = check_int("LFSR seed", seed)
    if seed == 0:
        raise ValueError(f"LFSR seed = 0 is the lock-up state; a seed must be in "
                         f"1..{(1 << width) - 1} for width {width}")
    if not 0 < seed < (1 << width):
        raise ValueError(f"LFSR seed = {seed} does not fit width {width}: "
                         f"a seed must be in 1..{(1 << width) - 1}")
    return seed


def gf2_mulmod(a, b, p):
    """``a * b mod p`` over GF(2); polynomials are ints (bit i = coefficient of x**i)."""
    deg = p.bit_length() - 1
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if (a >> deg) & 1:
            a ^= p
    return r


def gf2_powmod(a, e, p):
    """``a ** e mod p`` over GF(2)."""
    r = 1
    while e:
        if e & 1:
            r = gf2_mulmod(r, a, p)
        a = gf2_mulmod(a, a, p)
        e >>= 1
    return r


def _prime_factors(n):
    out, f = [], 2
    while f * f <= n:
        if n % f == 0:
            out.append(f)
            while n % f == 0:
                n //= f
        f += 1 if f == 2 else 2
    if n > 1:
        out.append(n)
    return out


def gf2_is_primitive(p):
    """Whether ``p`` (degree w >= 2) is primitive: x has order exactly ``2**w - 1`` mod p."""
    w = p.bit_length() - 1
    if w < 2 or not p & 1:
        return False
    order = (1 << w) - 1
    if gf2_powmod(2, order, p) != 1:
        return False
    return all(gf2_powmod(2, order // q, p) != 1 for q in _prime_factors(order))


def lfsr_poly(width, poly=None):
    """The feedback polynomial of ``width`` (default table) or a validated user override."""
    check_lfsr_width(width)
    if poly is None:
        return LFSR_POLY[width]
    poly = check_int("LFSR polynomial", poly)
    if poly.bit_length() - 1 != width:
        raise ValueError(f"LFSR polynomial {poly:#x} has degree {poly.bit_length() - 1}, "
                         f"expected {width}")
    if not gf2_is_primitive(poly):
        raise ValueError(f"LFSR polynomial {poly:#x} is not primitive: the period would "
                         f"be shorter than 2**{width} - 1")
    return poly


def lfsr_step(width, state, poly=None):
    """One clock of the Galois LFSR on a Python int."""
    toggle = lfsr_poly(width, poly) >> 1
    return (state >> 1) ^ (toggle if state & 1 else 0)


def lfsr_jump(width, state, k, poly=None):
    """The state ``k`` clocks after ``state`` (``state * x**-k mod P``), in O(log k)."""
    p = lfsr_poly(width, poly)
    period = (1 << width) - 1
    return gf2_mulmod(state, gf2_powmod(p >> 1, k % period, p), p)


def check_lfsr_leap(width, leap):
    """``leap`` = clocks per transfer (a leap-forward LFSR emits every ``leap``-th state).

    It must be coprime with the period ``2**width - 1`` so the emitted sequence still has
    full period.
    """
    import math
    check_lfsr_width(width)
    period = (1 << width) - 1
    leap = check_int("LFSR leap", leap, 1, period - 1)
    g = math.gcd(leap, period)
    if g != 1:
        raise ValueError(f"LFSR leap = {leap} shares the factor {g} with the period "
                         f"2**{width} - 1 = {period}: the sequence would repeat after "
                         f"{period // g} values")
    return leap


def default_leap(width):
    """Smallest leap ``>= width`` coprime with ``2**width - 1``: every emitted word is made
    of ``width`` fresh sequence bits, which removes the shift correlation between
    successive states of a plain LFSR (``s' ≈ s >> 1``)."""
    import math
    check_lfsr_width(width)
    leap = width
    while math.gcd(leap, (1 << width) - 1) != 1:
        leap += 1
    return leap


def lfsr_leap_columns(width, leap=1, poly=None):
    """The ``leap``-clock transition as a GF(2) matrix: column ``i`` (an int) is the state
    reached from the unit state ``1 << i``; the next state is the XOR of the columns of
    the set bits of the current state."""
    p = lfsr_poly(width, poly)
    c = gf2_powmod(p >> 1, leap % ((1 << width) - 1), p)
    return [gf2_mulmod(1 << i, c, p) for i in range(width)]


def derive_seeds(width, seed, lanes, poly=None):
    """Seeds of ``lanes`` independent LFSR lanes derived from one base ``seed``.

    Rule: ``seed_k = lfsr_jump(width, seed, k * (2**width - 1) // lanes)``: lane ``k``
    starts ``k * stride`` clocks further along the same m-sequence, so the lanes are
    evenly spread phases of one maximal sequence — never zero, always distinct, lane 0
    is ``seed`` itself.
    """
    check_lfsr_width(width)
    check_lfsr_seed(width, seed)
    period = (1 << width) - 1
    lanes = check_int("lanes", lanes, 1, period)
    stride = period // lanes
    return [lfsr_jump(width, seed, k * stride, poly) for k in range(lanes)]


# ======================================================================================
# Sobol (Joe & Kuo, new-joe-kuo-6.21201) and van der Corput
# ======================================================================================
SOBOL_MIN_BITS = 1
SOBOL_MAX_BITS = 32
SOBOL_DEFAULT_BITS = 16

#: Rows ``(d, s, a, (m_1..m_s))`` of S. Joe and F. Y. Kuo, "Constructing Sobol sequences
#: with better two-dimensional projections", SIAM J. Sci. Comput. 30 (2008), file
#: new-joe-kuo-6.21201, dimensions 2..31. Dimension 1 (not in the file) has every
#: ``m_k = 1``: the van der Corput base-2 sequence.
SOBOL_JOE_KUO = (
    (2, 1, 0, (1,)),
    (3, 2, 1, (1, 3)),
    (4, 3, 1, (1, 3, 1)),
    (5, 3, 2, (1, 1, 1)),
    (6, 4, 1, (1, 1, 3, 3)),
    (7, 4, 4, (1, 3, 5, 13)),
    (8, 5, 2, (1, 1, 5, 5, 17)),
    (9, 5, 4, (1, 1, 5, 5, 5)),
    (10, 5, 7, (1, 1, 7, 11, 19)),
    (11, 5, 11, (1, 1, 5, 1, 1)),
    (12, 5, 13, (1, 1, 1, 3, 11)),
    (13, 5, 14, (1, 3, 5, 5, 31)),
    (14, 6, 1, (1, 3, 3, 9, 7, 49)),
    (15, 6, 13, (1, 1, 1, 15, 21, 21)),
    (16, 6, 16, (1, 3, 1, 13, 27, 49)),
    (17, 6, 19, (1, 1, 1, 15, 7, 5)),
    (18, 6, 22, (1, 3, 1, 15, 13, 25)),
    (19, 6, 25, (1, 1, 5, 5, 19, 61)),
    (20, 7, 1, (1, 3, 7, 11, 23, 15, 103)),
    (21, 7, 4, (1, 3, 7, 13, 13, 15, 69)),
    (22, 7, 7, (1, 1, 3, 13, 7, 35, 63)),
    (23, 7, 8, (1, 3, 5, 9, 1, 25, 53)),
    (24, 7, 14, (1, 3, 1, 13, 9, 35, 107)),
    (25, 7, 19, (1, 3, 1, 5, 27, 61, 31)),
    (26, 7, 21, (1, 1, 5, 11, 19, 41, 61)),
    (27, 7, 28, (1, 3, 5, 3, 3, 13, 69)),
    (28, 7, 31, (1, 1, 7, 13, 1, 19, 1)),
    (29, 7, 32, (1, 3, 7, 5, 13, 19, 59)),
    (30, 7, 37, (1, 1, 3, 9, 25, 29, 41)),
    (31, 7, 41, (1, 3, 5, 13, 23, 1, 55)),
)
SOBOL_MAX_DIM = 1 + len(SOBOL_JOE_KUO)


def check_sobol_bits(bits):
    return check_int("Sobol bits", bits, SOBOL_MIN_BITS, SOBOL_MAX_BITS)


def check_sobol_dim(dim):
    return check_int("Sobol dimension", dim, 1, SOBOL_MAX_DIM)


def sobol_directions(dim, bits=SOBOL_DEFAULT_BITS):
    """Direction numbers ``v_1 .. v_bits`` of dimension ``dim`` (1-based), as ``bits``-bit ints.

    ``v_k = m_k << (bits - k)``; for ``k > s`` Joe–Kuo's recurrence
    ``m_k = 2 a_1 m_{k-1} ^ 4 a_2 m_{k-2} ^ ... ^ 2**(s-1) a_{s-1} m_{k-s+1}
    ^ 2**s m_{k-s} ^ m_{k-s}`` (``a_1`` is the most significant of the ``s-1`` bits of a).
    """
    check_sobol_dim(dim)
    check_sobol_bits(bits)
    if dim == 1:
        m = [1] * bits
    else:
        _, s, a, m0 = SOBOL_JOE_KUO[dim - 2]
        m = list(m0)
        for k in range(s, bits):              # 0-based: computing m[k] = m_{k+1}
            mk = m[k - s] ^ (m[k - s] << s)
            for i in range(1, s):
                if (a >> (s - 1 - i)) & 1:
                    mk ^= m[k - i] << i
            m.append(mk)
        m = m[:bits]
    return [m[k] << (bits - 1 - k) for k in range(bits)]


VDC_MIN_BITS = 1
VDC_MAX_BITS = 32


def check_vdc_bits(bits):
    return check_int("van der Corput bits", bits, VDC_MIN_BITS, VDC_MAX_BITS)


# ======================================================================================
# Stochastic number generators and SC arithmetic
# ======================================================================================
#: Random sources an SNG bank can be built on.
SNG_SOURCES = ("lfsr", "sobol", "vdc")
SNG_MIN_WIDTH = 1
SNG_MAX_WIDTH = 32
#: Upper bound on the lane count of any SC block (one bit per lane per clock).
MAX_LANES = 1024


def check_lanes(lanes):
    return check_int("lanes", lanes, 1, MAX_LANES)


def check_value_width(width, source_width=None):
    """A comparator operand is ``width`` bits and may not be wider than its source."""
    width = check_int("value width", width, SNG_MIN_WIDTH, SNG_MAX_WIDTH)
    if source_width is not None and width > source_width:
        raise ValueError(f"value width = {width} is wider than the random source "
                         f"({source_width} bits)")
    return width


def RandLayout(width, lanes):
    """One random word per lane: ``ArrayLayout(unsigned(width), lanes)`` (lane 0 lowest)."""
    return data.ArrayLayout(unsigned(width), lanes)


#: Per-lane comparator operands share the random-word layout.
ValueLayout = RandLayout


def sng_sources(source, lanes, *, width, source_width=None, seed=1, shared=False, dim=1,
                leap=1):
    """Resolve the random sources of an SNG bank: ``(source_width, params)``.

    ``params`` has one entry per physical source — one if ``shared`` (every lane compares
    against the same number: maximal positive correlation, SCC = +1) else one per lane
    (independent lanes):

    * ``"lfsr"``: LFSR seeds. ``seed`` is an int — shared: that seed; independent:
      ``derive_seeds(source_width, seed, lanes)`` — or an explicit list of per-lane seeds.
      ``source_width`` defaults to ``max(width, LFSR_MIN_WIDTH)``; ``leap`` (clocks per
      draw, ``check_lfsr_leap``) applies to LFSR sources only.
    * ``"sobol"``: Sobol dimensions — shared: ``dim``; independent: ``dim .. dim+lanes-1``.
      ``source_width`` (the Sobol ``bits``) defaults to ``width``.
    * ``"vdc"``: one van der Corput counter; only ``shared`` makes sense (ValueError).

    The comparator uses the top ``width`` bits of a ``source_width``-bit random word.
    """
    if source not in SNG_SOURCES:
        raise ValueError(f"SNG source = {source!r} is not one of {SNG_SOURCES}")
    check_lanes(lanes)
    check_int("value width", width, SNG_MIN_WIDTH, SNG_MAX_WIDTH)
    if source != "lfsr" and leap != 1:
        raise ValueError(f"leap = {leap!r} applies to LFSR sources only, not {source!r}")
    if source == "lfsr":
        if source_width is None:
            source_width = max(width, LFSR_MIN_WIDTH)
        check_lfsr_width(source_width)
        check_value_width(width, source_width)
        check_lfsr_leap(source_width, leap)
        if isinstance(seed, (list, tuple)):
            if shared:
                raise ValueError("a shared LFSR source takes one seed, not a list")
            if len(seed) != lanes:
                raise ValueError(f"{len(seed)} seeds given for {lanes} lanes")
            params = tuple(check_lfsr_seed(source_width, s) for s in seed)
        elif shared:
            params = (check_lfsr_seed(source_width, seed),)
        else:
            params = tuple(derive_seeds(source_width, seed, lanes))
    elif source == "sobol":
        if source_width is None:
            source_width = width
        check_sobol_bits(source_width)
        check_value_width(width, source_width)
        check_sobol_dim(dim)
        if shared:
            params = (dim,)
        else:
            if dim + lanes - 1 > SOBOL_MAX_DIM:
                raise ValueError(f"independent Sobol lanes use dimensions {dim}..{dim + lanes - 1}"
                                 f", but the table stops at {SOBOL_MAX_DIM}")
            params = tuple(range(dim, dim + lanes))
    else:
        if source_width is None:
            source_width = width
        check_vdc_bits(source_width)
        check_value_width(width, source_width)
        if not shared and lanes > 1:
            raise ValueError("van der Corput has a single sequence: independent lanes need "
                             "source='lfsr' or 'sobol' (or shared=True)")
        params = (None,)
    return source_width, params

#: Brown & Card stochastic tanh: number of FSM states K (even).
TANH_MIN_STATES = 2
TANH_MAX_STATES = 1 << 16


def check_tanh_states(states):
    states = check_int("tanh states", states, TANH_MIN_STATES, TANH_MAX_STATES)
    if states % 2:
        raise ValueError(f"tanh states = {states} must be even")
    return states


#: Longest decoder window (bits per count).
DECODE_MAX_LENGTH = 1 << 24


def check_decode_length(length):
    return check_int("decoder length", length, 1, DECODE_MAX_LENGTH)


# ======================================================================================
# Spike encoders (outputs are ``spec.InputEvent`` streams)
# ======================================================================================
#: Width of the per-channel values a spike encoder receives.
ENC_MIN_WIDTH = 1
ENC_MAX_WIDTH = 16
ENC_DEFAULT_WIDTH = 8
#: Default LFSR width of the Bernoulli draws of the rate and population encoders.
ENC_DEFAULT_RAND_WIDTH = 16


def check_enc_width(width, max_width=ENC_MAX_WIDTH):
    """Value width of a spike encoder (``max_width`` = ``POP_MAX_WIDTH`` for population)."""
    return check_int("value width", width, ENC_MIN_WIDTH, max_width)


def check_fields(fields):
    """Receptive fields per channel of the population encoder."""
    return check_int("population fields", fields, POP_MIN_FIELDS, POP_MAX_FIELDS)


def check_channels(name, channels, max_channels):
    return check_int(name, channels, 1, max_channels)


def check_rand_width(rand_width, width):
    """``rand_width`` (an LFSR width at least the value ``width``)."""
    rand_width = check_lfsr_width(rand_width)
    check_value_width(width, rand_width)
    return rand_width


#: Latency (time-to-first-spike) encoder: longest window, in steps.
LATENCY_MAX_WINDOW = 1 << 16


def check_window(window):
    return check_int("latency window", window, 1, LATENCY_MAX_WINDOW)


def latency_of(value, width, window):
    """Spike step within the window for ``value`` (int or numpy array):
    ``((2**width - 1 - value) * window) >> width`` — 0 for the largest value, at most
    ``window - 1``. Value 0 never spikes (the encoder checks that separately)."""
    return (((1 << width) - 1 - value) * window) >> width


def check_threshold(threshold, width):
    """Delta threshold: a change of at least ``threshold`` (1 .. 2**width - 1) is an event."""
    return check_int("delta threshold", threshold, 1, (1 << width) - 1)


#: Delta encoder: input channel ``c`` maps to core channels ``2c + DELTA_ON`` (rise by at
#: least the threshold) and ``2c + DELTA_OFF`` (fall by at least the threshold).
DELTA_ON = 0
DELTA_OFF = 1


def delta_channel(channel, polarity):
    return 2 * channel + polarity


POP_MIN_FIELDS = 2
POP_MAX_FIELDS = 64
POP_DEFAULT_FIELDS = 8
#: The receptive-field table has ``2**width`` entries (a ROM in the RTL): keep it small.
POP_MAX_WIDTH = 12


def population_table(width, fields, sigma=None, peak=None):
    """Gaussian receptive fields for the population encoder, as integer tables.

    Returns ``(centers, lut)``: ``centers[j] = round(j * (2**width - 1) / (fields - 1))``
    (round half up, exact integer arithmetic) and ``lut[d] = round(peak *
    exp(-d**2 / (2 sigma**2)))`` for every distance ``d`` in ``0 .. 2**width - 1``, a
    ``width``-bit spike probability numerator (probability ``lut[d] / 2**width``).
    Defaults: ``sigma`` = the spacing of the centres, ``peak = 2**width - 1``.
    The tables, not the float formula, are the contract: rtl and golden both use them.
    """
    import numpy as np
    width = check_int("value width", width, ENC_MIN_WIDTH, POP_MAX_WIDTH)
    fields = check_int("population fields", fields, POP_MIN_FIELDS, POP_MAX_FIELDS)
    top = (1 << width) - 1
    if peak is None:
        peak = top
    peak = check_int("population peak", peak, 0, top)
    if sigma is None:
        sigma = top / (fields - 1)
    sigma = float(sigma)
    if not sigma > 0:
        raise ValueError(f"population sigma = {sigma} must be > 0")
    centers = [(2 * j * top + (fields - 1)) // (2 * (fields - 1)) for j in range(fields)]
    d = np.arange(top + 1, dtype=np.float64)
    lut = np.floor(peak * np.exp(-d * d / (2.0 * sigma * sigma)) + 0.5).astype(np.int64)
    return tuple(centers), tuple(int(x) for x in lut)


#: Spike encoders by name (``rtl.encoders.ENCODERS`` / ``golden.encoders.ENCODERS`` map
#: them to classes).
ENCODER_KINDS = ("rate", "latency", "delta", "population")


def check_encoder_kind(kind):
    if kind not in ENCODER_KINDS:
        raise ValueError(f"encoder = {kind!r} is not one of {ENCODER_KINDS}")
    return kind


def encoder_fanout(kind, fields=POP_DEFAULT_FIELDS):
    """Core channels one input channel of encoder ``kind`` drives: 2 for delta (ON, OFF),
    ``fields`` for population, else 1."""
    check_encoder_kind(kind)
    if kind == "delta":
        return 2
    if kind == "population":
        return check_fields(fields)
    return 1


def encoder_channels(kind, n_inputs, fields=POP_DEFAULT_FIELDS):
    """Input channels of an encoder of ``kind`` that fill ``n_inputs`` core channels: the
    default ``channels`` of an encoder in front of a core (``EncodedCore``)."""
    per = encoder_fanout(kind, fields)
    channels = n_inputs // per
    if channels < 1:
        raise ValueError(f"a {kind} encoder needs {per} core input channels per value, the "
                         f"core has n_inputs = {n_inputs}")
    return channels
