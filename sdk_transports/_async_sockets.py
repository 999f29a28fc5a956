"""``AsyncSocketTransport``: our own HTTP/1.1 over async network streams, on the core's
codec and pool, for asyncio and trio (``AnyioTransport`` is its documented name).

This module is the pool plumbing: check out a connection (the pool decides, then the
I/O happens), hand it to ``_async_exchange.exchange`` (the HTTP/1.1 exchange, written
once against ``_backends.AsyncNetworkStream``), give it back. The backend of the running
loop (``_backends.backend_for``) opens the streams: a small ``asyncio.Protocol`` on
asyncio, raw non-blocking sockets on trio, anyio's TLS stream for HTTPS on both. Each
wait carries its own timeout, which the stream keeps with the cheapest timer its loop
offers, so a request needs no cancel scope of its own.

Releasing and closing connections is shielded from cancellation, so a cancelled request
never leaks a pool slot. A transport used under a new event loop (a second ``anyio.run``,
asyncio then trio) drops the connections of the old one without awaiting on it (their
sockets are closed at once) and continues with a fresh pool.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import anyio

from sdk_core import (
    ConnectTimeout,
    Limits,
    PoolStatistics,
    PoolTimeout,
    Request,
    Response,
    Timeout,
)
from sdk_core.lowlevel import Lease, Outcome, PoolState, ResponseReader, StreamReader

from ._async_exchange import AsyncBodyStream, AsyncConnection, exchange
from ._backends import AsyncNetworkBackend, backend_for
from ._backends._anyio import STREAM_ERRORS
from ._connect_errors import connect_error, where
from ._lifecycle import closed_transport_error, current_loop, loop_may_still_run
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE, STREAM_WINDOW, AsyncResponseStream
from ._tls import CertTypes, LazySSLContext, VerifyTypes

__all__ = ["AnyioTransport", "AsyncSocketTransport"]


def _deadline(seconds: float | None) -> float:
    return float("inf") if seconds is None else seconds


class AsyncSocketTransport:
    """An async transport for asyncio and trio: our own HTTP/1.1 over the loop's
    network streams, the core's codec and its pool. Options and errors as
    ``SocketTransport``; ``network_backend`` replaces the loop's backend (a mock one in
    tests). On cancellation the request's connection is closed (shielded), its slot
    freed, and the cancellation propagates.
    """

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        network_backend: AsyncNetworkBackend | None = None,
    ) -> None:
        self._limits = limits or Limits()
        self._pool = PoolState(self._limits)
        self._connections: dict[int, AsyncConnection] = {}
        self._waiting: dict[int, tuple[anyio.Event, list[Lease]]] = {}
        self._ssl_context = LazySSLContext(verify, cert)
        self._max_response_size = max_response_size
        self._closed = False
        self._loop: object = None  # the event loop the pool's connections belong to
        self._epoch = 0  # bumped when the pool is dropped for another loop
        self._given_backend = network_backend
        self._backend: AsyncNetworkBackend | None = None  # the loop's, once known
        self._clock: Callable[[], float] = anyio.current_time

    # -- pool plumbing -------------------------------------------------------------

    def _check_loop(self) -> None:
        """Under another event loop than the pool's: drop its connections, without
        awaiting on the old loop, and start a fresh pool."""
        loop = current_loop()
        if loop is self._loop:
            return
        if self._loop is not None:
            connections = list(self._connections.values())
            close = not loop_may_still_run(self._loop)
            self._pool = PoolState(self._limits)
            self._connections = {}
            self._waiting = {}  # waiters of the old loop cannot be woken on this one
            self._epoch += 1
            if close:
                for conn in connections:
                    conn.stream.close_now()
        self._loop = loop
        backend = self._given_backend or backend_for(loop)
        self._backend = backend
        self._clock = backend.clock

    async def _apply(self, out: Outcome) -> None:
        """Carry out a bookkeeping outcome: wake the waiters handed a lease first (no
        await), then close the connections (shielded)."""
        for lease in out.wake:
            event, box = self._waiting.pop(lease.ticket)
            box.append(lease)
            event.set()
        for conn_id in out.close:
            conn = self._connections.pop(conn_id, None)
            if conn is not None:
                with anyio.CancelScope(shield=True):
                    await conn.stream.aclose()

    async def _wait_for_lease(self, ticket: int, request: Request, timeout: Timeout) -> Lease:
        """Wait, within ``timeout.pool``, for the pool to hand ``ticket`` a lease."""
        event, box = anyio.Event(), list[Lease]()
        self._waiting[ticket] = (event, box)
        try:
            with anyio.move_on_after(_deadline(timeout.pool)):
                await event.wait()
        except BaseException:
            if box:  # handed a lease, then cancelled before resuming: give it back
                await self._release(box[0], reusable=True)
            raise
        finally:
            if not box:
                self._pool.cancel(ticket)
                self._waiting.pop(ticket, None)
        if box:
            return box[0]
        if self._closed:
            raise closed_transport_error(request)
        raise PoolTimeout(f"no connection became free within {timeout.pool} s.", request=request)

    async def _release(self, lease: Lease, reusable: bool) -> None:
        # The slot is freed before any await; only the closes await, and they are
        # shielded in ``_apply``: a cancelled request never keeps its slot.
        out = self._pool.release(lease, reusable=reusable, now=time.monotonic())
        if out.wake or out.close:
            await self._apply(out)

    async def _open(self, request: Request, timeout: Timeout) -> AsyncConnection:
        """A new connection for ``request``. Raises ``ConnectError`` (saying why) or
        ``ConnectTimeout``; on failure or cancellation no socket is left open."""
        url = request.url
        backend = self._backend
        assert backend is not None
        try:
            if url.scheme == "https":
                context = self._ssl_context.get()
                stream = await backend.connect_tls(
                    url.host, url.port, timeout.connect, context, url.host
                )
            else:
                stream = await backend.connect_tcp(url.host, url.port, timeout.connect)
        except TimeoutError:
            raise ConnectTimeout(
                f"connecting to {where(request)} took over {timeout.connect} s.",
                request=request,
            ) from None
        except STREAM_ERRORS as exc:
            raise connect_error(exc, request) from exc
        return AsyncConnection(stream)

    async def _checkout(
        self, request: Request, timeout: Timeout
    ) -> tuple[Lease, AsyncConnection, int]:
        """A lease, its connection (a live pooled one, or one opened here) and the pool's
        epoch. On failure or cancellation nothing is held."""
        if current_loop() is not self._loop:
            self._check_loop()
        epoch = self._epoch
        conn: AsyncConnection | None = None
        while True:
            if self._closed:
                raise closed_transport_error(request)
            out = self._pool.request(request.url.origin, time.monotonic())
            if out.wake or out.close:
                await self._apply(out)
            lease = out.lease
            if lease is None:
                lease = await self._wait_for_lease(out.ticket, request, timeout)
            conn = None if lease.is_new else self._connections.get(lease.connection)
            if conn is not None and conn.stream.is_stale():
                await self._release(lease, reusable=False)  # closed by the server while idle
                continue
            break
        if conn is None:
            try:
                conn = await self._open(request, timeout)
            except BaseException:
                if epoch == self._epoch:
                    await self._release(lease, reusable=False)
                raise
            self._connections[lease.connection] = conn
            self._pool.opened(lease.connection)
        return lease, conn, epoch

    async def _finish(
        self, lease: Lease, conn: AsyncConnection, epoch: int, reusable: bool
    ) -> None:
        """Give ``lease`` back (shielded closes), or close ``conn`` at once when the pool
        moved to another loop meanwhile."""
        out = self._give_back(lease, conn, epoch, reusable)
        if out is not None:
            await self._apply(out)

    def _give_back(
        self, lease: Lease, conn: AsyncConnection, epoch: int, reusable: bool
    ) -> Outcome | None:
        """``_finish`` up to its first await: the slot is free when this returns; the
        outcome returned (if any) still has connections to close or waiters to wake."""
        if epoch != self._epoch:
            conn.stream.close_now()
            return None
        out = self._pool.release(lease, reusable=reusable, now=time.monotonic())
        return out if out.wake or out.close else None

    # -- one request ---------------------------------------------------------------

    async def handle_async_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` once and read the whole response."""
        lease, conn, epoch = await self._checkout(request, timeout)
        reusable = False
        try:
            reader = ResponseReader(conn.codec, request, max_size=self._max_response_size)
            (response, reusable), sent = await exchange(
                conn, request, timeout, reader.step, reader.feed
            )
            reusable = reusable and sent
        finally:
            out = self._give_back(lease, conn, epoch, reusable)
            if out is not None:
                await self._apply(out)
        return response

    async def open_async_stream(
        self, request: Request, timeout: Timeout
    ) -> tuple[Response, AsyncResponseStream]:
        """Send ``request`` once and read the response head; the body follows as a
        stream that holds the connection until it ends or is closed. On failure or
        cancellation nothing is held."""
        lease, conn, epoch = await self._checkout(request, timeout)
        try:
            reader = StreamReader(conn.codec, request, window=STREAM_WINDOW)
            head, sent = await exchange(conn, request, timeout, reader.head, reader.feed)
        except BaseException:
            await self._finish(lease, conn, epoch, False)
            raise
        give_back = functools.partial(self._finish, lease, conn, epoch)
        return head, AsyncBodyStream(conn.stream, reader, request, sent, give_back, self._clock)

    def statistics(self) -> PoolStatistics:
        """Connections in use, idle, and requests waiting for one."""
        return self._pool.statistics()

    async def aclose(self) -> None:
        """Close every connection (shielded); later requests raise ``ConnectError``.

        Connections of an event loop that is gone are closed at once, not awaited.
        """
        self._closed = True
        self._check_loop()
        with anyio.CancelScope(shield=True):
            for conn_id in self._pool.close_all():
                conn = self._connections.pop(conn_id, None)
                if conn is not None:
                    await conn.stream.aclose()
            for event, _ in self._waiting.values():
                event.set()
            self._waiting.clear()


#: The documented name of ``AsyncSocketTransport`` (it once ran on anyio streams).
AnyioTransport = AsyncSocketTransport
