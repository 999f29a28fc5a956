"""``StreamResponse`` and ``AsyncStreamResponse``: a response handed over before its body
is read, with the body read in decoded pieces, as text, as lines or as Server-Sent Events.

A streamed response holds its pooled connection until the body is read to its end or the
response is closed; use it as a context manager (``with client.stream(...) as response``).
Every read is bounded: by the read timeout for the wait, by the call's ``Timeout.total``
deadline for the whole call (``DeadlineExceeded`` past it), by ``STREAM_WINDOW`` for one
piece, and by ``max_response_size`` for ``read()``, which keeps the whole body.
"""

from __future__ import annotations

import json as _json
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from typing_extensions import Self

from sdk_core import (
    APIError,
    DeadlineExceeded,
    Headers,
    ReadTimeout,
    Request,
    Response,
    ResponseTooLargeError,
    StreamClosedError,
)
from sdk_core._config import wait_bound
from sdk_core._lines import LineReader, TextReader
from sdk_core._reader import BodyBuffer

from ._protocols import STREAM_WINDOW, AsyncResponseStream, ResponseStream

if TYPE_CHECKING:
    from sdk_core._sse import ServerSentEvent

_T = TypeVar("_T")


class PieceReader(Protocol[_T]):
    """Turns a body's decoded pieces into items (text, lines, events): the core's
    ``TextReader``, ``LineReader`` and ``EventReader``."""

    def feed(self, data: bytes) -> list[_T]: ...

    def end(self) -> list[_T]: ...


__all__ = [
    "AsyncStreamResponse",
    "BufferedAsyncStream",
    "BufferedStream",
    "StreamResponse",
    "read_whole",
    "read_whole_async",
]


class BufferedStream:
    """A body already read whole, handed out in pieces of at most ``STREAM_WINDOW``: the
    stream of a transport that cannot stream."""

    __slots__ = ("_content", "_offset")

    def __init__(self, content: bytes) -> None:
        self._content = content
        self._offset = 0

    def read_chunk(self, timeout: float | None) -> bytes:
        """The next piece; b"" at the end."""
        start = self._offset
        self._offset = min(start + STREAM_WINDOW, len(self._content))
        return self._content[start : self._offset]

    def close(self) -> None:
        """Nothing is held."""
        self._offset = len(self._content)


class BufferedAsyncStream:
    """``BufferedStream`` for ``AsyncClient``."""

    __slots__ = ("_inner",)

    def __init__(self, content: bytes) -> None:
        self._inner = BufferedStream(content)

    async def read_chunk(self, timeout: float | None) -> bytes:
        """The next piece; b"" at the end."""
        return self._inner.read_chunk(timeout)

    async def aclose(self) -> None:
        """Nothing is held."""
        self._inner.close()


_BUFFERED = (BufferedStream, BufferedAsyncStream)


def read_whole(
    head: Response, body: ResponseStream, *, max_size: int, timeout: float | None
) -> Response:
    """``head`` with its body read whole (at most ``max_size`` bytes), the stream closed.
    Raises what ``read_chunk`` raises, or ``ResponseTooLargeError``."""
    if isinstance(body, BufferedStream):
        return head  # the transport read it whole already
    kept = BodyBuffer(max_size, head.request)
    try:
        while piece := body.read_chunk(timeout):
            kept.add(piece)
    finally:
        body.close()
    head.content = kept.content()
    return head


async def read_whole_async(
    head: Response, body: AsyncResponseStream, *, max_size: int, timeout: float | None
) -> Response:
    """``read_whole`` for ``AsyncClient``; the stream is closed (shielded) on the way out."""
    if isinstance(body, BufferedAsyncStream):
        return head
    kept = BodyBuffer(max_size, head.request)
    try:
        while piece := await body.read_chunk(timeout):
            kept.add(piece)
    finally:
        await body.aclose()
    head.content = kept.content()
    return head


