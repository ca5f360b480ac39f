"""Bitstream builds with resource and timing reports, cached; programming a board.

``build(board, top_factory, out_dir=...)`` elaborates a top level inside the board's
platform, runs the open toolchain from PyPI (YoWASP Yosys and nextpnr, icepack / ecppack /
gowin_pack) step by step, and turns nextpnr's ``--report`` JSON (plus Yosys' cell
statistics) into a ``BuildReport``: LUT/FF/BRAM/SPRAM/DSP used and available, fmax of every
clock against its constraint, and the core's neurons, synapses and synaptic operations per
second at fmax. Timing that is not met is an error (``TimingError``), never a warning.

Builds are cached: the key is a hash of the generated design files (RTLIL, constraints,
scripts; source-location attributes left out so a moved line does not rebuild), the board
and the versions of the tools. A build whose key has been built before in ``out_dir``
returns the stored report and bitstream at once.

No programmer is needed to build: the platform's build script is not run through
``Platform.build`` (which checks for ``openFPGALoader``/``iceprog`` on some boards); each
tool command is run directly with the YoWASP tool resolved from the environment. Only
``program()`` needs a programmer.
"""

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from amaranth._toolchain import tool_env_var

from .. import toolchain
from ..toolchain import YOWASP_TOOLS, yosys_cells     # YOWASP_TOOLS: re-exported
from .clocks import MHZ
from .registry import Board, get_board

__all__ = [
    "BuildError", "PlacementError", "TimingError", "ResourceError", "SpramNotInferred", "ToolNotFound",
    "ProgrammerNotFound",
    "Resource", "ClockReport", "BuildReport",
    "build", "program", "tool_environment", "tool_versions",
]

#: Bump when the report format or the way designs are built changes (invalidates caches).
BUILD_FORMAT = 1

#: Tools (Amaranth names) each family's flow runs.
FAMILY_TOOLS = {
    "ice40": ("yosys", "nextpnr-ice40", "icepack"),
    "ecp5": ("yosys", "nextpnr-ecp5", "ecppack"),
    "gowin": ("yosys", "nextpnr-himbaechel", "gowin_pack"),
}

#: Yosys synthesis options per family: iCE40UP5K has SPRAM and SB_MAC16 DSPs that
#: ``synth_ice40`` only uses when asked.
SYNTH_OPTS = {
    "ice40": "-spram -dsp",
    "ecp5": "",
    "gowin": "",
}

#: nextpnr utilisation keys → report resource names, per family.
_NEXTPNR_RESOURCES = {
    "ice40": {"lc": ("ICESTORM_LC",), "bram": ("ICESTORM_RAM",),
              "spram": ("ICESTORM_SPRAM",), "dsp": ("ICESTORM_DSP",)},
    "ecp5": {"lut": ("TRELLIS_COMB",), "ff": ("TRELLIS_FF",), "bram": ("DP16KD",),
             "dsp": ("MULT18X18D",), "lutram": ("TRELLIS_RAMW",)},
    "gowin": {"lut": ("LUT4", "ALU"), "ff": ("DFF",), "bram": ("BSRAM",),
              "dsp": ("MULT18X18",), "lutram": ("RAM16SDP4",)},
}

#: Memories of the core that live in SPRAM on boards with ``syn_memory == "spram"``.
#: SPRAM has no power-up initialisation, so an all-zero init of these memories is dropped
#: from the netlist (Amaranth always emits one) — the core never reads a synapse that no
#: row pointer reaches, and row pointers power up zero.
SPRAM_MEMORIES = ("syn_mem",)


# --- errors ----------------------------------------------------------------------------
class BuildError(RuntimeError):
    """A toolchain step failed; ``log`` is the path of the step's log."""

    def __init__(self, message, log=None):
        super().__init__(message)
        self.log = log


class PlacementError(BuildError):
    """The placer found no legal placement on a nearly full device; another placer seed
    may (``build`` tries the board's ``placer_seeds`` in turn)."""


