"""cocotb test module: plays a :class:`neurofab.cosim.player.Script` on a Verilator build.

Run by :func:`neurofab.cosim.player.play_verilator` with ``player="cocotb"`` (the compiled
C++ player ``player.cpp`` is the default) through ``cocotb_tools.runner``; the
work directory (``$NEUROFAB_COSIM_DIR``) holds ``job.json`` (the script, payloads as
integers) and receives ``result.json`` (per phase: start/end cycle and collected payloads)
and, while running, ``progress`` (one line per finished phase).

This module is self-contained (standard library + cocotb): it is copied next to the job and
imported by file name, so the simulator process does not pay for importing numpy and
Amaranth through the ``neurofab`` package.

The Python side is transaction-level and runs in plain GPI callbacks, not in cocotb tasks
(a task switch costs several times more than the callback itself):

* While a port is busy, a callback runs at each rising clock edge. Inside it Verilator has
  not evaluated the edge yet: every value read is the value that edge samples (like
  Amaranth's ``tick().sample()``); every value written is applied after the edge (cocotb's
  C++ clock with inertial writes). So one call per busy cycle decides the transfers of
  that edge and drives the next cycle.
* A producer whose payload was not taken sleeps until ``ready`` rises; a consumer that saw
  no ``valid`` sleeps until ``valid`` rises; a request/response pair waiting on the design
  sleeps until it answers or accepts, whichever comes first.
  With every port asleep no Python runs at all: long phases where the design works alone
  (integrate, update) cost nothing per clock.

The cocotb test itself only starts the clock and the machine, then checks every few
thousand cycles whether the script has finished or a phase ran past its timeout.
"""

import json
import os
import random
from pathlib import Path

import cocotb
from cocotb import simulator
from cocotb.clock import Clock
from cocotb.simtime import convert, get_sim_time
from cocotb.triggers import RisingEdge, Timer

_RISING = simulator.RISING
_register = simulator.register_value_change_callback
_DEPOSIT = 0            # cocotb.handle._GPISetAction.DEPOSIT
_POLL_CYCLES = 2000     # how often the test task checks for completion / timeouts

AWAKE, SLEEP, DONE = "awake", "sleep", "done"


class _Signal:
    """One signal through its raw GPI object: ``get()`` → int, ``set(int)`` (a deposit,
    applied after the current edge; redundant writes skipped)."""

    def __init__(self, handle):
        self.handle = handle
        self.raw = handle._handle
        self.width = len(handle)
        self._read = self.raw.get_signal_val_binstr
        self._write = self.raw.set_signal_val_binstr
        self._fmt = f"0{self.width}b"
        self.last = None

    def get(self):
        return int(self._read(), 2)

    def high(self):
        """A 1-bit signal is 1 (cheaper than ``get()``)."""
        return self._read() == "1"

    def set(self, value):
        if value != self.last:
            self.last = value
            self._write(_DEPOSIT, format(value, self._fmt))


class _Ports:
    def __init__(self, dut, name):
        self.valid = _Signal(getattr(dut, f"{name}__valid"))
        self.ready = _Signal(getattr(dut, f"{name}__ready"))
        self.payload = _Signal(getattr(dut, f"{name}__payload"))


def _rng(seed, k, j, role):
    return random.Random(f"{seed}:{k}:{j}:{role}")


# --- operations: start() once, edge() at every clock edge while awake, wake() when a
# --- signal they sleep on rises. edge()/wake() return AWAKE, DONE or (SLEEP, [signals]).
class _Put:
    def __init__(self, port, values, gap, rng):
        self.port, self.values, self.gap, self.rng = port, values, gap, rng
        self.out = None

    def start(self):
        self.i = 0
        return self._next()

    def _next(self):
        port = self.port
        if self.i == len(self.values):
            port.valid.set(0)
            return DONE
        idle = 0
        if self.gap:
            while self.rng.random() < self.gap:
                idle += 1
        self.idle = idle
        if idle:
            port.valid.set(0)
        else:
            port.payload.set(self.values[self.i])
            port.valid.set(1)
        return AWAKE

    def edge(self):
        if self.idle:
            self.idle -= 1
            if not self.idle:
                self.port.payload.set(self.values[self.i])
                self.port.valid.set(1)
            return AWAKE
        if self.port.ready.high():
            self.i += 1
            return self._next()
        return SLEEP, [self.port.ready]

    def wake(self):
        return AWAKE


