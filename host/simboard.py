"""The simulated board: a board top level compiled by Verilator, its UART bridged to TCP.

The host driver talks to a simulated board exactly as to a real one: through a byte stream.
The board is the real top level (Verilog from ``amaranth.back.verilog``) compiled by
Verilator together with a small C++ harness (``simboard.cpp`` beside this file). The harness
clocks the design, serialises the bytes a TCP client sends onto the design's ``rx`` pin as
8N1 UART frames (``divisor`` clocks per bit) and deserialises the design's ``tx`` pin back
into bytes for the client. UART bit timing is simulated, never bypassed.

* :func:`build_simboard` — component (or Verilog text) → cached simulator binary; with
  ``gate="ice40"``/``"ecp5"`` the component's netlist synthesised for that family, with
  the family's cell models (the gate-level simulated board);
* :class:`SimBoardProcess` — run a binary, learn its ``tcp://127.0.0.1:PORT``, stop it;
* :func:`start_simulated_board` — what ``sim://BOARD`` URLs use;
* :func:`serve` — what ``neurofab sim-board`` runs (serves until SIGTERM/SIGINT);
* :func:`measure_cycles_per_second` — simulation speed, for ``make bench``;
* :class:`UartEcho` — a tiny UART-echo top level (board ``loopback``): a self-test for
  transports and the harness, and, with ``ballast``, a stand-in design for speed figures.

The harness serves one client at a time, forever; the design keeps its state across
connections like a powered board. A client that connects while another one is served gets
``spec.SIMBOARD_BUSY`` and is closed (the host transport reports "board busy"); the bytes
of a client that disconnected and have not gone down the line yet are dropped, so a
client that gave up (in the listen backlog, too) never has its commands run; a client that
sends nothing for ``client_timeout`` seconds (60) is disconnected. Bytes the design sends while nobody is connected are
discarded. Once nobody is connected and both lines have been quiet for ``idle_cycles``
clocks, the harness stops the clock until the next client connects.

Builds are cached under ``$NEUROFAB_CACHE``, else ``$XDG_CACHE_HOME/neurofab``, else
``~/.cache/neurofab`` (folder ``simboard/``), keyed by a hash of the Verilog, the harness
source and every build flag and tool version; a build happens in a private folder that is
renamed into place, so concurrent builds of the same design never see each other's halves.
"""

import contextlib
import hashlib
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from amaranth import *
from amaranth.lib import cdc, fifo, wiring
from amaranth.lib.wiring import In, Out

# Shared with the cosim back end: Verilog without source locations, the cache folder and
# its lock, the one way to compile a Verilated design with a C++ harness.
from ..checks import check_int
from ..toolchain import (ToolError, ToolNotFound, cache_root, cxx_version, locked,
                         to_verilog, verilate, verilator_version)

__all__ = ["SimBoardError", "build_simboard", "SimBoardProcess", "start_simulated_board",
           "serve", "measure_cycles_per_second", "UartEcho", "harness_source",
           "top_ports", "check_gate", "DEFAULT_DIVISOR"]

#: Clocks per UART bit when nothing else is said (the loopback board).
DEFAULT_DIVISOR = 16
#: Bump when the build recipe changes in a way the cache key would not see.
_RECIPE = 2
#: Amaranth's Verilog trips Verilator's width lints, which are not errors.
_LINT_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN")
_HARNESS = Path(__file__).with_name("simboard.cpp")
_BINARY = "simboard"


class SimBoardError(RuntimeError):
    """Building or running the simulated board failed; the message carries the tool output."""


# --- build -----------------------------------------------------------------------------------
def harness_source():
    """Text of the C++ harness shipped with this package."""
    try:
        return _HARNESS.read_text()
    except FileNotFoundError:
        raise SimBoardError(f"the simulated-board harness {_HARNESS.name} is missing from this "
                            f"installation of neurofab.host (package data)") from None


