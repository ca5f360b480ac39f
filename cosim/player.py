"""Transaction scripts: one stimulus description, played on either simulator back end.

A :class:`Script` is a list of :class:`Phase` s; a phase is a set of stream operations on
distinct ports that run concurrently and all finish before the next phase starts:

* :class:`Put` — offer payloads on an input stream, with random valid gaps;
* :class:`Get` — accept payloads from an output stream (a fixed count, or up to and including
  the first payload with a ``last_mask`` bit set), with random ``ready`` back-pressure;
* :class:`Mem` — a request/response pair of streams: every request gets exactly one
  response, requests are issued back to back while responses are collected (pipelined).

Payloads are plain integers (the packed bits of the port's payload layout, any width), so a
script can be written to a file and replayed on a Verilator build — by the C++ script player
``cosim/player.cpp`` compiled with the design (the default; job and result formats are
documented there, :func:`job_bytes`, :func:`read_result`) or by the cocotb module
``cosim/cocotb_player.py`` — or played in-process on the Amaranth simulator with the helpers
of :mod:`neurofab.cosim.streams`. The result is the same every way: for every phase its start
and end clock cycle, and the payloads every ``Get``/``Mem`` collected. Comparing them with a
golden model is the caller's business.

``gap`` is the probability of idling one cycle before offering each transaction; ``stall`` is
the probability of holding ``ready`` low in a given cycle (see ``streams.py``).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Put", "Get", "Mem", "Phase", "Script", "PhaseResult", "ScriptResult",
           "ScriptTimeout", "play_amaranth", "play_verilator", "job_bytes", "read_result"]


@dataclass
class Put:
    port: str
    data: list
    gap: float = 0.0


@dataclass
class Get:
    port: str
    count: int = None
    last_mask: int = None
    stall: float = 0.0

    def __post_init__(self):
        if (self.count is None) == (self.last_mask is None):
            raise ValueError("Get needs exactly one of count= and last_mask=")


@dataclass
class Mem:
    req: str
    resp: str
    data: list
    gap: float = 0.0
    stall: float = 0.0


@dataclass
class Phase:
    ops: list
    label: str = ""
    #: a phase running longer than this many cycles aborts the run (``ScriptResult.timeout``)
    timeout: int = 100_000

    def ports(self):
        out = []
        for op in self.ops:
            out += [op.req, op.resp] if isinstance(op, Mem) else [op.port]
        if len(set(out)) != len(out):
            raise ValueError(f"phase {self.label!r} uses a port twice: {out}")
        return out


@dataclass
class Script:
    phases: list
    seed: int = 0

    def ports(self):
        seen = []
        for ph in self.phases:
            for p in ph.ports():
                if p not in seen:
                    seen.append(p)
        return seen


@dataclass
class PhaseResult:
    label: str
    start: int            #: clock cycle the phase started in
    end: int              #: clock cycle its last transfer completed in
    data: list            #: per op: collected payloads (``Get``/``Mem``) or ``None`` (``Put``)

    @property
    def cycles(self):
        """Clock cycles the phase took (None if it timed out)."""
        return None if self.end is None else self.end - self.start


@dataclass
class ScriptResult:
    phases: list = field(default_factory=list)
    #: index of the phase that timed out (the run stops there), else None
    timeout: int = None
    backend: str = ""
    vcd: str = None


class ScriptTimeout(Exception):
    pass


def _op_seed(seed, k, j):
    return [int(seed) & 0xFFFFFFFF, k, j]


# --- Amaranth simulator --------------------------------------------------------------
def _payload_in(port, value):
    """Packed bits → what ``ctx.set(port.payload, ...)`` takes."""
    from amaranth.hdl import ValueCastable
    payload = port.payload
    if isinstance(payload, ValueCastable):          # layouts, enums: from the bits
        return payload.shape().from_bits(int(value))
    width = len(payload)
    value = int(value) & ((1 << width) - 1)
    if payload.shape().signed and value >> (width - 1):
        value -= 1 << width
    return value


def _payload_out(value, width):
    """A sampled payload (int, ``data.Const`` or enum member) → packed bits."""
    from amaranth.lib import data
    if isinstance(value, data.Const):
        return value.as_bits()
    if hasattr(value, "value") and not isinstance(value, int):
        value = value.value
    return int(value) & ((1 << width) - 1)


def play_amaranth(dut, script, *, vcd_path=None, progress=None, period=1e-6):
    """Play ``script`` on ``dut`` in the Amaranth simulator; returns a :class:`ScriptResult`.

    One testbench per port walks the phases; the ones without work in a phase sleep on a
    phase-number signal, a watchdog sleeps on the phase timeout. ``progress(k)`` is called
    when phase ``k`` ends.
    """
    from amaranth import Elaboratable, Module, Signal, Value
    from amaranth.sim import Simulator
    from . import streams

    class Counted(Elaboratable):
        def __init__(self):
            self.cycle = Signal(64)
            self.phase = Signal(32)

        def elaborate(self, platform):
            m = Module()
            m.submodules.dut = dut
            m.d.sync += self.cycle.eq(self.cycle + 1)
            return m

    top = Counted()
    phases = script.phases
    ports = script.ports()
    # per phase: which (port -> (op index, role)) and how many port-roles must finish
    plan = []
    for k, ph in enumerate(phases):
        roles = {}
        for j, op in enumerate(ph.ops):
            if isinstance(op, Mem):
                roles[op.req] = (j, "put")
                roles[op.resp] = (j, "get")
            else:
                roles[op.port] = (j, "put" if isinstance(op, Put) else "get")
        ph.ports()
        plan.append(roles)
    state = {"phase": 0, "pending": len(plan[0]) if plan else 0, "start": 0}
    result = ScriptResult(backend="amaranth")
    collected = [[None] * len(ph.ops) for ph in phases]

    def finish_role(ctx, k):
        state["pending"] -= 1
        if state["pending"]:
            return
        now = ctx.get(top.cycle)
        result.phases.append(PhaseResult(phases[k].label, state["start"], now,
                                         collected[k]))
        if progress is not None:
            progress(k)
        state["phase"] = k + 1
        state["start"] = now
        if k + 1 < len(phases):
            state["pending"] = len(plan[k + 1])
        ctx.set(top.phase, k + 1)

    def port_tb(name):
        port = getattr(dut, name)

        async def tb(ctx):
            for k, ph in enumerate(phases):
                while ctx.get(top.phase) < k:
                    await ctx.changed(top.phase)
                if name not in plan[k]:
                    continue
                j, role = plan[k][name]
                op = ph.ops[j]
                rng = np.random.default_rng(_op_seed(script.seed, k, j) + [role == "get"])
                if role == "put":
                    gap = op.gap
                    for value in op.data:
                        await streams.put_sampled(ctx, port, _payload_in(port, value), rng=rng,
                                                  gap=gap)
                    if isinstance(op, Put):
                        collected[k][j] = None
                else:
                    # collected one by one, so a timeout still reports what did arrive
                    got = collected[k][j] = []
                    width = len(Value.cast(port.payload))
                    count = len(op.data) if isinstance(op, Mem) else op.count
                    mask = getattr(op, "last_mask", None)
                    while count is None or len(got) < count:
                        got.append(_payload_out(
                            await streams.get(ctx, port, rng=rng, stall=op.stall), width))
                        if mask is not None and got[-1] & mask:
                            break
                finish_role(ctx, k)
        return tb

    async def watchdog(ctx):
        for k, ph in enumerate(phases):
            while ctx.get(top.phase) == k:
                start = ctx.get(top.cycle)
                await ctx.delay(ph.timeout * period).changed(top.phase)
                if ctx.get(top.phase) == k and ctx.get(top.cycle) - start >= ph.timeout:
                    raise ScriptTimeout(k)

    sim = Simulator(top)
    sim.add_clock(period)
    for name in ports:
        sim.add_testbench(port_tb(name))
    sim.add_testbench(watchdog, background=True)
    try:
        if vcd_path is not None:
            Path(vcd_path).parent.mkdir(parents=True, exist_ok=True)
            with sim.write_vcd(str(vcd_path)):
                sim.run()
            result.vcd = str(vcd_path)
        else:
            sim.run()
    except ScriptTimeout as exc:
        k = result.timeout = exc.args[0]
        result.phases.append(PhaseResult(phases[k].label, state["start"], None, collected[k]))
    return result


# --- Verilator ------------------------------------------------------------------------
_JOB_MAGIC = b"NFJOB01\0"
_RESULT_MAGIC = b"NFRES01\0"
_KIND = {Put: 0, Get: 1, Mem: 2}
_NO_ARRAY = 0xFFFFFFFF


def _packed(values):
    """``(words, bytes)``: payloads as little-endian 64-bit words, ``words`` per value
    (two's complement for negative values; the player truncates to the port's width)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "ui":
        return 1, values.astype("<u8").tobytes()
    values = [int(v) for v in values]
    if not values:
        return 1, b""
    lo, hi = min(values), max(values)
    if 0 <= lo and hi < 1 << 64:
        return 1, np.array(values, dtype=np.uint64).astype("<u8").tobytes()
    if -(1 << 63) <= lo and hi < 1 << 63:
        return 1, np.array(values, dtype=np.int64).astype("<i8").tobytes()
    bits = max(hi.bit_length(), (-lo).bit_length()) + (lo < 0)
    words = (bits + 63) // 64
    return words, b"".join(v.to_bytes(8 * words, "little", signed=lo < 0) for v in values)


