"""Single-event upsets in a Verilated design: bit flips written into its flip-flops and
memories at chosen clock edges, while a transaction script plays.

The fault player (``cosim/fault_player.cpp``) is the compiled script player
(``cosim/player.cpp``, included unchanged) around a model built with
``--public-flat-rw``: every signal and memory of the design is then reachable by name
through Verilator's scope table, and logic reading a flipped value is re-evaluated. It
plays the same scripts as :func:`neurofab.cosim.player.play_verilator` and returns the
same results; in addition it reads a list of upsets from its work directory and logs the
ones it injected.

An upset is placed relative to a **trigger**: a rising clock edge at which a set of
top-level signals are all non-zero, where at the previous edge they were not. For the
neuron core, ``("i_events__valid", "o_idle")`` fires once per step, at the edge where the
core leaves ``IDLE`` for ``INTEGRATE`` — so trigger event ``t`` is step ``t`` and an upset
``Upset(t, 0, "state_mem", k, b)`` strikes state word ``k`` at the start of step ``t``,
before the core reads any memory of that step (``neurofab.faults`` mirrors such upsets
in the golden model). A larger ``offset`` strikes later in the step, which is how
pipeline registers are hit mid-step.

::

    fb = fault_build(NeuronCore(None, n_neurons=64, n_inputs=16, syn_capacity=1024),
                     name="neurofab_core")
    fb.registers          # flip-flops: {"s4_old": 24, "kernel.s2_q_i": 16, ...}
    fb.memories           # {"state_mem": (40, 64), "acc_mem": (24, 512), ...}
    result, injected = play_upsets(fb, script, [Upset(3, 0, "acc_mem", 17, 23)],
                                   trigger=CORE_TRIGGER, workdir=tmp)
"""

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from neurofab.toolchain import cache_root, locked, to_verilog

from .player import play_verilator
from .verilator import VerilatorBuild, VerilatorError, build_player, design_key

__all__ = ["Upset", "Injected", "FaultBuild", "fault_build", "play_upsets", "CORE_TRIGGER",
           "verilog_registers"]

_HERE = Path(__file__).parent
_FAULT_PLAYER_CPP = _HERE / "fault_player.cpp"
_PLAYER_CPP = _HERE / "player.cpp"
#: Verilator arguments of a fault build (part of the cache key).
_ARGS = ("--public-flat-rw",)

#: The trigger of the neuron core: fires at the first edge of every step (``IDLE`` →
#: ``INTEGRATE``), so trigger event ``t`` is step ``t``.
CORE_TRIGGER = ("i_events__valid", "o_idle")


@dataclass(frozen=True)
class Upset:
    """One bit flip: bit ``bit`` of word ``index`` of ``var`` (``index = -1`` for a
    plain signal), right after the rising edge ``offset`` edges after trigger event
    ``event`` (``offset = 0``: that edge itself). ``var`` is a path below the design's
    top (``"acc_mem"``, ``"s4_old"``, ``"kernel.s2_q_i"``)."""
    event: int
    offset: int
    var: str
    index: int
    bit: int


@dataclass(frozen=True)
class Injected:
    """An upset the fault player injected: the upset, the absolute clock edge (counted
    from the start of the script) and the low 64 bits of the word before the flip."""
    upset: Upset
    cycle: int
    old: int


@dataclass
class FaultBuild:
    """A fault player of one design (:func:`fault_build`)."""
    build: VerilatorBuild    #: plays scripts like any compiled Verilator build
    scope: str               #: the design's top scope in Verilator (``TOP.<name>``)
    #: every flip-flop of the design (Verilog ``reg`` with an initial value): path → bits
    registers: dict
    #: every memory (Verilog unpacked array): path → (bits per word, words)
    memories: dict
    #: every variable Verilator keeps: path → (bits, words or 0)
    variables: dict

    @property
    def bits(self):
        """Flip-flop bits and memory bits of the design (a dict)."""
        return {"registers": sum(self.registers.values()),
                "memories": sum(w * d for w, d in self.memories.values())}


