"""cocotb test module: plays a :class:`neurofab.cosim.player.Script` on a Verilator build.

Run by :func:`neurofab.cosim.player.play_verilator` through ``cocotb_tools.runner``; the
work directory (``$NEUROFAB_COSIM_DIR``) holds ``job.json`` (the script, payloads as
integers) and receives ``result.json`` (per phase: start/end cycle and collected payloads)
and, while running, ``progress`` (one line per finished phase).

This module is self-contained (standard library + cocotb): it is copied next to the job and
imported by file name, so the simulator process does not pay for importing numpy and
Amaranth through the ``neurofab`` package.

The Python side is transaction-level: it wakes up for transfers, not for clock cycles.

* Values are read inside ``await RisingEdge(clk)``, before Verilator evaluates that edge,
  so they are exactly what the edge samples; values written there are applied after the
  edge (cocotb's inertial writes with the C++ clock). One wake-up per cycle while a port
  is busy.
* A producer whose payload was not taken sleeps until ``ready`` rises; a consumer that saw
  no ``valid`` sleeps until ``valid`` rises; a request/response pair waiting on a busy
  design sleeps until it answers (nothing left to send) or accepts (no answer pending). Long phases where the design works alone
  (integrate, update) therefore cost no Python call per clock; the clock itself is
  cocotb's C++ clock.
"""

import json
import os
import random
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import convert, get_sim_time
from cocotb.triggers import RisingEdge, Timer, select


class _Signal:
    """Fast access to one signal: ``get()`` → int, ``set(int)`` (a deposit, applied after
    the current edge), redundant writes skipped.

    Uses the raw GPI object under the cocotb handle when it is there (several times
    cheaper per call than ``handle.value``), else the public API.
    """
    _DEPOSIT = 0     # cocotb.handle._GPISetAction.DEPOSIT

    def __init__(self, handle):
        self.handle = handle
        self.width = len(handle)
        self.last = None
        raw = getattr(handle, "_handle", None)
        if raw is not None and hasattr(raw, "get_signal_val_binstr") and hasattr(
                raw, "set_signal_val_binstr"):
            self._get = raw.get_signal_val_binstr
            self._put = raw.set_signal_val_binstr
        else:       # pragma: no cover - other cocotb versions
            self._get = self._put = None

    def get(self):
        if self._get is not None:
            return int(self._get(), 2)
        return int(self.handle.value)

    def set(self, value):
        if value == self.last:
            return
        self.last = value
        if self._put is not None:
            self._put(self._DEPOSIT, format(value, f"0{self.width}b"))
        else:
            self.handle.value = value


class _Ports:
    def __init__(self, dut, name):
        self.valid = _Signal(getattr(dut, f"{name}__valid"))
        self.ready = _Signal(getattr(dut, f"{name}__ready"))
        self.payload = _Signal(getattr(dut, f"{name}__payload"))


def _rng(seed, k, j, role):
    return random.Random(f"{seed}:{k}:{j}:{role}")


