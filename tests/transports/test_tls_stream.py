"""``_backends._tls``: TLS over any async stream (``SSLObject`` + ``MemoryBIO``).

Over each async backend's plain stream (asyncio's protocol stream, trio's raw socket)
against real TLS servers on 127.0.0.1 (``RawServer``, trustme certificates): a good
certificate works and a bad one or another host's fails before anything is sent; the
server's close with and without close_notify reads as EOF; megabytes go both ways; TLS
runs inside TLS (an HTTPS proxy's tunnel). On trio, with ``MockClock(autojump_threshold=0)``:
a server that never answers the handshake times out, and cancellation mid-handshake
closes the socket while cancellation mid-read loses nothing.
"""

from __future__ import annotations

import contextlib
import random
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
import trustme
from _support.raw_server import RawConnection, RawServer, keep_alive, ok_response

from sdk_core import ConnectTimeout, Limits, Request, Timeout
from sdk_transports import AnyioTransport
from sdk_transports._backends import AsyncNetworkStream, NetworkStream, backend_for
from sdk_transports._backends._sync import SyncBackend
from sdk_transports._backends._sync_tls import start_tls as sync_start_tls
from sdk_transports._backends._tls import WRITE_SIZE, AsyncTLSStream, start_tls
from sdk_transports._lifecycle import current_loop

GET = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
BIG = 3 * WRITE_SIZE + 12345  # several pieces, the last one short


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("127.0.0.1",))).configure_cert(context)
    return context


Serve = Callable[..., RawServer]


@pytest.fixture
def serve(ca: trustme.CA) -> Iterator[Serve]:
    servers: list[RawServer] = []

    def start(handler: Any, *names: str) -> RawServer:
        server = RawServer(handler, ssl_context=server_context(ca, *names))
        servers.append(server.__enter__())
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def address(url: str) -> tuple[str, int]:
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    return host, int(port)


async def plain(url: str) -> AsyncNetworkStream:
    host, port = address(url)
    return await backend_for(current_loop()).connect_tcp(host, port, 5.0)


async def read_until(stream: AsyncNetworkStream, end: bytes, limit: int = 10_000) -> bytes:
    data = b""
    for _ in range(limit):
        chunk = await stream.receive(65536, 5.0)
        data += chunk
        if not chunk or data.endswith(end):
            return data
    raise AssertionError(f"no {end!r} after {limit} reads")


async def read_exactly(stream: AsyncNetworkStream, size: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    for _ in range(size):  # each read brings at least a byte, or EOF ends the loop
        if got >= size:
            break
        chunk = await stream.receive(65536, 5.0)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


async def socket_closed(stream: AsyncNetworkStream) -> bool:
    await anyio.lowlevel.checkpoint()  # asyncio closes an aborted socket on its next turn
    sock = stream.get_extra_info("socket")
    return sock is None or sock.fileno() == -1


# handshake and verification -----------------------------------------------------------------


@pytest.mark.anyio
async def test_a_trusted_certificate_works_and_the_connection_carries_requests(
    serve: Serve, client_context: ssl.SSLContext
) -> None:
    server = serve(keep_alive(ok_response(b"hello")))
    inner = await plain(server.url)
    stream = await start_tls(inner, client_context, "127.0.0.1", 5.0)
    ssl_object = stream.get_extra_info("ssl_object")
    assert isinstance(ssl_object, ssl.SSLObject)
    assert ssl_object.getpeercert() is not None
    assert stream.get_extra_info("socket") is inner.get_extra_info("socket")
    assert stream.get_extra_info("nothing") is None
    for _ in range(3):
        await stream.send(GET, 5.0)
        assert (await read_until(stream, b"hello")).startswith(b"HTTP/1.1 200")
        assert not stream.is_stale()
    await stream.aclose()
    assert stream.is_stale()
    with pytest.raises(anyio.ClosedResourceError):
        await stream.send(GET, 1.0)
    with pytest.raises(anyio.ClosedResourceError):
        await stream.receive(10, 1.0)
    assert server.connections == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("names", "hostname", "reason"),
    [
        (("127.0.0.1",), "127.0.0.1", "unable to get local issuer"),  # a stranger's CA
        (("api.example.test",), "127.0.0.1", "mismatch"),
        (("127.0.0.1",), "localhost", "Hostname mismatch"),
    ],
)
async def test_a_certificate_that_does_not_verify_raises_and_closes_the_stream(
    serve: Serve, client_context: ssl.SSLContext, names: tuple[str, ...], hostname: str, reason: str
) -> None:
    server = serve(keep_alive(ok_response()), *names)
    context = client_context
    if reason.startswith("unable"):
        context = ssl.create_default_context()
        trustme.CA().configure_trust(context)
    inner = await plain(server.url)
    with pytest.raises(ssl.SSLCertVerificationError, match=reason):
        await start_tls(inner, context, hostname, 5.0)
    assert await socket_closed(inner)
    with pytest.raises(anyio.ClosedResourceError):
        await inner.send(b"x", 1.0)
    assert server.requests == []  # nothing was sent


