"""Interleaved rounds: every client runs one timed batch per round, in a rotated order.

Interleaving spreads slow drifts of the machine (frequency, other load) over every client
instead of charging them to whichever ran last. A client that raises is reported with its
traceback and left out of the remaining rounds; the others go on.
"""

from __future__ import annotations

import gc
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from .progress import Progress
from .results import Row

__all__ = [
    "AsyncBench",
    "SyncBench",
    "arun_rounds",
    "failing_async_batch",
    "failing_batch",
    "run_rounds",
]


@dataclass
class SyncBench:
    """A client to time: ``batch(n)`` makes ``n`` requests and returns how many it made."""

    name: str
    batch: Callable[[int], int]
    ours: bool = False
    floor: bool = False
    #: Called with ``n`` before each timed batch, outside the timing.
    prepare: Callable[[int], None] | None = None


@dataclass
class AsyncBench:
    """As ``SyncBench``, with an async ``batch``."""

    name: str
    batch: Callable[[int], Awaitable[int]]
    ours: bool = False
    floor: bool = False
    #: Awaited with ``n`` before each timed batch, outside the timing.
    prepare: Callable[[int], Awaitable[None]] | None = None


def failing_batch(exc: BaseException) -> Callable[[int], int]:
    """A batch that raises ``exc``: a client whose setup failed is reported like one that
    failed while measured."""

    def batch(n: int) -> int:
        raise exc

    return batch


def failing_async_batch(exc: BaseException) -> Callable[[int], Awaitable[int]]:
    """``failing_batch`` for async clients."""

    async def batch(n: int) -> int:
        raise exc

    return batch


def _rotated(count: int, round_index: int) -> list[int]:
    shift = round_index % count if count else 0
    return list(range(shift, count)) + list(range(shift))


def _failed(row: Row, exc: BaseException, progress: Progress, suite: str) -> None:
    row.error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    progress.info(suite, f"ERROR in {row.name}: {type(exc).__name__}: {exc}")


def run_rounds(
    benches: Sequence[SyncBench],
    requests: int,
    rounds: int,
    progress: Progress,
    suite: str,
    label: str,
) -> list[Row]:
    """Time ``rounds`` interleaved batches of ``requests``; µs per request in each row."""
    rows = [Row(b.name, ours=b.ours, floor=b.floor) for b in benches]
    for round_index in range(rounds):
        progress.step(suite, f"{label}: round {round_index + 1}/{rounds}")
        for i in _rotated(len(benches), round_index):
            row = rows[i]
            if row.error is not None:
                continue
            gc.collect()
            bench = benches[i]
            try:
                if bench.prepare is not None:
                    bench.prepare(requests)
                start = time.perf_counter()
                done = bench.batch(requests)
                elapsed = time.perf_counter() - start
            except Exception as exc:
                _failed(row, exc, progress, suite)
                continue
            row.values.append(elapsed / done * 1e6)
    return rows


async def arun_rounds(
    benches: Sequence[AsyncBench],
    requests: int,
    rounds: int,
    progress: Progress,
    suite: str,
    label: str,
) -> list[Row]:
    """``run_rounds`` for async clients, inside the running event loop."""
    rows = [Row(b.name, ours=b.ours, floor=b.floor) for b in benches]
    for round_index in range(rounds):
        progress.step(suite, f"{label}: round {round_index + 1}/{rounds}")
        for i in _rotated(len(benches), round_index):
            row = rows[i]
            if row.error is not None:
                continue
            gc.collect()
            abench = benches[i]
            try:
                if abench.prepare is not None:
                    await abench.prepare(requests)
                start = time.perf_counter()
                done = await abench.batch(requests)
                elapsed = time.perf_counter() - start
            except Exception as exc:
                _failed(row, exc, progress, suite)
                continue
            row.values.append(elapsed / done * 1e6)
    return rows
