"""The co-simulation infrastructure on stand-in components: transaction scripts on both
back ends, the Verilator build cache, waveforms, timeouts, progress."""

import numpy as np
import pytest
from amaranth import Module, Signal, signed
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from neurofab import toolchain
from neurofab.cosim import verilator as V
from neurofab.cosim.player import (Get, Mem, Phase, Put, Script, job_bytes, play_amaranth,
                                   play_verilator)

MEM_WIDTH = 100          # wider than 64 bits on purpose: payloads are Python ints end to end
MEM_XOR = (1 << 99) | 5


class AddFifo(wiring.Component):
    """``o = i + k`` through a small FIFO, and a request/response port answering each
    request with ``request ^ MEM_XOR`` one or more cycles later (one outstanding)."""

    def __init__(self, k=3, width=8, latency=1, stuck=False):
        self.k, self.width, self.latency, self.stuck = k, width, latency, stuck
        super().__init__({
            "i": In(stream.Signature(width)), "o": Out(stream.Signature(width + 1)),
            "req": In(stream.Signature(MEM_WIDTH)), "resp": Out(stream.Signature(MEM_WIDTH)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.f = f = fifo.SyncFIFOBuffered(width=self.width + 1, depth=4)
        m.d.comb += [
            f.w_data.eq(self.i.payload + self.k), f.w_en.eq(self.i.valid),
            self.i.ready.eq(f.w_rdy),
            self.o.payload.eq(f.r_data), self.o.valid.eq(f.r_rdy), f.r_en.eq(self.o.ready),
        ]
        busy = Signal(range(self.latency + 1))
        data = Signal(MEM_WIDTH)
        with m.If(self.resp.valid & self.resp.ready):
            m.d.sync += self.resp.valid.eq(0)
        with m.If(busy == 1):
            m.d.sync += [self.resp.valid.eq(1), self.resp.payload.eq(data)]
        with m.If(busy != 0):
            m.d.sync += busy.eq(busy - 1)
        idle = (busy == 0) & ~self.resp.valid
        if not self.stuck:
            m.d.comb += self.req.ready.eq(idle)
        with m.If(self.req.valid & self.req.ready):
            m.d.sync += [busy.eq(self.latency), data.eq(self.req.payload ^ MEM_XOR)]
        return m


def _script(n=60, seed=1, gap=0.3, stall=0.3):
    rng = np.random.default_rng(seed)
    data = [int(x) for x in rng.integers(0, 256, n)]
    reqs = [int(x) << 70 | k for k, x in enumerate(rng.integers(0, 1 << 29, n))]
    phases = []
    for r in range(3):
        phases.append(Phase([Put("i", data, gap=gap), Get("o", count=n, stall=stall)],
                            f"stream {r}"))
        phases.append(Phase([Mem("req", "resp", reqs, gap=gap if r else 0.0, stall=stall)],
                            f"mem {r}"))
    # a Get that stops at a marker bit: the 9-bit output has bit 8 set for inputs >= 253
    phases.append(Phase([Put("i", [1, 2, 254, 7], gap=gap), Get("o", last_mask=1 << 8)],
                        "until"))
    phases.append(Phase([Get("o", count=1)], "rest"))
    return Script(phases, seed=seed), data, reqs


def _check(result, data, reqs):
    assert result.timeout is None
    assert len(result.phases) == 8
    for r in range(3):
        assert result.phases[2 * r].data == [None, [d + 3 for d in data]]
        assert result.phases[2 * r + 1].data == [[q ^ MEM_XOR for q in reqs]]
    assert result.phases[6].data == [None, [4, 5, 257]]
    assert result.phases[7].data == [[10]]
    ends = [p.end for p in result.phases]
    starts = [p.start for p in result.phases]
    assert starts[1:] == ends[:-1] and ends == sorted(ends)
    n = len(data)
    assert result.phases[0].cycles >= n and result.phases[1].cycles >= 2 * n


@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.3, 0.3), (0.7, 0.1), (0.1, 0.7)])
def test_script_amaranth(gap, stall):
    script, data, reqs = _script(gap=gap, stall=stall)
    seen = []
    res = play_amaranth(AddFifo(latency=2), script, progress=seen.append)
    _check(res, data, reqs)
    assert seen == list(range(8))
    if gap == stall == 0:      # back to back: one transfer per clock
        assert res.phases[0].cycles <= len(data) + 4


def test_script_timeout_amaranth():
    script, data, reqs = _script(n=8)
    script.phases[1].timeout = 200
    res = play_amaranth(AddFifo(stuck=True), script)
    assert res.timeout == 1
    assert res.phases[0].data[1] == [d + 3 for d in data]
    assert res.phases[1].end is None and res.phases[1].data == [[]]


