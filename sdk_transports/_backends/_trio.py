"""The trio backend: plain TCP as the connected socket used non-blocking with trio's
``wait_readable``/``wait_writable`` (``TrioStream``), its timeouts kept by one system
task (``TrioTimeouts``); TLS as ``_tls.AsyncTLSStream`` over a ``TrioStream``, so a TLS
wait is the same socket wait with the same timeouts.

anyio's trio stream goes through trio's ``SocketStream`` and checkpoints on every call;
``TrioStream`` tries the socket first and only waits when it has nothing to give or
take. Each ``send`` starts with ``checkpoint_if_cancelled``, so a cancelled task still
stops at once.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from .._lifecycle import close_socket_now
from .._sockcheck import readable_probe
from ._base import READ_SIZE, SocketOption
from ._buckets import bucket

if TYPE_CHECKING:
    import ssl

    from ._base import AsyncNetworkStream

__all__ = ["TrioBackend", "TrioStream", "TrioTimeouts"]


class TrioTimeouts:
    """Timeouts for many waits in one trio run, without a cancel scope each.

    A wait joins a bucket (``_buckets.bucket``); one system task sleeps until the
    earliest bucket and expires the streams still in it: their socket is handed to
    ``trio.lowlevel.notify_closing``, which wakes the wait with ``ClosedResourceError``,
    and the stream turns that into ``TimeoutError``. A timed-out connection is closed,
    never reused, so the socket being dropped from trio's wait list costs nothing.
    """

    __slots__ = ("_buckets", "_next", "_trio", "_wakeup", "_watching")

    def __init__(self, trio: Any) -> None:
        self._trio = trio
        self._buckets: dict[float, set[TrioStream]] = {}
        self._next = math.inf  # the bucket the watcher sleeps until
        self._wakeup: Any = None  # set to wake the watcher for an earlier bucket
        self._watching = False

    def add(self, stream: TrioStream, timeout: float) -> float:
        """Expire ``stream``'s wait about ``timeout`` seconds from now; its bucket."""
        trio = self._trio
        when = bucket(trio.current_time(), timeout)
        waits = self._buckets.get(when)
        if waits is None:
            waits = self._buckets[when] = set()
            if not self._watching:
                self._watching = True
                trio.lowlevel.spawn_system_task(self._watch, name="sdk read timeouts")
            elif when < self._next and self._wakeup is not None:
                self._wakeup.set()
        waits.add(stream)
        return when

    def discard(self, when: float, stream: TrioStream) -> None:
        """``stream``'s wait ended before its deadline."""
        waits = self._buckets.get(when)
        if waits is not None:
            waits.discard(stream)

    async def _watch(self) -> None:
        trio, buckets = self._trio, self._buckets
        while True:
            now = trio.current_time()
            for when in [w for w in buckets if w <= now]:
                for stream in buckets.pop(when):
                    stream.expire()
            self._next = min(buckets, default=math.inf)
            self._wakeup = trio.Event()
            with trio.move_on_at(self._next):
                await self._wakeup.wait()


