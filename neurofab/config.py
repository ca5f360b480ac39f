"""Integer configuration of one neuron core, its validation, file format and builder.

A ``CoreConfig`` is what the golden model simulates, what the RTL takes as memory
init and what the host driver uploads. ``Network`` is the small builder users write;
``compile(network)`` turns it into a ``CoreConfig``.
"""

import hashlib
import io
import struct
from dataclasses import dataclass, field, fields

import numpy as np

from neurofab import spec
from neurofab.checks import check_int, check_pow2
from neurofab.spec import Ctrl, Region, Reset

__all__ = ["CoreConfig", "Population", "InputGroup", "Network", "compile", "DoesNotFit",
           "random_config", "PROFILE_FIELDS", "PROFILE_LIMITS", "UPLOAD_ORDER",
           "state_addresses", "decode_state"]

#: Profile parameters (``spec.PROFILE_FIELDS``: the ``Profile`` layout's fields, the
#: parameters of ``neurofab.golden.lif``).
PROFILE_FIELDS = spec.PROFILE_FIELDS

#: Inclusive legal range of every profile parameter (``docs/numerics.md``).
PROFILE_LIMITS = {
    "decay_i": (0, spec.DECAY_ONE),
    "decay_v": (0, spec.DECAY_ONE),
    "threshold": (1, spec.STATE_MAX),
    "bias": (spec.STATE_MIN, spec.STATE_MAX),
    "v_reset": (spec.STATE_MIN, spec.STATE_MAX),
    "reset": (0, 1),
    "refractory": (0, spec.REF_MAX),
}

_ARRAY_FIELDS = PROFILE_FIELDS + ("profile", "fanout_ptr", "syn_target", "syn_weight", "syn_delay")
_SCALAR_FIELDS = ("n_neurons", "n_inputs", "w_shift")


def _check_range(name, values, lo, hi):
    values = np.asarray(values)
    if values.size == 0:
        return
    bad = (values < lo) | (values > hi)
    if bad.any():
        k = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"{name}[{k}] = {int(values.ravel()[k])} is outside the limit "
                         f"[{lo}, {hi}]")


#: Regions in the order a configuration is uploaded (``CoreConfig.upload_words``).
UPLOAD_ORDER = (Region.PROFILE, Region.STATE, Region.ROWPTR, Region.SYNAPSE, Region.ACC,
                Region.CTRL)


def state_addresses(n_neurons):
    """``(region, index)`` of a core's architectural state, in the order
    :func:`decode_state` reads it: every ``STATE`` word, every ``ACC`` word (index
    ``neuron * DELAY_SLOTS + slot``), then the ``STEP`` register."""
    return ([(Region.STATE, k) for k in range(n_neurons)]
            + [(Region.ACC, k) for k in range(n_neurons * spec.DELAY_SLOTS)]
            + [(Region.CTRL, Ctrl.STEP.value)])


def decode_state(words, n_neurons):
    """The state a core's readback words hold (``words`` in :func:`state_addresses` order:
    ``n_neurons`` STATE words, ``n_neurons * DELAY_SLOTS`` ACC words, the STEP register).

    Returns a dict: ``i``, ``v``, ``ref``, ``profile`` (int64 arrays, one per neuron),
    ``acc`` (int64, ``[slot, neuron]``, sign-extended from ``ACC_WIDTH`` bits) and ``step``
    (an int). Bits above a word's width (``NeuronState.size``, ``ACC_WIDTH``,
    ``STEP_WIDTH``) are ignored.
    """
    n, slots = n_neurons, spec.DELAY_SLOTS
    words = [int(w) for w in words]
    if len(words) != n + n * slots + 1:
        raise ValueError(f"{len(words)} state words, expected {n + n * slots + 1} for "
                         f"n_neurons = {n}")
    out = spec.unpack(spec.NeuronState, np.array(words[:n], dtype=object))
    acc_mask = (1 << spec.ACC_WIDTH) - 1
    acc = np.array([w & acc_mask for w in words[n:n + n * slots]], dtype=np.int64)
    acc = np.where(acc >> (spec.ACC_WIDTH - 1), acc - (1 << spec.ACC_WIDTH), acc)
    out["acc"] = acc.reshape(n, slots).T.copy()
    out["step"] = words[-1] & ((1 << spec.STEP_WIDTH) - 1)
    return out