@pytest.mark.anyio
async def test_a_server_that_closes_during_the_handshake_is_an_ssl_error(
    client_context: ssl.SSLContext,
) -> None:
    def close_at_once(conn: RawConnection) -> None:
        pass  # the plain server closes the connection as the ClientHello arrives

    with RawServer(close_at_once) as server:
        inner = await plain(server.url)
        with pytest.raises((ssl.SSLError, anyio.BrokenResourceError)):  # EOF, or a reset
            await start_tls(inner, client_context, "127.0.0.1", 5.0)
    assert await socket_closed(inner)


# EOF -----------------------------------------------------------------------------------------


def answer_then(close_notify: bool) -> Callable[[RawConnection], None]:
    def handler(conn: RawConnection) -> None:
        if conn.read_request() is None:
            return
        conn.send(ok_response(b"bye", close=True))
        if close_notify:
            sock: Any = conn.sock
            with contextlib.suppress(OSError, ValueError):
                sock.settimeout(0)  # send the close_notify; do not wait for the client's
                sock.unwrap()

    return handler


@pytest.mark.anyio
@pytest.mark.parametrize("close_notify", [True, False], ids=["close_notify", "bare_close"])
async def test_the_servers_close_reads_as_eof_with_or_without_close_notify(
    serve: Serve, client_context: ssl.SSLContext, close_notify: bool
) -> None:
    server = serve(answer_then(close_notify))
    stream = await start_tls(await plain(server.url), client_context, "127.0.0.1", 5.0)
    await stream.send(GET, 5.0)
    data = await read_until(stream, b"bye")
    assert data.startswith(b"HTTP/1.1 200")
    assert data.endswith(b"bye")
    assert await stream.receive(65536, 5.0) == b""
    assert await stream.receive(65536, 5.0) == b""  # and stays at EOF
    assert stream.is_stale()
    await stream.aclose()


@pytest.mark.anyio
async def test_a_connection_reset_is_a_stream_error(
    serve: Serve, client_context: ssl.SSLContext
) -> None:
    def reset(conn: RawConnection) -> None:
        if conn.read_request() is not None:
            linger = struct.pack("ii", 1, 0)
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)

    server = serve(reset)
    stream = await start_tls(await plain(server.url), client_context, "127.0.0.1", 5.0)
    await stream.send(GET, 5.0)
    with pytest.raises((OSError, anyio.BrokenResourceError)):
        await read_until(stream, b"never")
    await stream.aclose()


def test_corrupt_ciphertext_is_an_ssl_error_and_breaks_the_stream(ca: trustme.CA) -> None:
    """A record that fails to decrypt raises ``ssl.SSLError``; the stream is broken."""
    import trio

    async def main() -> None:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        server = RawServer(keep_alive(ok_response()), ssl_context=server_context(ca))
        with server:
            stream = await start_tls(await plain(server.url), context, "127.0.0.1", 5.0)
            # 23 = application data, TLS 1.2 framing, garbage payload
            stream._in.write(b"\x17\x03\x03\x00\x20" + bytes(32))
            with pytest.raises(ssl.SSLError):
                await stream.receive(100, 5.0)
            assert stream.is_stale()
            with pytest.raises(anyio.BrokenResourceError):
                await stream.send(GET, 5.0)
            stream._in.read()
            with pytest.raises(anyio.BrokenResourceError):
                await stream.receive(100, 5.0)
            await stream.aclose()

    trio.run(main)


