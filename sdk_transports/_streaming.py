"""``StreamResponse`` and ``AsyncStreamResponse``: a response handed over before its body
is read, with the body read in decoded pieces, as text, as lines or as Server-Sent Events.

A streamed response holds its pooled connection until the body is read to its end or the
response is closed; use it as a context manager (``with client.stream(...) as response``).
Every read is bounded: by the read timeout for the wait, by the call's ``Timeout.total``
deadline for the whole call (``DeadlineExceeded`` past it), by ``STREAM_WINDOW`` for one
piece, and by ``max_response_size`` for ``read()``, which keeps the whole body.

The ``iter_*`` and ``aiter_*`` methods return a ``BodyIterator`` or ``AsyncBodyIterator``:
plain iterator objects, not generators, so one left unfinished holds nothing and needs no
finalizer on any event loop; closing it (``contextlib.closing``/``aclosing``) or the
response ends it.
"""

from __future__ import annotations

import json as _json
import warnings
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

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
    deadline_exceeded,
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
    "AsyncBodyIterator",
    "AsyncStreamResponse",
    "BodyIterator",
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


class _Pieces:
    """The reader of ``iter_bytes``: each decoded piece is an item."""

    __slots__ = ()

    def feed(self, data: bytes) -> list[bytes]:
        return [data]

    def end(self) -> list[bytes]:
        return []


_PIECES = _Pieces()
_NOTHING: Iterator[Any] = iter(())


class _BodyIteratorBase(Generic[_T]):
    """The state both iterators share: the items decoded from the last piece read,
    the reader that decodes them, and whether the body is done with."""

    __slots__ = ("__weakref__", "_done", "_items", "_reader")

    def __init__(self, reader: PieceReader[_T]) -> None:
        self._reader = reader
        self._items: Iterator[_T] = _NOTHING
        self._done = False

    def _drop(self) -> None:
        """The response was closed: nothing decoded is handed out any more, and a
        further read raises ``StreamClosedError`` (unless the body had ended)."""
        self._items = _NOTHING

    def _turn(self, piece: bytes) -> list[_T]:
        """The items ``piece`` completes; b"" is the end of the body."""
        if piece:
            return self._reader.feed(piece)
        self._done = True
        return self._reader.end()


class BodyIterator(_BodyIteratorBase[_T], Iterator[_T]):
    """What ``StreamResponse.iter_bytes``, ``iter_text``, ``iter_lines`` and
    ``iter_events`` return: the body's items, read on demand.

    ``next()`` raises what ``StreamResponse`` reads raise, and ``StreamClosedError``
    once the response was closed before the body's end. ``close()`` (or
    ``contextlib.closing``) ends the iteration and closes the response.
    """

    __slots__ = ("_response",)

    def __init__(self, response: StreamResponse, reader: PieceReader[_T]) -> None:
        response._begin(self)
        super().__init__(reader)
        self._response = response

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> _T:
        for item in self._items:
            return item
        response = self._response
        while not self._done:
            piece = response._next()
            try:
                items = self._turn(piece)
            except BaseException:
                response.close()  # a line or an event past its bound
                raise
            if items:
                self._items = rest = iter(items)
                return next(rest)
        raise StopIteration

    def close(self) -> None:
        """End the iteration and close the response: its connection is given back,
        closed unless the body was read to its end. Idempotent."""
        self._done = True
        self._response.close()