class TimingError(BuildError):
    """A clock's fmax is below its constraint."""

    def __init__(self, message, *, clock, achieved, target, log=None, report=None):
        super().__init__(message, log)
        self.clock = clock
        self.achieved = achieved          # Hz
        self.target = target              # Hz
        self.report = report


class ResourceError(BuildError):
    """The design needs more of a resource than the device has."""


class SpramNotInferred(ResourceError):
    """The synapse memory was meant for SPRAM but synthesis put it in block RAM, which
    does not have room for it."""


class ToolNotFound(BuildError, toolchain.ToolNotFound):
    """A toolchain executable is not installed (a :class:`BuildError` and a
    :class:`neurofab.toolchain.ToolNotFound`)."""


class ProgrammerNotFound(RuntimeError):
    """No programming tool for the board on ``PATH``."""


# --- report ----------------------------------------------------------------------------
@dataclass
class Resource:
    used: int
    available: int

    @property
    def fraction(self):
        return self.used / self.available if self.available else 0.0


@dataclass
class ClockReport:
    name: str
    achieved: float       # Hz
    target: float         # Hz

    @property
    def met(self):
        return self.achieved >= self.target

    @property
    def slack_ns(self):
        return 1e9 / self.target - 1e9 / self.achieved


@dataclass
class BuildReport:
    """What one build produced.

    Attributes
    ----------
    board, device : str
    bitstream : Path
        The bitstream file.
    build_dir : Path
        Directory of the toolchain run (logs: ``*.rpt`` Yosys, ``*.tim`` nextpnr).
    key : str
        Cache key (hex).
    cached : bool
        The build was reused, not run.
    seconds : float
        Wall time of the toolchain run that produced the bitstream (of the original run
        for a cached report); ``seconds_this_call`` is the time this call took.
    resources : dict of str → Resource
        ``lut``, ``ff``, ``bram``, ``spram``, ``dsp`` (and family-specific extras: ``lc``
        packed logic cells on iCE40, ``lutram``).
    clocks : dict of str → ClockReport
        Every constrained clock.
    core_clock : str
        Name of the core (``sync``) clock among ``clocks``.
    f_target, fmax : float
        Target and achieved frequency of the core clock, Hz.
    n_neurons, n_inputs, syn_capacity : int or None
        Geometry of the core in the design (``None`` if the top has none).
    tools : dict
        Tool package versions.
    critical_path : list of str
        The core clock's critical path (cell names and delays), for diagnosis.
    nextpnr_seed : int or None
        Placer seed of this bitstream (``None``: nextpnr's default).
    """
    board: str
    device: str
    bitstream: Path
    build_dir: Path
    key: str
    cached: bool
    seconds: float
    resources: dict
    clocks: dict
    core_clock: str
    f_target: float
    fmax: float
    n_neurons: int = None
    n_inputs: int = None
    syn_capacity: int = None
    tools: dict = field(default_factory=dict)
    critical_path: list = field(default_factory=list)
    nextpnr_seed: int = None
    seconds_this_call: float = 0.0

    @property
    def synaptic_ops_per_s(self):
        """Synaptic events per second at fmax (the integrate phase takes one per clock)."""
        return self.fmax

    @property
    def timing_met(self):
        return all(c.met for c in self.clocks.values())

    def to_dict(self):
        d = asdict(self)
        d["bitstream"] = str(self.bitstream)
        d["build_dir"] = str(self.build_dir)
        d["synaptic_ops_per_s"] = self.synaptic_ops_per_s
        return d

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        d.pop("synaptic_ops_per_s", None)
        d["bitstream"] = Path(d["bitstream"])
        d["build_dir"] = Path(d["build_dir"])
        d["resources"] = {k: Resource(**v) for k, v in d["resources"].items()}
        d["clocks"] = {k: ClockReport(**v) for k, v in d["clocks"].items()}
        return cls(**d)

    def summary(self):
        """A short human-readable table."""
        lines = [f"{self.board} ({self.device})" + ("  [cached]" if self.cached else "")]
        for name in ("lut", "ff", "lc", "bram", "spram", "dsp", "lutram"):
            r = self.resources.get(name)
            if r is not None:
                lines.append(f"  {name:<7} {r.used:>7} / {r.available:<7} "
                             f"{r.fraction:6.1%}")
        for c in self.clocks.values():
            lines.append(f"  clock {c.name}: fmax {c.achieved / MHZ:.2f} MHz, target "
                         f"{c.target / MHZ:.2f} MHz ({'met' if c.met else 'FAILED'})")
        if self.n_neurons is not None:
            lines.append(f"  core: {self.n_neurons} neurons, {self.n_inputs} inputs, "
                         f"{self.syn_capacity} synapses, "
                         f"{self.synaptic_ops_per_s / 1e6:.1f} M synaptic ops/s at fmax")
        lines.append(f"  bitstream: {self.bitstream}")
        return "\n".join(lines)


