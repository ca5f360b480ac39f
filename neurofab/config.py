"""Integer configuration of one neuron core, its validation, file format and builder.

A ``CoreConfig`` is what the golden model simulates, what the RTL takes as memory
init and what the host driver uploads. ``Network`` is the small builder users write;
``compile(network)`` turns it into a ``CoreConfig``.
"""

import hashlib
import io
import struct
from dataclasses import dataclass, field

import numpy as np

from neurofab import spec
from neurofab.checks import check_float, check_int, check_int_array, check_pow2, check_range
from neurofab.kernels import DEFAULT_KERNEL, KERNELS, get_kernel
from neurofab.learning import Learning
from neurofab.spec import Ctrl, Region, Reset
from neurofab.spec import lif as lif_spec

__all__ = ["CoreConfig", "Population", "InputGroup", "Projection", "Network", "compile", "DoesNotFit",
           "random_config", "random_learning", "PROFILE_FIELDS", "PROFILE_LIMITS", "UPLOAD_ORDER",
           "state_addresses", "decode_state"]

#: Profile parameters of the CUBA-LIF kernel (``spec.PROFILE_FIELDS``; any kernel's are
#: ``kernel.param_fields``).
PROFILE_FIELDS = spec.PROFILE_FIELDS

#: Inclusive legal range of every CUBA-LIF profile parameter (``spec.lif.LIMITS``; any
#: kernel's are ``kernel.limits``).
PROFILE_LIMITS = lif_spec.LIMITS

_STRUCTURE_FIELDS = ("profile", "fanout_ptr", "syn_target", "syn_weight", "syn_delay")
_SCALAR_FIELDS = ("n_neurons", "n_inputs", "w_shift")


#: Regions in the order a configuration is uploaded (``CoreConfig.upload_words``).
UPLOAD_ORDER = (Region.PROFILE, Region.STATE, Region.POST, Region.PRE, Region.ROWPTR,
                Region.SYNAPSE, Region.ACC,
                Region.CTRL)


def state_addresses(n_neurons):
    """``(region, index)`` of a core's architectural state, in the order
    :func:`decode_state` reads it: every ``STATE`` word, every ``ACC`` word (index
    ``neuron * DELAY_SLOTS + slot``), then the ``STEP`` register."""
    return ([(Region.STATE, k) for k in range(n_neurons)]
            + [(Region.ACC, k) for k in range(n_neurons * spec.DELAY_SLOTS)]
            + [(Region.CTRL, Ctrl.STEP.value)])


def decode_state(words, n_neurons, kernel=DEFAULT_KERNEL):
    """The state a core's readback words hold (``words`` in :func:`state_addresses` order:
    ``n_neurons`` STATE words, ``n_neurons * DELAY_SLOTS`` ACC words, the STEP register).

    Returns a dict: every state field of ``kernel`` (CUBA-LIF: ``i``, ``v``, ``ref``) and
    ``profile`` (int64 arrays, one per neuron),
    ``acc`` (int64, ``[slot, neuron]``, sign-extended from ``ACC_WIDTH`` bits) and ``step``
    (an int). Bits above a word's width (``kernel.state_word.size``, ``ACC_WIDTH``,
    ``STEP_WIDTH``) are ignored.
    """
    n, slots = n_neurons, spec.DELAY_SLOTS
    words = [int(w) for w in words]
    if len(words) != n + n * slots + 1:
        raise ValueError(f"{len(words)} state words, expected {n + n * slots + 1} for "
                         f"n_neurons = {n}")
    out = spec.unpack(get_kernel(kernel).state_word, np.array(words[:n], dtype=object))
    acc_mask = (1 << spec.ACC_WIDTH) - 1
    acc = np.array([w & acc_mask for w in words[n:n + n * slots]], dtype=np.int64)
    acc = np.where(acc >> (spec.ACC_WIDTH - 1), acc - (1 << spec.ACC_WIDTH), acc)
    out["acc"] = acc.reshape(n, slots).T.copy()
    out["step"] = words[-1] & ((1 << spec.STEP_WIDTH) - 1)
    return out


#: CUBA-LIF profile given to padding neurons when no existing profile can serve (any
#: kernel's is ``kernel.silent``; see ``_silent_index``).
SILENT_PROFILE = tuple(lif_spec.SILENT[name] for name in PROFILE_FIELDS)

#: Defaults of ``Network.population``'s CUBA-LIF parameters.
_LIF_DEFAULTS = (0, 0, 1, 0, 0, Reset.TO_VRESET.value, 0)


def _overflows(needs):
    """``"what: H needed, C available (over by H - C); ..."`` for every ``(what, have,
    cap)`` of ``needs`` with ``have > cap``; empty if all fit."""
    return "; ".join(f"{what}: {have} needed, {cap} available (over by {have - cap})"
                     for what, have, cap in needs if have > cap)


