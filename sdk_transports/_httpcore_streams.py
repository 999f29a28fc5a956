"""The bodies of the httpcore transports' streamed responses: ``HttpcoreResponseStream``
and ``AsyncHttpcoreResponseStream``, read in decoded pieces of at most ``STREAM_WINDOW``.

Each ``read_chunk`` is bounded by the timeout it is given, whole: the stream response
that reads it owns the call's deadline and passes what is left of it as that timeout.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpcore

from sdk_core import APIError, ReadTimeout, Request, StreamDecoder

from ._httpcore_backends import Deadline
from ._httpcore_common import drop_if_bytes_past_response, map_httpcore_exceptions

__all__ = ["AsyncHttpcoreResponseStream", "HttpcoreResponseStream"]


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
        deadline: Deadline,
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
