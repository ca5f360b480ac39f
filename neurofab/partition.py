"""Routing tables and the multi-core compiler: one network → K core configs + a table.

* :class:`RoutingTable` — the integer routing table of an AER router (``docs/aer.md``):
  per input port an ordered list of entries ``(lo, hi) → (mask, offset)``, first match wins.
* :class:`FabricConfig` — what a K-core fabric runs: one :class:`~neurofab.config.CoreConfig`
  per core, the router's table, and where every global neuron lives.
* :func:`compile_fabric` — partitions a ``Network`` or a single (big) ``CoreConfig`` across
  K cores in contiguous blocks of neurons.

The partition scheme (``docs/aer.md``, "Fabric"): every spike leaves its core through the
router, never through the core's own recurrent queue. A core's CSR rows for its own
neurons are empty; its input channels are **axons** numbered like the sources of the big
core — axon ``g`` (``g < N``) is global neuron ``g``, axon ``N + c`` is external input
channel ``c`` — and the rows of axon ``s`` hold the synapses of big-core source ``s`` whose
targets live on that core (targets renumbered locally). The router rewrites a spike of
core ``k``'s local neuron ``n`` into axon ``start[k] + n`` for every core that listens (and
for the host, which thus sees global neuron numbers); host event ``c`` becomes axon
``N + c``. Delays are unchanged: a spike of update ``t`` crosses the router between update
``t`` and the integrate phase of ``t + 1`` — exactly when the big core's recurrent queue
would deliver it — so every synapse counts in the same update as on the big core.
"""

from dataclasses import dataclass, field

import numpy as np

from neurofab import spec
from neurofab.checks import check_int
from neurofab.config import CoreConfig, Network, PROFILE_FIELDS, compile as compile_network
from neurofab.spec import Reset

__all__ = ["RoutingTable", "FabricConfig", "compile_fabric", "random_table"]

_ADDR_MAX = (1 << spec.AER_ADDR_WIDTH) - 1


def _ints(x):
    return np.asarray(x, dtype=np.int64).reshape(-1)


@dataclass(eq=False)
class RoutingTable:
    """Routing table of a ``ports``-port router.

    Parameters
    ----------
    ports : int
        Input = output ports (host included), ``spec.AER_MIN_PORTS .. spec.AER_MAX_PORTS``.
    src, lo, hi, mask, offset : int arrays, one entry each
        Entry ``e`` applies to events arriving on input port ``src[e]`` with
        ``lo[e] <= addr <= hi[e]``: they go to every output ``o`` with bit ``o`` of
        ``mask[e]`` set, as address ``offset[e] + addr - lo[e]``. Among the entries of one
        port the first listed that matches wins.
    entries_per_port : int, optional
        Table slots per input port in hardware (default: the most any port uses, at
        least 1), at most ``spec.ROUTE_MAX_ENTRIES``.
    """
    ports: int
    src: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lo: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    hi: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    mask: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    offset: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    entries_per_port: int = None

    def __post_init__(self):
        self.ports = int(self.ports)
        for name in ("src", "lo", "hi", "mask", "offset"):
            setattr(self, name, _ints(getattr(self, name)))
        if self.entries_per_port is None:
            used = np.bincount(self.src, minlength=1) if self.src.size and \
                self.src.min() >= 0 else np.zeros(1, np.int64)
            self.entries_per_port = max(1, int(used.max()))
        self.entries_per_port = int(self.entries_per_port)

    @classmethod
    def from_entries(cls, ports, entries, entries_per_port=None):
        """``entries``: iterable of ``(src, lo, hi, mask, offset)``."""
        rows = np.array([tuple(int(x) for x in e) for e in entries],
                        dtype=np.int64).reshape(-1, 5)
        return cls(ports, *rows.T, entries_per_port=entries_per_port).validate()

    @property
    def n_entries(self):
        return int(self.src.size)

    def validate(self):
        """Raise ``ValueError`` naming field, value and limit for anything out of range."""
        k = check_int("ports", self.ports, spec.AER_MIN_PORTS, spec.AER_MAX_PORTS)
        check_int("entries_per_port", self.entries_per_port, 1, spec.ROUTE_MAX_ENTRIES)
        if k * self.entries_per_port > 1 << spec.ROUTE_INDEX_WIDTH:
            raise ValueError(f"ports x entries_per_port = {k * self.entries_per_port} exceeds "
                             f"the {spec.ROUTE_INDEX_WIDTH}-bit table index")
        n = self.src.size
        for name in ("lo", "hi", "mask", "offset"):
            if getattr(self, name).size != n:
                raise ValueError(f"{name} has {getattr(self, name).size} entries, expected "
                                 f"{n} (one per entry)")
        for name, lo, hi in (("src", 0, k - 1), ("lo", 0, _ADDR_MAX), ("hi", 0, _ADDR_MAX),
                             ("mask", 0, (1 << k) - 1), ("offset", 0, _ADDR_MAX)):
            arr = getattr(self, name)
            bad = (arr < lo) | (arr > hi)
            if bad.any():
                e = int(np.flatnonzero(bad)[0])
                raise ValueError(f"routing entry {e}: {name} = {int(arr[e])} is outside the "
                                 f"limit [{lo}, {hi}]")
        bad = self.hi < self.lo
        if bad.any():
            e = int(np.flatnonzero(bad)[0])
            raise ValueError(f"routing entry {e}: hi = {int(self.hi[e])} is below lo = "
                             f"{int(self.lo[e])}")
        top = self.offset + self.hi - self.lo
        if (top > _ADDR_MAX).any():
            e = int(np.flatnonzero(top > _ADDR_MAX)[0])
            raise ValueError(f"routing entry {e}: offset + hi - lo = {int(top[e])} exceeds the "
                             f"{spec.AER_ADDR_WIDTH}-bit address")
        if n:
            used = np.bincount(self.src, minlength=k)
            if used.max() > self.entries_per_port:
                p = int(np.argmax(used))
                raise ValueError(f"input port {p} has {int(used[p])} routing entries, more than "
                                 f"entries_per_port = {self.entries_per_port}")
        return self

    def entries_of(self, port):
        """Indices of the entries of input ``port``, in priority order."""
        return np.flatnonzero(self.src == port)

    def lookup(self, port, addrs):
        """Vectorised lookup of events ``addrs`` arriving on input ``port``.

        Returns ``(matched, mask, out_addr)`` int arrays: ``matched`` is 0 for an event no
        entry matches (the router counts it as unrouted), else 1.
        """
        addrs = _ints(addrs)
        matched = np.zeros(addrs.size, np.int64)
        mask = np.zeros(addrs.size, np.int64)
        out = np.zeros(addrs.size, np.int64)
        for e in self.entries_of(port)[::-1]:           # last first: the first match wins
            hit = (addrs >= self.lo[e]) & (addrs <= self.hi[e])
            matched[hit] = 1
            mask[hit] = self.mask[e]
            out[hit] = self.offset[e] + addrs[hit] - self.lo[e]
        return matched, mask, out

    def slots(self):
        """Per input port the list of its entry indices, padded to ``entries_per_port``
        with ``None`` (the hardware slot order)."""
        out = []
        for p in range(self.ports):
            es = [int(e) for e in self.entries_of(p)]
            out.append(es + [None] * (self.entries_per_port - len(es)))
        return out