def top_ports(verilog_text, name="top"):
    """``{port: (direction, width)}`` of module ``name`` in ``verilog_text``."""
    match = re.search(rf"^\s*module\s+\\?{re.escape(name)}\s*[(;#]", verilog_text, re.M)
    if match is None:
        raise SimBoardError(f"no module {name!r} in the Verilog")
    end = verilog_text.find("endmodule", match.end())
    body = verilog_text[match.end():end if end >= 0 else None]
    ports = {}
    decl = re.compile(r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?"
                      r"(?:\[\s*(\d+)\s*:\s*(\d+)\s*\]\s*)?\\?([^\s;,]+)\s*[;,=]", re.M)
    for m in decl.finditer(body):
        direction, msb, lsb, port = m.groups()
        width = abs(int(msb) - int(lsb)) + 1 if msb is not None else 1
        ports[port] = (direction, width)
    return ports


def _tool_versions():
    return {"verilator": verilator_version(), "cxx": cxx_version()}


def _tail(text, lines=40):
    return "\n".join(text.splitlines()[-lines:])


def check_gate(gate):
    """``gate`` (``None``, or an FPGA family of the gate-level simulation) if valid, else
    ``ValueError`` naming the value and the allowed ones."""
    from ..cosim.gatelevel import FAMILIES
    if gate is not None and gate not in FAMILIES:
        raise ValueError(f"gate = {gate!r} is not one of {', '.join(map(repr, FAMILIES))} "
                         f"(the FPGA families whose synthesised netlist a simulated board "
                         f"can run; None: the RTL)")
    return gate


