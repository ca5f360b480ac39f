"""Board top level: the host link (UART, COBS, command controller) and the neuron core.

``BoardTop`` is platform independent::

    rx ─▶ UartRx ─▶ CobsDecoder ─▶ LinkController ─▶ CobsEncoder ─▶ UartTx ─▶ tx
                                        ▲   │
                      i_mem/o_mem,      │   ▼      i_events/o_spikes
                                      NeuronCore

* ``BoardTop(board)`` is the real thing: ``elaborate(platform)`` creates the ``sync``
  domain with a ``ClockGen`` (PLL from the board oscillator), requests the board's UART
  resource (and LED 0, lit while steps are running). ``build(board, board_top_factory,
  out_dir=...)`` builds it.
* ``BoardTop(board, sim=True)`` is the same design clocked by the simulator: no PLL, no
  platform, a plain ``sync`` domain (``clk`` / ``rst`` ports in Verilog) and the UART on
  ports ``rx`` (in) and ``tx`` (out). ``neurofab.boards.sim_top(name)`` returns it with its
  clocks per UART bit for the simulated board (``neurofab.host.simboard``).
* ``BoardTop(board, learning=True)``: the core learns (``docs/numerics.md``, "Learning");
  IDENTIFY says so. A board that cannot host a learning core refuses it
  (``Board.for_learning``).
* ``BoardTop(board, cores=K)`` (K >= 2): a ``Fabric`` of K cores behind the AER router
  instead of one core (geometry per core: ``Board.for_fabric(K)``); the link's memory port
  reaches core ``k`` or the routing table through a ``MemorySwitch``, the host's spikes
  come from the fabric's ``HostTap`` (update ``t`` in step ``t``), RESET also empties the
  fabric's spike buffers (``i_flush``).
* ``BoardTop(board, encoder="rate")`` (or ``latency``, ``delta``, ``population``): an
  ``EncodedCore``; the host injects one value per encoder channel per step (``ValueFeed``;
  as many channels as fill the core's inputs, at most half the input buffer),
  RESET also restarts the encoder (its LFSR, its latency window; a delta encoder's
  previous values are kept). Parameters: ``encoder_params``.

The IDENTIFY reply names the board (``BOARD_IDS``; 0 for a simulated board) and the build:
``design_hash`` digests the parameters of the top and the source of every module that
makes its gateware, so two bitstreams with the same hash run the same design.
"""

import functools
import hashlib
import importlib
import importlib.util
import json
import pkgutil
from pathlib import Path

import numpy as np
from amaranth import ClockDomain, Module
from amaranth.build import ResourceError
from amaranth.lib import fifo, io, wiring
from amaranth.lib.wiring import In, Out, connect

from neurofab import spec
from neurofab.checks import check_bool, check_int
from neurofab.kernels import DEFAULT_KERNEL, get_kernel
from neurofab.rtl.util import SkidBuffer, checked_init
from .clocks import ClockGen
from .registry import get_board

__all__ = ["BoardTop", "board_top_factory", "design_hash", "link_defaults", "BOARD_IDS",
           "encoder_params"]

#: Board ids announced by IDENTIFY (``IdentifyReply.board``); 0 is a simulated board.
BOARD_IDS = {
    "icebreaker": 1,
    "ulx3s": 2,
    "ulx3s-45f": 3,
    "ulx3s-25f": 4,
    "ulx3s-12f": 5,
    "tang-nano-9k": 6,
}

#: Link parameters per FPGA family: (max_payload, in_depth, out_depth). The iCE40UP5K's
#: block RAM is nearly all taken by the core (4 Kbit blocks): a 252-byte payload lets the
#: receive and reply buffers share one block, and 256-entry event buffers take one each.
#: ECP5 and Gowin blocks are 18 Kbit: the protocol's maximum and 1024 entries cost little.
LINK_DEFAULTS = {
    "ice40": (252, 256, 256),
    "ecp5": (spec.MAX_PAYLOAD, 1024, 1024),
    "gowin": (spec.MAX_PAYLOAD, 1024, 1024),
}

