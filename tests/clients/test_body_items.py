"""An iterable body that yields something other than bytes, bytearray or memoryview.

The head and the earlier pieces are already on the wire when the bad item turns up, so
the call fails with ``WriteError`` (``request_sent=True``, ``retryable=False``) naming
``content`` and the type yielded; the chunked body is never terminated, the connection is
closed (the server sees EOF after an incomplete body), the pool is empty, and the next call
gets a new connection. Checked on every transport (the async ones under asyncio and trio),
with ``request`` and ``stream``, against a raw server that records every byte.

bytearray and memoryview items are sent as their bytes: a memoryview of a multi-byte
format is framed by its byte count, not its item count.
"""

from __future__ import annotations

import array
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from _support.raw_server import RawConnection, RawServer, ok_response

from sdk_core import InvalidRequestError, PoolStatistics, WriteError
from sdk_transports import (
    AnyioTransport,
    AsyncClient,
    AsyncHttpcoreTransport,
    Client,
    HttpcoreTransport,
    SocketTransport,
)
from sdk_transports.testing import FaultServer

SYNC_TRANSPORTS: dict[str, Callable[[], Any]] = {
    "SocketTransport": SocketTransport,
    "HttpcoreTransport": HttpcoreTransport,
}
ASYNC_TRANSPORTS: dict[str, Callable[[], Any]] = {
    "AnyioTransport": AnyioTransport,
    "AsyncHttpcoreTransport": AsyncHttpcoreTransport,
}

_TERMINATOR = b"\r\n0\r\n\r\n"
_MAX_BYTES = 1 << 20  # a bound on what one connection may send before the handler gives up


