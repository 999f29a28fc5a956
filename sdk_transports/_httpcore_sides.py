"""What the two httpcore transports do differently, one small piece per side, by hand.

The transports and their response streams are one async source
(``_async_httpcore.py``) and its generated blocking twin (``_sync_httpcore.py``); where
they must differ they call these helpers by their async names (``AsyncPoolHome``,
``send_async``, ...), which the generator turns into the blocking ones. The bound of an
exchange and the network backends are in ``_httpcore_backends.py``.

- Where the pool belongs: ``PoolHome`` (this process: a forked child makes its own) and
  ``AsyncPoolHome`` (this event loop).
- Request bodies: ``httpcore_request`` / ``httpcore_request_async`` and their body
  wrappers ``SyncBody`` / ``AsyncBody``.
- Sending: ``send`` / ``send_async``; the async side closes the request body's
  iterator, shielded, once httpcore is done with it.
- ``shielded`` / ``shielded_async``: the scope of a close that cancellation must not
  interrupt.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from contextlib import AbstractContextManager

import anyio
import httpcore

from sdk_core import Request, Timeout
from sdk_core.lowlevel import body_item_bytes

from ._httpcore_common import to_httpcore_request
from ._lifecycle import (
    current_loop,
    current_pid,
    drop_httpcore_connections,
    fork_lock,
    loop_may_still_run,
)

__all__ = [
    "AsyncBody",
    "AsyncPoolHome",
    "PoolHome",
    "SyncBody",
    "httpcore_request",
    "httpcore_request_async",
    "send",
    "send_async",
    "shielded",
    "shielded_async",
]


class PoolHome:
    """The blocking transport's pool, kept to the process that made it: in a forked
    child the inherited pool is dropped (its sockets closed, nothing sent) and a new one
    made, once, whichever thread of the child gets there first."""

    __slots__ = ("_make", "_pid", "pool")

    def __init__(self, make: Callable[[], httpcore.ConnectionPool]) -> None:
        self._make = make
        self.pool = make()
        self._pid = current_pid()

    def here(self) -> httpcore.ConnectionPool:
        """The pool of this process."""
        pid = current_pid()
        if pid != self._pid:
            self._renew(pid)
        return self.pool

    def latest(self) -> httpcore.ConnectionPool:
        """``here()``: a forked child's statistics are of its own pool."""
        return self.here()

    def _renew(self, pid: int) -> None:
        with fork_lock():
            if pid == self._pid:
                return  # another thread of the child did it
            inherited = self.pool  # its lock may have been held at fork time: unused
            self.pool = self._make()
            self._pid = pid
        drop_httpcore_connections(inherited.connections)


class AsyncPoolHome:
    """The async transport's pool, kept to the event loop its connections belong to:
    under another loop the old pool's sockets are closed at once (awaiting nothing on
    the old loop; left alone while that loop may still run them) and a new pool is
    made."""

    __slots__ = ("_loop", "_make", "pool")

    def __init__(self, make: Callable[[], httpcore.AsyncConnectionPool]) -> None:
        self._make = make
        self.pool = make()
        self._loop: object = None  # the event loop the pool's connections belong to

    def here(self) -> httpcore.AsyncConnectionPool:
        """The pool of the running event loop. Raises ``RuntimeError`` outside one."""
        loop = current_loop()
        if loop is not self._loop:
            self._renew(loop)
        return self.pool

    def latest(self) -> httpcore.AsyncConnectionPool:
        """The pool as it is, without looking for a loop (statistics are read outside
        one too); a change of loop is found when the pool is next used."""
        return self.pool

    def _renew(self, loop: object) -> None:
        if self._loop is not None:
            old = self.pool
            self.pool = self._make()
            if not loop_may_still_run(self._loop):
                drop_httpcore_connections(old.connections)
        self._loop = loop


class AsyncBody:
    """A request body for httpcore's async pool whose iterator is this plain object,
    not an async generator.

    httpcore wraps a bytes body in an async generator, and a write that fails or is
    cancelled leaves that generator unfinished, for the garbage collector to finalize
    (trio warns about each one). Here nothing is left: bytes are handed over in one
    piece, and ``aclose`` closes the iterator of an async iterable body, if it was
    started.
    """

    __slots__ = ("_content", "_iterator", "_sent")

    def __init__(self, content: bytes | AsyncIterable[bytes]) -> None:
        self._content = content
        self._iterator: AsyncIterator[bytes] | None = None
        self._sent = False

    def __aiter__(self) -> AsyncBody:
        return self

    async def __anext__(self) -> bytes:
        content = self._content
        if isinstance(content, bytes):
            if self._sent:
                raise StopAsyncIteration
            self._sent = True
            return content
        if self._iterator is None:
            self._iterator = aiter(content)
        chunk = await anext(self._iterator)
        return chunk if type(chunk) is bytes else body_item_bytes(chunk)

    async def aclose(self) -> None:
        """Close the body's iterator (an async generator's ``aclose``), if it has one."""
        iterator, self._iterator = self._iterator, None
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()


class SyncBody:
    """A streamed request body for httpcore's sync pool: each item checked as the core's
    codecs check theirs (``body_item_bytes``: bytes-like items as bytes, anything else a
    ``WriteError`` that ends the request unfinished)."""

    __slots__ = ("_iterator",)

    def __init__(self, content: Iterable[bytes]) -> None:
        self._iterator = iter(content)

    def __iter__(self) -> SyncBody:
        return self

    def __next__(self) -> bytes:
        chunk = next(self._iterator)
        return chunk if type(chunk) is bytes else body_item_bytes(chunk)


def httpcore_request(request: Request, timeout: Timeout) -> httpcore.Request:
    """``to_httpcore_request`` for httpcore's sync pool: a bytes body as it is, an
    iterable one through ``SyncBody`` (its items checked)."""
    content = request.content
    body = content if isinstance(content, bytes) else SyncBody(content)  # type: ignore[arg-type]
    return to_httpcore_request(request, timeout, body)


def httpcore_request_async(request: Request, timeout: Timeout) -> httpcore.Request:
    """``to_httpcore_request`` for httpcore's async pool: bytes and async iterables as an
    ``AsyncBody``; anything else as it is (httpcore refuses what it cannot send)."""
    content = request.content
    if isinstance(content, bytes) or hasattr(content, "__aiter__"):
        return to_httpcore_request(request, timeout, AsyncBody(content))  # type: ignore[arg-type]
    return to_httpcore_request(request, timeout, content)


def send(pool: httpcore.ConnectionPool, raw_request: httpcore.Request) -> httpcore.Response:
    """``pool``'s response to ``raw_request``, up to its head. A body's iterator left
    unfinished by a failure needs no event loop to be finalized, so it is left as is."""
    return pool.handle_request(raw_request)


async def send_async(
    pool: httpcore.AsyncConnectionPool, raw_request: httpcore.Request
) -> httpcore.Response:
    """``pool``'s response to ``raw_request``, up to its head; the request body's
    iterator is closed (shielded) once httpcore is done with it, however that ended."""
    try:
        return await pool.handle_async_request(raw_request)
    finally:
        body = raw_request.stream
        if isinstance(body, AsyncBody):
            with anyio.CancelScope(shield=True):
                await body.aclose()


_NOTHING_TO_SHIELD: AbstractContextManager[None] = contextlib.nullcontext()


def shielded() -> AbstractContextManager[None]:
    """No scope: a blocking close cannot be cancelled."""
    return _NOTHING_TO_SHIELD


def shielded_async() -> anyio.CancelScope:
    """A cancel scope shielded from cancellation, for a close that must finish."""
    return anyio.CancelScope(shield=True)