def build_simboard(top, *, name="top", trace=False, clk="clk", rst="rst", rx="rx", tx="tx",
                   gate=None, spram=True, cache_dir=None, jobs=2, verbose=False):
    """Compile a board top level and the harness into a simulator binary; return its path.

    Parameters
    ----------
    top : amaranth component or str
        The design (converted with ``amaranth.back.verilog``), or its Verilog text.
    name : str
        Verilog top module name.
    gate : {None, "ice40", "ecp5"}
        ``None``: simulate the RTL (``amaranth.back.verilog``). A family: simulate the
        gate-level netlist instead, ``top`` synthesised by Yosys for that family
        (``neurofab.cosim.gatelevel.synth``, cached) and compiled with the family's cell
        models (``cell_library``); ``top`` must then be a component.
    spram : bool
        With ``gate="ice40"``: put the core's synapse memory in SPRAM, as the iCEBreaker
        build does (``synth``).
    trace : bool
        Build with VCD tracing (enables the binary's ``--vcd PATH``); cached apart.
    clk, rst, rx, tx : str
        Port names. The defaults are what Amaranth names the ``sync`` domain's clock and
        reset and ``rx``/``tx`` ports of the top component. A design without ``rst`` port
        (reset-less domain) is accepted.
    cache_dir : path, optional
        Cache root (default: ``$NEUROFAB_CACHE`` / ``$XDG_CACHE_HOME/neurofab`` /
        ``~/.cache/neurofab``).
    """
    gate = check_gate(gate)
    netlist = None
    if gate is None:
        text = top if isinstance(top, str) else to_verilog(top, name=name)
    elif isinstance(top, str):
        raise ValueError(f"gate = {gate!r} synthesises an Amaranth component; top is Verilog "
                         f"text")
    else:
        from ..cosim.gatelevel import SynthError, gate_verilog
        try:
            text, netlist = gate_verilog(top, gate, top=name, spram=spram,
                                         cache_dir=cache_dir)
        except SynthError as exc:
            raise SimBoardError(f"gate-level simulated board: {exc}") from None
    ports = top_ports(text, name)
    for role, port, direction in (("clock", clk, "input"), ("UART rx", rx, "input"),
                                  ("UART tx", tx, "output")):
        if ports.get(port, (None,))[0] != direction:
            raise SimBoardError(
                f"the top module {name!r} has no 1-bit {direction} {port!r} ({role}); "
                f"its ports: {', '.join(f'{d} {p}[{w}]' for p, (d, w) in ports.items())}")
        if ports[port][1] != 1:
            raise SimBoardError(f"port {port!r} of {name!r} is {ports[port][1]} bits wide, "
                                f"not 1")
    has_rst = ports.get(rst, (None,))[0] == "input"
    defines = [f"-DNF_CLK={clk}", f"-DNF_RX={rx}", f"-DNF_TX={tx}"]
    defines += [f"-DNF_RST={rst}"] if has_rst else ["-DNF_NO_RST"]
    if trace:
        defines.append("-DNF_TRACE")
    if gate is None:
        x_args = ("--x-assign", "fast", "--x-initial", "fast")
    else:
        # the gate-level builds' arguments: unknown values zero, the cell models' specify
        # blocks and initial non-blocking assignments accepted
        from ..cosim.gatelevel import GATE_ARGS
        x_args = GATE_ARGS
    args = ["-O3", *x_args, *_LINT_ARGS, "-CFLAGS", " ".join(defines)]
    make_flags = ["OPT_FAST=-O3"]
    if trace:
        args.append("--trace")
    harness = harness_source()
    flags = {"recipe": _RECIPE, "name": name, "args": args, "make": make_flags,
             **({"gate": gate} if gate else {}), **_tool_versions()}
    h = hashlib.sha256()
    for part in (json.dumps(flags, sort_keys=True), harness, text):
        h.update(part.encode())
        h.update(b"\0")
    key = h.hexdigest()[:24]

    cache = Path(cache_dir).expanduser().resolve() if cache_dir is not None else cache_root()
    root = cache / "simboard"
    final = root / f"{name}-{key}"
    binary = final / _BINARY
    if binary.exists():
        return binary
    with locked(root / f"{name}-{key}.lock"):
        if binary.exists():            # built by another process while we waited
            return binary
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-{key}.", dir=root))
        try:
            (tmp / f"{name}.v").write_text(text)
            (tmp / "simboard.cpp").write_text(harness)
            t0 = time.perf_counter()
            try:
                log = verilate(tmp, [f"{name}.v", "simboard.cpp"], top=name, binary=_BINARY,
                               args=args, make_flags=make_flags, jobs=jobs,
                               objcache=cache / "verilator" / "objcache", verbose=verbose)
            except ToolNotFound as exc:
                raise SimBoardError(f"building a simulated board: {exc}") from None
            except ToolError as exc:
                (tmp / "build.log").write_text(exc.log)
                raise SimBoardError(f"Verilator build of the simulated board {name!r} failed: "
                                    f"{exc}") from None
            build_s = time.perf_counter() - t0
            (tmp / "build.log").write_text(log)
            (tmp / "neurofab-build.json").write_text(json.dumps(
                {"name": name, "key": key, "trace": trace, "build_s": round(build_s, 3),
                 **({"synth_s": netlist.synth_s, "synth_cached": netlist.cached,
                     "cells": netlist.cells} if netlist else {}),
                 **flags}, indent=1))
            shutil.rmtree(tmp / "obj", ignore_errors=True)
            tmp.chmod(0o755)
            try:
                os.replace(tmp, final)
            except OSError:
                if not binary.exists():    # a stale half-entry: replace it
                    shutil.rmtree(final, ignore_errors=True)
                    os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return binary


def build_info(binary):
    """The build record (``neurofab-build.json``) next to a binary from :func:`build_simboard`."""
    return json.loads((Path(binary).parent / "neurofab-build.json").read_text())


# --- run -------------------------------------------------------------------------------------
def _parse_stats(text):
    stats = {}
    for line in text.splitlines():
        if line.startswith("simboard: stats "):
            for item in line.split()[2:]:
                k, _, v = item.partition("=")
                stats[k] = float(v) if "." in v else int(v)
    return stats


