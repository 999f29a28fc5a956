# unasync: sdk_transports/_sync_httpcore.py
# unasync-replace: "An async transport" -> "A blocking transport"
# unasync-replace: " (asyncio, trio); tasks may" -> "; threads may"
# unasync-replace: "\n    Cancellation releases the connection (shielded)." -> ""
# unasync-replace: "\n        Cancellation releases the connection (shielded)." -> ""
# unasync-replace: "\n        Those of a finished loop are closed at once." -> ""
# unasync-replace: " or cancellation" -> ""
# unasync-replace: " (shielded from cancellation)" -> ""
# unasync-replace: "; shielded from cancellation" -> ""
# unasync: async-only
"""``AsyncHttpcoreTransport`` and its ``AsyncHttpcoreResponseStream``: httpcore's async
pool behind the transport protocols, on asyncio and trio, every httpcore exception
translated where it enters. The blocking twin (sdk_transports/_sync_httpcore.py) is
generated from this file by scripts/unasync.py; what differs between the two sides is in
``_httpcore_sides.py`` and ``_httpcore_backends.py``.
"""
# unasync: sync-only
# """``HttpcoreTransport`` and its ``HttpcoreResponseStream``: httpcore's blocking pool
# behind the transport protocols, every httpcore exception translated where it enters;
# generated from sdk_transports/_async_httpcore.py. What differs between the two sides is
# in ``_httpcore_sides.py`` and ``_httpcore_backends.py``.
# """
# unasync: end

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpcore

from sdk_core import (
    APIError,
    BodyDecoder,
    Limits,
    PoolStatistics,
    Request,
    Response,
    StreamDecoder,
    Timeout,
)

from ._httpcore_backends import AsyncDeadline
from ._httpcore_common import (
    drop_if_bytes_past_response,
    map_httpcore_exceptions,
    pool_statistics,
    response_headers,
)
from ._httpcore_sides import AsyncPoolHome, httpcore_request_async, send_async, shielded_async
from ._lifecycle import closed_transport_error
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE, STREAM_WINDOW
from ._tls import CertTypes, VerifyTypes, make_ssl_context

__all__ = ["AsyncHttpcoreResponseStream", "AsyncHttpcoreTransport"]


