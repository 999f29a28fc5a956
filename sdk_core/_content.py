"""What a call's ``content=`` may be, and how a client turns it into a request body."""

from __future__ import annotations

import io
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import IO, TypeAlias

from ._error_base import InvalidRequestError
from ._models import RequestContent

__all__ = ["ContentAdapter", "ContentTypes"]

#: What ``content=`` takes: bytes, str (sent as UTF-8), a binary file object (read in
#: pieces), an iterable of bytes, or (``AsyncClient`` only) an async iterable of bytes.
ContentTypes: TypeAlias = (
    "bytes | bytearray | memoryview | str | IO[bytes] | Iterable[bytes] | AsyncIterable[bytes]"
)


@dataclass(frozen=True, slots=True)
class ContentAdapter:
    """How a client sends ``content=`` (see ``ContentTypes``).

    bytes and str go as they are, a bytearray or memoryview as a bytes copy, a binary
    file (an object with ``read``) as the pieces ``read_file`` gives, and any other
    iterable of bytes (not a mapping) as it is. Reading a file is I/O, so the core only
    decides here; ``read_file`` comes from the transport side.

    ``to_async`` given (an async client's adapter): an async iterable goes as it is,
    and a sync iterable or a file's pieces through ``to_async``, so the transport only
    ever sees bytes or an async iterable. Without it, an async iterable is refused.
    """

    read_file: Callable[[IO[bytes]], Iterable[bytes]]
    to_async: Callable[[Iterable[bytes]], AsyncIterable[bytes]] | None = None

    def body(self, content: object) -> RequestContent | str:
        """The body to send for ``content``. Raises ``InvalidRequestError`` for a file
        in text mode, an async iterable without ``to_async``, and anything else outside
        ``ContentTypes`` (a mapping's message points to ``json=``)."""
        if isinstance(content, bytes | str):
            return content
        if isinstance(content, bytearray | memoryview):
            return bytes(content)
        to_async = self.to_async
        if to_async is not None and isinstance(content, AsyncIterable):
            return content
        file = _file_of(content)
        if file is not None:
            pieces = self.read_file(file)
            return pieces if to_async is None else to_async(pieces)
        if isinstance(content, Iterable) and not isinstance(content, Mapping):
            return content if to_async is None else to_async(content)
        if isinstance(content, AsyncIterable):
            raise InvalidRequestError(
                "Client cannot send an async iterable as content; use AsyncClient, or pass "
                "bytes or an iterable of bytes."
            )
        kinds = "" if to_async is None else " or an async iterable of bytes"
        hint = " (json= sends a JSON body)" if isinstance(content, Mapping) else ""
        raise InvalidRequestError(
            f"content must be bytes, str, a binary file or an iterable of bytes{kinds}, "
            f"not {type(content).__name__}{hint}."
        )


def _file_of(content: object) -> IO[bytes] | None:
    """``content`` when it is a file object (it has ``read``), else None. Raises
    ``InvalidRequestError`` for one in text mode."""
    if not callable(getattr(content, "read", None)):
        return None
    if isinstance(content, io.TextIOBase):
        raise InvalidRequestError("A content file must be opened in binary mode ('rb').")
    return content  # type: ignore[return-value]