class _Get:
    def __init__(self, port, count, last_mask, stall, rng):
        self.port, self.count, self.last_mask = port, count, last_mask
        self.stall, self.rng = stall, rng
        self.out = []

    def start(self):
        if self.count == 0:
            return DONE
        self.ready = 1
        self.port.ready.set(1)
        return self._decide()

    def _decide(self):
        if self.stall:
            self.ready = int(self.rng.random() >= self.stall)
            self.port.ready.set(self.ready)
        return AWAKE

    def edge(self):
        port = self.port
        if not port.valid.high():
            return SLEEP, [port.valid]
        if self.ready:
            value = port.payload.get()
            self.out.append(value)
            if (len(self.out) == self.count or
                    (self.last_mask is not None and value & self.last_mask)):
                port.ready.set(0)
                return DONE
        return self._decide()

    def wake(self):
        return self._decide()


class _Mem:
    """Back-to-back requests on ``req`` while collecting one response each on ``resp``."""

    def __init__(self, req, resp, values, gap, stall, rng):
        self.req, self.resp, self.values = req, resp, values
        self.gap, self.stall, self.rng = gap, stall, rng
        self.out = []

    def start(self):
        if not self.values:
            return DONE
        self.sent = 0
        self.offered = False
        self.ready = 1
        self.resp.ready.set(1)
        return self._prepare()

    def _prepare(self):
        if (self.sent < len(self.values) and not self.offered and
                not (self.gap and self.rng.random() < self.gap)):
            self.req.payload.set(self.values[self.sent])
            self.req.valid.set(1)
            self.offered = True
        if self.stall:
            self.ready = int(self.rng.random() >= self.stall)
            self.resp.ready.set(self.ready)
        return AWAKE

    def edge(self):
        req, resp, out = self.req, self.resp, self.out
        n = len(self.values)
        offered_before = self.offered
        took = offered_before and req.ready.high()
        rvalid = resp.valid.high()
        if rvalid and self.ready:
            out.append(resp.payload.get())
        if took:
            self.sent += 1
            self.offered = False
            if self.sent == n or self.gap:
                req.valid.set(0)
        if len(out) == n:
            req.valid.set(0)
            resp.ready.set(0)
            return DONE
        self._prepare()
        fresh = self.offered and not offered_before     # offered after a gap: ready unknown
        if rvalid or fresh or (self.sent < n and not self.offered):
            return AWAKE        # a response to take, a fresh offer, a gap to roll: next cycle
        # Nothing moves until the design answers (a response is pending) or accepts a
        # request it refused at this edge (or that it took: then an answer is pending). Sleep
        # until either rises; a design keeping ``ready`` high while it works (pipelined)
        # wakes us with its answer.
        wake_on = []
        if self.sent > len(out):
            wake_on.append(resp.valid)
        if self.offered:
            wake_on.append(req.ready)
        return SLEEP, wake_on

    def wake(self):
        return self._prepare()


