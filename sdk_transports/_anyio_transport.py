"""``AnyioTransport``: HTTP/1.1 over anyio streams, on the core's codec and pool.

The same code runs on asyncio and trio; plain-TCP connections on asyncio use a small
``asyncio.Protocol`` (``_AsyncioStream``) instead of anyio's stream, which toggles the
socket's reader around every receive and yields to the loop after every send. One cancel
scope per request enforces the write and read timeouts, its deadline moved as the phase
changes and as data arrives, instead of a ``fail_after`` per send and receive.

Plain-TCP connections on asyncio are opened by ``_dial.open_socket`` (asyncio's own
Happy Eyeballs race loses its winning socket when cancelled); TLS connections, and every
connection on trio, by anyio's ``connect_tcp``. However a connect is cancelled, no socket
is left for the garbage collector to close.

Releasing and closing connections is shielded from cancellation, so a cancelled request
never leaks a pool slot. A transport used under a new event loop (a second ``anyio.run``,
asyncio then trio) drops the connections of the old one without awaiting on it (their
sockets are closed at once) and continues with a fresh pool.
"""

from __future__ import annotations

import asyncio
import math
import select
import ssl
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.abc

from sdk_core import (
    APIError,
    ConnectTimeout,
    Limits,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    Request,
    Response,
    Timeout,
    WriteError,
    WriteTimeout,
)
from sdk_core._config import wait_bound
from sdk_core._fastcodec import new_codec
from sdk_core._http11 import NEED_DATA, _NeedData
from sdk_core._pool import Lease, Outcome, PoolState
from sdk_core._reader import ResponseReader, StreamReader
from sdk_core._statistics import PoolStatistics

from ._connect_errors import connect_error, where
from ._dial import open_socket
from ._lifecycle import close_socket_now, closed_transport_error, current_loop, loop_may_still_run
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE, STREAM_WINDOW, AsyncResponseStream
from ._sockcheck import is_readable
from ._tls import CertTypes, LazySSLContext, VerifyTypes

__all__ = ["AnyioTransport"]

_READ_SIZE = 64 * 1024
_EARLY_LIMIT = 1024 * 1024  # at most this much of an early answer is read while sending
_STREAM_ERRORS = (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, ssl.SSLError)
_HIGH_WATER = 256 * 1024  # the asyncio stream stops reading with this much unread
_T = TypeVar("_T")


def _tick(timeout: float) -> float:
    """The spacing of the buckets of waits with ``timeout``: 1/16 of it, 1 to 250 ms."""
    return min(max(timeout / 16, 0.001), 0.25)


def _bucket(now: float, timeout: float) -> float:
    """The first tick at or after ``now + timeout``: waits with one timeout that start
    close together share it."""
    tick = _tick(timeout)
    return math.ceil((now + timeout) / tick) * tick


class _TimerWheel:
    """Read timeouts for many waits on one asyncio loop with few loop timers.

    A wait joins the bucket of the first tick at or after its deadline (ticks 1/16 of its
    timeout apart, from 1 ms to 250 ms), and one loop timer per bucket fails the waits
    still in it with ``TimeoutError``. So a wait ends at most one tick (about 6 % of its
    timeout) late, and 64 waits with the same timeout share one timer instead of each
    pushing and cancelling its own in the loop's heap.
    """

    __slots__ = ("_buckets", "_loop", "_ticks", "_time")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._time = loop.time
        self._buckets: dict[float, set[asyncio.Future[None]]] = {}
        self._ticks: dict[float, float] = {}  # _tick() of the timeouts seen (a few)

    def add(self, waiter: asyncio.Future[None], timeout: float) -> float:
        """Fail ``waiter`` about ``timeout`` seconds from now; returns its bucket."""
        tick = self._ticks.get(timeout)
        if tick is None:
            if len(self._ticks) >= 64:  # timeouts capped by deadlines vary
                self._ticks.clear()
            tick = self._ticks[timeout] = _tick(timeout)
        when = math.ceil((self._time() + timeout) / tick) * tick
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