class SimBoardProcess:
    """A running simulated board (context manager).

    ``SimBoardProcess(binary, divisor, port=0)`` starts ``binary`` (from
    :func:`build_simboard`) and waits for its ``tcp://127.0.0.1:PORT`` line; ``.url`` and
    ``.port`` tell where to connect. :meth:`close` (also on leaving the ``with`` block) stops it
    with SIGTERM, then SIGKILL. ``max_cycles`` makes the board stop by itself after that many
    clocks (:meth:`wait`); ``stats`` makes it report its speed (:attr:`stats` after exit).
    ``client_timeout`` (seconds, default ``spec.SIMBOARD_CLIENT_TIMEOUT``; 0: never): a
    client that sends nothing for that long is disconnected.
    """

    def __init__(self, binary, divisor, port=0, *, max_cycles=None, stats=False, vcd=None,
                 idle_cycles=None, client_timeout=None, start_timeout=30.0, extra_args=()):
        if not isinstance(divisor, int) or divisor < 2:
            raise ValueError(f"divisor must be an integer >= 2, not {divisor!r}")
        self.binary = Path(binary)
        self.divisor = divisor
        args = [str(self.binary), "--divisor", str(divisor), "--port", str(int(port))]
        if max_cycles is not None:
            args += ["--max-cycles", str(int(max_cycles))]
        if idle_cycles is not None:
            args += ["--idle-cycles", str(int(idle_cycles))]
        if client_timeout is not None:
            args += ["--client-timeout", str(check_int("client_timeout", client_timeout, 0,
                                                        10 ** 9))]
        if stats:
            args.append("--stats")
        if vcd is not None:
            args += ["--vcd", str(vcd)]
        args += list(extra_args)
        self.args = args
        self.url = None
        self.port = None
        self.returncode = None
        self._stderr_text = None
        self._stderr = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=self._stderr)
        except OSError as exc:
            self._stderr.close()
            raise SimBoardError(f"cannot start the simulated board {binary}: {exc}") from None
        try:
            self._await_url(start_timeout)
        except BaseException:
            self.close()
            raise

    def _await_url(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SimBoardError(f"the simulated board did not announce its port within "
                                        f"{timeout:g} s{self._stderr_note()}")
                if sel.select(left):
                    chunk = os.read(self._proc.stdout.fileno(), 4096)
                    if not chunk:
                        rc = self._proc.wait()
                        raise SimBoardError(f"the simulated board exited (code {rc}) before "
                                            f"listening{self._stderr_note()}")
                    buf += chunk
        line = buf.split(b"\n", 1)[0].decode(errors="replace").strip()
        m = re.fullmatch(r"tcp://127\.0\.0\.1:(\d+)", line)
        if not m:
            raise SimBoardError(f"the simulated board announced {line!r}, not "
                                f"tcp://127.0.0.1:PORT{self._stderr_note()}")
        self.url, self.port = line, int(m.group(1))

    def _stderr_note(self):
        text = self.stderr_text()
        return f"; its stderr:\n{_tail(text)}" if text.strip() else ""

    @property
    def pid(self):
        return self._proc.pid

    def running(self):
        return self._proc.poll() is None

    def stderr_text(self):
        """What the board wrote on stderr so far (all of it once it has exited)."""
        if self._stderr_text is not None:
            return self._stderr_text
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace")
        if self._proc.poll() is not None:
            self._stderr_text = text
        return text

    @property
    def stats(self):
        """The ``--stats`` figures (``cycles``, ``cycles_per_second``, ...) once exited."""
        return _parse_stats(self.stderr_text()) if self.returncode is not None else {}

    def _finish(self, rc):
        self.returncode = rc
        if self._proc.stdout:
            self._proc.stdout.close()
        self.stderr_text()
        self._stderr.close()

    def wait(self, timeout=None):
        """Wait until the board exits by itself (``max_cycles``); return its exit code."""
        if self.returncode is None:
            try:
                rc = self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                raise SimBoardError(f"the simulated board still runs after {timeout:g} s") \
                    from None
            self._finish(rc)
        return self.returncode

    def close(self, timeout=5.0):
        """Stop the board (SIGTERM, then SIGKILL after ``timeout``); return its exit code."""
        if self.returncode is not None:
            return self.returncode
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._finish(self._proc.returncode)
        return self.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        with contextlib.suppress(Exception):
            if self.returncode is None:
                self.close()

    def __repr__(self):
        return f"SimBoardProcess({self.url or self.binary}, divisor={self.divisor})"


def _board_top(board, divisor, kernel=None, learning=False, cores=None, encoder=None):
    """``(component, divisor)`` for a board name (with the neuron ``kernel``, a learning
    core with ``learning``, a fabric of ``cores`` cores, a spike ``encoder``) or
    component."""
    if not isinstance(board, str):
        if divisor is None:
            raise ValueError("a simulated board from a component needs its UART divisor "
                             "(clocks per bit)")
        return board, divisor
    from ..checks import check_bool
    learning = check_bool("learning", learning)
    if board == "loopback":
        if learning or cores not in (None, 1) or encoder is not None:
            raise ValueError("the simulated board 'loopback' (a UART echo) has no core, "
                             "so no learning core, fabric or encoder")
        d = DEFAULT_DIVISOR if divisor is None else divisor
        return UartEcho(d), d
    from .. import boards
    try:
        boards.get_board(board)             # unknown name: the registry's error lists them
    except KeyError as exc:
        raise ValueError(f"{exc.args[0] if exc.args else exc} (or 'loopback', the simulated "
                         f"UART echo)") from None
    # Contract with the board tops: ``sim_top(name, kernel=None, learning=False,
    # cores=None, encoder=None) ->
    # (component, clocks per UART bit)``, the board's top level without PLL/IO buffers
    # (clocked by the harness), UART on ``rx``/``tx`` ports.
    hook = getattr(boards, "sim_top", None)
    if hook is None:
        raise ValueError(f"no simulated top level for board {board!r} yet "
                         f"(neurofab.boards provides no sim_top); board 'loopback', "
                         f"a UART echo, is always there")
    extra = {}
    if cores not in (None, 1):
        extra["cores"] = cores
    if encoder is not None:
        extra["encoder"] = encoder
    top, d = hook(board, kernel=kernel, learning=learning, **extra)
    return top, d if divisor is None else divisor


def start_simulated_board(board, *, divisor=None, port=0, trace=False, kernel=None,
                          learning=False, cores=None, encoder=None, gate=None, **kwargs):
    """Build (cached) and start a simulated board; returns a running :class:`SimBoardProcess`.

    ``board`` is a board name — ``"loopback"`` (:class:`UartEcho`), or any board whose
    registry entry provides a simulation top (``neurofab.boards.sim_top(name)`` returning
    ``(component, divisor)``) — or an Amaranth component with ``rx``/``tx`` ports, in which
    case ``divisor`` (clocks per UART bit) is required. ``kernel`` names the neuron kernel
    of a board's cores (default CUBA-LIF), ``learning`` makes them learning cores (a board
    that cannot host one refuses, ``Board.for_learning``), ``cores`` a fabric of that many
    cores (``Board.for_fabric``), ``encoder`` a spike encoder in front of the core
    (``"rate"`` …). ``gate`` (``"ice40"`` or ``"ecp5"``) simulates the top's netlist
    synthesised for that FPGA family instead of its RTL (:func:`build_simboard`). Close it
    when done.
    """
    gate = check_gate(gate)
    top, divisor = _board_top(board, divisor, kernel, learning, cores, encoder)
    binary = build_simboard(top, trace=trace, gate=gate)
    return SimBoardProcess(binary, divisor, port, **kwargs)


def serve(top, divisor=None, port=0, *, trace=False, vcd=None, stats=False, out=None,
          kernel=None, learning=False, cores=None, encoder=None, gate=None):
    """Serve a simulated board until SIGTERM/SIGINT (the ``neurofab sim-board`` verb).

    ``top`` is a board name (whose cores run ``kernel``, default CUBA-LIF, and learn with
    ``learning``) or a component (see :func:`start_simulated_board`); ``gate`` a family:
    its gate-level netlist (:func:`build_simboard`). Prints the
    board's ``tcp://127.0.0.1:PORT`` line on ``out`` (stdout) and its stderr passes through.
    Returns the exit code (0 after a clean stop).
    """
    out = sys.stdout if out is None else out
    gate = check_gate(gate)
    top, divisor = _board_top(top, divisor, kernel, learning, cores, encoder)
    print(f"building the simulated board ({f'Yosys {gate} synthesis, ' if gate else ''}"
          f"Verilator; cached after the first time) ...", file=sys.stderr, flush=True)
    binary = build_simboard(top, trace=trace or vcd is not None, gate=gate)
    args = [str(binary), "--divisor", str(divisor), "--port", str(int(port))]
    if stats:
        args.append("--stats")
    if vcd is not None:
        args += ["--vcd", str(vcd)]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)

    def forward(signum, frame):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)
    old = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            old[sig] = signal.signal(sig, forward)
    try:
        for line in proc.stdout:
            print(line.decode(errors="replace").rstrip("\n"), file=out, flush=True)
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for sig, handler in old.items():
            signal.signal(sig, handler)


