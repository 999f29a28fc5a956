"""What a transport is: it sends one request and returns its response, read whole.

A transport receives a core ``Request`` and the attempt's ``Timeout``, returns a core
``Response``, and raises only the core's ``APIConnectionError`` subclasses (or
``ResponseTooLargeError``) for faults, translated where its library's exceptions enter.
Retries, deadlines and error statuses are the client's business, not the transport's.

A transport may also stream: ``open_stream`` (``open_async_stream``) returns the response
head at once and its body as a ``ResponseStream`` read in decoded pieces. ``Client.stream``
uses it when the transport has it and otherwise reads the response whole and hands it
over as one piece, so every transport serves both kinds of call.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from sdk_core import PoolStatistics, Request, Response, Timeout

__all__ = [
    "STREAM_WINDOW",
    "AsyncResponseStream",
    "AsyncStreamingTransport",
    "AsyncTransport",
    "PoolStatistics",
    "ResponseStream",
    "StreamingTransport",
    "Transport",
]

#: The default bound on a buffered response body, after decoding.
DEFAULT_MAX_RESPONSE_SIZE = 64 * 1024 * 1024

#: The most decoded bytes one piece of a streamed body holds.
STREAM_WINDOW = 64 * 1024


@runtime_checkable
class Transport(Protocol):
    """A blocking transport, safe to share between threads."""

    def handle_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` once and read its response within ``timeout``'s phases."""
        ...

    def statistics(self) -> PoolStatistics:
        """Connections in use, idle, and requests waiting for one."""
        ...

    def close(self) -> None:
        """Close every connection. Requests after this raise ``ClientClosedError``."""
        ...


@runtime_checkable
class AsyncTransport(Protocol):
    """A transport for ``AsyncClient``, on asyncio and trio."""

    async def handle_async_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` once and read its response within ``timeout``'s phases.

        On cancellation the connection is closed and released to the pool, and the
        cancellation propagates.
        """
        ...

    def statistics(self) -> PoolStatistics:
        """Connections in use, idle, and requests waiting for one."""
        ...

    async def aclose(self) -> None:
        """Close every connection."""
        ...


@runtime_checkable
class ResponseStream(Protocol):
    """The body of a streamed response, read in decoded pieces; holds its connection."""

    def read_chunk(self, timeout: float | None) -> bytes:
        """The next decoded piece of the body, at most ``STREAM_WINDOW`` bytes.

        Returns b"" at the end of the body, when the connection has gone back to the
        pool. ``timeout`` bounds the wait for bytes (``None``: no bound); past it raises
        ``ReadTimeout``. A broken or malformed body raises ``ReadError`` or
        ``RemoteProtocolError`` and closes the connection. Calls after the end return b"".
        """
        ...

    def close(self) -> None:
        """Give the connection back: closed, not reused, when the body was not read to
        its end. Idempotent."""
        ...


@runtime_checkable
class AsyncResponseStream(Protocol):
    """``ResponseStream`` for ``AsyncClient``, on asyncio and trio."""

    async def read_chunk(self, timeout: float | None) -> bytes:
        """As ``ResponseStream.read_chunk``. On cancellation the connection is closed
        and released, and the cancellation propagates."""
        ...

    async def aclose(self) -> None:
        """As ``ResponseStream.close``; shielded from cancellation."""
        ...


@runtime_checkable
class StreamingTransport(Transport, Protocol):
    """A ``Transport`` that can hand over a response before its body is read."""

    def open_stream(self, request: Request, timeout: Timeout) -> tuple[Response, ResponseStream]:
        """Send ``request`` once and read the response head within ``timeout``.

        Returns the head (a ``Response`` with empty ``content``) and its body stream,
        which holds the connection until it ends or is closed. Raises as
        ``handle_request`` does.
        """
        ...


@runtime_checkable
class AsyncStreamingTransport(AsyncTransport, Protocol):
    """An ``AsyncTransport`` that can hand over a response before its body is read."""

    async def open_async_stream(
        self, request: Request, timeout: Timeout
    ) -> tuple[Response, AsyncResponseStream]:
        """As ``StreamingTransport.open_stream``; on cancellation nothing is held."""
        ...