# --- Verilog: which signals are flip-flops ---------------------------------------------
_MODULE = re.compile(r"^module (\\?\S+)\s*\(", re.M)
_REG_INIT = re.compile(r"^  reg (?:signed )?(?:\[(\d+):(\d+)\] )?(\\?[^\s=]+)\s*=\s*[^;]+;",
                       re.M)
_MEMORY = re.compile(r"^  reg (?:signed )?(?:\[(\d+):(\d+)\] )?(\\?[^\s\[]+)\s*\[(\d+):(\d+)\];",
                     re.M)


def verilog_registers(text, top):
    """``(registers, memories)`` of Amaranth's Verilog ``text`` of design ``top``: every
    flip-flop (a ``reg`` declared with an initial value, which Amaranth gives exactly the
    signals of a clock domain) as path → bits, and every memory as path → (bits, words).
    Paths are relative to the top module (``"kernel.s2_q_i"`` in submodule ``kernel``);
    Yosys' internal names (``$...``) are left out."""
    registers, memories = {}, {}
    starts = [(m.start(), m.group(1)) for m in _MODULE.finditer(text)] + [(len(text), None)]
    for (begin, module), (end, _) in zip(starts, starts[1:]):
        name = module.lstrip("\\")
        if name == top:
            prefix = ""
        elif name.startswith(top + "."):
            prefix = name[len(top) + 1:] + "."
        else:
            continue
        body = text[begin:end]
        for m in _REG_INIT.finditer(body):
            if m.group(3).lstrip("\\").startswith("$"):      # Yosys' internal names
                continue
            hi, lo = m.group(1), m.group(2)
            registers[prefix + m.group(3)] = 1 if hi is None else abs(int(hi) - int(lo)) + 1
        for m in _MEMORY.finditer(body):
            hi, lo = m.group(1), m.group(2)
            width = 1 if hi is None else abs(int(hi) - int(lo)) + 1
            memories[prefix + m.group(3)] = (width, abs(int(m.group(4)) - int(m.group(5))) + 1)
    return registers, memories


# --- the build -------------------------------------------------------------------------
def _source_hash():
    h = hashlib.sha256()
    for path in (_FAULT_PLAYER_CPP, _PLAYER_CPP):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def fault_build(design, *, name="top", cache_dir=None, verbose=False):
    """Compile ``design`` (an Amaranth component or Verilog text) into a fault player.

    Cached like :func:`neurofab.cosim.verilator.build` (key: the Verilog, the two player
    sources, the flags and tool versions), under ``<cache>/verilator/faults-<name>-<key>``.

    Returns
    -------
    FaultBuild
    """
    text = design if isinstance(design, str) else to_verilog(design, name=name)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    vdir = root / "verilator"
    key = design_key(text, name, build_args=[*_ARGS, f"fault_player={_source_hash()}"],
                     player="compiled")
    final = vdir / f"faults-{name}-{key}"
    done = final / "neurofab-build.json"
    cached, build_s = True, 0.0
    if not done.exists():
        with locked(vdir / f"faults-{name}-{key}.lock"):
            if not done.exists():
                cached = False
                build_s = _build(text, name, key, final, vdir / "objcache", verbose)
    info = json.loads(done.read_text())
    vbuild = VerilatorBuild(name, final, key, False, cached, build_s, info, "compiled")
    registers, memories = verilog_registers((final / f"{name}.v").read_text(), name)
    variables = _variables(final / "vars.txt", f"TOP.{name}")
    # keep what Verilator kept under those names (all of them, with --public-flat-rw)
    missing = sorted(set(registers) - set(variables)) + sorted(set(memories) - set(variables))
    if missing:
        raise VerilatorError(f"the fault build of {name} has no variable {missing[0]!r}; "
                             f"see {final / 'vars.txt'}")
    return FaultBuild(vbuild, f"TOP.{name}", registers, memories, variables)