#: Profile given to padding neurons when no existing profile can serve (see ``_silent_index``).
SILENT_PROFILE = (0, 0, spec.STATE_MAX, 0, 0, Reset.TO_VRESET.value, 0)


def _overflows(needs):
    """``"what: H needed, C available (over by H - C); ..."`` for every ``(what, have,
    cap)`` of ``needs`` with ``have > cap``; empty if all fit."""
    return "; ".join(f"{what}: {have} needed, {cap} available (over by {have - cap})"
                     for what, have, cap in needs if have > cap)


def _silent_index(profiles):
    """Index of a profile under which a neuron without synapses never fires, or ``None``.

    Such a neuron starts at ``i = v = 0`` and gets no input, so ``i`` stays 0 and with
    ``bias <= 0`` its ``v`` never rises above 0, below every legal threshold (>= 1).
    """
    bias = PROFILE_FIELDS.index("bias")
    for k, prof in enumerate(profiles):
        if prof[bias] <= 0:
            return k
    return None


@dataclass(eq=False)
class CoreConfig:
    """Everything one neuron core needs, as integers.

    Parameters
    ----------
    n_neurons : int
        Neurons in the core, a power of two (2 .. ``spec.MAX_NEURONS``).
    n_inputs : int
        External input channels (0 .. ``spec.MAX_INPUTS``). Channel ``c`` is CSR source
        ``n_neurons + c``.
    w_shift : int
        Core-wide weight shift (0 .. ``spec.W_SHIFT_MAX``).
    decay_i, decay_v, threshold, bias, v_reset, reset, refractory : int arrays
        One entry per profile (1 .. ``spec.PROFILE_COUNT`` profiles).
    profile : int array, shape (n_neurons,)
        Profile index of each neuron.
    fanout_ptr : int array, shape (n_neurons + n_inputs + 1,)
        CSR row pointers: source ``s`` owns synapses ``fanout_ptr[s] .. fanout_ptr[s+1]-1``.
    syn_target, syn_weight, syn_delay : int arrays, shape (n_synapses,)
        Target neuron, signed 8-bit weight and delay in steps (1..8) of each synapse.
    """
    n_neurons: int
    n_inputs: int
    w_shift: int
    decay_i: np.ndarray
    decay_v: np.ndarray
    threshold: np.ndarray
    bias: np.ndarray
    v_reset: np.ndarray
    reset: np.ndarray
    refractory: np.ndarray
    profile: np.ndarray
    fanout_ptr: np.ndarray
    syn_target: np.ndarray
    syn_weight: np.ndarray
    syn_delay: np.ndarray

    def __post_init__(self):
        for name in _SCALAR_FIELDS:
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be an integer, not {value!r}")
            setattr(self, name, int(value))
        for name in _ARRAY_FIELDS:
            raw = getattr(self, name)
            if name == "reset":
                raw = [r.value if isinstance(r, Reset) else r for r in np.atleast_1d(
                    np.asarray(raw, dtype=object))]
            arr = np.asarray(raw)
            if arr.size and not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(f"{name} must hold integers, not {arr.dtype}")
            setattr(self, name, arr.astype(np.int64).reshape(-1))

    # --- derived views ---------------------------------------------------------------
    @property
    def n_sources(self):
        return self.n_neurons + self.n_inputs

    @property
    def n_synapses(self):
        return int(self.syn_target.size)

    @property
    def n_profiles(self):
        return int(self.threshold.size)

    @property
    def fanout_count(self):
        return np.diff(self.fanout_ptr)

    def neuron_params(self):
        """Per-neuron kernel parameters (a dict of arrays, profile-gathered)."""
        return {name: getattr(self, name)[self.profile] for name in PROFILE_FIELDS}

    def acc_bounds(self):
        """Worst-case (most negative, most positive) accumulator slot sum per neuron."""
        scaled = self.syn_weight << self.w_shift
        n = self.n_neurons
        pos = np.bincount(self.syn_target, weights=np.maximum(scaled, 0), minlength=n)
        neg = np.bincount(self.syn_target, weights=np.minimum(scaled, 0), minlength=n)
        return neg.astype(np.int64), pos.astype(np.int64)

    # --- validation ------------------------------------------------------------------
    def validate(self):
        """Raise ``ValueError`` naming field, value and limit for anything out of range."""
        n = check_pow2("n_neurons", self.n_neurons, 2, spec.MAX_NEURONS)
        check_int("n_inputs", self.n_inputs, 0, spec.MAX_INPUTS)
        check_int("w_shift", self.w_shift, 0, spec.W_SHIFT_MAX)
        n_prof = self.n_profiles
        if not 1 <= n_prof <= spec.PROFILE_COUNT:
            raise ValueError(f"profiles = {n_prof} is outside the limit [1, {spec.PROFILE_COUNT}]")
        for name in PROFILE_FIELDS:
            arr = getattr(self, name)
            if arr.size != n_prof:
                raise ValueError(f"{name} has {arr.size} entries, expected one per profile "
                                 f"({n_prof})")
            _check_range(name, arr, *PROFILE_LIMITS[name])
        if self.profile.size != n:
            raise ValueError(f"profile has {self.profile.size} entries, expected n_neurons = {n}")
        _check_range("profile", self.profile, 0, n_prof - 1)
        ptr = self.fanout_ptr
        if ptr.size != self.n_sources + 1:
            raise ValueError(f"fanout_ptr has {ptr.size} entries, expected n_neurons + n_inputs"
                             f" + 1 = {self.n_sources + 1}")
        if ptr[0] != 0:
            raise ValueError(f"fanout_ptr[0] = {int(ptr[0])} must be 0")
        counts = np.diff(ptr)
        if (counts < 0).any():
            k = int(np.flatnonzero(counts < 0)[0])
            raise ValueError(f"fanout_ptr[{k + 1}] = {int(ptr[k + 1])} is below fanout_ptr[{k}] ="
                             f" {int(ptr[k])}: row pointers must not decrease")
        _check_range("fan-out of source", counts, 0, spec.MAX_FANOUT)
        if ptr[-1] != self.n_synapses:
            raise ValueError(f"fanout_ptr[-1] = {int(ptr[-1])} must equal the number of "
                             f"synapses ({self.n_synapses})")
        check_int("n_synapses", self.n_synapses, 0, spec.MAX_SYNAPSES)
        for name in ("syn_weight", "syn_delay"):
            if getattr(self, name).size != self.n_synapses:
                raise ValueError(f"{name} has {getattr(self, name).size} entries, expected "
                                 f"{self.n_synapses} (one per synapse)")
        _check_range("syn_target", self.syn_target, 0, n - 1)
        _check_range("syn_weight", self.syn_weight, spec.WEIGHT_MIN, spec.WEIGHT_MAX)
        _check_range("syn_delay", self.syn_delay, spec.DELAY_MIN, spec.DELAY_MAX)
        neg, pos = self.acc_bounds()
        if (pos > spec.ACC_MAX).any() or (neg < spec.ACC_MIN).any():
            k = int(np.flatnonzero((pos > spec.ACC_MAX) | (neg < spec.ACC_MIN))[0])
            worst = int(pos[k]) if pos[k] > spec.ACC_MAX else int(neg[k])
            raise ValueError(
                f"accumulator of neuron {k} could reach {worst} (fan-in x weight << w_shift), "
                f"outside the limit [{spec.ACC_MIN}, {spec.ACC_MAX}]: reduce fan-in, weights "
                f"or w_shift")
        return self

    def check_inputs(self, inputs):
        """Validate per-step input channel arrays; returns them as int64 arrays."""
        out = []
        for t, chans in enumerate(inputs):
            chans = np.asarray(chans, dtype=np.int64).reshape(-1)
            _check_range(f"inputs[{t}]", chans, 0, self.n_inputs - 1)
            if np.unique(chans).size != chans.size:
                raise ValueError(f"inputs[{t}] repeats a channel: each channel carries at most "
                                 f"one event per step")
            out.append(chans)
        return out

    def padded(self, n_neurons, n_inputs, *, n_synapses=None, n_profiles=spec.PROFILE_COUNT):
        """This network on a larger core: extra neurons silent, extra channels unconnected.

        Raises ``ValueError`` naming every quantity that does not fit and by how much.
        The padded config produces the same spikes for the original neurons.
        """
        self.validate()
        cols = np.stack([getattr(self, f) for f in PROFILE_FIELDS], axis=1)
        existing = [tuple(int(x) for x in row) for row in cols]
        pad = n_neurons > self.n_neurons
        silent = _silent_index(existing) if pad else None
        profiles = len(existing) + (pad and silent is None)
        over = _overflows((
            ("neurons", self.n_neurons, n_neurons), ("input channels", self.n_inputs, n_inputs),
            ("synapses", self.n_synapses, n_synapses if n_synapses is not None else
             spec.MAX_SYNAPSES), ("profiles", profiles, n_profiles)))
        if over:
            raise ValueError(over)
        n_neurons = check_pow2("n_neurons", n_neurons, 2, spec.MAX_NEURONS)
        if not pad and n_inputs == self.n_inputs:
            return self
        if pad and silent is None:
            cols = np.vstack([cols, SILENT_PROFILE])
            silent = len(existing)
        profile = np.concatenate([self.profile,
                                  np.full(n_neurons - self.n_neurons, silent or 0)])
        n, ptr = self.n_neurons, self.fanout_ptr
        ptr = np.concatenate([ptr[:n], np.full(n_neurons - n, ptr[n]), ptr[n:],
                              np.full(n_inputs - self.n_inputs, ptr[-1])])
        return CoreConfig(n_neurons=n_neurons, n_inputs=n_inputs, w_shift=self.w_shift,
                          **dict(zip(PROFILE_FIELDS, cols.T)), profile=profile,
                          fanout_ptr=ptr, syn_target=self.syn_target,
                          syn_weight=self.syn_weight, syn_delay=self.syn_delay).validate()

    # --- memory image ----------------------------------------------------------------
    def memory_image(self, *, n_neurons=None, n_inputs=None, syn_capacity=None):
        """The memory words of a core running this config, per region.

        Parameters
        ----------
        n_neurons : int, optional
            Neurons of the core; must be ``self.n_neurons`` (pad a smaller network with
            :meth:`padded`).
        n_inputs : int, optional
            Input channels of the core, at least ``self.n_inputs`` (default); the row
            pointers of the extra channels are empty rows starting at the end of the
            synapses.
        syn_capacity : int, optional
            Depth of the core's synapse memory, at least ``self.n_synapses`` (checked
            only: the words above ``n_synapses`` are never addressed by a row).

        Returns
        -------
        dict
            ``Region`` -> numpy array of words as the memory port carries them (the
            ``spec`` layouts; ``uint64``, or Python ints in an object array for the
            79-bit ``PROFILE`` words); element ``k`` is index ``k`` of the region.
            ``STATE``: ``n_neurons`` words (``i = v = ref = 0``, the neuron's profile);
            ``ACC``: ``n_neurons * DELAY_SLOTS`` zeros; ``PROFILE``: ``PROFILE_COUNT``
            words (unused profiles zero); ``ROWPTR``: ``n_neurons + n_inputs`` words;
            ``SYNAPSE``: ``n_synapses`` words (``delay`` stored as ``d - DELAY_MIN``);
            ``CTRL``: the ``Ctrl`` registers (``W_SHIFT``, ``STEP = 0``). A region's
            array can be shorter than its depth (``spec.region_depths``): the rest is
            zero in a memory init and unused by the config. The RTL stores the row
            pointers narrower (``spec.row_storage``), which reads back as these words.
        """
        self.validate()
        if n_neurons is not None and n_neurons != self.n_neurons:
            raise ValueError(f"n_neurons = {n_neurons} does not match the config's "
                             f"n_neurons = {self.n_neurons} (pad it with CoreConfig.padded)")
        n_inputs = self.n_inputs if n_inputs is None else n_inputs
        if n_inputs < self.n_inputs:
            raise ValueError(f"n_inputs = {n_inputs} is below cfg.n_inputs = {self.n_inputs}")
        if syn_capacity is not None and syn_capacity < self.n_synapses:
            raise ValueError(f"syn_capacity = {syn_capacity} is below the config's "
                             f"{self.n_synapses} synapses")
        n = self.n_neurons
        profile = np.zeros(spec.PROFILE_COUNT, dtype=object)
        profile[:self.n_profiles] = spec.pack(
            spec.Profile, **{name: getattr(self, name) for name in PROFILE_FIELDS})
        ptr = self.fanout_ptr
        starts = np.concatenate([ptr[:-1], np.full(n_inputs - self.n_inputs, ptr[-1])])
        counts = np.concatenate([np.diff(ptr), np.zeros(n_inputs - self.n_inputs, np.int64)])
        ctrl = np.zeros(len(Ctrl), dtype=np.uint64)
        ctrl[Ctrl.W_SHIFT.value] = self.w_shift
        ctrl[Ctrl.STEP.value] = 0
        return {
            Region.STATE: spec.pack(spec.NeuronState, profile=self.profile),
            Region.ACC: np.zeros(n * spec.DELAY_SLOTS, dtype=np.uint64),
            Region.PROFILE: profile,
            Region.ROWPTR: spec.pack(spec.RowPtr, start=starts, count=counts),
            Region.SYNAPSE: spec.pack(spec.Synapse, target=self.syn_target,
                                      weight=self.syn_weight,
                                      delay=self.syn_delay - spec.DELAY_MIN),
            Region.CTRL: ctrl,
        }

    def upload_words(self, *, n_inputs=None, syn_capacity=None, clear_acc=True):
        """The memory-port writes that load this config into a core (and restart it at
        step 0): ``(region, index, word)`` for every word of :meth:`memory_image`, in
        ``UPLOAD_ORDER`` — profiles, neuron states, row pointers, synapses, accumulators
        (only with ``clear_acc``: needed unless the core is fresh), then ``W_SHIFT`` and
        ``STEP`` (writing ``STEP`` also empties the spike queue, so the first step
        delivers no stale spikes). Words are Python ints."""
        image = self.memory_image(n_inputs=n_inputs, syn_capacity=syn_capacity)
        words = []
        for region in UPLOAD_ORDER:
            if region is Region.ACC and not clear_acc:
                continue
            words.extend((region, k, word) for k, word in enumerate(image[region].tolist()))
        return words

    # --- equality and file format ----------------------------------------------------
    def __eq__(self, other):
        if not isinstance(other, CoreConfig):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in _SCALAR_FIELDS) and all(
            np.array_equal(getattr(self, f), getattr(other, f)) for f in _ARRAY_FIELDS)

    def to_bytes(self):
        """The ``.nfcfg`` file format (``docs/architecture.md``, "Config files")."""
        buf = io.BytesIO()
        np.savez(buf, **{f: np.asarray(getattr(self, f), dtype=np.int64)
                         for f in _SCALAR_FIELDS + _ARRAY_FIELDS})
        payload = buf.getvalue()
        header = spec.CONFIG_MAGIC + struct.pack("<HQ", spec.CONFIG_VERSION, len(payload))
        return header + hashlib.sha256(payload).digest() + payload

    @classmethod
    def from_bytes(cls, blob, *, name="config"):
        head = len(spec.CONFIG_MAGIC) + 10
        if len(blob) < head + 32 or not blob.startswith(spec.CONFIG_MAGIC):
            raise ValueError(f"{name}: not a neurofab config file (bad magic or shorter than "
                             f"the {head + 32}-byte header)")
        version, length = struct.unpack_from("<HQ", blob, len(spec.CONFIG_MAGIC))
        if version != spec.CONFIG_VERSION:
            raise ValueError(f"{name}: config format version {version} is not supported "
                             f"(this neurofab reads version {spec.CONFIG_VERSION})")
        digest, payload = blob[head:head + 32], blob[head + 32:]
        if len(payload) != length:
            raise ValueError(f"{name}: truncated or padded: header announces {length} payload "
                             f"bytes, file holds {len(payload)}")
        if hashlib.sha256(payload).digest() != digest:
            raise ValueError(f"{name}: corrupted: SHA-256 of the payload does not match the "
                             f"header")
        with np.load(io.BytesIO(payload), allow_pickle=False) as z:
            missing = [f for f in _SCALAR_FIELDS + _ARRAY_FIELDS if f not in z.files]
            if missing:
                raise ValueError(f"{name}: missing fields {missing}")
            kw = {f: int(z[f]) for f in _SCALAR_FIELDS}
            kw.update({f: z[f] for f in _ARRAY_FIELDS})
        return cls(**kw).validate()

    def save(self, path):
        self.validate()
        with open(path, "wb") as f:
            f.write(self.to_bytes())

    @classmethod
    def load(cls, path):
        with open(path, "rb") as f:
            return cls.from_bytes(f.read(), name=str(path))


