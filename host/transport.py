"""Byte transports to a board, chosen by URL.

* ``serial:///dev/ttyUSB1?baud=3000000`` — a real board over a UART (pyserial);
* ``tcp://127.0.0.1:PORT`` — anything speaking the byte stream over TCP (a simulated
  board, a network bridge);
* ``sim://BOARD`` — start a simulated board of that name and connect to it over TCP
  (``sim://BOARD?kernel=izhikevich``: its cores run that neuron kernel;
  ``sim://BOARD?learning=1``: its cores learn, ``learning=0`` the default;
  ``sim://BOARD?cores=4``: a fabric of 4 cores behind the AER router;
  ``sim://BOARD?encoder=rate``: a spike encoder in front of the core;
  ``sim://BOARD?gate=ecp5``: the top's netlist synthesised for that FPGA family,
  ``ice40`` or ``ecp5``, simulated instead of its RTL);
* ``loop://`` — pyserial's loopback (what is written is read back), for tests.

Every transport has the same small interface: ``write(data)``, ``read(n, timeout)``
(returns what arrived, possibly nothing), ``close()``; they are context managers.
"""

import socket
import time
from urllib.parse import parse_qs, urlparse

from neurofab.spec import DEFAULT_BAUD, SIMBOARD_BUSY

__all__ = ["Transport", "SerialTransport", "TcpTransport", "open_transport",
           "TransportError", "DEFAULT_BAUD"]



class TransportError(OSError):
    """The link to the board failed (could not open, closed, timed out)."""


class Transport:
    url = ""

    def write(self, data):
        raise NotImplementedError

    def read(self, n, timeout):
        raise NotImplementedError

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SerialTransport(Transport):
    """A pyserial port (``serial://`` device path, or any pyserial URL such as ``loop://``)."""

    def __init__(self, port, baud=DEFAULT_BAUD, url=""):
        import serial
        self.url = url or port
        try:
            self._ser = serial.serial_for_url(port, baudrate=baud, timeout=0)
        except (serial.SerialException, ValueError) as exc:
            raise TransportError(f"cannot open serial port {port!r} at {baud} baud: {exc}") \
                from None

    def write(self, data):
        self._ser.write(bytes(data))
        self._ser.flush()

    def read(self, n, timeout):
        self._ser.timeout = timeout
        return self._ser.read(n)

    def close(self):
        self._ser.close()


class TcpTransport(Transport):
    """A TCP byte stream.

    A simulated board serves one client at a time: a second client gets
    ``spec.SIMBOARD_BUSY`` and is closed, which ``read`` reports as a ``TransportError``
    ("board busy: another client is connected"); it also disconnects a client idle for its
    client timeout (60 s by default), which ``read`` and ``write`` report as closed.
    """

    def __init__(self, host, port, *, connect_timeout=5.0, url="", owner=None):
        self.url = url or f"tcp://{host}:{port}"
        self._owner = owner          # e.g. a simulated-board process closed with us
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                self._sock = socket.create_connection((host, port), timeout=connect_timeout)
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise TransportError(f"cannot connect to {self.url}: {exc}") from None
                time.sleep(0.05)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._head = b""             # the connection's first bytes, until told from busy

    def write(self, data):
        try:
            self._sock.sendall(bytes(data))
        except OSError as exc:
            raise TransportError(f"{self.url}: write failed: {exc}") from None

    def read(self, n, timeout):
        self._sock.settimeout(max(timeout, 1e-6))
        try:
            data = self._sock.recv(n)
        except socket.timeout:
            return b""
        except OSError as exc:
            raise TransportError(f"{self.url}: read failed: {exc}") from None
        if self._head is not None:
            # the first bytes of the connection: a simulated board's busy message?
            self._head += data
            if self._head.startswith(SIMBOARD_BUSY):
                raise TransportError(f"{self.url}: board busy: another client is connected "
                                     f"(a simulated board serves one client at a time)")
            if not SIMBOARD_BUSY.startswith(self._head):
                data, self._head = self._head, None
            elif data:
                return b""           # a prefix of the busy message so far: wait for more
        if not data:
            raise TransportError(f"{self.url}: connection closed by the board (a simulated "
                                 f"board disconnects a client that sent nothing for its "
                                 f"client timeout)")
        return data

    def close(self):
        try:
            self._sock.close()
        finally:
            if self._owner is not None:
                self._owner.close()
                self._owner = None


def open_transport(url, *, connect_timeout=5.0):
    """Open the transport a URL names (see the module docstring)."""
    parsed = urlparse(url)
    scheme = parsed.scheme
    if scheme == "serial":
        query = parse_qs(parsed.query)
        try:
            baud = int(query.get("baud", [DEFAULT_BAUD])[0])
        except ValueError:
            raise ValueError(f"{url}: baud must be an integer") from None
        if not parsed.path:
            raise ValueError(f"{url}: no device path (serial:///dev/ttyUSB1?baud=...)")
        return SerialTransport(parsed.path, baud, url=url)
    if scheme == "loop":
        return SerialTransport("loop://", url=url)
    if scheme == "tcp":
        if not parsed.hostname or not parsed.port:
            raise ValueError(f"{url}: expected tcp://HOST:PORT")
        return TcpTransport(parsed.hostname, parsed.port, connect_timeout=connect_timeout,
                            url=url)
    if scheme == "sim":
        from .simboard import check_gate, start_simulated_board
        board = parsed.netloc or parsed.path.strip("/")
        query = parse_qs(parsed.query)
        unknown = sorted(set(query) - {"kernel", "learning", "cores", "encoder", "gate"})
        if unknown:
            raise ValueError(f"{url}: unknown option {unknown[0]!r} "
                             f"(sim://BOARD?kernel=NAME&learning=0|1&cores=K&encoder=KIND"
                             f"&gate=ice40|ecp5)")
        kernel = query.get("kernel", [None])[-1]
        learning = query.get("learning", ["0"])[-1]
        if learning not in ("0", "1"):
            raise ValueError(f"{url}: learning = {learning!r} must be 0 or 1")
        cores = query.get("cores", [None])[-1]
        if cores is not None:
            if not cores.isdigit():
                raise ValueError(f"{url}: cores = {cores!r} must be a whole number")
            cores = int(cores)
        gate = query.get("gate", [None])[-1]
        try:
            check_gate(gate)
        except ValueError as exc:
            raise ValueError(f"{url}: {exc}") from None
        proc = start_simulated_board(board, kernel=kernel, learning=learning == "1",
                                     cores=cores, encoder=query.get("encoder", [None])[-1],
                                     gate=gate)
        try:
            return TcpTransport("127.0.0.1", proc.port, connect_timeout=connect_timeout,
                                url=url, owner=proc)
        except BaseException:
            proc.close()
            raise
    raise ValueError(f"{url}: unknown transport {scheme!r} (serial://, tcp://, sim://, loop://)")