class Machine:
    """Runs the phases of a job from GPI callbacks."""

    def __init__(self, dut, job, progress=None):
        self.job = job
        self.clk = dut.clk._handle
        self.ports = {name: _Ports(dut, name) for name in job["ports"]}
        self.progress = progress
        self.period_steps = convert(job["period_ns"], "ns", to="step")
        self.results = {"phases": [], "timeout": None}
        self.finished = False
        self.error = None
        self.k = -1
        self.clk_cb = None          # pending clock-edge callback
        self.sleepers = {}          # op -> pending wake callback

    def cycle(self):
        return get_sim_time("step") // self.period_steps

    def _make_ops(self, k, ph):
        seed = self.job["seed"]
        arrays = self.job["arrays"]
        ops = []
        for j, op in enumerate(ph["ops"]):
            if op["kind"] == "put":
                ops.append(_Put(self.ports[op["port"]], arrays[op["data"]], op["gap"],
                                _rng(seed, k, j, "put")))
            elif op["kind"] == "get":
                ops.append(_Get(self.ports[op["port"]], op["count"], op["last_mask"],
                                op["stall"], _rng(seed, k, j, "get")))
            else:
                ops.append(_Mem(self.ports[op["req"]], self.ports[op["resp"]],
                                arrays[op["data"]], op["gap"], op["stall"],
                                _rng(seed, k, j, "mem")))
        return ops

    # -- phase sequencing (called at a clock edge, or at the start) --
    def _next_phase(self):
        while True:
            self.k += 1
            phases = self.job["phases"]
            if self.k == len(phases):
                self.finished = True
                return
            self.ops = self._make_ops(self.k, phases[self.k])
            self.phase_start = self.cycle()
            self.awake = []
            self.pending = 0
            for op in self.ops:
                self._route(op, op.start())
            if self.pending:
                return
            self._end_phase()           # nothing to do (empty ops): next one

    def _end_phase(self, end=None):
        self.results["phases"].append({
            "start": self.phase_start, "end": self.cycle() if end is None else end,
            "data": [op.out for op in self.ops]})
        if self.progress is not None:
            self.progress.write(f"{self.k}\n")
            self.progress.flush()

    def _route(self, op, status):
        if status is DONE:
            return
        self.pending += 1
        if status is AWAKE:
            self.awake.append(op)
        else:       # (SLEEP, signals): wake on the first of them to rise
            self.sleepers[op] = [_register(signal.raw, self._on_wake, _RISING, op, j)
                                 for j, signal in enumerate(status[1])]

    def _arm(self):
        if self.clk_cb is None and self.awake and not self.finished:
            self.clk_cb = simulator.register_value_change_callback(self.clk, self._on_edge,
                                                                   _RISING)

    # -- GPI callbacks --
    def _on_edge(self):
        self.clk_cb = None
        try:
            awake = self.awake
            if len(awake) == 1:             # fast path: one busy port that stays busy
                status = awake[0].edge()
                if status is AWAKE:
                    self.clk_cb = _register(self.clk, self._on_edge, _RISING)
                    return
                self.awake = []
                self.pending -= 1
                self._route(awake[0], status)
                if not self.pending:
                    self._end_phase()
                    self._next_phase()
                self._arm()
                return
            self.awake = []
            self.pending -= len(awake)
            for op in awake:
                self._route(op, op.edge())
            if not self.pending:
                self._end_phase()
                self._next_phase()
            self._arm()
        except BaseException as exc:        # reported by the test task
            self.error = exc
            self.finished = True

    def _on_wake(self, op, j):
        try:
            for i, cb in enumerate(self.sleepers.pop(op)):
                if i != j:
                    cb.deregister()         # the others have not fired
            self.pending -= 1
            self._route(op, op.wake())
            self._arm()
        except BaseException as exc:
            self.error = exc
            self.finished = True

    def start(self):
        self._next_phase()
        self._arm()

    def abort(self):
        """Stop at a timed-out phase: drop pending callbacks, keep what was collected."""
        if self.clk_cb is not None:
            self.clk_cb.deregister()
            self.clk_cb = None
        for cbs in self.sleepers.values():
            for cb in cbs:
                cb.deregister()
        self.sleepers.clear()
        self.results["timeout"] = self.k
        self.results["phases"].append({"start": self.phase_start, "end": None,
                                       "data": [op.out for op in self.ops]})
        if self.progress is not None:
            self.progress.write(f"{self.k}\n")
            self.progress.flush()
        self.finished = True


def _inputs(job):
    names = set()
    for ph in job["phases"]:
        for op in ph["ops"]:
            if op["kind"] == "put":
                names.add(op["port"])
            elif op["kind"] == "mem":
                names.add(op["req"])
    return names


async def run_job(dut, job, progress=None):
    if not hasattr(dut, "clk"):
        raise RuntimeError("the cocotb player needs a design with a clock 'clk'; the compiled "
                           "player (the default) plays combinational designs")
    period_ns = job["period_ns"]
    clock = Clock(dut.clk, period_ns, unit="ns")
    if clock.impl != "gpi":
        # the edge sampling relies on the C++ clock and inertial writes
        raise RuntimeError("cocotb_player needs COCOTB_TRUST_INERTIAL_WRITES=1")
    clock.start()
    machine = Machine(dut, job, progress)
    inputs = _inputs(job)
    for name, p in machine.ports.items():
        if name in inputs:
            p.valid.set(0)
        else:
            p.ready.set(0)
    if hasattr(dut, "rst"):
        # a reset pulse of two clock edges before the script, as the compiled player
        # gives (player.cpp: at gate level only the reset initialises a state machine)
        dut.rst.value = 1
        for _ in range(2):
            await RisingEdge(dut.clk)
        dut.rst.value = 0
    await RisingEdge(dut.clk)
    machine.start()
    while not machine.finished:
        await Timer(_POLL_CYCLES * period_ns, "ns")
        if machine.finished:
            break
        timeout = job["phases"][machine.k]["timeout"]
        if machine.cycle() - machine.phase_start > timeout:
            machine.abort()
    if machine.error is not None:
        raise machine.error
    return machine.results


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
        results = await run_job(dut, job, progress)
    if prof_path:
        prof.disable()
        prof.dump_stats(prof_path)
    (workdir / "result.json").write_text(json.dumps(results))
