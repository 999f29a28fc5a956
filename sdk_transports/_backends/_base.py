"""The network-stream seam: what the HTTP/1.1 connection code needs of a connection,
and what a backend does to open one.

A stream is one byte stream to a peer: plain TCP, TLS over TCP, or (for a proxy
tunnel) TLS over another stream. The connection code sends, receives and closes
through it and never asks which kind it has. Every wait takes its own timeout, so a
backend keeps the cheapest timer its loop offers, and ``send`` returns without
waiting when the bytes could be handed over at once.

Errors a stream raises: ``TimeoutError`` when a wait ran out; for everything else an
``OSError`` (``ssl.SSLError`` among them) on the blocking backend and one of
``_anyio.STREAM_ERRORS`` (``OSError`` or anyio's broken/closed errors) on the async
ones. ``receive`` returns ``b""`` at EOF. Nothing here imports ssl, anyio or an event
loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import ssl

__all__ = [
    "READ_SIZE",
    "AsyncNetworkBackend",
    "AsyncNetworkStream",
    "NetworkBackend",
    "NetworkStream",
    "SocketOption",
]

#: The most a single receive asks for.
READ_SIZE = 64 * 1024

#: ``(level, option, value)`` as ``socket.setsockopt`` takes it (issue 14 adds them).
SocketOption = tuple[int, int, int | bytes]


class AsyncNetworkStream(Protocol):
    """One connection's bytes, on an event loop."""

    async def send(self, data: bytes, timeout: float | None) -> None:
        """Send all of ``data``; ``timeout`` bounds each wait for the peer to take
        more (``TimeoutError``). Returns at once when the bytes could be handed over
        without waiting. Cancellation: stops waiting; what went out stays out."""

    async def receive(self, max_bytes: int, timeout: float | None) -> bytes:
        """At most ``max_bytes`` bytes, ``b""`` at EOF; ``timeout`` bounds the wait for
        them (``TimeoutError``). Cancellation: stops waiting; nothing is lost."""

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> AsyncNetworkStream:
        """TLS over this stream (this stream then belongs to the new one).
        Raises ``ssl.SSLError``/``OSError`` or ``TimeoutError``; on failure or
        cancellation this stream is closed."""

    async def aclose(self) -> None:
        """Close the connection at once (no TLS close_notify is waited for)."""

    def close_now(self) -> None:
        """Close the socket without awaiting: the event loop may be gone."""

    def is_stale(self) -> bool:
        """For an idle connection: bytes, EOF or an error arrived, so it must not
        carry another request."""

    def get_extra_info(self, name: str) -> Any:
        """``"socket"`` (the raw socket, or a loop's wrapper of it), ``"ssl_object"``
        (None without TLS); None for anything else."""


class AsyncNetworkBackend(Protocol):
    """Opens streams on one event loop."""

    def clock(self) -> float:
        """The loop's clock (trio's ``current_time`` follows a ``MockClock``)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None,
        *,
        local_address: str | None = None,
        socket_options: tuple[SocketOption, ...] = (),
    ) -> AsyncNetworkStream:
        """A TCP connection (TCP_NODELAY set), from ``local_address`` when given, with
        ``socket_options`` (``setsockopt`` arguments) set on its socket. Raises
        ``OSError`` (``socket.gaierror`` when the name does not resolve) or
        ``TimeoutError``; on failure or cancellation no socket is left open."""

    async def connect_tls(
        self,
        host: str,
        port: int,
        timeout: float | None,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None,
    ) -> AsyncNetworkStream:
        """A TLS connection: ``connect_tcp`` then ``start_tls`` within ``timeout``,
        unless the backend has a faster way to do both. Raises as both do."""


class NetworkStream(Protocol):
    """One connection's bytes, on a blocking socket (the sync twin of
    ``AsyncNetworkStream``, same rules)."""

    def send(self, data: bytes, timeout: float | None) -> None:
        """Send all of ``data``; ``timeout`` bounds each wait (``TimeoutError``)."""

    def receive(self, max_bytes: int, timeout: float | None) -> bytes:
        """At most ``max_bytes`` bytes, ``b""`` at EOF; ``TimeoutError`` past
        ``timeout``."""

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> NetworkStream:
        """TLS over this stream; on failure this stream is closed."""

    def close(self) -> None:
        """Close the connection."""

    def is_stale(self) -> bool:
        """As ``AsyncNetworkStream.is_stale``."""

    def get_extra_info(self, name: str) -> Any:
        """As ``AsyncNetworkStream.get_extra_info``."""


class NetworkBackend(Protocol):
    """Opens blocking streams."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None,
        *,
        local_address: str | None = None,
        socket_options: tuple[SocketOption, ...] = (),
    ) -> NetworkStream:
        """As ``AsyncNetworkBackend.connect_tcp``."""