def test_cache_root(monkeypatch, tmp_path):
    assert V.cache_root is toolchain.cache_root
    monkeypatch.setenv("NEUROFAB_CACHE", str(tmp_path / "a"))
    assert toolchain.cache_root() == (tmp_path / "a").resolve()
    monkeypatch.delenv("NEUROFAB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert toolchain.cache_root() == (tmp_path / "x" / "neurofab").resolve()
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert toolchain.cache_root() == (tmp_path / "h" / ".cache" / "neurofab").resolve()


def test_locked_serialises(tmp_path):
    import threading
    import time
    order = []

    def worker(tag):
        with toolchain.locked(tmp_path / "sub" / "x.lock"):
            order.append((tag, "in"))
            time.sleep(0.05)
            order.append((tag, "out"))
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # never two holders at once: every "in" is followed by its own "out"
    assert all(order[i][0] == order[i + 1][0] for i in range(0, len(order), 2))


def test_verilog_is_location_free_and_stable():
    a = V.to_verilog(AddFifo(), name="addfifo")
    b = V.to_verilog(AddFifo(), name="addfifo")
    assert a == b
    assert "src =" not in a and __file__ not in a
    assert "module addfifo(" in a
    # the key changes with the design, the tracing flag and the build arguments
    keys = {V.design_key(a, "addfifo"), V.design_key(a, "addfifo", trace=True),
            V.design_key(a, "addfifo", build_args=["-O3"]),
            V.design_key(V.to_verilog(AddFifo(k=4), name="addfifo"), "addfifo")}
    assert len(keys) == 4


def test_verilator_root_and_environ():
    import os
    root = V.verilator_root()
    assert (root / "bin" / "verilator").exists()
    before = os.environ.get("PATH")
    with V.verilator_environ():
        assert os.environ["VERILATOR_ROOT"] == str(root)
        assert os.environ["PATH"].split(os.pathsep)[0] == str(root / "bin")
    assert os.environ.get("PATH") == before


@pytest.mark.slow
def test_script_verilator(neurofab_cache, tmp_path):
    """Same scripts, same results on Verilator; a rebuild of the same design is a cache hit,
    a different design is not; progress is reported while the simulator runs."""
    dut = AddFifo(latency=2)
    b1 = V.build(dut, name="addfifo")
    b2 = V.build(AddFifo(latency=2), name="addfifo")
    assert b2.cached and b2.build_dir == b1.build_dir and b2.key == b1.key
    assert b1.build_dir.parent == neurofab_cache / "verilator"
    assert b1.binary.exists() and b1.binary == b1.build_dir / "player"
    for k, (gap, stall) in enumerate([(0.0, 0.0), (0.3, 0.3), (0.7, 0.1), (0.1, 0.7)]):
        script, data, reqs = _script(gap=gap, stall=stall)
        seen = []
        res = play_verilator(b1, script, workdir=tmp_path / f"w{k}", progress=seen.append)
        _check(res, data, reqs)
        assert seen == list(range(8))
        if gap == stall == 0:
            assert res.phases[0].cycles <= len(data) + 4
        # the Amaranth simulator sees the same transfers (cycle counts may differ only
        # through the random gaps/stalls, which each back end draws itself)
        ref = play_amaranth(AddFifo(latency=2), script)
        assert [p.data for p in ref.phases] == [p.data for p in res.phases]
        if gap == stall == 0:
            assert [p.cycles for p in ref.phases] == [p.cycles for p in res.phases]
    other = V.build(AddFifo(k=5, latency=2), name="addfifo")
    assert other.key != b1.key


@pytest.mark.slow
def test_verilator_timeout_and_vcd(tmp_path):
    script, data, reqs = _script(n=8)
    script.phases[1].timeout = 200
    b = V.build(AddFifo(stuck=True), name="addfifo_stuck", trace=True)
    vcd = tmp_path / "stuck.vcd"
    res = play_verilator(b, script, workdir=tmp_path / "w", vcd_path=vcd)
    assert res.timeout == 1
    assert res.phases[0].data[1] == [d + 3 for d in data]
    assert res.phases[1].end is None and res.phases[1].data == [[]]
    text = vcd.read_text()
    assert "$enddefinitions" in text and "req__valid" in text
    with pytest.raises(ValueError, match="trace=True"):
        play_verilator(V.build(AddFifo(), name="addfifo"), script, workdir=tmp_path / "w2",
                       vcd_path=vcd)


@pytest.mark.slow
def test_verilator_build_error_is_reported(tmp_path):
    with pytest.raises(V.VerilatorError, match="build of broken failed"):
        V.build("module broken(input clk); this is not verilog endmodule\n", name="broken",
                cache_dir=tmp_path)


@pytest.mark.slow
def test_edge_sampling_semantics(tmp_path):
    """The player reads the signals an edge samples before evaluating it and drives the
    inputs of the next cycle after it. A register stage makes the difference visible: each
    accepted input shows up exactly once, in order, one cycle later."""
    script = Script([Phase([Put("i", list(range(40))), Get("o", count=40)], "x")])
    b = V.build(AddFifo(k=0), name="addfifo_k0")
    res = play_verilator(b, script, workdir=tmp_path)
    assert res.phases[0].data[1] == list(range(40))
    # SyncFIFOBuffered: 2 cycles of latency, then one per clock
    assert res.phases[0].cycles == 40 + 2


class ElaborateOnce(AddFifo):
    """Some designs (memory ports requested in ``elaborate`` of memories made in
    ``__init__``) break when elaborated twice: the build must elaborate once."""

    def elaborate(self, platform):
        assert not getattr(self, "_elaborated", False), "elaborated twice"
        self._elaborated = True
        return super().elaborate(platform)


@pytest.mark.slow
def test_build_elaborates_once():
    b = V.build(ElaborateOnce(k=7), name="addfifo_once")
    again = V.build(ElaborateOnce(k=7), name="addfifo_once")
    assert again.cached and again.key == b.key
    assert V.design_key(V.to_verilog(ElaborateOnce(k=7), name="addfifo_once"),
                        "addfifo_once") == b.key


class Named(wiring.Component):
    """``o = i`` through a register whose name is a parameter."""
    i: In(8)
    o: Out(8)

    def __init__(self, reg="r"):
        self.reg = reg
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        r = Signal(8, name=self.reg)
        m.d.sync += r.eq(self.i)
        m.d.comb += self.o.eq(r)
        return m


def test_build_memo_fingerprint():
    """The build memo's fingerprint of a component changes with its logic and with the
    names of its signals (they are in the Verilog), not between two elaborations."""
    def fingerprint(dut):
        return V._elaborated(dut, "named")[0]
    a = fingerprint(Named("r"))
    assert a == fingerprint(Named("r"))
    assert a != fingerprint(Named("q"))
    assert fingerprint(AddFifo(k=3)) != fingerprint(AddFifo(k=4))
    # on a miss the same elaboration gives the RTLIL that amaranth.back.rtlil would
    from amaranth.back import rtlil
    assert V._elaborated(Named("r"), "named")[1]() == rtlil.convert(
        Named("r"), name="named", emit_src=False)


class Negate(wiring.Component):
    """Signed payloads: ``o = -i`` (registered)."""
    i: In(stream.Signature(signed(8)))
    o: Out(stream.Signature(signed(9)))

    def elaborate(self, platform):
        m = Module()
        with m.If(self.o.ready | ~self.o.valid):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(-self.i.payload)]
        m.d.comb += self.i.ready.eq(self.o.ready | ~self.o.valid)
        return m