#: Modules whose source makes the gateware of a ``BoardTop`` (hashed by ``design_hash``),
#: besides every module of the packages of ``_SOURCE_PACKAGES``.
_SOURCE_MODULES = (
    "neurofab.spec.core", "neurofab.spec.link", "neurofab.spec.packing", "neurofab.config",
    "neurofab.checks", "neurofab.kernels", "neurofab.rtl.util", "neurofab.rtl.core",
    "neurofab.boards.clocks", "neurofab.boards.top",
    # learning: formats, tables, the golden rules (its RTL: _LEARNING_RTL where present)
    "neurofab.spec.learning", "neurofab.learning", "neurofab.golden.learning",
)
#: Modules of the fabric and encoder tops (hashed where present).
_FABRIC_MODULES = ("neurofab.spec.aer", "neurofab.partition", "neurofab.rtl.fabric",
                   "neurofab.rtl.aer", "neurofab.rtl.aer.router")
_ENCODER_MODULES = ("neurofab.spec.encoders", "neurofab.rtl.encoded_core",
                    "neurofab.rtl.encoders", "neurofab.rtl.encoders.spike",
                    "neurofab.rtl.encoders.lfsr")
#: The learning core's datapath (part of ``NeuronCore``, with or without ``learning``).
_LEARNING_RTL = "neurofab.rtl.learning"
#: Packages all of whose modules make the board top (the host link: UART, COBS, CRC, the
#: controller and its components).
_SOURCE_PACKAGES = ("neurofab.rtl.link",)


def _source_modules(kernel=DEFAULT_KERNEL):
    kernel = get_kernel(kernel)
    names = list(_SOURCE_MODULES) + [f"neurofab.spec.{kernel.module}",
                                     f"neurofab.golden.{kernel.module}",
                                     f"neurofab.rtl.{kernel.module}"]
    if importlib.util.find_spec(_LEARNING_RTL) is not None:
        names.append(_LEARNING_RTL)
    names += [n for n in _FABRIC_MODULES + _ENCODER_MODULES
              if importlib.util.find_spec(n) is not None]
    for package in _SOURCE_PACKAGES:
        path = importlib.import_module(package).__path__
        names += [package] + sorted(f"{package}.{m.name}" for m in pkgutil.iter_modules(path))
    return names


def link_defaults(board):
    """``{"max_payload", "in_depth", "out_depth"}`` of the host link on ``board``."""
    max_payload, in_depth, out_depth = LINK_DEFAULTS[get_board(board).family]
    return {"max_payload": max_payload, "in_depth": in_depth, "out_depth": out_depth}


