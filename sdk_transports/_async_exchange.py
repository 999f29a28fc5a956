# unasync: sdk_transports/_exchange.py
# unasync-replace: "on an error\n    or cancellation the" -> "on an error\n    the"
# unasync-replace: "those and on cancellation" -> "those"
# unasync-replace: " (shielded)." -> "."
# unasync-replace: "; shielded." -> "."
# unasync: async-only
"""One HTTP/1.1 exchange on a pooled connection, written once against the network-stream
interface (``_backends``) for every async backend; its blocking twin
(sdk_transports/_exchange.py) is generated from this file by scripts/unasync.py.

``exchange`` sends a request and reads its response through the core's codec and
readers; ``BodyStream`` reads a streamed body. Both only talk to the stream, so the
same code serves plain TCP, TLS and (later) a tunnel, and the transports around them
keep only the pool plumbing. Every wait has its own timeout, kept by the stream.
"""
# unasync: sync-only
# """One HTTP/1.1 exchange on a pooled connection over a blocking network stream
# (``_backends.NetworkStream``), generated from sdk_transports/_async_exchange.py.
#
# ``exchange`` sends a request and reads its response through the core's codec and
# readers; ``BodyStream`` reads a streamed body. Both only talk to the stream, so the
# same code serves plain TCP and TLS, and ``SocketTransport`` keeps only the pool
# plumbing. Every wait has its own timeout, kept by the stream.
# """
# unasync: end

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

# unasync: async-only
import anyio
import anyio.abc

# unasync: end
from sdk_core import APIError, ReadError, ReadTimeout, Request, Timeout, WriteError, WriteTimeout
from sdk_core.lowlevel import NEED_DATA, NeedData, new_codec, wait_bound

from ._backends import READ_SIZE, AsyncNetworkStream

# unasync: async-only
from ._backends._anyio import STREAM_ERRORS

# unasync: end
# unasync: sync-only
# STREAM_ERRORS = OSError  # ssl.SSLError is one
# unasync: end

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from sdk_core.lowlevel import StreamReader

__all__ = ["AsyncBodyStream", "AsyncConnection", "exchange"]

_T = TypeVar("_T")
# unasync: async-only
_EARLY_LIMIT = 1024 * 1024  # at most this much of an early answer is read while sending
# unasync: end


class AsyncConnection:
    """One pooled connection: its stream and the codec that frames its messages."""

    __slots__ = ("codec", "stream")

    def __init__(self, stream: AsyncNetworkStream) -> None:
        self.stream = stream
        self.codec = new_codec()


def _left(timeout: float | None, end: float, clock: Callable[[], float]) -> float | None:
    """``timeout``, or what is left until ``end`` on ``clock`` when that is less;
    ``TimeoutError`` when ``end`` has passed."""
    wait = wait_bound(timeout, end, clock())
    if wait is not None and wait <= 0:
        raise TimeoutError
    return wait


async def exchange(
    conn: AsyncConnection,
    request: Request,
    timeout: Timeout,
    step: Callable[[], _T | NeedData],
    feed: Callable[[bytes], None],
    until: tuple[Callable[[], float], float] | None = None,
) -> tuple[_T, bool]:
    """Send ``request`` and read its response (``step`` until it stops returning
    ``NEED_DATA``, ``feed`` with what arrives): ``timeout.write`` bounds each wait to
    send, ``timeout.read`` each wait for bytes, and ``until`` (a clock and a time on
    it), when given, every wait. Returns what ``step`` returned and whether the whole
    request went out. Raises ``WriteTimeout``, ``WriteError`` (unless an answer came
    first), ``ReadTimeout``, ``ReadError`` or the reader's errors; on an error
    or cancellation the caller closes the connection."""
    content = request.content
    stream = conn.stream
    early: list[bytes] = []  # read while sending; b"" marks EOF
    try:
        write = timeout.write if until is None else _left(timeout.write, until[1], until[0])
        if isinstance(content, bytes) and len(content) <= READ_SIZE:
            await stream.send(conn.codec.encode_request(request, body=content), write)
        else:
            # unasync: async-only
            await _send_watching(conn, request, write, early)
            # unasync: sync-only
            # _send_request(conn, request, write)  # unread answers wait in the kernel
            # unasync: end
    except TimeoutError:
        message = "sending the request timed out."
        raise WriteTimeout(message, request=request) from None
    except STREAM_ERRORS as exc:
        error = WriteError(f"{exc}", request=request)
        # A server may answer and close before reading the whole body (413 during a
        # large upload): that answer, when it arrived, is what the caller gets.
        try:
            result = await read(stream, request, timeout.read, step, feed, early, until)
        except APIError:
            raise error from exc
        return result, False
    return await read(stream, request, timeout.read, step, feed, early, until), True


