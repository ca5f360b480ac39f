"""Handwritten digits (scikit-learn's 8×8 set) classified by a trained two-layer SNN.

The data set ships inside scikit-learn (``sklearn.datasets.load_digits``: 1797 images of
8×8 pixels, each pixel an integer 0..16), so nothing is downloaded. The network was
trained in float by snnTorch (``scripts/train_digits.py``) and exported to NIR; both
files it wrote are committed next to this module:

* :data:`NIR_FILE` — ``data/digits.nir``: ``Input(64) → Affine(64→H) → CubaLIF(H) →
  Affine(H→10) → CubaLIF(10) → Output(10)``, as ``snntorch.export_to_nir`` wrote it.
* :data:`REFERENCE_FILE` — ``data/digits_snntorch.npz``: snnTorch's own hidden and
  output spikes on the test split (``hidden_spikes`` (n_test, STEPS, H) and
  ``output_spikes`` (n_test, STEPS, 10), bool), its ``predictions``, the ``labels``,
  its ``accuracy``, the neuron constants ``alpha`` and ``beta``, ``steps``, and the
  snnTorch, torch and nir versions that made it.

The split and the input code are defined here, so the training script and whatever runs
the imported network see the same spikes:

* :func:`load_digits_split` — a deterministic stratified split
  (``sklearn.model_selection.train_test_split`` with :data:`SPLIT_SEED` and
  :data:`TEST_FRACTION`).
* :func:`encode` — a deterministic regular rate code: a pixel of value ``p`` fires ``p``
  times in every 16 steps, evenly spaced (see :func:`encode`).

A sample is classified by the spike count of each output neuron over :data:`STEPS`
steps; the most spikes win, a tie goes to the lowest class index (``numpy.argmax``).

scikit-learn is imported only by :func:`load_digits_split`; this module itself needs
numpy alone.
"""

from pathlib import Path

import numpy as np

from neurofab.checks import check_int

__all__ = ["STEPS", "SPLIT_SEED", "TEST_FRACTION", "PIXELS", "PIXEL_MAX", "CLASSES",
           "DATA_DIR", "NIR_FILE", "REFERENCE_FILE", "DT", "CALIBRATION_SAMPLES",
           "load_digits_split", "encode", "classify", "import_network", "run_task"]

#: time steps per sample
STEPS = 16
#: ``random_state`` of the train/test split
SPLIT_SEED = 0
#: fraction of the data set held out for testing
TEST_FRACTION = 0.2
#: pixels per image (8×8), the input channels of the network
PIXELS = 64
#: the largest pixel value of the data set (its smallest is 0)
PIXEL_MAX = 16
#: number of classes (digits 0..9), the output neurons of the network
CLASSES = 10

#: folder of the committed network and reference spikes
DATA_DIR = Path(__file__).parent / "data"
#: the trained network as snnTorch exported it to NIR (HDF5)
NIR_FILE = DATA_DIR / "digits.nir"
#: snnTorch's own spikes, predictions and accuracy on the test split (compressed npz)
REFERENCE_FILE = DATA_DIR / "digits_snntorch.npz"
#: The time step snnTorch's NIR exporter assumes (seconds): the file's time constants
#: give back the trained decays at this ``dt`` (forward Euler).
DT = 1e-4
#: Training images the importer calibrates its state scales on.
CALIBRATION_SAMPLES = 128


def load_digits_split():
    """scikit-learn's 8×8 digits, split into a training and a test set.

    The split is stratified by class and deterministic: ``train_test_split`` with
    ``test_size=TEST_FRACTION``, ``random_state=SPLIT_SEED`` and ``stratify=y``.

    Returns
    -------
    x_train, y_train, x_test, y_test : numpy.ndarray
        Images as ``int64`` arrays of shape (n, 64), pixel values 0..16 (row-major 8×8);
        labels as ``int64`` arrays of shape (n,), digits 0..9. With the whole set of
        1797 images the test set has 360 of them.

    Raises
    ------
    ImportError
        If scikit-learn is not installed.
    """
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as exc:
        raise ImportError("the digits task needs scikit-learn (pip install scikit-learn)"
                          ) from exc
    digits = load_digits()
    x = digits.data.astype(np.int64)
    y = digits.target.astype(np.int64)
    if not np.array_equal(x, digits.data):
        raise ValueError("sklearn's digits data are not integral pixel values")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=y)
    return x_train, y_train, x_test, y_test


