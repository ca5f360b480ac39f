"""Transports by URL: loopback serial, TCP against a local echo server, clear errors."""

import socket
import threading

import pytest

from neurofab.host.transport import TransportError, open_transport


def read_exactly(t, n, timeout=2.0):
    out = b""
    while len(out) < n:
        chunk = t.read(n - len(out), timeout)
        assert chunk, f"timed out after {out!r}"
        out += chunk
    return out


def test_loop_serial_round_trip():
    with open_transport("loop://") as t:
        t.write(b"\x00neurofab\xff")
        assert read_exactly(t, 10) == b"\x00neurofab\xff"
        assert t.read(1, 0.01) == b""


@pytest.fixture
def echo_server():
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def serve():
        for _ in range(2):                       # two clients, then stop
            conn, _ = srv.accept()
            with conn:
                while data := conn.recv(4096):
                    conn.sendall(data)
        srv.close()
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    yield port
    th.join(timeout=5)


def test_tcp_round_trip_and_reconnect(echo_server):
    payload = bytes(range(256)) * 4
    for _ in range(2):
        with open_transport(f"tcp://127.0.0.1:{echo_server}") as t:
            t.write(payload)
            assert read_exactly(t, len(payload)) == payload


def test_bad_urls_are_clear_errors():
    with pytest.raises(ValueError, match="unknown transport 'http'"):
        open_transport("http://example")
    with pytest.raises(ValueError, match="expected tcp://HOST:PORT"):
        open_transport("tcp://127.0.0.1")
    with pytest.raises(ValueError, match="baud must be an integer"):
        open_transport("serial:///dev/ttyUSB9?baud=fast")
    with pytest.raises(TransportError, match="cannot open serial port '/dev/nonexistent-tty'"):
        open_transport("serial:///dev/nonexistent-tty?baud=115200")
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(TransportError, match=f"cannot connect to tcp://127.0.0.1:{port}"):
        open_transport(f"tcp://127.0.0.1:{port}", connect_timeout=0.3)


def test_sim_url_options_are_checked():
    """``sim://BOARD?kernel=K&learning=0|1``: anything else is refused before a build."""
    with pytest.raises(ValueError, match=r"unknown option 'speed' "
                                         r"\(sim://BOARD\?kernel=NAME&learning=0\|1&cores=K&encoder=KIND"
                                         r"&gate=ice40\|ecp5\)"):
        open_transport("sim://ulx3s?speed=2")
    with pytest.raises(ValueError, match="learning = 'yes' must be 0 or 1"):
        open_transport("sim://ulx3s?learning=yes")
    with pytest.raises(ValueError, match=r"^a learning core does not fit board icebreaker "
                                         r"\(iCE40UP5K\): too small"):
        open_transport("sim://icebreaker?learning=1")
    with pytest.raises(ValueError, match="'loopback' .* has no core, so no learning core"):
        open_transport("sim://loopback?learning=1")
    with pytest.raises(ValueError, match="cores = 'four' must be a whole number"):
        open_transport("sim://ulx3s?cores=four")
    with pytest.raises(ValueError, match=r"^cores = 5: board ulx3s has fabric tops of 2, 3, "
                                         r"4 cores"):
        open_transport("sim://ulx3s?cores=5")
    with pytest.raises(ValueError, match=r"^encoder = 'morse' is not one of"):
        open_transport("sim://ulx3s?encoder=morse")