def _silent_index(profiles, kernel=DEFAULT_KERNEL):
    """Index of a profile (a tuple in ``kernel.param_fields`` order) under which a neuron
    without synapses never fires (``Kernel.is_silent``), or ``None``."""
    kernel = get_kernel(kernel)
    for k, prof in enumerate(profiles):
        if kernel.is_silent(dict(zip(kernel.param_fields, prof))):
            return k
    return None


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
    kernel : str or Kernel
        The neuron model (``neurofab.kernels``), default ``"cuba-lif"``.
    **params : int arrays
        One array per profile parameter of the kernel (``kernel.param_fields``; CUBA-LIF:
        ``decay_i, decay_v, threshold, bias, v_reset, reset, refractory``), one entry
        per profile (1 .. ``spec.PROFILE_COUNT`` profiles). Readable as attributes.
    profile : int array, shape (n_neurons,)
        Profile index of each neuron.
    fanout_ptr : int array, shape (n_neurons + n_inputs + 1,)
        CSR row pointers: source ``s`` owns synapses ``fanout_ptr[s] .. fanout_ptr[s+1]-1``.
    syn_target, syn_weight, syn_delay : int arrays, shape (n_synapses,)
        Target neuron, signed 8-bit weight and delay in steps (1..8) of each synapse.
    learning : neurofab.learning.Learning, optional
        Plasticity (rules, traces, homeostasis; ``docs/numerics.md``, "Learning"): the
        config runs on a learning core. ``None``: weights are fixed.
    """

    def __init__(self, n_neurons, n_inputs, w_shift, *, profile, fanout_ptr, syn_target,
                 syn_weight, syn_delay, kernel=DEFAULT_KERNEL, learning=None, **params):
        self.kernel = get_kernel(kernel)
        if learning is not None and not isinstance(learning, Learning):
            raise TypeError(f"learning must be a neurofab.learning.Learning or None, not "
                            f"{learning!r}")
        self.learning = learning
        unknown = sorted(set(params) - set(self.kernel.param_fields))
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a parameter of kernel "
                             f"{self.kernel.name} (parameters: "
                             f"{', '.join(self.kernel.param_fields)})")
        missing = [f for f in self.kernel.param_fields if f not in params]
        if missing:
            raise ValueError(f"parameter {missing[0]!r} of kernel {self.kernel.name} is "
                             f"missing")
        self.n_neurons, self.n_inputs, self.w_shift = n_neurons, n_inputs, w_shift
        for name in _SCALAR_FIELDS:
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be an integer, not {value!r}")
            setattr(self, name, int(value))
        given = dict(params, profile=profile, fanout_ptr=fanout_ptr, syn_target=syn_target,
                     syn_weight=syn_weight, syn_delay=syn_delay)
        for name in self.array_fields:
            raw = given[name]
            if name == "reset" and self.kernel.name == DEFAULT_KERNEL:
                raw = [r.value if isinstance(r, Reset) else r for r in np.atleast_1d(
                    np.asarray(raw, dtype=object))]
            arr = np.asarray(raw)
            if arr.size and not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(f"{name} must hold integers, not {arr.dtype}")
            setattr(self, name, arr.astype(np.int64).reshape(-1))

    @property
    def param_fields(self):
        """The profile parameters of the config's kernel."""
        return self.kernel.param_fields

    @property
    def array_fields(self):
        """Every array of the config: the kernel's parameters, then the structure."""
        return self.kernel.param_fields + _STRUCTURE_FIELDS

    def __repr__(self):
        return (f"<CoreConfig {self.kernel.name}: {self.n_neurons} neurons, "
                f"{self.n_inputs} inputs, {self.n_synapses} synapses, "
                f"{self.n_profiles} profiles>")

    # --- derived views ---------------------------------------------------------------
    @property
    def n_sources(self):
        return self.n_neurons + self.n_inputs

    @property
    def n_synapses(self):
        return int(self.syn_target.size)

    @property
    def n_profiles(self):
        return int(getattr(self, self.kernel.param_fields[-1]).size)

    def profile_table(self):
        """``{parameter: int64 array}``, one entry per profile."""
        return {name: getattr(self, name) for name in self.kernel.param_fields}

    @property
    def fanout_count(self):
        return np.diff(self.fanout_ptr)

    @property
    def syn_source(self):
        """The source (CSR row) of every synapse."""
        return np.repeat(np.arange(self.n_sources, dtype=np.int64), self.fanout_count)

    def neuron_params(self):
        """Per-neuron kernel parameters (a dict of arrays, profile-gathered)."""
        return {name: getattr(self, name)[self.profile] for name in self.kernel.param_fields}

    def initial_state(self):
        """The kernel state every neuron starts from (``{field: int64 array}``)."""
        return {name: np.asarray(value, dtype=np.int64).copy() for name, value in
                self.kernel.initial_state(self.neuron_params()).items()}

    def acc_bounds(self):
        """Worst-case (most negative, most positive) accumulator slot sum per neuron (a
        plastic synapse counts with the bounds of its rule)."""
        hi = lo = self.syn_weight
        if self.learning is not None and self.learning.syn_rule.size == self.n_synapses:
            rule = self.learning.syn_rule
            plastic = rule != 0
            hi = np.where(plastic, self.learning.w_max[rule], hi)
            lo = np.where(plastic, self.learning.w_min[rule], lo)
        n = self.n_neurons
        pos = np.bincount(self.syn_target, weights=np.maximum(hi << self.w_shift, 0),
                          minlength=n)
        neg = np.bincount(self.syn_target, weights=np.minimum(lo << self.w_shift, 0),
                          minlength=n)
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
        for name in self.kernel.param_fields:
            arr = getattr(self, name)
            if arr.size != n_prof:
                raise ValueError(f"{name} has {arr.size} entries, expected one per profile "
                                 f"({n_prof})")
            check_range(name, arr, *self.kernel.limits[name])
        if self.profile.size != n:
            raise ValueError(f"profile has {self.profile.size} entries, expected n_neurons = {n}")
        check_range("profile", self.profile, 0, n_prof - 1)
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
        check_range("fan-out of source", counts, 0, spec.MAX_FANOUT)
        if ptr[-1] != self.n_synapses:
            raise ValueError(f"fanout_ptr[-1] = {int(ptr[-1])} must equal the number of "
                             f"synapses ({self.n_synapses})")
        check_int("n_synapses", self.n_synapses, 0, spec.MAX_SYNAPSES)
        for name in ("syn_weight", "syn_delay"):
            if getattr(self, name).size != self.n_synapses:
                raise ValueError(f"{name} has {getattr(self, name).size} entries, expected "
                                 f"{self.n_synapses} (one per synapse)")
        check_range("syn_target", self.syn_target, 0, n - 1)
        check_range("syn_weight", self.syn_weight, spec.WEIGHT_MIN, spec.WEIGHT_MAX)
        check_range("syn_delay", self.syn_delay, spec.DELAY_MIN, spec.DELAY_MAX)
        if self.learning is not None:
            self.learning.validate(self)
        neg, pos = self.acc_bounds()
        if (pos > spec.ACC_MAX).any() or (neg < spec.ACC_MIN).any():
            k = int(np.flatnonzero((pos > spec.ACC_MAX) | (neg < spec.ACC_MIN))[0])
            worst = int(pos[k]) if pos[k] > spec.ACC_MAX else int(neg[k])
            raise ValueError(
                f"accumulator of neuron {k} could reach {worst} (fan-in x weight << w_shift), "
                f"outside the limit [{spec.ACC_MIN}, {spec.ACC_MAX}]: reduce fan-in, weights "
                f"or w_shift")
        return self

    def check_inputs(self, inputs, *, first=0):
        """Validate per-step input channel arrays; returns them as int64 arrays.

        Raises ``ValueError`` for a channel outside ``[0, n_inputs - 1]`` (``inputs[t][k]
        = c is outside the limit ...``) or repeated within a step, the first in step order.
        Steps are named from ``first`` on (a stream checks one step at a time).
        """
        if isinstance(inputs, (str, bytes)) or not hasattr(inputs, "__iter__"):
            raise TypeError(f"inputs must be a sequence of per-step channel arrays, not "
                            f"{inputs!r}")
        first = check_int("first", first, 0)
        out = [_channels(first + t, chans) for t, chans in enumerate(inputs)]
        flat = np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
        if flat.size == 0:
            return out
        step = np.repeat(np.arange(len(out)), [c.size for c in out])
        key = np.sort(step * self.n_inputs + flat)
        if flat.min() < 0 or flat.max() >= self.n_inputs or (np.diff(key) == 0).any():
            self._refuse_inputs(out, first)
        return out

    def _refuse_inputs(self, inputs, first=0):
        """Raise the ``check_inputs`` error of the first bad step of ``inputs`` (the
        first one named ``first``)."""
        for t, chans in enumerate(inputs, first):
            chans = np.asarray(chans, dtype=np.int64).reshape(-1)
            check_range(f"inputs[{t}]", chans, 0, self.n_inputs - 1)
            if np.unique(chans).size != chans.size:
                raise ValueError(f"inputs[{t}] repeats a channel: each channel carries at most "
                                 f"one event per step")

    def padded(self, n_neurons, n_inputs, *, n_synapses=None, n_profiles=spec.PROFILE_COUNT):
        """This network on a larger core: extra neurons silent, extra channels unconnected.

        Raises ``ValueError`` naming every quantity that does not fit and by how much.
        The padded config produces the same spikes for the original neurons.
        """
        self.validate()
        fields = self.kernel.param_fields
        cols = np.stack([getattr(self, f) for f in fields], axis=1)
        existing = [tuple(int(x) for x in row) for row in cols]
        pad = n_neurons > self.n_neurons
        silent = _silent_index(existing, self.kernel) if pad else None
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
            cols = np.vstack([cols, [self.kernel.silent[f] for f in fields]])
            silent = len(existing)
        profile = np.concatenate([self.profile,
                                  np.full(n_neurons - self.n_neurons, silent or 0)])
        n, ptr = self.n_neurons, self.fanout_ptr
        ptr = np.concatenate([ptr[:n], np.full(n_neurons - n, ptr[n]), ptr[n:],
                              np.full(n_inputs - self.n_inputs, ptr[-1])])
        learning = (None if self.learning is None else
                    self.learning.with_profiles(cols.shape[0]))
        return CoreConfig(n_neurons=n_neurons, n_inputs=n_inputs, w_shift=self.w_shift,
                          kernel=self.kernel, **dict(zip(fields, cols.T)), profile=profile,
                          fanout_ptr=ptr, syn_target=self.syn_target,
                          syn_weight=self.syn_weight, syn_delay=self.syn_delay,
                          learning=learning).validate()

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
            A learning config (``self.learning``) has ``PlasticSynapse`` words in
            ``SYNAPSE``, zero ``PRE`` and ``POST`` words, and ``CTRL`` up to
            ``CTRL_HOMEO + PROFILE_COUNT`` (``TRACES``, ``MODULATOR = 0``, ``LEARN_END``,
            the rule and homeostasis tables; Python ints).
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
        profile[:self.n_profiles] = spec.pack(self.kernel.profile, **self.profile_table())
        ptr = self.fanout_ptr
        starts = np.concatenate([ptr[:-1], np.full(n_inputs - self.n_inputs, ptr[-1])])
        counts = np.concatenate([np.diff(ptr), np.zeros(n_inputs - self.n_inputs, np.int64)])
        lc = self.learning
        ctrl = np.zeros(2 if lc is None else spec.CTRL_HOMEO + spec.PROFILE_COUNT,
                        dtype=np.uint64 if lc is None else object)
        ctrl[Ctrl.W_SHIFT.value] = self.w_shift
        ctrl[Ctrl.STEP.value] = 0
        image = {
            Region.STATE: spec.pack(self.kernel.state_word, **self.initial_state(),
                                    profile=self.profile),
            Region.ACC: np.zeros(n * spec.DELAY_SLOTS, dtype=np.uint64),
            Region.PROFILE: profile,
            Region.ROWPTR: spec.pack(spec.RowPtr, start=starts, count=counts),
            Region.CTRL: ctrl,
        }
        if lc is None:
            image[Region.SYNAPSE] = spec.pack(spec.Synapse, target=self.syn_target,
                                              weight=self.syn_weight,
                                              delay=self.syn_delay - spec.DELAY_MIN)
            return image
        image[Region.SYNAPSE] = spec.pack(
            spec.PlasticSynapse, target=self.syn_target, weight=self.syn_weight,
            delay=self.syn_delay - spec.DELAY_MIN, rule=lc.syn_rule, frac=0,
            source=self.syn_source, elig=0)
        ctrl[Ctrl.TRACES.value] = int(spec.pack(spec.Traces, **lc.traces()))
        ctrl[Ctrl.LEARN_END.value] = lc.learn_end
        rules = spec.pack(spec.Rule, **lc.rule_table())
        ctrl[spec.CTRL_RULE:spec.CTRL_RULE + spec.RULE_COUNT] = [int(w) for w in rules]
        homeo = spec.pack(spec.Homeo, **lc.homeo_table())
        ctrl[spec.CTRL_HOMEO:spec.CTRL_HOMEO + self.n_profiles] = [int(w) for w in homeo]
        image.update({
            Region.PRE: np.zeros(n + n_inputs, dtype=np.uint64),
            Region.POST: np.zeros(n, dtype=np.uint64),
        })
        return image

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
            if region not in image or (region is Region.ACC and not clear_acc):
                continue
            words.extend((region, k, word) for k, word in enumerate(image[region].tolist()))
        return words

    # --- equality and file format ----------------------------------------------------
    def __eq__(self, other):
        if not isinstance(other, CoreConfig):
            return NotImplemented
        return (self.kernel is other.kernel and self.learning == other.learning and
                all(getattr(self, f) == getattr(other, f) for f in _SCALAR_FIELDS) and
                all(np.array_equal(getattr(self, f), getattr(other, f))
                    for f in self.array_fields))

    def to_bytes(self):
        """The ``.nfcfg`` file format (``docs/architecture.md``, "Config files")."""
        buf = io.BytesIO()
        learn = ({} if self.learning is None else
                 {f"learn_{k}": v for k, v in self.learning.arrays().items()})
        np.savez(buf, kernel=np.asarray(self.kernel.name), **learn,
                 **{f: np.asarray(getattr(self, f), dtype=np.int64)
                    for f in _SCALAR_FIELDS + self.array_fields})
        payload = buf.getvalue()
        header = spec.CONFIG_MAGIC + struct.pack("<HQ", spec.CONFIG_VERSION, len(payload))
        return header + hashlib.sha256(payload).digest() + payload

    @classmethod
    def from_bytes(cls, blob, *, name="config", kernel=None):
        """A config from the ``.nfcfg`` bytes ``blob``; with ``kernel``, refuse a file
        written for another kernel. Version 1 files (written before kernels) hold
        CUBA-LIF configs."""
        head = len(spec.CONFIG_MAGIC) + 10
        if len(blob) < head + 32 or not blob.startswith(spec.CONFIG_MAGIC):
            raise ValueError(f"{name}: not a neurofab config file (bad magic or shorter than "
                             f"the {head + 32}-byte header)")
        version, length = struct.unpack_from("<HQ", blob, len(spec.CONFIG_MAGIC))
        if version not in (1, spec.CONFIG_VERSION):
            raise ValueError(f"{name}: config format version {version} is not supported "
                             f"(this neurofab reads versions 1 to {spec.CONFIG_VERSION})")
        digest, payload = blob[head:head + 32], blob[head + 32:]
        if len(payload) != length:
            raise ValueError(f"{name}: truncated or padded: header announces {length} payload "
                             f"bytes, file holds {len(payload)}")
        if hashlib.sha256(payload).digest() != digest:
            raise ValueError(f"{name}: corrupted: SHA-256 of the payload does not match the "
                             f"header")
        sizes = _check_archive(payload, name)
        with np.load(io.BytesIO(payload), allow_pickle=False) as z:
            found = DEFAULT_KERNEL
            if version >= 2:
                if "kernel" not in z.files:
                    raise ValueError(f"{name}: missing fields ['kernel']")
                try:
                    kernel_field = z["kernel"]
                except ValueError as exc:
                    raise ValueError(f"{name}: field 'kernel' is unreadable ({exc})") from None
                if kernel_field.dtype.kind != "U" or kernel_field.ndim != 0:
                    raise ValueError(f"{name}: field 'kernel' must be a kernel name")
                found = str(kernel_field)
                if found not in KERNELS:
                    raise ValueError(f"{name}: kernel {found!r} is not a neuron kernel of "
                                     f"this neurofab (available: {', '.join(KERNELS)})")
            if kernel is not None and get_kernel(kernel).name != found:
                raise ValueError(f"{name}: the config is for kernel {found}, not "
                                 f"{get_kernel(kernel).name}")
            arrays = KERNELS[found].param_fields + _STRUCTURE_FIELDS
            missing = [f for f in _SCALAR_FIELDS + arrays if f not in z.files]
            if missing:
                raise ValueError(f"{name}: missing fields {missing}")
            unknown = sorted(f for f in z.files if f not in _SCALAR_FIELDS + arrays and
                             f != "kernel" and not f.startswith("learn_"))
            if unknown:
                raise ValueError(f"{name}: unknown fields {unknown} (a config file holds "
                                 f"only the fields CoreConfig.to_bytes writes)")
            kw = {f: int(_field(z, f, name, 0)) for f in _SCALAR_FIELDS}
            kw["fanout_ptr"] = _field(z, "fanout_ptr", name, 1)
            n_syn = max(int(kw["fanout_ptr"][-1]) if kw["fanout_ptr"].size else 0, 0)
            for f in _SYNAPSE_FIELDS:
                if f in sizes:
                    _check_unpacked(name, f, sizes[f], _unpacked_limit(f, n_syn))
            kw.update({f: _field(z, f, name, 1) for f in arrays if f != "fanout_ptr"})
            learn = {f[len("learn_"):]: _field(z, f, name, None)
                     for f in z.files if f.startswith("learn_")}
        if learn:
            syn_rule = learn.pop("syn_rule", None)
            if syn_rule is None:
                raise ValueError(f"{name}: missing fields ['learn_syn_rule']")
            scalars = {k: int(learn.pop(k)) for k in list(learn) if learn[k].ndim == 0}
            kw["learning"] = Learning(syn_rule, **scalars, **learn)
        return cls(kernel=found, **kw).validate()

    def save(self, path):
        self.validate()
        with open(path, "wb") as f:
            f.write(self.to_bytes())

    @classmethod
    def load(cls, path, *, kernel=None):
        """The config saved at ``path``; with ``kernel``, refuse one for another kernel."""
        with open(path, "rb") as f:
            return cls.from_bytes(f.read(), name=str(path), kernel=kernel)


