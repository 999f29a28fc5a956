"""The I/O half of ``content=``: a binary file read in pieces, and (for ``AsyncClient``)
a sync iterable stepped as an async iterator. ``sdk_core.ContentAdapter`` decides which
one a body needs; ``SYNC_CONTENT`` and ``ASYNC_CONTENT`` are the clients' adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import IO

from sdk_core import InvalidRequestError
from sdk_core.lowlevel import ContentAdapter

__all__ = ["ASYNC_CONTENT", "CONTENT_CHUNK", "SYNC_CONTENT", "AsyncChunks", "FileChunks"]

#: How much of a file ``content`` is read at a time.
CONTENT_CHUNK = 65536


class FileChunks(Iterator[bytes]):
    """A binary file's content, read ``CONTENT_CHUNK`` bytes at a time. Raises
    ``InvalidRequestError`` when a non-blocking file has nothing ready."""

    __slots__ = ("_file",)

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file

    def __next__(self) -> bytes:
        chunk = self._file.read(CONTENT_CHUNK)
        if chunk is None:  # a non-blocking file with nothing ready: not its end
            raise InvalidRequestError(
                "The content file is non-blocking and had no data ready; pass a blocking "
                "file, bytes or an iterable of bytes."
            )
        if not chunk:
            raise StopIteration
        # A piece that is not bytes (a file that reads str) is left to the transport's
        # check of every body item, which ends the request with a typed WriteError.
        return chunk


class AsyncChunks(AsyncIterator[bytes]):
    """A sync iterable of bytes (or a binary file, read in pieces) as an async iterator,
    for ``AsyncClient``: each step runs one step of the iterable (one read of the file)
    in the calling task, without waiting on anything. Cancellation cannot interrupt a
    step, as a step never awaits."""

    __slots__ = ("_iterable", "_iterator")

    def __init__(self, iterable: Iterable[bytes]) -> None:
        self._iterable = iterable
        self._iterator: Iterator[bytes] | None = None

    async def __anext__(self) -> bytes:
        iterator = self._iterator
        if iterator is None:
            iterator = self._iterator = iter(self._iterable)
        try:
            return next(iterator)
        except StopIteration:
            raise StopAsyncIteration from None


#: ``Client``'s content: files in pieces, iterables as they are, no async iterable.
SYNC_CONTENT = ContentAdapter(read_file=FileChunks)
#: ``AsyncClient``'s content: every sync iterable and file through ``AsyncChunks``.
ASYNC_CONTENT = ContentAdapter(read_file=FileChunks, to_async=AsyncChunks)
