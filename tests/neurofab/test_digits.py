"""The digits task's data (neurofab.tasks.digits): split, input code, committed network."""

import nir
import numpy as np
import pytest

from neurofab.tasks import digits

DT = 1e-4   # the time step snnTorch's exporter assumes


@pytest.fixture(scope="module")
def split():
    return digits.load_digits_split()


@pytest.fixture(scope="module")
def reference():
    with np.load(digits.REFERENCE_FILE) as ref:
        return {k: ref[k] for k in ref.files}


@pytest.fixture(scope="module")
def graph():
    return nir.read(digits.NIR_FILE)


# --- split -------------------------------------------------------------------------
def test_split_is_deterministic(split):
    again = digits.load_digits_split()
    for a, b in zip(split, again):
        assert np.array_equal(a, b)


def test_split_is_stratified_and_complete(split):
    x_train, y_train, x_test, y_test = split
    assert x_train.shape == (1437, digits.PIXELS) and x_test.shape == (360, digits.PIXELS)
    assert y_train.shape == (1437,) and y_test.shape == (360,)
    for a in split:
        assert a.dtype == np.int64
    assert x_train.min() == 0 and x_train.max() == digits.PIXEL_MAX
    per_class = np.bincount(np.concatenate([y_train, y_test]), minlength=digits.CLASSES)
    test_share = np.bincount(y_test, minlength=digits.CLASSES)
    # stratified: every class holds its share of the test set, up to rounding
    assert np.all(np.abs(test_share - digits.TEST_FRACTION * per_class) < 1)
    # no test image is also a training image
    train_rows = {r.tobytes() for r in x_train}
    assert not any(r.tobytes() in train_rows for r in x_test)