@functools.lru_cache(maxsize=None)
def _source_digest(kernel=DEFAULT_KERNEL):
    h = hashlib.sha256()
    for name in _source_modules(kernel):
        path = Path(importlib.import_module(name).__file__)
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def design_hash(*, kernel=DEFAULT_KERNEL, learning=False, **params):
    """SHA-256 (hex) of the gateware sources (those of ``kernel`` among the neuron
    kernels), the kernel's name, whether the core learns and ``params``
    (JSON-serialisable values; e.g. board, geometry, link parameters, a configuration
    digest)."""
    kernel = get_kernel(kernel)
    h = hashlib.sha256()
    h.update(f"neurofab-gateware/{spec.PROTOCOL_VERSION}/{kernel.name}"
             f"{'/learning' if learning else ''}\n".encode())
    h.update(_source_digest(kernel.name).encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    return h.hexdigest()


def encoder_params(kind, n_inputs, **overrides):
    """The parameters of the spike encoder ``kind`` of a board top whose core has
    ``n_inputs`` input channels: ``(args, link)`` — the keyword arguments of
    ``EncodedCore`` / golden ``EncodedCore`` (``width`` 8, ``seed`` 1, ``window`` 16,
    ``threshold`` 1, ``fields`` 8 unless ``overrides`` say otherwise; ``channels`` as many
    as fill the core's inputs) and the dict IDENTIFY announces
    (``LinkController(encoder=...)``)."""
    from neurofab.spec import encoders as S
    kind = S.check_encoder_kind(kind)
    args = {"width": S.ENC_DEFAULT_WIDTH}
    if kind in ("rate", "population"):
        args["seed"] = 1
    arg = spec.ENCODER_ARG[kind]
    if arg is not None:
        args[arg] = {"window": 16, "threshold": 1, "fields": S.POP_DEFAULT_FIELDS}[arg]
    unknown = set(overrides) - set(args) - {"channels"}
    if unknown:
        raise ValueError(f"encoder {kind} has no parameter {sorted(unknown)[0]!r} (it takes "
                         f"{', '.join(sorted(args) + ['channels'])})")
    args.update(overrides)
    if "channels" not in args:
        args["channels"] = S.encoder_channels(kind, n_inputs,
                                              args.get("fields", S.POP_DEFAULT_FIELDS))
    link = {"kind": kind, "width": args["width"], "channels": args["channels"],
            "seed": args.get("seed", 0), "arg": args[arg] if arg else 0}
    return args, link


def _cfg_digest(cfg):
    if cfg is None:
        return None
    h = hashlib.sha256()
    for name, value in sorted(vars(cfg).items()):
        if name == "learning" and value is not None:      # its tables, not its repr
            value = {k: np.asarray(v).tolist() for k, v in value.arrays().items()}
        h.update(name.encode() + b"\0" + repr(getattr(value, "tolist", lambda: value)())
                 .encode() + b"\0")
    return h.hexdigest()


class BoardTop(wiring.Component):
    """Top level of a board: host link + neuron core.

    Parameters
    ----------
    board : Board or str
        Registry entry (geometry, clock plan, UART resource and baud rate).
    cfg : CoreConfig, optional
        A network baked into the core's memories (``NeuronCore(cfg)``); by default the
        memories start empty and the host uploads a configuration.
    sim : bool
        Simulation variant: no PLL, no platform resources; ports ``rx`` and ``tx``.
    kernel : str or Kernel, optional
        The neuron kernel (``neurofab.kernels``); default ``cfg.kernel``, else CUBA-LIF.
    learning : bool, optional
        A learning core (``NeuronCore(learning=True)``); default: whether ``cfg`` learns,
        else ``False``. ``ValueError`` on a board that cannot host one
        (``Board.for_learning``).
    cores : int, optional
        ``K >= 2``: a fabric of K cores (``Board.for_fabric(K)`` gives the geometry of
        each core and the routing-table slots per port); 1 or ``None``: one core.
    encoder : str, optional
        ``"rate"``, ``"latency"``, ``"delta"`` or ``"population"``: a spike encoder in
        front of the core's input channels (``encoder_params``; not with ``cores``).
    encoder_args : dict, optional
        Overrides of the encoder's parameters (``encoder_params``).
    parity : str or sequence of str, optional
        Memories of the core to protect with a parity bit per word
        (``NeuronCore(parity=...)``, ``spec.PARITY_MEMORIES``; default none); the words
        found wrong are counted in STATUS' ``parity_errors`` (``Board.status()``).
    pace : bool, optional
        Paced mode in the link (PACE: one step every so many clocks, overruns counted;
        IDENTIFY's ``pace``); default the board's ``pace``.
    queue : bool, optional
        The core's spike-queue region (``NeuronCore(queue_port=True)``, IDENTIFY's
        ``queue``), which snapshots with pending spikes need; default the board's
        ``queue_port`` on a one-core top without encoder, else off.
    n_neurons, n_inputs, syn_capacity, syn_bank_depth : int, optional
        Override the board's default core geometry (``Board.geometry``; with ``cores``
        the geometry of each core).
    max_payload, in_depth, out_depth : int, optional
        Override the link parameters (``link_defaults(board)``).
    baud : int, optional
        UART rate (default ``board.uart_baud``); the divisor is
        ``spec.uart_divisor(clk_hz, baud)``.
    build_hash : int, bytes or str, optional
        Announced by IDENTIFY; default ``design_hash`` of this top's parameters.

    Attributes
    ----------
    board : Board
    learning : bool
    core : NeuronCore, EncodedCore or Fabric
    link : LinkController
    n_cores : int
    encoder : dict or None
        The encoder's ``(args, link)`` of ``encoder_params``.
    geometry : dict
        ``n_neurons``, ``n_inputs``, ``syn_capacity``, ``syn_bank_depth`` of the core.
    clk_hz : int
        Core clock (the PLL's output frequency, rounded).
    divisor : int
        Core clocks per UART bit.
    rx : In(1), tx : Out(1)
        UART lines (``sim=True`` only); idle high.
    """

    @checked_init
    def __init__(self, board, *, cfg=None, sim=False, n_neurons=None, n_inputs=None,
                 syn_capacity=None, syn_bank_depth=None, max_payload=None, in_depth=None,
                 out_depth=None, baud=None, build_hash=None, kernel=None, learning=None,
                 cores=None, encoder=None, encoder_args=None, queue=None, parity=(),
                 pace=None):
        from neurofab.rtl.core import NeuronCore
        from neurofab.rtl.link import (CobsDecoder, CobsEncoder, LinkController, MemorySwitch,
                                       UartRx, UartTx, ValueFeed)

        self.sim = bool(sim)
        if cfg is not None:
            if kernel is not None and get_kernel(kernel) is not cfg.kernel:
                raise ValueError(f"cfg is a {cfg.kernel.name} config, not one of kernel "
                                 f"{get_kernel(kernel).name}")
            kernel = cfg.kernel
            if learning is not None and check_bool("learning", learning) != \
                    (cfg.learning is not None):
                raise ValueError(f"cfg is a config {'with' if cfg.learning else 'without'} "
                                 f"learning, but learning = {learning}")
            learning = cfg.learning is not None
        self.kernel = kernel = get_kernel(DEFAULT_KERNEL if kernel is None else kernel)
        self.learning = learning = check_bool("learning",
                                              False if learning is None else learning)
        # (the board as it hosts the kernel, learning and the encoder: its clock or
        # geometry may differ)
        self.board = board = get_board(board).for_kernel(kernel).for_learning(
            learning).for_encoder(encoder)
        self.n_cores = n_cores = 1 if cores is None else check_int("cores", cores, 1,
                                                                  spec.AER_MAX_PORTS - 1)
        if n_cores > 1 and (encoder is not None or learning or cfg is not None
                            or kernel is not get_kernel(DEFAULT_KERNEL)):
            raise ValueError(f"cores = {n_cores}: a fabric board top has CUBA-LIF cores "
                             f"without learning, encoder or baked config")
        if encoder is not None and (learning or cfg is not None
                                    or kernel is not get_kernel(DEFAULT_KERNEL)):
            raise ValueError(f"encoder = {encoder!r}: an encoder board top has one CUBA-LIF "
                             f"core without learning or baked config")
        if encoder is None and encoder_args:
            raise ValueError(f"encoder_args {encoder_args!r} given without an encoder")
        # (a fabric may run at a clock of its own)
        self.board = board = board.for_cores(n_cores)
        # the spike-queue region (snapshots): the board's default on a one-core top
        plain = n_cores == 1 and encoder is None
        if queue is None:
            queue = plain and board.queue_port
        self.queue = check_bool("queue", queue)
        self.pace = check_bool("pace", board.pace if pace is None else pace)
        self.parity = (parity,) if isinstance(parity, str) else tuple(parity)
        if self.parity and (not plain or learning):
            raise ValueError(f"parity = {parity!r}: parity protects the one core of a top "
                             f"without learning, fabric or encoder")
        if self.queue and not plain:
            raise ValueError(f"queue = True: the spike-queue region is for a one-core board "
                             f"top without encoder (cores = {n_cores}, encoder = {encoder!r})")
        geometry = dict(board.geometry)
        route_entries = 0
        if n_cores > 1:
            fab = board.for_fabric(n_cores)
            route_entries = fab["route_entries"]
            geometry.update({k: fab[k] for k in ("n_neurons", "n_inputs", "syn_capacity")})
        for key, value in (("n_neurons", n_neurons), ("n_inputs", n_inputs),
                           ("syn_capacity", syn_capacity),
                           ("syn_bank_depth", syn_bank_depth)):
            if value is not None:
                geometry[key] = value
        link = link_defaults(board)
        for key, value in (("max_payload", max_payload), ("in_depth", in_depth),
                           ("out_depth", out_depth)):
            if value is not None:
                link[key] = value
        self.geometry = geometry
        self.link_params = link
        self.clk_hz = int(round(board.pll.f_out))
        self.baud = board.uart_baud if baud is None else baud
        self.divisor = spec.uart_divisor(self.clk_hz, self.baud)
        self.board_id = 0 if self.sim else BOARD_IDS.get(board.name, 0)
        if build_hash is None:
            extra = {}
            if n_cores > 1:
                extra.update(cores=n_cores, route_entries=route_entries)
            if encoder is not None:
                extra.update(encoder=encoder, encoder_args=encoder_args or {})
            if self.queue:
                extra.update(queue=True)
            if self.pace:
                extra.update(pace=True)
            if self.parity:
                extra.update(parity=sorted(self.parity))
            if board.spike_fifo != "registers":
                extra.update(spike_fifo=board.spike_fifo)
            build_hash = design_hash(kernel=kernel, learning=learning, board=board.name,
                                     sim=self.sim,
                                     geometry=geometry,
                                     link=link, baud=self.baud, clk_hz=self.clk_hz,
                                     cfg=_cfg_digest(cfg), **extra)
        self.build_hash = build_hash

        self.switch = self.feed = None
        self.encoder = None
        enc_link = None
        if n_cores > 1:
            from neurofab.rtl.fabric import Fabric
            self.core = Fabric(None, cores=n_cores, entries_per_port=route_entries,
                               host_tap=True, spike_fifo=board.spike_fifo, **geometry)
            self.switch = MemorySwitch(n_cores)
        elif encoder is not None:
            from neurofab.rtl.encoded_core import EncodedCore
            enc_over = dict(encoder_args or {})
            if "channels" not in enc_over:
                # one step of values (+ its END) must fit the input buffer with room to spare
                from neurofab.spec import encoders as S
                enc_over["channels"] = min(S.encoder_channels(
                    encoder, geometry["n_inputs"],
                    enc_over.get("fields", S.POP_DEFAULT_FIELDS)), link["in_depth"] // 2)
            self.encoder = encoder_params(encoder, geometry["n_inputs"], **enc_over)
            args, enc_link = self.encoder
            self.core = EncodedCore(None, encoder, spike_fifo=board.spike_fifo, **geometry,
                                    **args)
            self.feed = ValueFeed(args["channels"], args["width"])
        else:
            # (a core without learning is built as before the learning core existed)
            self.core = NeuronCore(cfg, kernel=kernel, **geometry,
                                   **({"learning": True} if learning else {}),
                                   queue_port=self.queue, spike_fifo=board.spike_fifo,
                                   **({"parity": self.parity} if self.parity else {}))
        self.link = LinkController(kernel=kernel, learning=learning,
                                   n_neurons=geometry["n_neurons"],
                                   n_inputs=geometry["n_inputs"],
                                   syn_capacity=geometry["syn_capacity"], clk_hz=self.clk_hz,
                                   board_id=self.board_id, build_hash=build_hash,
                                   n_cores=n_cores, route_entries=route_entries,
                                   encoder=enc_link, queue=self.queue, pace=self.pace,
                                   **link)
        self.uart_rx = UartRx(divisor=self.divisor)
        self.uart_tx = UartTx(divisor=self.divisor)
        self.cobs_dec = CobsDecoder(max_frame=self.link.max_body)
        self.cobs_enc = CobsEncoder()
        self.clockgen = None if self.sim else ClockGen(board.pll, board.clock_resource,
                                                       device=board.device)
        # The parts belong to the top: if the top is never elaborated, it warns, not they.
        nested = [getattr(self.core, name, None) for name in ("core", "encoder", "router",
                                                               "tap")]
        for part in (self.core, self.link, self.uart_rx, self.uart_tx, self.cobs_dec,
                     self.cobs_enc, self.clockgen, self.switch, self.feed, *nested,
                     *getattr(self.core, "cores", ())):
            if part is not None:
                part._MustUse__silence = True
        ports = {"rx": In(1, init=1), "tx": Out(1, init=1)} if self.sim else {}
        super().__init__(ports)

    def elaborate(self, platform):
        if not self.sim and platform is None:
            raise ValueError("BoardTop(sim=False) needs a platform; use sim=True to simulate")
        m = Module()
        m.submodules.core = core = self.core
        m.submodules.link = link = self.link
        m.submodules.uart_rx = urx = self.uart_rx
        m.submodules.uart_tx = utx = self.uart_tx
        m.submodules.cobs_dec = dec = self.cobs_dec
        m.submodules.cobs_enc = enc = self.cobs_enc

        if self.sim:
            m.d.comb += [urx.i_rx.eq(self.rx), self.tx.eq(utx.o_tx)]
        else:
            m.domains.sync = ClockDomain("sync")
            m.submodules.clockgen = self.clockgen
            uart = platform.request(self.board.uart_resource, 0, dir="-")
            m.submodules.rx_buf = rx_buf = io.Buffer("i", uart.rx)
            m.submodules.tx_buf = tx_buf = io.Buffer("o", uart.tx)
            m.d.comb += [urx.i_rx.eq(rx_buf.i), tx_buf.o.eq(utx.o_tx)]
            try:
                led = platform.request("led", 0, dir="-")
            except ResourceError:
                led = None
            if led is not None:
                m.submodules.led_buf = led_buf = io.Buffer("o", led)
                m.d.comb += led_buf.o.eq(link.o_running)

        connect(m, urx.o_stream, dec.i_stream)
        connect(m, dec.o_stream, link.i_frame)
        connect(m, link.o_frame, enc.i_stream)
        connect(m, enc.o_stream, utx.i_stream)
        m.d.comb += [link.i_uart_error.eq(urx.o_frame_error),
                     link.i_rx_overrun.eq(urx.o_overrun)]
        if self.parity:                    # the core's parity-error counter, for STATUS
            m.d.comb += link.i_parity_errors.eq(core.parity_errors)
        connect(m, core.o_spikes, link.i_spikes)
        events = link.o_events
        if self.feed is not None or self.switch is not None:
            # a small FIFO: no combinational path from the router's (encoder's) ready back
            # into the link's step feeder
            m.submodules.event_fifo = ev = fifo.SyncFIFOBuffered(width=spec.InputEvent.size,
                                                                 depth=4)
            connect(m, link.o_events, ev.w_stream)
            events = ev.r_stream
        if self.feed is not None:                  # encoder: values in
            m.submodules.feed = feed = self.feed
            m.d.comb += [feed.i_events.valid.eq(events.valid),
                         feed.i_events.payload.eq(events.payload),
                         events.ready.eq(feed.i_events.ready)]
            connect(m, feed.o_value, core.i_value)
            m.d.comb += [feed.i_flush.eq(link.o_clear), core.i_flush.eq(link.o_clear)]
        elif self.switch is not None:
            # a register slice beside the router: its host-port arbitration reaches the
            # event FIFO's read only through a register
            m.submodules.event_slice = slice_ = SkidBuffer(spec.InputEvent)
            connect(m, events, slice_.i_stream)
            events = slice_.o_stream
            m.d.comb += [core.i_events.valid.eq(events.valid),
                         core.i_events.payload.eq(events.payload),
                         events.ready.eq(core.i_events.ready)]
        else:
            connect(m, link.o_events, core.i_events)
        if self.switch is not None:                # fabric: cores and routing table
            m.submodules.switch = sw = self.switch
            connect(m, link.o_mem, sw.i_mem)
            connect(m, sw.o_mem, link.i_mem)
            connect(m, sw.o_table, core.i_table)
            m.d.comb += [sw.i_target.eq(link.o_mem_target), core.i_flush.eq(link.o_clear)]
            for k in range(self.n_cores):
                connect(m, getattr(sw, f"o_mem_{k}"), getattr(core, f"i_mem_{k}"))
                connect(m, getattr(core, f"o_mem_{k}"), getattr(sw, f"i_mem_{k}"))
        else:
            connect(m, link.o_mem, core.i_mem)
            connect(m, core.o_mem, link.i_mem)
        return m


def board_top_factory(board, cfg=None, **kwargs):
    """``BoardTop(board, cfg=cfg, **kwargs)``: a ``top_factory`` for
    ``neurofab.boards.build.build`` (``functools.partial`` it to bake a ``cfg``)."""
    return BoardTop(board, cfg=cfg, **kwargs)
