"""A threaded TCP (or TLS) server on 127.0.0.1 that reads and writes exact bytes.

Built on the testing kit's ``ThreadedServer`` (as ``FaultServer`` is): each accepted
connection runs ``handler(conn)`` on its own daemon thread; ``conn`` reads whole
requests as raw bytes (``FaultServer`` parses them with h11 instead, so use this one to
see exactly what a client wrote) and writes whatever bytes the test scripts, so faults a real
HTTP server would never produce (a truncated body, a reply that is not HTTP, a header
block of 200 KiB) are byte-exact. The server records the peer port of every accepted
connection and counts the requests it read, so tests can tell reuse from reconnects.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Callable

from sdk_transports.testing._threaded import Slot, ThreadedServer

__all__ = [
    "RawConnection",
    "RawServer",
    "keep_alive",
    "never_read",
    "ok_response",
    "once_then_close",
    "reset_after_head",
]

_IO_TIMEOUT = 5.0


def ok_response(body: bytes = b"ok", *, headers: bytes = b"", close: bool = False) -> bytes:
    """A complete ``200 OK`` with a Content-Length body."""
    connection = b"Connection: close\r\n" if close else b""
    return (
        b"HTTP/1.1 200 OK\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n"
        + connection
        + headers
        + b"\r\n"
        + body
    )


class RawConnection:
    """One accepted connection, seen from the server's side."""

    def __init__(self, sock: socket.socket, server: RawServer) -> None:
        self.sock = sock
        self.server = server
        self._buffer = b""

    def read_request(self) -> bytes | None:
        """The next request head (and its Content-Length body); None at EOF."""
        while b"\r\n\r\n" not in self._buffer:
            data = self._recv()
            if not data:
                return None
            self._buffer += data
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(rest) < length:
            data = self._recv()
            if not data:
                return None
            rest += data
        self._buffer = rest[length:]
        with self.server.lock:
            self.server.requests.append(head)
        return head + b"\r\n\r\n" + rest[:length]

    def _recv(self) -> bytes:
        try:
            return self.sock.recv(65536)
        except OSError:
            return b""

    def send(self, data: bytes) -> None:
        """Write ``data``; a peer that went away is not the server's problem."""
        with contextlib.suppress(OSError):
            self.sock.sendall(data)


Handler = Callable[[RawConnection], None]


class RawServer(ThreadedServer):
    """Serve ``handler`` on 127.0.0.1 (TLS when ``ssl_context`` is given; a client that
    refuses the certificate just ends its connection). ``peer_ports`` lists the client
    port of every connection, ``requests`` the heads ``RawConnection.read_request`` read,
    and ``closed`` is set whenever a handler returned and its socket was closed."""

    kind = "RawServer"

    def __init__(self, handler: Handler, *, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(ssl_context=ssl_context, io_timeout=_IO_TIMEOUT)
        self.handler = handler
        self.lock = threading.Lock()
        self.peer_ports: list[int] = []
        self.requests: list[bytes] = []
        self.closed = threading.Event()

    def serve_connection(self, slot: Slot, state: object) -> None:
        with self.lock:
            self.peer_ports.append(slot.sock.getpeername()[1])
        if self.ssl_context is not None:
            self.start_tls(slot)
        self.handler(RawConnection(slot.sock, self))

    def on_finished(self, slot: Slot) -> None:
        self.closed.set()


def keep_alive(response: bytes) -> Handler:
    """Answer every request on the connection with ``response``, until EOF."""

    def handler(conn: RawConnection) -> None:
        while conn.read_request() is not None:
            conn.send(response)

    return handler


def once_then_close(response: bytes, *, reset: bool = False) -> Handler:
    """Read one request, write ``response``, then close: FIN, or RST when ``reset``.

    The whole request was read, so a plain close sends FIN and the client reads every
    byte written before it.
    """

    def handler(conn: RawConnection) -> None:
        if conn.read_request() is None:
            return
        conn.send(response)
        if reset:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    return handler


def never_read(conn: RawConnection) -> None:
    """Accept, then read nothing until the server stops: the client's writes block."""
    conn.server.stopping.wait(_IO_TIMEOUT * 2)


def reset_after_head(conn: RawConnection) -> None:
    """Read the request head only, then close with RST (the body is still coming)."""
    head = b""
    while b"\r\n\r\n" not in head:
        data = conn._recv()
        if not data:
            return
        head += data
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
