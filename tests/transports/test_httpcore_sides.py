"""The per-side pieces of the httpcore transports (``_httpcore_sides``, the bounds in
``_httpcore_backends``), each on its own: the rest of both transports is one generated
source, and these are where the two sides may differ."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpcore
import pytest
import trio
import trio.lowlevel
import trio.testing

from sdk_core import ReadTimeout, Request, Timeout
from sdk_transports import _httpcore_sides
from sdk_transports._httpcore_backends import AsyncDeadline, Deadline
from sdk_transports._httpcore_sides import (
    AsyncBody,
    AsyncPoolHome,
    PoolHome,
    SyncBody,
    httpcore_request,
    httpcore_request_async,
    send,
    send_async,
    shielded,
    shielded_async,
)

URL = "http://127.0.0.1:9/"


class FakePool:
    """Stands in for an httpcore pool: its connections, and what a request does."""

    def __init__(self, connections: list[object] | None = None) -> None:
        self.connections = connections or []
        self.seen: list[httpcore.Request] = []

    def handle_request(self, raw_request: httpcore.Request) -> httpcore.Response:
        self.seen.append(raw_request)
        return httpcore.Response(200)

    async def handle_async_request(self, raw_request: httpcore.Request) -> httpcore.Response:
        self.seen.append(raw_request)
        async for _chunk in raw_request.stream:  # type: ignore[union-attr]
            raise httpcore.WriteError("the peer went away after the first piece")
        return httpcore.Response(200)


def test_pool_home_keeps_one_pool_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Any] = []
    dropped: list[list[object]] = []
    monkeypatch.setattr(_httpcore_sides, "drop_httpcore_connections", dropped.append)

    def make() -> Any:
        made.append(FakePool(connections=[f"connection of pool {len(made)}"]))
        return made[-1]

    home = PoolHome(make)
    assert home.here() is home.latest() is made[0]
    assert dropped == []

    monkeypatch.setattr(_httpcore_sides, "current_pid", lambda: -1)  # as in a forked child
    assert home.here() is made[1]
    assert home.here() is made[1]  # made once
    assert home.latest() is made[1]
    assert dropped == [["connection of pool 0"]]


def test_async_pool_home_keeps_one_pool_per_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[Any] = []
    dropped: list[list[object]] = []
    monkeypatch.setattr(_httpcore_sides, "drop_httpcore_connections", dropped.append)

    def make() -> Any:
        made.append(FakePool(connections=[f"connection of pool {len(made)}"]))
        return made[-1]

    home = AsyncPoolHome(make)
    with pytest.raises(RuntimeError):
        home.here()  # no loop
    assert home.latest() is made[0]  # statistics need no loop

    async def here() -> object:
        return home.here()

    assert anyio.run(here) is made[0]  # the first loop adopts the first pool
    assert anyio.run(here, backend="trio") is made[1]
    assert dropped == [["connection of pool 0"]]  # that asyncio loop has finished
    assert home.latest() is made[1]


def test_a_deadline_bounds_its_block_and_ends_with_it() -> None:
    deadline = Deadline()
    with deadline.exchange(2.0):
        bound = deadline.bound(10.0)
        assert bound is not None
        assert 0 < bound <= 2.0
    assert deadline.end is None

    def failing_read() -> None:
        with deadline.read(1.0, Request("GET", URL)):
            assert deadline.end is not None
            raise KeyError

    with pytest.raises(KeyError):
        failing_read()
    assert deadline.end is None
    with deadline.exchange(None):
        assert deadline.bound(3.0) == 3.0


def test_the_async_deadline_leaves_an_exchange_to_the_caller() -> None:
    async def main() -> None:
        with AsyncDeadline().exchange(0.5):
            await trio.sleep(1.0)  # no bound of its own

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_the_async_deadline_bounds_a_read_whole() -> None:
    request = Request("GET", URL)

    async def main() -> None:
        with AsyncDeadline().read(0.5, request):
            await trio.sleep(1.0)

    with pytest.raises(ReadTimeout, match=r"no data for 0\.5 s\.") as caught:
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert caught.value.request is request


def test_a_shielded_close_finishes_under_cancellation() -> None:
    done: list[str] = []

    async def main() -> None:
        with trio.CancelScope() as scope:
            scope.cancel()
            with shielded_async():
                await trio.sleep(1.0)
                done.append("closed")
            await trio.lowlevel.checkpoint()
            done.append("not reached")

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert done == ["closed"]
    with shielded():
        done.append("sync")
    assert done == ["closed", "sync"]


def test_request_bodies_per_side() -> None:
    def pieces() -> Any:
        yield b"a"
        yield bytearray(b"b")

    raw = httpcore_request(Request("POST", URL, content=b"whole"), Timeout(1.0))
    assert list(raw.stream) == [b"whole"]  # type: ignore[arg-type]
    raw = httpcore_request(Request("POST", URL, content=pieces()), Timeout(1.0))
    assert isinstance(raw.stream, SyncBody)
    assert list(raw.stream) == [b"a", b"b"]
    pool = FakePool()
    assert send(pool, raw).status == 200  # type: ignore[arg-type]
    assert pool.seen == [raw]

    raw = httpcore_request_async(Request("POST", URL, content=b"whole"), Timeout(1.0))
    assert isinstance(raw.stream, AsyncBody)


def test_send_async_closes_the_body_iterator_however_the_send_ended() -> None:
    closed: list[str] = []

    async def pieces() -> AsyncIterator[bytes]:
        try:
            for _ in range(3):
                yield b"piece"
        finally:
            closed.append("closed")

    async def main() -> None:
        raw = httpcore_request_async(Request("POST", URL, content=pieces()), Timeout(1.0))
        with pytest.raises(httpcore.WriteError):
            await send_async(FakePool(), raw)  # type: ignore[arg-type]

    trio.run(main)
    assert closed == ["closed"]