# --- speed -----------------------------------------------------------------------------------
def measure_cycles_per_second(top=None, *, divisor=4, cycles=20_000_000, traffic=True,
                              ballast=32, details=False):
    """Simulated clock cycles per wall-clock second of a simulated board.

    Runs the board for ``cycles`` clocks (``--max-cycles``, ``--stats``) while, with
    ``traffic``, a client keeps the UART busy in both directions. The default design is
    :class:`UartEcho` with ``ballast`` busy lanes (32 lanes: about 4.3 k iCE40 cells,
    2.3 k LUT4 + 1.6 k flip-flops). Returns the wall-clock figure, or with ``details`` the
    harness's whole stats dict (``cycles_per_second`` wall clock, ``cycles_per_cpu_second``
    per second of the simulator's own CPU time, which other load on the machine does not
    dilute, ...) plus ``build_s``.
    """
    if top is None:
        top = UartEcho(divisor, ballast=ballast)
    t0 = time.perf_counter()
    binary = build_simboard(top)
    build_s = time.perf_counter() - t0
    with SimBoardProcess(binary, divisor, max_cycles=cycles, stats=True) as board:
        stop = threading.Event()

        def pump():
            try:
                with socket.create_connection(("127.0.0.1", board.port), timeout=5) as s:
                    s.settimeout(0.05)
                    block = os.urandom(4096)
                    while not stop.is_set():
                        with contextlib.suppress(socket.timeout, BlockingIOError):
                            s.send(block)
                        with contextlib.suppress(socket.timeout):
                            if not s.recv(65536):
                                return
            except OSError:
                return
        th = threading.Thread(target=pump, daemon=True) if traffic else None
        if th:
            th.start()
        board.wait(timeout=max(60.0, cycles / 2e5))
        stop.set()
        if th:
            th.join(5)
    stats = board.stats
    if "cycles_per_second" not in stats:
        raise SimBoardError(f"the simulated board reported no stats:\n{board.stderr_text()}")
    if details:
        return {**stats, "build_s": round(build_s, 3)}
    return stats["cycles_per_second"]