class _AsyncioStream(asyncio.Protocol):
    """A plain-TCP connection on asyncio with the subset of anyio's ``ByteStream`` this
    transport uses (``send``, ``receive``, ``aclose``), its errors included.

    anyio's asyncio stream switches the socket's reader on and off around every receive
    and yields to the loop after every send; this one reads as bytes arrive (pausing
    past ``_HIGH_WATER`` unread) and only waits when it must. An answer that arrives
    while a body is still going out is kept even if the write then fails.
    Cancellation: ``send`` and ``receive`` stop waiting; buffered bytes stay.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, timers: _TimerWheel) -> None:
        self._loop = loop
        self._timers = timers
        self._transport: asyncio.Transport | None = None
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

    @property
    def raw_socket(self) -> Any:
        """The transport's socket (asyncio's ``TransportSocket`` wrapper)."""
        transport = self._transport
        return None if transport is None else transport.get_extra_info("socket")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _HIGH_WATER and not self._reading_paused:
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

    def _check_writable(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        if self._lost or self._eof:
            raise anyio.BrokenResourceError from self._exc

    @property
    def idle_broken(self) -> bool:
        """Bytes, EOF or an error arrived while idle: the connection must not be reused
        (the protocol reads as data arrives, so polling the socket would not see them)."""
        return bool(self._chunks) or self._eof or self._lost or self._closed

    @property
    def writing_paused(self) -> bool:
        """The transport holds more than its high-water mark: ``drain`` before more."""
        return self._writing_paused

    def write_nowait(self, data: bytes) -> bool:
        """Hand ``data`` to the transport if it is open; False (nothing written) if not."""
        if self._closed or self._lost or self._eof:
            return False
        assert self._transport is not None
        self._transport.write(data)
        return True

    async def send(self, data: bytes) -> None:
        self._check_writable()
        assert self._transport is not None
        self._transport.write(data)
        await self.drain()

    async def drain(self) -> None:
        """Wait until the transport is below its high-water mark; raise if it broke."""
        while self._writing_paused:
            self._check_writable()
            waiter = self._write_waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._write_waiter = None
        self._check_writable()

    async def receive(self, max_bytes: int = _READ_SIZE, timeout: float | None = None) -> bytes:
        """The next bytes. ``timeout`` bounds the wait for them (``TimeoutError``, up to
        a tick late: see ``_TimerWheel``), counted only when there is nothing to return
        yet."""
        chunks = self._chunks
        while not chunks:
            if self._closed:
                raise anyio.ClosedResourceError
            if self._lost or self._eof:
                if self._exc is not None:
                    raise anyio.BrokenResourceError from self._exc
                raise anyio.EndOfStream
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
        if self._reading_paused and self._buffered <= _HIGH_WATER // 4 and not self._lost:
            assert self._transport is not None
            self._reading_paused = False
            self._transport.resume_reading()
        return chunk

    async def aclose(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.abort()
        self._wake(self._read_waiter)
        self._wake(self._write_waiter)


class _TrioTimeouts:
    """Read timeouts for many waits in one trio run, without a cancel scope each (trio
    0.35 spends about 4 us entering and leaving one).

    A wait joins a bucket as on asyncio (``_bucket``); one system task sleeps until the
    earliest bucket and expires the streams still in it: their socket is handed to
    ``trio.lowlevel.notify_closing``, which wakes the wait with ``ClosedResourceError``,
    and the stream turns that into ``TimeoutError``. A timed-out connection is closed,
    never reused, so the socket being dropped from trio's wait list costs nothing.
    """

    __slots__ = ("_buckets", "_next", "_trio", "_wakeup", "_watching")

    def __init__(self, trio: Any) -> None:
        self._trio = trio
        self._buckets: dict[float, set[_TrioStream]] = {}
        self._next = math.inf  # the bucket the watcher sleeps until
        self._wakeup: Any = None  # set to wake the watcher for an earlier bucket
        self._watching = False

    def add(self, stream: _TrioStream, timeout: float) -> float:
        """Expire ``stream``'s wait about ``timeout`` seconds from now; its bucket."""
        trio = self._trio
        when = _bucket(trio.current_time(), timeout)
        bucket = self._buckets.get(when)
        if bucket is None:
            bucket = self._buckets[when] = set()
            if not self._watching:
                self._watching = True
                trio.lowlevel.spawn_system_task(self._watch, name="sdk read timeouts")
            elif when < self._next and self._wakeup is not None:
                self._wakeup.set()
        bucket.add(stream)
        return when

    def discard(self, when: float, stream: _TrioStream) -> None:
        """``stream``'s wait ended before its deadline."""
        bucket = self._buckets.get(when)
        if bucket is not None:
            bucket.discard(stream)

    async def _watch(self) -> None:
        trio, buckets = self._trio, self._buckets
        while True:
            now = trio.current_time()
            for when in [w for w in buckets if w <= now]:
                for stream in buckets.pop(when):
                    stream.expire()
            self._next = min(buckets, default=math.inf)
            self._wakeup = trio.Event()
            with trio.move_on_at(self._next):
                await self._wakeup.wait()


