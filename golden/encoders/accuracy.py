"""Accuracy of stochastic representation and multiplication vs bitstream length.

A golden-only study (no RTL twin): it runs the same sources and comparator SNGs the
hardware uses and reports mean absolute errors, so a source and a length can be chosen
from numbers rather than folklore. LFSR results are averaged over random base seeds (an
LFSR's short-stream error depends strongly on where in the m-sequence it starts); Sobol
and van der Corput are deterministic. Vectorised over values and seeds.
"""

import numpy as np

from neurofab.spec import encoders as S
from .lfsr import lfsr_sequence
from .sobol import sobol_sequence, vdc_sequence

__all__ = ["SOURCES", "accuracy_study", "format_study"]

SOURCES = ("lfsr", "lfsr-leap", "sobol", "vdc")


def _words(name, n, width, rng, trials):
    """Word streams of shape ``(n, trials, 2)`` (two independent operands), or
    ``(n, 1, 1)`` for a single-sequence source."""
    if name in ("lfsr", "lfsr-leap"):
        leap = 1 if name == "lfsr" else S.default_leap(width)
        base = rng.integers(1, 1 << width, trials)
        seeds = np.array([S.derive_seeds(width, int(s), 2) for s in base], dtype=np.int64)
        return lfsr_sequence(width, seeds, n, leap=leap)
    if name == "sobol":
        return sobol_sequence(n, [1, 2], width)[:, None, :]
    if name == "vdc":
        return vdc_sequence(n, width)[:, None, None]
    raise ValueError(f"source = {name!r} is not one of {SOURCES}")


def accuracy_study(lengths=(16, 64, 256, 1024, 4096), *, width=12, samples=256, trials=8,
                   seed=1, sources=SOURCES):
    """Mean absolute error of unipolar representation (``count / L`` vs ``x / 2**width``)
    and of AND multiplication of two independent streams (vs the exact product), per
    source and bitstream length ``L`` (streams start at the source's first word).

    Values are uniform in ``0 .. 2**width - 1`` (``samples`` pairs, fixed by ``seed``);
    LFSR rows average ``trials`` random base seeds. Returns
    ``{source: {"represent": [...], "multiply": [...] or None}}``, one entry per length.
    """
    lengths = sorted(int(L) for L in lengths)
    rng = np.random.default_rng(seed)
    xa = rng.integers(0, 1 << width, samples)
    xb = rng.integers(0, 1 << width, samples)
    pa, pb = xa / (1 << width), xb / (1 << width)
    out = {}
    for name in sources:
        words = _words(name, lengths[-1], width, rng, trials)
        two = words.shape[2] == 2
        ca = np.zeros((words.shape[1], samples), dtype=np.int64)
        cp = np.zeros_like(ca)
        rep, mul, done = [], [], 0
        for L in lengths:
            a = words[done:L, :, 0, None] < xa
            ca += a.sum(axis=0)
            rep.append(float(np.abs(ca / L - pa).mean()))
            if two:
                cp += (a & (words[done:L, :, 1, None] < xb)).sum(axis=0)
                mul.append(float(np.abs(cp / L - pa * pb).mean()))
            done = L
        out[name] = {"represent": rep, "multiply": mul if two else None}
    return out


def format_study(study, lengths=(16, 64, 256, 1024, 4096)):
    """A Markdown table of ``accuracy_study`` results."""
    rows = ["| source | operation | " + " | ".join(f"L = {L}" for L in lengths) + " |",
            "|---|---|" + "---|" * len(lengths)]
    for name, res in study.items():
        for op in ("represent", "multiply"):
            if res[op] is not None:
                rows.append(f"| {name} | {op} | " + " | ".join(f"{e:.4f}" for e in res[op]) + " |")
    return "\n".join(rows)
