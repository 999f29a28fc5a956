"""SocketTransport and AnyioTransport (the core's h11 codec and pool) on real sockets.

Every behaviour runs on the blocking transport and on the anyio one under asyncio and
trio, each used directly and through ``Client``/``AsyncClient`` (``via``). Servers are
the hypercorn-served ``ScenarioApp`` and, for byte-exact faults, ``_raw_server``; all
traffic stays on 127.0.0.1. The fault table at the end checks that one fault gives one
exception class (and one ``request_sent``) on all six combinations.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import random
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
import trustme
from _raw_server import (
    RawConnection,
    RawServer,
    keep_alive,
    never_read,
    ok_response,
    once_then_close,
    reset_after_head,
)

from sdk_core import (
    APIConnectionError,
    APIError,
    ClientClosedError,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    Limits,
    PoolStatistics,
    PoolTimeout,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    Response,
    ResponseTooLargeError,
    Timeout,
)
from sdk_transports import AnyioTransport, AsyncClient, Client, SocketTransport
from sdk_transports.testing import ScenarioApp, ServerHandle, run_server

pytestmark = pytest.mark.timeout(30)

#: Generous enough never to fire on a loaded machine, short enough to end a hang.
TIMEOUT = Timeout(5.0)
VIA = ["transport", "client"]
EMPTY = PoolStatistics(in_use=0, idle=0, waiting=0)


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scenario() -> Iterator[ServerHandle[ScenarioApp]]:
    """A ``ScenarioApp`` on hypercorn for this module (stateless routes only)."""
    with run_server(ScenarioApp()) as server:
        yield server


@dataclass(frozen=True)
class TLSMaterial:
    ca_file: str
    good: ssl.SSLContext  # a server certificate for 127.0.0.1 and localhost
    wrong_host: ssl.SSLContext  # a server certificate for wrong.example only


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    def server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        return context

    return TLSMaterial(
        ca_file=str(ca_file),
        good=server_context(ca.issue_cert("127.0.0.1", "localhost")),
        wrong_host=server_context(ca.issue_cert("wrong.example")),
    )


# -- one way to send, four ways to get there --------------------------------------------


class SyncUser:
    """A SocketTransport used directly or through a Client (no retries)."""

    def __init__(self, base_url: str, via: str, **transport_kwargs: Any) -> None:
        self.base_url = base_url
        self.transport = SocketTransport(**transport_kwargs)
        self.client = (
            Client(base_url, transport=self.transport, max_retries=0) if via == "client" else None
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        timeout: Timeout = TIMEOUT,
        content: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Response:
        if self.client is not None:
            return self.client.request(
                method, path, timeout=timeout, content=content or None, headers=headers
            )
        request = Request(method, self.base_url + path, content=content, headers=headers)
        return self.transport.handle_request(request, timeout)

    def statistics(self) -> PoolStatistics:
        if self.client is not None:
            assert self.client.statistics() == self.transport.statistics()
        return self.transport.statistics()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        self.transport.close()


class AsyncUser:
    """An AnyioTransport used directly or through an AsyncClient (no retries)."""

    def __init__(self, base_url: str, via: str, **transport_kwargs: Any) -> None:
        self.base_url = base_url
        self.transport = AnyioTransport(**transport_kwargs)
        self.client = (
            AsyncClient(base_url, transport=self.transport, max_retries=0)
            if via == "client"
            else None
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        timeout: Timeout = TIMEOUT,
        content: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Response:
        if self.client is not None:
            return await self.client.request(
                method, path, timeout=timeout, content=content or None, headers=headers
            )
        request = Request(method, self.base_url + path, content=content, headers=headers)
        return await self.transport.handle_async_request(request, timeout)

    def statistics(self) -> PoolStatistics:
        if self.client is not None:
            assert self.client.statistics() == self.transport.statistics()
        return self.transport.statistics()

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        await self.transport.aclose()


@contextlib.contextmanager
def sync_user(base_url: str, via: str, **transport_kwargs: Any) -> Iterator[SyncUser]:
    user = SyncUser(base_url, via, **transport_kwargs)
    try:
        yield user
    finally:
        user.close()


@contextlib.asynccontextmanager
async def async_user(base_url: str, via: str, **transport_kwargs: Any) -> AsyncIterator[AsyncUser]:
    user = AsyncUser(base_url, via, **transport_kwargs)
    try:
        yield user
    finally:
        await user.aclose()


def check_error(exc: BaseException, via: str) -> None:
    """What every error from these transports has in common.

    Used directly, the codec's and decoder's errors (RemoteProtocolError,
    ResponseTooLargeError) carry no ``request``; the client's ``Call`` fills it in.
    """
    assert isinstance(exc, APIError)
    if via == "client":
        assert exc.request is not None
        assert exc.attempts == 1  # max_retries=0


# -- byte-exact responses ---------------------------------------------------------------

GZIP_TEXT = b"hello, gzip! " * 500
NO_BODY_LENGTH = b"Content-Length: 1000\r\n"


def _routes(conn: RawConnection) -> None:
    """Keep-alive; answers by request line: HEAD, /204, /304 (all declaring a length
    they do not send), /gzip, /sized/N; anything else is ``200 ok``."""
    while (request := conn.read_request()) is not None:
        line = request.split(b"\r\n", 1)[0]
        method, target, _ = line.split(b" ")
        if method == b"HEAD":
            conn.send(b"HTTP/1.1 200 OK\r\n" + NO_BODY_LENGTH + b"\r\n")
        elif target == b"/204":
            conn.send(b"HTTP/1.1 204 No Content\r\n" + NO_BODY_LENGTH + b"\r\n")
        elif target == b"/304":
            conn.send(b"HTTP/1.1 304 Not Modified\r\n" + NO_BODY_LENGTH + b"\r\n")
        elif target == b"/gzip":
            conn.send(ok_response(gzip.compress(GZIP_TEXT), headers=b"Content-Encoding: gzip\r\n"))
        elif target.startswith(b"/sized/"):
            conn.send(ok_response(b"x" * int(target.rsplit(b"/", 1)[1])))
        else:
            conn.send(ok_response(b"after"))


@pytest.fixture
def routes() -> Iterator[RawServer]:
    with RawServer(_routes) as server:
        yield server


class Gate:
    """Holds each response until ``release`` is set; ``received`` says one arrived."""

    def __init__(self) -> None:
        self.received = threading.Event()
        self.release = threading.Event()

    def handler(self, conn: RawConnection) -> None:
        while conn.read_request() is not None:
            self.received.set()
            self.release.wait(10)
            conn.send(ok_response(b"held"))


@pytest.fixture
def gate() -> Iterator[tuple[Gate, RawServer]]:
    held = Gate()
    with RawServer(held.handler) as server:
        try:
            yield held, server
        finally:
            held.release.set()


def _refused_url() -> tuple[str, socket.socket]:
    """A port bound but not listening (kept bound so nobody else takes it): refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return f"http://127.0.0.1:{sock.getsockname()[1]}", sock