class _StreamResponseBase:
    """What the sync and async streamed responses share: the head, the bounds, the
    state, and the decoders that turn pieces into text, lines and events."""

    __slots__ = (
        "__weakref__",
        "_clock",
        "_closed",
        "_content",
        "_deadline",
        "_max_size",
        "_read_timeout",
        "_started",
        "response",
    )

    def __init__(
        self,
        response: Response,
        *,
        read_timeout: float | None,
        deadline: float | None,
        clock: Callable[[], float],
        max_size: int,
    ) -> None:
        #: The response head (its ``content`` is filled by ``read()``).
        self.response = response
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._clock = clock
        self._max_size = max_size
        self._closed = False
        self._started = False
        self._content: bytes | None = None

    # -- the head ------------------------------------------------------------------

    @property
    def status_code(self) -> int:
        """The response's status code."""
        return self.response.status_code

    @property
    def headers(self) -> Headers:
        """The response's headers."""
        return self.response.headers

    @property
    def request(self) -> Request | None:
        """The request that got this response (after redirects, the last one)."""
        return self.response.request

    @property
    def request_id(self) -> str | None:
        """The server's request id."""
        return self.response.request_id

    @property
    def attempts(self) -> int:
        """The attempts the call took."""
        return self.response.attempts

    @property
    def redirects(self) -> int:
        """The redirects followed to get here."""
        return self.response.redirects

    @property
    def is_success(self) -> bool:
        """True for a 2xx status."""
        return self.response.is_success

    @property
    def encoding(self) -> str:
        """The text encoding ``iter_text`` and ``iter_lines`` use (see ``Response``)."""
        return self.response.encoding

    @property
    def is_closed(self) -> bool:
        """True once the body was read to its end or the response was closed."""
        return self._closed

    def json(self) -> Any:
        """The body kept by ``read()``, parsed as JSON. Raises ``StreamClosedError``
        before ``read()`` and ``ValueError`` for a body that is not JSON."""
        if self._content is None:
            raise StreamClosedError("Read the body (read()/aread()) before json().")
        return _json.loads(self._content)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.status_code}]>"

    # -- shared mechanics ----------------------------------------------------------

    def _begin(self) -> None:
        """The body can be iterated once, and not after ``close()``."""
        if self._started or self._closed:
            raise StreamClosedError(
                "The response body was already read or the response closed; "
                "a streamed body can be read once."
            )
        self._started = True

    def _timeout(self) -> tuple[float | None, bool]:
        """The bound for the next read, and whether the call's deadline set it.
        Raises ``DeadlineExceeded`` when no time is left."""
        timeout, deadline = self._read_timeout, self._deadline
        if deadline is None:
            return timeout, False
        wait = wait_bound(timeout, deadline, self._clock())
        assert wait is not None  # a deadline bounds it
        if wait <= 0:
            raise self._deadline_error()
        return wait, wait != timeout

    def _deadline_error(self) -> DeadlineExceeded:
        error = DeadlineExceeded(
            "The call's total timeout ran out while reading the response body.",
            request=self.response.request,
        )
        error.attempts = self.response.attempts
        return error

    def _failed(self, exc: APIError, by_deadline: bool) -> APIError:
        """The error to raise for a failed read (the stream is closed by then)."""
        self._closed = True
        if by_deadline and isinstance(exc, ReadTimeout):
            error: APIError = self._deadline_error()
            error.__cause__ = exc
            return error
        exc.attempts = self.response.attempts
        return exc

    def _readers(self) -> tuple[TextReader, LineReader]:
        """What ``iter_text`` and ``iter_lines`` turn the pieces with."""
        return TextReader(self.encoding), LineReader(self.encoding)

    def _events(self) -> PieceReader[ServerSentEvent]:
        from sdk_core._sse import EventReader  # loaded by the first event stream

        return EventReader(self.encoding)

    def _warn_unclosed(self, body: object) -> None:
        """Warn when collected with a connection still held (not for a buffered body)."""
        if getattr(self, "_closed", True) or isinstance(body, _BUFFERED):
            return
        warnings.warn(
            f"{self!r} was never closed: its connection stayed in use until now. "
            "Use it in a with block, or call close().",
            ResourceWarning,
            stacklevel=2,
        )