def _channels(t, chans):
    """Step ``t``'s channel indices as a flat int64 array; non-integers refused."""
    arr = np.asarray(chans)
    if arr.dtype.kind not in "iu":
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        if arr.dtype.kind == "b":
            raise TypeError(f"inputs[{t}] is a boolean row: give the channel indices of the "
                            f"step (numpy.flatnonzero(row))")
        raise TypeError(f"inputs[{t}] must hold integer channel indices, not {arr.dtype} "
                        f"values")
    if arr.ndim > 1:
        raise ValueError(f"inputs[{t}] has shape {arr.shape}: one flat array of channel "
                         f"indices per step")
    return arr.astype(np.int64, copy=False).reshape(-1)


#: Fields of a ``.nfcfg`` archive with one entry per synapse (the others have at most one
#: per source).
_SYNAPSE_FIELDS = ("syn_target", "syn_weight", "syn_delay", "learn_syn_rule")


def _unpacked_limit(key, n_synapses=spec.MAX_SYNAPSES):
    """Bytes field ``key`` may unpack to: int64 entries of its largest legal length."""
    n = n_synapses if key in _SYNAPSE_FIELDS else spec.MAX_NEURONS + spec.MAX_INPUTS + 1
    return 8 * n + 4096


def _check_archive(payload, name):
    """Refuse a payload that is not a zip archive of ``.npy`` members or whose members
    would unpack beyond their field's largest legal size (a decompression bomb), before
    anything is decompressed; returns ``{field: unpacked bytes}``."""
    import zipfile
    try:
        infos = zipfile.ZipFile(io.BytesIO(payload)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"{name}: the payload is not a config archive ({exc})") from None
    sizes = {}
    for info in infos:
        if not info.filename.endswith(".npy"):
            raise ValueError(f"{name}: archive member {info.filename!r} is not a field")
        key = info.filename[:-4]
        _check_unpacked(name, key, info.file_size, _unpacked_limit(key))
        sizes[key] = info.file_size
    return sizes


