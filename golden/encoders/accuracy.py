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

__all__ = ["SOURCES", "accuracy_study", "format_study", "scc", "scc_study", "plot_study"]

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


def _error(est, exact, metric):
    d = est - exact
    if metric == "mae":
        return float(np.abs(d).mean())
    return float(np.sqrt((d * d).mean()))


def accuracy_study(lengths=(16, 64, 256, 1024, 4096), *, width=12, samples=256, trials=8,
                   seed=1, sources=SOURCES, metric="mae"):
    """Mean absolute error (``metric="mae"``) or root-mean-square error (``"rmse"``) of
    unipolar representation (``count / L`` vs ``x / 2**width``) and of AND multiplication
    of two independent streams (vs the exact product), per source and bitstream length
    ``L`` (streams start at the source's first word).

    Values are uniform in ``0 .. 2**width - 1`` (``samples`` pairs, fixed by ``seed``);
    LFSR rows average ``trials`` random base seeds. Returns
    ``{source: {"represent": [...], "multiply": [...] or None}}``, one entry per length
    (van der Corput has one sequence, so no independent pair: no multiply).
    """
    if metric not in ("mae", "rmse"):
        raise ValueError(f"metric = {metric!r} is not one of ('mae', 'rmse')")
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
            rep.append(_error(ca / L, pa, metric))
            if two:
                cp += (a & (words[done:L, :, 1, None] < xb)).sum(axis=0)
                mul.append(_error(cp / L, pa * pb, metric))
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


def scc(a, b, axis=0):
    """Stochastic cross-correlation (Alaghi & Hayes 2013) of bitstreams ``a`` and ``b``
    along ``axis``: +1 maximal overlap (shared source), 0 independent, -1 minimal overlap.

    ``SCC = (p_ab - p_a p_b) / (min(p_a, p_b) - p_a p_b)`` if ``p_ab > p_a p_b``, else
    ``(p_ab - p_a p_b) / (p_a p_b - max(p_a + p_b - 1, 0))``; 0 where the denominator is 0
    (a constant stream is uncorrelated with anything).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    pa, pb, pab = a.mean(axis=axis), b.mean(axis=axis), (a * b).mean(axis=axis)
    d = pab - pa * pb
    den = np.where(d > 0, np.minimum(pa, pb) - pa * pb, pa * pb - np.maximum(pa + pb - 1, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, d / np.where(den > 0, den, 1), 0.0)
    return out


def scc_study(lengths=(256, 4096), *, width=12, samples=256, trials=8, seed=1,
              sources=("lfsr", "lfsr-leap", "sobol")):
    """Mean ``|SCC|`` of the two operand streams each source gives an AND multiplier (the
    independence :func:`accuracy_study` relies on), per length; same stimulus rules.
    Returns ``{source: [...]}``, one entry per length."""
    lengths = sorted(int(L) for L in lengths)
    rng = np.random.default_rng(seed)
    xa = rng.integers(0, 1 << width, samples)
    xb = rng.integers(0, 1 << width, samples)
    out = {}
    for name in sources:
        words = _words(name, lengths[-1], width, rng, trials)
        if words.shape[2] != 2:
            raise ValueError(f"source = {name!r} has a single sequence: no operand pair")
        res = []
        for L in lengths:
            a = words[:L, :, 0, None] < xa
            b = words[:L, :, 1, None] < xb
            res.append(float(np.abs(scc(a, b)).mean()))
        out[name] = res
    return out


PLOT_LENGTHS = tuple(1 << k for k in range(4, 13))


def plot_study(path, study=None, *, lengths=PLOT_LENGTHS, width=12, metric="mae"):
    """Write a PNG of error vs bitstream length per source (log-log): unipolar
    representation and AND multiplication, with ``1/L`` and ``1/sqrt(L)`` guides.
    ``study`` defaults to ``accuracy_study(lengths, width=width, metric=metric)``.
    Returns the path."""
    from pathlib import Path
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = sorted(int(L) for L in lengths)
    if study is None:
        study = accuracy_study(lengths, width=width, metric=metric)
    label = {"lfsr": "LFSR", "lfsr-leap": "LFSR, leap-forward", "sobol": "Sobol (dims 1, 2)",
             "vdc": "van der Corput (Halton base 2)"}
    style = {"lfsr": ("C0", "o", "-"), "lfsr-leap": ("C1", "s", "-"),
             "sobol": ("C2", "^", "-"), "vdc": ("C3", "x", (0, (4, 3)))}
    L = np.array(lengths, dtype=np.float64)
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.6), dpi=90, sharey=True)
    for ax, op, title in zip(axes, ("represent", "multiply"),
                             ("represent x (count / L)", "multiply a·b (AND)")):
        for name, res in study.items():
            if res[op] is None:
                continue
            err = np.array(res[op], dtype=np.float64)
            c, mk, ls = style.get(name, ("k", ".", "-"))
            ax.loglog(L, np.where(err > 0, err, np.nan), color=c, marker=mk, ms=4, lw=1.2,
                      ls=ls, label=label.get(name, name))
        ref = np.array([e for res in study.values() if res[op] is not None
                        for e in res[op][:1]])
        if ref.size:
            top = float(ref.max())
            ax.loglog(L, top * L[0] / L, "k:", lw=0.8, label="∝ 1/L")
            ax.loglog(L, top * np.sqrt(L[0] / L), "k--", lw=0.8, label="∝ 1/√L")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("bitstream length L")
        ax.grid(True, which="major", lw=0.3)
    axes[0].set_ylabel(f"{'mean absolute' if metric == 'mae' else 'RMS'} error "
                       f"({width}-bit values)")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
