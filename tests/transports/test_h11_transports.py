"""SocketTransport and AnyioTransport (the core's h11 codec and pool) on real sockets.

Every behaviour runs on the blocking transport and on the anyio one under asyncio and
trio, each used directly and through ``Client``/``AsyncClient`` (``via``). Servers are
the hypercorn-served ``ScenarioApp`` and ``_support.raw_server`` where a test needs the
exact bytes; all traffic stays on 127.0.0.1. Here: plain requests, keep-alive,
connecting, TLS, the idle check and the socket's timeout cache. Timeouts and
concurrency, responses without a body, and the fault table have their own
test_h11_*.py files.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator

import anyio
import pytest
from _socket_users import (
    EMPTY,
    TIMEOUT,
    VIA,
    TLSMaterial,
    async_user,
    check_error,
    sync_user,
    tls_server,
)
from _support.raw_server import RawServer, keep_alive, ok_response, once_then_close

from sdk_core import ClientClosedError, ConnectError, PoolStatistics, Request
from sdk_transports import AnyioTransport, SocketTransport
from sdk_transports.testing import ScenarioApp, ServerHandle, refused_url

pytestmark = pytest.mark.timeout(30)

# -- plain requests ---------------------------------------------------------------------


@pytest.mark.parametrize("via", VIA)
def test_sync_get_and_post(scenario: ServerHandle[ScenarioApp], via: str) -> None:
    with sync_user(scenario.url, via) as user:
        got = user.request("GET", "/echo?x=1")
        assert got.status_code == 200
        assert got.json()["method"] == "GET"
        assert got.json()["query"] == "x=1"
        assert got.request_id is not None
        posted = user.request(
            "POST", "/echo", content=b'{"a": 1}', headers={"content-type": "application/json"}
        )
        assert posted.status_code == 200
        assert posted.json()["method"] == "POST"
        assert json.loads(posted.json()["body"]) == {"a": 1}
        assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_get_and_post(scenario: ServerHandle[ScenarioApp], via: str) -> None:
    async with async_user(scenario.url, via) as user:
        got = await user.request("GET", "/echo?x=1")
        assert got.status_code == 200
        assert got.json()["method"] == "GET"
        assert got.json()["query"] == "x=1"
        posted = await user.request(
            "POST", "/echo", content=b'{"a": 1}', headers={"content-type": "application/json"}
        )
        assert posted.json()["method"] == "POST"
        assert json.loads(posted.json()["body"]) == {"a": 1}
        assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)


def test_sync_streamed_body_is_sent_chunked(scenario: ServerHandle[ScenarioApp]) -> None:
    with contextlib.closing(SocketTransport()) as transport:
        request = Request("POST", scenario.url + "/echo", content=iter([b"ab", b"", b"cd"]))
        response = transport.handle_request(request, TIMEOUT)
        assert response.json()["body"] == "abcd"
        assert ["transfer-encoding", "chunked"] in response.json()["headers"]
        assert transport.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)


@pytest.mark.anyio
async def test_async_streamed_body_is_sent_chunked(scenario: ServerHandle[ScenarioApp]) -> None:
    async def body() -> AsyncIterator[bytes]:
        for piece in (b"ab", b"", b"cd"):
            yield piece

    transport = AnyioTransport()
    try:
        request = Request("POST", scenario.url + "/echo", content=body())
        response = await transport.handle_async_request(request, TIMEOUT)
        assert response.json()["body"] == "abcd"
        assert ["transfer-encoding", "chunked"] in response.json()["headers"]
        assert transport.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
    finally:
        await transport.aclose()


# -- keep-alive -------------------------------------------------------------------------


@pytest.mark.parametrize("via", VIA)
def test_sync_keep_alive_reuses_the_connection(via: str) -> None:
    with RawServer(keep_alive(ok_response())) as raw, sync_user(raw.url, via) as user:
        assert user.request("GET", "/one").content == b"ok"
        assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
        assert user.request("GET", "/two").content == b"ok"
        assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
        assert raw.connections == 1  # one peer port: the second request reused it
        assert len(raw.requests) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_keep_alive_reuses_the_connection(via: str) -> None:
    with RawServer(keep_alive(ok_response())) as raw:
        async with async_user(raw.url, via) as user:
            assert (await user.request("GET", "/one")).content == b"ok"
            assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
            assert (await user.request("GET", "/two")).content == b"ok"
            assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
            assert raw.connections == 1
            assert len(raw.requests) == 2


@pytest.mark.parametrize("via", VIA)
def test_sync_stale_keep_alive_connection_is_replaced(via: str) -> None:
    # Keep-alive is advertised (HTTP/1.1, no "Connection: close"), then the server hangs up.
    with RawServer(once_then_close(ok_response(b"fresh"))) as raw, sync_user(raw.url, via) as user:
        assert user.request("GET", "/").content == b"fresh"
        assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
        assert raw.closed.wait(5)  # the server closed the idle connection
        assert user.request("GET", "/").content == b"fresh"
        assert raw.connections == 2
        assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_stale_keep_alive_connection_is_replaced(via: str) -> None:
    with RawServer(once_then_close(ok_response(b"fresh"))) as raw:
        async with async_user(raw.url, via) as user:
            assert (await user.request("GET", "/")).content == b"fresh"
            assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
            assert await anyio.to_thread.run_sync(raw.closed.wait, 5)
            assert (await user.request("GET", "/")).content == b"fresh"
            assert raw.connections == 2
            assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)


@pytest.mark.parametrize("via", VIA)
def test_sync_connection_close_response_is_not_pooled(via: str) -> None:
    with (
        RawServer(once_then_close(ok_response(b"bye", close=True))) as raw,
        sync_user(raw.url, via) as user,
    ):
        assert user.request("GET", "/").content == b"bye"
        assert user.statistics() == EMPTY


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_connection_close_response_is_not_pooled(via: str) -> None:
    with RawServer(once_then_close(ok_response(b"bye", close=True))) as raw:
        async with async_user(raw.url, via) as user:
            assert (await user.request("GET", "/")).content == b"bye"
            assert user.statistics() == EMPTY


# -- connecting -------------------------------------------------------------------------


@pytest.mark.parametrize("via", VIA)
def test_sync_connection_refused(via: str) -> None:
    with sync_user(refused_url(), via) as user:
        with pytest.raises(ConnectError) as info:
            user.request("GET", "/")
        assert info.value.request_sent is False
        check_error(info.value, via)
        assert user.statistics() == EMPTY


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_connection_refused(via: str) -> None:
    async with async_user(refused_url(), via) as user:
        with pytest.raises(ConnectError) as info:
            await user.request("GET", "/")
        assert info.value.request_sent is False
        check_error(info.value, via)
        assert user.statistics() == EMPTY


def test_sync_closed_transport_refuses_requests(routes: RawServer) -> None:
    transport = SocketTransport()
    assert transport.handle_request(Request("GET", routes.url), TIMEOUT).content == b"after"
    transport.close()
    assert transport.statistics() == EMPTY
    with pytest.raises(ClientClosedError):
        transport.handle_request(Request("GET", routes.url), TIMEOUT)
    assert routes.connections == 1


@pytest.mark.anyio
async def test_async_closed_transport_refuses_requests(routes: RawServer) -> None:
    transport = AnyioTransport()
    request = Request("GET", routes.url)
    assert (await transport.handle_async_request(request, TIMEOUT)).content == b"after"
    await transport.aclose()
    assert transport.statistics() == EMPTY
    with pytest.raises(ClientClosedError):
        await transport.handle_async_request(request, TIMEOUT)
    assert routes.connections == 1


@pytest.mark.parametrize("via", VIA)
def test_sync_tls(tls: TLSMaterial, via: str) -> None:
    with tls_server(tls.good) as server:
        for verify in (tls.ca_file, False):
            with sync_user(server.url, via, verify=verify) as user:
                assert user.request("GET", "/").content == b"secure"
                assert user.request("GET", "/").content == b"secure"
                assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
        with sync_user(server.url, via) as user, pytest.raises(ConnectError) as info:
            user.request("GET", "/")  # certifi's bundle does not know trustme's CA
        assert "certificate verify failed" in str(info.value).lower()
        assert info.value.request_sent is False
    with (
        tls_server(tls.wrong_host) as server,
        sync_user(server.url, via, verify=tls.ca_file) as user,
        pytest.raises(ConnectError) as info,
    ):
        user.request("GET", "/")
    assert "mismatch" in str(info.value).lower()


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_tls(tls: TLSMaterial, via: str) -> None:
    with tls_server(tls.good) as server:
        for verify in (tls.ca_file, False):
            async with async_user(server.url, via, verify=verify) as user:
                assert (await user.request("GET", "/")).content == b"secure"
                assert (await user.request("GET", "/")).content == b"secure"
                assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
        async with async_user(server.url, via) as user:
            with pytest.raises(ConnectError) as info:
                await user.request("GET", "/")
        assert "certificate verify failed" in str(info.value).lower()
        assert info.value.request_sent is False
    with tls_server(tls.wrong_host) as server:
        async with async_user(server.url, via, verify=tls.ca_file) as user:
            with pytest.raises(ConnectError) as info:
                await user.request("GET", "/")
    assert "mismatch" in str(info.value).lower()


# -- the idle check and the timeout cache of SocketTransport -----------------------------


def test_readable_probe_sees_data_eof_and_a_closed_socket() -> None:
    from sdk_transports._sockcheck import readable_probe

    left, right = socket.socketpair()
    with left, right:
        probe = readable_probe(left)
        assert probe() is False  # idle: nothing to read
        right.sendall(b"x")
        assert probe() is True  # junk waiting
        left.recv(1)
        assert probe() is False
        right.close()
        assert probe() is True  # EOF
        left.close()
        assert probe() is True  # the descriptor is gone: never reused
        assert readable_probe(left)() is True  # cannot even be registered


def test_socket_stream_sets_a_timeout_only_when_it_changes() -> None:
    from sdk_transports._backends._sync import SyncSocketStream

    calls: list[float | None] = []

    class Recording(socket.socket):
        def settimeout(self, value: float | None) -> None:
            calls.append(value)
            super().settimeout(value)

    left, right = socket.socketpair()
    with left, right:
        recording = Recording(fileno=left.detach())
        with recording:
            stream = SyncSocketStream(recording)
            right.sendall(b"abc")
            assert stream.receive(1, 5.0) == b"a"
            assert stream.receive(1, 5.0) == b"b"
            stream.send(b"x", None)
            stream.send(b"y", None)
            assert stream.receive(1, 0.5) == b"c"
            assert calls == [5.0, None, 0.5]
            assert recording.gettimeout() == 0.5
            with pytest.raises(TimeoutError):
                stream.receive(1, 0)  # a timeout of 0 is a timeout, not BlockingIOError
            assert right.recv(2) == b"xy"