def job_bytes(script, period_ns=2):
    """``script`` as the compiled player's job file (format: ``cosim/player.cpp``)."""
    import struct
    ports = list(script.ports())
    index = {p: i for i, p in enumerate(ports)}
    arrays, keys = [], {}

    def ref(values):
        if id(values) not in keys:
            keys[id(values)] = len(arrays)
            arrays.append(_packed(values) + (len(values),))
        return keys[id(values)]

    phases = []
    for ph in script.phases:
        ph.ports()
        ops = []
        for op in ph.ops:
            if isinstance(op, Put):
                ops.append((0, index[op.port], 0, op.gap, 0.0, ref(op.data), -1))
            elif isinstance(op, Get):
                mask = _NO_ARRAY if op.last_mask is None else ref([int(op.last_mask)])
                ops.append((1, index[op.port], 0, 0.0, op.stall, mask,
                            -1 if op.count is None else int(op.count)))
            else:
                ops.append((2, index[op.req], index[op.resp], op.gap, op.stall, ref(op.data),
                            -1))
        phases.append((int(ph.timeout), ops))
    out = [_JOB_MAGIC, struct.pack("<QQ", int(script.seed) & (2 ** 64 - 1),
                                   max(2, int(round(period_ns * 1000))))]
    out.append(struct.pack("<I", len(ports)))
    for p in ports:
        name = p.encode()
        out += [struct.pack("<I", len(name)), name]
    out.append(struct.pack("<I", len(arrays)))
    for words, data, count in arrays:
        out += [struct.pack("<IQ", words, count), data]
    out.append(struct.pack("<I", len(phases)))
    for timeout, ops in phases:
        out.append(struct.pack("<QI", timeout, len(ops)))
        for kind, port, port2, gap, stall, array, count in ops:
            out.append(struct.pack("<IIIddIq", kind, port, port2, float(gap), float(stall),
                                   array, count))
    return b"".join(out)


