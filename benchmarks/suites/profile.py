"""Optional: where this project's clients spend their time (pyinstrument, self time).

Profiles the sequential sync ``Client`` on ``SocketTransport``, and 64 asyncio tasks
sharing an ``AsyncClient`` on ``AnyioTransport`` and then on ``AsyncHttpcoreTransport``,
all GET /json from nginx. Writes
pyinstrument's call tree to ``profile-*.txt`` and a top-10 by self time to the report.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from pyinstrument import Profiler
from pyinstrument.frame import Frame

from sdk_core import Limits
from sdk_transports import (
    AnyioTransport,
    AsyncClient,
    AsyncHttpcoreTransport,
    AsyncTransport,
    Client,
    SocketTransport,
)

from ..context import Context
from ..results import Table

__all__ = ["run", "top_self_time"]

TOP = 10
#: pyinstrument samples at the first Python event after each interval and charges the
#: whole interval to the stack it finds there. With 100 µs, longer than a request's
#: Python work, most samples land as a blocking socket call returns (three quarters of
#: the time showed up in sendall); 20 µs spreads them out, at about 3x the run time.
PROFILE_INTERVAL = 0.00002


def _walk(frame: Frame, visit: Callable[[Frame], None]) -> None:
    stack = [frame]
    for _ in range(10_000_000):  # bounded: a tree of at most this many frames
        if not stack:
            return
        current = stack.pop()
        visit(current)
        stack.extend(current.children)


_ROOT = str(Path(__file__).resolve().parents[2]) + "/"


def _package(path: str | None) -> str:
    if not path:
        return "<built-in>"
    path = path.replace("\\", "/")
    if path.startswith("<"):
        return path
    if path.startswith(_ROOT) and "site-packages/" not in path:
        return path[len(_ROOT) :].split("/", 1)[0].removesuffix(".py")
    for marker in ("site-packages/", "/lib/python3."):
        if marker in path:
            rest = path.split(marker, 1)[1]
            if marker.startswith("/lib"):
                rest = rest.split("/", 1)[1] if "/" in rest else rest
                return "stdlib:" + rest.split("/", 1)[0].removesuffix(".py")
            return rest.split("/", 1)[0].removesuffix(".py")
    return path.rsplit("/", 1)[-1].removesuffix(".py")


def _is_io(function: str, path: str) -> bool:
    """Socket calls and selector waits: with nginx on the same CPU, its work lands here."""
    if path and not path.startswith("<"):
        return False
    name = function.lower()
    return name.startswith("socket.") or "poll" in name or "select" in name


def top_self_time(profiler: Profiler, title: str) -> str:
    """A markdown section: the top functions and packages by self time, I/O apart."""
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    assert root is not None
    total = root.time or 1.0
    by_function: dict[tuple[str, str, int], float] = defaultdict(float)
    by_package: dict[str, float] = defaultdict(float)
    io: dict[str, float] = defaultdict(float)

    def visit(frame: Frame) -> None:
        if frame.is_synthetic:
            return
        own = frame.total_self_time
        if own <= 0:
            return
        path = frame.file_path_short or ""
        if _is_io(frame.function, frame.file_path or ""):
            io[frame.function] += own
            return
        by_function[(frame.function, path, frame.line_no or 0)] += own
        by_package[_package(frame.file_path)] += own

    _walk(root, visit)
    lines = [
        f"#### {title}",
        "",
        f"{session.sample_count} samples, {total:.2f} s. Self time: the time a function was "
        "on top of the stack.",
        "",
        f"Socket I/O and selector waits: {sum(io.values()) / total * 100:.1f}% ("
        + ", ".join(
            f"`{name}` {own / total * 100:.1f}%"
            for name, own in sorted(io.items(), key=lambda item: -item[1])
        )
        + "); nginx shares the CPU, so its work is counted there. The rest, by function:",
        "",
        "| # | function | where | self % | self ms |",
        "|---:|---|---|---:|---:|",
    ]
    ranked = sorted(by_function.items(), key=lambda item: -item[1])[:TOP]
    for rank, ((function, path, line), own) in enumerate(ranked, 1):
        lines.append(
            f"| {rank} | `{function}` | `{path}:{line}` | {own / total * 100:.1f} | "
            f"{own * 1000:.0f} |"
        )
    lines += ["", "Self time outside socket I/O, by package:", ""]
    packages = sorted(by_package.items(), key=lambda item: -item[1])[:12]
    lines.append(", ".join(f"{name} {own / total * 100:.1f}%" for name, own in packages))
    return "\n".join(lines) + "\n"


def run(ctx: Context) -> list[Table]:
    """Fills ``ctx.profiles``; returns no table."""
    cfg = ctx.config
    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    n = cfg.profile_requests
    limits = Limits(max_connections=64, max_keepalive_connections=64, keepalive_expiry=600.0)

    ctx.progress.step("profile", f"sync Client (SocketTransport): {n} requests")
    with Client(ctx.server.base_url, transport=SocketTransport(limits=limits)) as client:
        for _ in range(50):
            client.get("/json")
        profiler = Profiler(interval=PROFILE_INTERVAL, async_mode="disabled")
        profiler.start()
        for _ in range(n):
            client.get("/json")
        profiler.stop()
    title = (
        f"sync `Client` on `SocketTransport`, {n} sequential GET /json, "
        f"{PROFILE_INTERVAL * 1e6:.0f} µs sampling"
    )
    ctx.profiles["sync"] = top_self_time(profiler, title)
    (out / "profile-sync-socket.txt").write_text(profiler.output_text(unicode=True))

    # The profiler slows the async loop some 4-fold at 20 µs: it gets half the requests.
    # httpcore's pool makes so many small Python calls per request at this concurrency
    # that the profiler's per-call hook slows it some 30-fold: it gets a sixteenth, and
    # 100 µs sampling (its events are dense, so the bias above does not arise).
    per_task = max(1, n // 64)
    for key, cls, label, count, interval in (
        ("async-64", AnyioTransport, "async64-anyio", max(1, per_task // 2), PROFILE_INTERVAL),
        (
            "async-64-httpcore",
            AsyncHttpcoreTransport,
            "async64-httpcore",
            max(2, per_task // 16),
            0.0001,
        ),
    ):
        name = cls.__name__
        ctx.progress.step("profile", f"AsyncClient ({name}), 64 tasks x {count}")
        aprofiler = asyncio.run(_profile_async(ctx, cls(limits=limits), count, interval))
        title = (
            f"`AsyncClient` on `{name}` (asyncio), 64 tasks x {count} GET /json, "
            f"{interval * 1e6:.0f} µs sampling"
        )
        ctx.profiles[key] = top_self_time(aprofiler, title)
        (out / f"profile-{label}.txt").write_text(aprofiler.output_text(unicode=True))
    ctx.progress.info("profile", "done")
    return []


async def _profile_async(
    ctx: Context, transport: AsyncTransport, per_task: int, interval: float
) -> Profiler:
    async with AsyncClient(ctx.server.base_url, transport=transport) as client:

        async def work(count: int) -> None:
            for _ in range(count):
                await client.get("/json")

        await asyncio.gather(*(work(2) for _ in range(64)))  # opens the 64 connections
        profiler = Profiler(interval=interval, async_mode="disabled")
        profiler.start()
        await asyncio.gather(*(work(per_task) for _ in range(64)))
        profiler.stop()
        return profiler
