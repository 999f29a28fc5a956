"""The memory suite's subprocess: one client, then its RSS, printed as one JSON line.

``python -m benchmarks.suites.memory_child MODE PORT COUNTS K``. Growth is measured from
a baseline taken after the imports, the client and 50 warm-up requests: the peak RSS
(VmHWM, reset through /proc/self/clear_refs) after each cumulative count of requests.
The idle modes (async clients: K concurrent requests open up to K connections) report RSS
and Python-heap (tracemalloc) bytes per pooled connection that stays open afterwards.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

__all__ = ["main"]


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _sync_growth(get: Callable[[], object], counts: list[int]) -> dict[str, object]:
    for _ in range(50):
        get()
    gc.collect()
    baseline = _status_kib("VmRSS")
    reset = _reset_peak()
    growth, done = {}, 0
    for count in counts:
        for _ in range(count - done):
            get()
        done = count
        growth[str(count)] = _status_kib("VmHWM") - baseline
    return {"baseline_kib": baseline, "growth_kib": growth, "peak_reset": reset}


async def _async_growth(
    get: Callable[[], Awaitable[object]], counts: list[int]
) -> dict[str, object]:
    for _ in range(50):
        await get()
    gc.collect()
    baseline = _status_kib("VmRSS")
    reset = _reset_peak()
    growth, done = {}, 0
    for count in counts:
        for _ in range(count - done):
            await get()
        done = count
        growth[str(count)] = _status_kib("VmHWM") - baseline
    return {"baseline_kib": baseline, "growth_kib": growth, "peak_reset": reset}


def _growth(mode: str, base: str, counts: list[int]) -> dict[str, object]:
    if mode == "sdk-sync":
        from sdk_core import Limits
        from sdk_transports import Client, SocketTransport

        with Client(base, transport=SocketTransport(limits=Limits(keepalive_expiry=600))) as c:
            return _sync_growth(lambda: c.get("/json").content, counts)
    if mode == "sdk-sync-httpcore":
        from sdk_transports import Client

        with Client(base) as c:
            return _sync_growth(lambda: c.get("/json").content, counts)
    if mode == "httpx-sync":
        import httpx

        with httpx.Client(base_url=base) as hc:
            return _sync_growth(lambda: hc.get("/json").content, counts)
    if mode == "sdk-async":
        from sdk_core import Limits
        from sdk_transports import AnyioTransport, AsyncClient

        async def sdk_main() -> dict[str, object]:
            transport = AnyioTransport(limits=Limits(keepalive_expiry=600))
            async with AsyncClient(base, transport=transport) as ac:

                async def get() -> bytes:
                    return (await ac.get("/json")).content

                return await _async_growth(get, counts)

        return asyncio.run(sdk_main())
    if mode == "httpx-async":
        import httpx

        async def httpx_main() -> dict[str, object]:
            async with httpx.AsyncClient(base_url=base) as hac:

                async def get() -> bytes:
                    return (await hac.get("/json")).content

                return await _async_growth(get, counts)

        return asyncio.run(httpx_main())
    raise SystemExit(f"unknown mode {mode}")


async def _measure_async(
    fan: Callable[[], Awaitable[None]], count: Callable[[], int]
) -> tuple[int, int, int]:
    gc.collect()
    before, heap_before = _status_kib("VmRSS"), tracemalloc.get_traced_memory()[0]
    await fan()
    gc.collect()
    heap = tracemalloc.get_traced_memory()[0] - heap_before
    return _status_kib("VmRSS") - before, heap, count()


def _idle(mode: str, base: str, k: int) -> dict[str, object]:
    """RSS KiB per idle connection (then, in a second pass, tracemalloc bytes)."""
    from sdk_core import Limits

    limits = Limits(max_connections=k, max_keepalive_connections=k, keepalive_expiry=600)
    result: dict[str, object] = {}
    for pass_name in ("rss", "heap"):  # tracemalloc's own bookkeeping would inflate RSS
        if pass_name == "heap":
            tracemalloc.start()
        rss, heap, conns = asyncio.run(_idle_async(mode, base, k, limits))
        if pass_name == "heap":
            tracemalloc.stop()
            result["heap_bytes_per_conn"] = heap / max(1, conns)
        else:
            result["rss_kib_per_conn"] = rss / max(1, conns)
        result[f"connections_{pass_name}"] = conns
    return result


_KEEP: list[object] = []


async def _idle_async(mode: str, base: str, k: int, limits: object) -> tuple[int, int, int]:
    # The client stays open (kept in _KEEP) until the process ends: its connections are
    # what is measured.
    if mode in ("sdk-async", "sdk-async-httpcore"):
        from sdk_transports import AnyioTransport, AsyncClient, AsyncHttpcoreTransport

        cls = AnyioTransport if mode == "sdk-async" else AsyncHttpcoreTransport
        client = AsyncClient(base, transport=cls(limits=limits))  # type: ignore[arg-type]
        _KEEP.append(client)

        async def get() -> object:
            return (await client.get("/json")).content

        def count() -> int:
            return client.statistics().idle

    elif mode == "httpx-async":
        import httpx

        hclient = httpx.AsyncClient(
            base_url=base, limits=httpx.Limits(max_connections=k, max_keepalive_connections=k)
        )
        _KEEP.append(hclient)

        async def get() -> object:
            return (await hclient.get("/json")).content

        def count() -> int:
            return len(hclient._transport._pool.connections)  # type: ignore[attr-defined]

    else:
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=k))
        _KEEP.append(session)

        async def get() -> object:
            async with session.get(base + "/json") as response:
                return await response.read()

        def count() -> int:
            connector = session.connector
            assert connector is not None
            return sum(len(v) for v in connector._conns.values())

    for _ in range(3):
        await get()

    async def fan() -> None:
        await asyncio.gather(*(get() for _ in range(k)))

    return await _measure_async(fan, count)


def main(argv: list[str]) -> None:
    """``MODE BASE_URL COUNTS K`` -> one JSON line on stdout."""
    mode, base, counts_text, k_text = argv
    if mode.startswith("idle-"):
        result = _idle(mode.removeprefix("idle-"), base, int(k_text))
    else:
        result = _growth(mode, base, [int(c) for c in counts_text.split(",")])
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