def _check_unpacked(name, key, size, limit):
    if size > limit:
        raise ValueError(f"{name}: field {key!r} would unpack to {size} bytes, above the "
                         f"limit {limit}")


def _field(z, key, name, ndim):
    """Field ``key`` of an opened archive: an integer array of ``ndim`` dimensions
    (``None``: 0 or 1), refused with the file's name otherwise."""
    try:
        value = z[key]
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{name}: field {key!r} is unreadable ({exc})") from None
    if value.dtype.kind not in "iu":
        raise ValueError(f"{name}: field {key!r} holds {value.dtype} values, not integers")
    if (value.ndim != ndim) if ndim is not None else value.ndim > 1:
        raise ValueError(f"{name}: field {key!r} has shape {value.shape}, expected "
                         f"{'a scalar' if ndim == 0 else 'one dimension'}")
    if value.dtype.kind == "u" and value.size and int(value.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"{name}: field {key!r} holds {int(value.max())}, beyond the signed "
                         f"64-bit range")
    return value.astype(np.int64)


# --- the builder -------------------------------------------------------------------
@dataclass(frozen=True)
class Population:
    """A contiguous block of neurons: one profile (``profile`` an int), or one per neuron
    (``profile`` an int64 array) when ``Network.population`` got per-neuron parameters."""
    start: int
    size: int
    profile: int
    name: str = ""
    #: the ``neurofab.models.QuantReport`` of a population given as a float model
    report: object = None
    #: the ``neurofab.learning.LearnReport`` of its homeostasis, if any
    homeo_report: object = None

    @property
    def indices(self):
        return np.arange(self.start, self.start + self.size)


