"""The asyncio backend: plain TCP as a small ``asyncio.Protocol`` (``AsyncioStream``)
with its read timeouts on a timer wheel; TLS by asyncio's own ``loop.start_tls`` on the
same protocol, so anyio is in the data path of neither.

anyio's asyncio stream switches the socket's reader on and off around every receive and
yields to the loop after every send; ``AsyncioStream`` reads as bytes arrive (pausing
past ``HIGH_WATER`` unread) and only waits when it must. Sockets are dialled by
``_dial.open_socket`` (asyncio's own Happy Eyeballs race loses its winning socket when
cancelled), so however a connect is cancelled no socket is left to the collector.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from typing import TYPE_CHECKING, Any

import anyio

from .._dial import open_socket
from .._lifecycle import close_socket_now
from .._sockcheck import readable_probe
from ._base import READ_SIZE, SocketOption
from ._buckets import tick

if TYPE_CHECKING:
    import ssl

    from ._base import AsyncNetworkStream

__all__ = ["HIGH_WATER", "AsyncioBackend", "AsyncioStream", "TimerWheel"]

HIGH_WATER = 256 * 1024  # the stream stops reading with this much unread


class TimerWheel:
    """Timeouts for many waits on one asyncio loop with few loop timers.

    A wait joins the bucket of the first tick at or after its deadline (ticks 1/16 of its
    timeout apart, from 1 ms to 250 ms), and one loop timer per bucket fails the waits
    still in it with ``TimeoutError``. So a wait ends at most one tick (about 6 % of its
    timeout) late, and waits with the same timeout share one timer instead of each
    pushing and cancelling its own in the loop's heap.
    """

    __slots__ = ("_buckets", "_loop", "_ticks", "_time")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._time = loop.time
        self._buckets: dict[float, set[asyncio.Future[None]]] = {}
        self._ticks: dict[float, float] = {}  # tick() of the timeouts seen (a few)

    def add(self, waiter: asyncio.Future[None], timeout: float) -> float:
        """Fail ``waiter`` about ``timeout`` seconds from now; returns its bucket."""
        spacing = self._ticks.get(timeout)
        if spacing is None:
            if len(self._ticks) >= 64:  # timeouts capped by deadlines vary
                self._ticks.clear()
            spacing = self._ticks[timeout] = tick(timeout)
        when = math.ceil((self._time() + timeout) / spacing) * spacing
        bucket = self._buckets.get(when)
        if bucket is None:
            bucket = self._buckets[when] = set()
            self._loop.call_at(when, self._fire, when)
        bucket.add(waiter)
        return when

    def discard(self, when: float, waiter: asyncio.Future[None]) -> None:
        """``waiter`` ended before its deadline."""
        bucket = self._buckets.get(when)
        if bucket is not None:
            bucket.discard(waiter)

    def _fire(self, when: float) -> None:
        for waiter in self._buckets.pop(when, ()):
            if not waiter.done():
                waiter.set_exception(TimeoutError())


class AsyncioStream(asyncio.Protocol):
    """A plain-TCP connection on asyncio as an ``AsyncNetworkStream``.

    Errors: anyio's ``ClosedResourceError`` once closed here, ``BrokenResourceError``
    once the peer closed or the connection broke. An answer that arrives while a body
    is still going out is kept even if the write then fails.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, timers: TimerWheel) -> None:
        self._loop = loop
        self._timers = timers
        self._transport: asyncio.Transport | None = None
        self._probe = _no_socket
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._reading_paused = False
        self._writing_paused = False
        self._eof = False
        self._lost = False
        self._closed = False
        self._exc: BaseException | None = None
        self._read_waiter: asyncio.Future[None] | None = None
        self._write_waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self._probe = readable_probe(sock)

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > HIGH_WATER and not self._reading_paused:
            assert self._transport is not None
            self._transport.pause_reading()
            self._reading_paused = True
        self._wake(self._read_waiter)

    def eof_received(self) -> None:
        self._eof = True  # returning None: the transport closes itself
        self._wake(self._read_waiter)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._exc = exc
        self._wake(self._read_waiter)
        self._wake(self._write_waiter)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake(self._write_waiter)

    @staticmethod
    def _wake(waiter: asyncio.Future[None] | None) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- AsyncNetworkStream --------------------------------------------------------

    def _check_writable(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        if self._lost or self._eof:
            raise anyio.BrokenResourceError from self._exc

    async def send(self, data: bytes, timeout: float | None) -> None:
        """Hand ``data`` to the transport; wait only while it holds more than its
        high-water mark (each wait bounded by ``timeout`` on the wheel)."""
        self._check_writable()
        assert self._transport is not None
        self._transport.write(data)
        while self._writing_paused:
            self._check_writable()
            waiter = self._write_waiter = self._loop.create_future()
            bucket = None if timeout is None else self._timers.add(waiter, timeout)
            try:
                await waiter
            finally:
                self._write_waiter = None
                if bucket is not None:
                    self._timers.discard(bucket, waiter)
        self._check_writable()

    async def receive(self, max_bytes: int = READ_SIZE, timeout: float | None = None) -> bytes:
        """The next bytes, b"" at EOF. ``timeout`` bounds the wait for them (up to a
        tick late: see ``TimerWheel``), counted only when nothing is buffered."""
        chunks = self._chunks
        while not chunks:
            if self._closed:
                raise anyio.ClosedResourceError
            if self._lost or self._eof:
                if self._exc is not None:
                    raise anyio.BrokenResourceError from self._exc
                return b""
            waiter = self._read_waiter = self._loop.create_future()
            bucket = None if timeout is None else self._timers.add(waiter, timeout)
            try:
                await waiter
            finally:
                self._read_waiter = None
                if bucket is not None:
                    self._timers.discard(bucket, waiter)
        chunk = chunks.popleft()
        if len(chunk) > max_bytes:
            chunk, rest = chunk[:max_bytes], chunk[max_bytes:]
            chunks.appendleft(rest)
        self._buffered -= len(chunk)
        if self._reading_paused and self._buffered <= HIGH_WATER // 4 and not self._lost:
            assert self._transport is not None
            self._reading_paused = False
            self._transport.resume_reading()
        return chunk

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> AsyncNetworkStream:
        """TLS over this connection, by asyncio's ``loop.start_tls``: the same protocol
        then receives the decrypted bytes. On failure or cancellation the connection
        is closed."""
        transport = self._transport
        assert transport is not None
        try:
            self._check_writable()
            with anyio.fail_after(timeout):
                tls = await self._loop.start_tls(
                    transport, self, ssl_context, server_hostname=server_hostname
                )
        except BaseException:
            await self.aclose()
            raise
        assert isinstance(tls, asyncio.Transport)
        self._transport = tls
        return self

    async def aclose(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.abort()
        self._wake(self._read_waiter)
        self._wake(self._write_waiter)

    def close_now(self) -> None:
        close_socket_now(self.get_extra_info("socket"))

    def is_stale(self) -> bool:
        # The protocol reads as data arrives, so bytes or EOF may already be here; what
        # the loop has not read yet, the socket's poll sees.
        if self._chunks or self._eof or self._lost or self._closed:
            return True
        return self._probe()

    def get_extra_info(self, name: str) -> Any:
        transport = self._transport
        return None if transport is None else transport.get_extra_info(name)


def _no_socket() -> bool:
    return True  # not connected yet: never reused


class AsyncioBackend:
    """Opens ``AsyncioStream`` connections on one asyncio loop."""

    __slots__ = ("_loop", "_timers", "clock")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._timers = TimerWheel(loop)
        self.clock = loop.time

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None,
        *,
        local_address: str | None = None,
        socket_options: tuple[SocketOption, ...] = (),
    ) -> AsyncNetworkStream:
        loop, timers = self._loop, self._timers
        with anyio.fail_after(timeout):
            sock = await open_socket(
                loop, host, port, local_address=local_address, socket_options=socket_options
            )
            try:
                _, stream = await loop.create_connection(
                    lambda: AsyncioStream(loop, timers), sock=sock
                )
            except BaseException:
                sock.close()  # asyncio's transport, if any, closes it too
                raise
        return stream

    async def connect_tls(
        self,
        host: str,
        port: int,
        timeout: float | None,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None,
    ) -> AsyncNetworkStream:
        """TCP by ``connect_tcp``, then asyncio's own TLS over it (``start_tls``): the
        dial and the handshake together within ``timeout``. On failure or cancellation
        no socket is left open."""
        with anyio.fail_after(timeout):
            stream = await self.connect_tcp(host, port, None)
            return await stream.start_tls(ssl_context, server_hostname, None)
