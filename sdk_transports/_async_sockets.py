# unasync: sdk_transports/_sockets.py
# unasync-replace: "stream.close_now()" -> "stream.close()"
# unasync-replace: "Cancelled or interrupted" -> "Interrupted"
# unasync-replace: "failure or cancellation" -> "failure"
# unasync: async-only
"""``AsyncSocketTransport``: our own HTTP/1.1 over async network streams, on the core's
codec and pool, for asyncio and trio (``AnyioTransport`` is its documented name).

This module is the pool plumbing, written once: the blocking ``SocketTransport``
(sdk_transports/_sockets.py) is generated from it by scripts/unasync.py. What the two
sides do their own way (wait for a lease, close connections, open TLS) is in
``_async_pool_io.py`` and ``_pool_io.py``, under the same names; the rest that differs
is in ``async-only`` / ``sync-only`` lines here: what owns the pool (an event loop
here, a process there, ``_check_owner``), the blocking side's lock, and its
``Timeout.total``.

A request checks out a connection (the pool decides, then the I/O happens), hands it
to ``_async_exchange.exchange`` (the HTTP/1.1 exchange, written once against
``_backends.AsyncNetworkStream``) and gives it back. The books (the pool, its
connections, its waiters) are read and changed only by the methods under "the books",
which never await, so nothing else runs meanwhile on an event loop; the blocking side
holds its lock around each call of one. A bookkeeping outcome wakes its waiters first,
in such a method; the caller then closes the connections it dropped. The backend of
the running loop (``_backends.backend_for``) opens the streams: a small
``asyncio.Protocol`` on asyncio, raw non-blocking sockets on trio; HTTPS by
``loop.start_tls`` on asyncio and ``_backends/_tls.AsyncTLSStream`` on trio. Each wait
carries its own timeout, which the stream keeps with the cheapest timer its loop
offers, so a request needs no cancel scope of its own.

Releasing and closing connections is shielded from cancellation, so a cancelled request
never leaks a pool slot. A transport used under a new event loop (a second ``anyio.run``,
asyncio then trio) drops the connections of the old one without awaiting on it (their
sockets are closed at once) and continues with a fresh pool.
"""
# unasync: sync-only
# """``SocketTransport``: our own HTTP/1.1 over blocking sockets, on the core's codec and
# pool.
#
# The blocking twin of ``_async_sockets.AsyncSocketTransport``, generated from it: the
# exchange is ``_exchange.exchange``, what only blocking sockets and threads need is in
# ``_pool_io.py``, and the order is the same: check out (the pool decides, then the I/O
# happens), exchange, give back; a bookkeeping outcome wakes its waiters first, then
# closes its connections. Safe to share between threads: the pool's bookkeeping runs
# under one lock, each request then owns its connection alone, and connections the pool
# drops are closed after the lock is released. The attempt's ``Timeout.total`` bounds
# every wait of the exchange. After ``os.fork()`` the child never uses the parent's
# connections: its first request closes its copies of them (nothing is sent) and starts
# a fresh pool.
# """
# unasync: end

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
from ._async_pool_io import (
    STREAM_ERRORS,
    Waiter,
    close_all,
    connect_tls,
    current_owner,
    wait,
)
from ._backends import AsyncNetworkBackend, backend_for

# unasync: sync-only
# import threading
#
# from ._backends._sync import SyncBackend
# from ._lifecycle import fork_lock
# unasync: end
from ._connect_errors import connect_error, where
from ._lifecycle import closed_transport_error, loop_may_still_run
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE, STREAM_WINDOW, AsyncResponseStream
from ._tls import CertTypes, LazySSLContext, VerifyTypes

# unasync: async-only
__all__ = ["AnyioTransport", "AsyncSocketTransport"]
# unasync: sync-only
# __all__ = ["SocketTransport"]
#
#
# def _until(seconds: float) -> tuple[Callable[[], float], float]:
#     """The clock and the time on it ``seconds`` from now, for ``exchange``."""
#     return time.monotonic, time.monotonic() + seconds
# unasync: end


