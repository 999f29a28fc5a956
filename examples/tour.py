"""A short tour of the SDK core against a real HTTP server on 127.0.0.1.

``make demo`` runs it: it starts a local server, makes the same six calls through
``Client``, ``AsyncClient`` on asyncio and ``AsyncClient`` on trio (the last one streams
Server-Sent Events), prints what happened, and stops the server.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from sdk_core import APIError, RetryPolicy, Timeout
from sdk_transports import AsyncClient, Client
from sdk_transports.testing import ScenarioApp, run_server

# Short backoff so the tour is quick; the server's Retry-After is honoured as sent.
RETRY = RetryPolicy(max_retries=2, initial_delay=0.2, max_delay=1.0)
TIMEOUT = Timeout(5.0, read=0.5)


@dataclass
class Row:
    runner: str
    scenario: str
    outcome: str = ""
    attempts: int = 0
    waits: list[float] = field(default_factory=list)
    seconds: float = 0.0


def scenarios(tag: str) -> list[tuple[str, str, str]]:
    """(name, method, path) for each call; paths carry a per-runner key."""
    return [
        ("success", "GET", "/echo"),
        ("503, 503, then 200", "GET", f"/flaky/{tag}-503?fail=2&status=503"),
        ("429 with Retry-After: 1", "POST", f"/retry-after/{tag}-429?seconds=1"),
        ("404", "GET", "/status/404"),
        ("slow server, 0.5 s read timeout", "GET", "/slow-headers?delay=3"),
        ("stream 5 Server-Sent Events", "STREAM", "/sse?count=5&delay=0.05"),
    ]


@dataclass
class Streamed:
    """What a streamed call gave: the events read and the attempts it took."""

    events: int
    attempts: int


def outcome_of(result: Any) -> tuple[str, int]:
    if isinstance(result, Streamed):
        return f"{result.events} events", result.attempts
    if isinstance(result, APIError):
        return type(result).__name__, result.attempts
    return f"{result.status_code} OK", result.attempts


def run_sync(url: str) -> list[Row]:
    rows: list[Row] = []
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    with Client(url, api_key="demo-key", retry=RETRY, timeout=TIMEOUT, sleep=sleep) as client:
        for name, method, path in scenarios("sync"):
            row, start = Row("Client (threads)", name), time.perf_counter()
            waits.clear()
            try:
                result: Any
                if method == "STREAM":
                    with client.stream("GET", path) as response:
                        events = list(response.iter_events())
                    result = Streamed(len(events), response.attempts)
                else:
                    result = client.request(method, path, json={"demo": True})
            except APIError as exc:
                result = exc
            row.outcome, row.attempts = outcome_of(result)
            row.waits, row.seconds = list(waits), time.perf_counter() - start
            rows.append(row)
    return rows


async def run_async(url: str, runner: str) -> list[Row]:
    rows: list[Row] = []
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await anyio.sleep(seconds)

    recorder: Callable[[float], Awaitable[None]] = sleep
    async with AsyncClient(
        url, api_key="demo-key", retry=RETRY, timeout=TIMEOUT, sleep=recorder
    ) as client:
        for name, method, path in scenarios(runner.split()[-1]):
            row, start = Row(runner, name), time.perf_counter()
            waits.clear()
            try:
                result: Any
                if method == "STREAM":
                    async with client.stream("GET", path) as response:
                        events = [event async for event in response.aiter_events()]
                    result = Streamed(len(events), response.attempts)
                else:
                    result = await client.request(method, path, json={"demo": True})
            except APIError as exc:
                result = exc
            row.outcome, row.attempts = outcome_of(result)
            row.waits, row.seconds = list(waits), time.perf_counter() - start
            rows.append(row)
    return rows


def print_table(rows: list[Row]) -> None:
    headers = ("client", "scenario", "outcome", "attempts", "waits (s)", "time (s)")
    cells = [
        (
            r.runner,
            r.scenario,
            r.outcome,
            str(r.attempts),
            ", ".join(f"{w:.2f}" for w in r.waits) or "-",
            f"{r.seconds:.2f}",
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for cell in cells:
        print("  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)))


def main() -> int:
    started = time.perf_counter()
    with run_server(ScenarioApp()) as server:
        print(f"Serving a scenario app on {server.url}\n")
        rows = run_sync(server.url)
        rows += anyio.run(run_async, server.url, "AsyncClient on asyncio")
        rows += anyio.run(run_async, server.url, "AsyncClient on trio", backend="trio")
    print_table(rows)
    print(f"\nServer stopped. Whole tour: {time.perf_counter() - started:.1f} s.")
    expected = ["200 OK", "200 OK", "200 OK", "NotFoundError", "ReadTimeout", "5 events"]
    ok = all(r.outcome == expected[i % len(expected)] for i, r in enumerate(rows))
    if not ok:
        print("Some calls did not end as expected.", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
