"""The golden core for many independent input streams, and fast on one.

``run_batch`` simulates one configuration on a batch of input streams (a raster per
sample), vectorised over the samples: every kernel state field is an array of shape
(samples, n_neurons). ``golden.run`` uses the same engine (:class:`BatchCore`, one sample)
when it needs no per-step state. The numerics are ``golden/core.py``'s, so
``docs/numerics.md`` is the text both follow; ``tests/golden/test_batch.py`` proves every
sample equal, spike for spike and state for state, to its own single-stream run.

How it is fast: the accumulators of the coming steps are one linear buffer (rows = updates)
instead of an 8-slot ring, so a run's external events go in by one ``np.add.at`` per chunk
of steps; the synapses of a spiking neuron are a precomputed row of buffer offsets and
scaled weights (padded to the longest row when that wastes little); the kernel updates in
place (``Kernel.stepper``). Accumulation is exact integer arithmetic, so the order in which
events arrive never changes a sum (``docs/numerics.md``, "Synapses and accumulators").
"""

import numpy as np

from neurofab import spec

from .state import CoreState, expand_rows

__all__ = ["run_batch", "run_stream", "BatchCore", "PAD_WASTE", "BLOCK_ELEMENTS",
           "CHUNK_ELEMENTS"]

#: The synapses of the neurons are a padded table (one row per neuron, as long as the
#: longest) when it holds at most this many times the neurons' synapses (plus one row's
#: worth per neuron); else their CSR rows are expanded per step.
PAD_WASTE = 2.0

#: ``run_batch`` steps samples together in blocks of about this many neurons (samples x
#: n_neurons): a block's state stays in cache.
BLOCK_ELEMENTS = 1 << 16

#: A chunk of steps (whose external events go in at once) spans about this many (step,
#: sample, neuron) accumulators, and at least ``DELAY_SLOTS`` steps: the buffer (the chunk
#: and ``DELAY_SLOTS`` steps beyond) stays in cache.
CHUNK_ELEMENTS = 1 << 16


class Fanout:
    """The synapses of every source as offsets into a window of the accumulator buffer.

    The buffer is ``(rows, n_batch, n_neurons)``; an event of sample ``b`` delivered in the
    integrate phase of row ``r`` through synapse ``k`` adds ``add[k]`` at flat offset
    ``rel[k] + b * n_neurons`` of the buffer from row ``r`` on (``rel[k] = (delay - 1) *
    stride + target``, ``stride = n_batch * n_neurons``): the accumulator of update
    ``r + delay - 1``.
    """

    def __init__(self, cfg, stride):
        self.ptr = cfg.fanout_ptr
        self.rel = (cfg.syn_delay - spec.DELAY_MIN) * stride + cfg.syn_target
        self.add = cfg.syn_weight << cfg.w_shift
        n = cfg.n_neurons
        self.first = {"neurons": 0, "inputs": n}
        self.tables = {"neurons": self._padded(0, n), "inputs": self._padded(n, cfg.n_sources)}

    def _padded(self, lo, hi):
        """The table of the rows of sources ``lo .. hi - 1``: shape (2, sources, width),
        ``rel`` then ``add``, padded with zero weights; or ``None`` when padding would
        waste more than ``PAD_WASTE`` allows."""
        counts = np.diff(self.ptr[lo:hi + 1])
        width = int(counts.max(initial=0))
        if (hi - lo) * width > PAD_WASTE * (int(counts.sum()) + hi - lo):
            return None
        col = np.arange(width)
        used = col < counts[:, None]
        syn = np.where(used, self.ptr[lo:hi, None] + col, 0)
        return np.stack([np.where(used, self.rel[syn], 0), np.where(used, self.add[syn], 0)])

    def expand(self, sources, base=None):
        """Offsets and weights of every synapse of ``sources`` (CSR rows), each event's
        synapses offset by its ``base`` (``None``: no offset)."""
        syn = expand_rows(self.ptr, sources)
        if base is None:
            return self.rel[syn], self.add[syn]
        counts = self.ptr[sources + 1] - self.ptr[sources]
        return self.rel[syn] + np.repeat(base, counts), self.add[syn]

    def events(self, kind, index, base=None):
        """:meth:`expand` for events of neurons or input channels (``kind``: ``"neurons"``
        or ``"inputs"``; ``index``: neuron or channel numbers), by the padded table of
        their rows when there is one."""
        table = self.tables[kind]
        if table is None:
            return self.expand(index + self.first[kind], base)
        rel, add = np.take(table, index, axis=1)
        if base is not None:
            rel += base[:, None]
        return rel.reshape(-1), add.reshape(-1)


