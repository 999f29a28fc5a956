"""Streamed calls against servers nobody here wrote: hypercorn serving the scenario
app's ``/sse`` route (chunked, one write per event, with pauses), and httpbin's
``/stream``, ``/gzip``, ``/stream-bytes`` and ``/status`` routes. Every transport, on
threads, asyncio and trio; the pool is empty of in-use connections after each call."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from sdk_core import NotFoundError, ServerSentEvent
from sdk_transports import (
    AnyioTransport,
    AsyncClient,
    AsyncHttpcoreTransport,
    Client,
    HttpcoreTransport,
    SocketTransport,
)
from sdk_transports.testing import ScenarioApp, ServerHandle

pytestmark = pytest.mark.integration

SYNC_TRANSPORTS: dict[str, Callable[[], Any]] = {
    "sockets": SocketTransport,
    "httpcore": HttpcoreTransport,
}
ASYNC_TRANSPORTS: dict[str, Callable[[], Any]] = {
    "anyio": AnyioTransport,
    "httpcore": AsyncHttpcoreTransport,
}


def check_events(events: list[ServerSentEvent], count: int) -> None:
    assert [e.event for e in events] == ["tick"] * count
    assert [e.id for e in events] == [str(i) for i in range(count)]
    assert [e.json() for e in events[:-1]] == [{"n": i} for i in range(count - 1)]
    assert events[-1].data == f'{{"n": {count - 1}}}\nlast'


@pytest.mark.parametrize("kind", SYNC_TRANSPORTS)
def test_sse_events_arrive_in_order(kind: str, scenario_server: ServerHandle[ScenarioApp]) -> None:
    transport = SYNC_TRANSPORTS[kind]()
    with Client(scenario_server.url, transport=transport) as client:
        with client.stream("GET", "/sse", params={"count": 5, "delay": 0.01}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert transport.statistics().in_use == 1
            events = list(response.iter_events())
        check_events(events, 5)
        stats = transport.statistics()
        assert (stats.in_use, stats.idle) == (0, 1)  # read to the end: pooled
        # Closed halfway: the connection is dropped, and the next call works.
        with client.stream("GET", "/sse", params={"count": 50, "delay": 0.01}) as response:
            first = next(response.iter_events())
        assert first.id == "0"
        assert transport.statistics().in_use == 0
        assert client.get("/status/200").status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ASYNC_TRANSPORTS)
async def test_sse_events_arrive_in_order_async(
    kind: str, scenario_server: ServerHandle[ScenarioApp]
) -> None:
    transport = ASYNC_TRANSPORTS[kind]()
    async with AsyncClient(scenario_server.url, transport=transport) as client:
        params = {"count": 5, "delay": 0.01}
        async with client.stream("GET", "/sse", params=params) as response:
            assert transport.statistics().in_use == 1
            events = [event async for event in response.aiter_events()]
        check_events(events, 5)
        stats = transport.statistics()
        assert (stats.in_use, stats.idle) == (0, 1)
        params = {"count": 50, "delay": 0.01}
        async with client.stream("GET", "/sse", params=params) as response:
            async for event in response.aiter_events():
                assert event.id == "0"
                break
        assert transport.statistics().in_use == 0
        assert (await client.get("/status/200")).status_code == 200


@pytest.mark.parametrize("kind", SYNC_TRANSPORTS)
def test_httpbin_streams(kind: str, httpbin: Any) -> None:
    transport = SYNC_TRANSPORTS[kind]()
    with Client(httpbin.url, transport=transport) as client:
        with client.stream("GET", "/stream/20") as response:
            lines = [line for line in response.iter_lines() if line]
        assert [int(json.loads(line)["id"]) for line in lines] == list(range(20))
        with client.stream("GET", "/gzip") as response:
            assert response.headers["content-encoding"] == "gzip"
            assert response.json()["gzipped"] is True
        with client.stream(
            "GET", "/stream-bytes/100000", params={"seed": 1, "chunk_size": 1000}
        ) as response:
            pieces = list(response.iter_bytes())
        assert sum(map(len, pieces)) == 100_000
        assert max(map(len, pieces)) <= 64 * 1024
        with pytest.raises(NotFoundError), client.stream("GET", "/status/404"):
            raise AssertionError("not reached")
        assert transport.statistics().in_use == 0


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ASYNC_TRANSPORTS)
async def test_httpbin_streams_async(kind: str, httpbin: Any) -> None:
    transport = ASYNC_TRANSPORTS[kind]()
    async with AsyncClient(httpbin.url, transport=transport) as client:
        async with client.stream("GET", "/stream/20") as response:
            lines = [line async for line in response.aiter_lines() if line]
        assert len(lines) == 20
        async with client.stream("GET", "/gzip") as response:
            await response.aread()
            assert response.json()["gzipped"] is True
        with pytest.raises(NotFoundError):
            async with client.stream("GET", "/status/404"):
                raise AssertionError("not reached")
        assert transport.statistics().in_use == 0
