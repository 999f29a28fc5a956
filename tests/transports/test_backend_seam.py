"""The HTTP/1.1 connection logic of ``SocketTransport`` and ``AsyncSocketTransport``
(``AnyioTransport``) over the in-memory backends of ``sdk_transports._backends._mock``:
no sockets, so what goes out, what comes back, how it is split and how a connection
fails are all chosen by the test. The async cases run on asyncio and trio."""

from __future__ import annotations

import socket
from typing import Any

import anyio
import pytest

from sdk_core import (
    Limits,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    Timeout,
    WriteError,
)
from sdk_transports import AnyioTransport, AsyncSocketTransport, SocketTransport
from sdk_transports._backends._mock import (
    HANG,
    AsyncMockBackend,
    AsyncMockStream,
    MockBackend,
    MockStream,
)

URL = "http://api.test:8080/items"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
TIMEOUT = Timeout(connect=1.0, read=2.0, write=3.0, pool=4.0)


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_the_async_transport_keeps_its_documented_name() -> None:
    assert AnyioTransport is AsyncSocketTransport


# -- blocking -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [len(OK), 7, 1])
def test_a_response_fed_whole_or_in_pieces_reads_the_same(size: int) -> None:
    stream = MockStream(split(OK, size))
    backend = MockBackend([stream])
    transport = SocketTransport(network_backend=backend)
    response = transport.handle_request(Request("GET", URL), TIMEOUT)
    assert (response.status_code, response.content) == (200, b"hello")
    assert bytes(stream.sent).startswith(b"GET /items HTTP/1.1\r\n")
    assert backend.connects == [("api.test", 8080, 1.0)]
    assert stream.timeouts[0] == ("send", 3.0)
    assert {t for what, t in stream.timeouts if what == "receive"} == {2.0}
    assert transport.statistics().idle == 1


def test_a_pooled_connection_carries_the_next_request_and_a_stale_one_does_not() -> None:
    first, second = MockStream([OK, OK]), MockStream([OK])
    backend = MockBackend([first, second])
    transport = SocketTransport(network_backend=backend)
    for _ in range(2):
        assert transport.handle_request(Request("GET", URL), TIMEOUT).content == b"hello"
    assert len(backend.connects) == 1
    first.stale = True  # the server closed it while idle
    assert transport.handle_request(Request("GET", URL), TIMEOUT).content == b"hello"
    assert len(backend.connects) == 2
    assert first.closed
    assert not second.closed


def test_eof_inside_the_body_is_the_peers_fault_and_frees_the_slot() -> None:
    stream = MockStream([OK[:-2]])
    transport = SocketTransport(network_backend=MockBackend([stream]))
    with pytest.raises(RemoteProtocolError):
        transport.handle_request(Request("GET", URL), TIMEOUT)
    assert stream.closed
    assert transport.statistics().in_use == transport.statistics().idle == 0


def test_a_read_timeout_and_a_broken_read_are_typed() -> None:
    streams = [MockStream([TimeoutError()]), MockStream([ConnectionResetError(104, "reset")])]
    transport = SocketTransport(network_backend=MockBackend(streams))
    with pytest.raises(ReadTimeout, match=r"no data for 2\.0 s"):
        transport.handle_request(Request("GET", URL), TIMEOUT)
    with pytest.raises(ReadError, match="reset"):
        transport.handle_request(Request("GET", URL), TIMEOUT)
    assert all(stream.closed for stream in streams)


def test_an_answer_that_came_before_a_failed_write_is_returned() -> None:
    early = b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    answered, silent = MockStream([early]), MockStream([])
    for stream in (answered, silent):
        stream.send_error = BrokenPipeError(32, "broken pipe")
    transport = SocketTransport(network_backend=MockBackend([answered, silent]))
    response = transport.handle_request(Request("POST", URL, content=b"x" * 10), TIMEOUT)
    assert response.status_code == 413
    with pytest.raises(WriteError, match="broken pipe"):
        transport.handle_request(Request("POST", URL, content=b"x"), TIMEOUT)
    assert answered.closed
    assert silent.closed


def test_https_starts_tls_for_the_host_within_the_connect_timeout() -> None:
    stream = MockStream([OK])
    transport = SocketTransport(verify=False, network_backend=MockBackend([stream]))
    response = transport.handle_request(Request("GET", "https://api.test/x"), TIMEOUT)
    assert response.status_code == 200
    assert stream.tls == "api.test"
    assert ("tls", 1.0) in stream.timeouts


def test_a_streamed_body_is_read_piece_by_piece_and_gives_the_connection_back() -> None:
    body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    stream = MockStream(split(body, 4))
    transport = SocketTransport(network_backend=MockBackend([stream]))
    head, chunks = transport.open_stream(Request("GET", URL), TIMEOUT)
    assert head.status_code == 200
    pieces = []
    for _ in range(100):
        piece = chunks.read_chunk(5.0)
        if not piece:
            break
        pieces.append(piece)
    assert b"".join(pieces) == b"abcde"
    assert transport.statistics().idle == 1
    assert not stream.closed


def test_connections_are_closed_after_the_pool_lock_is_released() -> None:
    transport: SocketTransport

    class Checked(MockStream):
        def close(self) -> None:
            assert not transport._lock.locked(), "closed under the pool's lock"
            super().close()

    streams = [Checked([OK]), Checked([OK])]
    transport = SocketTransport(
        limits=Limits(max_keepalive_connections=0), network_backend=MockBackend(streams)
    )
    for _ in range(2):
        transport.handle_request(Request("GET", URL), TIMEOUT)
    transport.close()
    assert all(stream.closed for stream in streams)


