"""HttpcoreTransport and AsyncHttpcoreTransport, directly and through the clients, against
real servers on 127.0.0.1: the scenario app and a small encoding app defined here."""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import anyio
import pytest

from sdk_core import (
    ClientClosedError,
    ConnectError,
    Limits,
    NotFoundError,
    PoolStatistics,
    PoolTimeout,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    ResponseTooLargeError,
    Timeout,
)
from sdk_transports import AsyncClient, AsyncHttpcoreTransport, Client, HttpcoreTransport
from sdk_transports.testing import ServerHandle, run_server

pytestmark = pytest.mark.integration

Server = ServerHandle[Any]
TIMEOUT = Timeout(5.0)
PAYLOAD = {"message": "hello, compressed world", "items": list(range(50))}
PAYLOAD_BYTES = json.dumps(PAYLOAD).encode()
BIG = b"0123456789abcdef" * 4096  # 64 KiB
BOMB_SIZE = 8 * 1024 * 1024


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


class EncodingApp:
    """ASGI app: bodies with Content-Encoding; counts the requests it served per path."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        bomb = gzip.compress(b"\0" * BOMB_SIZE)
        self.routes: dict[str, tuple[bytes, str | None]] = {
            "/gzip": (gzip.compress(PAYLOAD_BYTES), "gzip"),
            "/deflate": (zlib.compress(PAYLOAD_BYTES), "deflate"),
            "/raw-deflate": (_raw_deflate(PAYLOAD_BYTES), "deflate"),
            "/chained": (gzip.compress(zlib.compress(PAYLOAD_BYTES)), "deflate, gzip"),
            "/identity": (PAYLOAD_BYTES, None),
            "/big": (BIG, None),
            "/big-gzip": (gzip.compress(BIG), "gzip"),
            "/bomb": (bomb, "gzip"),
            "/corrupt": (b"this is not gzip at all", "gzip"),
        }

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        self.hits[path] = self.hits.get(path, 0) + 1
        if path == "/big-headers":  # about 80 KiB of response headers: past the 64 KiB bound
            headers = [(b"x-pad-%d" % i, b"a" * 1000) for i in range(80)]
            headers.append((b"content-length", b"2"))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"{}"})
            return
        body, encoding = self.routes.get(path, (b"not found", None))
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if encoding:
            headers.append((b"content-encoding", encoding.encode()))
        status = 200 if path in self.routes else 404
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def encoding_server() -> Iterator[ServerHandle[EncodingApp]]:
    with run_server(EncodingApp()) as server:
        yield server


def get(url: str) -> Request:
    return Request("GET", url)


def no_sleep(seconds: float) -> None:
    pass


async def no_asleep(seconds: float) -> None:
    pass


# plain requests and keep-alive ---------------------------------------------------------


def test_sync_transport_plain_200_and_keep_alive(transport_server: Server) -> None:
    transport = HttpcoreTransport()
    try:
        assert transport.statistics() == PoolStatistics(in_use=0, idle=0, waiting=0)
        response = transport.handle_request(get(transport_server.url + "/echo?x=1"), TIMEOUT)
        assert response.status_code == 200
        echoed = response.json()
        assert (echoed["method"], echoed["path"], echoed["query"]) == ("GET", "/echo", "x=1")
        assert ["host", f"127.0.0.1:{transport_server.port}"] in echoed["headers"]
        assert response.headers["x-request-id"].startswith("req_")
        assert transport.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
        # The idle connection is reused: still one connection after more requests.
        for _ in range(3):
            transport.handle_request(get(transport_server.url + "/echo"), TIMEOUT)
        assert transport.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
    finally:
        transport.close()
    assert transport.statistics() == PoolStatistics(in_use=0, idle=0, waiting=0)


@pytest.mark.anyio
async def test_async_transport_plain_200_and_keep_alive(transport_server: Server) -> None:
    transport = AsyncHttpcoreTransport()
    try:
        response = await transport.handle_async_request(
            get(transport_server.url + "/echo"), TIMEOUT
        )
        assert response.status_code == 200
        assert response.json()["path"] == "/echo"
        assert transport.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
        await transport.handle_async_request(get(transport_server.url + "/echo"), TIMEOUT)
        assert transport.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
    finally:
        await transport.aclose()


def test_transport_returns_error_statuses_as_responses(transport_server: Server) -> None:
    transport = HttpcoreTransport()
    with Client(transport_server.url, transport=transport) as client:
        response = transport.handle_request(get(transport_server.url + "/status/404"), TIMEOUT)
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "not_found_error"
        with pytest.raises(NotFoundError):
            client.get("/status/404")
        # The client and the transport share one pool.
        assert client.statistics() == transport.statistics() == PoolStatistics(0, 1, 0)


def test_sync_client_plain_200_and_keep_alive(transport_server: Server) -> None:
    with Client(transport_server.url, api_key="k") as client:
        response = client.post("/echo", json={"a": 1})
        assert response.status_code == 200
        echoed = response.json()
        assert echoed["body"] == '{"a":1}'
        assert ["authorization", "Bearer k"] in echoed["headers"]
        assert ["content-type", "application/json"] in echoed["headers"]
        assert client.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
        client.get("/echo")
        assert client.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
    assert client.statistics() == PoolStatistics(in_use=0, idle=0, waiting=0)


@pytest.mark.anyio
async def test_async_client_plain_200_and_keep_alive(transport_server: Server) -> None:
    async with AsyncClient(transport_server.url) as client:
        response = await client.get("/echo", params={"q": "a b"})
        assert response.json()["query"] == "q=a+b"
        assert client.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
        await client.get("/echo")
        assert client.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
    assert client.statistics() == PoolStatistics(in_use=0, idle=0, waiting=0)


def test_sync_transport_is_safe_to_share_between_threads(transport_server: Server) -> None:
    transport = HttpcoreTransport(limits=Limits(max_connections=2))
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            url = transport_server.url + "/slow-headers?delay=0.1"
            results.append(transport.handle_request(get(url), TIMEOUT).status_code)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert errors == []
        assert results == [200] * 4
        # max_connections=2 bounds the pool (usually both were opened, but a slow start of
        # a thread may let the others share one); nothing is left in use or waiting.
        stats = transport.statistics()
        assert (stats.in_use, stats.waiting) == (0, 0)
        assert 1 <= stats.idle <= 2
    finally:
        transport.close()


# content encodings ---------------------------------------------------------------------

ENCODED_PATHS = ["/gzip", "/deflate", "/raw-deflate", "/chained", "/identity"]


@pytest.mark.parametrize("path", ENCODED_PATHS)
def test_sync_transport_decodes_content_encoding(
    encoding_server: ServerHandle[EncodingApp], path: str
) -> None:
    transport = HttpcoreTransport()
    try:
        response = transport.handle_request(get(encoding_server.url + path), TIMEOUT)
    finally:
        transport.close()
    assert response.content == PAYLOAD_BYTES
    assert response.json() == PAYLOAD


@pytest.mark.anyio
@pytest.mark.parametrize("path", ENCODED_PATHS)
async def test_async_transport_decodes_content_encoding(
    encoding_server: ServerHandle[EncodingApp], path: str
) -> None:
    transport = AsyncHttpcoreTransport()
    try:
        response = await transport.handle_async_request(get(encoding_server.url + path), TIMEOUT)
    finally:
        await transport.aclose()
    assert response.json() == PAYLOAD


def test_clients_decode_gzip(encoding_server: ServerHandle[EncodingApp]) -> None:
    with Client(encoding_server.url) as client:
        assert client.get("/gzip").json() == PAYLOAD
        assert client.get("/deflate").json() == PAYLOAD


@pytest.mark.anyio
async def test_async_client_decodes_gzip(encoding_server: ServerHandle[EncodingApp]) -> None:
    async with AsyncClient(encoding_server.url) as client:
        assert (await client.get("/gzip")).json() == PAYLOAD


def test_corrupt_encoding_raises_remote_protocol_error(
    encoding_server: ServerHandle[EncodingApp],
) -> None:
    transport = HttpcoreTransport()
    try:
        with pytest.raises(RemoteProtocolError):
            transport.handle_request(get(encoding_server.url + "/corrupt"), TIMEOUT)
        assert transport.statistics().in_use == 0
    finally:
        transport.close()


# max_response_size -----------------------------------------------------------------------


@pytest.mark.parametrize(("path", "limit"), [("/big", 1000), ("/big-gzip", 1000), ("/bomb", 65536)])
def test_sync_transport_max_response_size(
    encoding_server: ServerHandle[EncodingApp], path: str, limit: int
) -> None:
    transport = HttpcoreTransport(max_response_size=limit)
    try:
        with pytest.raises(ResponseTooLargeError):
            transport.handle_request(get(encoding_server.url + path), TIMEOUT)
        assert transport.statistics().in_use == 0
        # The pool is still usable after the oversized response.
        ok = transport.handle_request(get(encoding_server.url + "/identity"), TIMEOUT)
        assert ok.json() == PAYLOAD
    finally:
        transport.close()


def test_max_response_size_is_an_exact_bound(encoding_server: ServerHandle[EncodingApp]) -> None:
    for limit, fits in [(len(BIG), True), (len(BIG) - 1, False)]:
        transport = HttpcoreTransport(max_response_size=limit)
        try:
            url = encoding_server.url + "/big-gzip"
            if fits:
                assert transport.handle_request(get(url), TIMEOUT).content == BIG
            else:
                with pytest.raises(ResponseTooLargeError):
                    transport.handle_request(get(url), TIMEOUT)
        finally:
            transport.close()


def test_sync_client_response_too_large_is_not_retried(
    encoding_server: ServerHandle[EncodingApp],
) -> None:
    app = encoding_server.app
    before = app.hits.get("/big", 0)
    with Client(encoding_server.url, max_response_size=1000, sleep=no_sleep) as client:
        with pytest.raises(ResponseTooLargeError) as caught:
            client.get("/big")
        assert caught.value.attempts == 1
        assert app.hits["/big"] == before + 1
        assert client.statistics().in_use == 0


@pytest.mark.anyio
async def test_async_client_response_too_large_is_not_retried(
    encoding_server: ServerHandle[EncodingApp],
) -> None:
    app = encoding_server.app
    before = app.hits.get("/bomb", 0)
    async with AsyncClient(encoding_server.url, max_response_size=65536, sleep=no_asleep) as client:
        with pytest.raises(ResponseTooLargeError) as caught:
            await client.get("/bomb")
        assert caught.value.attempts == 1
        assert app.hits["/bomb"] == before + 1
        assert client.statistics().in_use == 0


def test_sync_transport_refuses_a_header_block_over_64k(
    encoding_server: ServerHandle[EncodingApp],
) -> None:
    transport = HttpcoreTransport()
    try:
        with pytest.raises(RemoteProtocolError):
            transport.handle_request(get(encoding_server.url + "/big-headers"), TIMEOUT)
    finally:
        transport.close()


@pytest.mark.anyio
async def test_async_transport_refuses_a_header_block_over_64k(
    encoding_server: ServerHandle[EncodingApp],
) -> None:
    transport = AsyncHttpcoreTransport()
    try:
        with pytest.raises(RemoteProtocolError):
            await transport.handle_async_request(get(encoding_server.url + "/big-headers"), TIMEOUT)
    finally:
        await transport.aclose()


# connection failures and timeouts --------------------------------------------------------


def test_sync_transport_closed_port_raises_connect_error(closed_port_url: str) -> None:
    transport = HttpcoreTransport()
    try:
        with pytest.raises(ConnectError) as caught:
            transport.handle_request(get(closed_port_url + "/x"), TIMEOUT)
        assert caught.value.request_sent is False
    finally:
        transport.close()


@pytest.mark.anyio
async def test_async_transport_closed_port_raises_connect_error(closed_port_url: str) -> None:
    transport = AsyncHttpcoreTransport()
    try:
        with pytest.raises(ConnectError):
            await transport.handle_async_request(get(closed_port_url + "/x"), TIMEOUT)
    finally:
        await transport.aclose()


def test_sync_client_closed_port_retries_then_raises(closed_port_url: str) -> None:
    sleeps: list[float] = []
    client = Client(closed_port_url, max_retries=2, sleep=sleeps.append)
    with client, pytest.raises(ConnectError) as caught:
        client.post("/x", json={})
    assert caught.value.attempts == 3
    assert len(sleeps) == 2


@pytest.mark.anyio
async def test_async_client_closed_port_retries_then_raises(closed_port_url: str) -> None:
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async with AsyncClient(closed_port_url, max_retries=3, sleep=record) as client:
        with pytest.raises(ConnectError) as caught:
            await client.get("/x")
    assert caught.value.attempts == 4
    assert len(sleeps) == 3


def test_closed_transport_raises_client_closed_error(transport_server: Server) -> None:
    transport = HttpcoreTransport()
    transport.close()
    with pytest.raises(ClientClosedError):
        transport.handle_request(get(transport_server.url + "/echo"), TIMEOUT)


SLOW_READ = Timeout(5.0, read=0.2)


def test_sync_transport_slow_body_raises_read_timeout(transport_server: Server) -> None:
    transport = HttpcoreTransport()
    try:
        with pytest.raises(ReadTimeout) as caught:
            transport.handle_request(get(transport_server.url + "/slow-body?delay=1"), SLOW_READ)
        assert caught.value.request_sent is True
        assert transport.statistics().in_use == 0
    finally:
        transport.close()


@pytest.mark.anyio
async def test_async_transport_slow_body_raises_read_timeout(transport_server: Server) -> None:
    transport = AsyncHttpcoreTransport()
    try:
        with pytest.raises(ReadTimeout):
            await transport.handle_async_request(
                get(transport_server.url + "/slow-body?delay=1"), SLOW_READ
            )
        assert transport.statistics().in_use == 0
    finally:
        await transport.aclose()


def test_sync_client_slow_body_raises_read_timeout(transport_server: Server) -> None:
    with Client(transport_server.url, timeout=SLOW_READ, max_retries=0) as client:
        with pytest.raises(ReadTimeout) as caught:
            client.get("/slow-body?delay=1")
        assert caught.value.attempts == 1
        assert client.get("/echo").status_code == 200


@pytest.mark.anyio
async def test_async_client_slow_body_raises_read_timeout(transport_server: Server) -> None:
    async with AsyncClient(transport_server.url, timeout=SLOW_READ, max_retries=0) as client:
        with pytest.raises(ReadTimeout) as caught:
            await client.get("/slow-body?delay=1")
        assert caught.value.attempts == 1
        assert (await client.get("/echo")).status_code == 200


def _wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_sync_transport_pool_timeout(transport_server: Server) -> None:
    transport = HttpcoreTransport(limits=Limits(max_connections=1))
    holder = threading.Thread(
        target=transport.handle_request,
        args=(get(transport_server.url + "/slow-headers?delay=0.5"), TIMEOUT),
    )
    try:
        holder.start()
        _wait_until(lambda: transport.statistics().in_use == 1)
        with pytest.raises(PoolTimeout) as caught:
            transport.handle_request(get(transport_server.url + "/echo"), Timeout(5.0, pool=0.05))
        assert caught.value.request_sent is False
        holder.join(5)
        assert transport.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
    finally:
        holder.join(5)
        transport.close()


# cancellation ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_cancelled_async_client_request_releases_its_connection(
    transport_server: Server,
) -> None:
    async with AsyncClient(transport_server.url) as client:
        await client.get("/echo")  # one idle connection to start with
        with anyio.move_on_after(0.05) as scope:
            await client.get("/slow-headers?delay=1")
        assert scope.cancelled_caught
        assert client.statistics().in_use == 0
        assert client.statistics().waiting == 0
        response = await client.get("/echo")
        assert response.status_code == 200
        assert client.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/slow-headers?delay=1", "/slow-body?delay=1"])
async def test_cancelled_async_transport_request_releases_its_connection(
    transport_server: Server, path: str
) -> None:
    transport = AsyncHttpcoreTransport()
    try:
        with anyio.move_on_after(0.05) as scope:
            await transport.handle_async_request(get(transport_server.url + path), TIMEOUT)
        assert scope.cancelled_caught
        assert transport.statistics().in_use == 0
        response = await transport.handle_async_request(
            get(transport_server.url + "/echo"), TIMEOUT
        )
        assert response.status_code == 200
        assert transport.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
    finally:
        await transport.aclose()


@pytest.mark.anyio
async def test_cancelled_wait_for_a_pool_slot_leaves_no_waiter(transport_server: Server) -> None:
    transport = AsyncHttpcoreTransport(limits=Limits(max_connections=1))
    try:
        async with anyio.create_task_group() as tg:
            # The holder keeps the only connection far longer than the test needs it.
            tg.start_soon(
                transport.handle_async_request,
                get(transport_server.url + "/slow-headers?delay=2"),
                TIMEOUT,
            )
            with anyio.fail_after(5):
                # The pool has no hook to wait on: poll until the holder has the slot.
                while transport.statistics().in_use == 0:  # noqa: ASYNC110
                    await anyio.sleep(0.005)
            with anyio.move_on_after(0.05) as scope:
                await transport.handle_async_request(get(transport_server.url + "/echo"), TIMEOUT)
            assert scope.cancelled_caught
            # The cancelled waiter left the queue; the holder still has its connection.
            assert transport.statistics() == PoolStatistics(in_use=1, idle=0, waiting=0)
            tg.cancel_scope.cancel()
        assert transport.statistics() == PoolStatistics(in_use=0, idle=0, waiting=0)
        response = await transport.handle_async_request(
            get(transport_server.url + "/echo"), TIMEOUT
        )
        assert response.status_code == 200
        assert transport.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
    finally:
        await transport.aclose()
