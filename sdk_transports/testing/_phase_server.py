"""``PhaseServer``: an HTTP/1.1 server on 127.0.0.1, plain or TLS, that pauses before
each phase of an exchange, so that a client cancelled at a random time is caught in
every one of them.

Each accepted connection (one thread each) pauses before the TLS handshake, before
reading each request's body, before the response head and again inside the body; each
pause lasts 0 (half of them) or up to ``max_pause`` seconds, drawn from a random source
seeded with ``seed`` and the connection's number. A request is answered with ``200``
and a body of ``BODY_SIZE`` bytes, on a keep-alive connection until the client closes.

Stopping (leaving the ``with`` block) is bounded, as for every ``ThreadedServer``.
"""

from __future__ import annotations

import random
import socket
import ssl
import threading

from ._threaded import Slot, Stopped, ThreadedServer

__all__ = ["BODY_SIZE", "PhaseServer"]

BODY_SIZE = 2000
_MAX_HEAD = 64 * 1024
_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % BODY_SIZE


class PhaseServer(ThreadedServer):
    """Serve on an ephemeral 127.0.0.1 port, with TLS when ``ssl_context`` is given;
    use it as a context manager. ``connections`` counts the connections accepted."""

    kind = "PhaseServer"

    def __init__(
        self, *, ssl_context: ssl.SSLContext | None = None, seed: int = 0, max_pause: float = 0.004
    ) -> None:
        super().__init__(ssl_context=ssl_context)
        self._seed = seed
        self._max_pause = max_pause

    def accepted(self, number: int) -> random.Random:
        return random.Random(self._seed * 1_000_003 + number)

    def _pause(self, rng: random.Random) -> None:
        seconds = rng.uniform(0.0, self._max_pause) if rng.random() < 0.5 else 0.0
        if self.stopping.wait(seconds):
            raise Stopped

    def serve_connection(self, slot: Slot, state: random.Random) -> None:
        rng = state
        slot.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms stalls
        self._pause(rng)
        if self.ssl_context is not None:
            self.start_tls(slot)
        conn = slot.sock
        buffered = b""
        while True:
            head, buffered = _read_until(conn, buffered, self.stopping)
            self._pause(rng)
            buffered = _discard_body(conn, head, buffered, self.stopping)
            self._pause(rng)
            conn.sendall(_HEAD + b"x" * (BODY_SIZE // 2))
            self._pause(rng)
            conn.sendall(b"x" * (BODY_SIZE - BODY_SIZE // 2))


def _recv(conn: socket.socket, stopping: threading.Event) -> bytes:
    data = conn.recv(64 * 1024)
    if not data or stopping.is_set():
        raise Stopped
    return data


def _read_until(
    conn: socket.socket, buffered: bytes, stopping: threading.Event
) -> tuple[bytes, bytes]:
    """A request head (up to its blank line) and the bytes read past it."""
    while b"\r\n\r\n" not in buffered:
        if len(buffered) > _MAX_HEAD:
            raise Stopped
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
            raise Stopped
    while len(buffered) < length:
        length -= len(buffered)
        buffered = _recv(conn, stopping)
    return buffered[length:]