class AsyncHttpcoreTransport:
    """An async transport over ``httpcore.AsyncConnectionPool`` (asyncio, trio); tasks may
    share it.

    Raises the core's connection errors (``ConnectError``, ``ReadTimeout``, ...) and
    ``ResponseTooLargeError`` past ``max_response_size`` bytes of decoded body. The pool
    is only used where it was made (``AsyncPoolHome``).
    Cancellation releases the connection (shielded).
    """

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        limits = limits or Limits()
        self._deadline = AsyncDeadline()
        options: dict[str, Any] = {
            "ssl_context": make_ssl_context(verify, cert),
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "network_backend": self._deadline.network_backend(),
        }
        self._home = AsyncPoolHome(lambda: httpcore.AsyncConnectionPool(**options))
        self._max_response_size = max_response_size
        self._closed = False

    @property
    def _pool(self) -> httpcore.AsyncConnectionPool:
        """The pool in use now (for tests and benchmarks)."""
        return self._home.latest()

    async def handle_async_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` once and read the whole response."""
        pool = self._home.here()
        if self._closed:
            raise closed_transport_error(request)
        raw_request = httpcore_request_async(request, timeout)
        with self._deadline.exchange(timeout.total), map_httpcore_exceptions(request, timeout):
            raw = await send_async(pool, raw_request)
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
                with shielded_async():
                    await raw.aclose()
        return Response(raw.status, headers=headers, content=bytes(body), request=request)

    async def open_async_stream(
        self, request: Request, timeout: Timeout
    ) -> tuple[Response, AsyncHttpcoreResponseStream]:
        """Send ``request`` once and read the response head; the body follows as an
        ``AsyncHttpcoreResponseStream`` that holds the connection until it ends or is
        closed. Raises as ``handle_async_request`` does; on failure or cancellation
        nothing is held."""
        pool = self._home.here()
        if self._closed:
            raise closed_transport_error(request)
        raw_request = httpcore_request_async(request, timeout)
        with self._deadline.exchange(timeout.total), map_httpcore_exceptions(request, timeout):
            raw = await send_async(pool, raw_request)
            try:
                headers = response_headers(raw, request)
                decoder = StreamDecoder(headers.get("content-encoding"), window=STREAM_WINDOW)
            except BaseException:
                with shielded_async():
                    await raw.aclose()
                raise
        head = Response(raw.status, headers=headers, content=b"", request=request)
        stream = AsyncHttpcoreResponseStream(raw, raw_request, request, decoder, self._deadline)
        return head, stream

    def statistics(self) -> PoolStatistics:
        """Connections in use, idle, and requests waiting for one."""
        return pool_statistics(self._home.latest())

    async def aclose(self) -> None:
        """Close every pooled connection (shielded from cancellation).
        Those of a finished loop are closed at once."""
        self._closed = True
        pool = self._home.here()
        with shielded_async():
            await pool.aclose()


class AsyncHttpcoreResponseStream:
    """The body of a response from ``AsyncHttpcoreTransport.open_async_stream``, in
    decoded pieces of at most ``STREAM_WINDOW`` bytes; holds the connection until the
    end or ``aclose()``.

    Each ``read_chunk`` is bounded by its own ``timeout``, whole (``AsyncDeadline.read``):
    the stream response that reads it owns the call's deadline and passes what is left
    of it as that timeout.
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
        deadline: AsyncDeadline,
    ) -> None:
        self._raw = raw
        self._raw_request = raw_request
        self._request = request
        self._decoder = decoder
        self._deadline = deadline
        self._chunks: AsyncIterator[bytes] | None = None
        self._ended = False  # httpcore's body ended; the connection went back
        self._done = False  # closed, or every piece handed out

    async def read_chunk(self, timeout: float | None) -> bytes:
        """The next decoded piece; b"" at the end, when the connection has gone back to
        the pool. Raises ``ReadTimeout`` when no piece is ready within ``timeout``,
        ``ReadError`` or ``RemoteProtocolError``, and then holds nothing.
        Cancellation releases the connection (shielded)."""
        if self._done:
            return b""
        request = self._request
        try:
            with map_httpcore_exceptions(request), self._deadline.read(timeout, request):
                while not (piece := self._decoder.read()):
                    if self._ended:
                        self._done = True
                        return b""
                    await self._receive()
                return piece
        except BaseException as exc:
            await self.aclose()
            if isinstance(exc, APIError) and exc.request is None:
                exc.request = request  # an error the decoder raised names no request
            raise

    async def _receive(self) -> None:
        """Feed the decoder the next bytes httpcore reads, or the end of the body."""
        if self._chunks is None:
            # Each read_chunk is bounded whole by its own timeout; httpcore's per-read
            # bound would hold the first call's timeout for every later one.
            timeouts: dict[str, Any] = self._raw_request.extensions["timeout"]
            timeouts["read"] = None
            self._chunks = aiter(self._raw.stream)  # type: ignore[arg-type]
        chunk = await anext(self._chunks, None)
        if chunk is None:
            drop_if_bytes_past_response(self._raw)
            with shielded_async():
                await self._raw.aclose()  # the connection goes back to the pool
            self._ended = True
            self._decoder.feed_eof()
        else:
            self._decoder.feed(chunk)

    async def aclose(self) -> None:
        """Give the connection back: closed (httpcore drops it) when the body was not
        read to its end. Idempotent; shielded from cancellation."""
        self._done = True
        with shielded_async():
            if self._chunks is not None:
                await self._chunks.aclose()  # type: ignore[attr-defined]
            await self._raw.aclose()