def read_result(buf, script):
    """Parse the compiled player's result file into a :class:`ScriptResult`."""
    import struct
    if buf[:8] != _RESULT_MAGIC:
        raise ValueError("not a neurofab player result (bad magic)")
    timeout, _cycles, n_phases = struct.unpack_from("<qqI", buf, 8)
    off = 28
    result = ScriptResult(backend="verilator", timeout=None if timeout < 0 else timeout)
    for k in range(n_phases):
        start, end, n_ops = struct.unpack_from("<qqI", buf, off)
        off += 20
        data = []
        for _ in range(n_ops):
            n, words = struct.unpack_from("<qI", buf, off)
            off += 12
            if n < 0:
                data.append(None)
                continue
            arr = np.frombuffer(buf, "<u8", n * words, off).reshape(n, words)
            off += 8 * n * words
            values = arr[:, words - 1].tolist()
            for w in range(words - 2, -1, -1):      # wide payloads: most significant first
                values = [v << 64 | x for v, x in zip(values, arr[:, w].tolist())]
            data.append(values)
        result.phases.append(PhaseResult(script.phases[k].label, start,
                                         None if end < 0 else end, data))
    return result


def play_verilator(vbuild, script, *, workdir, vcd_path=None, progress=None, period_ns=2,
                   player=None):
    """Play ``script`` on a Verilator build (:func:`neurofab.cosim.verilator.build`).

    Parameters
    ----------
    vbuild : neurofab.cosim.verilator.VerilatorBuild
    script : Script
    workdir : path
        Where the job and result files go (created if needed).
    vcd_path : path, optional
        Write the waveform there (needs a ``trace=True`` build).
    progress : callable(int), optional
        Called with ``k`` when phase ``k`` ends, while the simulator runs.
    period_ns : float
        Clock period (time axis of the waveform only).
    player : "compiled" or "cocotb", optional
        How to play it: the C++ script player compiled with the design (no Python in the
        clock loop), or the cocotb module ``cocotb_player.py``. Default: the kind of
        ``vbuild``; a build of the other kind is rebuilt from its Verilog (cached).

    Returns
    -------
    ScriptResult
    """
    from .verilator import as_player
    if vcd_path is not None and not vbuild.trace:
        raise ValueError("vcd_path needs a build made with trace=True")
    vbuild = as_player(vbuild, vbuild.player if player is None else player)
    if vbuild.player == "cocotb":
        return _play_cocotb(vbuild, script, workdir=workdir, vcd_path=vcd_path,
                            progress=progress, period_ns=period_ns)
    return _play_compiled(vbuild, script, workdir=workdir, vcd_path=vcd_path,
                          progress=progress, period_ns=period_ns)


