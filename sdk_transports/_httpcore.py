"""``HttpcoreTransport`` and ``AsyncHttpcoreTransport``: httpcore's pools behind the
transport protocols (streaming included), with every httpcore exception translated where
it enters.

A pool is only used in the process and on the event loop that made it: after
``os.fork()`` (sync) or under another event loop (async) the transport closes the old
pool's sockets at once, sending nothing and awaiting nothing, and makes a new pool.
"""

from __future__ import annotations

import ssl
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import anyio
import httpcore

from sdk_core import (
    APIError,
    BodyDecoder,
    Limits,
    ReadTimeout,
    Request,
    Response,
    StreamDecoder,
    Timeout,
)
from sdk_core._statistics import PoolStatistics

from ._httpcore_common import (
    AsyncBody,
    SyncBody,
    drop_if_bytes_past_response,
    map_httpcore_exceptions,
    pool_statistics,
    response_headers,
    to_httpcore_request,
)
from ._lifecycle import (
    closed_transport_error,
    current_loop,
    current_pid,
    drop_httpcore_connections,
    fork_lock,
    loop_may_still_run,
)
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE, STREAM_WINDOW
from ._sockcheck import socket_timeout
from ._tls import CertTypes, VerifyTypes, make_ssl_context

__all__ = ["AsyncHttpcoreTransport", "HttpcoreTransport"]


def _pool_options(limits: Limits, verify: VerifyTypes, cert: CertTypes) -> dict[str, object]:
    return {
        "ssl_context": make_ssl_context(verify, cert),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }


class _Deadline(threading.local):
    """The monotonic time by which this thread's current exchange must end, or None."""

    end: float | None = None

    def bound(self, timeout: float | None) -> float | None:
        """``timeout``, or what is left until ``end`` when that is less (see
        ``socket_timeout``)."""
        return socket_timeout(timeout, self.end)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every wait is also bounded by the thread's ``_Deadline``:
    httpcore bounds each receive by the read timeout alone, so a body trickling in
    slower than that would otherwise keep a blocking call alive past its deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.bound(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.bound(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._deadline.bound(timeout))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's blocking backend, its streams wrapped in ``_DeadlineStream``."""

    def __init__(self, deadline: _Deadline) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if timeout is not None and timeout <= 0:  # a socket timeout of 0 means "do not block"
            raise httpcore.ConnectTimeout("no time was allowed to connect")
        stream = self._inner.connect_tcp(
            host, port, self._deadline.bound(timeout), local_address, socket_options
        )
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(  # pragma: no cover - the transport dials TCP only
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, timeout, socket_options)
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore retries only
        self._inner.sleep(seconds)


class _ClosingStream(httpcore.AsyncNetworkStream):
    """httpcore's stream (anyio's or trio's), except that a failed ``start_tls`` closes the
    connection however it failed (shielded), cancellation included: httpcore's closes
    it on an ``Exception`` only, which would leave the socket of a cancelled handshake
    to the garbage collector."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            return await self._inner.start_tls(ssl_context, server_hostname, timeout)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._inner.aclose()
            raise

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    """httpcore's own backend for the running loop (trio's native streams are the
    fastest on trio), its streams ``_ClosingStream``, and a cancellation raised as
    itself.

    On trio, ``trio.open_tcp_stream`` (inside httpcore's trio backend) runs its
    connection attempts in a nursery with strict exception groups, so a cancellation
    comes out as ``BaseExceptionGroup([Cancelled])``, which a caller's
    ``except trio.Cancelled`` misses: such a group is unwrapped here. The nursery
    closes every socket it opened either way.
    """

    def __init__(self) -> None:
        self._anyio = httpcore.AnyIOBackend()
        self._trio: httpcore.AsyncNetworkBackend | None = None

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        trio = sys.modules.get("trio")
        if trio is None or not trio.lowlevel.in_trio_run():
            stream = await self._anyio.connect_tcp(
                host, port, timeout, local_address, socket_options
            )
            return _ClosingStream(stream)
        if self._trio is None:
            self._trio = httpcore.TrioBackend()
        try:
            stream = await self._trio.connect_tcp(
                host, port, timeout, local_address, socket_options
            )
        except BaseException as exc:
            cancelled = _only_cancellations(exc, trio.Cancelled)
            if cancelled is not None:
                raise cancelled from None
            raise
        return _ClosingStream(stream)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


def _only_cancellations(exc: BaseException, cancelled: type[BaseException]) -> BaseException | None:
    """The first ``cancelled`` in ``exc`` when ``exc`` is an exception group holding
    nothing else (at any depth); None otherwise (``exc`` itself included)."""
    members = getattr(exc, "exceptions", None)
    if not isinstance(members, tuple) or not members:
        return None
    first: BaseException | None = None
    for member in members:
        found = member if isinstance(member, cancelled) else _only_cancellations(member, cancelled)
        if found is None:
            return None
        first = first or found
    return first


class HttpcoreTransport:
    """A blocking transport over ``httpcore.ConnectionPool``; safe to share between threads.

    Raises the core's connection errors (``ConnectError``, ``ReadTimeout``, ...) and
    ``ResponseTooLargeError`` past ``max_response_size`` bytes of decoded body.
    """

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        self._deadline = _Deadline()
        self._options = {
            **_pool_options(limits or Limits(), verify, cert),
            "network_backend": _DeadlineBackend(self._deadline),
        }
        self._pool = httpcore.ConnectionPool(**self._options)  # type: ignore[arg-type]
        self._max_response_size = max_response_size
        self._closed = False
        self._pid = current_pid()

    def _check_pid(self) -> None:
        """In a forked child: drop the inherited pool (nothing sent) and make a new one."""
        pid = current_pid()
        if pid == self._pid:
            return
        with fork_lock():
            if pid == self._pid:
                return  # another thread of the child did it
            inherited = self._pool  # its lock may have been held at fork time: unused
            self._pool = httpcore.ConnectionPool(**self._options)  # type: ignore[arg-type]
            self._pid = pid
        drop_httpcore_connections(inherited.connections)

    def handle_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` once and read the whole response."""
        if self._pid != current_pid():
            self._check_pid()
        if self._closed:
            raise closed_transport_error(request)
        deadline = self._deadline
        deadline.end = None if timeout.total is None else time.monotonic() + timeout.total
        try:
            with map_httpcore_exceptions(request, timeout):
                raw = self._pool.handle_request(
                    to_httpcore_request(request, timeout, _sync_content(request))
                )
                try:
                    headers = response_headers(raw, request)
                    decoder = BodyDecoder(
                        headers.get("content-encoding"), max_size=self._max_response_size
                    )
                    body = bytearray()
                    for chunk in raw.stream:  # type: ignore[union-attr]
                        body += decoder.feed(chunk)
                    drop_if_bytes_past_response(raw)
                    body += decoder.flush()
                finally:
                    raw.close()
        finally:
            deadline.end = None
        return Response(raw.status, headers=headers, content=bytes(body), request=request)

    def open_stream(
        self, request: Request, timeout: Timeout
    ) -> tuple[Response, HttpcoreResponseStream]:
        """Send ``request`` once and read the response head; the body follows as a
        ``HttpcoreResponseStream`` that holds the connection until it ends or is closed.
        Raises as ``handle_request`` does; on failure nothing is held."""
        if self._pid != current_pid():
            self._check_pid()
        if self._closed:
            raise closed_transport_error(request)
        raw_request = to_httpcore_request(request, timeout, _sync_content(request))
        deadline = self._deadline
        deadline.end = None if timeout.total is None else time.monotonic() + timeout.total
        try:
            with map_httpcore_exceptions(request, timeout):
                raw = self._pool.handle_request(raw_request)
                try:
                    headers = response_headers(raw, request)
                    decoder = StreamDecoder(headers.get("content-encoding"), window=STREAM_WINDOW)
                except BaseException:
                    raw.close()
                    raise
        finally:
            deadline.end = None
        head = Response(raw.status, headers=headers, content=b"", request=request)
        return head, HttpcoreResponseStream(raw, raw_request, request, decoder, deadline)

    def statistics(self) -> PoolStatistics:
        """Connections in use, idle, and requests waiting for one."""
        self._check_pid()
        return pool_statistics(self._pool)

    def close(self) -> None:
        """Close every pooled connection."""
        self._check_pid()
        self._closed = True
        self._pool.close()


class AsyncHttpcoreTransport:
    """An async transport over ``httpcore.AsyncConnectionPool``, on asyncio and trio.

    Raises as ``HttpcoreTransport`` does. On cancellation the response is closed
    (shielded), its connection released, and the cancellation propagates.
    """

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        self._options = {
            **_pool_options(limits or Limits(), verify, cert),
            "network_backend": _AsyncBackend(),
        }
        self._pool = httpcore.AsyncConnectionPool(**self._options)  # type: ignore[arg-type]
        self._max_response_size = max_response_size
        self._closed = False
        self._loop: object = None  # the event loop the pool's connections belong to

    def _check_loop(self) -> None:
        """Under another event loop than the pool's: close the old pool's sockets at
        once (awaiting nothing on the old loop) and make a new pool."""
        loop = current_loop()
        if loop is self._loop:
            return
        if self._loop is not None:
            old = self._pool
            self._pool = httpcore.AsyncConnectionPool(**self._options)  # type: ignore[arg-type]
            if not loop_may_still_run(self._loop):
                drop_httpcore_connections(old.connections)
        self._loop = loop

    async def handle_async_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` once and read the whole response."""
        if current_loop() is not self._loop:
            self._check_loop()
        if self._closed:
            raise closed_transport_error(request)
        with map_httpcore_exceptions(request, timeout):
            raw = await self._send(request, timeout)
            try:
                headers = response_headers(raw, request)
                decoder = BodyDecoder(
                    headers.get("content-encoding"), max_size=self._max_response_size
                )
                body = bytearray()
                async for chunk in raw.stream:  # type: ignore[union-attr]
                    body += decoder.feed(chunk)
                drop_if_bytes_past_response(raw)
                body += decoder.flush()
            finally:
                with anyio.CancelScope(shield=True):
                    await raw.aclose()
        return Response(raw.status, headers=headers, content=bytes(body), request=request)

    async def _send(
        self, request: Request, timeout: Timeout, raw_request: httpcore.Request | None = None
    ) -> httpcore.Response:
        """httpcore's response to ``request`` (or to ``raw_request``, its httpcore form),
        up to its head; the request body's iterator is closed (shielded) once httpcore
        is done with it, however that ended."""
        if raw_request is None:
            raw_request = to_httpcore_request(request, timeout, _async_content(request))
        try:
            return await self._pool.handle_async_request(raw_request)
        finally:
            body = raw_request.stream
            if isinstance(body, AsyncBody):
                with anyio.CancelScope(shield=True):
                    await body.aclose()

    async def open_async_stream(
        self, request: Request, timeout: Timeout
    ) -> tuple[Response, AsyncHttpcoreResponseStream]:
        """Send ``request`` once and read the response head; the body follows as an
        ``AsyncHttpcoreResponseStream`` that holds the connection until it ends or is
        closed. Raises as ``handle_async_request`` does; on failure or cancellation
        nothing is held."""
        if current_loop() is not self._loop:
            self._check_loop()
        if self._closed:
            raise closed_transport_error(request)
        raw_request = to_httpcore_request(request, timeout, _async_content(request))
        with map_httpcore_exceptions(request, timeout):
            raw = await self._send(request, timeout, raw_request)
            try:
                headers = response_headers(raw, request)
                decoder = StreamDecoder(headers.get("content-encoding"), window=STREAM_WINDOW)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await raw.aclose()
                raise
        head = Response(raw.status, headers=headers, content=b"", request=request)
        return head, AsyncHttpcoreResponseStream(raw, raw_request, request, decoder)

    def statistics(self) -> PoolStatistics:
        """Connections in use, idle, and requests waiting for one."""
        return pool_statistics(self._pool)

    async def aclose(self) -> None:
        """Close every pooled connection (shielded from cancellation); those of an event
        loop that is gone are closed at once, not awaited."""
        self._closed = True
        self._check_loop()
        with anyio.CancelScope(shield=True):
            await self._pool.aclose()


def _sync_content(request: Request) -> object:
    """``request``'s body for httpcore's sync pool: bytes as they are, an iterable
    through ``SyncBody`` (its items checked)."""
    content = request.content
    return content if isinstance(content, bytes) else SyncBody(content)  # type: ignore[arg-type]


def _async_content(request: Request) -> object:
    """``request``'s body for httpcore's async pool: bytes and async iterables as an
    ``AsyncBody``; anything else as it is (httpcore refuses what it cannot send)."""
    content = request.content
    if isinstance(content, bytes) or hasattr(content, "__aiter__"):
        return AsyncBody(content)  # type: ignore[arg-type]
    return content


def _blame(exc: BaseException, request: Request) -> None:
    """Name the request on an error the decoder raised (it knows none)."""
    if isinstance(exc, APIError) and exc.request is None:
        exc.request = request


def _body_timeouts(raw_request: httpcore.Request) -> dict[str, Any]:
    """The per-request timeout dict httpcore reads (our own, made by
    ``to_httpcore_request``); httpcore takes its ``"read"`` entry when the body starts."""
    timeouts: dict[str, Any] = raw_request.extensions["timeout"]
    return timeouts


class HttpcoreResponseStream:
    """The body of a response from ``HttpcoreTransport.open_stream``, in decoded pieces
    of at most ``STREAM_WINDOW`` bytes; holds the connection until the end or ``close()``.

    Each ``read_chunk`` is bounded by its own ``timeout``, whole: httpcore's per-receive
    read timeout is lifted once the body starts, and the transport's network streams
    bound every receive by what is left of the call instead.
    """

    __slots__ = (
        "_chunks",
        "_deadline",
        "_decoder",
        "_done",
        "_ended",
        "_raw",
        "_raw_request",
        "_request",
    )

    def __init__(
        self,
        raw: httpcore.Response,
        raw_request: httpcore.Request,
        request: Request,
        decoder: StreamDecoder,
        deadline: _Deadline,
    ) -> None:
        self._deadline = deadline
        self._raw = raw
        self._raw_request = raw_request
        self._request = request
        self._decoder = decoder
        self._chunks: Iterator[bytes] | None = None
        self._ended = False  # httpcore's body ended; the connection went back
        self._done = False  # closed, or every piece handed out

    def read_chunk(self, timeout: float | None) -> bytes:
        """The next decoded piece; b"" at the end, when the connection has gone back to
        the pool. Raises ``ReadTimeout``, ``ReadError`` or ``RemoteProtocolError`` and
        then holds nothing."""
        if self._done:
            return b""
        deadline = self._deadline
        deadline.end = None if timeout is None else time.monotonic() + timeout
        try:
            with map_httpcore_exceptions(self._request):
                while not (piece := self._decoder.read()):
                    if self._ended:
                        self._done = True
                        return b""
                    self._receive()
                return piece
        except BaseException as exc:
            self.close()
            _blame(exc, self._request)
            raise
        finally:
            deadline.end = None

    def _receive(self) -> None:
        """Feed the decoder the next bytes httpcore reads, or the end of the body."""
        if self._chunks is None:
            _body_timeouts(self._raw_request)["read"] = None  # the deadline bounds reads
            self._chunks = iter(self._raw.stream)  # type: ignore[arg-type]
        chunk = next(self._chunks, None)
        if chunk is None:
            drop_if_bytes_past_response(self._raw)
            self._raw.close()  # the connection goes back to the pool
            self._ended = True
            self._decoder.feed_eof()
        else:
            self._decoder.feed(chunk)

    def close(self) -> None:
        """Give the connection back: closed (httpcore drops it) when the body was not
        read to its end. Idempotent."""
        self._done = True
        if self._chunks is not None:
            self._chunks.close()  # type: ignore[attr-defined]
        self._raw.close()


class AsyncHttpcoreResponseStream:
    """``HttpcoreResponseStream`` for ``AsyncHttpcoreTransport``, on asyncio and trio.

    Each ``read_chunk`` is bounded by its own ``timeout``, whole.
    """

    __slots__ = ("_chunks", "_decoder", "_done", "_ended", "_raw", "_raw_request", "_request")

    def __init__(
        self,
        raw: httpcore.Response,
        raw_request: httpcore.Request,
        request: Request,
        decoder: StreamDecoder,
    ) -> None:
        self._raw = raw
        self._raw_request = raw_request
        self._request = request
        self._decoder = decoder
        self._chunks: AsyncIterator[bytes] | None = None
        self._ended = False
        self._done = False

    async def read_chunk(self, timeout: float | None) -> bytes:
        """The next decoded piece; b"" at the end, when the connection has gone back to
        the pool. Raises ``ReadTimeout`` when no piece is ready within ``timeout``,
        ``ReadError`` or ``RemoteProtocolError``, and then holds nothing. On cancellation
        the connection is closed (shielded) and released, and the cancellation
        propagates."""
        if self._done:
            return b""
        try:
            with map_httpcore_exceptions(self._request):
                try:
                    with anyio.fail_after(timeout):
                        while not (piece := self._decoder.read()):
                            if self._ended:
                                self._done = True
                                return b""
                            await self._receive()
                except TimeoutError:
                    message = f"no data for {timeout} s."
                    raise ReadTimeout(message, request=self._request) from None
                return piece
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self.aclose()
            _blame(exc, self._request)
            raise

    async def _receive(self) -> None:
        """Feed the decoder the next bytes httpcore reads, or the end of the body."""
        if self._chunks is None:
            # fail_after bounds each read_chunk whole; httpcore's own bound would fix
            # the first call's timeout for every later one.
            _body_timeouts(self._raw_request)["read"] = None
            self._chunks = aiter(self._raw.stream)  # type: ignore[arg-type]
        chunk = await anext(self._chunks, None)
        if chunk is None:
            drop_if_bytes_past_response(self._raw)
            with anyio.CancelScope(shield=True):
                await self._raw.aclose()  # the connection goes back to the pool
            self._ended = True
            self._decoder.feed_eof()
        else:
            self._decoder.feed(chunk)

    async def aclose(self) -> None:
        """Give the connection back: closed (httpcore drops it) when the body was not
        read to its end. Idempotent; shielded from cancellation."""
        self._done = True
        with anyio.CancelScope(shield=True):
            if self._chunks is not None:
                await self._chunks.aclose()  # type: ignore[attr-defined]
            await self._raw.aclose()