def _negate_script():
    values = [-128, -1, 0, 1, 127, -5]
    bits = [v & 0xFF for v in values]            # payloads are the packed bits
    expect = [(-v) & 0x1FF for v in values]
    return Script([Phase([Put("i", bits, gap=0.3), Get("o", count=6, stall=0.3)])]), expect


def test_signed_payloads_amaranth():
    script, expect = _negate_script()
    assert play_amaranth(Negate(), script).phases[0].data[1] == expect


@pytest.mark.slow
def test_signed_payloads_verilator(tmp_path):
    script, expect = _negate_script()
    b = V.build(Negate(), name="negate")
    res = play_verilator(b, script, workdir=tmp_path)
    assert res.phases[0].data[1] == expect
    # negative integers are taken as two's complement, as on the Amaranth simulator
    values = [-128, -1, 0, 1, 127, -5]
    script.phases[0].ops[0].data = values
    assert play_amaranth(Negate(), script).phases[0].data[1] == expect
    assert play_verilator(b, script, workdir=tmp_path).phases[0].data[1] == expect


# --- the compiled player ----------------------------------------------------------------
class CombAdd(wiring.Component):
    """A combinational stream (no clock, no reset): ``o = i + 1``, ``i.ready = o.ready``."""
    i: In(stream.Signature(8))
    o: Out(stream.Signature(9))

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.o.payload.eq(self.i.payload + 1), self.o.valid.eq(self.i.valid),
                     self.i.ready.eq(self.o.ready)]
        return m