def _build(text, name, key, final, objcache, verbose):
    tmp = final.with_name(f"{final.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / f"{name}.v").write_text(text)
    for src in (_FAULT_PLAYER_CPP, _PLAYER_CPP):
        shutil.copyfile(src, tmp / src.name)
    t0 = time.perf_counter()
    args = build_player(tmp, name, "fault_player.cpp", build_args=_ARGS, objcache=objcache,
                        verbose=verbose, what="fault-player build")
    import subprocess
    proc = subprocess.run([str(tmp / "player"), "--list-vars", str(tmp / "vars.txt")],
                          cwd=tmp, capture_output=True, text=True)
    if proc.returncode != 0:
        raise VerilatorError(f"the fault player of {name} could not list its variables:\n"
                             f"{proc.stderr}")
    build_s = time.perf_counter() - t0
    info = {"name": name, "key": key, "kind": "faults", "build_s": round(build_s, 3),
            "args": args}
    (tmp / "neurofab-build.json").write_text(json.dumps(info, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return build_s


def _variables(path, scope):
    """Variables of ``vars.txt`` at or below ``scope``: path → (bits, words)."""
    out = {}
    for line in Path(path).read_text().splitlines():
        sc, var, bits, depth = line.split("\t")
        if var.lstrip("\\").startswith("$"):      # Yosys' internal names
            continue
        var = var.strip()
        if sc == scope:
            out[var] = (int(bits), int(depth))
        elif sc.startswith(scope + "."):
            out[f"{sc[len(scope) + 1:]}.{var}"] = (int(bits), int(depth))
    return out


# --- playing with upsets ---------------------------------------------------------------
def play_upsets(fbuild, script, upsets, *, trigger=CORE_TRIGGER, workdir, progress=None):
    """Play ``script`` on the fault player ``fbuild`` with ``upsets`` injected.

    Parameters
    ----------
    fbuild : FaultBuild
    script : neurofab.cosim.player.Script
    upsets : sequence of Upset
        Checked against the design: an unknown ``var``, an ``index`` outside a memory (or
        not -1 for a signal) or a ``bit`` outside the word raise ``ValueError``.
    trigger : sequence of str
        Top-level signals defining the trigger (default: :data:`CORE_TRIGGER`).
    workdir : path
        The player's work directory.
    progress : callable(int), optional
        As for :func:`neurofab.cosim.player.play_verilator`.

    Returns
    -------
    (ScriptResult, list of Injected)
        The script's result and the upsets injected, in order (an upset whose edge the
        run never reached is not listed).
    """
    if not trigger:
        raise ValueError("trigger names no signal")
    for name in trigger:
        if fbuild.variables.get(name, (65, 1))[0] > 64 or fbuild.variables[name][1]:
            raise ValueError(f"trigger signal {name!r} is not a top-level signal of at most "
                             f"64 bits of {fbuild.build.name}")
    lines = [f"scope {fbuild.scope}", "trigger " + " ".join(trigger)]
    for u in upsets:
        if u.var not in fbuild.variables:
            raise ValueError(f"upset var = {u.var!r} is not a signal or memory of "
                             f"{fbuild.build.name}")
        bits, depth = fbuild.variables[u.var]
        if depth == 0 and u.index != -1:
            raise ValueError(f"upset index = {u.index} of signal {u.var!r}: must be -1")
        if depth and not 0 <= u.index < depth:
            raise ValueError(f"upset index = {u.index} of memory {u.var!r} is outside the "
                             f"limit [0, {depth - 1}]")
        if not 0 <= u.bit < bits:
            raise ValueError(f"upset bit = {u.bit} of {u.var!r} is outside the limit "
                             f"[0, {bits - 1}]")
        if u.event < 0 or u.offset < 0:
            raise ValueError(f"upset event = {u.event}, offset = {u.offset} must be >= 0")
        lines.append(f"flip {u.event} {u.offset} {u.var} {u.index} {u.bit}")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "nf_faults.txt").write_text("\n".join(lines) + "\n")
    log = workdir / "nf_injected.txt"
    if log.exists():
        log.unlink()
    result = play_verilator(fbuild.build, script, workdir=workdir, progress=progress)
    injected = []
    for line in log.read_text().splitlines() if log.exists() else []:
        event, offset, cycle, var, index, bit, old = line.split()
        injected.append(Injected(Upset(int(event), int(offset), var, int(index), int(bit)),
                                 int(cycle), int(old, 16)))
    return result, injected
