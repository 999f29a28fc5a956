"""Suite 2: N requests split over C tasks sharing one client, on asyncio and on trio."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

import aiohttp
import anyio
import anyio.abc
import httpx
import httpx2

from sdk_core import Limits
from sdk_transports import AnyioTransport, AsyncClient, AsyncHttpcoreTransport

from ..context import Context, on_another_cpu
from ..measure import AsyncBench, arun_rounds, failing_async_batch
from ..nginx import JSON_BODY
from ..results import Table

__all__ = ["fanout", "run"]

PATH = "/json"
ASYNCIO_PEERS = ["httpx.AsyncClient", "httpx2.AsyncClient", "aiohttp", "raw asyncio (floor)"]
TRIO_PEERS = ["httpx.AsyncClient", "httpx2.AsyncClient", "raw anyio (floor)"]
Getter = Callable[[], Awaitable[bytes]]
#: The clients of the separate-CPU tables: ours, the fastest peer, and the floors.
_SPLIT = ("sdk AsyncClient (AnyioTransport)", "aiohttp", "raw asyncio (floor)", "raw anyio (floor)")


def fanout(workers: list[Getter]) -> Callable[[int], Awaitable[int]]:
    """A batch of ``n`` requests split evenly over one task per worker."""
    count = len(workers)

    async def work(get: Getter, per: int) -> None:
        for _ in range(per):
            await get()

    async def batch(n: int) -> int:
        per = max(1, n // count)
        async with anyio.create_task_group() as tg:
            for get in workers:
                tg.start_soon(work, get, per)
        return per * count

    return batch


def _content_length(head: bytes) -> int:
    head = head.lower()
    start = head.index(b"\r\ncontent-length:") + 17
    stop = head.find(b"\r\n", start)
    return int(head[start : stop if stop >= 0 else len(head)])


class _RawProtocol(asyncio.Protocol):
    """The asyncio floor: one connection, pre-encoded requests, framed by hand."""

    def __init__(self, request: bytes) -> None:
        self._request = request
        self._buffer = bytearray()
        self._body_start = 0
        self._end = -1
        self._waiter: asyncio.Future[bytes] | None = None
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if self._end < 0:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            self._body_start = head_end + 4
            self._end = self._body_start + _content_length(bytes(buffer[:head_end]))
        if len(buffer) >= self._end and self._waiter is not None:
            body = bytes(buffer[self._body_start : self._end])
            del buffer[: self._end]
            self._end = -1
            waiter, self._waiter = self._waiter, None
            waiter.set_result(body)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    def get(self) -> asyncio.Future[bytes]:
        assert self._transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(self._request)
        return self._waiter

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class _RawStream:
    """The anyio floor (used on trio): one stream, pre-encoded requests, framed by hand."""

    def __init__(self, stream: anyio.abc.SocketStream, request: bytes) -> None:
        self._stream = stream
        self._request = request
        raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def get(self) -> bytes:
        stream = self._stream
        await stream.send(self._request)
        data = await stream.receive(262144)
        head_end = data.find(b"\r\n\r\n")
        for _ in range(64):
            if head_end >= 0:
                break
            data += await stream.receive(262144)
            head_end = data.find(b"\r\n\r\n")
        end = head_end + 4 + _content_length(data[:head_end])
        for _ in range(100_000):
            if len(data) >= end:
                break
            data += await stream.receive(262144)
        return data[head_end + 4 : end]


def _limits(c: int) -> Limits:
    return Limits(max_connections=c, max_keepalive_connections=c, keepalive_expiry=600.0)


async def _benches(
    ctx: Context, backend: str, c: int, stack: contextlib.AsyncExitStack
) -> list[AsyncBench]:
    server = ctx.server
    base, url = server.base_url, server.url(PATH)
    request = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode()
    entries: list[tuple[str, Callable[[], Awaitable[list[Getter]]], bool, bool]] = []

    def shared(get: Getter) -> list[Getter]:
        return [get] * c

    async def sdk_anyio() -> list[Getter]:
        client = AsyncClient(base, transport=AnyioTransport(limits=_limits(c)))
        await stack.enter_async_context(client)

        async def get() -> bytes:
            return (await client.get(PATH)).content

        return shared(get)

    async def sdk_httpcore() -> list[Getter]:
        client = AsyncClient(base, transport=AsyncHttpcoreTransport(limits=_limits(c)))
        await stack.enter_async_context(client)

        async def get() -> bytes:
            return (await client.get(PATH)).content

        return shared(get)

    async def hx() -> list[Getter]:
        limits = httpx.Limits(
            max_connections=c, max_keepalive_connections=c, keepalive_expiry=600.0
        )
        client = await stack.enter_async_context(httpx.AsyncClient(limits=limits))

        async def get() -> bytes:
            return (await client.get(url)).content

        return shared(get)

    async def hx2() -> list[Getter]:
        limits = httpx2.Limits(
            max_connections=c, max_keepalive_connections=c, keepalive_expiry=600.0
        )
        client = await stack.enter_async_context(httpx2.AsyncClient(limits=limits))

        async def get() -> bytes:
            content: bytes = (await client.get(url)).content
            return content

        return shared(get)

    async def aio() -> list[Getter]:
        connector = aiohttp.TCPConnector(limit=c, limit_per_host=c, keepalive_timeout=600.0)
        session = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))

        async def get() -> bytes:
            async with session.get(url) as response:
                return await response.read()

        return shared(get)

    async def raw_asyncio() -> list[Getter]:
        loop = asyncio.get_running_loop()
        getters: list[Getter] = []
        for _ in range(c):
            _, protocol = await loop.create_connection(
                lambda: _RawProtocol(request), "127.0.0.1", server.port
            )
            stack.callback(protocol.close)
            getters.append(protocol.get)
        return getters

    async def raw_anyio() -> list[Getter]:
        getters: list[Getter] = []
        for _ in range(c):
            stream = await anyio.connect_tcp("127.0.0.1", server.port)
            await stack.enter_async_context(stream)
            getters.append(_RawStream(stream, request).get)
        return getters

    entries += [
        ("sdk AsyncClient (AnyioTransport)", sdk_anyio, True, False),
        ("sdk AsyncClient (AsyncHttpcoreTransport)", sdk_httpcore, True, False),
        ("httpx.AsyncClient", hx, False, False),
        ("httpx2.AsyncClient", hx2, False, False),
    ]
    if backend == "asyncio":
        entries += [
            ("aiohttp", aio, False, False),
            ("raw asyncio (floor)", raw_asyncio, False, True),
        ]
    else:
        entries += [("raw anyio (floor)", raw_anyio, False, True)]

    benches = []
    for name, make, ours, floor in entries:
        try:
            workers = await make()
            batch = fanout(workers)
            body = await workers[0]()
            if body != JSON_BODY:
                raise AssertionError(f"{name} got {body!r}")
            await batch(2 * c)  # warm up: opens the C connections
        except Exception as exc:
            batch = failing_async_batch(exc)
        benches.append(AsyncBench(name, batch, ours=ours, floor=floor))
    return benches


def run(ctx: Context) -> list[Table]:
    """A table per (event loop, concurrency)."""
    cfg = ctx.config
    tables: list[Table] = []

    async def main(backend: str) -> None:
        for c in cfg.concurrency:
            label = f"{backend}, C={c}"
            ctx.progress.step("async", f"{label}: connecting")
            async with contextlib.AsyncExitStack() as stack:
                benches = await _benches(ctx, backend, c, stack)
                rows = await arun_rounds(
                    benches, cfg.async_requests, cfg.async_rounds, ctx.progress, "async", label
                )
            per = max(1, cfg.async_requests // c) * c
            tables.append(
                Table(
                    key=f"async-{backend}-{c}",
                    title=f"Async on {backend}, {c} concurrent",
                    unit="µs/request",
                    rows=rows,
                    ratio_to=ASYNCIO_PEERS if backend == "asyncio" else TRIO_PEERS,
                    figure=f"async-{backend}.png",
                    note=f"{per} GET {PATH} per measurement split over {c} tasks sharing one "
                    f"client (pool limit {c}); {cfg.async_rounds} rounds.",
                )
            )
            ctx.progress.info("async", f"{label} done")

    async def split(backend: str) -> None:
        """C=64 once more with this process on another CPU than nginx: each response then
        arrives while the client waits, so the costs of waiting (timers, scopes, the
        poller) count, as they do on a real network."""
        c = 64
        label = f"{backend}, C={c}, separate CPUs"
        ctx.progress.step("async", f"{label}: connecting")
        async with contextlib.AsyncExitStack() as stack:
            benches = [b for b in await _benches(ctx, backend, c, stack) if b.name in _SPLIT]
            rows = await arun_rounds(
                benches, cfg.async_requests, cfg.async_rounds, ctx.progress, "async", label
            )
        per = max(1, cfg.async_requests // c) * c
        tables.append(
            Table(
                key=f"async-{backend}-{c}-split",
                title=f"Async on {backend}, {c} concurrent, client and nginx on separate CPUs",
                unit="µs/request",
                rows=rows,
                ratio_to=[
                    p
                    for p in (ASYNCIO_PEERS if backend == "asyncio" else TRIO_PEERS)
                    if p in _SPLIT
                ],
                note=f"{per} GET {PATH} per measurement split over {c} tasks; this process "
                "moved to another CPU than nginx for this table only (cross-CPU wake-ups "
                f"add noise); {cfg.async_rounds} rounds.",
            )
        )

    for backend in ("asyncio", "trio"):
        anyio.run(main, backend, backend=backend)
    with on_another_cpu(cfg) as moved:
        if moved:  # else no separate-CPU tables
            for backend in ("asyncio", "trio"):
                anyio.run(split, backend, backend=backend)
    return tables