@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from ``pre`` to ``post`` (``Network.project``): local index pairs, integer
    weights and delays, and the learning rule (``None``: static)."""
    pre: object
    post: object
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    #: the float rule (``neurofab.learning.STDP`` / ``RSTDP``) or ``None``
    rule: object = None
    #: index of the rule in the core's rule table (1 ..), 0 for a static projection
    rule_index: int = 0
    #: the ``LearnReport`` of quantising ``rule``
    report: object = None

    def __iter__(self):          # (pre, post, src, dst, weight, delay), as before rules
        return iter((self.pre, self.post, self.src, self.dst, self.weight, self.delay))

    def __len__(self):
        return int(self.src.size)


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
    """Populations of neurons of one kernel, external inputs and projections between them.

    >>> net = Network(w_shift=2)
    >>> exc = net.population(80, threshold=400, decay_v=256, decay_i=1024)
    >>> inp = net.inputs(8)
    >>> net.project(inp, exc, weight=60, p=0.5, seed=1)
    >>> cfg = compile(net)

    ``kernel`` (``neurofab.kernels``) is the neuron model of every population; ``None``
    (default) takes it from the first population (a float model's kernel, else
    CUBA-LIF).

    Learning (``docs/learning.md``): ``project(..., rule=STDP(...) or RSTDP(...), dt=...)``
    makes a projection plastic, ``population(..., homeostasis=Homeostasis(...), dt=...)``
    gives a population a homeostatic threshold; ``compile`` then returns a learning
    config. All plastic projections of a core share one set of trace time constants, and
    a core has at most ``RULE_COUNT - 1`` = 3 distinct rules.
    """
    w_shift: int = 0
    kernel: object = None
    profiles: list = field(default_factory=list)
    populations: list = field(default_factory=list)
    input_groups: list = field(default_factory=list)
    projections: list = field(default_factory=list)   # Projection
    #: the homeostasis table entry (``spec.Homeo`` fields) of every profile
    homeo: list = field(default_factory=list)
    #: the rule table entries (``spec.Rule`` field dicts) of rules 1, 2, ...
    rules: list = field(default_factory=list)
    #: the core-wide trace integers (``spec.Traces`` fields) of the plastic projections
    traces: dict = None
    #: explicit index arrays by name (``index``), e.g. the nodes of an imported NIR graph
    names: dict = field(default_factory=dict)
    #: how an imported NIR graph maps onto the core (``neurofab.nir.GraphMap``), or None
    graph: object = None

    @property
    def n_neurons(self):
        return sum(p.size for p in self.populations)

    @property
    def n_inputs(self):
        return sum(g.size for g in self.input_groups)

    def _use_kernel(self, kernel, where):
        kernel = get_kernel(kernel)
        if self.kernel is not None and get_kernel(self.kernel) is not kernel:
            raise ValueError(f"{where}: a {kernel.name} population cannot join a network of "
                             f"kernel {get_kernel(self.kernel).name} (one kernel per core)")
        self.kernel = kernel
        return kernel

    def population(self, size, *, name="", model=None, dt=None, homeostasis=None, **params):
        """Add ``size`` neurons with one parameter profile (identical profiles are shared).

        Parameters
        ----------
        size : int
            Neurons, at least 1.
        name : str
        model : neurofab.models.Model, optional
            A float model (physical units), quantised at ``dt`` to the integer profile of
            its kernel; the returned population's ``report`` says what quantising did.
        dt : float
            Time step in ms (with ``model`` or ``homeostasis`` only).
        homeostasis : neurofab.learning.Homeostasis, optional
            A homeostatic threshold (needs ``dt``); its ``LearnReport`` is
            ``population.homeo_report``.
        **params : int
            Without ``model``: the integer profile, one value per parameter of the
            network's kernel (CUBA-LIF: ``decay_i=0, decay_v=0, threshold=1, bias=0,
            v_reset=0, reset=Reset.TO_VRESET, refractory=0`` by default). A parameter
            may also be an integer array of one value per neuron: each distinct
            combination becomes a profile (``population.profile`` is then an array).
        """
        where = f"population {name or len(self.populations)}"
        check_int(f"{where}: size", size, 1, spec.MAX_NEURONS)
        report = None
        if model is not None:
            if params:
                raise ValueError(f"{where}: give either model or integer parameters "
                                 f"({', '.join(params)}), not both")
            if dt is None:
                raise ValueError(f"{where}: a float model needs dt (the time step in ms)")
            from neurofab.models import Model
            if not isinstance(model, Model):
                raise TypeError(f"{where}: model must be a float model of neurofab.models "
                                f"(CubaLif, AdaptiveLif, Izhikevich, AdEx), not {model!r}")
            kernel = self._use_kernel(model.kernel, where)
            report = model.quantise(dt)
            params = dict(report.params)
        else:
            if dt is not None and homeostasis is None:
                raise ValueError(f"{where}: dt is for a float model or homeostasis; integer "
                                 f"parameters have no time step")
            kernel = self._use_kernel(self.kernel or DEFAULT_KERNEL, where)
            if kernel.name == DEFAULT_KERNEL:
                params = {**dict(zip(PROFILE_FIELDS, _LIF_DEFAULTS)), **params}
                if isinstance(params["reset"], Reset):
                    params["reset"] = params["reset"].value
        unknown = sorted(set(params) - set(kernel.param_fields))
        if unknown:
            raise ValueError(f"{where}: {unknown[0]!r} is not a parameter of kernel "
                             f"{kernel.name} (parameters: {', '.join(kernel.param_fields)})")
        columns = [self._param_column(where, kernel, fname, params, size)
                   for fname in kernel.param_fields]
        homeo, homeo_report = (0, 0, 0, 0), None
        if homeostasis is not None:
            from neurofab.learning import Homeostasis
            if not isinstance(homeostasis, Homeostasis):
                raise TypeError(f"{where}: homeostasis must be a neurofab.learning."
                                f"Homeostasis, not {homeostasis!r}")
            if dt is None:
                raise ValueError(f"{where}: homeostasis needs dt (the time step in ms)")
            if kernel.homeostasis is None:
                raise ValueError(f"{where}: kernel {kernel.name} has no field a homeostatic "
                                 f"offset can move")
            table = homeostasis.table(dt)
            homeo = tuple(table[f] for f in spec.HOMEO_FIELDS)
            homeo_report = homeostasis.report(dt)
        if all(isinstance(c, int) for c in columns):
            index = self._profile_index(tuple(columns), homeo)
        else:
            rows = np.stack([np.broadcast_to(np.asarray(c, dtype=np.int64), (size,))
                             for c in columns], axis=1)
            unique, inverse = np.unique(rows, axis=0, return_inverse=True)
            table = np.array([self._profile_index(tuple(int(x) for x in row), homeo)
                              for row in unique], dtype=np.int64)
            index = table[inverse.reshape(-1)]
            if np.all(index == index[0]):
                index = int(index[0])
        pop = Population(self.n_neurons, int(size), index, name, report, homeo_report)
        self.populations.append(pop)
        return pop

    @staticmethod
    def _param_column(where, kernel, fname, params, size):
        """One parameter of ``population``: a checked ``int``, or an int64 array of one
        value per neuron."""
        if fname not in params:
            raise ValueError(f"{where}: parameter {fname!r} of kernel {kernel.name} is "
                             f"missing")
        lo, hi = kernel.limits[fname]
        value = params[fname]
        if not isinstance(value, (list, tuple, np.ndarray)):
            return check_int(f"{where}: {fname}", value, lo, hi)
        arr = np.asarray(value)
        if arr.shape != (size,):
            raise ValueError(f"{where}: {fname} has shape {arr.shape}, expected a scalar or "
                             f"one value per neuron ({size},)")
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{where}: {fname} must hold integers, not {arr.dtype} values")
        check_range(f"{where}: {fname}", arr, lo, hi)
        return arr.astype(np.int64)

    def _profile_index(self, prof, homeo):
        """Index of the profile ``prof`` with homeostasis entry ``homeo``, added if new."""
        for k, (p, h) in enumerate(zip(self.profiles, self.homeo)):
            if p == prof and h == homeo:
                return k
        self.profiles.append(prof)
        self.homeo.append(homeo)
        return len(self.profiles) - 1

    def index(self, name):
        """Neuron indices of the populations, or channels of the input groups, named
        ``name`` (in the order they were added; a graph imported by ``neurofab.nir``
        maps each node name to its neurons in the node's order).

        Raises ``KeyError`` naming the known names if none has that name.
        """
        if name in self.names:
            return self.names[name].copy()
        found = ([p.indices for p in self.populations if p.name == name] or
                 [g.indices for g in self.input_groups if g.name == name])
        if not found:
            known = sorted({p.name for p in self.populations if p.name} |
                           {g.name for g in self.input_groups if g.name} | set(self.names))
            raise KeyError(f"no population or input group is named {name!r} (names: "
                           f"{', '.join(known) or 'none'})")
        return np.concatenate(found)

    def inputs(self, size, *, name=""):
        """Add ``size`` external input channels."""
        size = check_int("input group size", size, 1, spec.MAX_INPUTS)
        group = InputGroup(self.n_inputs, size, name)
        self.input_groups.append(group)
        return group

    def project(self, pre, post, weight, *, delay=1, p=None, seed=None, pairs=None,
                rule=None, dt=None):
        """Connect ``pre`` (Population or InputGroup) to ``post`` (Population); returns
        the ``Projection``.

        ``weight`` and ``delay`` are scalars or (pre.size, post.size) arrays. Without
        ``p`` or ``pairs`` every pair with a non-zero weight is connected; ``p`` keeps each
        pair with that probability (``seed`` for reproducibility); ``pairs`` is an explicit
        ``(pre_idx, post_idx)`` tuple of local index arrays. ``rule`` (``STDP`` or
        ``RSTDP`` of ``neurofab.learning``, with ``dt`` in ms) makes the synapses plastic;
        their weights must lie inside the rule's ``[w_min, w_max]``.
        """
        if not isinstance(post, Population):
            raise ValueError("projection target must be a Population, not "
                             f"{type(post).__name__}")
        if not isinstance(pre, (Population, InputGroup)):
            raise ValueError("projection source must be a Population or an InputGroup, not "
                             f"{type(pre).__name__}")
        shape = (pre.size, post.size)
        w = check_int_array("weight", weight, shape)
        d = check_int_array("delay", delay, shape)
        if p is not None:
            p = check_float("p", p, 0.0, 1.0)
        if seed is not None:
            check_int("seed", seed, 0)
        if pairs is not None:
            if p is not None:
                raise ValueError("project: give either p or pairs, not both")
            if not isinstance(pairs, (tuple, list)) or len(pairs) != 2:
                raise ValueError("pairs must be a (pre_idx, post_idx) tuple of index arrays")
            src, dst = (check_int_array(f"pairs[{k}]", a, (np.size(a),)).reshape(-1)
                        for k, a in enumerate(pairs))
            if src.size != dst.size:
                raise ValueError(f"pairs has {src.size} pre and {dst.size} post indices: one "
                                 f"of each per synapse")
            check_range("pairs pre index", src, 0, pre.size - 1)
            check_range("pairs post index", dst, 0, post.size - 1)
        else:
            mask = w != 0
            if p is not None:
                mask &= np.random.default_rng(seed).random(shape) < p
            src, dst = np.nonzero(mask)
        ws, ds = w[src, dst], d[src, dst]
        check_range("weight", ws, spec.WEIGHT_MIN, spec.WEIGHT_MAX)
        check_range("delay", ds, spec.DELAY_MIN, spec.DELAY_MAX)
        index, report = 0, None
        if rule is not None:
            index, report = self._add_rule(rule, dt, ws)
        elif dt is not None:
            raise ValueError("project: dt is for a learning rule (rule=...)")
        proj = Projection(pre, post, src, dst, ws, ds, rule, index, report)
        self.projections.append(proj)
        return proj

    def _add_rule(self, rule, dt, ws):
        from neurofab.learning import STDP
        where = f"projection {len(self.projections)}"
        if not isinstance(rule, STDP):
            raise TypeError(f"{where}: rule must be neurofab.learning.STDP or RSTDP, not "
                            f"{rule!r}")
        if dt is None:
            raise ValueError(f"{where}: a learning rule needs dt (the time step in ms)")
        traces, entry = rule.traces(dt), rule.rule(dt)
        if self.traces is not None and traces != self.traces:
            raise ValueError(f"{where}: trace parameters {traces} differ from those of an "
                             f"earlier plastic projection ({self.traces}): a core has one "
                             f"set of trace time constants and one trace mode")
        out = np.flatnonzero((ws < rule.w_min) | (ws > rule.w_max))
        if out.size:
            raise ValueError(f"{where}: weight {int(ws[out[0]])} is outside the rule's "
                             f"bounds [{rule.w_min}, {rule.w_max}]")
        if entry not in self.rules:
            if len(self.rules) == spec.RULE_COUNT - 1:
                raise ValueError(f"{where}: a core has at most {spec.RULE_COUNT - 1} "
                                 f"distinct learning rules")
            self.rules.append(entry)
        self.traces = traces
        return self.rules.index(entry) + 1, rule.report(dt)

    def learning(self):
        """The ``Learning`` tables of the network (``syn_rule`` in projection order, to be
        sorted by ``compile``), or ``None`` if nothing learns."""
        homeo = np.array(self.homeo, dtype=np.int64).reshape(-1, len(spec.HOMEO_FIELDS))
        if not self.rules and not homeo.any():
            return None
        table = {f: np.zeros(spec.RULE_COUNT, dtype=np.int64) for f in spec.RULE_FIELDS}
        for k, entry in enumerate(self.rules, start=1):
            for f in spec.RULE_FIELDS:
                table[f][k] = entry[f]
        syn_rule = np.concatenate([np.full(len(p), p.rule_index, dtype=np.int64)
                                   for p in self.projections] or [np.zeros(0, np.int64)])
        return Learning(syn_rule, **(self.traces or {}), **table,
                        **dict(zip(spec.HOMEO_FIELDS, homeo.T)))


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
    size = (check_pow2("n_neurons", n_neurons, 2, spec.MAX_NEURONS) if n_neurons is not None
            else max(2, 1 << (used - 1).bit_length()))
    if size < used:
        raise ValueError(f"n_neurons = {size} is below the {used} neurons of the network")
    kernel = get_kernel(network.kernel or DEFAULT_KERNEL)
    profiles = list(network.profiles)
    profile = np.zeros(size, dtype=np.int64)
    for pop in network.populations:
        profile[pop.start:pop.start + pop.size] = pop.profile
    learning = network.learning()
    if size > used:
        silent = _silent_index(profiles, kernel)
        if silent is None:
            profiles.append(tuple(kernel.silent[f] for f in kernel.param_fields))
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
    cols = np.array(profiles, dtype=np.int64).reshape(-1, len(kernel.param_fields)).T
    if learning is not None:
        learning = learning.with_rules(learning.syn_rule[order]).with_profiles(len(profiles))
    cfg = CoreConfig(n_neurons=size, n_inputs=n_inputs, w_shift=network.w_shift,
                     kernel=kernel, **dict(zip(kernel.param_fields, cols)), profile=profile,
                     fanout_ptr=ptr,
                     syn_target=tgt[order], syn_weight=w[order], syn_delay=d[order],
                     learning=learning)
    return cfg.validate()


class DoesNotFit(ValueError):
    """A network needs more of a core than a target board has."""


def _compile_for_board(network, target):
    from neurofab.boards.registry import get_board
    kernel = get_kernel(network.kernel or DEFAULT_KERNEL)
    board = get_board(target)
    try:
        board = board.for_kernel(kernel)
    except ValueError as exc:
        raise DoesNotFit(str(exc)) from None
    # The network's own counts, not its power-of-two core: 300 neurons on a 256-neuron
    # board are over by 44, not by 256.
    profiles = len(network.profiles) + (network.n_neurons < board.n_neurons and
                                        _silent_index(network.profiles, kernel) is None)
    over = _overflows((
        ("neurons", network.n_neurons, board.n_neurons),
        ("input channels", network.n_inputs, board.n_inputs),
        ("synapses", sum(len(p) for p in network.projections), board.syn_capacity),
        ("profiles", profiles, spec.PROFILE_COUNT)))
    if over:
        raise DoesNotFit(f"network does not fit board {board.name} ({board.device}): {over}")
    return compile(network, n_neurons=board.n_neurons).padded(
        board.n_neurons, board.n_inputs, n_synapses=board.syn_capacity)


def _random_profiles(kernel, rng, n_prof, extremes):
    """Random profiles of a kernel other than CUBA-LIF: the golden module's
    ``random_params(rng, n)`` (values where neurons do something) when it has one, else
    uniform inside the limits; with ``extremes`` every parameter also takes both ends of
    its limit in some profile."""
    make = getattr(kernel._golden, "random_params", None)
    if make is not None:
        prof = {k: np.asarray(v, dtype=np.int64) for k, v in make(rng, n_prof).items()}
    else:
        prof = {name: rng.integers(lo, hi + 1, n_prof)
                for name, (lo, hi) in kernel.limits.items()}
    if extremes:
        for name, (lo, hi) in kernel.limits.items():
            k = int(rng.integers(n_prof))
            prof[name][k], prof[name][(k + 1) % n_prof] = lo, hi
    return prof


def random_learning(rng, cfg, *, rules=("stdp", "rstdp", "homeostasis"), extremes=True):
    """``cfg`` with random learning: ``rules`` names what to exercise — ``"stdp"``,
    ``"rstdp"`` (rule-table entries of each kind) and ``"homeostasis"`` (a random
    homeostasis table; needs a kernel with a homeostasis field). Plastic synapses start
    inside their rule's bounds (clipped). With ``extremes``: bounds as narrow as one
    weight and as wide as the whole range, amplitudes at their rails (weights hit the
    bounds; all-to-all traces saturate), eligibility decays 0 and 4096, ``m_shift`` 0."""
    rng = np.random.default_rng(rng)
    rules = (rules,) if isinstance(rules, str) else tuple(rules)
    unknown = sorted(set(rules) - {"stdp", "rstdp", "homeostasis"})
    if unknown:
        raise ValueError(f"rules: {unknown[0]!r} is not one of stdp, rstdp, homeostasis")
    kinds = [k for k in ("stdp", "rstdp") if k in rules]
    n_rules = spec.RULE_COUNT
    table = {name: np.zeros(n_rules, dtype=np.int64) for name in spec.RULE_FIELDS}
    for r in range(1, n_rules):
        if not kinds:
            break
        kind = kinds[(r - 1) % len(kinds)]
        table["kind"][r] = int(kind == "rstdp")
        big = extremes and rng.random() < 0.3
        table["a_plus"][r] = spec.AMP_MAX if big else rng.integers(0, 8192)
        table["a_minus"][r] = spec.AMP_MAX if (big and rng.random() < 0.5) else \
            rng.integers(0, 8192)
        lo, hi = np.sort(rng.integers(spec.WEIGHT_MIN, spec.WEIGHT_MAX + 1, 2))
        if extremes and r == 1:
            lo, hi = spec.WEIGHT_MIN, spec.WEIGHT_MAX
        if extremes and r == 2:
            hi = lo
        table["w_min"][r], table["w_max"][r] = lo, hi
        table["elig_decay"][r] = (rng.choice([0, spec.DECAY_ONE]) if extremes and
                                  rng.random() < 0.3 else rng.integers(0, 1024)) * \
            table["kind"][r]
        table["m_shift"][r] = (0 if extremes and rng.random() < 0.2 else
                               rng.integers(0, spec.M_SHIFT_MAX + 1)) * table["kind"][r]
    used = [r for r in range(1, n_rules) if kinds]
    syn_rule = np.zeros(cfg.n_synapses, dtype=np.int64)
    if used:
        plastic = rng.random(cfg.n_synapses) < 0.7
        syn_rule[plastic] = rng.choice(used, int(plastic.sum()))
    homeo = {name: np.zeros(cfg.n_profiles, dtype=np.int64) for name in spec.HOMEO_FIELDS}
    if "homeostasis" in rules:
        if cfg.kernel.homeostasis is None:
            raise ValueError(f"kernel {cfg.kernel.name} has no homeostasis field")
        homeo["up"] = rng.integers(0, 4096, cfg.n_profiles)
        homeo["down"] = rng.integers(0, 512, cfg.n_profiles)
        lo, hi = np.sort(rng.integers(spec.THETA_MIN, spec.THETA_MAX + 1,
                                      (2, cfg.n_profiles)), axis=0)
        if extremes:
            lo[0], hi[0] = spec.THETA_MIN, spec.THETA_MAX
            homeo["up"][-1] = spec.HOMEO_STEP_MAX
        homeo["lo"], homeo["hi"] = lo, hi
    big_amp = extremes and rng.random() < 0.5
    learning = Learning(
        syn_rule, pre_decay=int(rng.integers(0, spec.DECAY_ONE + 1)),
        pre_amp=spec.TRACE_MAX if big_amp else int(rng.integers(0, spec.TRACE_MAX + 1)),
        post_decay=int(rng.integers(0, spec.DECAY_ONE + 1)),
        post_amp=int(rng.integers(0, spec.TRACE_MAX + 1)), mode=int(rng.integers(2)),
        **table, **homeo)
    weight = cfg.syn_weight.copy()
    plastic = syn_rule != 0
    weight[plastic] = np.clip(weight[plastic], table["w_min"][syn_rule[plastic]],
                              table["w_max"][syn_rule[plastic]])
    fields = cfg.kernel.param_fields
    return CoreConfig(n_neurons=cfg.n_neurons, n_inputs=cfg.n_inputs, w_shift=cfg.w_shift,
                      kernel=cfg.kernel, **cfg.profile_table(), profile=cfg.profile,
                      fanout_ptr=cfg.fanout_ptr, syn_target=cfg.syn_target,
                      syn_weight=weight, syn_delay=cfg.syn_delay,
                      learning=learning).validate() if fields else None


def random_config(rng, *, n_neurons=16, n_inputs=8, max_fanout=None, extremes=True,
                  kernel=DEFAULT_KERNEL):
    """A random valid config of ``kernel`` that exercises the corners of the numerics.

    With ``extremes`` the profiles include every parameter's limits (CUBA-LIF: decay 0 and
    4096, both reset modes, refractory 0 and 15, biases at the rails), one hub neuron
    hears every source at a weight rail (maximum fan-in, trimmed only where the
    accumulator proof demands), and every delay 1..8 occurs.
    """
    rng = np.random.default_rng(rng)
    kernel = get_kernel(kernel)
    n_prof = int(rng.integers(2 if extremes else 1, spec.PROFILE_COUNT + 1))
    if kernel.name != DEFAULT_KERNEL:
        prof = _random_profiles(kernel, rng, n_prof, extremes)
    else:
        prof = _random_lif_profiles(rng, n_prof, extremes)
    return _random_structure(rng, kernel, prof, n_prof, n_neurons, n_inputs, max_fanout,
                             extremes)


def _random_lif_profiles(rng, n_prof, extremes):
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
    return prof


def _random_structure(rng, kernel, prof, n_prof, n_neurons, n_inputs, max_fanout, extremes):
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
    cfg = CoreConfig(n_neurons=n_neurons, n_inputs=n_inputs, w_shift=w_shift, kernel=kernel,
                     **prof,
                     profile=rng.integers(0, n_prof, n_neurons), fanout_ptr=ptr,
                     syn_target=target, syn_weight=weight, syn_delay=delay)
    return cfg.validate()