# a large body both ways ----------------------------------------------------------------------


def echo(size: int) -> Callable[[RawConnection], None]:
    """Read ``size`` bytes, then send them back."""

    def handler(conn: RawConnection) -> None:
        got = bytearray()
        for _ in range(size):
            if len(got) >= size:
                break
            data = conn.sock.recv(65536)
            if not data:
                return
            got += data
        conn.send(bytes(got))

    return handler


@pytest.mark.anyio
async def test_a_large_body_goes_both_ways(serve: Serve, client_context: ssl.SSLContext) -> None:
    body = random.Random(7).randbytes(BIG)
    server = serve(echo(BIG))
    stream = await start_tls(await plain(server.url), client_context, "127.0.0.1", 5.0)
    await stream.send(body, 5.0)
    back = await read_exactly(stream, BIG)
    assert len(back) == BIG
    assert back == body
    await stream.aclose()


# TLS inside TLS ------------------------------------------------------------------------------


def tunnel_to(inner_context: ssl.SSLContext, answer: bytes) -> Callable[[RawConnection], None]:
    """Behind the outer TLS, terminate a second TLS (a proxy and its origin in one) and
    answer one request on it."""

    def handler(conn: RawConnection) -> None:
        sock = conn.sock
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = inner_context.wrap_bio(incoming, outgoing, server_side=True)

        def drive(call: Callable[[], Any]) -> Any:
            for _ in range(1000):
                try:
                    result = call()
                except ssl.SSLWantReadError:
                    if outgoing.pending:
                        sock.sendall(outgoing.read())
                    data = sock.recv(65536)
                    if not data:
                        raise EOFError from None
                    incoming.write(data)
                    continue
                if outgoing.pending:
                    sock.sendall(outgoing.read())
                return result
            raise AssertionError("the inner TLS never finished")

        with contextlib.suppress(OSError, EOFError):
            drive(tls.do_handshake)
            request = b""
            for _ in range(100):
                request += drive(lambda: tls.read(65536))
                if b"\r\n\r\n" in request:
                    break
            drive(lambda: tls.write(answer))
            conn.server.stopping.wait(5.0)  # keep the tunnel up until the test is done

    return handler


@pytest.mark.anyio
async def test_tls_runs_inside_tls(
    serve: Serve, ca: trustme.CA, client_context: ssl.SSLContext
) -> None:
    origin = server_context(ca, "origin.example.test")
    server = serve(tunnel_to(origin, ok_response(b"through the tunnel")), "127.0.0.1")
    outer = await (await plain(server.url)).start_tls(client_context, "127.0.0.1", 5.0)
    inner = await start_tls(outer, client_context, "origin.example.test", 5.0)
    tunnelled = inner
    assert tunnelled.get_extra_info("ssl_object") is not outer.get_extra_info("ssl_object")
    assert tunnelled.get_extra_info("ssl_object").getpeercert()["subjectAltName"] == (
        ("DNS", "origin.example.test"),
    )
    await tunnelled.send(GET, 5.0)
    assert (await read_until(tunnelled, b"tunnel")).endswith(b"through the tunnel")
    await tunnelled.aclose()
    assert await socket_closed(outer)


# trio: timeouts and cancellation on a mock clock ---------------------------------------------


def silent_listener() -> socket.socket:
    """A listener that never accepts: the kernel completes the TCP handshake and the
    ClientHello waits unread."""
    return socket.create_server(("127.0.0.1", 0))