class AsyncBodyIterator(_BodyIteratorBase[_T], AsyncIterator[_T]):
    """What ``AsyncStreamResponse.aiter_*`` return: ``BodyIterator`` for ``async for``,
    on asyncio and trio, with ``aclose()`` (usable with ``contextlib.aclosing``).

    Cancellation during a read closes the connection and propagates; the iterator
    then raises ``StreamClosedError``.
    """

    __slots__ = ("_response",)

    def __init__(self, response: AsyncStreamResponse, reader: PieceReader[_T]) -> None:
        response._begin(self)
        super().__init__(reader)
        self._response = response

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> _T:
        """The next item. Raises as ``BodyIterator`` does."""
        for item in self._items:
            return item
        response = self._response
        while not self._done:
            piece = await response._next()
            try:
                items = self._turn(piece)
            except BaseException:
                await response.aclose()
                raise
            if items:
                self._items = rest = iter(items)
                return next(rest)
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """End the iteration and close the response (shielded from cancellation).
        Idempotent."""
        self._done = True
        await self._response.aclose()


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
        "_iterator",
        "_max_size",
        "_read_timeout",
        "_started",
        "_total",
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
        total: float | None = None,
    ) -> None:
        #: The response head (its ``content`` is filled by ``read()``).
        self.response = response
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._total = total  # the call's Timeout.total, named by DeadlineExceeded
        self._clock = clock
        self._max_size = max_size
        self._closed = False
        self._started = False
        self._content: bytes | None = None
        # Weak: the iterator holds the response, and a cycle would keep an unclosed
        # response (and its connection) until the cycle collector ran.
        self._iterator: weakref.ref[_BodyIteratorBase[Any]] | None = None

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

    def _begin(self, iterator: _BodyIteratorBase[Any]) -> None:
        """The body can be iterated once, and not after ``close()``."""
        if self._started or self._closed:
            raise StreamClosedError(
                "The response body was already read or the response closed; "
                "a streamed body can be read once."
            )
        self._started = True
        self._iterator = weakref.ref(iterator)

    def _shut(self) -> None:
        """Mark the response closed and end the iterator it handed out."""
        self._closed = True
        iterator = self._iterator() if self._iterator is not None else None
        if iterator is not None:
            iterator._drop()

    def _check_open(self) -> None:
        """Raise ``StreamClosedError`` for a read after ``close()`` or a failed read."""
        if self._closed:
            raise StreamClosedError("The response was closed before its body was read to the end.")

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
        total = self._total
        assert total is not None  # only called when the call has a deadline
        return deadline_exceeded(self.response.request, total, attempts=self.response.attempts)

    def _failed(self, exc: APIError, by_deadline: bool) -> APIError:
        """The error to raise for a failed read (the stream is closed by then)."""
        self._closed = True
        if by_deadline and isinstance(exc, ReadTimeout):
            error: APIError = self._deadline_error()
            error.__cause__ = exc
            return error
        exc.attempts = self.response.attempts
        return exc

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
    ``StreamClosedError`` for a second read or for an iterator read on after
    ``close()``. ``close()`` gives the connection back (closed unless the body was read
    to its end); ``with`` does it for you.
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
        total: float | None = None,
    ) -> None:
        super().__init__(
            response,
            read_timeout=read_timeout,
            deadline=deadline,
            clock=clock,
            max_size=max_size,
            total=total,
        )
        self._body = body

    def _next(self) -> bytes:
        self._check_open()
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

    def iter_bytes(self) -> BodyIterator[bytes]:
        """The body in decoded pieces of at most ``STREAM_WINDOW`` bytes."""
        return BodyIterator(self, _PIECES)

    def iter_text(self) -> BodyIterator[str]:
        """The body decoded with ``encoding`` (undecodable bytes replaced)."""
        return BodyIterator(self, TextReader(self.encoding))

    def iter_lines(self) -> BodyIterator[str]:
        """The body's lines, without their ``\\n``, ``\\r\\n`` or ``\\r``."""
        return BodyIterator(self, LineReader(self.encoding))

    def iter_events(self) -> BodyIterator[ServerSentEvent]:
        """The body parsed as ``text/event-stream``: one ``ServerSentEvent`` per event."""
        return BodyIterator(self, self._events())

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
        end. The iterator handed out ends: its next item raises ``StreamClosedError``
        unless the body had ended. Idempotent."""
        self._shut()
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
        total: float | None = None,
    ) -> None:
        super().__init__(
            response,
            read_timeout=read_timeout,
            deadline=deadline,
            clock=clock,
            max_size=max_size,
            total=total,
        )
        self._body = body

    async def _next(self) -> bytes:
        self._check_open()
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

    def aiter_bytes(self) -> AsyncBodyIterator[bytes]:
        """The body in decoded pieces of at most ``STREAM_WINDOW`` bytes."""
        return AsyncBodyIterator(self, _PIECES)

    def aiter_text(self) -> AsyncBodyIterator[str]:
        """The body decoded with ``encoding`` (undecodable bytes replaced)."""
        return AsyncBodyIterator(self, TextReader(self.encoding))

    def aiter_lines(self) -> AsyncBodyIterator[str]:
        """The body's lines, without their ``\\n``, ``\\r\\n`` or ``\\r``."""
        return AsyncBodyIterator(self, LineReader(self.encoding))

    def aiter_events(self) -> AsyncBodyIterator[ServerSentEvent]:
        """The body parsed as ``text/event-stream``: one ``ServerSentEvent`` per event."""
        return AsyncBodyIterator(self, self._events())

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
        unless the body was read to its end. The iterator handed out ends, as for
        ``StreamResponse.close``. Idempotent."""
        self._shut()
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