# --- input code --------------------------------------------------------------------
def test_encode_fires_each_pixel_value_times_in_16_steps():
    rng = np.random.default_rng(0)
    images = rng.integers(0, digits.PIXEL_MAX + 1, size=(50, digits.PIXELS))
    images[0] = np.arange(digits.PIXELS) % (digits.PIXEL_MAX + 1)   # every value
    spikes = digits.encode(images, steps=16)
    assert spikes.dtype == np.bool_ and spikes.shape == (50, 16, digits.PIXELS)
    assert np.array_equal(spikes.sum(axis=1), images)
    # the code repeats every 16 steps
    long = digits.encode(images, steps=40)
    assert np.array_equal(long[:, :16], spikes) and np.array_equal(long[:, 16:32], spikes)
    assert np.array_equal(long.sum(axis=1), 40 * images // 16)


def test_encode_spaces_spikes_evenly():
    image = np.zeros(digits.PIXELS, dtype=np.int64)
    image[:4] = [0, 8, 16, 1]
    spikes = digits.encode(image)[0]
    assert spikes.shape == (digits.STEPS, digits.PIXELS)
    assert not spikes[:, 0].any()
    assert np.flatnonzero(spikes[:16, 1]).tolist() == list(range(1, 16, 2))
    assert spikes[:, 2].all()
    assert np.flatnonzero(spikes[:16, 3]).tolist() == [15]
    assert not spikes[:, 4:].any()


@pytest.mark.parametrize("images, steps, error, message", [
    (np.full((2, 64), 17), 16, ValueError,
     r"images\[0, 0\] = 17 is outside the limit \[0, 16\]"),
    (np.r_[np.zeros(63, int), -1], 16, ValueError, r"images\[0, 63\] = -1 is outside the limit"),
    (np.zeros((2, 63), int), 16, ValueError,
     r"images has shape \(2, 63\), expected \(64,\) or \(B, 64\)"),
    (np.zeros((2, 2, 64), int), 16, ValueError, r"images has shape \(2, 2, 64\)"),
    (np.zeros((2, 64)), 16, TypeError,
     "images must be an array of integer pixel values, not of dtype float64"),
    (np.zeros((2, 64), bool), 16, TypeError, "not of dtype bool"),
    (np.zeros((2, 64), int), 0, ValueError, "steps = 0 is below the limit 1"),
    (np.zeros((2, 64), int), 16.0, TypeError, "steps must be an integer, not 16.0"),
])
def test_encode_refuses_bad_input(images, steps, error, message):
    with pytest.raises(error, match=message):
        digits.encode(images, steps=steps)


def test_classify_counts_spikes_and_breaks_ties_low():
    out = np.zeros((3, 4, digits.CLASSES), dtype=bool)
    out[0, :3, 7] = True
    out[0, :2, 2] = True          # 7 has more spikes
    out[1, :2, 5] = True
    out[1, 2:, 3] = True          # a tie: the lower index wins
    assert digits.classify(out).tolist() == [7, 3, 0]   # no spikes: class 0
    with pytest.raises(ValueError, match=r"output_spikes has shape \(3, 4\)"):
        digits.classify(out[:, :, 0])


# --- the committed network and snnTorch's reference --------------------------------
def test_committed_files_are_in_the_package():
    assert digits.NIR_FILE.is_file() and digits.NIR_FILE.parent == digits.DATA_DIR
    assert digits.REFERENCE_FILE.is_file()


def test_reference_is_snntorch_on_the_test_split(reference, split):
    y_test = split[3]
    n, steps = len(y_test), digits.STEPS
    assert int(reference["steps"]) == steps
    hidden = reference["hidden_spikes"].shape[2]
    assert reference["hidden_spikes"].shape == (n, steps, hidden)
    assert reference["output_spikes"].shape == (n, steps, digits.CLASSES)
    assert reference["hidden_spikes"].dtype == reference["output_spikes"].dtype == np.bool_
    assert np.array_equal(reference["labels"], y_test)
    assert np.array_equal(reference["predictions"], digits.classify(reference["output_spikes"]))
    accuracy = float(reference["accuracy"])
    assert accuracy == np.mean(reference["predictions"] == y_test)
    assert accuracy >= 0.90
    assert str(reference["reset_mechanism"]) == "zero"
    for key in ("snntorch_version", "torch_version", "nir_version"):
        assert str(reference[key])


def test_nir_graph_is_the_two_layer_network(graph, reference):
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    assert sorted(kinds.values()) == ["Affine", "Affine", "CubaLIF", "CubaLIF", "Input",
                                      "Output"]
    chain = _chain(graph)
    assert [kinds[n] for n in chain] == ["Input", "Affine", "CubaLIF", "Affine", "CubaLIF",
                                         "Output"]
    fc1, lif1, fc2, lif2 = (graph.nodes[n] for n in chain[1:5])
    hidden = reference["hidden_spikes"].shape[2]
    assert fc1.weight.shape == (hidden, digits.PIXELS) and fc1.bias.shape == (hidden,)
    assert fc2.weight.shape == (digits.CLASSES, hidden) and fc2.bias.shape == (digits.CLASSES,)
    for lif in (lif1, lif2):
        np.testing.assert_allclose(1 - DT / lif.tau_syn, reference["alpha"], rtol=1e-6)
        np.testing.assert_allclose(1 - DT / lif.tau_mem, reference["beta"], rtol=1e-6)
        np.testing.assert_allclose(lif.w_in * DT / lif.tau_syn, 1, rtol=1e-6)
        np.testing.assert_allclose(lif.r * DT / lif.tau_mem, 1, rtol=1e-6)
        assert np.all(lif.v_threshold == 1) and np.all(lif.v_reset == 0)
        assert np.all(lif.v_leak == 0)


def test_nir_graph_reproduces_the_reference_spikes(graph, reference, split):
    """The exported parameters, read with NIR's CubaLIF semantics (Euler step ``DT``,
    reset to ``v_reset``), give snnTorch's spikes."""
    layers = [(graph.nodes[a], graph.nodes[b]) for a, b in (("fc1", "lif1"),
                                                               ("fc2", "lif2"))]
    spikes = digits.encode(split[2]).astype(np.float32)
    rasters = [np.zeros((len(spikes), digits.STEPS, len(fc.bias)), bool) for fc, _ in layers]
    state = [(np.zeros(len(fc.bias), np.float32),) * 2 for fc, _ in layers]
    for t in range(digits.STEPS):
        s = spikes[:, t]
        for k, (fc, lif) in enumerate(layers):
            i, v = state[k]
            i = (1 - DT / lif.tau_syn) * i + DT / lif.tau_syn * lif.w_in * (s @ fc.weight.T
                                                                              + fc.bias)
            v = (1 - DT / lif.tau_mem) * v + DT / lif.tau_mem * (lif.v_leak + lif.r * i)
            fired = v > lif.v_threshold
            state[k] = (i, np.where(fired, lif.v_reset, v))
            rasters[k][:, t] = fired
            s = fired.astype(np.float32)
    assert np.mean(rasters[0] == reference["hidden_spikes"]) >= 0.999
    assert np.mean(rasters[1] == reference["output_spikes"]) >= 0.999
    assert np.mean(digits.classify(rasters[1]) == reference["predictions"]) >= 0.99


def _chain(graph):
    """The node names of a graph that is one chain, from its Input to its Output."""
    succ = dict(graph.edges)
    assert len(succ) == len(graph.edges) == len(graph.nodes) - 1
    name, = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    chain = [name]
    while name in succ:
        name = succ[name]
        chain.append(name)
    assert len(chain) == len(graph.nodes)
    return chain


def test_imported_network_classifies_like_the_float_model(tmp_path):
    """The committed NIR file on golden, whole test split: float (``simulate``) ≥ 90 %,
    golden within 2 points of it, and snnTorch's own spikes reproduced."""
    summary = digits.run_task(None, out=tmp_path / "confusion.png")
    assert summary["samples"] == 360
    assert summary["float_accuracy"] >= 0.90
    assert summary["float_accuracy"] == summary["snntorch_accuracy"]
    assert abs(summary["golden_accuracy"] - summary["float_accuracy"]) <= 0.02
    assert summary["golden_vs_snntorch_output_agreement"] >= 0.95
    assert summary["board_accuracy"] is None and summary["predictions_equal"] is None
    assert (tmp_path / "confusion.png").stat().st_size > 0


def test_confusion_counts_every_sample():
    m = digits.confusion([0, 1, 1, 9], [0, 1, 2, 9])
    assert m.sum() == 4 and m[1, 2] == 1 and m[9, 9] == 1 and m[1, 1] == 1