def run_trio(main: Callable[[], Any]) -> None:
    import trio
    import trio.testing

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_trio_a_handshake_with_a_silent_server_times_out(client_context: ssl.SSLContext) -> None:
    """Each wait of the handshake is bounded (``TrioTimeouts``), and the backend's
    ``connect_tls`` bounds dial and handshake together; both close the socket."""

    async def main() -> None:
        with silent_listener() as listener:
            port = listener.getsockname()[1]
            backend = backend_for(current_loop())
            inner = await backend.connect_tcp("127.0.0.1", port, 5.0)
            with pytest.raises(TimeoutError):
                await start_tls(inner, client_context, "127.0.0.1", 3.0)
            assert await socket_closed(inner)
            inner = await backend.connect_tcp("127.0.0.1", port, 5.0)
            with pytest.raises(TimeoutError):
                await inner.start_tls(client_context, "127.0.0.1", 3.0)
            assert await socket_closed(inner)
            with pytest.raises(TimeoutError):
                await backend.connect_tls("127.0.0.1", port, 3.0, client_context, "127.0.0.1")

    run_trio(main)


def test_trio_the_transport_reports_a_handshake_timeout_as_connect_timeout(
    client_context: ssl.SSLContext,
) -> None:
    async def main() -> None:
        with silent_listener() as listener:
            url = f"https://127.0.0.1:{listener.getsockname()[1]}/"
            transport = AnyioTransport(verify=client_context, limits=Limits())
            with pytest.raises(ConnectTimeout):
                await transport.handle_async_request(Request("GET", url), Timeout(2.0))
            stats = transport.statistics()
            assert (stats.in_use, stats.idle, stats.waiting) == (0, 0, 0)
            await transport.aclose()
            # The client closed its end: the connection waiting in the backlog sees EOF.
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5.0)
                assert conn.recv(65536).startswith(b"\x16\x03")  # the ClientHello
                assert conn.recv(65536) == b""

    run_trio(main)


def test_trio_cancellation_mid_handshake_closes_the_socket(
    client_context: ssl.SSLContext,
) -> None:
    import trio

    async def main() -> None:
        with silent_listener() as listener:
            inner = await backend_for(current_loop()).connect_tcp(
                "127.0.0.1", listener.getsockname()[1], 5.0
            )
            with trio.move_on_after(1.0) as scope:
                await start_tls(inner, client_context, "127.0.0.1", None)
            assert scope.cancelled_caught
            assert await socket_closed(inner)

    run_trio(main)


def test_trio_cancellation_mid_read_loses_nothing(ca: trustme.CA) -> None:
    """A receive cancelled while waiting leaves the stream as it was: the answer that
    comes later is read whole."""
    import trio

    go = threading.Event()

    def answer_when_told(conn: RawConnection) -> None:
        if conn.read_request() is not None and go.wait(5.0):
            conn.send(ok_response(b"later"))
            conn.server.stopping.wait(5.0)

    async def main() -> None:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        with RawServer(answer_when_told, ssl_context=server_context(ca)) as server:
            stream = await start_tls(await plain(server.url), context, "127.0.0.1", None)
            await stream.send(GET, None)
            with trio.move_on_after(1.0) as scope:
                await stream.receive(65536, None)
            assert scope.cancelled_caught
            with pytest.raises(TimeoutError):  # a per-wait timeout, on the mock clock
                await stream.receive(65536, 2.0)
            assert not await socket_closed(stream)
            go.set()
            data = b""
            for _ in range(100):
                data += await stream.receive(65536, None)
                if data.endswith(b"later"):
                    break
            assert data.startswith(b"HTTP/1.1 200")
            assert data.endswith(b"later")
            await stream.aclose()
            assert await socket_closed(stream)

    run_trio(main)


def test_the_stream_is_what_the_trio_backend_opens(
    serve: Serve, client_context: ssl.SSLContext
) -> None:
    import trio

    server = serve(keep_alive(ok_response(b"hello")))
    host, port = address(server.url)

    async def main() -> None:
        backend = backend_for(current_loop())
        stream = await backend.connect_tls(host, port, 5.0, client_context, host)
        assert isinstance(stream, AsyncTLSStream)
        await stream.send(GET, 5.0)
        assert (await read_until(stream, b"hello")).startswith(b"HTTP/1.1 200")
        await stream.aclose()

    trio.run(main)


# the blocking twin (_sync_tls.py, generated) -------------------------------------------------


def sync_plain(url: str) -> NetworkStream:
    host, port = address(url)
    return SyncBackend().connect_tcp(host, port, 5.0)


