"""The host driver: ``Board.open(url)`` and everything a user does with a deployed board.

It speaks ``docs/protocol.md`` through ``neurofab.host.codec`` over any transport
(``neurofab.host.transport``): a real board on a serial port, a simulated board (the
real top level compiled by Verilator) over TCP, or ``sim://BOARD`` which starts one.

``run(inputs)`` returns per-step spike arrays in exactly the form ``neurofab.golden.run``
returns, so ``board.run(inputs) == golden.run(cfg, inputs)`` is the whole test;
``stream(inputs)`` runs an iterable of steps (an endless one too) with several steps in
flight and yields each step's array as soon as it has been read. A board
whose cores learn (``Board.learning``) also takes a reward per step (``run(inputs,
reward=...)``, ``set_modulator``) and reads back what was learned (``read_learning``,
``read_weights``), again in the golden model's form.

A board of several cores behind an AER router (IDENTIFY's ``n_cores`` > 1) loads a
``FabricConfig`` (``neurofab.partition.compile_fabric``) and returns global neuron numbers,
``golden.fabric.run_fabric``'s form; a board with an on-chip spike encoder (IDENTIFY's
``encoder``) runs on values (``run(values)``), ``golden.encoded_core``'s form.
"""

import os
import time
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from neurofab import spec
from neurofab.checks import check_float, check_int, check_int_array, check_range
from neurofab.config import UPLOAD_ORDER, CoreConfig, decode_state
from neurofab.golden.core import neuron_field
from neurofab.kernels import DEFAULT_KERNEL, KERNELS, get_kernel
from neurofab.partition import FabricConfig, RoutingTable
from neurofab.spec import Ctrl, Region

from . import codec
from .transport import TransportError, open_transport  # noqa: F401 (re-export)

__all__ = ["Board", "BoardError", "LinkTimeout", "LinkStats", "BoardState", "Snapshot",
           "TransportError"]


class BoardError(RuntimeError):
    """The board answered, but not as the protocol allows (or the config does not fit)."""


class LinkTimeout(BoardError):
    """No valid reply after every retransmission."""


@dataclass
class LinkStats:
    """Host-side link accounting (wire bytes include COBS, CRC, header and delimiter)."""
    commands: int = 0
    retransmissions: int = 0
    bad_frames: int = 0          # corrupt frames received (CRC, COBS, ...)
    stray_replies: int = 0       # replies to an earlier seq, ignored
    tx_bytes: int = 0
    rx_bytes: int = 0
    tx_payload: int = 0
    rx_payload: int = 0

    def as_dict(self):
        return dict(self.__dict__)


