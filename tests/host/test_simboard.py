"""The simulated board: a Verilated top level whose UART pins are bridged to TCP."""

import os
import random
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from neurofab.host.simboard import (DEFAULT_DIVISOR, SimBoardError, SimBoardProcess, UartEcho,
                                    build_info, build_simboard, measure_cycles_per_second,
                                    start_simulated_board, top_ports)

#: The floor the speed test asserts; measured values are several times higher.
MIN_CYCLES_PER_SECOND = 1_000_000


def recv_exactly(sock, n, timeout=20.0):
    sock.settimeout(timeout)
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk, f"connection closed after {len(out)} of {n} bytes"
        out += chunk
    return bytes(out)


def echo_round_trip(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        return recv_exactly(s, len(data))


def selectors_wait(f, timeout):
    with selectors.DefaultSelector() as sel:
        sel.register(f, selectors.EVENT_READ)
        return bool(sel.select(timeout))


# --- fast: no Verilator build ----------------------------------------------------------------
def test_top_ports_reads_the_top_module_only():
    text = ("module sub(a, y);\n  input [3:0] a;\n  output y;\nendmodule\n"
            "module top(clk, rst, rx, tx, led);\n  input clk;\n  wire clk;\n  input rst;\n"
            "  input rx;\n  output tx;\n  reg tx = 1'h1;\n  output [7:0] led;\nendmodule\n")
    assert top_ports(text, "top") == {"clk": ("input", 1), "rst": ("input", 1),
                                      "rx": ("input", 1), "tx": ("output", 1),
                                      "led": ("output", 8)}
    assert top_ports(text, "sub") == {"a": ("input", 4), "y": ("output", 1)}
    with pytest.raises(SimBoardError, match="no module 'nope'"):
        top_ports(text, "nope")


def test_amaranth_names_the_sync_domain_ports_clk_and_rst():
    from neurofab.toolchain import to_verilog
    ports = top_ports(to_verilog(UartEcho(4), name="top"), "top")
    assert ports == {"clk": ("input", 1), "rst": ("input", 1), "rx": ("input", 1),
                     "tx": ("output", 1)}


def test_a_top_without_uart_pins_is_refused_before_building(tmp_path):
    text = "module top(clk, a, y);\n  input clk;\n  input a;\n  output y;\nendmodule\n"
    with pytest.raises(SimBoardError, match=r"no 1-bit input 'rx'.*input clk\[1\]"):
        build_simboard(text, cache_dir=tmp_path)
    assert not (tmp_path / "simboard").exists() or not any((tmp_path / "simboard").iterdir())


def test_parameters_are_validated():
    with pytest.raises(ValueError, match="divisor"):
        UartEcho(1)
    with pytest.raises(ValueError, match="ballast"):
        UartEcho(4, ballast=-1)
    with pytest.raises(ValueError, match="divisor"):
        SimBoardProcess("/nonexistent", 1)


def test_board_names_and_components_are_checked_before_building():
    with pytest.raises(ValueError, match="unknown board 'nope'.*loopback"):
        start_simulated_board("nope")
    echo = UartEcho(4)
    echo._MustUse__silence = True    # refused on purpose, never elaborated
    with pytest.raises(ValueError, match="needs its UART divisor"):
        start_simulated_board(echo)


def _fake_binary(tmp_path, body):
    path = tmp_path / "fake-simboard"
    path.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    path.chmod(0o755)
    return path


def test_a_board_that_dies_before_listening_reports_its_stderr(tmp_path):
    binary = _fake_binary(tmp_path, "sys.stderr.write('simboard: bind: Address in use\\n')\n"
                                    "sys.exit(2)")
    with pytest.raises(SimBoardError, match=r"(?s)exited \(code 2\).*Address in use"):
        SimBoardProcess(binary, 16)


def test_a_board_that_never_announces_times_out_and_is_stopped(tmp_path):
    binary = _fake_binary(tmp_path, "time.sleep(60)")
    t0 = time.monotonic()
    with pytest.raises(SimBoardError, match="did not announce its port within 0.5 s"):
        SimBoardProcess(binary, 16, start_timeout=0.5)
    assert time.monotonic() - t0 < 10


def test_a_board_that_announces_garbage_is_refused(tmp_path):
    binary = _fake_binary(tmp_path, "print('hello', flush=True); time.sleep(60)")
    with pytest.raises(SimBoardError, match="announced 'hello'"):
        SimBoardProcess(binary, 16)


def test_missing_binary_is_a_clear_error(tmp_path):
    with pytest.raises(SimBoardError, match="cannot start"):
        SimBoardProcess(tmp_path / "nope", 16)


# --- slow: Verilator builds ------------------------------------------------------------------
@pytest.fixture(scope="module")
def loopback_binary():
    """The ``loopback`` board (UartEcho at the default divisor), built once (cached)."""
    t0 = time.perf_counter()
    binary = build_simboard(UartEcho(DEFAULT_DIVISOR))
    print(f"loopback simulated board: {time.perf_counter() - t0:.1f} s "
          f"(build {build_info(binary)['build_s']} s when not cached)")
    return binary


@pytest.mark.slow
def test_echo_round_trip_reconnect_and_clean_stop(loopback_binary):
    rng = random.Random(1)
    with SimBoardProcess(loopback_binary, DEFAULT_DIVISOR, stats=True) as board:
        assert board.url == f"tcp://127.0.0.1:{board.port}"
        # every byte value, 0x00 and 0xFF included, then random bytes
        data = bytes(range(256)) + bytes([0x00, 0xFF, 0x00, 0xFF]) + rng.randbytes(1500)
        assert echo_round_trip(board.port, data) == data
        # the client went away; the board serves the next one, state kept
        for _ in range(3):
            data = rng.randbytes(rng.randrange(1, 300))
            assert echo_round_trip(board.port, data) == data
            assert board.running()
        # a client that disconnects with its echo still in flight does not hurt: bytes it
        # sent that have not gone down the line are dropped (a command runs only for a
        # client still there), the echo of the others is discarded (nobody is listening)
        with socket.create_connection(("127.0.0.1", board.port)) as s:
            s.sendall(rng.randbytes(200))
        time.sleep(0.5)
        data = rng.randbytes(100)
        assert echo_round_trip(board.port, data) == data
        assert board.running()
        # small writes, one byte at a time, in one connection
        with socket.create_connection(("127.0.0.1", board.port), timeout=10) as s:
            for b in b"\x00neurofab\xff":
                s.sendall(bytes([b]))
            assert recv_exactly(s, 10) == b"\x00neurofab\xff"
    assert board.returncode == 0, board.stderr_text()
    stats = board.stats
    # (the disconnecting client is dropped unserved if it closed before it was accepted)
    assert stats["connections"] + stats["abandoned"] == 7
    assert stats["framing_errors"] == 0 and stats["bytes_dropped"] == 0
    assert stats["bytes_in"] == stats["bytes_out"] + stats["bytes_discarded"]
    # UART timing is simulated: every byte took at least 10 bit times on the line
    assert stats["cycles"] >= stats["bytes_in"] * 10 * DEFAULT_DIVISOR


@pytest.mark.slow
def test_port_zero_picks_free_ports_and_an_explicit_port_is_used(loopback_binary):
    with SimBoardProcess(loopback_binary, DEFAULT_DIVISOR) as a, \
            SimBoardProcess(loopback_binary, DEFAULT_DIVISOR) as b:
        assert a.port != b.port and a.port > 0 and b.port > 0
        assert echo_round_trip(a.port, b"a") == b"a"
        assert echo_round_trip(b.port, b"b") == b"b"
        # the port is taken: a third board on it fails with the reason on stderr
        with pytest.raises(SimBoardError, match="bind"):
            SimBoardProcess(loopback_binary, DEFAULT_DIVISOR, port=a.port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    with SimBoardProcess(loopback_binary, DEFAULT_DIVISOR, port=free) as c:
        assert c.port == free and c.url == f"tcp://127.0.0.1:{free}"
        assert echo_round_trip(free, b"\x00\xff") == b"\x00\xff"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_the_board_with_exit_0_even_while_waiting(loopback_binary, sig):
    # idle_cycles=0: with nobody connected the clock stops at once (blocked in poll)
    board = SimBoardProcess(loopback_binary, DEFAULT_DIVISOR, idle_cycles=0, stats=True)
    try:
        time.sleep(0.2)
        assert echo_round_trip(board.port, b"wake up") == b"wake up"   # a client wakes it
        time.sleep(0.2)                                                 # asleep again
        os.kill(board.pid, sig)
        assert board.wait(10) == 0
        assert board.stats["waited"] > 0
    finally:
        board.close()


@pytest.mark.slow
def test_max_cycles_stops_the_board_by_itself(loopback_binary):
    with SimBoardProcess(loopback_binary, DEFAULT_DIVISOR, max_cycles=100_000, stats=True) as b:
        assert b.wait(30) == 0
    assert b.stats["cycles"] == 100_000


@pytest.mark.slow
def test_serve_prints_the_url_and_stops_on_sigterm(loopback_binary):
    code = ("import sys; from neurofab.host.simboard import serve; "
            "sys.exit(serve('loopback', port=0))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert selectors_wait(proc.stdout, 120), "serve printed nothing"
        line = proc.stdout.readline().strip()
        assert line.startswith("tcp://127.0.0.1:"), proc.stderr.read()
        port = int(line.rsplit(":", 1)[1])
        assert echo_round_trip(port, b"serve") == b"serve"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.slow
def test_sim_url_transport_talks_to_the_loopback_board(loopback_binary):
    from neurofab.host.transport import open_transport
    with open_transport("sim://loopback") as t:
        t.write(b"\x00hello\xff")
        got = b""
        deadline = time.monotonic() + 10
        while len(got) < 7 and time.monotonic() < deadline:
            got += t.read(7 - len(got), 1.0)
        assert got == b"\x00hello\xff"


# A hand-written top (Verilog text, no reset port): idle high, then a frame 0x55 whose stop
# bit is low, then high for good. The harness must count one framing error, not crash.
FRAMING_TOP = """
module top(clk, rx, tx);
  input clk;
  input rx;
  output tx;
  reg [15:0] n = 16'd0;
  always @(posedge clk) if (n != 16'hffff) n <= n + 16'd1;
  // D = 8: bit k of the frame spans cycles [64 + 8k, 72 + 8k)
  wire [4:0] k = (n - 16'd64) >> 3;
  wire [9:0] frame = 10'b0_01010101_0;   // stop bit low (framing error), data 0x55, start
  assign tx = (n < 16'd64 || n >= 16'd144) ? 1'b1 : frame[k];
endmodule
"""


@pytest.mark.slow
def test_concurrent_traced_builds_agree_framing_errors_are_reported_and_vcd_written(tmp_path):
    results, errors = [], []

    def build():
        try:
            results.append(build_simboard(FRAMING_TOP, trace=True, cache_dir=tmp_path))
        except Exception as exc:   # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=build) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert results[0] == results[1] and results[0].exists()
    entries = sorted(p.name for p in (tmp_path / "simboard").iterdir())
    assert entries == sorted([results[0].parent.name, results[0].parent.name + ".lock"])
    vcd = tmp_path / "board.vcd"
    with SimBoardProcess(results[0], 8, max_cycles=2000, stats=True, vcd=vcd) as board:
        assert board.wait(30) == 0
    assert board.stats["framing_errors"] == 1
    assert "1 framing error(s) on tx" in board.stderr_text()
    text = vcd.read_text()
    assert "$enddefinitions" in text and " tx $end" in text
    assert text.count("\n#") == 2 * 2000 + 1      # both edges of every clock, and time 0


@pytest.mark.slow
def test_vcd_needs_a_traced_build(loopback_binary, tmp_path):
    with pytest.raises(SimBoardError, match="needs a simulator built with tracing"):
        SimBoardProcess(loopback_binary, DEFAULT_DIVISOR, vcd=tmp_path / "x.vcd")


@pytest.mark.slow
def test_simulation_speed():
    stats = measure_cycles_per_second(cycles=5_000_000, details=True)
    print(f"simulated board: {stats['cycles_per_second'] / 1e6:.2f} M cycles/s wall clock, "
          f"{stats['cycles_per_cpu_second'] / 1e6:.2f} M cycles per CPU second "
          f"(UartEcho + 32 ballast lanes, ~4.3 k cells, divisor 4, UART busy both ways)")
    assert stats["bytes_in"] > 0 and stats["bytes_out"] > 0
    # CPU time: a loaded machine (parallel test runs) must not make this flaky
    assert stats["cycles_per_cpu_second"] >= MIN_CYCLES_PER_SECOND