# -- async ----------------------------------------------------------------------------


@pytest.fixture
def make() -> Any:
    def build(*streams: AsyncMockStream | BaseException, **options: Any) -> Any:
        backend = AsyncMockBackend(streams)
        return backend, AsyncSocketTransport(network_backend=backend, **options)

    return build


@pytest.mark.anyio
@pytest.mark.parametrize("size", [len(OK), 7, 1])
async def test_async_a_response_fed_whole_or_in_pieces_reads_the_same(make: Any, size: int) -> None:
    stream = AsyncMockStream(split(OK, size))
    backend, transport = make(stream)
    response = await transport.handle_async_request(Request("GET", URL), TIMEOUT)
    assert (response.status_code, response.content) == (200, b"hello")
    assert bytes(stream.sent).startswith(b"GET /items HTTP/1.1\r\n")
    assert backend.connects == [("api.test", 8080, 1.0)]
    assert stream.timeouts[0] == ("send", 3.0)
    assert {t for what, t in stream.timeouts if what == "receive"} == {2.0}
    assert transport.statistics().idle == 1
    await transport.aclose()
    assert stream.closed


@pytest.mark.anyio
async def test_async_cancelled_while_reading_closes_the_connection_and_frees_the_slot(
    make: Any,
) -> None:
    stream = AsyncMockStream([HANG])
    _, transport = make(stream)
    with anyio.move_on_after(0.01) as scope:
        await transport.handle_async_request(Request("GET", URL), TIMEOUT)
    assert scope.cancelled_caught
    assert stream.closed
    stats = transport.statistics()
    assert (stats.in_use, stats.idle, stats.waiting) == (0, 0, 0)


@pytest.mark.anyio
async def test_async_errors_are_typed_and_close_the_connection(make: Any) -> None:
    streams = [
        AsyncMockStream([TimeoutError()]),
        AsyncMockStream([ConnectionResetError(104, "reset")]),
        AsyncMockStream([OK[:-2]]),
    ]
    _, transport = make(*streams)
    with pytest.raises(ReadTimeout, match=r"no data for 2\.0 s"):
        await transport.handle_async_request(Request("GET", URL), TIMEOUT)
    with pytest.raises(ReadError, match="reset"):
        await transport.handle_async_request(Request("GET", URL), TIMEOUT)
    with pytest.raises(RemoteProtocolError):
        await transport.handle_async_request(Request("GET", URL), TIMEOUT)
    assert all(stream.closed for stream in streams)
    assert transport.statistics().in_use == 0


@pytest.mark.anyio
async def test_async_an_early_answer_during_a_streamed_upload_is_returned(make: Any) -> None:
    early = b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    stream = AsyncMockStream([early])
    _, transport = make(stream)

    async def body() -> Any:
        yield b"part"
        stream.send_error = BrokenPipeError(32, "broken pipe")
        yield b"more"

    request = Request("POST", URL, content=body())
    response = await transport.handle_async_request(request, TIMEOUT)
    assert response.status_code == 413
    assert stream.closed


@pytest.mark.anyio
async def test_async_https_and_a_streamed_response(make: Any) -> None:
    body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    stream = AsyncMockStream(split(body, 4))
    _, transport = make(stream, verify=False)
    head, chunks = await transport.open_async_stream(Request("GET", "https://api.test/"), TIMEOUT)
    assert head.status_code == 200
    assert stream.tls == "api.test"
    pieces = []
    for _ in range(100):
        piece = await chunks.read_chunk(5.0)
        if not piece:
            break
        pieces.append(piece)
    assert b"".join(pieces) == b"abcde"
    assert transport.statistics().idle == 1
    assert not stream.closed
    await transport.aclose()


# -- the real backends' dial options (issue 14 puts them on the transports) -----------


@pytest.fixture
def listener() -> Any:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


KEEPALIVE = (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


def _check_dialled(sock: Any) -> None:
    assert sock.getsockname()[0] == "127.0.0.1"
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_the_socket_backend_binds_and_sets_options(listener: Any) -> None:
    from sdk_transports._backends._sync import SyncBackend

    port = listener.getsockname()[1]
    stream = SyncBackend().connect_tcp(
        "127.0.0.1", port, 5.0, local_address="127.0.0.1", socket_options=(KEEPALIVE,)
    )
    try:
        _check_dialled(stream.get_extra_info("socket"))
        assert stream.get_extra_info("ssl_object") is None
        assert not stream.is_stale()
    finally:
        stream.close()
    assert stream.is_stale()  # closed: never reused


@pytest.mark.anyio
async def test_the_async_backends_bind_and_set_options(listener: Any) -> None:
    from sdk_transports._backends import backend_for
    from sdk_transports._lifecycle import current_loop

    port = listener.getsockname()[1]
    backend = backend_for(current_loop())
    stream = await backend.connect_tcp(
        "127.0.0.1", port, 5.0, local_address="127.0.0.1", socket_options=(KEEPALIVE,)
    )
    try:
        _check_dialled(stream.get_extra_info("socket"))
        assert stream.get_extra_info("ssl_object") is None
        assert not stream.is_stale()
        peer, _ = listener.accept()
        with peer:
            peer.sendall(b"hi")
            assert await stream.receive(10, 5.0) == b"hi"
            peer.shutdown(socket.SHUT_WR)
            assert await stream.receive(10, 5.0) == b""  # EOF reads as b""
    finally:
        await stream.aclose()
    with pytest.raises(anyio.ClosedResourceError):
        await stream.receive(10, 1.0)