class BoardState:
    """Neuron state read back from a board (the fields of ``golden.CoreState``).

    Attributes
    ----------
    neurons : dict
        Every state field of the board's kernel (CUBA-LIF: ``i``, ``v``, ``ref``) to an
        int64 array, one entry per neuron; each is also an attribute (``state.v``).
    acc : int64 array, shape (DELAY_SLOTS, n_neurons)
    step : int
    """

    def __init__(self, neurons, acc, step):
        self.neurons, self.acc, self.step = dict(neurons), acc, step

    def __getattr__(self, name):
        return neuron_field(self, name)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Everything a one-core board holds at a step boundary (``Board.snapshot``): the words
    of every region — configuration, neuron state, accumulators, control registers, the
    learning regions of a learning core and the spike queue (the last step's spikes, which
    the next step delivers) — and the board they came from. ``Board.restore`` writes it
    back; the run then continues exactly as it would have.

    Attributes
    ----------
    build : int
        IDENTIFY's ``build`` of the board (a snapshot goes back to the same gateware).
    step : int
        Steps the core had completed (``CTRL.STEP``).
    regions : dict
        ``Region`` to the array of its words as ``Board.read_mem`` returns them (every word
        of every region the core has; ``QUEUE``: ``n_neurons`` words then the count).
    cfg : CoreConfig or None
        The config the host had loaded (``Board.cfg``), restored with the words.
    initial_words : array or None
        The STATE words ``Board.reset`` writes back for that config (a kernel whose
        initial state is not zero), restored with it.
    """
    build: int
    step: int
    regions: dict
    cfg: object = None
    initial_words: object = None

    @property
    def pending(self):
        """The queued spikes: the neurons that fired in the last step, in order."""
        q = self.regions[Region.QUEUE]
        return q[:int(q[-1])].astype(np.int64)


_LINK_NAKS = frozenset(r.value for r in (spec.Nak.CRC, spec.Nak.FRAMING, spec.Nak.OVERSIZE))


def _is_link_nak(frame):
    """Whether ``frame`` is a link NAK (CRC, FRAMING, OVERSIZE): the board could not check
    the frame it refused, so its seq is not to be trusted."""
    return (frame.is_nak and len(frame.payload) == spec.NakPayload.size // 8
            and frame.payload[0] in _LINK_NAKS)


def check_continuity(last, reply, done):
    """Raise ``BoardError`` unless READ_EVENTS ``reply`` continues where ``last`` ended:
    its ``steps_read`` must be ``last.steps_read`` plus the step ends it carries (mod
    2**16); otherwise replies in between were lost (a reply in flight when an earlier host
    left is replaced by the next command's reply). ``done`` is the steps received so far."""
    lost = (reply.steps_read - len(reply.ends) - last.steps_read) % (1 << 16)
    if lost:
        raise BoardError(f"{lost} steps of output were lost after step {done}: the board "
                         f"sent them in a READ_EVENTS reply this host never received (an "
                         f"earlier host left while it was on its way?); steps_read went "
                         f"from {last.steps_read} to {reply.steps_read} with "
                         f"{len(reply.ends)} step ends in the new reply")


class Board:
    """A connected neurofab board.

    Parameters
    ----------
    transport : Transport
    timeout : float
        Seconds to wait for a reply before retransmitting (plus the transfer time of the
        longest reply at ``baud``).
    retries : int
        Retransmissions before ``LinkTimeout`` (``spec.DEFAULT_RETRIES``).
    backoff : float
        Each timeout waits this many times longer than the one before, at most
        ``MAX_BACKOFF`` times ``timeout`` (``spec.DEFAULT_BACKOFF``).
    baud : int
        Line rate used to size timeouts (``spec.DEFAULT_BAUD``).
    """

    #: The longest wait for a reply, in units of ``timeout``.
    MAX_BACKOFF = 8

    def __init__(self, transport, *, timeout=spec.DEFAULT_TIMEOUT, retries=spec.DEFAULT_RETRIES,
                 backoff=spec.DEFAULT_BACKOFF, baud=spec.DEFAULT_BAUD):
        self.transport = transport
        self.timeout = timeout + 10 * spec.MAX_ENCODED / baud
        self.retries = check_int("retries", retries, 0, 1000)
        if not 1.0 <= backoff <= 10.0:
            raise ValueError(f"backoff = {backoff!r} is outside the limit [1, 10]")
        self.backoff = float(backoff)
        self.stats = LinkStats()
        self._decoder = codec.FrameDecoder()
        self._seq = int.from_bytes(os.urandom(1), "little")
        self.info = None
        self.cfg = None
        self._initial_words = None      # STATE words reset() writes back (None: all zero)
        self.info = self.identify()

    @classmethod
    def open(cls, url, **kwargs):
        """Connect to the board a URL names and IDENTIFY it (use as a context manager)."""
        transport = open_transport(url)
        try:
            return cls(transport, **kwargs)
        except BaseException:
            transport.close()
            raise

    def close(self):
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- one command, with retransmission ---------------------------------------------
    @property
    def max_payload(self):
        return self.info.max_payload if self.info is not None else spec.MIN_MAX_PAYLOAD

    def transact(self, cmd):
        """Send ``cmd`` and return its parsed reply (``codec.parse_reply``).

        Retransmission (``docs/protocol.md``, section 6): the same frame with the same seq
        after a timeout, after a link NAK (CRC, FRAMING, OVERSIZE) that names our seq or
        our opcode (one flipped bit in our frame leaves at least one of them), and after
        a corrupt frame from the board (most likely our reply: the board replays it), up
        to ``retries`` times. Each timeout waits ``backoff`` times longer than the one
        before, at most ``MAX_BACKOFF`` times ``timeout``, so a noisy line is ridden
        through and a board that stalls for a while is given the time.

        Raises
        ------
        LinkTimeout
            No valid reply after every attempt; the message counts what was received.
        NakError
            A NAK other than a link NAK: final for this command.
        """
        self._seq = (self._seq + 1) & 0xFF
        seq = self._seq
        wire = codec.encode_frame(cmd.opcode, seq, cmd.payload)
        self.stats.commands += 1
        self.stats.tx_payload += len(cmd.payload)
        seen = {"timeouts": 0, "link NAKs": 0, "corrupt frames": 0, "stray replies": 0}
        wait = self.timeout
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retransmissions += 1
            self.transport.write(wire)
            self.stats.tx_bytes += len(wire)
            deadline = time.monotonic() + wait
            retransmit = False
            while not retransmit and (left := deadline - time.monotonic()) > 0:
                data = self.transport.read(65536, left)
                self.stats.rx_bytes += len(data)
                for item in self._decoder.feed(data):
                    if isinstance(item, codec.FrameError):
                        # garbage or a damaged reply: the decoder resynchronised at the
                        # delimiter; ask again (a board replays its stored reply)
                        self.stats.bad_frames += 1
                        seen["corrupt frames"] += 1
                        retransmit = True
                        continue
                    if _is_link_nak(item):
                        # a damaged frame: ours if it names our seq or our opcode (one
                        # flipped bit leaves at least one of them); else a stale NAK
                        # of earlier garbage on the line
                        if item.seq == seq or item.payload[1] == cmd.opcode.value:
                            seen["link NAKs"] += 1
                            retransmit = True
                        else:
                            self.stats.stray_replies += 1
                            seen["stray replies"] += 1
                        continue
                    if not item.is_reply or item.seq != seq:
                        self.stats.stray_replies += 1
                        seen["stray replies"] += 1
                        continue
                    result = codec.parse_reply(cmd, item)
                    self.stats.rx_payload += len(item.payload)
                    return result
            if not retransmit:
                seen["timeouts"] += 1
                wait = min(wait * self.backoff, self.timeout * self.MAX_BACKOFF)
        what = ", ".join(f"{v} {k}" for k, v in seen.items() if v) or "nothing"
        raise LinkTimeout(f"{self.transport.url}: no valid reply to {cmd.opcode.name} (seq "
                          f"{seq}) after {self.retries + 1} attempts (timeout {self.timeout:.2f} "
                          f"s, backoff {self.backoff}); received: {what}")

    # --- commands ---------------------------------------------------------------------
    def identify(self):
        """``codec.Identify``: protocol version, board id, build hash, clock, sizes."""
        info = self.transact(codec.identify())
        if info.protocol != spec.PROTOCOL_VERSION:
            raise BoardError(f"board speaks protocol {info.protocol}, this host "
                             f"{spec.PROTOCOL_VERSION}")
        return info

    def status(self):
        """``codec.Status``: link counters, steps pending, event buffer levels."""
        return self.transact(codec.status())

    def clear_status(self):
        self.transact(codec.clear_status())

    def reset(self):
        """Restart the network: every neuron at the kernel's initial state, accumulators
        and step zero; keep the config. (RESET zeroes the state words; a kernel whose
        initial state is not zero gets it written back.)

        On a learning core the learning dynamics restart too — traces, fired flags,
        homeostatic offsets, eligibilities and the modulator are zero — but the synapses
        keep what they learned (weight and fraction bits): ``load`` restores the
        config's weights."""
        self.transact(codec.reset())
        if self._initial_words is not None:
            self.write_mem(Region.STATE, 0, self._initial_words)

    def echo(self, data):
        return self.transact(codec.echo(data, max_payload=self.max_payload))

    @property
    def learning(self):
        """Whether the board's cores learn (IDENTIFY's ``learning``)."""
        return self.info is not None and bool(self.info.learning)

    def _word_bytes(self, region):
        kernel = self.kernel
        return spec.region_word_byte_counts(kernel.state_word, kernel.profile,
                                            learning=self.learning)[Region(region)]

    @property
    def kernel(self):
        """The neuron kernel of the board's cores (``neurofab.kernels``, from IDENTIFY)."""
        if self.info is None:
            return get_kernel(DEFAULT_KERNEL)
        by_id = {k.kernel_id: k for k in KERNELS.values()}
        if self.info.kernel not in by_id:
            raise BoardError(f"board runs kernel number {self.info.kernel}, which this host "
                             f"does not know (known: "
                             f"{', '.join(f'{k.kernel_id} {k.name}' for k in by_id.values())})")
        return by_id[self.info.kernel]

    def write_mem(self, region, start, words, *, core=0):
        """Write ``words`` of ``region`` from index ``start`` (of core ``core`` on a
        multi-core board), in as many WRITE_MEMs as ``max_payload`` needs."""
        region = Region(region)
        kernel = self.kernel
        core = self._check_core(core)
        per = (self.max_payload - spec.MemHeader.size // 8) // self._word_bytes(region)
        words = list(words) if not isinstance(words, np.ndarray) else words
        for k in range(0, len(words), per):
            self.transact(codec.write_mem(region, start + k, words[k:k + per],
                                          max_payload=self.max_payload, kernel=kernel,
                                          learning=self.learning, target=core))

    def read_mem(self, region, start, count, *, core=0):
        """``count`` words of ``region`` from index ``start`` (of core ``core``)."""
        region = Region(region)
        kernel = self.kernel
        core = self._check_core(core)
        per = self.max_payload // self._word_bytes(region)
        parts = [self.transact(codec.read_mem(region, start + k, min(per, count - k),
                                              max_payload=self.max_payload, kernel=kernel,
                                              learning=self.learning, target=core))
                 for k in range(0, count, per)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)

    # --- fabric and encoder ---------------------------------------------------------
    @property
    def n_cores(self):
        """Neuron cores of the board (IDENTIFY's ``n_cores``; more than one: behind an AER
        router, loaded with a ``FabricConfig``)."""
        return 1 if self.info is None else int(self.info.n_cores)

    def _check_core(self, core):
        return check_int("core", core, 0, self.n_cores - 1)

    @property
    def encoder(self):
        """The on-chip spike encoder (``"rate"``, ``"latency"``, ``"delta"``,
        ``"population"``) in front of the core's input channels, or ``None``."""
        by_id = {v: k for k, v in spec.ENCODER_IDS.items()}
        if self.info is None or not self.info.encoder:
            return None
        if self.info.encoder not in by_id:
            raise BoardError(f"board has encoder number {self.info.encoder}, which this host "
                             f"does not know (known: {by_id})")
        return by_id[self.info.encoder]

    @property
    def encoder_args(self):
        """The encoder's parameters as IDENTIFY announces them, as keyword arguments of
        the golden ``neurofab.golden.encoded_core.EncodedCore(cfg, board.encoder,
        **board.encoder_args)`` (``None`` without encoder)."""
        kind = self.encoder
        if kind is None:
            return None
        info = self.info
        args = {"channels": info.enc_channels, "width": info.enc_width}
        if kind in ("rate", "population"):
            args["seed"] = info.enc_seed
        arg = spec.ENCODER_ARG[kind]
        if arg is not None:
            args[arg] = info.enc_arg
        return args

    def _load_fabric(self, fcfg):
        """``load`` of a ``FabricConfig``: every core's words to its target, the routing
        table padded to the board's slots per port, then RESET."""
        info, K = self.info, self.n_cores
        if K == 1:
            raise BoardError(f"board {info.board} has one core: load a CoreConfig, not a "
                             f"FabricConfig of {fcfg.n_cores} cores")
        if fcfg.n_cores != K:
            raise BoardError(f"the FabricConfig has {fcfg.n_cores} cores, board {info.board} "
                             f"has {K}: compile_fabric(network, cores={K}, n_neurons="
                             f"{info.n_neurons})")
        if fcfg.table.entries_per_port > info.route_entries:
            raise BoardError(f"the routing table uses {fcfg.table.entries_per_port} slots per "
                             f"port, board {info.board} has {info.route_entries}")
        fcfg.validate()
        fitted = []
        for k, c in enumerate(fcfg.cores):
            try:
                fitted.append(c.padded(info.n_neurons, info.n_inputs,
                                       n_synapses=info.n_synapses, n_profiles=info.n_profiles))
            except ValueError as exc:
                raise BoardError(f"core {k} of the network does not fit board {info.board}: "
                                 f"{exc}") from None
        st = self.status()
        if st.steps_pending or st.in_level or st.out_level:
            self.reset()
        for k, cfg in enumerate(fitted):
            image = cfg.memory_image(n_inputs=info.n_inputs, syn_capacity=info.n_synapses)
            for region in UPLOAD_ORDER:
                if region is Region.CTRL:
                    self.write_mem(region, Ctrl.W_SHIFT.value,
                                   image[region][Ctrl.W_SHIFT.value:Ctrl.W_SHIFT.value + 1],
                                   core=k)
                elif region not in (Region.ACC, *spec.LEARN_REGIONS):
                    self.write_mem(region, 0, image[region], core=k)
        t = fcfg.table
        table = RoutingTable(t.ports, t.src, t.lo, t.hi, t.mask, t.offset,
                             entries_per_port=info.route_entries)
        routes = [0 if e is None else spec.pack(
                      spec.Route, lo=int(t.lo[e]), hi=int(t.hi[e]), offset=int(t.offset[e]),
                      mask=int(t.mask[e]), valid=1)
                  for slots in table.slots() for e in slots]
        per = (self.max_payload - spec.MemHeader.size // 8) // spec.ROUTE_WORD_BYTES
        for k in range(0, len(routes), per):
            self.transact(codec.write_routes(k, routes[k:k + per],
                                             max_payload=self.max_payload))
        self._initial_words = None
        self.reset()
        self.cfg = fcfg

    def _fabric_neurons(self, indices):
        """Board spike numbers (``core * n_neurons + local``) -> the fabric's global
        neurons (padding neurons dropped), sorted."""
        f, n = self.cfg, self.info.n_neurons
        core, local = np.divmod(np.asarray(indices, dtype=np.int64), n)
        keep = local < f.start[core + 1] - f.start[core]
        return np.sort(f.start[core[keep]] + local[keep])

    # --- network ----------------------------------------------------------------------
    def fit(self, cfg):
        """``cfg`` padded to this board's core (or ``BoardError`` naming what overflows)."""
        info = self.info
        try:
            return cfg.padded(info.n_neurons, info.n_inputs, n_synapses=info.n_synapses,
                              n_profiles=info.n_profiles)
        except ValueError as exc:
            raise BoardError(f"network does not fit board {info.board}: {exc}") from None

    def load(self, cfg):
        """Upload ``cfg`` (padded to the board's geometry) and reset the network.

        On a multi-core board ``cfg`` is a ``FabricConfig`` of as many cores
        (``compile_fabric(network, cores=board.n_cores, n_neurons=board.info.n_neurons)``):
        each core's words go to its target, the routing table (padded to the board's
        ``route_entries`` slots per port) to ``spec.ROUTE_TARGET``; RESET then also empties
        the fabric's spike buffers.

        A board still running steps of an earlier host (or holding its events) is reset
        first: loading replaces that network, its pending steps and buffered events.

        Writes the words of ``CoreConfig.memory_image`` region by region in
        ``UPLOAD_ORDER``; the accumulators and the step counter are left to RESET, which
        zeroes them (and the neuron state) without a word on the link. A learning config
        (on a learning board) also writes its plastic synapses (fraction bits and
        eligibilities zero), the trace parameters, ``LEARN_END``, the modulator (0) and
        the rule and homeostasis tables; RESET zeroes the traces (PRE, POST).
        """
        if isinstance(cfg, FabricConfig):
            return self._load_fabric(cfg)
        if not isinstance(cfg, CoreConfig):
            raise TypeError(f"cfg must be a CoreConfig or a FabricConfig, not {cfg!r}")
        if self.n_cores > 1:
            raise BoardError(f"board {self.info.board} has {self.n_cores} cores behind an AER "
                             f"router: load a FabricConfig (neurofab.partition.compile_fabric("
                             f"network, cores={self.n_cores}, n_neurons="
                             f"{self.info.n_neurons}))")
        if cfg.kernel is not self.kernel:
            raise BoardError(f"the config is for kernel {cfg.kernel.name}, but board "
                             f"{self.info.board} runs kernel {self.kernel.name}: build the "
                             f"board for it (neurofab build --kernel {cfg.kernel.name}) or "
                             f"compile the network for {self.kernel.name}")
        if (cfg.learning is not None) != self.learning:
            cfg_says = "learns (cfg.learning)" if cfg.learning is not None else \
                "does not learn (cfg.learning is None)"
            board_says = "learning cores" if self.learning else "cores without learning"
            raise BoardError(f"the config {cfg_says}, but board {self.info.board} has "
                             f"{board_says}: use a board built "
                             f"{'with' if cfg.learning is not None else 'without'} learning "
                             f"(BoardTop(learning=...), sim://BOARD?learning=0|1)")
        fitted = self.fit(cfg)
        self._initial_words = None      # (reset() below must not restore the old network)
        st = self.status()
        if st.steps_pending or st.in_level or st.out_level:
            # a board left running by an interrupted host refuses WRITE_MEM (BUSY): a new
            # network replaces the old one's pending steps and buffered events
            self.reset()
        image = fitted.memory_image(n_inputs=self.info.n_inputs,
                                    syn_capacity=self.info.n_synapses)
        for region in UPLOAD_ORDER:
            if region is Region.CTRL:
                for first, end in self._ctrl_ranges():
                    self.write_mem(region, first, image[region][first:end])
            elif region not in (Region.ACC, *spec.LEARN_REGIONS):
                self.write_mem(region, 0, image[region])
        # RESET zeroes every neuron's state: a kernel whose initial state is not zero
        # (CUBA-LIF's is) gets its STATE words written back by reset()
        if any(np.any(v) for v in fitted.initial_state().values()):
            self._initial_words = image[Region.STATE]
        self.reset()
        self.cfg = cfg

    def _ctrl_ranges(self):
        """``(first, end)`` index ranges of the CTRL registers ``load`` writes: W_SHIFT;
        on a learning core also TRACES, MODULATOR, LEARN_END and the rule and
        homeostasis tables (STEP is RESET's)."""
        ranges = [(Ctrl.W_SHIFT.value, Ctrl.W_SHIFT.value + 1)]
        if self.learning:
            ranges += [(Ctrl.TRACES.value, Ctrl.LEARN_END.value + 1),
                       (spec.CTRL_RULE, spec.CTRL_RULE + spec.RULE_COUNT),
                       (spec.CTRL_HOMEO, spec.CTRL_HOMEO + spec.PROFILE_COUNT)]
        return ranges

    # --- learning ---------------------------------------------------------------------
    def _need_learning(self, what):
        if not self.learning:
            raise BoardError(f"{what} needs a learning core, but board {self.info.board} "
                             f"has cores without learning (IDENTIFY learning = 0)")

    def set_modulator(self, value):
        """Write the modulator ``M`` (``Ctrl.MODULATOR``): the reward the three-factor
        rules multiply their eligibility by, from the next step on, until written again
        (0 after ``load`` and ``reset``).

        ``value`` is an integer in ``[spec.MOD_MIN, spec.MOD_MAX]`` (−32768 … 32767);
        anything else is refused naming value and limit. A board without learning
        refuses it (``BoardError``).
        """
        self._need_learning("set_modulator")
        value = check_int("modulator", value, spec.MOD_MIN, spec.MOD_MAX)
        self.write_mem(Region.CTRL, Ctrl.MODULATOR.value,
                       [value & ((1 << spec.MOD_WIDTH) - 1)])

    def _check_reward(self, reward, steps):
        """``reward`` as a list of ``steps`` ints in the modulator's range."""
        self._need_learning("run(reward=...)")
        if isinstance(reward, (str, bytes)) or not hasattr(reward, "__len__"):
            raise TypeError(f"reward must be a sequence of one modulator value per step, "
                            f"not {reward!r}")
        if isinstance(reward, np.ndarray) and reward.ndim != 1:
            raise ValueError(f"reward has shape {reward.shape}, expected ({steps},): one "
                             f"modulator value per step")
        if len(reward) != steps:
            raise ValueError(f"reward has {len(reward)} values, expected one per step "
                             f"({steps})")
        return [check_int(f"reward[{t}]", r, spec.MOD_MIN, spec.MOD_MAX)
                for t, r in enumerate(reward)]

    def _learned_words(self, region, count):
        """Fields of the first ``count`` words of a learning region (SYNAPSE, POST)."""
        layout = spec.PlasticSynapse if region is Region.SYNAPSE else spec.PostTrace
        return codec.words_to_fields(layout, self.read_mem(region, 0, count))

    def _loaded(self, what):
        self._need_learning(what)
        if self.cfg is None:
            raise BoardError(f"{what}: no config loaded (Board.load): the learning state is "
                             f"read for the loaded config's sources, neurons and synapses")
        return self.cfg

    def read_learning(self):
        """The learning state of the loaded config, in the golden model's form
        (``golden.CoreState.learn``): a dict of int64 arrays — ``x`` per source (the
        config's neurons, then its input channels), ``y``, ``fired``, ``theta`` per neuron,
        ``weight``, ``frac``, ``elig`` per synapse (CSR order, like ``cfg.syn_weight``)."""
        cfg = self._loaded("read_learning")
        n = self.info.n_neurons
        pre = np.concatenate([self.read_mem(Region.PRE, 0, cfg.n_neurons),
                              self.read_mem(Region.PRE, n, cfg.n_inputs)])
        x = codec.words_to_fields(spec.PreTrace, pre)["x"]
        post = self._learned_words(Region.POST, cfg.n_neurons)
        syn = self._learned_words(Region.SYNAPSE, cfg.n_synapses)
        out = {"x": x, **{k: post[k] for k in ("y", "fired", "theta")},
               **{k: syn[k] for k in ("weight", "frac", "elig")}}
        return {k: np.asarray(v, dtype=np.int64) for k, v in out.items()}

    def read_weights(self, projection=None):
        """The weights (integer part, as the accumulators use them) of the loaded config's
        synapses, int64: every synapse in CSR order (like ``cfg.syn_weight``), or with
        ``projection`` (a ``neurofab.config.Projection`` of the ``Network`` compiled into
        the loaded config) one per synapse of the projection, in its ``src``/``dst``
        order."""
        from neurofab.config import InputGroup, Projection
        if projection is not None and not isinstance(projection, Projection):
            raise TypeError(f"projection must be a neurofab.config.Projection or None, not "
                            f"{projection!r}")
        cfg = self._loaded("read_weights")
        weight = np.asarray(self._learned_words(Region.SYNAPSE, cfg.n_synapses)["weight"],
                            dtype=np.int64)
        if projection is None:
            return weight
        n = cfg.n_neurons
        offset = n if isinstance(projection.pre, InputGroup) else 0
        key = (projection.src + projection.pre.start + offset) * n + \
            (projection.dst + projection.post.start)
        cfg_key = cfg.syn_source * n + cfg.syn_target
        order = np.argsort(cfg_key, kind="stable")
        lo = np.searchsorted(cfg_key[order], key, "left")
        hi = np.searchsorted(cfg_key[order], key, "right")
        bad = np.flatnonzero(hi - lo != 1)
        if bad.size:
            k = int(bad[0])
            raise BoardError(f"synapse {k} of the projection (source {int(key[k] // n)}, "
                             f"target {int(key[k] % n)}) matches {int(hi[k] - lo[k])} synapses "
                             f"of the loaded config, not one: read_weights() without a "
                             f"projection gives every synapse")
        return weight[order[lo]]

    # --- running ----------------------------------------------------------------------
    def run(self, inputs, steps=None, *, reward=None, progress=None):
        """Run ``steps`` steps (default ``len(inputs)``) with per-step input channels.

        Returns one sorted array of fired neurons per step, like ``golden.run``. Steps are
        only queued (RUN) once their inputs are in the board's buffer, so the result
        never depends on link speed. Every step's input is checked before the first is
        sent. ``run`` is ``list(stream(...))`` of the checked inputs (the same engine).

        ``reward`` (a learning board): one modulator value per step, each an integer in
        ``[spec.MOD_MIN, spec.MOD_MAX]``, written before its step (``set_modulator``),
        exactly as ``golden.run(cfg, inputs, reward=reward)``. The steps of a run of equal
        rewards are queued together; at every change of the reward the driver waits for
        the steps before it to finish, so each step sees its own value.
        """
        if self.encoder is not None:
            inputs = self._check_values(inputs)
        else:
            # integers only: a float channel is refused, not truncated (golden.run's rule)
            inputs = [check_int_array(f"inputs[{t}]", c, (np.size(c),)) if np.size(c)
                      else np.zeros(0, np.int64) for t, c in enumerate(inputs)]
        steps = len(inputs) if steps is None else int(steps)
        if steps < len(inputs):
            raise ValueError(f"steps = {steps} is below the {len(inputs)} steps of inputs")
        if isinstance(self.cfg, FabricConfig):
            for t, chans in enumerate(inputs):
                check_range(f"inputs[{t}]", chans, 0, self.cfg.n_inputs - 1)
        elif self.cfg is not None and self.encoder is None:
            inputs = self.cfg.check_inputs(inputs)
        if self.encoder is not None:
            inputs += [np.zeros(self.info.enc_channels, np.int64)] * (steps - len(inputs))
        else:
            inputs += [np.zeros(0, np.int64)] * (steps - len(inputs))
        for t, chans in enumerate(inputs):
            self._check_fits(t, chans)
        if reward is None:
            return list(self._steps(iter(inputs), None, progress, steps))
        reward = self._check_reward(reward, steps)
        out, t = [], 0
        while t < steps:
            end = t + 1
            while end < steps and reward[end] == reward[t]:
                end += 1
            self.set_modulator(reward[t])
            done = len(out)
            out += self._steps(iter(inputs[t:end]), None, None if progress is None else
                               (lambda k, _, done=done: progress(done + k, steps)), end - t)
            t = end
        return out

    def stream(self, inputs, *, window=None, progress=None, reward=None):
        """Run the steps of ``inputs`` as they come; yield each step's output as soon as
        it has been read. Returns a generator.

        ``inputs`` is any iterable of per-step inputs, possibly endless (a generator):
        input channel arrays, or on an encoder board rows of ``enc_channels`` values —
        the steps ``run`` takes, each checked like ``run`` checks it (a bad step raises
        naming its index, value and limit, after the steps before it were yielded). Each
        yielded array is what ``run`` returns for that step.

        Up to ``window`` steps (an integer in ``[1, info.in_depth]``; default
        ``in_depth``, as many as the board's input buffer can hold) are in flight:
        injected and queued, their output not yet yielded. The iterable is read lazily,
        at most ``window`` steps ahead of the last step yielded. The driver tops the
        queue up when half the window (and half the input buffer) is free, so there is no
        round trip per step. A consumer that is slow to take the steps only makes the
        board wait (its output buffer fills; the core waits): nothing is lost.

        Closing the generator early (``close()``, ``break`` out of a ``for`` loop, or
        leaving a ``contextlib.closing`` block) drains the steps already queued and
        discards their output, so the board is left idle, ready for ``run``; steps read
        from ``inputs`` and not yet sent are dropped. A link that fails mid-stream raises
        its error (``TransportError``, ``LinkTimeout``) with attribute ``replies``: the
        READ_EVENTS replies whose output was not yielded yet (a step begun); another host
        (or this one, reconnected) gets every step not yielded with ``drain(*replies)``.

        ``progress(k, total)`` is called as step ``k`` (from 1) is read; ``total`` is
        ``len(inputs)``, or ``None`` for an iterable without a length.

        A learning board streams with the modulator as it stands (``set_modulator``
        before the stream, or between steps the consumer has taken: it holds from a step
        not yet queued on); ``reward`` is refused: a reward per step needs the steps
        before each change finished, which is ``run(inputs, reward=...)``.
        """
        if reward is not None:
            raise TypeError("stream() takes no reward: set_modulator(value) before the stream "
                            "sets it for every step; a reward per step is run(inputs, "
                            "reward=...), which waits for the steps before each change")
        if isinstance(inputs, (str, bytes)) or not hasattr(inputs, "__iter__"):
            raise TypeError(f"inputs must be an iterable of per-step inputs, not {inputs!r}")
        if progress is not None and not callable(progress):
            raise TypeError(f"progress must be callable or None, not {progress!r}")
        if window is not None:
            window = check_int("window", window, 1, self.info.in_depth)
        total = len(inputs) if hasattr(inputs, "__len__") else None
        checked = (self._check_step(t, x) for t, x in enumerate(inputs))
        return self._steps(checked, window, progress, total)

    def _check_step(self, t, step):
        """Step ``t`` of ``stream``'s inputs, checked as ``run`` checks its steps."""
        if self.encoder is not None:
            row = np.asarray(step)
            if row.shape != (self.info.enc_channels,):
                raise ValueError(f"values[{t}] has shape {row.shape}, expected "
                                 f"({self.info.enc_channels},): one value per channel of "
                                 f"the board's {self.encoder} encoder")
            if row.size and not np.issubdtype(row.dtype, np.integer):
                raise TypeError(f"values[{t}] must be integers, not {row.dtype}")
            chans = self._check_values(row[None], first=t)[0]
        elif isinstance(self.cfg, FabricConfig):
            chans = np.asarray(step, dtype=np.int64).reshape(-1)
            check_range(f"inputs[{t}]", chans, 0, self.cfg.n_inputs - 1)
        elif self.cfg is not None:
            chans = self.cfg.check_inputs([step], first=t)[0]
        else:
            chans = np.asarray(step, dtype=np.int64).reshape(-1)
        self._check_fits(t, chans)
        return chans

    def _check_fits(self, t, chans):
        if chans.size + 1 > self.info.in_depth:
            raise ValueError(f"inputs[{t}] has {chans.size} events; the board's input "
                             f"buffer holds {self.info.in_depth - 1} per step")

    def _check_values(self, values, first=0):
        """An encoder board's ``run`` input: ``(steps, enc_channels)`` integers in
        ``[0, 2**enc_width - 1]``, as per-step int64 rows (named from step ``first``)."""
        info = self.info
        arr = np.asarray(values)
        if arr.ndim != 2 or arr.shape[1] != info.enc_channels:
            raise ValueError(f"values have shape {arr.shape}; the board's {self.encoder} "
                             f"encoder takes (steps, {info.enc_channels}): one value per "
                             f"encoder channel per step")
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"values must be integers, not {arr.dtype}")
        arr = arr.astype(np.int64)
        top = (1 << info.enc_width) - 1
        bad = np.argwhere((arr < 0) | (arr > top))
        if bad.size:
            t, c = (int(x) for x in bad[0])
            raise ValueError(f"values[{first + t}][{c}] = {int(arr[t, c])} is outside the "
                             f"limit [0, {top}] ({info.enc_width}-bit encoder values)")
        return list(arr)

    def _steps(self, inputs, window, progress, total):
        """The engine of ``run`` and ``stream``: a generator of per-step outputs.

        ``inputs`` is an iterator of checked per-step input arrays; an exception it raises
        is raised once the steps queued before it were yielded. Keeps up to ``window``
        steps (default ``in_depth``) injected and queued, refilled when half the window
        and half the input buffer are free (or nothing is queued)."""
        st = self.status()
        if st.steps_pending or st.out_level:
            raise BoardError(f"the board still has {st.steps_pending} steps pending and "
                             f"{st.out_level} output events of an earlier run: drain() them "
                             f"or reset() before run()")
        depth = self.info.in_depth
        window = depth if window is None else window
        free = depth - st.in_level
        last = self.transact(codec.read_events())   # steps_read before this run
        first_step = self._step_counter()           # CTRL.STEP before this run
        # replies holding output not yielded yet (the step begun), the last one always:
        # what drain() needs to continue where this host stopped
        held = [replace(last, indices=last.indices[:0], ends=last.ends[:0])]
        asm = codec.StepAssembler()
        queued = deque()         # input buffer entries of each queued step not yet read
        fabric = isinstance(self.cfg, FabricConfig)
        nxt, stop, done, sent = None, None, 0, 0
        try:
            while True:
                if stop is None and (not queued or (window - len(queued) >= (window + 1) // 2
                                                    and free >= depth // 2)):
                    batch = []
                    while len(queued) + len(batch) < window:
                        if nxt is None:
                            try:
                                nxt = next(inputs)
                            except StopIteration:
                                stop = ()
                                break
                            except Exception as exc:        # a bad step: after the rest
                                stop = (exc,)
                                break
                        if nxt.size + 1 > free:
                            break
                        batch.append(nxt)
                        free -= nxt.size + 1
                        nxt = None
                    if batch:
                        for cmd in codec.split_inject(batch, max_payload=self.max_payload):
                            self.transact(cmd)
                        self.transact(codec.run(len(batch)))
                        queued.extend(chans.size + 1 for chans in batch)
                        sent += len(batch)
                    elif not queued and nxt is not None:
                        raise BoardError(f"step {sent} needs {nxt.size + 1} input buffer "
                                         f"entries, {free} are free ({depth - free} held by "
                                         f"an earlier host): reset() the board")
                if not queued:
                    break
                reply = self.transact(codec.read_events())
                check_continuity(last, reply, done)
                last = reply
                if len(reply.ends):
                    cut = int(reply.ends[-1])
                    held = [replace(reply, indices=reply.indices[cut:], ends=reply.ends[:0])]
                elif reply.indices.size:
                    held.append(reply)      # (an empty reply: the same steps_read as the last)
                finished = asm.feed(reply.indices, reply.ends)
                if len(finished) > len(queued):
                    raise BoardError(f"the board returned {done + len(finished)} steps, only "
                                     f"{sent} were run (another host ran steps?)")
                for chans in finished:
                    free += queued.popleft()
                    done += 1
                    if progress is not None:
                        progress(done, total)
                    yield self._fabric_neurons(chans) if fabric else np.sort(chans)
                # nothing pending and nothing buffered: no more output will come (a step's
                # first events received without its end included: RESET discarded the rest)
                if reply.steps_pending == 0 and reply.remaining == 0 and queued:
                    cut = (f", and {asm.partial.size} events of a step whose end never came"
                           if asm.partial.size else "")
                    raise BoardError(f"the board lost {len(queued)} queued steps (reset or "
                                     f"reprogrammed during the run?): {done} of "
                                     f"{sent if total is None else total} steps "
                                     f"completed{cut}")
        except GeneratorExit:
            # the consumer stopped early: finish the queued steps, discard their output
            if queued:
                self.drain(*held)
            raise
        except (TransportError, BoardError) as exc:
            exc.replies = tuple(held)
            raise
        # every step read back: the core counted exactly these (a RESET by another host
        # between two batches, when nothing was queued, restarts the count at 0)
        end_step = self._step_counter()
        mask = (1 << spec.STEP_WIDTH) - 1
        if end_step != (first_step + sent) & mask:
            raise BoardError(f"the core's step counter went from {first_step} to {end_step} "
                             f"during a run of {sent} steps: the board was reset or "
                             f"reloaded by someone else during the run, so its output is not "
                             f"this run's")
        if stop:
            raise stop[0]

    def _step_counter(self):
        """The core's ``CTRL.STEP`` (core 0's on a fabric)."""
        return int(self.read_mem(Region.CTRL, Ctrl.STEP.value, 1)[0])

    def drain(self, *replies):
        """Read output events until no step is pending and the output buffer is empty.

        ``replies`` are READ_EVENTS replies already received (e.g. by a host that lost its
        connection mid-run); returns every completed step, sorted, in order.
        """
        asm, out, last = codec.StepAssembler(), [], None
        for reply in replies:
            if last is not None:
                check_continuity(last, reply, len(out))
            out += asm.feed(reply.indices, reply.ends)
            last = reply
        while True:
            reply = self.transact(codec.read_events())
            if last is not None:
                check_continuity(last, reply, len(out))
            out += asm.feed(reply.indices, reply.ends)
            last = reply
            if reply.steps_pending == 0 and reply.remaining == 0:
                if asm.partial.size:
                    raise BoardError(f"output ended inside a step ({asm.partial.size} events "
                                     f"without an end-of-step record)")
                return [np.sort(s) for s in out]

    # --- paced mode ---------------------------------------------------------------------
    def pace(self, period=None, *, hz=None):
        """Paced mode: the board starts one step every ``period`` clocks of its own clock
        (or ``hz`` steps per second, rounded to whole clocks of IDENTIFY's ``clk_hz``),
        however fast the host sends; a period whose step cannot start on time (the step
        before still running, or the output buffer full) counts one in
        ``status().pace_overruns``, and the step starts as soon as it can (nothing is
        skipped). ``pace(0)`` (the default at power-up): each step as soon as the one
        before ends. Needs a board whose IDENTIFY says ``pace`` = 1 for a period other
        than 0. Returns the period set, in clocks."""
        if (period is None) == (hz is None):
            raise TypeError("pace() takes a period in clocks or hz=, one of them")
        if hz is not None:
            hz = check_float("hz", hz, 1e-3, float(self.info.clk_hz))
            period = int(round(self.info.clk_hz / hz))
        period = check_int("period", period, 0, (1 << 32) - 1)
        if period and not self.info.pace:
            raise BoardError(f"board {self.info.board}'s build has no paced mode (IDENTIFY "
                             f"pace = 0; the iCEBreaker top has no room for its timer): "
                             f"only pace(0) is possible")
        self.transact(codec.pace(period))
        return period

    # --- snapshots ----------------------------------------------------------------------
    def _check_snapshot_build(self, what):
        if self.n_cores > 1 or self.encoder is not None:
            raise BoardError(f"{what} is for a board of one core without encoder; board "
                             f"{self.info.board} has {self.n_cores} cores"
                             f"{' and a ' + self.encoder + ' encoder' if self.encoder else ''}"
                             f" (their router buffers and encoder registers are not "
                             f"reachable)")
        if not self.info.queue:
            raise BoardError(f"{what} needs the spike-queue region, which board "
                             f"{self.info.board}'s build does not have (IDENTIFY queue = 0): "
                             f"the spikes of the last step would be lost and the run would "
                             f"not continue exactly")

    def _check_snapshot_board(self, what):
        self._check_snapshot_build(what)
        st = self.status()
        if st.steps_pending or st.in_level or st.out_level:
            raise BoardError(f"{what} at a step boundary: the board still has "
                             f"{st.steps_pending} steps pending, {st.in_level} input and "
                             f"{st.out_level} output events buffered (drain() or reset() "
                             f"first)")

    def snapshot(self):
        """The board's whole state at this step boundary, as a ``Snapshot``: every word of
        every region, the spike queue (the last step's spikes, still to be delivered)
        included. Needs a one-core board whose build has region QUEUE (IDENTIFY's
        ``queue``) and no step pending or buffered; ``BoardError`` names what is
        missing."""
        self._check_snapshot_board("snapshot()")
        regions = {r: self.read_mem(r, 0, self.info.region_depth(r))
                   for r in Region if self.info.region_depth(r)}
        return Snapshot(self.info.build, int(regions[Region.CTRL][Ctrl.STEP.value]), regions,
                        self.cfg, self._initial_words)

    def restore(self, snap):
        """Write ``snap`` (``snapshot()`` of this board's build) back: the board then holds
        exactly what it held when the snapshot was taken, and the run continues from
        there. Steps pending or buffered on the board are dropped first (RESET)."""
        if not isinstance(snap, Snapshot):
            raise TypeError(f"restore() takes a Snapshot (Board.snapshot()), not "
                            f"{type(snap).__name__}")
        if snap.build != self.info.build:
            raise BoardError(f"the snapshot is of build {snap.build:016x}; board "
                             f"{self.info.board} runs build {self.info.build:016x} (a "
                             f"snapshot goes back to the gateware it was taken from)")
        self._check_snapshot_build("restore()")
        st = self.status()
        if st.steps_pending or st.in_level or st.out_level:
            self.transact(codec.reset())
        n = self.info.n_neurons
        count = int(snap.regions[Region.QUEUE][-1])
        if count > n:
            raise ValueError(f"snapshot QUEUE count = {count} is outside the limit [0, {n}]")
        # STEP (in CTRL) empties the spike queue: the queue goes last, its count at its end
        order = (Region.PROFILE, Region.ROWPTR, Region.SYNAPSE, Region.STATE, Region.ACC,
                 Region.PRE, Region.POST, Region.CTRL, Region.QUEUE)
        for region in order:
            if region in snap.regions:
                self.write_mem(region, 0, snap.regions[region])
        self.cfg, self._initial_words = snap.cfg, snap.initial_words

    def read_state(self, core=0):
        """Full neuron state (i, v, ref, all accumulator slots, step) via READ_MEM
        (``neurofab.config.decode_state`` of the ``state_addresses`` words), of core
        ``core`` on a multi-core board."""
        n = self.info.n_neurons
        words = [*self.read_mem(Region.STATE, 0, n, core=core).tolist(),
                 *self.read_mem(Region.ACC, 0, n * spec.DELAY_SLOTS, core=core).tolist(),
                 *self.read_mem(Region.CTRL, Ctrl.STEP.value, 1, core=core).tolist()]
        st = decode_state(words, n, self.kernel)
        return BoardState({f: st[f] for f in self.kernel.state_fields}, st["acc"], st["step"])

