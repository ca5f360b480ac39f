"""The host driver: ``Board.open(url)`` and everything a user does with a deployed board.

It speaks ``docs/protocol.md`` through ``neurofab.host.codec`` over any transport
(``neurofab.host.transport``): a real board on a serial port, a simulated board (the
real top level compiled by Verilator) over TCP, or ``sim://BOARD`` which starts one.

``run(inputs)`` returns per-step spike arrays in exactly the form ``neurofab.golden.run``
returns, so ``board.run(inputs) == golden.run(cfg, inputs)`` is the whole test.
"""

import os
import time
from dataclasses import dataclass

import numpy as np

from neurofab import spec
from neurofab.config import UPLOAD_ORDER, CoreConfig, decode_state
from neurofab.golden.core import neuron_field
from neurofab.kernels import DEFAULT_KERNEL, KERNELS, get_kernel
from neurofab.spec import Ctrl, Region

from . import codec
from .transport import TransportError, open_transport  # noqa: F401 (re-export)

__all__ = ["Board", "BoardError", "LinkTimeout", "LinkStats", "BoardState", "TransportError"]


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


class Board:
    """A connected neurofab board.

    Parameters
    ----------
    transport : Transport
    timeout : float
        Seconds to wait for a reply before retransmitting (plus the transfer time of the
        longest reply at ``baud``).
    retries : int
        Retransmissions before ``LinkTimeout``.
    baud : int
        Line rate used to size timeouts (``spec.DEFAULT_BAUD``).
    """

    def __init__(self, transport, *, timeout=spec.DEFAULT_TIMEOUT, retries=spec.DEFAULT_RETRIES,
                 baud=spec.DEFAULT_BAUD):
        self.transport = transport
        self.timeout = timeout + 10 * spec.MAX_ENCODED / baud
        self.retries = retries
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
        """Send ``cmd`` and return its parsed reply (``codec.parse_reply``)."""
        self._seq = (self._seq + 1) & 0xFF
        seq = self._seq
        wire = codec.encode_frame(cmd.opcode, seq, cmd.payload)
        self.stats.commands += 1
        self.stats.tx_payload += len(cmd.payload)
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retransmissions += 1
            self.transport.write(wire)
            self.stats.tx_bytes += len(wire)
            deadline = time.monotonic() + self.timeout
            while (left := deadline - time.monotonic()) > 0:
                data = self.transport.read(65536, left)
                self.stats.rx_bytes += len(data)
                retransmit = False
                for item in self._decoder.feed(data):
                    if isinstance(item, codec.FrameError):
                        self.stats.bad_frames += 1
                        continue
                    if not item.is_reply or item.seq != seq:
                        self.stats.stray_replies += 1
                        continue
                    try:
                        result = codec.parse_reply(cmd, item)
                    except codec.NakError as nak:
                        if nak.link_error:      # our frame was damaged: send it again
                            retransmit = True
                            break
                        raise
                    self.stats.rx_payload += len(item.payload)
                    return result
                if retransmit:
                    break
        raise LinkTimeout(f"{self.transport.url}: no valid reply to {cmd.opcode.name} (seq "
                          f"{seq}) after {self.retries + 1} attempts of {self.timeout:.2f} s")

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
        initial state is not zero gets it written back.)"""
        self.transact(codec.reset())
        if self._initial_words is not None:
            self.write_mem(Region.STATE, 0, self._initial_words)

    def echo(self, data):
        return self.transact(codec.echo(data, max_payload=self.max_payload))

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

    def write_mem(self, region, start, words):
        region = Region(region)
        kernel = self.kernel
        per = (self.max_payload - spec.MemHeader.size // 8) // kernel.word_bytes[region]
        words = list(words) if not isinstance(words, np.ndarray) else words
        for k in range(0, len(words), per):
            self.transact(codec.write_mem(region, start + k, words[k:k + per],
                                          max_payload=self.max_payload, kernel=kernel))

    def read_mem(self, region, start, count):
        region = Region(region)
        kernel = self.kernel
        per = self.max_payload // kernel.word_bytes[region]
        parts = [self.transact(codec.read_mem(region, start + k, min(per, count - k),
                                              max_payload=self.max_payload, kernel=kernel))
                 for k in range(0, count, per)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)

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

        A board still running steps of an earlier host (or holding its events) is reset
        first: loading replaces that network, its pending steps and buffered events.

        Writes the words of ``CoreConfig.memory_image`` region by region in
        ``UPLOAD_ORDER``; the accumulators and the step counter are left to RESET, which
        zeroes them (and the neuron state) without a word on the link.
        """
        if not isinstance(cfg, CoreConfig):
            raise TypeError(f"cfg must be a CoreConfig, not {cfg!r}")
        if cfg.kernel is not self.kernel:
            raise BoardError(f"the config is for kernel {cfg.kernel.name}, but board "
                             f"{self.info.board} runs kernel {self.kernel.name}: build the "
                             f"board for it (neurofab build --kernel {cfg.kernel.name}) or "
                             f"compile the network for {self.kernel.name}")
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
                self.write_mem(region, Ctrl.W_SHIFT.value,
                               image[region][Ctrl.W_SHIFT.value:Ctrl.W_SHIFT.value + 1])
            elif region is not Region.ACC:
                self.write_mem(region, 0, image[region])
        # RESET zeroes every neuron's state: a kernel whose initial state is not zero
        # (CUBA-LIF's is) gets its STATE words written back by reset()
        if any(np.any(v) for v in fitted.initial_state().values()):
            self._initial_words = image[Region.STATE]
        self.reset()
        self.cfg = cfg

    def run(self, inputs, steps=None, *, progress=None):
        """Run ``steps`` steps (default ``len(inputs)``) with per-step input channels.

        Returns one sorted array of fired neurons per step, like ``golden.run``. Steps are
        only queued (RUN) once their inputs are in the board's buffer, so the result
        never depends on link speed.
        """
        inputs = [np.asarray(c, dtype=np.int64).reshape(-1) for c in inputs]
        steps = len(inputs) if steps is None else int(steps)
        if steps < len(inputs):
            raise ValueError(f"steps = {steps} is below the {len(inputs)} steps of inputs")
        if self.cfg is not None:
            inputs = self.cfg.check_inputs(inputs)
        inputs += [np.zeros(0, np.int64)] * (steps - len(inputs))
        for t, chans in enumerate(inputs):
            if chans.size + 1 > self.info.in_depth:
                raise ValueError(f"inputs[{t}] has {chans.size} events; the board's input "
                                 f"buffer holds {self.info.in_depth - 1} per step")
        out, asm = [], codec.StepAssembler()
        sent = 0                 # steps injected and queued
        st = self.status()
        if st.steps_pending or st.out_level:
            raise BoardError(f"the board still has {st.steps_pending} steps pending and "
                             f"{st.out_level} output events of an earlier run: drain() them "
                             f"or reset() before run()")
        free = self.info.in_depth - st.in_level
        while len(out) < steps:
            batch = []
            while sent + len(batch) < steps:
                need = inputs[sent + len(batch)].size + 1
                if need > free:
                    break
                batch.append(inputs[sent + len(batch)])
                free -= need
            if batch:
                for cmd in codec.split_inject(batch, max_payload=self.max_payload):
                    self.transact(cmd)
                self.transact(codec.run(len(batch)))
                sent += len(batch)
            reply = self.transact(codec.read_events())
            done = asm.feed(reply.indices, reply.ends)
            if len(out) + len(done) > sent:
                raise BoardError(f"the board returned {len(out) + len(done)} steps, only "
                                 f"{sent} were run (another host ran steps?)")
            for chans in done:
                free += inputs[len(out)].size + 1
                out.append(np.sort(chans))
                if progress is not None:
                    progress(len(out), steps)
            if (reply.steps_pending == 0 and reply.remaining == 0 and not asm.partial.size
                    and len(out) < sent):
                raise BoardError(f"the board lost {sent - len(out)} queued steps (reset or "
                                 f"reprogrammed during the run?): {len(out)} of {steps} "
                                 f"steps completed")
        return out

    def drain(self, *replies):
        """Read output events until no step is pending and the output buffer is empty.

        ``replies`` are READ_EVENTS replies already received (e.g. by a host that lost its
        connection mid-run); returns every completed step, sorted, in order.
        """
        asm, out = codec.StepAssembler(), []
        for reply in replies:
            out += asm.feed(reply.indices, reply.ends)
        while True:
            reply = self.transact(codec.read_events())
            out += asm.feed(reply.indices, reply.ends)
            if reply.steps_pending == 0 and reply.remaining == 0:
                if asm.partial.size:
                    raise BoardError(f"output ended inside a step ({asm.partial.size} events "
                                     f"without an end-of-step record)")
                return [np.sort(s) for s in out]

    def read_state(self):
        """Full neuron state (i, v, ref, all accumulator slots, step) via READ_MEM
        (``neurofab.config.decode_state`` of the ``state_addresses`` words)."""
        n = self.info.n_neurons
        words = [*self.read_mem(Region.STATE, 0, n).tolist(),
                 *self.read_mem(Region.ACC, 0, n * spec.DELAY_SLOTS).tolist(),
                 *self.read_mem(Region.CTRL, Ctrl.STEP.value, 1).tolist()]
        st = decode_state(words, n, self.kernel)
        return BoardState({f: st[f] for f in self.kernel.state_fields}, st["acc"], st["step"])

