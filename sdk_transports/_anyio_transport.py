"""``AnyioTransport``: HTTP/1.1 over anyio streams, on the core's codec and pool.

The same code runs on asyncio and trio. Releasing and closing connections is shielded
from cancellation, so a cancelled request never leaks a pool slot. A transport used
under a new event loop (a second ``anyio.run``, asyncio then trio) drops the connections
of the old one without awaiting on it (their sockets are closed at once) and continues
with a fresh pool.
"""

from __future__ import annotations

import ssl
import time

import anyio
import anyio.abc

from sdk_core import (
    APIError,
    ConnectError,
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
from sdk_core._fastcodec import new_codec
from sdk_core._http11 import NEED_DATA
from sdk_core._pool import Lease, Outcome, PoolState
from sdk_core._reader import ResponseReader
from sdk_core._statistics import PoolStatistics

from ._lifecycle import close_socket_now, current_loop, loop_may_still_run
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE
from ._sockcheck import is_readable
from ._tls import CertTypes, VerifyTypes, make_ssl_context

__all__ = ["AnyioTransport"]

_READ_SIZE = 64 * 1024
_EARLY_LIMIT = 1024 * 1024  # at most this much of an early answer is read while sending
_STREAM_ERRORS = (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, ssl.SSLError)


class _Connection:
    __slots__ = ("codec", "stream")

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.stream = stream
        self.codec = new_codec()

    def is_stale(self) -> bool:
        """An idle connection that is readable was closed by the server (or sent junk)."""
        try:
            sock = self.stream.extra(anyio.abc.SocketAttribute.raw_socket)
        except anyio.TypedAttributeLookupError:
            return True
        return is_readable(sock)

    def close_now(self) -> None:
        """Close the socket at once, with no event loop (it may be gone)."""
        close_socket_now(self.stream.extra(anyio.abc.SocketAttribute.raw_socket, None))


def _deadline(seconds: float | None) -> float:
    return float("inf") if seconds is None else seconds


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
        self._ssl_context = make_ssl_context(verify, cert)
        self._max_response_size = max_response_size
        self._closed = False
        self._loop: object = None  # the event loop the pool's connections belong to
        self._epoch = 0  # bumped when the pool is dropped for another loop

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

    async def _acquire(self, request: Request, timeout: Timeout) -> Lease:
        if self._closed:
            raise ConnectError("ConnectError: the transport is closed.", request=request)
        out = self._pool.request(request.url.origin, time.monotonic())
        await self._apply(out)
        if out.lease is not None:
            return out.lease
        event, box = anyio.Event(), list[Lease]()
        self._waiting[out.ticket] = (event, box)
        try:
            with anyio.move_on_after(_deadline(timeout.pool)):
                await event.wait()
        except BaseException:
            if box:  # handed a lease, then cancelled before resuming: give it back
                await self._release(box[0], reusable=True)
            raise
        finally:
            if not box:
                self._pool.cancel(out.ticket)
                self._waiting.pop(out.ticket, None)
        if box:
            return box[0]
        if self._closed:
            raise ConnectError("ConnectError: the transport is closed.", request=request)
        raise PoolTimeout(
            f"PoolTimeout: no connection became free within {timeout.pool} s.", request=request
        )

    async def _release(self, lease: Lease, reusable: bool) -> None:
        with anyio.CancelScope(shield=True):
            out = self._pool.release(lease.connection, reusable=reusable, now=time.monotonic())
            await self._apply(out)

    async def _open(self, request: Request, timeout: Timeout) -> _Connection:
        url = request.url
        tls = url.scheme == "https"
        stream: anyio.abc.ByteStream
        try:
            with anyio.fail_after(_deadline(timeout.connect)):
                if tls:
                    stream = await anyio.connect_tcp(
                        url.host,
                        url.port,
                        ssl_context=self._ssl_context,
                        tls_hostname=url.host,
                        tls_standard_compatible=False,
                    )
                else:
                    stream = await anyio.connect_tcp(url.host, url.port)
        except TimeoutError:
            raise ConnectTimeout(
                f"ConnectTimeout: connecting to {url.host_header} took over {timeout.connect} s.",
                request=request,
            ) from None
        except ssl.SSLError as exc:
            raise ConnectError(f"ConnectError: TLS failed: {exc}", request=request) from exc
        except _STREAM_ERRORS as exc:
            raise ConnectError(f"ConnectError: {exc}", request=request) from exc
        return _Connection(stream)

    async def handle_async_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` once and read the whole response."""
        if current_loop() is not self._loop:
            self._check_loop()
        epoch = self._epoch
        conn: _Connection | None = None
        while True:
            lease = await self._acquire(request, timeout)
            conn = None if lease.is_new else self._connections.get(lease.connection)
            if conn is not None and conn.is_stale():
                await self._release(lease, reusable=False)
                continue
            break
        reusable = False
        try:
            if conn is None:
                conn = await self._open(request, timeout)
                self._connections[lease.connection] = conn
                self._pool.opened(lease.connection)
            response, reusable = await self._exchange(conn, request, timeout)
        finally:
            if epoch == self._epoch:
                await self._release(lease, reusable)
            elif conn is not None:  # finalised after the pool moved to another loop
                conn.close_now()
        return response

    async def _send(self, stream: anyio.abc.ByteStream, data: bytes, timeout: Timeout) -> None:
        with anyio.fail_after(_deadline(timeout.write)):
            await stream.send(data)

    async def _exchange(
        self, conn: _Connection, request: Request, timeout: Timeout
    ) -> tuple[Response, bool]:
        content = request.content
        early: list[bytes] = []  # read while sending; b"" marks EOF
        try:
            if isinstance(content, bytes) and len(content) <= _READ_SIZE:
                await self._send_request(conn, request, timeout)
            else:
                await self._send_watching(conn, request, timeout, early)
        except TimeoutError:
            message = "WriteTimeout: sending the request timed out."
            raise WriteTimeout(message, request=request) from None
        except _STREAM_ERRORS as exc:
            error = WriteError(f"WriteError: {exc}", request=request)
            # A server may answer and close before reading the whole body (413 during a
            # large upload): that answer, when it arrived, is what the caller gets.
            try:
                response, _ = await self._read_response(conn, request, timeout, early)
            except APIError:
                raise error from exc
            return response, False
        return await self._read_response(conn, request, timeout, early)

    async def _send_request(self, conn: _Connection, request: Request, timeout: Timeout) -> None:
        codec, stream = conn.codec, conn.stream
        content = request.content
        if isinstance(content, bytes):
            await self._send(stream, codec.encode_request(request, body=content), timeout)
        else:
            await self._send(stream, codec.encode_request(request), timeout)
            async for chunk in content:  # type: ignore[union-attr]
                await self._send(stream, codec.encode_chunk(chunk), timeout)
            await self._send(stream, codec.encode_end(), timeout)

    async def _send_watching(
        self, conn: _Connection, request: Request, timeout: Timeout, early: list[bytes]
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
                await self._send_request(conn, request, timeout)
            except Exception as exc:  # re-raised below, not inside an exception group
                failure = exc
            tg.cancel_scope.cancel()
        if failure is not None:
            raise failure

    async def _read_response(
        self, conn: _Connection, request: Request, timeout: Timeout, early: list[bytes]
    ) -> tuple[Response, bool]:
        codec, stream = conn.codec, conn.stream
        reader = ResponseReader(codec, request, max_size=self._max_response_size)
        for data in early:
            reader.feed(data)
        while True:
            step = reader.step()
            if step is not NEED_DATA:
                return step
            try:
                with anyio.fail_after(_deadline(timeout.read)):
                    data = await stream.receive(_READ_SIZE)
            except anyio.EndOfStream:
                data = b""
            except TimeoutError:
                raise ReadTimeout(
                    f"ReadTimeout: no data for {timeout.read} s.", request=request
                ) from None
            except _STREAM_ERRORS as exc:
                raise ReadError(f"ReadError: {exc}", request=request) from exc
            reader.feed(data)

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
