"""A server whose status line says a version other than HTTP/1.x, end to end: the call
raises ``RemoteProtocolError`` naming the version (the server's fault), the connection
is not pooled, and the next call works; HTTP/1.0 and HTTP/1.1 are read. Each network
transport, on threads, asyncio and trio; ours with both codecs (llhttp and h11)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import sdk_core._fastcodec as fastcodec
from sdk_core import RemoteProtocolError
from sdk_transports import (
    AnyioTransport,
    AsyncClient,
    AsyncHttpcoreTransport,
    Client,
    HttpcoreTransport,
    SocketTransport,
)
from sdk_transports.testing import FaultServer, read_request, send

pytestmark = pytest.mark.timeout(30)

REFUSED = ["2.0", "0.9", "9.9"]
ACCEPTED = ["1.0", "1.1"]
#: (transport, codec): ours with each codec; httpcore brings its own h11.
SYNC: dict[str, tuple[Callable[[], Any], bool | None]] = {
    "sockets-llhttp": (SocketTransport, True),
    "sockets-h11": (SocketTransport, False),
    "httpcore": (HttpcoreTransport, None),
}
ASYNC: dict[str, tuple[Callable[[], Any], bool | None]] = {
    "anyio-llhttp": (AnyioTransport, True),
    "anyio-h11": (AnyioTransport, False),
    "httpcore": (AsyncHttpcoreTransport, None),
}


def answer(version: str) -> bytes:
    return b"HTTP/%s 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}" % (
        version.encode()
    )


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def transport_for(
    name: str, table: dict[str, tuple[Callable[[], Any], bool | None]], monkeypatch: Any
) -> Any:
    factory, fast = table[name]
    if fast is not None:  # the codec new_codec() picks for our transports
        monkeypatch.setattr(fastcodec, "HAS_HTTPTOOLS", fast)
    return factory()


def call(client: Client, *, streamed: bool) -> None:
    if streamed:
        with client.stream("GET", "/"):
            pass
    else:
        client.get("/")


async def acall(client: AsyncClient, *, streamed: bool) -> None:
    if streamed:
        async with client.stream("GET", "/"):
            pass
    else:
        await client.get("/")


@pytest.mark.parametrize("streamed", [False, True], ids=["request", "stream"])
@pytest.mark.parametrize("version", REFUSED)
@pytest.mark.parametrize("name", SYNC)
def test_another_version_is_refused(
    name: str,
    version: str,
    streamed: bool,
    server: FaultServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport = transport_for(name, SYNC, monkeypatch)
    server.script(read_request(), send(answer(version)))
    with Client(server.url, transport=transport, max_retries=0) as client:
        with pytest.raises(RemoteProtocolError, match=rf"HTTP/{version}, not HTTP/1\.x") as info:
            call(client, streamed=streamed)
        assert info.value.request_sent is True
        stats = transport.statistics()
        assert (stats.in_use, stats.idle) == (0, 0)  # dropped, never pooled
        assert client.get("/next").json()["target"] == "/next"  # a new connection


@pytest.mark.parametrize("version", ACCEPTED)
@pytest.mark.parametrize("name", SYNC)
def test_http_1_x_is_read(
    name: str, version: str, server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = transport_for(name, SYNC, monkeypatch)
    server.script(read_request(), send(answer(version)))
    with Client(server.url, transport=transport, max_retries=0) as client:
        response = client.get("/")
        assert (response.status_code, response.json()) == (200, {})


@pytest.mark.anyio
@pytest.mark.parametrize("streamed", [False, True], ids=["request", "stream"])
@pytest.mark.parametrize("version", REFUSED)
@pytest.mark.parametrize("name", ASYNC)
async def test_another_version_is_refused_async(
    name: str,
    version: str,
    streamed: bool,
    server: FaultServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport = transport_for(name, ASYNC, monkeypatch)
    server.script(read_request(), send(answer(version)))
    async with AsyncClient(server.url, transport=transport, max_retries=0) as client:
        with pytest.raises(RemoteProtocolError, match=rf"HTTP/{version}, not HTTP/1\.x") as info:
            await acall(client, streamed=streamed)
        assert info.value.request_sent is True
        stats = transport.statistics()
        assert (stats.in_use, stats.idle) == (0, 0)
        assert (await client.get("/next")).json()["target"] == "/next"


@pytest.mark.anyio
@pytest.mark.parametrize("version", ACCEPTED)
@pytest.mark.parametrize("name", ASYNC)
async def test_http_1_x_is_read_async(
    name: str, version: str, server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = transport_for(name, ASYNC, monkeypatch)
    server.script(read_request(), send(answer(version)))
    async with AsyncClient(server.url, transport=transport, max_retries=0) as client:
        response = await client.get("/")
        assert (response.status_code, response.json()) == (200, {})
