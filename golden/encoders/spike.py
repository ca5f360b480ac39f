"""Golden spike encoders (twins of ``rtl/encoders/spike.py``).

Every encoder takes, per step, one value per input channel (``width``-bit unsigned) and
produces the core's input events of that step: the list of channels that spike, in
increasing order, followed on the wire by an end-of-step marker (``InputEvent`` with
``eos = 1``, ``channel = 0``). ``run(values)`` takes a ``(steps, channels)`` array and
returns one sorted int64 channel array per step — exactly the ``inputs`` argument of
``neurofab.golden.run`` — and keeps the encoder's state, so successive calls continue
where the last one stopped. Vectorised over steps and channels.

* Rate: channel ``c`` spikes in step ``t`` iff ``r < x`` with ``r`` the top ``width``
  bits of LFSR draw number ``t * channels + c`` (one draw per channel per step, in
  channel order; the LFSR leaps ``leap`` clocks per draw).
* Latency (time to first spike): a step counter ``k`` runs modulo ``window``; channel
  ``c`` spikes iff ``x >= 1`` and ``latency_of(x) == k``, with
  ``latency_of(x) = ((2**width - 1 - x) * window) >> width`` (largest value fires first).
  Holding a value for a whole window gives exactly one spike.
* Delta: channel ``c`` keeps its previous sample ``p`` (0 at reset); ``d = x - p``;
  ``d >= threshold`` spikes core channel ``2c`` (ON), ``-d >= threshold`` spikes
  ``2c + 1`` (OFF); then ``p = x``.
* Population: channel ``c`` feeds ``fields`` neurons ``c * fields + j`` with Gaussian
  receptive fields (``spec.population_table``); neuron ``j`` spikes iff
  ``r < lut[|x - center_j|]``, one LFSR draw per (step, channel, field) in that order.
"""

import numpy as np

from neurofab import spec
from neurofab.spec import encoders as S
from .lfsr import lfsr_advance, lfsr_sequence

__all__ = ["ENCODERS", "RateEncoder", "LatencyEncoder", "DeltaEncoder",
           "PopulationEncoder", "rate_encode", "latency_encode", "delta_encode", "population_encode",
           "to_transactions"]


def to_transactions(steps):
    """Per-step channel arrays -> the ``InputEvent`` sequence ``[(channel, eos), ...]``."""
    out = []
    for chans in steps:
        out.extend((int(c), 0) for c in chans)
        out.append((0, 1))
    return out


def _rows(fire):
    return [np.flatnonzero(row).astype(np.int64) for row in fire]


class _Encoder:
    fields = 1

    def __init__(self, channels, width):
        self.width = S.check_enc_width(width)
        self.channels = S.check_channels("channels", channels, spec.MAX_INPUTS)
        if self.out_channels > spec.MAX_INPUTS:
            raise ValueError(f"{type(self).__name__} drives {self.out_channels} core channels, "
                             f"more than spec.MAX_INPUTS = {spec.MAX_INPUTS}")
        self.step = 0

    @property
    def out_channels(self):
        return self.channels * self.fields

    def _values(self, values):
        v = np.asarray(values)
        if v.ndim == 1:
            v = v[None, :]
        if v.ndim != 2 or v.shape[1] != self.channels:
            raise ValueError(f"values must have shape (steps, {self.channels}), not {np.shape(values)}")
        if v.dtype.kind not in "iu":
            raise TypeError(f"values must be integers, not {v.dtype}")
        v = v.astype(np.int64)
        top = (1 << self.width) - 1
        if v.size and (v.min() < 0 or v.max() > top):
            bad = v[(v < 0) | (v > top)][0]
            raise ValueError(f"encoder value = {bad} does not fit width {self.width} (0..{top})")
        return v

    def run(self, values):
        v = self._values(values)
        fire = self._fire(v)
        self.step += v.shape[0]
        return _rows(fire)