def encode(images, steps=STEPS):
    """Spike trains of a batch of images: a deterministic regular rate code.

    A pixel of value ``p`` (0..16) fires at step ``t`` (0-based) if and only if::

        floor((t + 1) * p / 16) > floor(t * p / 16)

    so it fires exactly ``p`` times in every 16 consecutive steps (from step 0), evenly
    spaced, the last of them at step 15: 0 never fires, 16 fires at every step, 8 at
    steps 1, 3, 5, .... Over ``steps`` steps a pixel fires ``floor(steps * p / 16)``
    times.

    Parameters
    ----------
    images : array_like of int
        One image of shape (64,) or a batch of shape (B, 64); integer pixel values in
        0..16.
    steps : int, optional
        Number of time steps (at least 1), :data:`STEPS` by default.

    Returns
    -------
    numpy.ndarray of bool
        Spikes of shape (B, steps, 64) — (1, steps, 64) for a single image.

    Raises
    ------
    TypeError
        If ``images`` is not an integer array or ``steps`` not an integer.
    ValueError
        If ``images`` has the wrong shape or a pixel outside 0..16, or ``steps < 1``.
    """
    steps = check_int("steps", steps, 1)
    x = np.asarray(images)
    if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"images must be an array of integer pixel values, not of dtype "
                        f"{x.dtype}")
    if x.ndim == 1:
        x = x[np.newaxis]
    if x.ndim != 2 or x.shape[1] != PIXELS:
        raise ValueError(f"images has shape {np.shape(images)}, expected ({PIXELS},) or "
                         f"(B, {PIXELS})")
    bad = (x < 0) | (x > PIXEL_MAX)
    if bad.any():
        b, k = np.argwhere(bad)[0]
        raise ValueError(f"images[{b}, {k}] = {int(x[b, k])} is outside the limit "
                         f"[0, {PIXEL_MAX}]")
    t = np.arange(steps + 1, dtype=np.int64)[:, np.newaxis]          # (steps + 1, 1)
    level = (t * x.astype(np.int64)[:, np.newaxis, :]) // PIXEL_MAX  # (B, steps + 1, 64)
    return level[:, 1:] > level[:, :-1]


def classify(output_spikes):
    """Class of each sample: the output neuron with the most spikes (ties: lowest index).

    Parameters
    ----------
    output_spikes : array_like
        Output spikes of shape (B, steps, 10) (bool or counts per step).

    Returns
    -------
    numpy.ndarray of int64
        The predicted class of each sample, shape (B,).

    Raises
    ------
    ValueError
        If ``output_spikes`` is not three-dimensional with 10 neurons last.
    """
    s = np.asarray(output_spikes)
    if s.ndim != 3 or s.shape[2] != CLASSES:
        raise ValueError(f"output_spikes has shape {s.shape}, expected (B, steps, "
                         f"{CLASSES})")
    return np.argmax(s.sum(axis=1, dtype=np.int64), axis=1).astype(np.int64)


def import_network():
    """The committed NIR file imported (``neurofab.nir.from_nir``) at :data:`DT`,
    calibrated on the first :data:`CALIBRATION_SAMPLES` training images: ``(Network,
    QuantReport)``."""
    from neurofab.nir import from_nir
    x_train = load_digits_split()[0]
    return from_nir(NIR_FILE, dt=DT, calibration=encode(x_train[:CALIBRATION_SAMPLES]))


def _board_raster(board, gmap, rasters, n_neurons, progress):
    """Spikes (B, steps, n_neurons) of each sample on ``board``, state reset before each."""
    out = np.zeros(rasters.shape[:2] + (n_neurons,), dtype=bool)
    for b, raster in enumerate(rasters):
        board.reset()
        for t, fired in enumerate(board.run(gmap.channels(raster))):
            fired = np.asarray(fired, dtype=np.int64)
            if fired.size and fired.max() >= n_neurons:
                raise ValueError(f"sample {b}, step {t}: the board fired padding neuron "
                                 f"{int(fired.max())}, which has no synapses and a silent "
                                 f"profile")
            out[b, t, fired] = True
        if progress is not None:
            progress(b + 1, len(rasters))
    return out


