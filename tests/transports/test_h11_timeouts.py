"""SocketTransport and AnyioTransport (the core's h11 codec and pool) on real sockets: read
and pool timeouts, threads and tasks sharing one transport, and cancellation that frees
every slot; directly and through the clients, on threads, asyncio and trio."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest
from _socket_users import EMPTY, VIA, async_user, check_error, full_backlog, sync_user
from _support.raw_server import RawConnection, RawServer, ok_response

from sdk_core import (
    APIConnectionError,
    ConnectTimeout,
    DeadlineExceeded,
    Limits,
    PoolStatistics,
    PoolTimeout,
    ReadTimeout,
    Response,
    Timeout,
)
from sdk_transports import AnyioTransport, AsyncClient
from sdk_transports.testing import ScenarioApp, ServerHandle

pytestmark = pytest.mark.timeout(30)


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