def test_job_format():
    import struct
    data = [1, 2, 3]
    script = Script([Phase([Put("i", data, gap=0.5), Get("o", last_mask=1 << 70)], "a",
                           timeout=77),
                     Phase([Mem("req", "resp", [(1 << 99) | 1, 5]), Put("i", data)], "b")],
                    seed=9)
    buf = job_bytes(script, period_ns=2)
    assert buf[:8] == b"NFJOB01\0"
    assert struct.unpack_from("<QQI", buf, 8) == (9, 2000, 4)     # seed, period (ps), ports
    # the same list is stored once; the 100-bit payloads take two words each
    assert buf.count(struct.pack("<IQ", 1, 3)) == 1
    assert struct.pack("<IQ", 2, 2) in buf


def test_port_table(tmp_path):
    header = tmp_path / "Vtop.h"
    header.write_text("    VL_IN8(&clk,0,0);\n    VL_IN8(&i___05Fvalid,0,0);\n"
                      "    VL_OUT16(&o___05Fpayload,8,0);\n    VL_IN(&a,31,0);\n"
                      "    VL_OUT64(&b,40,0);\n    VL_INW(&req___05Fpayload,99,0,4);\n")
    assert V.port_table(header) == {
        "clk": ("clk", 0, 0), "i__valid": ("i___05Fvalid", 0, 0),
        "o__payload": ("o___05Fpayload", 8, 0), "a": ("a", 31, 0), "b": ("b", 40, 0),
        "req__payload": ("req___05Fpayload", 99, 0)}


def test_combinational_amaranth():
    script = Script([Phase([Put("i", list(range(20)), gap=0.3),
                            Get("o", count=20, stall=0.3)])], seed=4)
    assert play_amaranth(CombAdd(), script).phases[0].data[1] == list(range(1, 21))


@pytest.mark.slow
def test_combinational_verilator(tmp_path):
    """A design without a clock: every cycle is one evaluation; transfers happen at the
    same points as on the Amaranth simulator."""
    b = V.build(CombAdd(), name="combadd")
    assert "clk" not in b.verilog_path.read_text()
    for gap, stall in ((0.0, 0.0), (0.3, 0.5)):
        script = Script([Phase([Put("i", list(range(20)), gap=gap),
                                Get("o", count=20, stall=stall)]),
                         Phase([Put("i", [255]), Get("o", last_mask=1 << 8)])], seed=4)
        res = play_verilator(b, script, workdir=tmp_path)
        assert res.timeout is None
        assert res.phases[0].data[1] == list(range(1, 21))
        assert res.phases[1].data[1] == [256]
        if gap == stall == 0:
            ref = play_amaranth(CombAdd(), script)
            assert [p.cycles for p in res.phases] == [p.cycles for p in ref.phases] == [20, 1]


@pytest.mark.slow
def test_player_reports_a_missing_port(tmp_path):
    b = V.build(CombAdd(), name="combadd")
    script = Script([Phase([Get("nope", count=1)])])
    with pytest.raises(V.VerilatorError, match="no stream port 'nope'"):
        play_verilator(b, script, workdir=tmp_path)


@pytest.mark.slow
def test_cocotb_player(tmp_path):
    """The cocotb player stays selectable: same transactions as the compiled one; a
    compiled build is rebuilt as a cocotb one from its Verilog (and back)."""
    b = V.build(AddFifo(latency=2), name="addfifo")
    assert b.player == "compiled"
    script, data, reqs = _script(gap=0.3, stall=0.3)
    seen = []
    res = play_verilator(b, script, workdir=tmp_path / "c", player="cocotb",
                         progress=seen.append)
    _check(res, data, reqs)
    assert seen == list(range(8))
    ref = play_verilator(b, script, workdir=tmp_path / "p")
    assert [p.data for p in ref.phases] == [p.data for p in res.phases]
    cb = V.as_player(b, "cocotb")
    assert cb.player == "cocotb" and cb.cached and cb.key != b.key
    assert V.as_player(cb, "compiled").key == b.key


class Chatty(AddFifo):
    """AddFifo that prints every accepted input (``$display`` in the Verilog)."""

    def elaborate(self, platform):
        from amaranth.hdl import Print
        m = super().elaborate(platform)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += Print("got", self.i.payload)
        return m


@pytest.mark.slow
def test_design_output_does_not_disturb_progress(tmp_path):
    """What the design prints goes to the player's log, progress through its own pipe."""
    b = V.build(Chatty(), name="chatty")
    script, data, reqs = _script(n=10)
    seen = []
    res = play_verilator(b, script, workdir=tmp_path, progress=seen.append)
    _check(res, data, reqs)
    assert seen == list(range(8))
    assert "got" in (tmp_path / "player.log").read_text()
