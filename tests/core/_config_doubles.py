"""Test doubles for a client's ``content=`` adapter: nothing here reads or waits."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import IO

from sdk_core.lowlevel import ContentAdapter


class Pieces:
    """What a test adapter makes of a file: it records the file and never reads it."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file: object = file

    def __iter__(self) -> Iterator[bytes]:
        return iter(())


class Bridged(AsyncIterable[bytes]):
    """What a test adapter makes of a sync iterable for an async client."""

    def __init__(self, iterable: Iterable[bytes]) -> None:
        self.iterable = iterable

    def __aiter__(self) -> AsyncIterator[bytes]:
        raise AssertionError("never iterated here")


SYNC = ContentAdapter(read_file=Pieces)
ASYNC = ContentAdapter(read_file=Pieces, to_async=Bridged)


class FakeFile:
    """A binary "file": it has ``read``, which these tests never call."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the core never reads a file")
