"""A tiny threaded TCP (or TLS) server on 127.0.0.1 that writes exact bytes.

Each accepted connection runs ``handler(conn)`` on its own daemon thread; ``conn``
reads whole requests and writes whatever bytes the test scripts, so faults a real
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
from types import TracebackType

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


class RawServer:
    """Serve ``handler`` on 127.0.0.1 (TLS when ``ssl_context`` is given)."""

    def __init__(self, handler: Handler, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.lock = threading.Lock()
        self.peer_ports: list[int] = []
        self.requests: list[bytes] = []
        self.closed = threading.Event()  # set whenever a handler returns
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._socks: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.stopping = threading.Event()
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        with self.lock:
            return len(self.peer_ports)

    def _accept_loop(self) -> None:
        while True:
            try:
                sock, (_, port) = self._listener.accept()
            except OSError:
                return
            if self.stopping.is_set():
                sock.close()
                return
            sock.settimeout(_IO_TIMEOUT)
            with self.lock:
                self.peer_ports.append(port)
                self._socks.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            if self.ssl_context is not None:
                try:
                    sock = self.ssl_context.wrap_socket(sock, server_side=True)
                except (OSError, ssl.SSLError):
                    return  # the client refused our certificate
                with self.lock:
                    self._socks.append(sock)
            self.handler(RawConnection(sock, self))
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            self.closed.set()

    def __enter__(self) -> RawServer:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
            pass  # wakes accept()
        self._acceptor.join(_IO_TIMEOUT)
        self._listener.close()
        with self.lock:
            socks = list(self._socks)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(_IO_TIMEOUT)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()


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
