"""In-memory streams and backends (sync and async) for testing the connection logic
without sockets: each stream replays a script of what the peer sends and records what
it was sent.

A script item is ``bytes`` (one receive's worth; a longer item is split by
``max_bytes``), an exception instance (raised by that receive: ``TimeoutError`` plays a
read timeout, an ``OSError`` a broken connection) or ``HANG`` (the receive waits until
cancelled; the blocking stream raises ``TimeoutError`` instead). After the script the
peer has closed: ``b""``.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._base import SocketOption

if TYPE_CHECKING:
    import ssl

__all__ = ["HANG", "AsyncMockBackend", "AsyncMockStream", "MockBackend", "MockStream"]

#: A script item: the peer says nothing, for ever.
HANG = object()

ScriptItem = bytes | BaseException | object


class MockStream:
    """A ``NetworkStream`` over a script. ``sent`` holds what was sent, ``timeouts``
    each wait's ``(what, timeout)``, ``tls`` the server name TLS was started for;
    ``send_error`` (set it) is raised by the next send, ``stale`` makes ``is_stale``
    true."""

    def __init__(self, script: Iterable[ScriptItem] = ()) -> None:
        self._script: deque[ScriptItem] = deque(script)
        self.sent = bytearray()
        self.timeouts: list[tuple[str, float | None]] = []
        self.tls: str | None = None
        self.closed = False
        self.stale = False
        self.send_error: BaseException | None = None

    def _check_open(self) -> None:
        if self.closed:
            raise OSError(errno.EBADF, "the mock stream is closed")

    def send(self, data: bytes, timeout: float | None) -> None:
        self._check_open()
        self.timeouts.append(("send", timeout))
        error, self.send_error = self.send_error, None
        if error is not None:
            raise error
        self.sent += data

    def _next(self, max_bytes: int, timeout: float | None) -> object:
        """The next script item for a receive (``HANG`` left to the caller)."""
        self._check_open()
        self.timeouts.append(("receive", timeout))
        if not self._script:
            return b""
        item = self._script.popleft()
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, bytes) and len(item) > max_bytes:
            self._script.appendleft(item[max_bytes:])
            return item[:max_bytes]
        return item

    def receive(self, max_bytes: int, timeout: float | None) -> bytes:
        item = self._next(max_bytes, timeout)
        if item is HANG:
            raise TimeoutError
        assert isinstance(item, bytes)
        return item

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> MockStream:
        self._check_open()
        self.timeouts.append(("tls", timeout))
        self.tls = server_hostname or ""
        return self

    def close(self) -> None:
        self.closed = True

    def is_stale(self) -> bool:
        return self.closed or self.stale

    def get_extra_info(self, name: str) -> Any:
        return self if name == "ssl_object" and self.tls is not None else None


class AsyncMockStream(MockStream):
    """An ``AsyncNetworkStream`` over a script; each call is a checkpoint, so a
    cancelled task stops at it."""

    async def send(self, data: bytes, timeout: float | None) -> None:  # type: ignore[override]
        import anyio.lowlevel

        await anyio.lowlevel.checkpoint()
        MockStream.send(self, data, timeout)

    async def receive(self, max_bytes: int, timeout: float | None) -> bytes:  # type: ignore[override]
        import anyio
        import anyio.lowlevel

        await anyio.lowlevel.checkpoint()
        item = self._next(max_bytes, timeout)
        if item is HANG:
            await anyio.sleep_forever()
        assert isinstance(item, bytes)
        return item

    async def start_tls(  # type: ignore[override]
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> AsyncMockStream:
        MockStream.start_tls(self, ssl_context, server_hostname, timeout)
        return self

    async def aclose(self) -> None:
        self.closed = True

    def close_now(self) -> None:
        self.closed = True


class MockBackend:
    """A ``NetworkBackend`` handing out ``streams`` in order; an exception instance
    among them is raised by that connect instead. ``connects`` records each
    ``(host, port, timeout)``."""

    def __init__(self, streams: Iterable[MockStream | BaseException]) -> None:
        self._streams = deque(streams)
        self.connects: list[tuple[str, int, float | None]] = []

    def _next(self, host: str, port: int, timeout: float | None) -> Any:
        self.connects.append((host, port, timeout))
        if not self._streams:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "no more mock connections")
        stream = self._streams.popleft()
        if isinstance(stream, BaseException):
            raise stream
        return stream

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None,
        *,
        local_address: str | None = None,
        socket_options: tuple[SocketOption, ...] = (),
    ) -> MockStream:
        stream: MockStream = self._next(host, port, timeout)
        return stream


class AsyncMockBackend(MockBackend):
    """An ``AsyncNetworkBackend`` handing out ``AsyncMockStream`` objects in order."""

    def __init__(self, streams: Iterable[AsyncMockStream | BaseException]) -> None:
        super().__init__(streams)

    def clock(self) -> float:
        import anyio

        return anyio.current_time()

    async def connect_tcp(  # type: ignore[override]
        self,
        host: str,
        port: int,
        timeout: float | None,
        *,
        local_address: str | None = None,
        socket_options: tuple[SocketOption, ...] = (),
    ) -> AsyncMockStream:
        import anyio.lowlevel

        await anyio.lowlevel.checkpoint()
        stream: AsyncMockStream = self._next(host, port, timeout)
        return stream

    async def connect_tls(
        self,
        host: str,
        port: int,
        timeout: float | None,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None,
    ) -> AsyncMockStream:
        stream = await self.connect_tcp(host, port, timeout)
        return await stream.start_tls(ssl_context, server_hostname, timeout)
