"""Train the digits SNN in snnTorch, export it to NIR, save snnTorch's reference spikes.

Run from the repository root::

    pip install -e '.[train]'
    python scripts/train_digits.py

It writes the two files that ``neurofab.tasks.digits`` names (``NIR_FILE`` and
``REFERENCE_FILE``, in ``neurofab/tasks/data/``); ``--out-dir`` writes them elsewhere.
Training takes well under two minutes on two CPU cores and is deterministic on one
machine (fixed seeds, two threads, deterministic torch algorithms); another torch build
may round differently and land on other weights. The test accuracy printed every five
epochs is for watching only: nothing is selected by it.

Data and input code: scikit-learn's 8×8 digits, split and spike-encoded by
``neurofab.tasks.digits`` (``load_digits_split``, ``encode``: a pixel of value p fires p
times in 16 steps; ``STEPS`` steps per sample).

Network (one time step, batch ``B``)::

    x (B, 64) → Linear(64, HIDDEN) → Synaptic → Linear(HIDDEN, 10) → Synaptic → spikes

Both ``snn.Synaptic`` layers use the fixed (not learnt) ``ALPHA`` and ``BETA``, the
same for every neuron, threshold 1, ``reset_mechanism="zero"`` and
``reset_delay=False``. Per neuron, snnTorch 1.0.0
computes (``Synaptic.forward`` with ``_base_zero``; its ``reset`` term, the spike of
the stored ``mem``, is always 0 in this mode because a neuron that fires is stored as
0)::

    syn[t] = ALPHA * syn[t-1] + (W x[t] + b)
    m      = BETA * mem[t-1] + syn[t]
    spk[t] = m > 1                       # strict
    mem[t] = 0 if spk[t] else m          # reset in the same step, syn untouched

These are exactly the NIR ``CubaLIF`` semantics that ``snntorch.export_to_nir`` writes
(dt = 1e-4: ``tau_syn = dt / (1 - ALPHA)``, ``tau_mem = dt / (1 - BETA)``,
``r = tau_mem / dt``, ``w_in = tau_syn / dt``, ``v_reset = 0``, ``v_leak = 0``) and that
snnTorch's own ``import_from_nir`` reads back (``reset_mechanism="zero"``). Reset by
subtraction would not survive the export: NIR's CubaLIF has no subtracting reset, and
snnTorch exports a subtracting neuron with the same ``v_reset = 0``.

Training: cross-entropy of the output spike counts (``snntorch.functional
.ce_count_loss``) plus ``RATE_PENALTY`` times the square of the mean hidden firing rate
above ``RATE_FREE`` spikes per neuron and step; Adam, ``EPOCHS`` epochs of mini-batches
of ``BATCH``, the default (arctan) surrogate gradient. A sample's class is
the output neuron with the most spikes over ``STEPS`` steps, ties to the lowest index.

After training the script exports the network with ``snntorch.export_to_nir`` (input
shape (64,)), writes it with ``nir.write``, and saves snnTorch's spikes on the test split
(eval mode, no gradients) with the predictions, labels, accuracy and versions to the
compressed npz.
"""

import argparse
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

import nir
import snntorch as snn
import snntorch.functional as SF
from snntorch.export_nir import export_to_nir

from neurofab.tasks import digits

HIDDEN = 64           # hidden neurons
ALPHA = 0.75          # synaptic current decay per step (12-bit exact: 1 - 1024/4096)
BETA = 0.875          # membrane decay per step (12-bit exact: 1 - 512/4096)
THRESHOLD = 1.0
RESET = "zero"        # see the module docstring: the reset NIR's CubaLIF can express
EPOCHS = 40
BATCH = 64
LR = 2e-3
RATE_PENALTY = 0.5    # weight of the squared mean hidden firing rate above RATE_FREE
RATE_FREE = 0.15      # hidden spikes per neuron and step that cost nothing
SEED = 0


class DigitsSNN(nn.Module):
    """The two-layer CUBA-LIF network; ``forward`` runs one time step.

    The neurons keep their state between calls (``init_hidden=True``); ``reset`` zeroes
    it before a new batch of samples.
    """

    def __init__(self, hidden=HIDDEN, alpha=ALPHA, beta=BETA):
        super().__init__()
        self.fc1 = nn.Linear(digits.PIXELS, hidden)
        self.lif1 = self._neurons(hidden, alpha, beta)
        self.fc2 = nn.Linear(hidden, digits.CLASSES)
        self.lif2 = self._neurons(digits.CLASSES, alpha, beta)

    @staticmethod
    def _neurons(n, alpha, beta):
        # The constants are given per neuron (all equal, not learnt): the exporter copies
        # their shape into the CubaLIF node, and NIR's type inference refuses the
        # 0-d parameters that scalars would give.
        return snn.Synaptic(alpha=torch.full((n,), alpha), beta=torch.full((n,), beta),
                            threshold=torch.full((n,), THRESHOLD), reset_mechanism=RESET,
                            reset_delay=False, init_hidden=True, learn_alpha=False,
                            learn_beta=False, learn_threshold=False)

    def reset(self):
        """Zero the synaptic currents and membrane potentials of both layers."""
        self.lif1.reset_mem()
        self.lif2.reset_mem()

    def step(self, x):
        """One time step: the hidden and output spikes for the input spikes ``x``."""
        h = self.lif1(self.fc1(x))
        return h, self.lif2(self.fc2(h))

    def forward(self, x):
        return self.step(x)[1]

    def run(self, spikes):
        """Run a batch of spike trains ``spikes`` (B, steps, 64) from a zero state; the
        hidden and the output spikes, each of shape (steps, B, n)."""
        self.reset()
        hid, out = [], []
        for t in range(spikes.shape[1]):
            h, o = self.step(spikes[:, t])
            hid.append(h)
            out.append(o)
        return torch.stack(hid), torch.stack(out)