# --- the builder -------------------------------------------------------------------
@dataclass(frozen=True)
class Population:
    """A contiguous block of neurons sharing one profile."""
    start: int
    size: int
    profile: int
    name: str = ""

    @property
    def indices(self):
        return np.arange(self.start, self.start + self.size)


@dataclass(frozen=True)
class InputGroup:
    """A contiguous block of external input channels."""
    start: int
    size: int
    name: str = ""

    @property
    def indices(self):
        return np.arange(self.start, self.start + self.size)


@dataclass
class Network:
    """Populations of CUBA-LIF neurons, external inputs and projections between them.

    >>> net = Network(w_shift=2)
    >>> exc = net.population(80, threshold=400, decay_v=256, decay_i=1024)
    >>> inp = net.inputs(8)
    >>> net.project(inp, exc, weight=60, p=0.5, seed=1)
    >>> cfg = compile(net)
    """
    w_shift: int = 0
    profiles: list = field(default_factory=list)
    populations: list = field(default_factory=list)
    input_groups: list = field(default_factory=list)
    projections: list = field(default_factory=list)   # (pre, post, src idx, dst idx, w, d)

    @property
    def n_neurons(self):
        return sum(p.size for p in self.populations)

    @property
    def n_inputs(self):
        return sum(g.size for g in self.input_groups)

    def population(self, size, *, name="", decay_i=0, decay_v=0, threshold=1, bias=0,
                   v_reset=0, reset=Reset.TO_VRESET, refractory=0):
        """Add ``size`` neurons with one parameter profile (identical profiles are shared)."""
        if size < 1:
            raise ValueError(f"population size = {size} must be at least 1")
        prof = (int(decay_i), int(decay_v), int(threshold), int(bias), int(v_reset),
                Reset(reset).value, int(refractory))
        for fname, value in zip(PROFILE_FIELDS, prof):
            _check_range(f"population {name or len(self.populations)}: {fname}", value,
                         *PROFILE_LIMITS[fname])
        if prof not in self.profiles:
            self.profiles.append(prof)
        pop = Population(self.n_neurons, int(size), self.profiles.index(prof), name)
        self.populations.append(pop)
        return pop

    def inputs(self, size, *, name=""):
        """Add ``size`` external input channels."""
        if size < 1:
            raise ValueError(f"input group size = {size} must be at least 1")
        group = InputGroup(self.n_inputs, int(size), name)
        self.input_groups.append(group)
        return group

    def project(self, pre, post, weight, *, delay=1, p=None, seed=None, pairs=None):
        """Connect ``pre`` (Population or InputGroup) to ``post`` (Population).

        ``weight`` and ``delay`` are scalars or (pre.size, post.size) arrays. Without
        ``p`` or ``pairs`` every pair with a non-zero weight is connected; ``p`` keeps each
        pair with that probability (``seed`` for reproducibility); ``pairs`` is an explicit
        ``(pre_idx, post_idx)`` tuple of local index arrays.
        """
        if not isinstance(post, Population):
            raise ValueError("projection target must be a Population, not "
                             f"{type(post).__name__}")
        shape = (pre.size, post.size)
        w = np.broadcast_to(np.asarray(weight, dtype=np.int64), shape)
        d = np.broadcast_to(np.asarray(delay, dtype=np.int64), shape)
        if pairs is not None:
            src, dst = (np.asarray(a, dtype=np.int64).reshape(-1) for a in pairs)
            _check_range("pairs pre index", src, 0, pre.size - 1)
            _check_range("pairs post index", dst, 0, post.size - 1)
        else:
            mask = w != 0
            if p is not None:
                mask &= np.random.default_rng(seed).random(shape) < p
            src, dst = np.nonzero(mask)
        ws, ds = w[src, dst], d[src, dst]
        _check_range("weight", ws, spec.WEIGHT_MIN, spec.WEIGHT_MAX)
        _check_range("delay", ds, spec.DELAY_MIN, spec.DELAY_MAX)
        self.projections.append((pre, post, src, dst, ws, ds))


