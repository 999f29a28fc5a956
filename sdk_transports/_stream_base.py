"""What the sync and async stream responses share, written once: the head's
attributes, the read-once and closed state, and the iterators' items.

The twins themselves (``StreamResponse`` and ``AsyncStreamResponse``, ``BodyIterator``
and ``AsyncBodyIterator``, ``read_whole`` and ``read_whole_async``) are in
``_async_streaming.py``, from which ``scripts/unasync.py`` generates
``_sync_streaming.py``; the read bounds are the core's ``ReadDeadline``.
"""

from __future__ import annotations

import json as _json
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from sdk_core import Headers, Request, Response, StreamClosedError
from sdk_core.lowlevel import ReadDeadline

if TYPE_CHECKING:
    from sdk_core import ServerSentEvent

__all__ = ["PIECES", "BodyIteratorBase", "PieceReader", "StreamResponseBase"]

_T = TypeVar("_T")


class PieceReader(Protocol[_T]):
    """Turns a body's decoded pieces into items (text, lines, events): the core's
    ``TextReader``, ``LineReader`` and ``EventReader``."""

    def feed(self, data: bytes) -> list[_T]: ...

    def end(self) -> list[_T]: ...


class _Pieces:
    """The reader of ``iter_bytes``: each decoded piece is an item."""

    __slots__ = ()

    def feed(self, data: bytes) -> list[bytes]:
        return [data]

    def end(self) -> list[bytes]:
        return []


PIECES = _Pieces()
_NOTHING: Iterator[Any] = iter(())


class BodyIteratorBase(Generic[_T]):
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


class StreamResponseBase:
    """What the sync and async streamed responses share: the head, the bounds, the
    state, and the decoders that turn pieces into text, lines and events."""

    __slots__ = (
        "__weakref__",
        "_bounds",
        "_clock",
        "_closed",
        "_content",
        "_iterator",
        "_max_size",
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
        total: float | None = None,
    ) -> None:
        #: The response head; ``read()`` keeps the body it reads in its ``content``.
        self.response = response
        # The read timeout and the call's deadline (of Timeout.total) for every read.
        self._bounds = ReadDeadline(
            read_timeout=read_timeout,
            deadline=deadline,
            total=total,
            request=response.request,
            attempts=response.attempts,
        )
        self._clock = clock
        self._max_size = max_size
        self._closed = False
        self._started = False
        self._content: bytes | None = None
        # Weak: the iterator holds the response, and a cycle would keep an unclosed
        # response (and its connection) until the cycle collector ran.
        self._iterator: weakref.ref[BodyIteratorBase[Any]] | None = None

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

    def _begin(self, iterator: BodyIteratorBase[Any]) -> None:
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

    def _events(self) -> PieceReader[ServerSentEvent]:
        from sdk_core.lowlevel import EventReader  # loaded by the first event stream

        return EventReader(self.encoding)

    def _warn_unclosed(self, buffered: bool) -> None:
        """Warn when collected with a connection still held (not for a ``buffered`` body,
        which holds none)."""
        if getattr(self, "_closed", True) or buffered:
            return
        warnings.warn(
            f"{self!r} was never closed: its connection stayed in use until now. "
            "Use it in a with block, or call close().",
            ResourceWarning,
            stacklevel=2,
        )