class _TrioStream:
    """A plain-TCP connection on trio: the connected socket, used non-blocking with
    trio's wait_readable / wait_writable, with the subset of anyio's ``ByteStream``
    this transport uses (``send``, ``receive``, ``aclose``), its errors included.

    anyio's trio stream goes through trio's ``SocketStream`` and checkpoints on every
    call; this one tries the socket first and only waits when the socket has nothing
    to give or take, its read timeout kept by ``_TrioTimeouts``. Each exchange starts
    with ``checkpoint_if_cancelled``, so a cancelled task still stops at once. Closing
    goes through the anyio stream (trio is told before the socket closes).
    """

    __slots__ = (
        "_closed",
        "_error",
        "_expired",
        "_pending",
        "_stream",
        "_timeouts",
        "_trio",
        "raw_socket",
    )

    def __init__(self, stream: anyio.abc.SocketStream, trio: Any, timeouts: _TrioTimeouts) -> None:
        self._stream = stream
        self._trio = trio
        self._timeouts = timeouts
        self._expired = False
        self.raw_socket: Any = stream.extra(anyio.abc.SocketAttribute.raw_socket)
        self._pending = b""  # accepted by write_nowait, not yet in the kernel
        self._error: OSError | None = None
        self._closed = False

    @property
    def writing_paused(self) -> bool:
        """Bytes wait to be sent: ``drain`` before reading the answer."""
        return bool(self._pending) or self._error is not None

    def write_nowait(self, data: bytes) -> bool:
        """Send what the socket takes now and keep the rest for ``drain``; False
        (nothing written) when the stream is closed."""
        if self._closed:
            return False
        view = memoryview(data)
        try:
            while view:
                view = view[self.raw_socket.send(view) :]
        except BlockingIOError:
            self._pending = bytes(view)
        except OSError as exc:
            self._error = exc
        return True

    async def drain(self) -> None:
        """Send what ``write_nowait`` kept; raise if the connection broke."""
        trio, sock = self._trio, self.raw_socket
        while self._pending and self._error is None:
            if self._closed:
                raise anyio.ClosedResourceError
            await trio.lowlevel.wait_writable(sock)
            self.write_nowait(self._pending)
        if self._error is not None:
            raise anyio.BrokenResourceError from self._error

    async def send(self, data: bytes) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        self.write_nowait(data)
        await self.drain()

    async def receive(self, max_bytes: int = _READ_SIZE, timeout: float | None = None) -> bytes:
        """The next bytes. ``timeout`` bounds each wait for them (``TimeoutError``)."""
        trio, sock = self._trio, self.raw_socket
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            try:
                data: bytes = sock.recv(max_bytes)
            except BlockingIOError:
                if timeout is None:
                    await trio.lowlevel.wait_readable(sock)
                    continue
                self._expired = False
                when = self._timeouts.add(self, timeout)
                try:
                    await trio.lowlevel.wait_readable(sock)
                except trio.ClosedResourceError:
                    if self._expired:
                        raise TimeoutError from None
                    raise anyio.ClosedResourceError from None
                finally:
                    self._timeouts.discard(when, self)
                continue
            except OSError as exc:
                raise anyio.BrokenResourceError from exc
            if not data:
                raise anyio.EndOfStream
            return data

    def expire(self) -> None:
        """The read timeout ran out: wake the wait with ``TimeoutError``. A stream closed
        meanwhile is left alone; ``notify_closing`` on a socket closed under the stream
        does nothing (the test pins that: an exception in the watcher would end the run)."""
        self._expired = True
        if self._closed:
            return
        self._trio.lowlevel.notify_closing(self.raw_socket)

    async def aclose(self) -> None:
        self._closed = True
        await self._stream.aclose()