def random_table(rng, ports, *, entries_per_port=None, addr_bits=6, multicast=0.5):
    """A random valid table: per port 0..``entries_per_port`` entries over
    ``addr_bits``-bit addresses (overlaps allowed: first match wins), random multicast
    masks (each output with probability ``multicast``; some masks empty = sinks)."""
    rng = np.random.default_rng(rng)
    e_max = entries_per_port or int(rng.integers(1, 5))
    top = (1 << addr_bits) - 1
    rows = []
    for p in range(ports):
        for _ in range(int(rng.integers(1, e_max + 1))):
            lo = int(rng.integers(0, top + 1))
            hi = int(rng.integers(lo, top + 1))
            mask = int(sum(1 << o for o in range(ports) if rng.random() < multicast))
            offset = int(rng.integers(0, _ADDR_MAX - (hi - lo) + 1))
            rows.append((p, lo, hi, mask, offset))
    return RoutingTable.from_entries(ports, rows, entries_per_port=e_max)


# ======================================================================================
# Fabric configuration
# ======================================================================================
@dataclass(eq=False)
class FabricConfig:
    """A network partitioned over ``n_cores`` cores behind one router.

    Attributes
    ----------
    cores : list of CoreConfig
        Core ``k``'s configuration: its neurons first (rows empty: spikes leave through the
        router), then ``n_neurons + n_inputs`` axon channels.
    table : RoutingTable
        ``n_cores + 1`` ports: port ``k < n_cores`` is core ``k``, port ``n_cores`` the host.
    start : int array, shape (n_cores + 1,)
        Core ``k`` holds global neurons ``start[k] .. start[k+1]-1`` (local ``n - start[k]``).
    n_neurons, n_inputs : int
        Global neurons (of the big core) and external input channels.
    """
    cores: list
    table: RoutingTable
    start: np.ndarray
    n_neurons: int
    n_inputs: int

    @property
    def n_cores(self):
        return len(self.cores)

    @property
    def host(self):
        """Router port of the host."""
        return self.n_cores

    @property
    def ports(self):
        return self.n_cores + 1

    def validate(self):
        for k, c in enumerate(self.cores):
            try:
                c.validate()
            except ValueError as exc:
                raise ValueError(f"core {k}: {exc}") from None
            if c.n_inputs != self.n_neurons + self.n_inputs:
                raise ValueError(f"core {k}: n_inputs = {c.n_inputs}, expected one axon per "
                                 f"global source ({self.n_neurons + self.n_inputs})")
            if c.n_neurons < self.start[k + 1] - self.start[k]:
                raise ValueError(f"core {k}: {c.n_neurons} neurons cannot hold its block of "
                                 f"{int(self.start[k + 1] - self.start[k])}")
        self.table.validate()
        if self.table.ports != self.ports:
            raise ValueError(f"table has {self.table.ports} ports, expected {self.ports}")
        return self

    def global_ids(self, core, local):
        return self.start[core] + _ints(local)