def compile(network, *, n_neurons=None, target=None):
    """Compile a ``Network`` into a validated ``CoreConfig``.

    The core size is the next power of two holding every population (or ``n_neurons``).
    Padding neurons get no synapses and a profile with ``bias <= 0`` (an existing one if
    any, else ``SILENT_PROFILE``), so they never fire.

    ``target`` (a board name or ``neurofab.boards.Board``) compiles for that board's core:
    the config has the board's neurons and input channels, and a network that does not
    fit raises ``DoesNotFit`` naming every quantity that overflows and by how much.
    """
    if target is not None:
        return _compile_for_board(network, target)
    used = network.n_neurons
    if used == 0:
        raise ValueError("network has no neurons")
    size = n_neurons if n_neurons is not None else max(2, 1 << (used - 1).bit_length())
    if size < used:
        raise ValueError(f"n_neurons = {size} is below the {used} neurons of the network")
    profiles = list(network.profiles)
    profile = np.zeros(size, dtype=np.int64)
    for pop in network.populations:
        profile[pop.start:pop.start + pop.size] = pop.profile
    if size > used:
        silent = _silent_index(profiles)
        if silent is None:
            profiles.append(SILENT_PROFILE)
            silent = len(profiles) - 1
        profile[used:] = silent
    if len(profiles) > spec.PROFILE_COUNT:
        raise ValueError(f"profiles = {len(profiles)} is outside the limit [1, "
                         f"{spec.PROFILE_COUNT}] (padding needs a silent profile)")
    n_inputs = network.n_inputs
    srcs, tgts, ws, ds = [], [], [], []
    for pre, post, src, dst, w, d in network.projections:
        offset = size if isinstance(pre, InputGroup) else 0
        srcs.append(src + pre.start + offset)
        tgts.append(dst + post.start)
        ws.append(w)
        ds.append(d)
    cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=np.int64))
    src, tgt, w, d = cat(srcs), cat(tgts), cat(ws), cat(ds)
    order = np.argsort(src, kind="stable")
    counts = np.bincount(src, minlength=size + n_inputs)
    ptr = np.concatenate([[0], np.cumsum(counts)])
    cols = np.array(profiles, dtype=np.int64).reshape(-1, len(PROFILE_FIELDS)).T
    cfg = CoreConfig(n_neurons=size, n_inputs=n_inputs, w_shift=network.w_shift,
                     **dict(zip(PROFILE_FIELDS, cols)), profile=profile, fanout_ptr=ptr,
                     syn_target=tgt[order], syn_weight=w[order], syn_delay=d[order])
    return cfg.validate()


