"""The blocking backend: a connected ``socket.socket`` (or ``ssl.SSLSocket``) as a
``NetworkStream``; ``SyncBackend`` dials with ``socket.create_connection``."""

from __future__ import annotations

import contextlib
import socket
from typing import TYPE_CHECKING, Any

from .._sockcheck import readable_probe
from ._base import READ_SIZE, SocketOption

if TYPE_CHECKING:
    import ssl

__all__ = ["SyncBackend", "SyncSocketStream"]


class SyncSocketStream:
    """A blocking socket as a ``NetworkStream``. The socket's timeout is set only when a
    wait asks for another one than the last (``settimeout`` is a system call that sets
    the descriptor's blocking mode again). A timeout of 0 still raises ``TimeoutError``
    (the socket's non-blocking ``BlockingIOError``)."""

    __slots__ = ("_timeout", "is_stale", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._timeout = sock.gettimeout()
        #: An idle connection that is readable was closed by the server (or sent junk).
        self.is_stale = readable_probe(sock)

    def send(self, data: bytes, timeout: float | None) -> None:
        if timeout != self._timeout:
            self.sock.settimeout(timeout)
            self._timeout = timeout
        try:
            self.sock.sendall(data)
        except BlockingIOError:
            raise TimeoutError from None

    def receive(self, max_bytes: int = READ_SIZE, timeout: float | None = None) -> bytes:
        if timeout != self._timeout:
            self.sock.settimeout(timeout)
            self._timeout = timeout
        try:
            return self.sock.recv(max_bytes)
        except BlockingIOError:
            raise TimeoutError from None

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> SyncSocketStream:
        """TLS over this socket (``ssl_context.wrap_socket``), the handshake within
        ``timeout``; on failure the socket is closed."""
        try:
            self.sock.settimeout(timeout)
            tls = ssl_context.wrap_socket(self.sock, server_hostname=server_hostname)
        except BaseException:
            self.close()
            raise
        return SyncSocketStream(tls)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def get_extra_info(self, name: str) -> Any:
        if name == "socket":
            return self.sock
        if name == "ssl_object":
            return self.sock if hasattr(self.sock, "getpeercert") else None
        return None


class SyncBackend:
    """Opens blocking TCP connections."""

    __slots__ = ()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None,
        *,
        local_address: str | None = None,
        socket_options: tuple[SocketOption, ...] = (),
    ) -> SyncSocketStream:
        source = None if local_address is None else (local_address, 0)
        sock = socket.create_connection((host, port), timeout=timeout, source_address=source)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for option in socket_options:
                sock.setsockopt(*option)
        except BaseException:
            sock.close()
            raise
        return SyncSocketStream(sock)