def _pow2(n):
    return max(2, 1 << max(0, int(n) - 1).bit_length())


def compile_fabric(network_or_cfg, cores=2, *, n_neurons=None, entries_per_port=None):
    """Partition a ``Network`` (compiled first with ``neurofab.config.compile``) or a
    ``CoreConfig`` over ``cores`` neuron cores (contiguous blocks); returns a validated
    :class:`FabricConfig` whose golden run equals the big core's spike for spike.

    Core ``k`` gets global neurons ``[k * B, (k + 1) * B)`` with ``B = ceil(N / cores)``;
    its size is the next power of two (extra neurons are silent). ``n_neurons`` forces the
    per-core size (e.g. a board's capacity).
    """
    if isinstance(network_or_cfg, Network):
        big = compile_network(network_or_cfg)
    elif isinstance(network_or_cfg, CoreConfig):
        big = network_or_cfg.validate()
    else:
        raise TypeError(f"expected a Network or a CoreConfig, not {network_or_cfg!r}")
    try:
        K = check_int("cores", cores, 1, spec.AER_MAX_PORTS - 1)
    except ValueError as exc:
        raise ValueError(f"{exc} (one router port is the host's)") from None
    N, n_in = big.n_neurons, big.n_inputs
    if K > N:
        raise ValueError(f"cores = {K} exceeds the network's {N} neurons")
    n_axons = N + n_in
    if n_axons > spec.MAX_INPUTS or n_axons - 1 > _ADDR_MAX:
        raise ValueError(f"{n_axons} axons (neurons + inputs) exceed the "
                         f"{spec.AER_ADDR_WIDTH}-bit AER address")
    B = -(-N // K)
    start = np.minimum(np.arange(K + 1) * B, N)
    local_n = _pow2(B) if n_neurons is None else int(n_neurons)
    if local_n < B:
        raise ValueError(f"n_neurons = {local_n} per core is below the block of {B} neurons")
    # profiles: the big core's, plus a silent one for padding neurons if needed
    cols = np.stack([getattr(big, f) for f in PROFILE_FIELDS], axis=1)
    silent = np.array([0, 0, spec.STATE_MAX, 0, 0, Reset.TO_VRESET.value, 0])
    hit = np.flatnonzero((cols == silent).all(axis=1))
    sink_padding = False
    if hit.size:
        silent_idx = int(hit[0])
    elif len(cols) < spec.PROFILE_COUNT:
        silent_idx = len(cols)
        cols = np.vstack([cols, silent])
    else:
        # no room for a silent profile: padding neurons take profile 0 (they may fire) and
        # a sink entry of the table swallows their spikes
        silent_idx, sink_padding = 0, True
    ptr = big.fanout_ptr
    syn_src = np.repeat(np.arange(big.n_sources), np.diff(ptr))
    owner = np.searchsorted(start, big.syn_target, side="right") - 1
    core_cfgs = []
    listen = np.zeros((K, big.n_sources), dtype=bool)     # core k hears source s
    for k in range(K):
        lo, hi = int(start[k]), int(start[k + 1])
        needs_pad = local_n > hi - lo
        prof_cols = cols if needs_pad else cols[:big.n_profiles]
        profile = np.full(local_n, silent_idx, np.int64)
        profile[:hi - lo] = big.profile[lo:hi]
        sel = np.flatnonzero(owner == k)                   # CSR order kept (sorted by source)
        src = syn_src[sel]
        listen[k, np.unique(src)] = True
        counts = np.bincount(src, minlength=n_axons)
        cptr = np.concatenate([np.zeros(local_n + 1, np.int64), np.cumsum(counts)])
        cfg = CoreConfig(
            n_neurons=local_n, n_inputs=n_axons, w_shift=big.w_shift,
            **dict(zip(PROFILE_FIELDS, prof_cols.T)), profile=profile, fanout_ptr=cptr,
            syn_target=big.syn_target[sel] - lo, syn_weight=big.syn_weight[sel],
            syn_delay=big.syn_delay[sel])
        core_cfgs.append(cfg.validate())
    host = K
    rows = []
    for k in range(K):
        lo, hi = int(start[k]), int(start[k + 1])
        if hi <= lo:
            continue
        mask = 1 << host
        for j in range(K):
            if listen[j, lo:hi].any():
                mask |= 1 << j
        rows.append((k, 0, hi - lo - 1, mask, lo))
        if sink_padding and local_n > hi - lo:
            rows.append((k, hi - lo, local_n - 1, 0, 0))
    if n_in:
        mask = 0
        for j in range(K):
            if listen[j, N:].any():
                mask |= 1 << j
        rows.append((host, 0, n_in - 1, mask, N))
    table = RoutingTable.from_entries(K + 1, rows, entries_per_port=entries_per_port)
    return FabricConfig(core_cfgs, table, start, N, n_in).validate()
