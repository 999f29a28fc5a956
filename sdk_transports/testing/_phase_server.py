"""``PhaseServer``: an HTTP/1.1 server on 127.0.0.1, plain or TLS, that pauses before
each phase of an exchange, so that a client cancelled at a random time is caught in
every one of them.

Each accepted connection (one thread each) pauses before the TLS handshake, before
reading each request's body, before the response head and again inside the body; each
pause lasts 0 (half of them) or up to ``max_pause`` seconds, drawn from a random source
seeded with ``seed`` and the connection's number. A request is answered with ``200``
and a body of ``BODY_SIZE`` bytes, on a keep-alive connection until the client closes.

Stopping (leaving the ``with`` block) is bounded: it interrupts pauses, wakes blocked
reads and writes, joins every thread and closes every socket.
"""

from __future__ import annotations

import contextlib
import random
import socket
import ssl
import threading
from types import TracebackType

__all__ = ["BODY_SIZE", "PhaseServer"]

BODY_SIZE = 2000
_HOST = "127.0.0.1"
_IO_TIMEOUT = 10.0  # a backstop: stop() wakes blocked reads and writes long before
_JOIN_TIMEOUT = 5.0
_MAX_HEAD = 64 * 1024
_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % BODY_SIZE


class _Gone(Exception):
    """The server is stopping, or the client went away: end the connection."""


class PhaseServer:
    """Serve on an ephemeral 127.0.0.1 port, with TLS when ``ssl_context`` is given;
    use it as a context manager. ``connections`` counts the connections accepted."""

    def __init__(
        self, *, ssl_context: ssl.SSLContext | None = None, seed: int = 0, max_pause: float = 0.004
    ) -> None:
        self._context = ssl_context
        self._seed = seed
        self._max_pause = max_pause
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._socks: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._accepted = 0
        self._listener = socket.create_server((_HOST, 0))
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def url(self) -> str:
        scheme = "http" if self._context is None else "https"
        return f"{scheme}://{_HOST}:{self.port}"

    @property
    def connections(self) -> int:
        with self._lock:
            return self._accepted

    def __enter__(self) -> PhaseServer:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop within a bounded time; raises ``RuntimeError`` if a thread survives."""
        self._stopping.set()
        with contextlib.suppress(OSError):  # wakes accept()
            socket.create_connection((_HOST, self.port), timeout=1.0).close()
        self._acceptor.join(_JOIN_TIMEOUT)
        self._listener.close()
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(_JOIN_TIMEOUT)
        with self._lock:
            socks = list(self._socks)
            self._socks.clear()
        for sock in socks:
            sock.close()
        alive = [t.name for t in (self._acceptor, *self._threads) if t.is_alive()]
        if alive:
            raise RuntimeError(f"PhaseServer threads did not stop: {alive}")

    def _accept_loop(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._stopping.is_set():
                    sock.close()
                    return
                self._accepted += 1
                self._socks.add(sock)
                rng = random.Random(self._seed * 1_000_003 + self._accepted)
                thread = threading.Thread(target=self._serve, args=(sock, rng), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _pause(self, rng: random.Random) -> None:
        seconds = rng.uniform(0.0, self._max_pause) if rng.random() < 0.5 else 0.0
        if self._stopping.wait(seconds):
            raise _Gone

    def _serve(self, sock: socket.socket, rng: random.Random) -> None:
        conn: socket.socket = sock
        try:
            sock.settimeout(_IO_TIMEOUT)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms stalls
            self._pause(rng)
            if self._context is not None:
                conn = self._context.wrap_socket(
                    sock, server_side=True, do_handshake_on_connect=False
                )
                with self._lock:  # the descriptor moved to ``conn``: stop() shuts that
                    if self._stopping.is_set():
                        raise _Gone
                    self._socks.discard(sock)
                    self._socks.add(conn)
                conn.do_handshake()
            buffered = b""
            while True:
                head, buffered = _read_until(conn, buffered, self._stopping)
                self._pause(rng)
                buffered = _discard_body(conn, head, buffered, self._stopping)
                self._pause(rng)
                conn.sendall(_HEAD + b"x" * (BODY_SIZE // 2))
                self._pause(rng)
                conn.sendall(b"x" * (BODY_SIZE - BODY_SIZE // 2))
        except (_Gone, OSError):  # ssl.SSLError is an OSError
            pass
        finally:
            with self._lock:
                self._socks.discard(sock)
                self._socks.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()
            sock.close()


def _recv(conn: socket.socket, stopping: threading.Event) -> bytes:
    data = conn.recv(64 * 1024)
    if not data or stopping.is_set():
        raise _Gone
    return data


def _read_until(
    conn: socket.socket, buffered: bytes, stopping: threading.Event
) -> tuple[bytes, bytes]:
    """A request head (up to its blank line) and the bytes read past it."""
    while b"\r\n\r\n" not in buffered:
        if len(buffered) > _MAX_HEAD:
            raise _Gone
        buffered += _recv(conn, stopping)
    head, _, rest = buffered.partition(b"\r\n\r\n")
    return head, rest


def _discard_body(
    conn: socket.socket, head: bytes, buffered: bytes, stopping: threading.Event
) -> bytes:
    """Read the Content-Length body of ``head`` (chunked bodies end the connection);
    returns the bytes read past it."""
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding":
            raise _Gone
    while len(buffered) < length:
        length -= len(buffered)
        buffered = _recv(conn, stopping)
    return buffered[length:]