async def _send_request(conn: AsyncConnection, request: Request, timeout: float | None) -> None:
    """Send the request, ``timeout`` bounding each wait to send (not the time a
    streamed body takes to produce its next chunk)."""
    codec, stream = conn.codec, conn.stream
    content = request.content
    if isinstance(content, bytes):
        await stream.send(codec.encode_request(request, body=content), timeout)
        return
    await stream.send(codec.encode_request(request), timeout)
    async for chunk in content:  # type: ignore[union-attr]
        await stream.send(codec.encode_chunk(chunk), timeout)
    await stream.send(codec.encode_end(), timeout)


# unasync: async-only
async def _send_watching(
    conn: AsyncConnection, request: Request, timeout: float | None, early: list[bytes]
) -> None:
    """Send a large or streamed request while receiving into ``early``.

    asyncio closes a socket whose write failed and drops the bytes it had not read,
    so an early answer (413 while the body is still going out, then a close) is read
    as it arrives. Cancelled with the request: nothing is lost, nothing leaks.
    """
    stream = conn.stream

    async def watch(*, task_status: anyio.abc.TaskStatus[None]) -> None:
        task_status.started()  # and at once waits to receive, before anything is sent
        try:
            while sum(map(len, early)) < _EARLY_LIMIT:
                data = await stream.receive(READ_SIZE, None)
                early.append(data)
                if not data:
                    break
        except Exception:  # the read after sending reports it
            pass

    failure: Exception | None = None
    async with anyio.create_task_group() as tg:
        await tg.start(watch)
        try:
            await _send_request(conn, request, timeout)
        except Exception as exc:  # re-raised below, not inside an exception group
            failure = exc
        tg.cancel_scope.cancel()
    if failure is not None:
        raise failure


# unasync: end
async def read(
    stream: AsyncNetworkStream,
    request: Request,
    timeout: float | None,
    step: Callable[[], _T | NeedData],
    feed: Callable[[bytes], None],
    early: list[bytes] | None = None,
    until: tuple[Callable[[], float], float] | None = None,
) -> _T:
    """Read until ``step`` has its result, each receive waiting at most ``timeout`` or,
    with ``until`` (a clock and a time on it), at most what is left until then.
    ``early``: what arrived while sending; with none, a fresh exchange has nothing
    buffered (a pooled connection ended its last response exactly), so reading comes
    before the first step. Raises ``ReadTimeout`` or ``ReadError``."""
    fresh = early is not None and not early
    if early:
        for data in early:
            feed(data)
    wait = timeout
    while True:
        if fresh:
            fresh = False
        else:
            result = step()
            if result is not NEED_DATA:
                return result
        try:
            if until is not None:
                wait = _left(timeout, until[1], until[0])
            data = await stream.receive(READ_SIZE, wait)
        except TimeoutError:
            raise ReadTimeout(f"no data for {timeout} s.", request=request) from None
        except STREAM_ERRORS as exc:
            raise ReadError(f"{exc}", request=request) from exc
        feed(data)


class AsyncBodyStream:
    """The body of a streamed response: ``read_chunk`` until b"", then the connection
    goes back through ``give_back(reusable)``."""

    __slots__ = ("_clock", "_give_back", "_may_reuse", "_reader", "_request", "_stream")

    def __init__(
        self,
        stream: AsyncNetworkStream,
        reader: StreamReader,
        request: Request,
        may_reuse: bool,
        give_back: Callable[[bool], Awaitable[None]],
        clock: Callable[[], float],
    ) -> None:
        self._stream = stream
        self._reader = reader
        self._request = request
        self._may_reuse = may_reuse
        self._give_back: Callable[[bool], Awaitable[None]] | None = give_back
        self._clock = clock

    async def read_chunk(self, timeout: float | None) -> bytes:
        """The next decoded piece of the body, b"" at its end; ``timeout`` bounds this
        call. Raises ``ReadTimeout``, ``ReadError`` or ``RemoteProtocolError``; on
        those and on cancellation the connection is closed and released (shielded)."""
        if self._give_back is None:
            return b""
        reader = self._reader
        try:
            # Each receive waits at most what is left of this call.
            until = None if timeout is None else (self._clock, self._clock() + timeout)
            piece = await read(
                self._stream, self._request, timeout, reader.body, reader.feed, until=until
            )
        except BaseException:
            # unasync: async-only
            with anyio.CancelScope(shield=True):
                await self._finish(reusable=False)
            # unasync: sync-only
            # self._finish(reusable=False)
            # unasync: end
            raise
        if not piece:
            await self._finish(reusable=reader.reusable and self._may_reuse)
        return piece

    async def _finish(self, *, reusable: bool) -> None:
        give_back, self._give_back = self._give_back, None
        if give_back is not None:
            await give_back(reusable)

    async def aclose(self) -> None:
        """Release the connection, closed unless the body was read to its end; shielded."""
        # unasync: async-only
        with anyio.CancelScope(shield=True):
            await self._finish(reusable=False)
        # unasync: sync-only
        # self._finish(reusable=False)
        # unasync: end