class _Connection:
    __slots__ = ("codec", "poll", "protocol", "sock", "stream")

    def __init__(self, stream: anyio.abc.ByteStream | _AsyncioStream | _TrioStream) -> None:
        self.stream = stream
        self.protocol = stream if isinstance(stream, _AsyncioStream) else None
        self.codec = new_codec()
        # Looked up once: the stale check runs before every reuse.
        if isinstance(stream, _AsyncioStream | _TrioStream):
            self.sock = stream.raw_socket
        else:
            self.sock = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)
        #: ``poll`` of a poll object watching the socket, when the platform has one.
        self.poll: Callable[[int], list[tuple[int, int]]] | None = None
        if self.sock is not None and hasattr(select, "poll"):
            try:
                poller = select.poll()
                poller.register(self.sock, select.POLLIN | select.POLLERR | select.POLLHUP)
                self.poll = poller.poll
            except (OSError, ValueError):
                self.poll = None

    def is_stale(self) -> bool:
        """An idle connection that is readable was closed by the server (or sent junk)."""
        protocol = self.protocol
        if protocol is not None and protocol.idle_broken:
            return True
        poll = self.poll
        if poll is None:
            return self.sock is None or is_readable(self.sock)
        try:
            return bool(poll(0))  # POLLNVAL for a closed descriptor: stale
        except (OSError, ValueError):
            return True

    def close_now(self) -> None:
        """Close the socket at once, with no event loop (it may be gone)."""
        close_socket_now(self.sock)


def _deadline(seconds: float | None) -> float:
    return float("inf") if seconds is None else seconds


def _loop_clock(loop: object) -> Callable[[], float]:
    """The clock anyio's cancel-scope deadlines use on ``loop``, without anyio's
    per-call backend lookup: the asyncio loop's ``time``, trio's ``current_time``."""
    asyncio = sys.modules.get("asyncio")
    clock: Callable[[], float] = anyio.current_time
    if asyncio is not None and isinstance(loop, asyncio.AbstractEventLoop):
        clock = loop.time
    else:
        trio = sys.modules.get("trio")
        if trio is not None and trio.lowlevel.in_trio_run():
            clock = trio.current_time
    return clock  # pragma: no cover - no other backend


