"""Raster plots of per-step spike arrays, and the saving of every figure (matplotlib, no
display needed)."""

from pathlib import Path

import numpy as np

__all__ = ["raster", "save"]


def raster(path, spikes, *, title="", compare=None, groups=()):
    """Write a spike raster PNG.

    ``spikes`` is a list of per-step neuron arrays (golden's output form); ``compare``
    (optional, same form) is drawn as hollow markers so disagreement is visible;
    ``groups`` is a sequence of (name, start, size) horizontal bands.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    steps = np.concatenate([np.full(len(s), t) for t, s in enumerate(spikes)] or [[]])
    cells = np.concatenate([np.asarray(s) for s in spikes] or [[]])
    ax.scatter(steps, cells, s=2.5, c="black", marker="s", linewidths=0, label="golden")
    if compare is not None:
        cs = np.concatenate([np.full(len(s), t) for t, s in enumerate(compare)] or [[]])
        cc = np.concatenate([np.asarray(s) for s in compare] or [[]])
        ax.scatter(cs, cc, s=14, facecolors="none", edgecolors="tab:red", linewidths=0.5,
                   label="board")
        ax.legend(loc="upper right", fontsize=7)
    for k, (name, start, size) in enumerate(groups):
        ax.axhspan(start - 0.5, start + size - 0.5, color=f"C{k}", alpha=0.08)
        ax.text(1.005, start + size / 2, name, ha="left", va="center", fontsize=7,
                transform=ax.get_yaxis_transform())
    ax.set_xlabel("step")
    ax.set_ylabel("neuron")
    ax.set_xlim(-1, len(spikes))
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def save(fig, path):
    """Write ``fig`` to ``path`` (its folder created), close it; returns ``path``."""
    import matplotlib.pyplot as plt
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