# --- tools -----------------------------------------------------------------------------
def tool_environment(family):
    """Environment variables (``YOSYS=…`` etc.) that point Amaranth's flow for ``family``
    at the YoWASP tools (:func:`neurofab.toolchain.tool_environment`). A variable already
    set in the environment wins.

    Raises
    ------
    ToolNotFound
        A tool is missing; the message names the PyPI package to install.
    """
    try:
        return toolchain.tool_environment(FAMILY_TOOLS[family], f"the {family} flow")
    except toolchain.ToolNotFound as exc:
        raise ToolNotFound(str(exc)) from None


def tool_versions(family):
    """Versions of the packages that make up ``family``'s toolchain."""
    packages = {"amaranth", "amaranth-boards"}
    packages.update(YOWASP_TOOLS[t][1] for t in FAMILY_TOOLS[family])
    return toolchain.package_versions(packages)


# --- build -----------------------------------------------------------------------------
_SRC_ATTR = re.compile(rb"^\s*attribute \\src [^\n]*\n", re.M)


def _cache_key(plan, board, name, versions):
    h = hashlib.sha256()
    h.update(f"neurofab-build/{BUILD_FORMAT}/{board.name}/{name}\n".encode())
    h.update(json.dumps(versions, sort_keys=True).encode())
    for filename in sorted(plan.files):
        if filename.endswith(".debug.v"):
            continue                           # derived from the RTLIL, carries src paths
        content = plan.files[filename]
        if isinstance(content, str):
            content = content.encode()
        if filename.endswith(".il"):
            content = _SRC_ATTR.sub(b"", content)
        h.update(filename.encode() + b"\0" + content + b"\0")
    return h.hexdigest()


_MEMINIT = re.compile(
    r"(?:^  attribute [^\n]*\n)*^  cell \$meminit_v2 [^\n]*\n(?:^    [^\n]*\n)*?^  end\n",
    re.M)


def drop_zero_init(rtlil, memories):
    """Remove all-zero ``$meminit_v2`` cells of the named memories; returns (text, names
    dropped, names kept because their init is not zero)."""
    dropped, kept = [], []

    def repl(match):
        cell = match.group(0)
        memid = re.search(r'parameter \\MEMID "\\\\([^"]*)"', cell)
        if memid is None or memid.group(1) not in memories:
            return cell
        data = re.search(r"connect \\DATA \d+'([01xz]+)", cell)
        if data is None or set(data.group(1)) - {"0"}:
            kept.append(memid.group(1))
            return cell
        dropped.append(memid.group(1))
        return ""

    return _MEMINIT.sub(repl, rtlil), dropped, kept