class Player:
    def __init__(self, dut, job, progress=None):
        self.dut = dut
        self.job = job
        self.clk = dut.clk
        self.ports = {name: _Ports(dut, name) for name in job["ports"]}
        self.progress = progress
        self.period_steps = None

    def values(self, key):
        return self.job["arrays"][key]

    def cycle(self):
        return get_sim_time("step") // self.period_steps

    # --- operations ----------------------------------------------------------------
    # Each starts and ends in the time step of a rising clock edge, in a writable phase.
    # Inside ``await RisingEdge(clk)`` the design has not evaluated the edge yet: every
    # value read there is the value the edge samples (like Amaranth's ``tick().sample()``),
    # and every value written is applied after the edge (inertial writes). One wake-up per
    # cycle while a port is busy, none while it waits: an edge trigger on ``valid`` or
    # ``ready`` fires in the time step of the clock edge that raised it.
    async def put(self, port, values, gap, rng):
        clk = self.clk
        for value in values:
            if gap:
                idle = 0
                while rng.random() < gap:
                    idle += 1
                if idle:
                    port.valid.set(0)
                    for _ in range(idle):
                        await RisingEdge(clk)
            port.payload.set(value)
            port.valid.set(1)
            while True:
                await RisingEdge(clk)
                if port.ready.get():
                    break
                await RisingEdge(port.ready.handle)
        port.valid.set(0)

    async def get(self, port, count, last_mask, stall, rng, out):
        clk = self.clk
        ready = 1
        port.ready.set(1)
        while count is None or len(out) < count:
            if stall:
                ready = int(rng.random() >= stall)
                port.ready.set(ready)
            await RisingEdge(clk)
            if not port.valid.get():
                await RisingEdge(port.valid.handle)
            elif ready:
                value = port.payload.get()
                out.append(value)
                if last_mask is not None and value & last_mask:
                    break
        port.ready.set(0)

    async def mem(self, req, resp, values, gap, stall, rng, out):
        """Back-to-back requests on ``req`` while collecting one response each on ``resp``."""
        clk = self.clk
        n = len(values)
        sent = 0
        offered = False
        ready = 1
        idle = 0
        resp.ready.set(1)
        while len(out) < n:
            if sent < n and not offered and not (gap and rng.random() < gap):
                req.payload.set(values[sent])
                req.valid.set(1)
                offered = True
            if stall:
                ready = int(rng.random() >= stall)
                resp.ready.set(ready)
            await RisingEdge(clk)
            took = offered and req.ready.get()
            rvalid = resp.valid.get()
            if rvalid and ready:
                out.append(resp.payload.get())
            if took:
                sent += 1
                offered = False
                if sent == n or gap:
                    req.valid.set(0)
            if took or rvalid:
                idle = 0
                continue
            idle += 1
            if idle >= 2 and not gap:
                # the design is busy: sleep until it answers (all requests sent) or accepts
                # (no answer pending); with both possible, keep polling each cycle
                if not offered:
                    await RisingEdge(resp.valid.handle)
                elif sent == len(out):
                    await RisingEdge(req.ready.handle)
        req.valid.set(0)
        resp.ready.set(0)

    async def play(self):
        job = self.job
        period_ns = job["period_ns"]
        clock = Clock(self.clk, period_ns, unit="ns")
        if clock.impl != "gpi":
            # the edge sampling above relies on the C++ clock and inertial writes
            raise RuntimeError("cocotb_player needs COCOTB_TRUST_INERTIAL_WRITES=1")
        clock.start()
        self.period_steps = convert(period_ns, "ns", to="step")
        if hasattr(self.dut, "rst"):
            self.dut.rst.value = 0
        inputs = _inputs(job)
        for name, p in self.ports.items():
            if name in inputs:
                p.valid.set(0)
            else:
                p.ready.set(0)
        await RisingEdge(self.clk)
        seed = job["seed"]
        results = {"phases": [], "timeout": None}
        start = self.cycle()
        for k, ph in enumerate(job["phases"]):
            collected = [None] * len(ph["ops"])
            coros = []
            for j, op in enumerate(ph["ops"]):
                if op["kind"] == "put":
                    coros.append(self.put(self.ports[op["port"]], self.values(op["data"]),
                                          op["gap"], _rng(seed, k, j, "put")))
                elif op["kind"] == "get":
                    collected[j] = []
                    coros.append(self.get(self.ports[op["port"]], op["count"], op["last_mask"],
                                          op["stall"], _rng(seed, k, j, "get"), collected[j]))
                else:
                    collected[j] = []
                    coros.append(self.mem(self.ports[op["req"]], self.ports[op["resp"]],
                                          self.values(op["data"]), op["gap"], op["stall"],
                                          _rng(seed, k, j, "mem"), collected[j]))
            tasks = [cocotb.start_soon(c) for c in coros]
            idx, _ = await select(Timer(ph["timeout"] * period_ns, "ns"), _all_done(tasks))
            timed_out = idx == 0
            if timed_out:
                for t in tasks:
                    t.cancel()
            end = None if timed_out else self.cycle()
            results["phases"].append({"start": start, "end": end, "data": collected})
            if self.progress is not None:
                self.progress.write(f"{k}\n")
                self.progress.flush()
            if timed_out:
                results["timeout"] = k
                break
            start = end
        return results


def _inputs(job):
    names = set()
    for ph in job["phases"]:
        for op in ph["ops"]:
            if op["kind"] == "put":
                names.add(op["port"])
            elif op["kind"] == "mem":
                names.add(op["req"])
    return names


async def _all_done(tasks):
    for t in tasks:
        await t


@cocotb.test()
async def play(dut):
    workdir = Path(os.environ["NEUROFAB_COSIM_DIR"])
    job = json.loads((workdir / "job.json").read_text())
    prof_path = os.environ.get("NEUROFAB_COSIM_PROFILE")
    if prof_path:       # developer aid: profile the Python side of the run
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    with open(workdir / "progress", "w") as progress:
        results = await Player(dut, job, progress).play()
    if prof_path:
        prof.disable()
        prof.dump_stats(prof_path)
    (workdir / "result.json").write_text(json.dumps(results))