@contextlib.contextmanager
def full_backlog() -> Iterator[str]:
    """A listener whose accept queue is full, so a new connect never completes.

    Linux drops the SYN of a connection the full queue cannot take; the client's SYN
    retransmits come after 1 s, past the connect timeouts used here. A probe confirms
    this on the running kernel, or the test is skipped.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(3):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except TimeoutError:
            pass
        else:
            pytest.skip("this kernel completes connects to a full backlog")
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


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
    url, holder = _refused_url()
    with holder, sync_user(url, via) as user:
        with pytest.raises(ConnectError) as info:
            user.request("GET", "/")
        assert info.value.request_sent is False
        check_error(info.value, via)
        assert user.statistics() == EMPTY


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_connection_refused(via: str) -> None:
    url, holder = _refused_url()
    with holder:
        async with async_user(url, via) as user:
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


# -- timeouts ---------------------------------------------------------------------------

MID_BODY = Timeout(5.0, read=0.2)


@pytest.mark.parametrize("via", VIA)
def test_sync_read_timeout_mid_body_discards_the_connection(
    scenario: ServerHandle[ScenarioApp], via: str
) -> None:
    with sync_user(scenario.url, via) as user:
        with pytest.raises(ReadTimeout) as info:
            user.request("GET", "/slow-body?delay=1", timeout=MID_BODY)
        assert info.value.request_sent is True
        check_error(info.value, via)
        assert user.statistics() == EMPTY
        assert user.request("GET", "/echo").status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_read_timeout_mid_body_discards_the_connection(
    scenario: ServerHandle[ScenarioApp], via: str
) -> None:
    async with async_user(scenario.url, via) as user:
        with pytest.raises(ReadTimeout) as info:
            await user.request("GET", "/slow-body?delay=1", timeout=MID_BODY)
        assert info.value.request_sent is True
        check_error(info.value, via)
        assert user.statistics() == EMPTY
        assert (await user.request("GET", "/echo")).status_code == 200


POOL_WAIT = Timeout(5.0, pool=0.1)


@pytest.mark.parametrize("via", VIA)
def test_sync_pool_timeout(gate: tuple[Gate, RawServer], via: str) -> None:
    held, raw = gate
    with sync_user(raw.url, via, limits=Limits(max_connections=1)) as user:
        results: list[Response] = []
        holder = threading.Thread(target=lambda: results.append(user.request("GET", "/hold")))
        holder.start()
        try:
            assert held.received.wait(5)
            assert user.statistics() == PoolStatistics(in_use=1, idle=0, waiting=0)
            with pytest.raises(PoolTimeout) as info:
                user.request("GET", "/second", timeout=POOL_WAIT)
            assert info.value.request_sent is False
            check_error(info.value, via)
            assert user.statistics() == PoolStatistics(in_use=1, idle=0, waiting=0)
        finally:
            held.release.set()
            holder.join(5)
        assert [r.content for r in results] == [b"held"]
        assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
        assert raw.connections == 1  # the timed-out request never opened one


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_pool_timeout(gate: tuple[Gate, RawServer], via: str) -> None:
    held, raw = gate
    async with async_user(raw.url, via, limits=Limits(max_connections=1)) as user:
        results: list[Response] = []

        async def hold() -> None:
            results.append(await user.request("GET", "/hold"))

        async with anyio.create_task_group() as tg:
            tg.start_soon(hold)
            try:
                assert await anyio.to_thread.run_sync(held.received.wait, 5)
                assert user.statistics() == PoolStatistics(in_use=1, idle=0, waiting=0)
                with pytest.raises(PoolTimeout) as info:
                    await user.request("GET", "/second", timeout=POOL_WAIT)
                assert info.value.request_sent is False
                check_error(info.value, via)
                assert user.statistics() == PoolStatistics(in_use=1, idle=0, waiting=0)
            finally:
                held.release.set()
        assert [r.content for r in results] == [b"held"]
        assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
        assert raw.connections == 1


@pytest.mark.anyio
async def test_async_total_deadline_while_waiting_for_the_pool(
    gate: tuple[Gate, RawServer],
) -> None:
    held, raw = gate
    transport = AnyioTransport(limits=Limits(max_connections=1))
    async with AsyncClient(raw.url, transport=transport, max_retries=0) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.get, "/hold")
            try:
                assert await anyio.to_thread.run_sync(held.received.wait, 5)
                with pytest.raises(DeadlineExceeded):
                    await client.get("/second", timeout=Timeout(5.0, total=0.2))
                assert client.statistics() == PoolStatistics(in_use=1, idle=0, waiting=0)
            finally:
                held.release.set()
        assert client.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)


def test_sync_connect_timeout() -> None:
    with full_backlog() as url, sync_user(url, "transport") as user:
        with pytest.raises(APIConnectionError) as info:
            user.request("GET", "/", timeout=Timeout(5.0, connect=0.2))
        assert isinstance(info.value, ConnectTimeout)
        assert info.value.request_sent is False
        assert user.statistics() == EMPTY


@pytest.mark.anyio
async def test_async_connect_timeout() -> None:
    with full_backlog() as url:
        async with async_user(url, "transport") as user:
            with pytest.raises(APIConnectionError) as info:
                await user.request("GET", "/", timeout=Timeout(5.0, connect=0.2))
            assert isinstance(info.value, ConnectTimeout)
            assert info.value.request_sent is False
            assert user.statistics() == EMPTY


# -- responses without a body, encodings, size bounds -----------------------------------

NO_BODY_CALLS = [("HEAD", "/"), ("GET", "/204"), ("GET", "/304")]


@pytest.mark.parametrize("via", VIA)
def test_sync_no_body_responses_leave_the_connection_reusable(routes: RawServer, via: str) -> None:
    with sync_user(routes.url, via) as user:
        for method, path in NO_BODY_CALLS:
            response = user.request(method, path)
            assert response.content == b""
            assert response.headers["content-length"] == "1000"
            assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
        assert user.request("GET", "/next").content == b"after"
        assert routes.connections == 1


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_no_body_responses_leave_the_connection_reusable(
    routes: RawServer, via: str
) -> None:
    async with async_user(routes.url, via) as user:
        for method, path in NO_BODY_CALLS:
            response = await user.request(method, path)
            assert response.content == b""
            assert response.headers["content-length"] == "1000"
            assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
        assert (await user.request("GET", "/next")).content == b"after"
        assert routes.connections == 1


@pytest.mark.parametrize("via", VIA)
def test_sync_gzip_body_is_decoded(routes: RawServer, via: str) -> None:
    with sync_user(routes.url, via) as user:
        response = user.request("GET", "/gzip")
        assert response.content == GZIP_TEXT
        assert response.headers["content-encoding"] == "gzip"
        assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_gzip_body_is_decoded(routes: RawServer, via: str) -> None:
    async with async_user(routes.url, via) as user:
        response = await user.request("GET", "/gzip")
        assert response.content == GZIP_TEXT
        assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)


def test_client_advertises_gzip(routes: RawServer) -> None:
    with sync_user(routes.url, "client") as user:
        user.request("GET", "/")
    assert b"gzip" in routes.requests[0].lower().split(b"accept-encoding:")[1].split(b"\r\n")[0]


@pytest.mark.parametrize("via", VIA)
def test_sync_max_response_size(routes: RawServer, via: str) -> None:
    with sync_user(routes.url, via, max_response_size=1000) as user:
        assert len(user.request("GET", "/sized/1000").content) == 1000  # exactly the bound
        with pytest.raises(ResponseTooLargeError) as info:
            user.request("GET", "/sized/1001")
        check_error(info.value, via)
        assert user.statistics() == EMPTY  # the rest of the body was never read: dropped
        assert user.request("GET", "/sized/10").content == b"x" * 10
        assert routes.connections == 2


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_max_response_size(routes: RawServer, via: str) -> None:
    async with async_user(routes.url, via, max_response_size=1000) as user:
        assert len((await user.request("GET", "/sized/1000")).content) == 1000
        with pytest.raises(ResponseTooLargeError) as info:
            await user.request("GET", "/sized/1001")
        check_error(info.value, via)
        assert user.statistics() == EMPTY
        assert (await user.request("GET", "/sized/10")).content == b"x" * 10
        assert routes.connections == 2


# -- concurrency and cancellation -------------------------------------------------------


@pytest.mark.parametrize("via", VIA)
def test_sync_threads_share_one_transport(scenario: ServerHandle[ScenarioApp], via: str) -> None:
    with sync_user(scenario.url, via, limits=Limits(max_connections=4)) as user:

        def worker(n: int) -> list[int]:
            return [user.request("GET", f"/echo?w={n}&i={i}").status_code for i in range(20)]

        with ThreadPoolExecutor(8) as pool:
            statuses = [s for batch in pool.map(worker, range(8)) for s in batch]
        assert statuses == [200] * 160
        stats = user.statistics()
        assert (stats.in_use, stats.waiting) == (0, 0)
        assert 1 <= stats.idle <= 4


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_many_concurrent_requests(
    scenario: ServerHandle[ScenarioApp], via: str
) -> None:
    async with async_user(scenario.url, via, limits=Limits(max_connections=8)) as user:
        statuses: list[int] = []

        async def one(i: int) -> None:
            statuses.append((await user.request("GET", f"/echo?i={i}")).status_code)

        async with anyio.create_task_group() as tg:
            for i in range(100):
                tg.start_soon(one, i)
        assert statuses == [200] * 100
        stats = user.statistics()
        assert (stats.in_use, stats.waiting) == (0, 0)
        assert 1 <= stats.idle <= 8


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("seed", [1, 2])
async def test_async_cancellation_frees_every_slot(
    scenario: ServerHandle[ScenarioApp], via: str, seed: int
) -> None:
    rng = random.Random(seed)
    paths = [rng.choice(["/slow-headers?delay=0.5", "/echo"]) for _ in range(50)]
    cut = rng.uniform(0.05, 0.4)  # before any slow response can arrive
    async with async_user(scenario.url, via, limits=Limits(max_connections=8)) as user:
        done: list[int] = []

        async def one(path: str) -> None:
            done.append((await user.request("GET", path)).status_code)

        with anyio.move_on_after(cut) as scope:
            async with anyio.create_task_group() as tg:
                for path in paths:
                    tg.start_soon(one, path)
        assert scope.cancelled_caught
        assert len(done) < len(paths)
        stats = user.statistics()
        assert (stats.in_use, stats.waiting) == (0, 0), stats
        assert (await user.request("GET", "/echo")).status_code == 200
        stats = user.statistics()
        assert (stats.in_use, stats.waiting) == (0, 0), stats


# -- TLS --------------------------------------------------------------------------------


@contextlib.contextmanager
def tls_server(context: ssl.SSLContext) -> Iterator[RawServer]:
    with RawServer(keep_alive(ok_response(b"secure")), ssl_context=context) as server:
        yield server


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


# -- one fault, one exception: the table ------------------------------------------------

CONTENT_LENGTH_EOF = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
CHUNKED_EOF = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n5\r\nab"
NOT_HTTP = b"SSH-2.0-OpenSSH_9.6\r\nthis is not http\r\n\r\n"
#: About 200 KiB of headers: h11 sees an incomplete head past 64 KiB whatever recv returns.
HUGE_HEADERS = (
    b"HTTP/1.1 200 OK\r\n"
    + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(200))
    + b"\r\n"
)
GZIP_BOMB = ok_response(
    gzip.compress(b"\0" * (4 * 1024 * 1024)), headers=b"Content-Encoding: gzip\r\n"
)
CORRUPT_GZIP = ok_response(
    b"\x1f\x8b\x08\x00garbage-not-gzip", headers=b"Content-Encoding: gzip\r\n"
)


@dataclass(frozen=True)
class Fault:
    expected: str  # the exception class name
    request_sent: bool | None  # None: not an APIConnectionError


FAULTS: dict[str, Fault] = {
    "refused": Fault("ConnectError", False),
    "connect_timeout": Fault("ConnectTimeout", False),
    "tls_unknown_ca": Fault("ConnectError", False),
    "tls_wrong_host": Fault("ConnectError", False),
    "closed_before_response": Fault("RemoteProtocolError", True),
    "reset_before_response": Fault("ReadError", True),
    "eof_in_content_length_body": Fault("RemoteProtocolError", True),
    "eof_in_chunked_body": Fault("RemoteProtocolError", True),
    "not_http": Fault("RemoteProtocolError", True),
    "header_block_over_64k": Fault("RemoteProtocolError", True),
    "read_timeout_before_headers": Fault("ReadTimeout", True),
    "read_timeout_mid_body": Fault("ReadTimeout", True),
    "write_timeout": Fault("WriteTimeout", True),
    "reset_during_upload": Fault("WriteError", True),
    "too_large": Fault("ResponseTooLargeError", None),
    "gzip_bomb": Fault("ResponseTooLargeError", None),
    "corrupt_gzip": Fault("RemoteProtocolError", True),
}

RAW_FAULTS = {
    "closed_before_response": once_then_close(b""),
    "reset_before_response": once_then_close(b"", reset=True),
    "eof_in_content_length_body": once_then_close(CONTENT_LENGTH_EOF),
    "eof_in_chunked_body": once_then_close(CHUNKED_EOF),
    "not_http": once_then_close(NOT_HTTP),
    "header_block_over_64k": once_then_close(HUGE_HEADERS),
    "write_timeout": never_read,
    "reset_during_upload": reset_after_head,
    "gzip_bomb": keep_alive(GZIP_BOMB),
    "corrupt_gzip": keep_alive(CORRUPT_GZIP),
}


@dataclass(frozen=True)
class Setup:
    url: str  # base URL
    path: str
    timeout: Timeout
    kwargs: dict[str, Any]
    content: bytes = b""  # sent as a POST when not empty

    @property
    def method(self) -> str:
        return "POST" if self.content else "GET"


#: Far more than loopback socket buffers hold while the peer reads nothing.
UPLOAD = b"u" * (16 * 1024 * 1024)


@contextlib.contextmanager
def fault_setup(
    name: str, scenario: ServerHandle[ScenarioApp], tls: TLSMaterial
) -> Iterator[Setup]:
    if name in RAW_FAULTS:
        kwargs = {"max_response_size": 1024 * 1024} if name == "gzip_bomb" else {}
        timeout = Timeout(5.0, write=0.2) if name == "write_timeout" else TIMEOUT
        content = UPLOAD if name in ("write_timeout", "reset_during_upload") else b""
        with RawServer(RAW_FAULTS[name]) as raw:
            yield Setup(raw.url, "/", timeout, kwargs, content)
    elif name == "refused":
        url, holder = _refused_url()
        with holder:
            yield Setup(url, "/", TIMEOUT, {})
    elif name == "connect_timeout":
        with full_backlog() as url:
            yield Setup(url, "/", Timeout(5.0, connect=0.2), {})
    elif name == "tls_unknown_ca":
        with tls_server(tls.good) as server:
            yield Setup(server.url, "/", TIMEOUT, {})
    elif name == "tls_wrong_host":
        with tls_server(tls.wrong_host) as server:
            yield Setup(server.url, "/", TIMEOUT, {"verify": tls.ca_file})
    elif name == "read_timeout_before_headers":
        yield Setup(scenario.url, "/slow-headers?delay=1", Timeout(5.0, read=0.2), {})
    elif name == "read_timeout_mid_body":
        yield Setup(scenario.url, "/slow-body?delay=1", Timeout(5.0, read=0.2), {})
    else:
        assert name == "too_large"
        yield Setup(scenario.url, "/status/200?body=huge", TIMEOUT, {"max_response_size": 1000})


Outcome = tuple[str, "bool | None"]


def _outcome(exc: BaseException) -> Outcome:
    return type(exc).__name__, getattr(exc, "request_sent", None)


def _sync_fault(setup: Setup, via: str) -> Outcome:
    with sync_user(setup.url, via, **setup.kwargs) as user:
        with pytest.raises(APIError) as info:
            user.request(setup.method, setup.path, timeout=setup.timeout, content=setup.content)
        check_error(info.value, via)
        assert user.statistics() == EMPTY
    return _outcome(info.value)


async def _async_fault(setup: Setup, via: str) -> Outcome:
    async with async_user(setup.url, via, **setup.kwargs) as user:
        with pytest.raises(APIError) as info:
            await user.request(
                setup.method, setup.path, timeout=setup.timeout, content=setup.content
            )
        check_error(info.value, via)
        assert user.statistics() == EMPTY
    return _outcome(info.value)


RUNNERS: dict[str, Callable[[Setup], Outcome]] = {
    f"{loop}/{via}": (
        functools.partial(_sync_fault, via=via)
        if loop == "sync"
        else lambda setup, loop=loop, via=via: anyio.run(
            functools.partial(_async_fault, setup, via), backend=loop
        )
    )
    for loop in ("sync", "asyncio", "trio")
    for via in VIA
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_same_fault_same_exception_everywhere(
    name: str, scenario: ServerHandle[ScenarioApp], tls: TLSMaterial
) -> None:
    table: dict[str, Outcome] = {}
    for runner_name, runner in RUNNERS.items():
        with fault_setup(name, scenario, tls) as setup:
            table[runner_name] = runner(setup)
    fault = FAULTS[name]
    assert table == dict.fromkeys(RUNNERS, (fault.expected, fault.request_sent))


def test_fault_classes_are_in_the_error_tree() -> None:
    import sdk_core

    for fault in FAULTS.values():
        cls = getattr(sdk_core, fault.expected)
        assert issubclass(cls, APIError)
        assert issubclass(cls, APIConnectionError) == (fault.request_sent is not None)
    assert issubclass(RemoteProtocolError, APIConnectionError)


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