class DoesNotFit(ValueError):
    """A network needs more of a core than a target board has."""


def _compile_for_board(network, target):
    from neurofab.boards.registry import get_board
    board = get_board(target)
    # The network's own counts, not its power-of-two core: 300 neurons on a 256-neuron
    # board are over by 44, not by 256.
    profiles = len(network.profiles) + (network.n_neurons < board.n_neurons and
                                        _silent_index(network.profiles) is None)
    over = _overflows((
        ("neurons", network.n_neurons, board.n_neurons),
        ("input channels", network.n_inputs, board.n_inputs),
        ("synapses", sum(len(p[2]) for p in network.projections), board.syn_capacity),
        ("profiles", profiles, spec.PROFILE_COUNT)))
    if over:
        raise DoesNotFit(f"network does not fit board {board.name} ({board.device}): {over}")
    return compile(network, n_neurons=board.n_neurons).padded(
        board.n_neurons, board.n_inputs, n_synapses=board.syn_capacity)


def random_config(rng, *, n_neurons=16, n_inputs=8, max_fanout=None, extremes=True):
    """A random valid config that exercises the corners of the numerics.

    With ``extremes`` the profiles include decay 0 and 4096, both reset modes, refractory
    0 and 15, biases and weights at the rails, one hub neuron hears every source at a
    weight rail (maximum fan-in, trimmed only where the accumulator proof demands), and
    every delay 1..8 occurs.
    """
    rng = np.random.default_rng(rng)
    n_prof = int(rng.integers(2 if extremes else 1, spec.PROFILE_COUNT + 1))
    lim = PROFILE_LIMITS
    prof = {name: rng.integers(lo, hi + 1, n_prof) for name, (lo, hi) in lim.items()}
    # Mostly moderate thresholds/biases so that neurons actually fire.
    prof["threshold"] = np.where(rng.random(n_prof) < 0.7, rng.integers(1, 2000, n_prof),
                                 prof["threshold"])
    prof["bias"] = np.where(rng.random(n_prof) < 0.6, rng.integers(-50, 300, n_prof),
                            prof["bias"])
    prof["v_reset"] = np.where(rng.random(n_prof) < 0.5, rng.integers(-500, 500, n_prof),
                               prof["v_reset"])
    if extremes:
        corners = {"decay_i": [0, spec.DECAY_ONE], "decay_v": [0, spec.DECAY_ONE],
                   "reset": [0, 1], "refractory": [0, spec.REF_MAX],
                   "bias": [spec.STATE_MIN, spec.STATE_MAX], "threshold": [1, spec.STATE_MAX]}
        for name, (low, high) in corners.items():
            k = int(rng.integers(n_prof))
            prof[name][k], prof[name][(k + 1) % n_prof] = low, high
    w_shift = int(rng.integers(0, spec.W_SHIFT_MAX + 1))
    n_src = n_neurons + n_inputs
    max_fanout = max_fanout or 2 * n_neurons
    src = np.repeat(np.arange(n_src), rng.integers(0, max_fanout + 1, n_src))
    target = rng.integers(0, n_neurons, src.size)
    if extremes:
        # Maximum fan-in: one hub neuron hears every source, at the weight rails.
        hub = int(rng.integers(n_neurons))
        src = np.concatenate([np.arange(n_src), src])
        target = np.concatenate([np.full(n_src, hub), target])
    n_syn = src.size
    weight = rng.integers(spec.WEIGHT_MIN, spec.WEIGHT_MAX + 1, n_syn)
    delay = rng.integers(spec.DELAY_MIN, spec.DELAY_MAX + 1, n_syn)
    if extremes:
        weight[:n_src] = rng.choice([spec.WEIGHT_MIN, spec.WEIGHT_MAX], n_src)
        delay[:spec.DELAY_MAX] = np.arange(spec.DELAY_MIN, spec.DELAY_MAX + 1)[:n_syn]
    # Drop synapses (last first) until every neuron's fan-in fits the accumulator proof.
    scaled = np.abs(weight) << w_shift
    order = np.argsort(target, kind="stable")
    tsorted = target[order]
    csum = np.cumsum(scaled[order])
    first = np.searchsorted(tsorted, tsorted)
    before = np.where(first > 0, csum[first - 1], 0)
    keep = np.ones(n_syn, dtype=bool)
    keep[order] = (csum - before) <= spec.ACC_MAX
    src, target, weight, delay = src[keep], target[keep], weight[keep], delay[keep]
    order = np.argsort(src, kind="stable")
    src, target, weight, delay = src[order], target[order], weight[order], delay[order]
    ptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n_src))])
    cfg = CoreConfig(n_neurons=n_neurons, n_inputs=n_inputs, w_shift=w_shift, **prof,
                     profile=rng.integers(0, n_prof, n_neurons), fanout_ptr=ptr,
                     syn_target=target, syn_weight=weight, syn_delay=delay)
    return cfg.validate()