class StreamResponse(_StreamResponseBase):
    """A response from ``Client.stream``; its body is read on demand, once.

    Iterate ``iter_bytes()``, ``iter_text()``, ``iter_lines()`` or ``iter_events()``, or
    keep the whole body with ``read()``. A read raises ``ReadTimeout`` (no data within
    the read timeout), ``DeadlineExceeded`` (the call's total timeout ran out),
    ``ReadError`` or ``RemoteProtocolError`` (the connection broke or the body is
    malformed), ``ResponseTooLargeError`` (``read()`` past ``max_response_size``, or an
    SSE event or line past its bound), each with ``attempts`` set, and
    ``StreamClosedError`` for a second read. ``close()`` gives the connection back
    (closed unless the body was read to its end); ``with`` does it for you.
    """

    __slots__ = ("_body",)

    def __init__(
        self,
        response: Response,
        body: ResponseStream,
        *,
        read_timeout: float | None,
        deadline: float | None,
        clock: Callable[[], float],
        max_size: int,
    ) -> None:
        super().__init__(
            response,
            read_timeout=read_timeout,
            deadline=deadline,
            clock=clock,
            max_size=max_size,
        )
        self._body = body

    def _next(self) -> bytes:
        try:
            timeout, by_deadline = self._timeout()
        except DeadlineExceeded:
            self.close()
            raise
        try:
            piece = self._body.read_chunk(timeout)
        except APIError as exc:
            raise self._failed(exc, by_deadline) from exc.__cause__
        if not piece:
            self._closed = True
        return piece

    def iter_bytes(self) -> Iterator[bytes]:
        """The body in decoded pieces of at most ``STREAM_WINDOW`` bytes."""
        self._begin()
        while piece := self._next():
            yield piece

    def _through(self, reader: PieceReader[_T]) -> Iterator[_T]:
        """The body's pieces turned by ``reader``."""
        for piece in self.iter_bytes():
            yield from reader.feed(piece)
        yield from reader.end()

    def iter_text(self) -> Iterator[str]:
        """The body decoded with ``encoding`` (undecodable bytes replaced)."""
        return self._through(self._readers()[0])

    def iter_lines(self) -> Iterator[str]:
        """The body's lines, without their ``\\n``, ``\\r\\n`` or ``\\r``."""
        return self._through(self._readers()[1])

    def iter_events(self) -> Iterator[ServerSentEvent]:
        """The body parsed as ``text/event-stream``: one ``ServerSentEvent`` per event."""
        return self._through(self._events())

    def read(self) -> bytes:
        """The whole body (at most ``max_response_size`` bytes), kept: a second call
        returns the same bytes."""
        if self._content is None:
            kept = BodyBuffer(self._max_size, self.response.request)
            try:
                for piece in self.iter_bytes():
                    kept.add(piece)
            except ResponseTooLargeError:
                self.close()
                raise
            self._content = self.response.content = kept.content()
        return self._content

    def json(self) -> Any:
        """The body parsed as JSON (read first when it was not); ``ValueError`` when it
        is not JSON."""
        self.read()
        return super().json()

    def close(self) -> None:
        """Give the connection back; closed, not reused, unless the body was read to its
        end. Idempotent."""
        self._closed = True
        self._body.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        self._warn_unclosed(getattr(self, "_body", None))


class AsyncStreamResponse(_StreamResponseBase):
    """A response from ``AsyncClient.stream``; the async form of ``StreamResponse``
    (``aiter_bytes``, ``aiter_text``, ``aiter_lines``, ``aiter_events``, ``aread``,
    ``aclose``), raising the same errors. Cancellation during a read closes the
    connection and propagates.
    """

    __slots__ = ("_body",)

    def __init__(
        self,
        response: Response,
        body: AsyncResponseStream,
        *,
        read_timeout: float | None,
        deadline: float | None,
        clock: Callable[[], float],
        max_size: int,
    ) -> None:
        super().__init__(
            response,
            read_timeout=read_timeout,
            deadline=deadline,
            clock=clock,
            max_size=max_size,
        )
        self._body = body

    async def _next(self) -> bytes:
        try:
            timeout, by_deadline = self._timeout()
        except DeadlineExceeded:
            await self.aclose()
            raise
        try:
            if by_deadline:
                import anyio  # here: a program that only streams blocking never loads it

                # A hard bound even over a transport that overruns its read timeout.
                with anyio.fail_after(timeout):
                    piece = await self._body.read_chunk(timeout)
            else:
                piece = await self._body.read_chunk(timeout)
        except TimeoutError as exc:
            await self.aclose()
            raise self._deadline_error() from exc
        except APIError as exc:
            raise self._failed(exc, by_deadline) from exc.__cause__
        except BaseException:
            self._closed = True  # cancelled: the stream closed its connection
            raise
        if not piece:
            self._closed = True
        return piece

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body in decoded pieces of at most ``STREAM_WINDOW`` bytes."""
        self._begin()
        while piece := await self._next():
            yield piece

    async def _through(self, reader: PieceReader[_T]) -> AsyncIterator[_T]:
        """The body's pieces turned by ``reader``."""
        async for piece in self.aiter_bytes():
            for item in reader.feed(piece):
                yield item
        for item in reader.end():
            yield item

    def aiter_text(self) -> AsyncIterator[str]:
        """The body decoded with ``encoding`` (undecodable bytes replaced)."""
        return self._through(self._readers()[0])

    def aiter_lines(self) -> AsyncIterator[str]:
        """The body's lines, without their ``\\n``, ``\\r\\n`` or ``\\r``."""
        return self._through(self._readers()[1])

    def aiter_events(self) -> AsyncIterator[ServerSentEvent]:
        """The body parsed as ``text/event-stream``: one ``ServerSentEvent`` per event."""
        return self._through(self._events())

    async def aread(self) -> bytes:
        """The whole body (at most ``max_response_size`` bytes), kept: a second call
        returns the same bytes."""
        if self._content is None:
            kept = BodyBuffer(self._max_size, self.response.request)
            try:
                async for piece in self.aiter_bytes():
                    kept.add(piece)
            except ResponseTooLargeError:
                await self.aclose()
                raise
            self._content = self.response.content = kept.content()
        return self._content

    async def aclose(self) -> None:
        """Give the connection back (shielded from cancellation); closed, not reused,
        unless the body was read to its end. Idempotent."""
        self._closed = True
        await self._body.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        self._warn_unclosed(getattr(self, "_body", None))