# --- a tiny board top: UART echo -------------------------------------------------------------
class UartEcho(wiring.Component):
    """UART echo with plain counters: 8N1 in on ``rx``, the same bytes out on ``tx``.

    Receiver: two-flop synchroniser, start bit checked mid-bit, data sampled mid-bit, a byte
    with a low stop bit dropped. A ``depth``-byte FIFO sits between receiver and transmitter.
    With ``ballast > 0``, that many busy lanes (32-bit Galois LFSR feeding a 16-bit
    accumulator) are XOR-reduced onto the extra output ``busy`` so no tool can prune them: a
    stand-in for a design of a few thousand cells when measuring simulation speed.
    """

    def __init__(self, divisor, *, depth=16, ballast=0):
        for what, value, low in (("divisor", divisor, 2), ("depth", depth, 2),
                                 ("ballast", ballast, 0)):
            if not isinstance(value, int) or value < low:
                # never elaborated: silence Amaranth's "created but never used" warning
                self._MustUse__silence = True
                raise ValueError(f"{what} must be an integer >= {low}, not {value!r}")
        self.divisor = divisor
        self.depth = depth
        self.ballast = ballast
        ports = {"rx": In(1, init=1), "tx": Out(1, init=1)}
        if ballast:
            ports["busy"] = Out(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        m.submodules.fifo = q = fifo.SyncFIFOBuffered(width=8, depth=self.depth)

        # receiver
        rx = Signal(init=1)
        m.submodules.rx_sync = cdc.FFSynchronizer(self.rx, rx, init=1)
        r_cnt = Signal(range(d))
        r_bit = Signal(range(10))
        r_shift = Signal(8)
        m.d.comb += [q.w_data.eq(r_shift), q.w_en.eq(0)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += [r_cnt.eq(d // 2 - 1), r_bit.eq(0)]
                    m.next = "BUSY"
            with m.State("BUSY"):
                with m.If(r_cnt != 0):
                    m.d.sync += r_cnt.eq(r_cnt - 1)
                with m.Else():
                    m.d.sync += [r_cnt.eq(d - 1), r_bit.eq(r_bit + 1)]
                    with m.If(r_bit == 0):
                        with m.If(rx):                  # a glitch, not a start bit
                            m.next = "IDLE"
                    with m.Elif(r_bit <= 8):
                        m.d.sync += r_shift.eq(Cat(r_shift[1:], rx))
                    with m.Else():                      # stop bit
                        m.d.comb += q.w_en.eq(rx)       # framing error: drop the byte
                        m.next = "IDLE"

        # transmitter
        t_cnt = Signal(range(d))
        t_bits = Signal(range(11))
        t_shift = Signal(10, init=0x3FF)
        bit_done = t_cnt == 0
        m.d.comb += [self.tx.eq(t_shift[0]), q.r_en.eq(0)]
        # The next frame starts right as the stop bit ends: back to back at exactly 10 bit
        # times per byte, the rate the receiver accepts them (an idle cycle between frames
        # would make a full-rate echo fall behind and overflow the FIFO).
        with m.If((t_bits == 0) | ((t_bits == 1) & bit_done)):
            with m.If(q.r_rdy):
                m.d.comb += q.r_en.eq(1)
                m.d.sync += [t_shift.eq(Cat(C(0, 1), q.r_data, C(1, 1))),
                             t_bits.eq(10), t_cnt.eq(d - 1)]
            with m.Elif(t_bits == 1):
                m.d.sync += [t_shift.eq(Cat(t_shift[1:], C(1, 1))), t_bits.eq(0)]
        with m.Elif(~bit_done):
            m.d.sync += t_cnt.eq(t_cnt - 1)
        with m.Else():
            m.d.sync += [t_shift.eq(Cat(t_shift[1:], C(1, 1))), t_bits.eq(t_bits - 1),
                         t_cnt.eq(d - 1)]

        # ballast
        if self.ballast:
            taps = 0x80200003       # x^32 + x^22 + x^2 + x + 1, maximal length
            folded = None
            for i in range(self.ballast):
                lfsr = Signal(32, init=((0x9E3779B9 * (i + 1)) & 0xFFFFFFFF) or 1)
                acc = Signal(16)
                m.d.sync += [lfsr.eq(Mux(lfsr[0], (lfsr >> 1) ^ taps, lfsr >> 1)),
                             acc.eq(acc + (lfsr[:16] ^ lfsr[16:]) + i)]
                if folded is None:
                    folded = acc
                else:
                    nxt = Signal(16)
                    m.d.comb += nxt.eq(folded ^ acc)
                    folded = nxt
            m.d.sync += self.busy.eq(folded.xor())
        return m
