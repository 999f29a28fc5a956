"""Suite 5: memory, measured in fresh subprocesses (see ``memory_child``)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ..context import Context
from ..results import Row, Table

__all__ = ["run"]

_ROOT = Path(__file__).resolve().parents[2]

GROWTH_SYNC = [
    ("sdk Client (SocketTransport)", "sdk-sync", True),
    ("sdk Client (HttpcoreTransport)", "sdk-sync-httpcore", True),
    ("httpx.Client", "httpx-sync", False),
]
GROWTH_ASYNC = [
    ("sdk AsyncClient (AnyioTransport)", "sdk-async", True),
    ("httpx.AsyncClient", "httpx-async", False),
]
IDLE = [
    ("sdk AsyncClient (AnyioTransport)", "sdk-async", True),
    ("sdk AsyncClient (AsyncHttpcoreTransport)", "sdk-async-httpcore", True),
    ("httpx.AsyncClient", "httpx-async", False),
    ("aiohttp", "aiohttp", False),
]


def _child(ctx: Context, mode: str, counts: list[int], k: int) -> dict[str, object]:
    args = [ctx.python, "-m", "benchmarks.suites.memory_child", mode, ctx.server.base_url]
    args += [",".join(map(str, counts)), str(k)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=_ROOT)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{mode} exited {done.returncode}:\n{done.stderr[-4000:]}")
    result: dict[str, object] = json.loads(lines[-1])
    return result


def run(ctx: Context) -> list[Table]:
    """Peak RSS growth after N requests (sync and async) and memory per idle connection."""
    cfg = ctx.config
    counts = sorted(cfg.memory_counts)
    tables: list[Table] = []
    growth_rows: dict[int, list[Row]] = {count: [] for count in counts}
    async_rows: list[Row] = []
    for name, mode, ours in GROWTH_SYNC:
        ctx.progress.step("memory", f"{name}: {counts[-1]} requests")
        try:
            result = _child(ctx, mode, counts, 0)
            growth = result["growth_kib"]
            assert isinstance(growth, dict)
            for count in counts:
                growth_rows[count].append(Row(name, [float(growth[str(count)])], ours=ours))
        except Exception as exc:
            for count in counts:
                growth_rows[count].append(Row(name, ours=ours, error=str(exc)))
    for name, mode, ours in GROWTH_ASYNC:
        ctx.progress.step("memory", f"{name}: {cfg.memory_async_count} requests")
        try:
            result = _child(ctx, mode, [cfg.memory_async_count], 0)
            growth = result["growth_kib"]
            assert isinstance(growth, dict)
            async_rows.append(Row(name, [float(growth[str(cfg.memory_async_count)])], ours=ours))
        except Exception as exc:
            async_rows.append(Row(name, ours=ours, error=str(exc)))
    rss_rows: list[Row] = []
    heap_rows: list[Row] = []
    for name, mode, ours in IDLE:
        ctx.progress.step("memory", f"{name}: {cfg.idle_connections} idle connections")
        try:
            result = _child(ctx, f"idle-{mode}", [], cfg.idle_connections)
            rss = float(result["rss_kib_per_conn"])  # type: ignore[arg-type]
            heap = float(result["heap_bytes_per_conn"]) / 1024  # type: ignore[arg-type]
            note = f"{result['connections_rss']} connections"
            rss_rows.append(Row(name, [rss], ours=ours, note=note))
            heap_rows.append(
                Row(name, [heap], ours=ours, note=f"{result['connections_heap']} connections")
            )
        except Exception as exc:
            rss_rows.append(Row(name, ours=ours, error=str(exc)))
            heap_rows.append(Row(name, ours=ours, error=str(exc)))
    for count in counts:
        tables.append(
            Table(
                key=f"memory-sync-{count}",
                title=f"Peak RSS growth after {count:,} sequential requests (sync)",
                unit="KiB",
                rows=growth_rows[count],
                ratio_to=["httpx.Client"],
                figure="memory.png",
                note="Fresh process per client; growth of VmHWM over the RSS after imports, "
                "the client and 50 warm-up requests (GET /json, keep-alive).",
                decimals=0,
            )
        )
    tables.append(
        Table(
            key="memory-async",
            title=f"Peak RSS growth after {cfg.memory_async_count:,} sequential requests "
            "(async, asyncio)",
            unit="KiB",
            rows=async_rows,
            ratio_to=["httpx.AsyncClient"],
            figure="memory.png",
            note="As above, one task.",
            decimals=0,
        )
    )
    idle_note = (
        f"{cfg.idle_connections} concurrent GET /json on one client, then RSS (first pass) and "
        "tracemalloc (second pass) growth divided by the pooled connections left open. "
        "httpcore-based pools open far fewer connections than requests in flight."
    )
    tables.append(
        Table(
            key="memory-idle-rss",
            title="RSS per idle pooled connection",
            unit="KiB/connection",
            rows=rss_rows,
            ratio_to=["httpx.AsyncClient", "aiohttp"],
            figure="memory.png",
            note=idle_note,
        )
    )
    tables.append(
        Table(
            key="memory-idle-heap",
            title="Python heap per idle pooled connection",
            unit="KiB/connection",
            rows=heap_rows,
            ratio_to=["httpx.AsyncClient", "aiohttp"],
            figure="memory.png",
            note=idle_note,
        )
    )
    ctx.progress.info("memory", "done")
    return tables
