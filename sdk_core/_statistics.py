"""``PoolStatistics``: a snapshot of a connection pool."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PoolStatistics"]


@dataclass(frozen=True, slots=True)
class PoolStatistics:
    """Connections serving a request, idle connections kept alive, requests waiting."""

    in_use: int = 0
    idle: int = 0
    waiting: int = 0