def as_tensor(spikes):
    return torch.from_numpy(spikes.astype(np.float32))


def evaluate(net, spikes, labels):
    """snnTorch's spikes (B, steps, n, bool), predictions and accuracy, in eval mode."""
    net.eval()
    with torch.no_grad():
        hid, out = net.run(as_tensor(spikes))
    hid = hid.numpy().transpose(1, 0, 2) > 0
    out = out.numpy().transpose(1, 0, 2) > 0
    pred = digits.classify(out)
    return hid, out, pred, float(np.mean(pred == labels))


def state_ranges(net, spikes):
    """Smallest and largest ``syn`` and membrane value before the reset (the value the
    spike condition compares) of each layer over a data set."""
    net.eval()
    peak = {}
    x = as_tensor(spikes)
    with torch.no_grad():
        net.reset()
        for t in range(x.shape[1]):
            h = x[:, t]
            for k, (fc, lif) in enumerate(((net.fc1, net.lif1), (net.fc2, net.lif2)), 1):
                cur = fc(h)
                mem = lif.mem if lif.mem.shape == cur.shape else torch.zeros_like(cur)
                h = lif(cur)
                pre = lif.beta * mem + lif.syn          # syn is the new current
                for name, v in ((f"syn{k}", lif.syn), (f"mem{k}", pre)):
                    peak[f"min_{name}"] = min(peak.get(f"min_{name}", np.inf),
                                              float(v.min()))
                    peak[f"max_{name}"] = max(peak.get(f"max_{name}", -np.inf),
                                              float(v.max()))
    return peak


def train(x_train, y_train, x_test, y_test, epochs=EPOCHS, hidden=HIDDEN):
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    net = DigitsSNN(hidden)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    loss_fn = SF.ce_count_loss()
    s_train = as_tensor(digits.encode(x_train))
    t_train = torch.from_numpy(y_train)
    s_test = digits.encode(x_test)
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(len(y_train))
        total = 0.0
        for k in range(0, len(order), BATCH):
            idx = torch.from_numpy(order[k:k + BATCH])
            hid, out = net.run(s_train[idx])
            rate = hid.mean()
            loss = loss_fn(out, t_train[idx]) \
                + RATE_PENALTY * torch.relu(rate - RATE_FREE) ** 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        if epoch % 5 == 4 or epoch == epochs - 1:
            _, _, _, acc_train = evaluate(net, digits.encode(x_train), y_train)
            _, _, _, acc_test = evaluate(net, s_test, y_test)
            print(f"epoch {epoch + 1:3d}  loss {total / len(order):.4f}  "
                  f"train {acc_train:.4f}  test {acc_test:.4f}", flush=True)
    return net


def export(net, path):
    """Export ``net`` with snnTorch's exporter and write it to ``path``; the graph."""
    net.eval()
    net.reset()
    with torch.no_grad():
        graph = export_to_nir(net, torch.zeros(digits.PIXELS))
    net.reset()
    nir.write(path, graph)
    return graph


def describe(graph):
    """Print the node names, types, shapes and edges of a NIR graph."""
    for name, node in graph.nodes.items():
        fields = {k: np.shape(v) for k, v in vars(node).items()
                  if isinstance(v, np.ndarray)}
        print(f"  node {name!r}: {type(node).__name__} {fields}")
    for src, dst in graph.edges:
        print(f"  edge {src!r} -> {dst!r}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=Path, default=digits.DATA_DIR,
                        help="folder for digits.nir and digits_snntorch.npz "
                             "(default: the package's data folder)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    np.random.seed(SEED)
    x_train, y_train, x_test, y_test = digits.load_digits_split()
    net = train(x_train, y_train, x_test, y_test, epochs=args.epochs)

    _, _, _, acc_train = evaluate(net, digits.encode(x_train), y_train)
    hid, out, pred, acc = evaluate(net, digits.encode(x_test), y_test)
    print(f"train accuracy {acc_train:.4f}, test accuracy {acc:.4f} "
          f"({int(np.sum(pred == y_test))}/{len(y_test)})")
    print(f"hidden spikes per neuron and step {hid.mean():.3f}, "
          f"output {out.mean():.3f}")
    for name in ("fc1", "fc2"):
        layer = getattr(net, name)
        print(f"{name}: max |W| {layer.weight.detach().abs().max().item():.4f}, "
              f"max |b| {layer.bias.detach().abs().max().item():.4f}")
    for key, value in state_ranges(net, digits.encode(x_test)).items():
        print(f"{key} {value:+.4f}")

    args.out_dir.mkdir(parents=True, exist_ok=True)
    nir_path = args.out_dir / digits.NIR_FILE.name
    graph = export(net, nir_path)
    print(f"wrote {nir_path}")
    describe(graph)

    ref_path = args.out_dir / digits.REFERENCE_FILE.name
    np.savez_compressed(
        ref_path, hidden_spikes=hid, output_spikes=out,
        predictions=pred.astype(np.int64), labels=y_test.astype(np.int64),
        accuracy=np.float64(acc), alpha=np.float64(ALPHA), beta=np.float64(BETA),
        threshold=np.float64(THRESHOLD), steps=np.int64(digits.STEPS),
        reset_mechanism=np.str_(RESET),
        snntorch_version=np.str_(snn.__version__), torch_version=np.str_(torch.__version__),
        nir_version=np.str_(version("nir")))
    print(f"wrote {ref_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
