"""Suite 3: the SDK's own cost with no network (MockTransport), and the pure ``Call`` loop."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Awaitable, Callable

import anyio
import httpx
import httpx2

from sdk_core import Call, Completed, Request, Response, SendRequest
from sdk_transports import AsyncClient, Client, MockTransport

from ..context import Context
from ..measure import AsyncBench, SyncBench, arun_rounds, run_rounds
from ..nginx import JSON_BODY
from ..results import Row, Table

__all__ = ["call_loop", "run"]

BASE = "http://api.test"
PEERS = ["httpx.Client", "httpx2.Client"]
ASYNC_PEERS = ["httpx.AsyncClient", "httpx2.AsyncClient"]
_HEADERS = {"content-type": "application/json", "content-length": str(len(JSON_BODY))}
#: The body of the POST table: a small chat-style JSON request.
PAYLOAD = {
    "model": "model-1",
    "messages": [{"role": "user", "content": "Say hello."}],
    "max_tokens": 16,
}


def call_loop(request: Request, response: Response) -> Callable[[int], int]:
    """``n`` pure calls: ``Call`` driven to ``Completed`` with a prebuilt response.

    Every call draws from one ``random.Random(0)`` made beforehand, as a client's calls
    share the client's (seeding a new one per call would add some 3.5 µs of seeding).
    """
    rng = random.Random(0)

    def batch(n: int) -> int:
        for _ in range(n):
            call = Call(request, now=0.0, rng=rng)
            event = call.next_event()
            assert isinstance(event, SendRequest)
            call.receive_response(response, now=0.0)
            assert isinstance(call.next_event(), Completed)
        return n

    return batch


def _sync_loop(get: Callable[[], object]) -> Callable[[int], int]:
    def batch(n: int) -> int:
        for _ in range(n):
            get()
        return n

    return batch


def _async_loop(get: Callable[[], Awaitable[object]]) -> Callable[[int], Awaitable[int]]:
    async def batch(n: int) -> int:
        for _ in range(n):
            await get()
        return n

    return batch


async def _main(ctx: Context) -> list[Table]:
    cfg = ctx.config
    sdk_response = Response(200, headers=_HEADERS, content=JSON_BODY)
    sdk_async_response = Response(200, headers=_HEADERS, content=JSON_BODY)
    hx_response = httpx.Response(200, headers=_HEADERS, content=JSON_BODY)
    hx_async_response = httpx.Response(200, headers=_HEADERS, content=JSON_BODY)
    hx2_response = httpx2.Response(200, headers=_HEADERS, content=JSON_BODY)
    hx2_async_response = httpx2.Response(200, headers=_HEADERS, content=JSON_BODY)
    url = BASE + "/json"

    async with contextlib.AsyncExitStack() as stack:
        sdk = stack.enter_context(Client(BASE, transport=MockTransport(lambda r: sdk_response)))
        hx = stack.enter_context(httpx.Client(transport=httpx.MockTransport(lambda r: hx_response)))
        hx2 = stack.enter_context(
            httpx2.Client(transport=httpx2.MockTransport(lambda r: hx2_response))
        )
        asdk = await stack.enter_async_context(
            AsyncClient(BASE, transport=MockTransport(lambda r: sdk_async_response))
        )
        ahx = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.MockTransport(lambda r: hx_async_response))
        )
        ahx2 = await stack.enter_async_context(
            httpx2.AsyncClient(transport=httpx2.MockTransport(lambda r: hx2_async_response))
        )
        core_request = Request("GET", url, headers={"accept": "application/json"})
        sync = [
            SyncBench("sdk Client (MockTransport)", _sync_loop(lambda: sdk.get("/json")), True),
            SyncBench("httpx.Client", _sync_loop(lambda: hx.get(url))),
            SyncBench("httpx2.Client", _sync_loop(lambda: hx2.get(url))),
            SyncBench("sdk_core.Call loop alone", call_loop(core_request, sdk_response), True),
        ]

        async def asdk_get() -> object:
            return await asdk.get("/json")

        async def ahx_get() -> object:
            return await ahx.get(url)

        async def ahx2_get() -> object:
            return await ahx2.get(url)

        asyncs = [
            AsyncBench("sdk AsyncClient (MockTransport)", _async_loop(asdk_get), True),
            AsyncBench("httpx.AsyncClient", _async_loop(ahx_get)),
            AsyncBench("httpx2.AsyncClient", _async_loop(ahx2_get)),
        ]
        posts = [
            SyncBench(
                "sdk Client (MockTransport)",
                _sync_loop(lambda: sdk.post("/json", json=PAYLOAD)),
                True,
            ),
            SyncBench("httpx.Client", _sync_loop(lambda: hx.post(url, json=PAYLOAD))),
            SyncBench("httpx2.Client", _sync_loop(lambda: hx2.post(url, json=PAYLOAD))),
        ]
        for bench in [*sync, *posts]:
            bench.batch(10)
        for abench in asyncs:
            await abench.batch(10)
        # Interleave sync and async clients in the same rounds: alternate one of each.
        rows: dict[str, Row] = {}
        post_rows: dict[str, Row] = {}
        n, rounds = cfg.overhead_requests, cfg.overhead_rounds
        for round_index in range(rounds):
            sync_rows = run_rounds(sync, n, 1, ctx.progress, "overhead", f"round {round_index + 1}")
            for row in run_rounds(posts, n, 1, ctx.progress, "overhead", "POST"):
                kept = post_rows.setdefault(row.name, Row(row.name, ours=row.ours))
                kept.values += row.values
                kept.error = kept.error or row.error
            posts = [*posts[1:], posts[0]]
            async_rows = await arun_rounds(
                asyncs, n, 1, ctx.progress, "overhead", f"round {round_index + 1}/{rounds}"
            )
            for row in [*sync_rows, *async_rows]:
                kept = rows.setdefault(row.name, Row(row.name, ours=row.ours))
                kept.values += row.values
                kept.error = kept.error or row.error
            sync = [*sync[1:], sync[0]]
            asyncs = [*asyncs[1:], asyncs[0]]

    note = (
        f"{n} calls per client per round, {rounds} rounds. The handler returns a prebuilt "
        "response; no sockets. The Call loop builds `Call(request, now=0.0, rng=rng)` and "
        "drives it to `Completed`; every call draws from one `random.Random(0)`, as a "
        "client's calls share the client's."
    )
    order = [
        "sdk Client (MockTransport)",
        "httpx.Client",
        "httpx2.Client",
        "sdk_core.Call loop alone",
    ]
    async_order = ["sdk AsyncClient (MockTransport)", "httpx.AsyncClient", "httpx2.AsyncClient"]
    return [
        Table(
            key="overhead-sync",
            title="SDK overhead, sync, no network",
            unit="µs/call",
            rows=[rows[name] for name in order],
            ratio_to=PEERS,
            figure="overhead.png",
            note=note,
            decimals=2,
        ),
        Table(
            key="overhead-post",
            title="SDK overhead, sync POST with a JSON body, no network",
            unit="µs/call",
            rows=[post_rows[name] for name in order[:3]],
            ratio_to=PEERS,
            figure="overhead.png",
            note=f"{n} calls per client per round, {rounds} rounds: `post(url, json=...)` "
            "with a 100-byte chat-style body. This project's client also adds an "
            "Idempotency-Key to every POST (so that it can be retried); httpx does not.",
            decimals=2,
        ),
        Table(
            key="overhead-async",
            title="SDK overhead, async (asyncio), no network",
            unit="µs/call",
            rows=[rows[name] for name in async_order],
            ratio_to=ASYNC_PEERS,
            figure="overhead.png",
            note=note,
            decimals=2,
        ),
    ]


def run(ctx: Context) -> list[Table]:
    """Two tables: sync and async."""
    tables: list[Table] = anyio.run(_main, ctx, backend="asyncio")
    ctx.progress.info("overhead", "done")
    return tables