def _play_compiled(vbuild, script, *, workdir, vcd_path, progress, period_ns):
    import contextlib
    import os
    import subprocess
    from .verilator import VerilatorError
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    job, res, log = workdir / "job.bin", workdir / "result.bin", workdir / "player.log"
    with contextlib.suppress(FileNotFoundError):
        res.unlink()
    job.write_bytes(job_bytes(script, period_ns))
    cmd = [str(vbuild.binary), str(job), str(res)]
    if vcd_path is not None:
        vcd_path = Path(vcd_path).resolve()
        vcd_path.parent.mkdir(parents=True, exist_ok=True)
        cmd += ["--vcd", str(vcd_path)]
    # progress lines come through a pipe of their own: the design's $display output and
    # Verilator's messages go to the log
    read_fd, write_fd = os.pipe()
    cmd += ["--progress-fd", str(write_fd)]
    try:
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, cwd=workdir,
                                    pass_fds=(write_fd,))
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd, "rb") as lines:
        try:
            for line in lines:
                if progress is not None and line.strip():
                    progress(int(line))
        except BaseException:       # a failing callback, ^C: stop the player too
            proc.kill()
            proc.wait()
            raise
    rc = proc.wait()
    if rc != 0 or not res.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise VerilatorError(f"the script player of {vbuild.name} failed (exit {rc}); log "
                             f"{log}:\n{tail}")
    result = read_result(res.read_bytes(), script)
    result.vcd = str(vcd_path) if vcd_path is not None else None
    return result


# --- Verilator through cocotb ----------------------------------------------------------
def _to_job(script, period_ns):
    arrays, keys, job_phases = {}, {}, []

    def ref(values):
        if id(values) not in keys:
            key = f"a{len(keys)}"
            keys[id(values)] = key
            arrays[key] = [int(v) for v in values]
        return keys[id(values)]

    for ph in script.phases:
        ops = []
        for op in ph.ops:
            if isinstance(op, Put):
                ops.append({"kind": "put", "port": op.port, "gap": op.gap, "data": ref(op.data)})
            elif isinstance(op, Get):
                ops.append({"kind": "get", "port": op.port, "stall": op.stall,
                            "count": op.count, "last_mask": op.last_mask})
            else:
                ops.append({"kind": "mem", "req": op.req, "resp": op.resp, "gap": op.gap,
                            "stall": op.stall, "data": ref(op.data)})
        job_phases.append({"label": ph.label, "timeout": ph.timeout, "ops": ops})
    return {"seed": int(script.seed), "period_ns": period_ns, "phases": job_phases,
            "ports": list(script.ports()), "arrays": arrays}


def _play_cocotb(vbuild, script, *, workdir, vcd_path, progress, period_ns):
    from .verilator import run
    job = _to_job(script, period_ns)
    res, _ = run(vbuild, "neurofab_cocotb_player", workdir=workdir, job=job,
                 module_file=Path(__file__).with_name("cocotb_player.py"), vcd_path=vcd_path,
                 progress=None if progress is None else (lambda line: progress(int(line))))
    result = ScriptResult(backend="verilator", timeout=res.get("timeout"),
                          vcd=str(vcd_path) if vcd_path is not None else None)
    for k, ph in enumerate(res["phases"]):
        result.phases.append(PhaseResult(script.phases[k].label, ph["start"], ph["end"],
                                         ph["data"]))
    return result