class TrioStream:
    """A plain-TCP connection on trio as an ``AsyncNetworkStream``. Closing goes through
    the anyio stream it was dialled as (trio is told before the socket closes).

    Errors: anyio's ``ClosedResourceError`` once closed here, ``BrokenResourceError``
    when the socket failed.
    """

    __slots__ = ("_closed", "_expired", "_probe", "_stream", "_timeouts", "_trio", "raw_socket")

    def __init__(self, stream: anyio.abc.SocketStream, trio: Any, timeouts: TrioTimeouts) -> None:
        self._stream = stream
        self._trio = trio
        self._timeouts = timeouts
        self._expired = False
        self.raw_socket: Any = stream.extra(anyio.abc.SocketAttribute.raw_socket)
        self._probe = readable_probe(self.raw_socket)
        self._closed = False

    async def _wait(self, wait: Any, timeout: float | None) -> None:
        """``wait`` (trio's ``wait_readable`` or ``wait_writable``) for the socket,
        ``TimeoutError`` past ``timeout``."""
        sock = self.raw_socket
        if timeout is None:
            await wait(sock)
            return
        self._expired = False
        when = self._timeouts.add(self, timeout)
        try:
            await wait(sock)
        except self._trio.ClosedResourceError:
            if self._expired:
                raise TimeoutError from None
            raise anyio.ClosedResourceError from None
        finally:
            self._timeouts.discard(when, self)

    async def send(self, data: bytes, timeout: float | None) -> None:
        """Send what the socket takes now; wait (``timeout`` each time) for the rest."""
        trio, sock = self._trio, self.raw_socket
        await trio.lowlevel.checkpoint_if_cancelled()
        view = memoryview(data)
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            try:
                while view:
                    view = view[sock.send(view) :]
                return
            except BlockingIOError:
                pass
            except OSError as exc:
                raise anyio.BrokenResourceError from exc
            await self._wait(trio.lowlevel.wait_writable, timeout)

    async def receive(self, max_bytes: int = READ_SIZE, timeout: float | None = None) -> bytes:
        """The next bytes, b"" at EOF. ``timeout`` bounds each wait for them. A cancel
        point even when bytes are ready, so a cancelled body read ends at its next read."""
        trio, sock = self._trio, self.raw_socket
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            try:
                data: bytes = sock.recv(max_bytes)
            except BlockingIOError:
                if timeout is None:
                    await trio.lowlevel.wait_readable(sock)
                else:
                    await self._wait(trio.lowlevel.wait_readable, timeout)
                continue
            except OSError as exc:
                raise anyio.BrokenResourceError from exc
            return data

    def expire(self) -> None:
        """The timeout ran out: wake the wait with ``TimeoutError``. A stream closed
        meanwhile is left alone; ``notify_closing`` on a socket closed under the stream
        does nothing (the test pins that: an exception in the watcher would end the run)."""
        self._expired = True
        if self._closed:
            return
        self._trio.lowlevel.notify_closing(self.raw_socket)

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> AsyncNetworkStream:
        """TLS over this connection (``AsyncTLSStream``), the handshake within
        ``timeout``. On failure or cancellation the connection is closed."""
        from ._tls import start_tls

        with anyio.fail_after(timeout):
            return await start_tls(self, ssl_context, server_hostname, None)

    async def aclose(self) -> None:
        self._closed = True
        await self._stream.aclose()

    def close_now(self) -> None:
        close_socket_now(self.raw_socket)

    def is_stale(self) -> bool:
        return self._probe()

    def get_extra_info(self, name: str) -> Any:
        return self.raw_socket if name == "socket" else None


class TrioBackend:
    """Opens ``TrioStream`` connections in one trio run."""

    __slots__ = ("_timeouts", "_trio", "clock")

    def __init__(self, trio: Any) -> None:
        self._trio = trio
        self._timeouts = TrioTimeouts(trio)
        self.clock = trio.current_time

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None,
        *,
        local_address: str | None = None,
        socket_options: tuple[SocketOption, ...] = (),
    ) -> AsyncNetworkStream:
        with anyio.fail_after(timeout):
            return await self._dial(host, port, local_address, socket_options)

    async def _dial(
        self,
        host: str,
        port: int,
        local_address: str | None = None,
        socket_options: tuple[SocketOption, ...] = (),
    ) -> TrioStream:
        tcp = await anyio.connect_tcp(host, port, local_host=local_address)
        try:
            sock = tcp.extra(anyio.abc.SocketAttribute.raw_socket)
            for option in socket_options:
                sock.setsockopt(*option)
        except BaseException:
            await anyio.aclose_forcefully(tcp)
            raise
        return TrioStream(tcp, self._trio, self._timeouts)

    async def connect_tls(
        self,
        host: str,
        port: int,
        timeout: float | None,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None,
    ) -> AsyncNetworkStream:
        """``connect_tcp`` then ``TrioStream.start_tls``, the two within ``timeout``
        (one cancel scope per connection; the waits after it have none)."""
        from ._tls import start_tls

        with anyio.fail_after(timeout):
            stream = await self._dial(host, port)
            return await start_tls(stream, ssl_context, server_hostname, None)