def sync_read_until(stream: NetworkStream, end: bytes) -> bytes:
    data = b""
    for _ in range(10_000):
        chunk = stream.receive(65536, 5.0)
        data += chunk
        if not chunk or data.endswith(end):
            return data
    raise AssertionError(f"no {end!r}")


def test_sync_a_trusted_certificate_works(serve: Serve, client_context: ssl.SSLContext) -> None:
    server = serve(keep_alive(ok_response(b"hello")))
    inner = sync_plain(server.url)
    stream = sync_start_tls(inner, client_context, "127.0.0.1", 5.0)
    assert isinstance(stream.get_extra_info("ssl_object"), ssl.SSLObject)
    assert stream.get_extra_info("socket") is inner.get_extra_info("socket")
    for _ in range(2):
        stream.send(GET, 5.0)
        assert sync_read_until(stream, b"hello").startswith(b"HTTP/1.1 200")
        assert not stream.is_stale()
    stream.close()
    assert stream.is_stale()
    with pytest.raises(OSError, match="closed"):
        stream.send(GET, 1.0)
    with pytest.raises(OSError, match="closed"):
        stream.receive(10, 1.0)
    assert server.connections == 1


def test_sync_another_hosts_certificate_raises_and_closes(
    serve: Serve, client_context: ssl.SSLContext
) -> None:
    server = serve(keep_alive(ok_response()), "api.example.test")
    inner = sync_plain(server.url)
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        sync_start_tls(inner, client_context, "127.0.0.1", 5.0)
    assert inner.get_extra_info("socket").fileno() == -1


@pytest.mark.parametrize("close_notify", [True, False], ids=["close_notify", "bare_close"])
def test_sync_the_servers_close_reads_as_eof(
    serve: Serve, client_context: ssl.SSLContext, close_notify: bool
) -> None:
    server = serve(answer_then(close_notify))
    stream = sync_start_tls(sync_plain(server.url), client_context, "127.0.0.1", 5.0)
    stream.send(GET, 5.0)
    assert sync_read_until(stream, b"bye").endswith(b"bye")
    assert stream.receive(65536, 5.0) == b""
    assert stream.is_stale()
    stream.close()


def test_sync_a_large_body_goes_both_ways(serve: Serve, client_context: ssl.SSLContext) -> None:
    body = random.Random(8).randbytes(BIG)
    server = serve(echo(BIG))
    stream = sync_start_tls(sync_plain(server.url), client_context, "127.0.0.1", 5.0)
    stream.send(body, 5.0)
    parts: list[bytes] = []
    for _ in range(BIG):
        if sum(map(len, parts)) >= BIG:
            break
        chunk = stream.receive(65536, 5.0)
        assert chunk, "EOF before the whole body came back"
        parts.append(chunk)
    assert b"".join(parts) == body
    stream.close()


def test_sync_tls_runs_inside_tls(
    serve: Serve, ca: trustme.CA, client_context: ssl.SSLContext
) -> None:
    origin = server_context(ca, "origin.example.test")
    server = serve(tunnel_to(origin, ok_response(b"through the tunnel")), "127.0.0.1")
    outer = sync_plain(server.url).start_tls(client_context, "127.0.0.1", 5.0)
    tunnelled = sync_start_tls(outer, client_context, "origin.example.test", 5.0)
    assert tunnelled.get_extra_info("ssl_object").getpeercert()["subjectAltName"] == (
        ("DNS", "origin.example.test"),
    )
    tunnelled.send(GET, 5.0)
    assert sync_read_until(tunnelled, b"tunnel").endswith(b"through the tunnel")
    tunnelled.close()
    assert outer.get_extra_info("socket").fileno() == -1


def test_sync_a_handshake_with_a_silent_server_times_out(client_context: ssl.SSLContext) -> None:
    with silent_listener() as listener:
        inner = SyncBackend().connect_tcp("127.0.0.1", listener.getsockname()[1], 5.0)
        with pytest.raises(TimeoutError):
            sync_start_tls(inner, client_context, "127.0.0.1", 0.2)
        assert inner.get_extra_info("socket").fileno() == -1
