"""Fidelity of the integer neuron kernels against float64 references of the same equations.

For every kernel whose float model module (``neurofab.models.<kernel>``) names firing
behaviours (``BEHAVIOURS``), each behaviour is run twice at the same ``dt``:

* **integer** — the model quantised to the kernel's profile (``model.quantise(dt)``), the
  step current quantised to accumulator input (``model.to_current``), one golden kernel
  step per time step from the kernel's initial state (``Kernel.step``, bit-exact with the
  RTL);
* **float** — the module's ``reference(model, current, dt)``: float64 forward Euler of the
  same equations, written independently of the golden model.

The figures: spike counts of both, and the mean and largest ``|Δt|`` of matched spikes
(the k-th integer spike with the k-th float spike, for k below both counts). This is
accuracy, not equivalence: bit-exactness is golden ≡ RTL (``tests/cosim``).

``neurofab fidelity`` prints the table, writes it into ``docs/fidelity.md`` (between the
``<!-- fidelity -->`` markers) with ``--docs`` and draws the gallery PNG of voltage traces.
"""

import importlib
from pathlib import Path

import numpy as np

from neurofab.kernels import KERNELS
from neurofab.plot import save

__all__ = ["behaviours", "run_behaviour", "fidelity_table", "markdown", "gallery"]


def behaviours(kernel=None):
    """``[(kernel name, Behaviour)]`` of every kernel with firing behaviours (or of
    ``kernel`` only)."""
    out = []
    for name, k in KERNELS.items():
        if kernel is not None and name != kernel:
            continue
        try:
            module = importlib.import_module(f"neurofab.models.{k.module}")
        except ImportError:
            continue
        for b in getattr(module, "BEHAVIOURS", {}).values():
            out.append((name, b))
    return out


def run_behaviour(kernel, behaviour):
    """Integer kernel and float reference on one behaviour; returns a dict with the
    traces (``t`` ms, ``v_int`` / ``v_float`` in the model's voltage unit), spike times
    (ms) and the figures."""
    k = KERNELS[kernel]
    model, dt = behaviour.model, behaviour.dt
    module = importlib.import_module(f"neurofab.models.{k.module}")
    steps = int(round(behaviour.duration / dt))
    t = np.arange(steps) * dt
    current = np.array([behaviour.current(x) for x in t], dtype=np.float64)
    report = model.quantise(dt)
    params = {name: np.array([int(v)], dtype=np.int64) for name, v in report.params.items()}
    acc = np.asarray(model.to_current(current, dt), dtype=np.int64)
    state = k.initial_state(params)
    v_int = np.empty(steps, dtype=np.int64)
    fired = []
    for n in range(steps):
        state, spike = k.step(state, acc[n:n + 1], params)
        v_int[n] = state["v"][0]
        if spike[0]:
            fired.append(n)
    v_float, float_spikes = module.reference(model, current, dt)
    ti, tf = np.array(fired) * dt, np.asarray(float_spikes) * dt
    m = min(len(ti), len(tf))
    dts = np.abs(ti[:m] - tf[:m])
    return {"kernel": kernel, "behaviour": behaviour.name, "dt_ms": dt,
            "duration_ms": behaviour.duration, "spikes_int": len(ti), "spikes_float": len(tf),
            "count_diff": len(ti) - len(tf),
            "mean_abs_dt_ms": float(dts.mean()) if m else 0.0,
            "max_abs_dt_ms": float(dts.max()) if m else 0.0,
            "worst_param": report.worst_error[0],
            "worst_param_error": report.worst_error[1],
            "t": t, "v_int": np.asarray(model.to_voltage(v_int), dtype=np.float64),
            "v_float": np.asarray(v_float, dtype=np.float64), "spike_t_int": ti,
            "spike_t_float": tf}


_TRACES = ("t", "v_int", "v_float", "spike_t_int", "spike_t_float")


def fidelity_table(kernel=None, progress=None):
    """:func:`run_behaviour` of every behaviour; rows without the traces (JSON-ready),
    and the full results for :func:`gallery`."""
    todo = behaviours(kernel)
    results = []
    for n, (name, b) in enumerate(todo):
        results.append(run_behaviour(name, b))
        if progress is not None:
            progress(n + 1, len(todo))
    rows = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
             if k not in _TRACES} for r in results]
    return rows, results


def markdown(rows):
    """The table as Markdown."""
    lines = ["| kernel | behaviour | dt (ms) | spikes int | spikes float | Δ count | "
             "mean \\|Δt\\| (ms) | max \\|Δt\\| (ms) | worst parameter (rel. error) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['kernel']} | {r['behaviour']} | {r['dt_ms']:g} | "
                     f"{r['spikes_int']} | {r['spikes_float']} | {r['count_diff']:+d} | "
                     f"{r['mean_abs_dt_ms']:.3f} | {r['max_abs_dt_ms']:.3f} | "
                     f"{r['worst_param']} ({r['worst_param_error']:.1e}) |")
    return "\n".join(lines)


def write_docs(rows, path):
    """Replace the text between ``<!-- fidelity -->`` and ``<!-- /fidelity -->`` of
    ``path`` with the table."""
    path = Path(path)
    text = path.read_text()
    start, end = "<!-- fidelity -->", "<!-- /fidelity -->"
    if start not in text or end not in text:
        raise ValueError(f"{path}: no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{markdown(rows)}\n{end}{tail}")


def gallery(results, path):
    """One PNG: a panel per behaviour, the integer kernel's voltage trace over the float
    reference's."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(results)
    cols = 3
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.2 * rows), dpi=100, squeeze=False)
    for ax, r in zip(axes.flat, results):
        ax.plot(r["t"], r["v_float"], color="tab:blue", lw=0.8, label="float64")
        ax.plot(r["t"], r["v_int"], color="tab:red", lw=0.6, ls="--", label="integer")
        ax.set_title(f"{r['kernel']}: {r['behaviour']} ({r['spikes_int']}/"
                     f"{r['spikes_float']} spikes)", fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6, loc="upper right")
    fig.supxlabel("t (ms)", fontsize=8)
    fig.supylabel("membrane potential (mV; LIF kernels: units of the threshold)", fontsize=8)
    fig.tight_layout()
    return save(fig, path)
