"""Timeout buckets shared by the asyncio and trio read timers: waits with one timeout
that start close together end on the same tick, so one timer serves them all."""

from __future__ import annotations

import math

__all__ = ["bucket", "tick"]


def tick(timeout: float) -> float:
    """The spacing of the buckets of waits with ``timeout``: 1/16 of it, 1 to 250 ms."""
    return min(max(timeout / 16, 0.001), 0.25)


def bucket(now: float, timeout: float) -> float:
    """The first tick at or after ``now + timeout``: waits with one timeout that start
    close together share it."""
    spacing = tick(timeout)
    return math.ceil((now + timeout) / spacing) * spacing