class Recorder:
    """Per connection: read until the chunked body ends (then answer 200 and close) or
    the client closes; record every byte received, then ``<no EOF>`` if the client held
    the connection open for the 5 s of RawServer's socket timeout."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: dict[int, bytes] = {}  # by the client's port
        self.finished = threading.Semaphore(0)  # released once per connection handled

    def __call__(self, conn: RawConnection) -> None:
        port = conn.sock.getpeername()[1]
        buffer = b""
        try:
            while not buffer.endswith(_TERMINATOR) and len(buffer) < _MAX_BYTES:
                try:
                    data = conn.sock.recv(65536)
                except TimeoutError:  # RawServer's 5 s: the client left the connection open
                    buffer += b"<no EOF>"
                    break
                except OSError:  # reset: closed too
                    break
                if not data:  # EOF: the client closed the connection
                    break
                buffer += data
            if buffer.endswith(_TERMINATOR):
                conn.send(ok_response(b"done", close=True))
        finally:
            with self.lock:
                self.received[port] = buffer
            self.finished.release()

    def wait(self, server: RawServer, count: int) -> list[bytes]:
        """The bytes of ``server``'s first ``count`` connections, in the order they were
        accepted, once each was handled."""
        for _ in range(count):
            assert self.finished.acquire(timeout=10), "a connection was not closed"
        with self.lock:
            return [self.received[port] for port in server.peer_ports[:count]]


def wide_view() -> memoryview:
    """A memoryview of two-byte items: 2 items, 4 bytes."""
    return memoryview(array.array("H", [0x6261, 0x6463]))


def good_items() -> list[Any]:
    return [b"a", bytearray(b"bc"), memoryview(b"xdef")[1:], wide_view()]


#: What the good items above put on the wire, chunk by chunk.
GOOD_WIRE = b"1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n4\r\n" + wide_view().tobytes() + b"\r\n"

#: (id, the bad item, its type's name as the message gives it).
BAD_ITEMS = [
    pytest.param(5, "int", id="int"),
    pytest.param("text", "str", id="str"),
    pytest.param(None, "NoneType", id="None"),
    pytest.param(0, "int", id="zero"),  # falsy: must not be taken for an empty piece
    pytest.param("", "str", id="empty-str"),
]


def body_of(wire: bytes) -> bytes:
    head, sep, body = wire.partition(b"\r\n\r\n")
    assert sep, wire[:200]
    assert head.startswith(b"POST /up HTTP/1.1\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    return body


def check_error(exc: WriteError, type_name: str) -> None:
    assert not isinstance(exc, InvalidRequestError)
    assert exc.request_sent is True
    assert exc.retryable is False
    assert exc.attempts == 1  # a one-shot body is never retried
    assert f"content yielded {type_name}, not bytes" in str(exc)
    assert "POST http://127.0.0.1:" in str(exc)  # the client named the request


def check_wire(recorder: Recorder, server: RawServer) -> None:
    """The first connection carried the head and the good pieces, no terminating chunk,
    then EOF; the second carried the follow-up call whole."""
    first, second = recorder.wait(server, 2)
    assert body_of(first) == GOOD_WIRE  # cut off: no 0-chunk, no response was sent
    assert body_of(second) == b"2\r\nok\r\n0\r\n\r\n"
    assert server.connections == 2  # the broken connection was never reused


def send(client: Client, mode: str, content: Any) -> None:
    """POST ``content`` with ``request``, or with ``stream`` (the head is all it waits for)."""
    if mode == "request":
        client.post("/up", content=content)
    else:
        with client.stream("POST", "/up", content=content):
            pass


async def send_async(client: AsyncClient, mode: str, content: Any) -> None:
    if mode == "request":
        await client.post("/up", content=content)
    else:
        async with client.stream("POST", "/up", content=content):
            pass


@pytest.mark.parametrize("transport_name", SYNC_TRANSPORTS)
@pytest.mark.parametrize("mode", ["request", "stream"])
@pytest.mark.parametrize(("bad", "type_name"), BAD_ITEMS)
def test_sync_bad_item(
    request: pytest.FixtureRequest, transport_name: str, mode: str, bad: object, type_name: str
) -> None:
    recorder = Recorder()
    transport = SYNC_TRANSPORTS[transport_name]()
    with RawServer(recorder) as server, Client(server.url, transport=transport) as client:
        content = iter([*good_items(), bad, b"tail"])
        with pytest.raises(WriteError) as caught:
            send(client, mode, content)
        check_error(caught.value, type_name)
        assert client.statistics() == PoolStatistics(in_use=0, idle=0, waiting=0)
        assert client.post("/up", content=iter([b"ok"])).content == b"done"
        check_wire(recorder, server)


async def async_items(bad: object) -> AsyncIterator[Any]:
    for item in good_items():
        yield item
    yield bad
    yield b"tail"


def sync_items(bad: object) -> Iterator[Any]:
    yield from good_items()
    yield bad
    yield b"tail"


async def one_piece() -> AsyncIterator[bytes]:
    yield b"ok"


@pytest.mark.anyio
@pytest.mark.parametrize("transport_name", ASYNC_TRANSPORTS)
@pytest.mark.parametrize("source", ["async-iterable", "sync-iterable"])
@pytest.mark.parametrize("mode", ["request", "stream"])
@pytest.mark.parametrize(("bad", "type_name"), BAD_ITEMS)
async def test_async_bad_item(
    request: pytest.FixtureRequest,
    anyio_backend: str,
    transport_name: str,
    source: str,
    mode: str,
    bad: object,
    type_name: str,
) -> None:
    recorder = Recorder()
    with RawServer(recorder) as server:
        transport = ASYNC_TRANSPORTS[transport_name]()
        async with AsyncClient(server.url, transport=transport) as client:
            content = async_items(bad) if source == "async-iterable" else sync_items(bad)
            with pytest.raises(WriteError) as caught:
                await send_async(client, mode, content)
            check_error(caught.value, type_name)
            assert client.statistics() == PoolStatistics(in_use=0, idle=0, waiting=0)
            assert (await client.post("/up", content=one_piece())).content == b"done"
        check_wire(recorder, server)


@pytest.mark.parametrize("transport_name", SYNC_TRANSPORTS)
def test_sync_good_items_are_sent(request: pytest.FixtureRequest, transport_name: str) -> None:
    recorder = Recorder()
    transport = SYNC_TRANSPORTS[transport_name]()
    with RawServer(recorder) as server, Client(server.url, transport=transport) as client:
        assert client.post("/up", content=good_items()).content == b"done"
        (wire,) = recorder.wait(server, 1)
    assert body_of(wire) == GOOD_WIRE + b"0\r\n\r\n"


@pytest.mark.anyio
@pytest.mark.parametrize("transport_name", ASYNC_TRANSPORTS)
async def test_async_good_items_are_sent(
    request: pytest.FixtureRequest, anyio_backend: str, transport_name: str
) -> None:
    recorder = Recorder()
    with RawServer(recorder) as server:
        transport = ASYNC_TRANSPORTS[transport_name]()
        async with AsyncClient(server.url, transport=transport) as client:
            response = await client.post("/up", content=async_items(b""))
            assert response.content == b"done"
        (wire,) = recorder.wait(server, 1)
    # the b"" in place of a bad item sends nothing; the tail follows
    assert body_of(wire) == GOOD_WIRE + b"4\r\ntail\r\n0\r\n\r\n"


class TextReadingFile:
    """A file object opened in the wrong mode without saying so: ``read`` gives str."""

    def __init__(self) -> None:
        self.reads = 0

    def read(self, size: int = -1) -> str:
        self.reads += 1
        return "abc" if self.reads == 1 else ""


@pytest.mark.parametrize("transport_name", ["SocketTransport", "HttpcoreTransport"])
def test_a_file_that_reads_str_ends_the_call_with_a_typed_error(transport_name: str) -> None:
    transport = SocketTransport() if transport_name == "SocketTransport" else HttpcoreTransport()
    with FaultServer() as server, Client(server.url, transport=transport) as client:
        with pytest.raises(WriteError, match="content yielded str") as caught:
            client.post("/up", content=TextReadingFile())
        assert (caught.value.request_sent, caught.value.retryable) == (True, False)
        assert client.statistics().in_use == 0
