# unasync: sdk_transports/_sync_streaming.py
# unasync-replace: aclosing -> closing
# unasync-replace: " (shielded from cancellation)" -> ""
# unasync-replace: "\n    Cancellation during a read closes the connection and propagates." -> ""
# unasync-replace: "; on cancellation, as the read was" -> ""
"""``AsyncStreamResponse``, its ``AsyncBodyIterator``, ``read_whole_async`` and
``AsyncBufferedStream``: the streamed responses of ``AsyncClient``.

This module and ``_sync_streaming.py`` are twins: ``scripts/unasync.py`` generates the
sync one from the async one. See ``_streaming.py`` for what a streamed response is; the
state both twins share is in ``_stream_base.py``, and the read bounds are the core's
``ReadDeadline``, which the stream response alone applies to its reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import Self

from sdk_core import APIError, DeadlineExceeded, ReadTimeout, Response, ResponseTooLargeError
from sdk_core.lowlevel import BodyBuffer, LineReader, TextReader, wait_bound

from ._protocols import STREAM_WINDOW, AsyncResponseStream
from ._stream_base import PIECES, BodyIteratorBase, PieceReader, StreamResponseBase

if TYPE_CHECKING:
    from sdk_core import ServerSentEvent

__all__ = ["AsyncBodyIterator", "AsyncBufferedStream", "AsyncStreamResponse", "read_whole_async"]

_T = TypeVar("_T")


class AsyncBufferedStream:
    """A body already read whole, handed out in pieces of at most ``STREAM_WINDOW``: the
    stream of a transport that cannot stream. It holds no connection."""

    __slots__ = ("_content", "_offset")

    def __init__(self, content: bytes) -> None:
        self._content = content
        self._offset = 0

    async def read_chunk(self, timeout: float | None) -> bytes:
        """The next piece; b"" at the end."""
        start = self._offset
        self._offset = min(start + STREAM_WINDOW, len(self._content))
        return self._content[start : self._offset]

    async def aclose(self) -> None:
        """Nothing is held."""
        self._offset = len(self._content)


class AsyncBodyIterator(BodyIteratorBase[_T], AsyncIterator[_T]):
    """What ``AsyncStreamResponse.aiter_bytes``, ``aiter_text``, ``aiter_lines`` and
    ``aiter_events`` return: the body's items, read on demand. A plain iterator object,
    not a generator: one left unfinished holds nothing and needs no finalizer.

    The next item raises what ``AsyncStreamResponse`` reads raise, and
    ``StreamClosedError`` once the response was closed before the body's end.
    ``aclose()`` (or ``contextlib.aclosing``) ends the iteration and closes the
    response.
    """

    __slots__ = ("_response",)

    def __init__(self, response: AsyncStreamResponse, reader: PieceReader[_T]) -> None:
        response._begin(self)
        super().__init__(reader)
        self._response = response

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> _T:
        """The next item. Raises as ``AsyncStreamResponse`` reads do."""
        for item in self._items:
            return item
        response = self._response
        while not self._done:
            piece = await response._next()
            try:
                items = self._turn(piece)
            except BaseException:
                await response.aclose()  # a line or an event past its bound
                raise
            if items:
                self._items = rest = iter(items)
                return next(rest)
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """End the iteration and close the response (shielded from cancellation): its
        connection is given back, closed unless the body was read to its end.
        Idempotent."""
        self._done = True
        await self._response.aclose()


async def read_whole_async(
    head: Response,
    body: AsyncResponseStream,
    *,
    max_size: int,
    timeout: float | None,
    until: float | None = None,
    clock: Callable[[], float] | None = None,
) -> Response:
    """``head`` with its body read whole (at most ``max_size`` bytes). Each read waits at
    most ``timeout``, and none past ``until`` (a reading of ``clock``: the attempt's
    ``Timeout.total``), after which ``ReadTimeout`` is raised for the call to turn into
    ``DeadlineExceeded``. The stream is closed on the way out (shielded from
    cancellation). Raises what ``read_chunk`` raises, or ``ResponseTooLargeError``."""
    if isinstance(body, AsyncBufferedStream):
        return head  # the transport read it whole already
    kept = BodyBuffer(max_size, head.request)
    try:
        while True:
            wait = timeout
            if until is not None:
                assert clock is not None, "an end comes with the clock it is read on"
                wait = wait_bound(timeout, until, clock())
                if wait is not None and wait <= 0:
                    raise ReadTimeout(
                        "The call's total timeout ran out while its response body was read.",
                        request=head.request,
                        request_sent=True,
                    )
            piece = await body.read_chunk(wait)
            if not piece:
                break
            kept.add(piece)
    finally:
        await body.aclose()
    head._fill(kept.content())
    return head


class AsyncStreamResponse(StreamResponseBase):
    """A response from ``AsyncClient.stream``; its body is read on demand, once.

    Iterate ``aiter_bytes()``, ``aiter_text()``, ``aiter_lines()`` or ``aiter_events()``,
    or keep the whole body with ``aread()``. A read raises ``ReadTimeout`` (no data
    within the read timeout), ``DeadlineExceeded`` (the call's total timeout ran out),
    ``ReadError`` or ``RemoteProtocolError`` (the connection broke or the body is
    malformed), ``ResponseTooLargeError`` (``aread()`` past ``max_response_size``, or an
    SSE event or line past its bound), each with ``attempts`` set, and
    ``StreamClosedError`` for a second read or for an iterator read on after
    ``aclose()``. ``aclose()`` gives the connection back (closed unless the body was
    read to its end); ``async with`` does it for you.
    Cancellation during a read closes the connection and propagates.
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
        """The next decoded piece, b"" at the end, within the read bounds."""
        self._check_open()
        bounds = self._bounds
        try:
            timeout, by_deadline = bounds.next_wait(self._clock())
        except DeadlineExceeded:
            await self.aclose()
            raise
        try:
            # unasync: async-only
            if by_deadline:
                import anyio  # here: a program that only streams blocking never loads it

                # A hard bound even over a transport that overruns its read timeout; a
                # blocking read cannot be interrupted, so there the transport's own
                # bound (the timeout it is given) is the only one.
                with anyio.fail_after(timeout):
                    piece = await self._body.read_chunk(timeout)
            else:
                piece = await self._body.read_chunk(timeout)
            # unasync: end
            # unasync: sync-only
            # piece = self._body.read_chunk(timeout)
            # unasync: end
        # unasync: async-only
        except TimeoutError as exc:
            await self.aclose()
            raise bounds.expired() from exc
        # unasync: end
        except APIError as exc:
            self._closed = True  # the stream closed its connection
            raise bounds.failure(exc, by_deadline) from exc.__cause__
        except BaseException:
            self._closed = True  # interrupted; on cancellation, as the read was
            raise
        if not piece:
            self._closed = True
        return piece

    def aiter_bytes(self) -> AsyncBodyIterator[bytes]:
        """The body in decoded pieces of at most ``STREAM_WINDOW`` bytes."""
        return AsyncBodyIterator(self, PIECES)

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
        returns the same bytes, and so does ``response.content``."""
        if self._content is None:
            kept = BodyBuffer(self._max_size, self.response.request)
            try:
                async for piece in self.aiter_bytes():
                    kept.add(piece)
            except ResponseTooLargeError:
                await self.aclose()
                raise
            self._content = content = kept.content()
            if not isinstance(self._body, AsyncBufferedStream):  # else the head has it
                self.response._fill(content)
        return self._content

    # unasync: sync-only
    # def json(self) -> Any:
    #     """The body parsed as JSON (read first when it was not); ``ValueError`` when it
    #     is not JSON."""
    #     self.read()
    #     return super().json()
    # unasync: end

    async def aclose(self) -> None:
        """Give the connection back (shielded from cancellation); closed, not reused,
        unless the body was read to its end. The iterator handed out ends: its next item
        raises ``StreamClosedError`` unless the body had ended. Idempotent."""
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
        body: Any = getattr(self, "_body", None)  # None when __init__ did not finish
        self._warn_unclosed(isinstance(body, AsyncBufferedStream))