def _parse_fmax_log(text):
    """``{clock: (achieved_mhz, target_mhz)}`` from nextpnr's log (last report wins)."""
    clocks = {}
    for m in re.finditer(r"Max frequency for clock +'([^']+)': ([\d.]+) MHz "
                         r"\((?:PASS|FAIL) at ([\d.]+) MHz\)", text):
        clocks[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    return clocks


def _resources(board, util, cells):
    res = {}
    for name, keys in _NEXTPNR_RESOURCES[board.family].items():
        present = [k for k in keys if k in util]
        if present:
            res[name] = Resource(sum(util[k]["used"] for k in present),
                                 util[present[0]]["available"])
    if board.family == "ice40":
        # nextpnr-ice40 counts packed logic cells (LUT+FF); Yosys counts LUTs and FFs.
        res["lut"] = Resource(cells.get("SB_LUT4", 0), board.lut_total)
        res["ff"] = Resource(sum(v for k, v in cells.items() if k.startswith("SB_DFF")),
                             board.ff_total)
    res.setdefault("spram", Resource(0, board.spram_count))
    res.setdefault("dsp", Resource(0, board.dsp_total))
    return res


def _core_clock_name(clocks):
    for name in clocks:
        if re.search(r"(^|[.$])(cd_)?sync(\.clk|_clk)?$", name) or "cd_sync" in name:
            return name
    return next(iter(clocks), None)


def _critical_path(report, clock):
    out = []
    for cp in report.get("critical_paths", []):
        if clock is not None and clock not in (cp.get("from", "") + cp.get("to", "")):
            continue
        for step in cp.get("path", []):
            cell = step.get("to", {}).get("cell", "?")
            out.append(f"{step.get('type', '?')} {step.get('delay', 0):.2f} ns {cell}")
        break
    return out


def build(board, top_factory, *, out_dir, progress=None, name="top", f_core=None,
          nextpnr_seed=None, cache=True):
    """Build a bitstream of ``top_factory(board)`` for ``board``.

    Parameters
    ----------
    board : Board or str
    top_factory : callable
        ``top_factory(board) -> Elaboratable``: the top level, which creates the ``sync``
        domain itself (``ClockGen``) and requests its pins from the platform.
    out_dir : path
        Where builds are kept; each design gets ``<out_dir>/<board>-<key>/``.
    progress : callable, optional
        ``progress(done, total, label)`` before each step and once at the end
        (``done == total``).
    f_core : float, optional
        Build for another core clock, Hz (default ``board.f_core``): the PLL is re-planned
        for it (nearest setting within 2 %) and the top gets the modified ``Board``.
    nextpnr_seed : int, optional
        Placer seed. By default the build tries the board's ``placer_seeds`` in turn
        (nextpnr's default, 1, 2 unless the registry says otherwise) until every clock
        meets its constraint: placement of a nearly full device decides which of several
        paths is critical, and the spread between seeds is several percent; on a device
        this full a seed may also find no legal placement at all (``PlacementError``),
        and the next seed is tried. The report names the seed that met timing.
    cache : bool
        Reuse an earlier build with the same key.

    Returns
    -------
    BuildReport

    Raises
    ------
    TimingError
        A clock missed its constraint with every seed tried (nextpnr runs without
        ``--timing-allow-fail``); ``achieved`` is the best of them.
    ResourceError
        The design does not fit the device.
    BuildError
        Any other toolchain failure (the message names the step and its log).
    ToolNotFound
        A toolchain package is missing.
    """
    seeds = get_board(board).placer_seeds if nextpnr_seed is None else (nextpnr_seed,)
    failures = []
    for seed in seeds:
        try:
            return _build(board, top_factory, out_dir=out_dir, progress=progress, name=name,
                          f_core=f_core, nextpnr_seed=seed, cache=cache)
        except (TimingError, PlacementError) as exc:
            failures.append((seed, exc))
    timed = [(seed, e) for seed, e in failures if isinstance(e, TimingError)]
    if len(failures) == 1 or not timed:
        if len(failures) > 1:
            raise PlacementError(f"{get_board(board).name}: no legal placement with any "
                                 f"placer seed tried ({len(failures)} seeds; see "
                                 f"{failures[-1][1].log})", log=failures[-1][1].log)
        raise failures[0][1]
    failures = timed
    best = max((e for _, e in failures), key=lambda e: e.achieved / e.target)
    tried = ", ".join(f"{'default' if seed is None else seed}: {e.achieved / MHZ:.2f}"
                      for seed, e in failures)
    raise TimingError(
        f"{get_board(board).name}: timing not met for clock '{best.clock}': fmax "
        f"{best.achieved / MHZ:.2f} MHz < target {best.target / MHZ:.2f} MHz with every "
        f"placer seed tried (fmax MHz per seed: {tried}; see {best.log})",
        clock=best.clock, achieved=best.achieved, target=best.target, log=best.log,
        report=best.report)


def _build(board, top_factory, *, out_dir, progress, name, f_core, nextpnr_seed, cache):
    t_call = time.monotonic()
    board = get_board(board)
    out_dir = Path(out_dir)
    steps_total = 5

    def step(done, label):
        if progress is not None:
            progress(done, steps_total, label)

    env_tools = tool_environment(board.family)
    versions = tool_versions(board.family)

    step(0, "elaborate")
    if f_core is not None:
        # another core clock: re-plan the PLL (within 2 %) so every constraint agrees
        board = dataclasses.replace(board, f_core=float(f_core), pll_tolerance=0.02)
    top = top_factory(board)
    # the board as the top hosts it (a fabric, an encoder or a kernel may run at a clock
    # of its own, Board.for_cores ...): the constraint is the clock its PLL makes
    hosted = getattr(top, "board", None)
    if isinstance(hosted, Board) and hosted.name == board.name:
        board = hosted
    f_target = board.pll.f_out
    platform = board.make_platform()
    nextpnr_opts = ["--report", "report.json", "--freq", f"{f_target / MHZ:.6g}"]
    if nextpnr_seed is not None:
        nextpnr_opts += ["--seed", str(int(nextpnr_seed))]
    overrides = {
        "nextpnr_opts": " ".join(nextpnr_opts),
        "script_after_synth": f"tee -q -o {name}.stat.json stat -json",
    }
    if SYNTH_OPTS[board.family]:
        overrides["synth_opts"] = SYNTH_OPTS[board.family]
    plan = platform.prepare(top, name=name, **overrides)
    notes = []
    if board.syn_memory == "spram":
        il = f"{name}.il"
        text, dropped, kept = drop_zero_init(plan.files[il], SPRAM_MEMORIES)
        plan.files[il] = text
        if kept:
            notes.append(f"memories {kept} have a non-zero init and can't go to SPRAM")

    key = _cache_key(plan, board, name, versions)
    build_dir = out_dir / f"{board.name}-{key[:16]}"
    report_path = build_dir / "neurofab-report.json"
    if cache and report_path.is_file():
        try:
            rep = BuildReport.from_dict(json.loads(report_path.read_text()))
        except (ValueError, TypeError, KeyError):
            rep = None
        if rep is not None and rep.key == key and rep.bitstream.is_file() and \
                rep.bitstream.stat().st_size > 0:
            rep.cached = True
            rep.seconds_this_call = time.monotonic() - t_call
            step(steps_total, "cached")
            return rep

    error_path = build_dir / "neurofab-error.json"
    if cache and error_path.is_file():
        _reraise_cached_error(board, error_path)

    if build_dir.exists():
        shutil.rmtree(build_dir)
    plan.extract(build_dir)
    try:
        return _run(board, plan, build_dir, name, key, versions, top, f_target, env_tools,
                    step, steps_total, t_call, report_path, nextpnr_seed)
    except (TimingError, ResourceError) as e:
        # an unchanged design fails the same way: remember it
        error_path.write_text(json.dumps({
            "type": type(e).__name__, "message": str(e),
            "clock": getattr(e, "clock", None), "achieved": getattr(e, "achieved", None),
            "target": getattr(e, "target", None),
            "log": None if e.log is None else str(e.log)}))
        raise


def _reraise_cached_error(board, path):
    try:
        d = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return
    cls = {"TimingError": TimingError, "ResourceError": ResourceError,
           "SpramNotInferred": SpramNotInferred}.get(d.get("type"))
    if cls is None:
        return
    msg = d["message"] + " [cached result of an identical build]"
    if cls is TimingError:
        raise TimingError(msg, clock=d["clock"], achieved=d["achieved"], target=d["target"],
                          log=d["log"])
    raise cls(msg, log=d["log"])


def _run(board, plan, build_dir, name, key, versions, top, f_target, env_tools, step,
         steps_total, t_call, report_path, nextpnr_seed):
    commands = json.loads(plan.files[f"build_{name}.json"])["commands"]
    env = dict(os.environ)
    # the tools are programs, not our code: a warnings-as-errors policy set for our test
    # suite must not stop them (Apycula's gowin_pack uses deprecated importlib calls)
    env.pop("PYTHONWARNINGS", None)
    env.update(env_tools)
    labels = ["synthesis (yosys)", "place and route (nextpnr)", "bitstream (pack)"]
    t_build = time.monotonic()
    for i, argv in enumerate(commands):
        label = labels[i] if i < len(labels) else argv[0]
        step(1 + i, label)
        exe = env.get(tool_env_var(argv[0]), argv[0])
        log = build_dir / f"{name}.step{i}-{argv[0]}.log"
        with open(log, "wb") as f:
            rc = subprocess.call([exe, *argv[1:]], cwd=build_dir, env=env, stdout=f,
                                 stderr=subprocess.STDOUT)
        if rc != 0:
            _raise_step_failure(board, build_dir, name, argv[0], rc, log, f_target)
        if i == 0 and board.syn_memory == "spram":
            _check_spram(board, yosys_cells(build_dir / f"{name}.stat.json"), build_dir)
    seconds = time.monotonic() - t_build

    step(4, "report")
    rep = _make_report(board, build_dir, name, key, seconds, versions, top, f_target)
    rep.nextpnr_seed = nextpnr_seed
    if not rep.timing_met:                     # belt and braces: nextpnr should have failed
        _raise_timing(board, rep.clocks, build_dir / f"{name}.tim", rep)
    report_path.write_text(json.dumps(rep.to_dict(), indent=1))
    rep.seconds_this_call = time.monotonic() - t_call
    step(steps_total, "done")
    return rep


def _make_report(board, build_dir, name, key, seconds, versions, top, f_target):
    nextpnr = json.loads((build_dir / "report.json").read_text())
    util = nextpnr.get("utilization", {})
    cells = yosys_cells(build_dir / f"{name}.stat.json")
    clocks = {}
    for cname, v in nextpnr.get("fmax", {}).items():
        clocks[cname] = ClockReport(cname, v["achieved"] * MHZ, v["constraint"] * MHZ)
    core_clock = _core_clock_name(clocks)
    fmax = clocks[core_clock].achieved if core_clock else 0.0
    bitstream = build_dir / f"{name}.{board.bitstream_ext}"
    if not bitstream.is_file() or bitstream.stat().st_size == 0:
        raise BuildError(f"{board.name}: the toolchain finished but produced no bitstream "
                         f"{bitstream.name}", log=build_dir)
    geo = getattr(top, "geometry", None) or {}
    return BuildReport(
        board=board.name, device=board.device, bitstream=bitstream, build_dir=build_dir,
        key=key, cached=False, seconds=seconds,
        resources=_resources(board, util, cells), clocks=clocks, core_clock=core_clock,
        f_target=clocks[core_clock].target if core_clock else f_target, fmax=fmax,
        n_neurons=geo.get("n_neurons"), n_inputs=geo.get("n_inputs"),
        syn_capacity=geo.get("syn_capacity"), tools=versions,
        critical_path=_critical_path(nextpnr, core_clock),
    )


def _check_spram(board, cells, build_dir):
    spram = cells.get("SB_SPRAM256KA", 0)
    bram = cells.get("SB_RAM40_4K", 0)
    if spram == 0 and bram > board.bram_count:
        raise SpramNotInferred(
            f"{board.name}: synthesis mapped no memory to SPRAM and needs {bram} block RAMs "
            f"({board.bram_count} available). The core's synapse memory reaches SPRAM only "
            f"with a single-port access pattern: its read and write ports must share one "
            f"address signal, and the read enable must be low while writing "
            f"(see docs/boards.md, 'SPRAM')", log=build_dir)


def _raise_timing(board, clocks, log, report=None):
    failed = [c for c in clocks.values() if not c.met]
    worst = min(failed, key=lambda c: c.achieved / c.target)
    raise TimingError(
        f"{board.name}: timing not met for clock '{worst.name}': fmax "
        f"{worst.achieved / MHZ:.2f} MHz < target {worst.target / MHZ:.2f} MHz "
        f"(see {log})",
        clock=worst.name, achieved=worst.achieved, target=worst.target, log=log,
        report=report)


def _raise_step_failure(board, build_dir, name, tool, rc, log, f_target):
    text = ""
    for path in (build_dir / f"{name}.tim", log, build_dir / f"{name}.rpt"):
        try:
            text += Path(path).read_text(errors="replace") + "\n"
        except OSError:
            pass
    if tool.startswith("nextpnr"):
        fmax = _parse_fmax_log(text)
        failed = {c: v for c, v in fmax.items() if v[0] < v[1]}
        if failed:
            clocks = {c: ClockReport(c, a * MHZ, t * MHZ) for c, (a, t) in failed.items()}
            _raise_timing(board, clocks, build_dir / f"{name}.tim")
        m = re.search(r"no BELs remaining to implement cell type '([^']+)'", text)
        if m:
            kind = m.group(1)
            used = re.search(rf"{re.escape(kind)}:\s+(\d+)/\s*(\d+)", text)
            counts = f" ({used.group(1)} needed, {used.group(2)} available)" if used else ""
            raise ResourceError(f"{board.name}: the design does not fit the {board.device}: "
                                f"too many {kind}{counts}", log=build_dir / f"{name}.tim")
    errors = re.findall(r"^(?:ERROR|Error)[^\n]*", text, re.M)
    detail = f": {errors[-1]}" if errors else ""
    if tool.startswith("nextpnr") and "Unable to find legal placement" in text:
        raise PlacementError(f"{board.name}: {tool} found no legal placement (exit "
                             f"{rc}){detail}; log {log}", log=log)
    raise BuildError(f"{board.name}: {tool} failed (exit {rc}){detail}; log {log}", log=log)


# --- programming -----------------------------------------------------------------------
def program(board, bitstream):
    """Load ``bitstream`` into the board's FPGA (volatile configuration).

    Uses the board's programmer (``iceprog``, ``openFPGALoader``) from ``PATH`` or from the
    ``ICEPROG`` / ``OPENFPGALOADER`` environment variables.

    Raises
    ------
    FileNotFoundError
        No such bitstream.
    ProgrammerNotFound
        No programmer installed; the message says what to install.
    subprocess.CalledProcessError
        The programmer failed (board not connected, …).
    """
    board = get_board(board)
    bitstream = Path(getattr(bitstream, "bitstream", bitstream))
    if not bitstream.is_file():
        raise FileNotFoundError(f"no bitstream at {bitstream}")
    tried = []
    for argv in board.programmers:
        tool = argv[0]
        exe = os.environ.get(tool_env_var(tool)) or shutil.which(tool)
        tried.append(tool)
        if exe:
            subprocess.check_call([exe, *argv[1:], str(bitstream)])
            return
    raise ProgrammerNotFound(
        f"no programmer for {board.name} found: install one of {', '.join(tried)} "
        f"(openFPGALoader: distribution package 'openfpgaloader'; iceprog: 'fpga-icestorm') "
        f"or point {', '.join(tool_env_var(t) for t in tried)} at it")
