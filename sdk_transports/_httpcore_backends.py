"""The network backends under the httpcore transports and the bound each side puts on an
exchange, one per side, written by hand because each does what only its side needs.

``DeadlineBackend`` (blocking): httpcore bounds each socket wait by the phase timeout
alone, and a blocking call cannot be cancelled, so every wait is also bounded by what is
left of the exchange (``Deadline``, per thread). ``AsyncBackend`` (asyncio and trio):
httpcore's own backend for the running loop, with a failed TLS handshake's socket closed
however it failed, and trio's cancellation raised as itself, not in an exception group;
its ``AsyncDeadline`` leaves a whole exchange to the async client's cancel scope and
bounds each streamed read with one of its own.
"""

from __future__ import annotations

import contextlib
import ssl
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import anyio
import httpcore

from sdk_core import ReadTimeout, Request

from ._sockcheck import socket_timeout

__all__ = ["AsyncBackend", "AsyncDeadline", "Deadline", "DeadlineBackend"]


class Deadline(threading.local):
    """The monotonic time by which this thread's current exchange must end, or None.

    ``with deadline.exchange(seconds):`` and ``with deadline.read(timeout, request):``
    set it for the block; ``DeadlineStream`` bounds every socket wait by it, so a
    timeout surfaces as httpcore's own exception from that wait.
    """

    end: float | None = None

    def bound(self, timeout: float | None) -> float | None:
        """``timeout``, or what is left until ``end`` when that is less (see
        ``socket_timeout``)."""
        return socket_timeout(timeout, self.end)

    def exchange(self, seconds: float | None) -> Deadline:
        """This deadline, ending ``seconds`` from now (None: no end) until the ``with``
        block it enters is left."""
        self.end = None if seconds is None else time.monotonic() + seconds
        return self

    def read(self, timeout: float | None, request: Request) -> Deadline:
        """One streamed read, bounded whole by ``timeout`` as ``exchange`` bounds an
        exchange (``request`` is for the async side's message)."""
        self.end = None if timeout is None else time.monotonic() + timeout
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        self.end = None

    def network_backend(self) -> DeadlineBackend:
        """The backend whose every socket wait this deadline bounds."""
        return DeadlineBackend(self)


_UNBOUNDED: AbstractContextManager[None] = contextlib.nullcontext()


class AsyncDeadline:
    """``Deadline``'s counterpart on the async transports: a whole exchange is left to
    the cancel scope the async client puts around it; a streamed read gets its own."""

    __slots__ = ()

    def exchange(self, seconds: float | None) -> AbstractContextManager[None]:
        """No bound: the caller's cancel scope bounds the exchange."""
        return _UNBOUNDED

    def read(self, timeout: float | None, request: Request) -> AbstractContextManager[None]:
        """A cancel scope of ``timeout`` around one streamed read; its expiry raises
        ``ReadTimeout`` for ``request``."""
        return _read_within(timeout, request)

    def network_backend(self) -> AsyncBackend:
        """httpcore's backend for the running loop (``AsyncBackend``)."""
        return AsyncBackend()


@contextlib.contextmanager
def _read_within(timeout: float | None, request: Request) -> Iterator[None]:
    try:
        with anyio.fail_after(timeout):
            yield
    except TimeoutError:
        raise ReadTimeout(f"no data for {timeout} s.", request=request) from None


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every wait is also bounded by the thread's ``Deadline``:
    httpcore bounds each receive by the read timeout alone, so a body trickling in
    slower than that would otherwise keep a blocking call alive past its deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.bound(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.bound(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._deadline.bound(timeout))
        return DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's blocking backend, its streams wrapped in ``DeadlineStream``."""

    def __init__(self, deadline: Deadline) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if timeout is not None and timeout <= 0:  # a socket timeout of 0 means "do not block"
            raise httpcore.ConnectTimeout("no time was allowed to connect")
        stream = self._inner.connect_tcp(
            host, port, self._deadline.bound(timeout), local_address, socket_options
        )
        return DeadlineStream(stream, self._deadline)

    def connect_unix_socket(  # the transport dials TCP only
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, timeout, socket_options)
        return DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:  # httpcore retries only
        self._inner.sleep(seconds)


class ClosingStream(httpcore.AsyncNetworkStream):
    """httpcore's stream (anyio's or trio's), except that a failed ``start_tls`` closes the
    connection however it failed (shielded), cancellation included: httpcore's closes
    it on an ``Exception`` only, which would leave the socket of a cancelled handshake
    to the garbage collector."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            return await self._inner.start_tls(ssl_context, server_hostname, timeout)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._inner.aclose()
            raise

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class AsyncBackend(httpcore.AsyncNetworkBackend):
    """httpcore's own backend for the running loop (anyio's on asyncio, the native trio
    one on trio), its streams ``ClosingStream``, and a cancellation raised as itself.

    On trio, ``trio.open_tcp_stream`` (inside httpcore's trio backend) runs its
    connection attempts in a nursery with strict exception groups, so a cancellation
    comes out as ``BaseExceptionGroup([Cancelled])``, which a caller's
    ``except trio.Cancelled`` misses: such a group is unwrapped here. The nursery
    closes every socket it opened either way.
    """

    def __init__(self) -> None:
        self._anyio = httpcore.AnyIOBackend()
        self._trio: httpcore.AsyncNetworkBackend | None = None

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        trio = sys.modules.get("trio")
        if trio is None or not trio.lowlevel.in_trio_run():
            stream = await self._anyio.connect_tcp(
                host, port, timeout, local_address, socket_options
            )
            return ClosingStream(stream)
        if self._trio is None:
            self._trio = httpcore.TrioBackend()
        try:
            stream = await self._trio.connect_tcp(
                host, port, timeout, local_address, socket_options
            )
        except BaseException as exc:
            cancelled = only_cancellations(exc, trio.Cancelled)
            if cancelled is not None:
                raise cancelled from None
            raise
        return ClosingStream(stream)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


def only_cancellations(exc: BaseException, cancelled: type[BaseException]) -> BaseException | None:
    """The first ``cancelled`` in ``exc`` when ``exc`` is an exception group holding
    nothing else (at any depth); None otherwise (``exc`` itself included)."""
    members = getattr(exc, "exceptions", None)
    if not isinstance(members, tuple) or not members:
        return None
    first: BaseException | None = None
    for member in members:
        found = member if isinstance(member, cancelled) else only_cancellations(member, cancelled)
        if found is None:
            return None
        first = first or found
    return first