class _Bernoulli(_Encoder):
    def __init__(self, channels, width, seed, rand_width, leap):
        super().__init__(channels, width)
        S.check_rand_width(rand_width, width)
        self.rand_width = rand_width
        self.leap = S.default_leap(rand_width) if leap is None else S.check_lfsr_leap(rand_width, leap)
        self.lfsr = S.check_lfsr_seed(rand_width, seed)

    def _draws(self, count):
        d = lfsr_sequence(self.rand_width, self.lfsr, count, leap=self.leap)
        self.lfsr = int(lfsr_advance(self.rand_width, self.lfsr, count * self.leap))
        return d >> (self.rand_width - self.width)


class RateEncoder(_Bernoulli):
    """Bernoulli rate coding: P(spike) = x / 2**width per step. State: ``lfsr``, ``step``."""

    def __init__(self, channels, width=S.ENC_DEFAULT_WIDTH, *, seed=1,
                 rand_width=S.ENC_DEFAULT_RAND_WIDTH, leap=None):
        super().__init__(channels, width, seed, rand_width, leap)

    def _fire(self, v):
        return self._draws(v.size).reshape(v.shape) < v


class LatencyEncoder(_Encoder):
    """Time-to-first-spike in a window of ``window`` steps. State: ``step``
    (the window phase is ``step % window``)."""

    def __init__(self, channels, width=S.ENC_DEFAULT_WIDTH, *, window=16):
        super().__init__(channels, width)
        self.window = S.check_window(window)

    @property
    def phase(self):
        return self.step % self.window

    def _fire(self, v):
        k = (self.step + np.arange(v.shape[0])) % self.window
        return (v >= 1) & (S.latency_of(v, self.width, self.window) == k[:, None])


class DeltaEncoder(_Encoder):
    """ON/OFF change detection between successive samples. State: ``prev`` (per channel)."""

    fields = 2

    def __init__(self, channels, width=S.ENC_DEFAULT_WIDTH, *, threshold=1):
        super().__init__(channels, width)
        self.threshold = S.check_threshold(threshold, width)
        self.prev = np.zeros(channels, dtype=np.int64)

    def _fire(self, v):
        prev = np.concatenate([self.prev[None, :], v[:-1]], axis=0)
        d = v - prev
        fire = np.zeros((v.shape[0], 2 * self.channels), dtype=bool)
        fire[:, S.DELTA_ON::2] = d >= self.threshold
        fire[:, S.DELTA_OFF::2] = -d >= self.threshold
        if v.shape[0]:
            self.prev = v[-1].copy()
        return fire


class PopulationEncoder(_Bernoulli):
    """Gaussian receptive fields, ``fields`` neurons per channel, Bernoulli spikes.
    State: ``lfsr``, ``step``. Tables: ``centers``, ``lut``."""

    def __init__(self, channels, width=S.ENC_DEFAULT_WIDTH, *, fields=S.POP_DEFAULT_FIELDS,
                 sigma=None, peak=None, seed=1, rand_width=S.ENC_DEFAULT_RAND_WIDTH, leap=None):
        self.fields = S.check_fields(fields)
        S.check_enc_width(width, S.POP_MAX_WIDTH)
        super().__init__(channels, width, seed, rand_width, leap)
        centers, lut = S.population_table(width, fields, sigma, peak)
        self.centers = np.array(centers, dtype=np.int64)
        self.lut = np.array(lut, dtype=np.int64)

    def _fire(self, v):
        dist = np.abs(v[:, :, None] - self.centers[None, None, :])
        p = self.lut[dist]
        return (self._draws(p.size).reshape(p.shape) < p).reshape(v.shape[0], -1)


def rate_encode(values, **kw):
    """One-call form: ``RateEncoder(values.shape[1], **kw).run(values)``."""
    values = np.asarray(values)
    return RateEncoder(values.shape[-1], **kw).run(values)


def latency_encode(values, **kw):
    values = np.asarray(values)
    return LatencyEncoder(values.shape[-1], **kw).run(values)


def delta_encode(values, **kw):
    values = np.asarray(values)
    return DeltaEncoder(values.shape[-1], **kw).run(values)


def population_encode(values, **kw):
    values = np.asarray(values)
    return PopulationEncoder(values.shape[-1], **kw).run(values)


#: ``spec.ENCODER_KINDS`` name -> class
ENCODERS = {"rate": RateEncoder, "latency": LatencyEncoder, "delta": DeltaEncoder,
            "population": PopulationEncoder}