def confusion(labels, predictions):
    """The (CLASSES, CLASSES) confusion matrix: row = label, column = prediction."""
    m = np.zeros((CLASSES, CLASSES), dtype=np.int64)
    np.add.at(m, (np.asarray(labels), np.asarray(predictions)), 1)
    return m


def plot_confusion(path, matrix, title):
    """Write the confusion matrix as a PNG; returns ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from neurofab.plot import save
    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=110)
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                    color="white" if v > matrix.max() / 2 else "black")
    ax.set_xticks(range(CLASSES))
    ax.set_yticks(range(CLASSES))
    ax.set_xlabel("predicted")
    ax.set_ylabel("label")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def run_task(board=None, *, samples=None, out="out/digits_confusion.png", progress=None):
    """Classify the test split with the imported network: float, golden and ``board``.

    Parameters
    ----------
    board : host.Board, optional
        An open board (e.g. ``Board.open("sim://icebreaker")``); the network is loaded on
        it and every sample runs from a reset state. ``None``: golden only.
    samples : int, optional
        The first ``samples`` test images (default: all).
    out : str
        Confusion-matrix PNG path (of the board's predictions, else golden's).
    progress : callable, optional
        ``progress(done, total)`` after each board sample.

    Returns
    -------
    dict
        ``float_accuracy`` (``neurofab.nir.simulate`` of the file), ``golden_accuracy``,
        ``board_accuracy`` and ``predictions_equal`` (``None`` without a board),
        ``golden_equals_board`` (every spike of every sample), ``snntorch_accuracy``,
        raster agreements with snnTorch's spikes, the import report and the plot path.
    """
    from neurofab.config import compile as compile_network
    from neurofab.golden import run_batch
    from neurofab.nir import raster_agreement, simulate
    _, _, x_test, y_test = load_digits_split()
    n = len(x_test) if samples is None else check_int("samples", samples, 1, len(x_test))
    x, y = encode(x_test[:n]), y_test[:n]
    net, report = import_network()
    cfg = compile_network(net)
    gmap = net.graph
    rasters = gmap.core_inputs(x)
    flt = simulate(NIR_FILE, x, dt=DT)["output"]
    gold = run_batch(cfg, rasters)
    ref = np.load(REFERENCE_FILE)
    pred = {"float": classify(flt), "golden": classify(gmap.spikes(gold, "output"))}
    summary = {"samples": n, "steps": STEPS, "dt": DT,
               "snntorch_accuracy": float((ref["predictions"][:n] == y).mean()),
               "float_accuracy": float((pred["float"] == y).mean()),
               "golden_accuracy": float((pred["golden"] == y).mean()),
               "board_accuracy": None, "predictions_equal": None, "golden_equals_board": None,
               "golden_vs_snntorch_output_agreement": raster_agreement(
                   gmap.spikes(gold, "output"), ref["output_spikes"][:n]),
               "golden_vs_snntorch_hidden_agreement": raster_agreement(
                   gmap.spikes(gold, "lif1"), ref["hidden_spikes"][:n]),
               "neurons": int(net.n_neurons), "synapses": int(cfg.n_synapses),
               "quantisation": report.as_dict()}
    shown = "golden"
    if board is not None:
        board.load(cfg)
        got = _board_raster(board, gmap, rasters, cfg.n_neurons, progress)
        pred["board"] = classify(gmap.spikes(got, "output"))
        summary.update(board_accuracy=float((pred["board"] == y).mean()),
                       predictions_equal=bool(np.array_equal(pred["board"], pred["golden"])),
                       golden_equals_board=bool(np.array_equal(got, gold)))
        shown = "board"
    acc = summary[f"{shown}_accuracy"]
    summary["plot"] = str(plot_confusion(out, confusion(y, pred[shown]), (
        f"digits, {n} test images, {shown}: accuracy {acc:.3f} (float "
        f"{summary['float_accuracy']:.3f})")))
    return summary