class AsyncSocketTransport:
    # unasync: async-only
    """An async transport for asyncio and trio: our own HTTP/1.1 over the loop's
    network streams, the core's codec and its pool. Options and errors as
    ``SocketTransport``; ``network_backend`` replaces the loop's backend (a mock one in
    tests). ``Timeout.total`` is not enforced here (``AsyncClient`` cuts an attempt at
    its deadline). On cancellation the request's connection is closed (shielded), its
    slot freed, and the cancellation propagates.
    """

    # unasync: sync-only
    # """A blocking transport: our own HTTP/1.1 over sockets, the core's codec and pool.
    #
    # TLS verifies by default (certifi's bundle); ``verify`` takes a CA path, False, or an
    # ``ssl.SSLContext``; ``cert`` a client certificate. ``network_backend`` replaces the
    # socket backend (a mock one in tests). ``Timeout.total`` bounds every wait of an
    # attempt's exchange. Raises the core's connection errors and ``ResponseTooLargeError``
    # past ``max_response_size`` decoded bytes.
    # """
    # unasync: end

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
        # unasync: sync-only
        # self._lock = threading.Lock()  # held around each call of a books method
        # unasync: end
        self._connections: dict[int, AsyncConnection] = {}
        self._waiting: dict[int, tuple[Waiter, list[Lease]]] = {}
        self._ssl_context = LazySSLContext(verify, cert)
        self._max_response_size = max_response_size
        self._closed = False
        self._epoch = 0  # bumped when the pool is dropped for a new owner
        self._given_backend = network_backend
        # unasync: async-only
        self._owner: object = None  # the event loop of the pool's connections, once known
        self._backend: AsyncNetworkBackend | None = None  # that loop's, or the given one
        self._clock: Callable[[], float] = anyio.current_time
        # unasync: sync-only
        # self._owner: object = current_owner()  # the process of the pool's connections
        # self._backend: NetworkBackend | None = network_backend or SyncBackend()
        # self._clock: Callable[[], float] = time.monotonic
        # unasync: end

    # -- the owner: an event loop (a process on the blocking side) ---------------

    # unasync: async-only
    def _check_owner(self) -> None:
        """Under another event loop than the pool's: drop the old loop's connections
        without awaiting on it (closed at once when that loop is finished), start a
        fresh pool, and open streams with the new loop's backend."""
        loop = current_owner()
        if loop is self._owner:
            return
        if self._owner is not None:
            dropped = self._reset()
            if not loop_may_still_run(self._owner):
                for conn in dropped:
                    conn.stream.close_now()
        self._owner = loop
        backend = self._given_backend or backend_for(loop)
        self._backend = backend
        self._clock = backend.clock

    # unasync: sync-only
    # def _check_owner(self) -> None:
    #     """In a forked child: drop the inherited connections (closing the child's
    #     copies of their sockets only: the parent's stay open) and start a fresh pool."""
    #     pid = current_owner()
    #     if pid == self._owner:
    #         return
    #     with fork_lock():
    #         if pid == self._owner:
    #             return  # another thread of the child did it
    #         dropped = self._reset()  # never takes the parent's lock: it may be held for good
    #         self._owner = pid
    #     close_all(dropped)
    #
    # unasync: end
    def _reset(self) -> list[AsyncConnection]:
        """A fresh pool and epoch for a new owner; returns the old pool's
        connections (its waiters cannot be woken from the new owner: they are dropped)."""
        dropped = list(self._connections.values())
        # unasync: sync-only
        # self._lock = threading.Lock()
        # unasync: end
        self._pool = PoolState(self._limits)
        self._connections = {}
        self._waiting = {}
        self._epoch += 1
        return dropped

    # -- the books: no await here; the blocking side calls these with its lock held ----

    def _apply(self, out: Outcome) -> list[AsyncConnection]:
        """Carry out a bookkeeping outcome: wake the waiters handed a lease first, then
        take the connections to close out of the books; the caller closes them once the
        books method has returned."""
        for lease in out.wake:
            waiter, box = self._waiting.pop(lease.ticket)
            box.append(lease)
            waiter.set()
        closing = []
        for conn_id in out.close:
            conn = self._connections.pop(conn_id, None)
            if conn is not None:
                closing.append(conn)
        return closing

    def _ask(
        self, request: Request
    ) -> tuple[Outcome, list[AsyncConnection] | None, tuple[Waiter, list[Lease]] | None]:
        """Ask the pool for a lease: the outcome, the connections it dropped (for the
        caller to close) and, when no lease came, the waiter and the box registered for
        ``out.ticket``. Raises ``ClientClosedError`` on a closed transport."""
        if self._closed:
            raise closed_transport_error(request)
        out = self._pool.request(request.url.origin, time.monotonic())
        closing = self._apply(out) if out.wake or out.close else None
        if out.lease is not None:
            return out, closing, None
        waiting = self._waiting[out.ticket] = (Waiter(), [])
        return out, closing, waiting

    def _release(self, lease: Lease, reusable: bool) -> list[AsyncConnection] | None:
        """Give ``lease`` back to the pool; the connections the caller closes next."""
        out = self._pool.release(lease, reusable=reusable, now=time.monotonic())
        return self._apply(out) if out.wake or out.close else None

    def _forget(self, ticket: int, box: list[Lease]) -> Lease | None:
        """The lease handed to ``ticket`` (in ``box``); without one, it stops waiting."""
        if box:
            return box[0]
        self._pool.cancel(ticket)
        self._waiting.pop(ticket, None)
        return None

    def _opened(self, lease: Lease, conn: AsyncConnection, epoch: int) -> bool:
        """``conn`` was opened for ``lease``: into the books, unless they are another
        owner's by now (then ``_finish`` closes it). False when the transport was closed
        while it was being opened: the caller closes it, since no close will see it."""
        if self._closed:
            return False
        if epoch == self._epoch:
            self._connections[lease.connection] = conn
            self._pool.opened(lease.connection)
        return True

    def _close_books(self) -> list[AsyncConnection]:
        """Mark the transport closed, empty the pool and wake every waiter (each then
        raises ``ClientClosedError``); returns the connections to close."""
        self._closed = True
        closing = [self._connections.pop(conn_id, None) for conn_id in self._pool.close_all()]
        for waiter, _ in self._waiting.values():
            waiter.set()
        self._waiting.clear()
        return [conn for conn in closing if conn is not None]

    # -- checkout and give-back ------------------------------------------------------

    async def _finish(
        self, lease: Lease, conn: AsyncConnection | None, epoch: int, reusable: bool
    ) -> None:
        """Give ``lease`` back to the pool of ``epoch`` and close what the pool dropped;
        when that pool was dropped for a new owner meanwhile, ``conn`` (if any) is
        closed at once instead (the old event loop may be gone)."""
        if epoch != self._epoch:
            if conn is not None:
                conn.stream.close_now()
            return
        # unasync: async-only
        closing = self._release(lease, reusable)
        # unasync: sync-only
        # with self._lock:
        #     closing = self._release(lease, reusable)
        # unasync: end
        if closing:
            await close_all(closing)

    async def _wait_for_lease(
        self,
        ticket: int,
        waiting: tuple[Waiter, list[Lease]],
        epoch: int,
        request: Request,
        timeout: Timeout,
    ) -> Lease:
        """Wait, within ``timeout.pool``, for the pool to hand ``ticket`` a lease (put in
        the box of ``waiting``, then its waiter set). Raises ``PoolTimeout``, or
        ``ClientClosedError`` when the transport was closed meanwhile. Cancelled or
        interrupted, it stops waiting and gives back a lease handed over meanwhile."""
        waiter, box = waiting
        try:
            await wait(waiter, timeout.pool)
        except BaseException:
            # unasync: async-only
            handed = self._forget(ticket, box)
            # unasync: sync-only
            # with self._lock:
            #     handed = self._forget(ticket, box)
            # unasync: end
            if handed is not None:
                await self._finish(handed, None, epoch, reusable=True)
            raise
        # unasync: async-only
        handed = self._forget(ticket, box)
        # unasync: sync-only
        # with self._lock:
        #     handed = self._forget(ticket, box)
        # unasync: end
        if handed is not None:
            return handed
        if self._closed:
            raise closed_transport_error(request)
        raise PoolTimeout(f"no connection became free within {timeout.pool} s.", request=request)

    async def _open(self, request: Request, timeout: Timeout) -> AsyncConnection:
        """A new connection for ``request``. Raises ``ConnectTimeout`` (also for a
        connect timeout of 0: no time was allowed) or ``ConnectError``, saying why; on
        failure or cancellation no socket is left open."""
        url = request.url
        backend = self._backend
        assert backend is not None
        if timeout.connect is not None and timeout.connect <= 0:
            # A blocking socket given a zero timeout would turn non-blocking instead.
            raise ConnectTimeout(
                f"connecting to {where(request)} took over {timeout.connect} s.", request=request
            )
        try:
            if url.scheme == "https":
                context = self._ssl_context.get()
                stream = await connect_tls(
                    backend, url.host, url.port, timeout.connect, context, url.host
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
        epoch. Raises as ``_wait_for_lease`` and ``_open`` do, or ``ClientClosedError``
        on a closed transport; on failure or cancellation nothing is held."""
        if current_owner() is not self._owner:
            self._check_owner()
        epoch = self._epoch
        while True:
            # unasync: async-only
            out, closing, waiting = self._ask(request)
            # unasync: sync-only
            # with self._lock:
            #     out, closing, waiting = self._ask(request)
            # unasync: end
            if closing:
                await close_all(closing)
            lease = out.lease
            if lease is None:
                assert waiting is not None
                lease = await self._wait_for_lease(out.ticket, waiting, epoch, request, timeout)
            conn = None if lease.is_new else self._connections.get(lease.connection)
            if conn is None or not conn.stream.is_stale():
                break
            # Closed by the server while idle: dropped, and the pool asked again.
            await self._finish(lease, conn, epoch, reusable=False)
        if conn is None:
            try:
                conn = await self._open(request, timeout)
            except BaseException:
                await self._finish(lease, None, epoch, reusable=False)
                raise
            # unasync: async-only
            taken = self._opened(lease, conn, epoch)
            # unasync: sync-only
            # with self._lock:
            #     taken = self._opened(lease, conn, epoch)
            # unasync: end
            if not taken:
                await close_all([conn])
                raise closed_transport_error(request)
        return lease, conn, epoch

    # -- one request ---------------------------------------------------------------

    async def handle_async_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` once and read the whole response."""
        # unasync: async-only
        until = None
        # unasync: sync-only
        # # ``until`` bounds every wait of the exchange, as the attempt's Timeout.total.
        # until = None if timeout.total is None else _until(timeout.total)
        # unasync: end
        lease, conn, epoch = await self._checkout(request, timeout)
        reusable = False
        try:
            reader = ResponseReader(conn.codec, request, max_size=self._max_response_size)
            (response, reusable), sent = await exchange(
                conn, request, timeout, reader.step, reader.feed, until
            )
            reusable = reusable and sent
        finally:
            if epoch == self._epoch:  # ``_finish``, inline on the path every request takes
                # unasync: async-only
                closing = self._release(lease, reusable)
                # unasync: sync-only
                # with self._lock:
                #     closing = self._release(lease, reusable)
                # unasync: end
                if closing:
                    await close_all(closing)
            else:
                conn.stream.close_now()
        return response

    async def open_async_stream(
        self, request: Request, timeout: Timeout
    ) -> tuple[Response, AsyncResponseStream]:
        """Send ``request`` once and read the response head; the body follows as a
        stream that holds the connection until it ends or is closed. On a
        failure or cancellation nothing is held."""
        # unasync: async-only
        until = None
        # unasync: sync-only
        # until = None if timeout.total is None else _until(timeout.total)
        # unasync: end
        lease, conn, epoch = await self._checkout(request, timeout)
        try:
            reader = StreamReader(conn.codec, request, window=STREAM_WINDOW)
            head, sent = await exchange(conn, request, timeout, reader.head, reader.feed, until)
        except BaseException:
            await self._finish(lease, conn, epoch, False)
            raise
        give_back = functools.partial(self._finish, lease, conn, epoch)
        return head, AsyncBodyStream(conn.stream, reader, request, sent, give_back, self._clock)

    def statistics(self) -> PoolStatistics:
        """Connections in use, idle, and requests waiting for one."""
        # unasync: async-only
        return self._pool.statistics()
        # unasync: sync-only
        # self._check_owner()
        # with self._lock:
        #     return self._pool.statistics()
        # unasync: end

    async def aclose(self) -> None:
        """Close every connection; later requests, and those waiting for a connection,
        raise ``ClientClosedError``."""
        self._check_owner()
        # unasync: async-only
        closing = self._close_books()
        # unasync: sync-only
        # with self._lock:
        #     closing = self._close_books()
        # unasync: end
        await close_all(closing)


# unasync: async-only
#: The documented name of ``AsyncSocketTransport`` (it once ran on anyio streams).
AnyioTransport = AsyncSocketTransport
# unasync: end
