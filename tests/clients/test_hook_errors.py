"""A hook that raises: its own exception reaches the caller unchanged, the request it
observed is not sent again, and nothing stays held, on every real transport and loop.

The request the hook saw may have been applied by the server; the error is the hook's,
not an ``SDKError`` that says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sdk_core import AttemptRecord, Limits, PoolStatistics, ReadError
from sdk_transports import (
    AnyioTransport,
    AsyncClient,
    AsyncHttpcoreTransport,
    Client,
    HttpcoreTransport,
    SocketTransport,
)
from sdk_transports.testing import FaultServer, read_request, respond, serve_forever

SYNC: dict[str, Callable[[], Any]] = {
    "socket": lambda: SocketTransport(limits=Limits(max_connections=2)),
    "httpcore": lambda: HttpcoreTransport(limits=Limits(max_connections=2)),
}
ASYNC: dict[str, Callable[[], Any]] = {
    "anyio": lambda: AnyioTransport(limits=Limits(max_connections=2)),
    "httpcore": lambda: AsyncHttpcoreTransport(limits=Limits(max_connections=2)),
}


class ExporterDown(Exception):
    """What a metrics hook might raise; not an SDK error."""


#: A hook's error of any kind, an SDK error that looks retryable included, ends the call
#: as it is: it is never taken for the transport's.
HOOK_ERRORS = [
    lambda: ExporterDown("exporter down"),
    lambda: RuntimeError("hook bug"),
    lambda: ReadError("raised by the hook"),
]


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        yield fault_server


def failing_hook(seen: list[AttemptRecord], error: BaseException) -> Callable[..., object]:
    """Records every attempt; raises ``error`` after the first one only."""

    def hook(record: AttemptRecord) -> None:
        seen.append(record)
        if len(seen) == 1:
            raise error

    return hook


def charge(client: Client, streamed: bool) -> None:
    if streamed:
        with client.stream("POST", "/charge", json={"amount": 1}) as response:
            response.read()
    else:
        client.post("/charge", json={"amount": 1})


async def acharge(client: AsyncClient, streamed: bool) -> None:
    if streamed:
        async with client.stream("POST", "/charge", json={"amount": 1}) as response:
            await response.aread()
    else:
        await client.post("/charge", json={"amount": 1})


def posts(server: FaultServer) -> int:
    return sum(1 for r in server.requests if r.method == "POST")


@pytest.mark.parametrize("name", list(SYNC))
@pytest.mark.parametrize("streamed", [False, True], ids=["request", "stream"])
@pytest.mark.parametrize("make_error", HOOK_ERRORS, ids=["own", "runtime", "sdk"])
def test_sync_hook_error_propagates_unchanged_after_an_applied_post(
    server: FaultServer, name: str, streamed: bool, make_error: Callable[[], Exception]
) -> None:
    error, seen = make_error(), list[AttemptRecord]()
    client = Client(server.url, transport=SYNC[name](), hooks=[failing_hook(seen, error)])
    with client:
        with pytest.raises(type(error)) as caught:
            charge(client, streamed)
        assert caught.value is error  # the hook's own exception, not a wrapper
        assert [(r.method, r.status_code, r.action) for r in seen] == [("POST", 200, "return")]
        assert posts(server) == 1  # applied once, never resent
        assert client.statistics().in_use == 0
        assert client.get("/after").status_code == 200  # the pool still works


@pytest.mark.parametrize("name", list(SYNC))
def test_sync_hook_error_on_a_retried_attempt_ends_the_call(server: FaultServer, name: str) -> None:
    server.script(read_request(), respond(503, body=b"{}", headers=[("Retry-After", "0")]))
    error, seen = ExporterDown("exporter down"), list[AttemptRecord]()
    client = Client(server.url, transport=SYNC[name](), hooks=[failing_hook(seen, error)])
    with client, pytest.raises(ExporterDown):
        client.put("/item", json={"v": 1})
    assert [(r.status_code, r.action) for r in seen] == [(503, "retry")]
    assert sum(1 for r in server.requests if r.method == "PUT") == 1  # no retry followed
    assert client.statistics() == PoolStatistics(in_use=0, idle=client.statistics().idle)


@pytest.mark.anyio
@pytest.mark.parametrize("name", list(ASYNC))
@pytest.mark.parametrize("streamed", [False, True], ids=["request", "stream"])
@pytest.mark.parametrize("make_error", HOOK_ERRORS, ids=["own", "runtime", "sdk"])
async def test_async_hook_error_propagates_unchanged_after_an_applied_post(
    server: FaultServer, name: str, streamed: bool, make_error: Callable[[], Exception]
) -> None:
    error, seen = make_error(), list[AttemptRecord]()
    client = AsyncClient(server.url, transport=ASYNC[name](), hooks=[failing_hook(seen, error)])
    async with client:
        with pytest.raises(type(error)) as caught:
            await acharge(client, streamed)
        assert caught.value is error
        assert [(r.method, r.status_code, r.action) for r in seen] == [("POST", 200, "return")]
        assert posts(server) == 1
        assert client.statistics().in_use == 0
        assert (await client.get("/after")).status_code == 200


def test_the_fault_server_default_serves_posts(server: FaultServer) -> None:
    """The tests above count on the default script answering every request with 200."""
    server.script(serve_forever())
    with Client(server.url, transport=SocketTransport()) as client:
        assert client.post("/x", json={}).status_code == 200
    assert posts(server) == 1
