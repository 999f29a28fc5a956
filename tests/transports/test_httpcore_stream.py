"""Streamed responses on HttpcoreTransport (sync) and AsyncHttpcoreTransport (asyncio and
trio), against ``FaultServer``: pieces, decoding, the pool while streaming and after,
timeouts, broken bodies and cancellation.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator

import anyio
import pytest

from sdk_core import (
    APIError,
    ClientClosedError,
    PoolStatistics,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    Timeout,
)
from sdk_transports import AsyncHttpcoreTransport, HttpcoreTransport
from sdk_transports._protocols import (
    STREAM_WINDOW,
    AsyncResponseStream,
    AsyncStreamingTransport,
    ResponseStream,
    StreamingTransport,
)
from sdk_transports.testing import (
    FaultServer,
    Step,
    close,
    read_request,
    reset,
    respond,
    respond_chunked,
    send,
    serve_forever,
    stall,
)

pytestmark = pytest.mark.integration

TIMEOUT = Timeout(5.0)
SHORT = 0.2  # the read timeout of the stall tests
STALL = 2.0  # the server's stall: far past SHORT; the stopping server interrupts it
BIG = bytes(range(256)) * 1024  # 256 KiB: four windows
TEXT = b"".join(b"line %d of a repetitive body\n" % i for i in range(40_000))  # ~1.2 MB
PARTIAL = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10

IDLE_AFTER_END = PoolStatistics(in_use=0, idle=1, waiting=0)
NOTHING_HELD = PoolStatistics(in_use=0, idle=0, waiting=0)

# name -> (the first connection's script, the body read from it)
BODIES: dict[str, tuple[tuple[Step, ...], bytes]] = {
    "content-length": ((read_request(), respond(body=BIG), serve_forever()), BIG),
    "chunked": (
        (
            read_request(),
            respond_chunked([BIG[i : i + 7000] for i in range(0, len(BIG), 7000)]),
            serve_forever(),
        ),
        BIG,
    ),
    "gzip": (
        (
            read_request(),
            respond(body=gzip.compress(TEXT), headers=[("Content-Encoding", "gzip")]),
            serve_forever(),
        ),
        TEXT,
    ),
    "empty": ((read_request(), respond(body=b""), serve_forever()), b""),
    "small": ((read_request(), respond(body=b'{"ok":true}'), serve_forever()), b'{"ok":true}'),
}

# name -> (script, the error a read raises)
BROKEN: dict[str, tuple[tuple[Step, ...], type[APIError]]] = {
    "eof-mid-body": ((read_request(), send(PARTIAL), close()), RemoteProtocolError),
    "reset-mid-body": ((read_request(), send(PARTIAL), stall(0.05), reset()), ReadError),
    "eof-mid-chunked": (
        (read_request(), respond_chunked([b"abc"], terminate=False), close()),
        RemoteProtocolError,
    ),
    # The decoder fails inside the body: the connection is dropped.
    "corrupt-gzip": (
        (
            read_request(),
            respond(
                body=b"\x1f\x8b\x08\x00garbage-not-gzip", headers=[("Content-Encoding", "gzip")]
            ),
        ),
        RemoteProtocolError,
    ),
    # The HTTP body is whole, the gzip stream in it cut short: the error comes at the
    # end, after the connection went back to the pool (its framing was sound).
    "truncated-gzip": (
        (
            read_request(),
            respond(body=gzip.compress(TEXT)[:500], headers=[("Content-Encoding", "gzip")]),
            serve_forever(),
        ),
        RemoteProtocolError,
    ),
}


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        yield fault_server


def _get(server: FaultServer, path: str = "/s") -> Request:
    return Request("GET", server.url + path)


def _check_pieces(pieces: list[bytes], expected: bytes) -> None:
    assert all(0 < len(p) <= STREAM_WINDOW for p in pieces), [len(p) for p in pieces]
    assert b"".join(pieces) == expected
    if len(expected) > STREAM_WINDOW:
        assert len(pieces) > 1


def test_the_transports_stream() -> None:
    assert isinstance(HttpcoreTransport(), StreamingTransport)
    assert isinstance(AsyncHttpcoreTransport(), AsyncStreamingTransport)


# -- sync -------------------------------------------------------------------------------


def _read_all(stream: ResponseStream, timeout: float | None = 5.0) -> list[bytes]:
    pieces = []
    while piece := stream.read_chunk(timeout):
        pieces.append(piece)
    return pieces


@pytest.mark.parametrize("body", sorted(BODIES))
def test_sync_body_in_pieces(server: FaultServer, body: str) -> None:
    script, expected = BODIES[body]
    server.script(*script)
    transport = HttpcoreTransport()
    try:
        head, stream = transport.open_stream(_get(server), TIMEOUT)
        assert (head.status_code, head.content) == (200, b"")
        assert transport.statistics().in_use == 1
        _check_pieces(_read_all(stream), expected)
        assert transport.statistics() == IDLE_AFTER_END
        assert stream.read_chunk(1.0) == b""  # after the end
        stream.close()
        stream.close()
        assert transport.statistics() == IDLE_AFTER_END
        assert transport.handle_request(_get(server, "/next"), TIMEOUT).status_code == 200
        assert server.connections == 1  # the connection was reused
    finally:
        transport.close()


def test_sync_close_midway_drops_the_connection(server: FaultServer) -> None:
    server.script(read_request(), respond(body=BIG), serve_forever())
    transport = HttpcoreTransport()
    try:
        _, stream = transport.open_stream(_get(server), TIMEOUT)
        first = stream.read_chunk(5.0)
        assert first
        assert BIG.startswith(first)
        stream.close()
        assert transport.statistics() == NOTHING_HELD
        assert stream.read_chunk(1.0) == b""
        assert transport.handle_request(_get(server, "/next"), TIMEOUT).status_code == 200
        assert server.connections == 2
    finally:
        transport.close()


def test_sync_stall_mid_body_raises_read_timeout(server: FaultServer) -> None:
    server.script(read_request(), send(PARTIAL), stall(STALL))
    transport = HttpcoreTransport()
    try:
        _, stream = transport.open_stream(_get(server), TIMEOUT)
        assert stream.read_chunk(SHORT) == b"x" * 10
        start = time.monotonic()
        with pytest.raises(ReadTimeout):
            stream.read_chunk(SHORT)
        assert time.monotonic() - start < SHORT + 0.5
        assert transport.statistics() == NOTHING_HELD
        assert stream.read_chunk(1.0) == b""
    finally:
        transport.close()


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_sync_broken_body_raises_and_holds_nothing(server: FaultServer, case: str) -> None:
    script, error = BROKEN[case]
    server.script(*script)
    transport = HttpcoreTransport()
    try:
        _, stream = transport.open_stream(_get(server), TIMEOUT)
        with pytest.raises(error) as info:
            _read_all(stream)
        assert info.value.request is not None
        assert transport.statistics().in_use == 0
        stream.close()
        assert transport.handle_request(_get(server, "/next"), TIMEOUT).status_code == 200
    finally:
        transport.close()


def test_sync_bytes_past_the_body_are_not_reused(server: FaultServer) -> None:
    smuggled = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
    server.script(
        read_request(), send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + smuggled)
    )
    transport = HttpcoreTransport()
    try:
        _, stream = transport.open_stream(_get(server), TIMEOUT)
        assert _read_all(stream) == [b"ok"]
        assert transport.statistics() == NOTHING_HELD
        assert b"evil" not in transport.handle_request(_get(server, "/next"), TIMEOUT).content
    finally:
        transport.close()


def test_sync_open_stream_errors_hold_nothing(server: FaultServer) -> None:
    server.script(read_request(), close())
    transport = HttpcoreTransport()
    with pytest.raises(RemoteProtocolError):
        transport.open_stream(_get(server), TIMEOUT)
    assert transport.statistics() == NOTHING_HELD
    transport.close()
    with pytest.raises(ClientClosedError):
        transport.open_stream(_get(server), TIMEOUT)


# -- async (asyncio and trio) -----------------------------------------------------------


async def _aread_all(stream: AsyncResponseStream, timeout: float | None = 5.0) -> list[bytes]:
    pieces = []
    while piece := await stream.read_chunk(timeout):
        pieces.append(piece)
    return pieces


@pytest.mark.anyio
@pytest.mark.parametrize("body", sorted(BODIES))
async def test_async_body_in_pieces(server: FaultServer, body: str) -> None:
    script, expected = BODIES[body]
    server.script(*script)
    transport = AsyncHttpcoreTransport()
    try:
        head, stream = await transport.open_async_stream(_get(server), TIMEOUT)
        assert (head.status_code, head.content) == (200, b"")
        assert transport.statistics().in_use == 1
        _check_pieces(await _aread_all(stream), expected)
        assert transport.statistics() == IDLE_AFTER_END
        assert await stream.read_chunk(1.0) == b""
        await stream.aclose()
        await stream.aclose()
        assert transport.statistics() == IDLE_AFTER_END
        next_response = await transport.handle_async_request(_get(server, "/next"), TIMEOUT)
        assert next_response.status_code == 200
        assert server.connections == 1
    finally:
        await transport.aclose()


@pytest.mark.anyio
async def test_async_close_midway_drops_the_connection(server: FaultServer) -> None:
    server.script(read_request(), respond(body=BIG), serve_forever())
    transport = AsyncHttpcoreTransport()
    try:
        _, stream = await transport.open_async_stream(_get(server), TIMEOUT)
        first = await stream.read_chunk(5.0)
        assert first
        assert BIG.startswith(first)
        await stream.aclose()
        assert transport.statistics() == NOTHING_HELD
        assert await stream.read_chunk(1.0) == b""
        next_response = await transport.handle_async_request(_get(server, "/next"), TIMEOUT)
        assert next_response.status_code == 200
        assert server.connections == 2
    finally:
        await transport.aclose()


@pytest.mark.anyio
async def test_async_stall_mid_body_raises_read_timeout(server: FaultServer) -> None:
    server.script(read_request(), send(PARTIAL), stall(STALL))
    transport = AsyncHttpcoreTransport()
    try:
        _, stream = await transport.open_async_stream(_get(server), TIMEOUT)
        assert await stream.read_chunk(SHORT) == b"x" * 10
        start = time.monotonic()
        with pytest.raises(ReadTimeout):
            await stream.read_chunk(SHORT)
        assert time.monotonic() - start < SHORT + 0.5
        assert transport.statistics() == NOTHING_HELD
    finally:
        await transport.aclose()


def test_each_read_has_its_own_bound(server: FaultServer) -> None:
    """A later, smaller timeout bounds its read (the client's deadline closing in),
    though httpcore fixes one read timeout per body: the transport's network streams
    bound every receive by what is left of the read_chunk call."""
    server.script(read_request(), send(PARTIAL), stall(STALL))
    transport = HttpcoreTransport()
    try:
        _, stream = transport.open_stream(_get(server), TIMEOUT)
        assert stream.read_chunk(5.0) == b"x" * 10
        with pytest.raises(ReadTimeout):
            stream.read_chunk(0.1)  # a 5 s bound here would outlast the stall: no error
        assert transport.statistics() == NOTHING_HELD
    finally:
        transport.close()


@pytest.mark.anyio
async def test_async_each_read_has_its_own_bound(server: FaultServer) -> None:
    """A later, smaller timeout bounds its read (the client's deadline closing in)."""
    server.script(read_request(), send(PARTIAL), stall(STALL))
    transport = AsyncHttpcoreTransport()
    try:
        _, stream = await transport.open_async_stream(_get(server), TIMEOUT)
        assert await stream.read_chunk(5.0) == b"x" * 10
        start = time.monotonic()
        with pytest.raises(ReadTimeout):
            await stream.read_chunk(0.1)
        assert time.monotonic() - start < 0.6
        assert transport.statistics() == NOTHING_HELD
    finally:
        await transport.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("case", sorted(BROKEN))
async def test_async_broken_body_raises_and_holds_nothing(server: FaultServer, case: str) -> None:
    script, error = BROKEN[case]
    server.script(*script)
    transport = AsyncHttpcoreTransport()
    try:
        _, stream = await transport.open_async_stream(_get(server), TIMEOUT)
        with pytest.raises(error) as info:
            await _aread_all(stream)
        assert info.value.request is not None
        assert transport.statistics().in_use == 0
        await stream.aclose()
        next_response = await transport.handle_async_request(_get(server, "/next"), TIMEOUT)
        assert next_response.status_code == 200
    finally:
        await transport.aclose()


@pytest.mark.anyio
async def test_async_cancelled_read_releases_the_connection(server: FaultServer) -> None:
    server.script(read_request(), send(PARTIAL), stall(STALL))
    transport = AsyncHttpcoreTransport()
    try:
        _, stream = await transport.open_async_stream(_get(server), TIMEOUT)
        assert await stream.read_chunk(5.0) == b"x" * 10
        with anyio.move_on_after(0.05) as scope:
            await stream.read_chunk(5.0)
        assert scope.cancelled_caught
        assert transport.statistics() == NOTHING_HELD
        assert await stream.read_chunk(1.0) == b""
        await stream.aclose()
        assert transport.statistics() == NOTHING_HELD
        next_response = await transport.handle_async_request(_get(server, "/next"), TIMEOUT)
        assert next_response.status_code == 200
    finally:
        await transport.aclose()


@pytest.mark.anyio
async def test_async_bytes_past_the_body_are_not_reused(server: FaultServer) -> None:
    smuggled = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
    server.script(
        read_request(), send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + smuggled)
    )
    transport = AsyncHttpcoreTransport()
    try:
        _, stream = await transport.open_async_stream(_get(server), TIMEOUT)
        assert await _aread_all(stream) == [b"ok"]
        assert transport.statistics() == NOTHING_HELD
        next_response = await transport.handle_async_request(_get(server, "/next"), TIMEOUT)
        assert b"evil" not in next_response.content
    finally:
        await transport.aclose()


@pytest.mark.anyio
async def test_async_open_stream_errors_hold_nothing(server: FaultServer) -> None:
    server.script(read_request(), close())
    transport = AsyncHttpcoreTransport()
    with pytest.raises(RemoteProtocolError):
        await transport.open_async_stream(_get(server), TIMEOUT)
    assert transport.statistics() == NOTHING_HELD
    await transport.aclose()
    with pytest.raises(ClientClosedError):
        await transport.open_async_stream(_get(server), TIMEOUT)


@pytest.mark.anyio
async def test_async_cancelled_open_holds_nothing(server: FaultServer) -> None:
    server.script(read_request(), stall(STALL))
    transport = AsyncHttpcoreTransport()
    try:
        with anyio.move_on_after(0.1) as scope:
            await transport.open_async_stream(_get(server), TIMEOUT)
        assert scope.cancelled_caught
        assert transport.statistics() == NOTHING_HELD
    finally:
        await transport.aclose()