class BatchCore:
    """``n_batch`` copies of a core (one config, no learning) stepping together.

    Parameters
    ----------
    cfg : CoreConfig
        A validated config without learning.
    n_batch : int
        Samples.
    state : CoreState, optional
        The start state of every sample (default ``CoreState.initial(cfg)``).
    """

    def __init__(self, cfg, n_batch, state=None):
        state = CoreState.initial(cfg) if state is None else state
        n = cfg.n_neurons
        self.cfg, self.n_batch, self.step = cfg, n_batch, int(state.step)
        self.stride = n_batch * n
        self.update = cfg.kernel.stepper(cfg.neuron_params(), {
            k: np.broadcast_to(v, (n_batch, n)) for k, v in state.neurons.items()})
        self.fanout = Fanout(cfg, self.stride)
        self.chunk = max(spec.DELAY_SLOTS, CHUNK_ELEMENTS // self.stride)
        self.acc = np.zeros((self.chunk + spec.DELAY_SLOTS, n_batch, n), dtype=np.int64)
        ahead = (self.step + np.arange(spec.DELAY_SLOTS)) % spec.DELAY_SLOTS
        self.acc[:spec.DELAY_SLOTS] = state.acc[ahead][:, None, :]
        pending = np.asarray(state.pending, dtype=np.int64)
        self.pending = (np.arange(n_batch)[:, None] * n + pending).ravel()

    def run(self, events, n_steps):
        """Run ``n_steps`` steps; yields the flat indices (``sample * n_neurons +
        neuron``, sorted) of each update's fired neurons.

        ``events`` are ``(t, b, channel)`` int arrays of the external events, ``t`` (the
        step, counted from this call) non-decreasing.
        """
        t, b, ch = events
        bounds = np.searchsorted(t, np.arange(0, n_steps + self.chunk, self.chunk))
        for k, first in enumerate(range(0, n_steps, self.chunk)):
            steps = min(self.chunk, n_steps - first)
            sel = slice(bounds[k], bounds[k + 1])
            self._inputs(t[sel] - first, b[sel], ch[sel])
            for row in range(steps):
                yield self._step(row)
            self._shift(steps)

    def _inputs(self, t, b, ch):
        """Deliver a chunk's external events (rows ``t``) into the buffer at once."""
        n = self.cfg.n_neurons
        where, add = self.fanout.events("inputs", ch, t * self.stride + b * n)
        np.add.at(self.acc.reshape(-1), where, add)

    def _step(self, row):
        """Integrate the last update's spikes, then update every neuron on ``row``."""
        fired = self.pending
        if fired.size:
            neurons = fired % self.cfg.n_neurons if self.n_batch > 1 else fired
            where, add = self.fanout.events("neurons", neurons, fired - neurons
                                            if self.n_batch > 1 else None)
            np.add.at(self.acc[row:].reshape(-1), where, add)
        self.pending = self.update(self.acc[row])
        self.step += 1
        return self.pending

    def _shift(self, steps):
        """After ``steps`` rows are consumed, move the next ``DELAY_SLOTS`` to the top."""
        slots = spec.DELAY_SLOTS
        self.acc[:slots] = self.acc[steps:steps + slots]
        self.acc[slots:] = 0

    def states(self):
        """The ``CoreState`` of every sample (between two runs: after :meth:`run`)."""
        n, slots = self.cfg.n_neurons, spec.DELAY_SLOTS
        ring = np.empty((slots, self.n_batch, n), dtype=np.int64)
        ring[(self.step + np.arange(slots)) % slots] = self.acc[:slots]
        neurons = self.update.state()
        owner = self.pending // n
        return [CoreState({k: v[b].copy() for k, v in neurons.items()}, ring[:, b].copy(),
                          self.step, self.pending[owner == b] - b * n)
                for b in range(self.n_batch)]


def run_stream(cfg, inputs, state=None):
    """``golden.run`` without trace or learning: ``cfg`` (validated) on one stream of
    checked per-step channel arrays ``inputs``; the list of fired-neuron arrays."""
    lens = np.fromiter((c.size for c in inputs), dtype=np.int64, count=len(inputs))
    t = np.repeat(np.arange(len(inputs), dtype=np.int64), lens)
    ch = np.concatenate(inputs) if inputs else np.zeros(0, dtype=np.int64)
    core = BatchCore(cfg, 1, state)
    return [core.pending for _ in core.run((t, np.zeros_like(t), ch), len(inputs))]


def run_batch(cfg, rasters, *, state=None, final_state=False):
    """Simulate ``cfg`` on a batch of independent input streams, vectorised over them.

    Every sample starts from ``state`` (default: the config's initial state) and sees only
    its own inputs: sample ``b`` of the result equals ``golden.run(cfg, stream_b)``.

    Parameters
    ----------
    cfg : CoreConfig
        A config without learning (``cfg.learning is None``): learning state is per sample,
        so a learning config is refused (run it per stream with ``golden.run``).
    rasters : array or list
        Either an array of shape (samples, steps, n_inputs), bool or integer 0/1:
        ``rasters[b, t, c]`` is an event of channel ``c`` in step ``t`` of sample ``b``
        (wrap a nested-list raster in ``np.asarray``); or a list of samples, each a
        ``golden.run`` input (a list of per-step channel arrays), all of one length.
    state : CoreState, optional
        The start state of every sample (no learning state).
    final_state : bool
        Also return every sample's ``CoreState`` after the last step.

    Returns
    -------
    spikes : bool array, shape (samples, steps, n_neurons)
        ``spikes[b, t, k]``: neuron ``k`` fired in update ``t`` of sample ``b``.
    states : list of CoreState
        With ``final_state=True``: ``(spikes, states)``, one state per sample.

    Raises
    ------
    ValueError
        A learning config or start state; ``rasters`` neither an array nor a list, of the
        wrong shape, of a dtype other than bool or integer, with a value other than 0 or
        1, or (a list) with an out-of-range or repeated channel or streams of different
        lengths. Checked before anything of the result's size is allocated.
    """
    cfg = cfg.validate()
    if cfg.learning is not None or (state is not None and state.learn is not None):
        raise ValueError("run_batch takes no learning config or learning state (learning "
                         "state is per sample): run each stream with golden.run")
    n_batch, n_steps, events = batch_events(cfg, rasters)
    spikes = np.zeros((n_batch, n_steps, cfg.n_neurons), dtype=bool)
    states = []
    block = max(1, BLOCK_ELEMENTS // cfg.n_neurons)
    for lo in range(0, n_batch, block):
        hi = min(n_batch, lo + block)
        core = BatchCore(cfg, hi - lo, state)
        n = cfg.n_neurons
        for t, fired in enumerate(core.run(_samples(events, lo, hi), n_steps)):
            spikes[lo + fired // n, t, fired % n] = True
        states += core.states() if final_state else []
    return (spikes, states) if final_state else spikes


def _samples(events, lo, hi):
    """The events of samples ``lo .. hi - 1``, renumbered from 0, in step order."""
    t, b, ch = events
    keep = (b >= lo) & (b < hi)
    return t[keep], b[keep] - lo, ch[keep]


def batch_events(cfg, rasters):
    """``(samples, steps, (t, b, channel))`` of a checked ``run_batch`` input: every event,
    ordered by step."""
    if isinstance(rasters, np.ndarray):
        b, t, ch = np.nonzero(_check_raster(cfg, rasters))
        n_batch, n_steps = rasters.shape[:2]
    elif isinstance(rasters, (list, tuple)):
        b, t, ch, n_steps = _stream_events(cfg, rasters)
        n_batch = len(rasters)
    else:
        raise ValueError(f"rasters must be an array of shape (samples, steps, n_inputs) or "
                         f"a list of input streams, not {type(rasters).__name__}")
    order = np.argsort(t, kind="stable")
    return n_batch, n_steps, (t[order], b[order], ch[order])


def _check_raster(cfg, raster):
    """Refuse a raster of the wrong shape, dtype or values; returns it."""
    want = f"(samples, steps, n_inputs = {cfg.n_inputs})"
    if raster.ndim != 3 or raster.shape[2] != cfg.n_inputs:
        raise ValueError(f"rasters has shape {raster.shape}, expected {want}")
    if raster.dtype != bool and not np.issubdtype(raster.dtype, np.integer):
        raise ValueError(f"rasters must hold bool or integer 0/1 values, not {raster.dtype}")
    if raster.dtype != bool:
        bad = np.flatnonzero((raster != 0) & (raster != 1))
        if bad.size:
            at = np.unravel_index(bad[0], raster.shape)
            raise ValueError(f"rasters[{', '.join(str(int(k)) for k in at)}] = "
                             f"{raster[at]} is outside the limit [0, 1]")
    return raster


def _stream_events(cfg, streams):
    """``(b, t, channel, steps)`` of a list of ``golden.run`` inputs, each checked."""
    bs, ts, chs = [], [], []
    n_steps = len(streams[0]) if streams else 0
    for b, stream in enumerate(streams):
        try:
            stream = cfg.check_inputs(stream)
        except ValueError as exc:
            raise ValueError(f"rasters[{b}]: {exc}") from None
        if len(stream) != n_steps:
            raise ValueError(f"rasters[{b}] has {len(stream)} steps, expected {n_steps} "
                             f"(the steps of rasters[0])")
        lens = [c.size for c in stream]
        ts.append(np.repeat(np.arange(n_steps, dtype=np.int64), lens))
        chs += stream
        bs.append(np.full(sum(lens), b, dtype=np.int64))
    cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=np.int64))
    return cat(bs), cat(ts), cat(chs), n_steps