class AnyioTransport:
    """An async transport for asyncio and trio: anyio streams, the core's HTTP/1.1 codec
    and its pool. Options and errors as ``SocketTransport``. On cancellation the
    request's connection is closed (shielded), its slot freed, and the cancellation
    propagates.
    """

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        self._limits = limits or Limits()
        self._pool = PoolState(self._limits)
        self._connections: dict[int, _Connection] = {}
        self._waiting: dict[int, tuple[anyio.Event, list[Lease]]] = {}
        self._ssl_context = LazySSLContext(verify, cert)
        self._max_response_size = max_response_size
        self._closed = False
        self._loop: object = None  # the event loop the pool's connections belong to
        self._epoch = 0  # bumped when the pool is dropped for another loop
        self._clock: Callable[[], float] = anyio.current_time  # the loop's, once known
        self._asyncio_loop: asyncio.AbstractEventLoop | None = None  # when it is asyncio
        self._timers: _TimerWheel | None = None  # the asyncio loop's read timeouts
        self._trio_timeouts: _TrioTimeouts | None = None  # the trio run's read timeouts

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
                    conn.close_now()
        self._loop = loop
        self._clock = _loop_clock(loop)
        self._asyncio_loop = loop if isinstance(loop, asyncio.AbstractEventLoop) else None
        self._timers = None if self._asyncio_loop is None else _TimerWheel(self._asyncio_loop)
        self._trio_timeouts = None  # made for this trio run when it opens a connection

    def _after(self, seconds: float | None) -> float:
        """The deadline ``seconds`` from now on the loop's clock (inf for None)."""
        return math.inf if seconds is None else self._clock() + seconds

    async def _apply(self, out: Outcome) -> None:
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

    async def _open(self, request: Request, timeout: Timeout) -> _Connection:
        """A new connection for ``request``. Raises ``ConnectError`` (saying why) or
        ``ConnectTimeout``; on failure or cancellation no socket is left open."""
        url = request.url
        tls = url.scheme == "https"
        stream: anyio.abc.ByteStream | _AsyncioStream | _TrioStream
        loop, timers = self._asyncio_loop, self._timers
        try:
            with anyio.fail_after(_deadline(timeout.connect)):
                if loop is not None and timers is not None and not tls:
                    sock = await open_socket(loop, url.host, url.port)
                    try:
                        _, stream = await loop.create_connection(
                            lambda: _AsyncioStream(loop, timers), sock=sock
                        )
                    except BaseException:
                        sock.close()  # asyncio's transport, if any, closes it too
                        raise
                elif tls:
                    stream = await anyio.connect_tcp(
                        url.host,
                        url.port,
                        ssl_context=self._ssl_context.get(),
                        tls_hostname=url.host,
                        tls_standard_compatible=False,
                    )
                else:
                    tcp = await anyio.connect_tcp(url.host, url.port)
                    trio = sys.modules.get("trio")
                    if trio is not None and trio.lowlevel.in_trio_run():
                        if self._trio_timeouts is None:
                            self._trio_timeouts = _TrioTimeouts(trio)
                        stream = _TrioStream(tcp, trio, self._trio_timeouts)
                    else:  # pragma: no cover - no other backend
                        stream = tcp
        except TimeoutError:
            raise ConnectTimeout(
                f"connecting to {where(request)} took over {timeout.connect} s.",
                request=request,
            ) from None
        except _STREAM_ERRORS as exc:
            raise connect_error(exc, request) from exc
        return _Connection(stream)

    async def _checkout(self, request: Request, timeout: Timeout) -> tuple[Lease, _Connection, int]:
        """A lease, its connection (a live pooled one, or one opened here) and the pool's
        epoch. On failure or cancellation nothing is held."""
        if current_loop() is not self._loop:
            self._check_loop()
        epoch = self._epoch
        conn: _Connection | None = None
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
            if conn is not None and conn.is_stale():
                await self._release(lease, reusable=False)
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

    async def _finish(self, lease: Lease, conn: _Connection, epoch: int, reusable: bool) -> None:
        """Give ``lease`` back (shielded closes), or close ``conn`` at once when the pool
        moved to another loop meanwhile."""
        out = self._give_back(lease, conn, epoch, reusable)
        if out is not None:
            await self._apply(out)

    def _give_back(
        self, lease: Lease, conn: _Connection, epoch: int, reusable: bool
    ) -> Outcome | None:
        """``_finish`` up to its first await: the slot is free when this returns; the
        outcome returned (if any) still has connections to close or waiters to wake."""
        if epoch != self._epoch:
            conn.close_now()
            return None
        out = self._pool.release(lease, reusable=reusable, now=time.monotonic())
        return out if out.wake or out.close else None

    async def handle_async_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` once and read the whole response."""
        lease, conn, epoch = await self._checkout(request, timeout)
        reusable = False
        try:
            reader = ResponseReader(conn.codec, request, max_size=self._max_response_size)
            (response, reusable), sent = await self._exchange(
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
            head, sent = await self._exchange(conn, request, timeout, reader.head, reader.feed)
        except BaseException:
            await self._finish(lease, conn, epoch, False)
            raise
        return head, _AnyioResponseStream(self, lease, conn, epoch, reader, request, sent)

    async def _exchange(
        self,
        conn: _Connection,
        request: Request,
        timeout: Timeout,
        step: Callable[[], _T | _NeedData],
        feed: Callable[[bytes], None],
    ) -> tuple[_T, bool]:
        """Send ``request`` and read its response (``step`` until it stops returning
        ``NEED_DATA``, ``feed`` with what arrives) under one cancel scope whose deadline
        follows the phase: ``timeout.write`` for each send, then ``timeout.read`` from
        the end of the request and again after each chunk received. Returns what
        ``step`` returned and whether the whole request went out."""
        content = request.content
        stream = conn.stream
        early: list[bytes] = []  # read while sending; b"" marks EOF
        body = content if isinstance(content, bytes) and len(content) <= _READ_SIZE else None
        written = reading = False
        if body is not None and isinstance(stream, _AsyncioStream | _TrioStream):
            if isinstance(stream, _TrioStream):
                await stream._trio.lowlevel.checkpoint_if_cancelled()
            # Handed whole to the transport (or socket), without waiting: unless some of
            # it is still held back, the write phase is over and the read one starts.
            written = stream.write_nowait(conn.codec.encode_request(request, body=body))
            reading = written and not stream.writing_paused
        write_error: tuple[WriteError, BaseException] | None = None
        if reading:
            # The request went out whole at once: the read timeout bounds each wait for
            # bytes on its own, with no cancel scope around the exchange.
            assert isinstance(stream, _AsyncioStream | _TrioStream)
            # Nothing of the response can be buffered yet: a cycle starts with an empty
            # codec, so the first step would only say NEED_DATA.
            result = await _read_native(stream, request, timeout.read, step, feed, fresh=True)
            return result, True
        deadline = self._after(timeout.write)
        with anyio.CancelScope(deadline=deadline) as scope:
            try:
                if written:
                    assert isinstance(stream, _AsyncioStream | _TrioStream)
                    await stream.drain()
                elif body is not None:
                    await stream.send(conn.codec.encode_request(request, body=body))
                else:
                    await self._send_watching(conn, request, timeout, early, scope)
            except TimeoutError:  # the OS's, not the scope's (that one is caught below)
                message = "sending the request timed out."
                raise WriteTimeout(message, request=request) from None
            except _STREAM_ERRORS as exc:
                error = WriteError(f"{exc}", request=request)
                write_error = error, exc
                # A server may answer and close before reading the whole body (413 during a
                # large upload): that answer, when it arrived, is what the caller gets.
                scope.deadline = self._after(timeout.read)
                try:
                    result = await self._read(conn, request, timeout, early, scope, step, feed)
                except APIError:
                    raise error from exc
                return result, False
            reading = True
            if timeout.read is not None or timeout.write is not None:
                scope.deadline = self._after(timeout.read)
            return await self._read(conn, request, timeout, early, scope, step, feed), True
        # Only the scope's own deadline gets here (an outer cancellation propagates).
        if write_error is not None:  # no answer came in time: the send's failure it is
            raise write_error[0] from write_error[1]
        if not reading:
            message = "sending the request timed out."
            raise WriteTimeout(message, request=request)
        raise ReadTimeout(f"no data for {timeout.read} s.", request=request)

    async def _send_request(
        self, conn: _Connection, request: Request, timeout: Timeout, scope: anyio.CancelScope
    ) -> None:
        """Send the request; ``scope``'s deadline bounds each send by ``timeout.write``
        and is lifted while a streamed body produces its next chunk."""
        codec, stream = conn.codec, conn.stream
        content = request.content
        if isinstance(content, bytes):
            await stream.send(codec.encode_request(request, body=content))
            return
        await stream.send(codec.encode_request(request))
        chunks = aiter(content)  # type: ignore[arg-type]
        while True:
            scope.deadline = math.inf
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            scope.deadline = self._after(timeout.write)
            await stream.send(codec.encode_chunk(chunk))
        scope.deadline = self._after(timeout.write)
        await stream.send(codec.encode_end())

    async def _send_watching(
        self,
        conn: _Connection,
        request: Request,
        timeout: Timeout,
        early: list[bytes],
        scope: anyio.CancelScope,
    ) -> None:
        """Send a large or streamed request while receiving into ``early``.

        asyncio closes a socket whose write failed and drops the bytes it had not read,
        so an early answer (413 while the body is still going out, then a close) is read
        as it arrives. Cancelled with the request: nothing is lost, nothing leaks.
        """

        async def watch(*, task_status: anyio.abc.TaskStatus[None]) -> None:
            task_status.started()  # and at once waits to receive, before anything is sent
            try:
                while sum(map(len, early)) < _EARLY_LIMIT:
                    early.append(await conn.stream.receive(_READ_SIZE))
            except anyio.EndOfStream:
                early.append(b"")
            except Exception:  # the read after sending reports it
                pass

        failure: Exception | None = None
        async with anyio.create_task_group() as tg:
            await tg.start(watch)
            try:
                await self._send_request(conn, request, timeout, scope)
            except Exception as exc:  # re-raised below, not inside an exception group
                failure = exc
            tg.cancel_scope.cancel()
        if failure is not None:
            raise failure

    async def _read(
        self,
        conn: _Connection,
        request: Request,
        timeout: Timeout,
        early: list[bytes],
        scope: anyio.CancelScope,
        step: Callable[[], _T | _NeedData],
        feed: Callable[[bytes], None],
    ) -> _T:
        """Read until ``step`` has its result; ``scope``'s deadline, set by the caller for
        the first receive, moves ``timeout.read`` ahead before each later one."""
        for data in early:
            feed(data)
        first = True
        while True:
            result = step()
            if result is not NEED_DATA:
                return result
            if first:
                first = False
            elif timeout.read is not None:
                scope.deadline = self._clock() + timeout.read
            feed(await _receive(conn, request, timeout.read))

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


async def _read_native(
    stream: _AsyncioStream | _TrioStream,
    request: Request,
    timeout: float | None,
    step: Callable[[], _T | _NeedData],
    feed: Callable[[bytes], None],
    until: tuple[Callable[[], float], float] | None = None,
    *,
    fresh: bool = False,
) -> _T:
    """Read until ``step`` has its result, each receive waiting at most ``timeout`` or,
    with ``until`` (a clock and a time on it), at most what is left until then.
    ``fresh``: nothing was fed yet, so reading comes before the first step."""
    wait = timeout
    while True:
        if fresh:
            fresh = False
        else:
            result = step()
            if result is not NEED_DATA:
                return result
        if until is not None and timeout is not None:
            wait = wait_bound(timeout, until[1], until[0]())
            if wait is not None and wait <= 0:
                raise ReadTimeout(f"no data for {timeout} s.", request=request)
        try:
            data = await stream.receive(_READ_SIZE, wait)
        except anyio.EndOfStream:
            data = b""
        except TimeoutError:
            raise ReadTimeout(f"no data for {timeout} s.", request=request) from None
        except _STREAM_ERRORS as exc:
            raise ReadError(f"{exc}", request=request) from exc
        feed(data)


async def _receive(conn: _Connection, request: Request, timeout: float | None) -> bytes:
    """The next bytes from ``conn`` (b"" at EOF), stream errors made typed."""
    try:
        return await conn.stream.receive(_READ_SIZE)
    except anyio.EndOfStream:
        return b""
    except TimeoutError:  # the OS's, not a cancel scope's
        raise ReadTimeout(f"no data for {timeout} s.", request=request) from None
    except _STREAM_ERRORS as exc:
        raise ReadError(f"{exc}", request=request) from exc


class _AnyioResponseStream:
    """The body of a response from ``AnyioTransport.open_async_stream``."""

    __slots__ = ("_conn", "_epoch", "_lease", "_may_reuse", "_reader", "_request", "_transport")

    def __init__(
        self,
        transport: AnyioTransport,
        lease: Lease,
        conn: _Connection,
        epoch: int,
        reader: StreamReader,
        request: Request,
        may_reuse: bool,
    ) -> None:
        self._transport: AnyioTransport | None = transport
        self._lease = lease
        self._conn = conn
        self._epoch = epoch
        self._reader = reader
        self._request = request
        self._may_reuse = may_reuse

    async def read_chunk(self, timeout: float | None) -> bytes:
        """The next decoded piece of the body, b"" at its end; ``timeout`` bounds this
        call. Raises ``ReadTimeout``, ``ReadError`` or ``RemoteProtocolError``; on those
        and on cancellation the connection is closed and released (shielded)."""
        transport = self._transport
        if transport is None:
            return b""
        reader, conn = self._reader, self._conn
        stream = conn.stream
        piece = b""
        try:
            if isinstance(stream, _AsyncioStream | _TrioStream):
                # Each receive waits at most what is left of this call: no cancel scope.
                clock = transport._clock
                end = math.inf if timeout is None else clock() + timeout
                piece = await _read_native(
                    stream, self._request, timeout, reader.body, reader.feed, (clock, end)
                )
            else:
                with anyio.CancelScope(deadline=transport._after(timeout)) as scope:
                    while True:
                        step = reader.body()
                        if isinstance(step, bytes):
                            piece = step
                            break
                        reader.feed(await _receive(conn, self._request, timeout))
                if scope.cancelled_caught:
                    message = f"no data for {timeout} s."
                    raise ReadTimeout(message, request=self._request)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._finish(reusable=False)
            raise
        if not piece:
            await self._finish(reusable=reader.reusable and self._may_reuse)
        return piece

    async def _finish(self, *, reusable: bool) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport._finish(self._lease, self._conn, self._epoch, reusable)

    async def aclose(self) -> None:
        """Release the connection, closed unless the body was read to its end; shielded."""
        with anyio.CancelScope(shield=True):
            await self._finish(reusable=False)
