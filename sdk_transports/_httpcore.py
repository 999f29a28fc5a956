"""``HttpcoreTransport`` and ``AsyncHttpcoreTransport``: httpcore's pools behind the
transport protocols (streaming included), with every httpcore exception translated where
it enters.

A pool is only used in the process and on the event loop that made it: after
``os.fork()`` (sync) or under another event loop (async) the transport closes the old
pool's sockets at once, sending nothing and awaiting nothing, and makes a new pool.
"""

from __future__ import annotations

import time

import anyio
import httpcore

from sdk_core import (
    BodyDecoder,
    Limits,
    PoolStatistics,
    Request,
    Response,
    StreamDecoder,
    Timeout,
)

from ._httpcore_backends import AsyncBackend, Deadline, DeadlineBackend
from ._httpcore_common import (
    AsyncBody,
    SyncBody,
    drop_if_bytes_past_response,
    map_httpcore_exceptions,
    pool_statistics,
    response_headers,
    to_httpcore_request,
)
from ._httpcore_streams import AsyncHttpcoreResponseStream, HttpcoreResponseStream
from ._lifecycle import (
    closed_transport_error,
    current_loop,
    current_pid,
    drop_httpcore_connections,
    fork_lock,
    loop_may_still_run,
)
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE, STREAM_WINDOW
from ._tls import CertTypes, VerifyTypes, make_ssl_context

__all__ = [
    "AsyncHttpcoreResponseStream",
    "AsyncHttpcoreTransport",
    "HttpcoreResponseStream",
    "HttpcoreTransport",
]


def _pool_options(limits: Limits, verify: VerifyTypes, cert: CertTypes) -> dict[str, object]:
    return {
        "ssl_context": make_ssl_context(verify, cert),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }


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
        self._deadline = Deadline()
        self._options = {
            **_pool_options(limits or Limits(), verify, cert),
            "network_backend": DeadlineBackend(self._deadline),
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
            "network_backend": AsyncBackend(),
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
