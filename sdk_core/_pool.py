"""``PoolState``: the connection pool's bookkeeping, with no I/O and no waiting.

Drivers call it under their own lock (threads) or from one task at a time (async) and
carry out what it returns: open a connection, use one, close some, wake a waiter.
Waiters are served first come, first served. Invariants, checked by the stateful test:
in use + idle <= max_connections; idle <= max_keepalive_connections; no connection is
held by two requests; every released or cancelled request frees its slot.
"""

from __future__ import annotations

import enum
import sys
from collections import OrderedDict
from dataclasses import dataclass, field

from ._config import Limits
from ._statistics import PoolStatistics

__all__ = ["Lease", "Origin", "PoolState"]

Origin = tuple[str, str, int]


class _Conn(enum.Enum):
    OPENING = "opening"
    BUSY = "busy"
    IDLE = "idle"


@dataclass(slots=True)  # not frozen: one is built per request (docs/performance.md)
class Lease:
    """Connection ``connection`` is this request's; ``is_new``: the driver opens it."""

    ticket: int
    connection: int
    origin: Origin
    is_new: bool


@dataclass(slots=True)
class _Entry:
    origin: Origin
    state: _Conn
    idle_since: float = 0.0
    ticket: int = 0  # the lease holding it (while opening or busy)


@dataclass(slots=True)
class Outcome:
    """What one bookkeeping step asks the driver to do."""

    lease: Lease | None = None  # for ``request``: the lease, or None to wait
    ticket: int = 0
    wake: list[Lease] = field(default_factory=list)  # waiters to hand a lease to
    close: list[int] = field(default_factory=list)  # connections to close


class PoolState:
    """Which request gets which connection, bounded by ``Limits``."""

    def __init__(self, limits: Limits) -> None:
        most, idle = limits.max_connections, limits.max_keepalive_connections
        self._max = sys.maxsize if most is None else most
        self._max_idle = min(sys.maxsize if idle is None else idle, self._max)
        self._expiry = limits.keepalive_expiry
        self._entries: dict[int, _Entry] = {}
        self._idle: OrderedDict[int, None] = OrderedDict()  # oldest first
        self._waiters: OrderedDict[int, Origin] = OrderedDict()
        self._next = 0

    def _id(self) -> int:
        self._next += 1
        return self._next

    def statistics(self) -> PoolStatistics:
        """Connections in use (opening or busy), idle, and requests waiting."""
        idle = len(self._idle)
        return PoolStatistics(len(self._entries) - idle, idle, len(self._waiters))

    def _take(self, ticket: int, origin: Origin, out: Outcome) -> Lease | None:
        for conn in reversed(self._idle):  # the most recently used first
            entry = self._entries[conn]
            if entry.origin == origin:
                del self._idle[conn]
                entry.state = _Conn.BUSY
                entry.ticket = ticket
                return Lease(ticket, conn, origin, False)
        if len(self._entries) >= self._max:
            if not self._idle:
                return None
            oldest, _ = self._idle.popitem(last=False)
            del self._entries[oldest]
            out.close.append(oldest)
        conn = self._id()
        self._entries[conn] = _Entry(origin, _Conn.OPENING, ticket=ticket)
        return Lease(ticket, conn, origin, True)

    def _serve_waiters(self, out: Outcome) -> None:
        for ticket, origin in list(self._waiters.items()):
            lease = self._take(ticket, origin, out)
            if lease is None:
                break  # first come, first served: nobody overtakes the head
            del self._waiters[ticket]
            out.wake.append(lease)

    def expire(self, now: float, out: Outcome | None = None) -> Outcome:
        """Drop idle connections older than ``keepalive_expiry``.

        The idle connections are kept in the order they were released, and the times
        given are from one monotonic clock, so the oldest come first and the scan stops
        at the first one still fresh: O(expired), not O(idle), per request.
        """
        out = out if out is not None else Outcome()
        expiry = self._expiry
        if expiry is not None:
            idle, entries = self._idle, self._entries
            stale = []
            for conn in idle:
                if now - entries[conn].idle_since < expiry:
                    break
                stale.append(conn)
            if stale:
                for conn in stale:
                    del idle[conn]
                    del entries[conn]
                out.close += stale
        return out

    def request(self, origin: Origin, now: float) -> Outcome:
        """A request for ``origin`` arrives: a lease now, or a ticket to wait on."""
        out = self.expire(now)
        ticket = self._id()
        out.ticket = ticket
        if not self._waiters:  # nobody to queue behind: a lease now, or the queue's head
            out.lease = self._take(ticket, origin, out)
            if out.lease is None:
                self._waiters[ticket] = origin
            return out
        # Requests wait only while no connection can be had (every release and expiry
        # serves them first), so this one cannot be served either: behind them it goes.
        self._waiters[ticket] = origin
        return out

    def release(self, lease: Lease, *, reusable: bool, now: float) -> Outcome:
        """``lease``'s request is done with its connection (opened or not); pool it or
        drop it. A lease released twice, or after its connection went to another
        request, changes nothing."""
        out = Outcome()
        connection = lease.connection
        entry = self._entries.get(connection)
        if entry is None or entry.state is _Conn.IDLE or entry.ticket != lease.ticket:
            return out  # already dropped (expired, closed by the pool) or released twice
        if reusable and entry.state is _Conn.BUSY:
            entry.state = _Conn.IDLE
            entry.idle_since = now
            self._idle[connection] = None
        else:
            del self._entries[connection]
            out.close.append(connection)
        if self._waiters:
            self._serve_waiters(out)
        while len(self._idle) > self._max_idle:
            oldest, _ = self._idle.popitem(last=False)
            del self._entries[oldest]
            out.close.append(oldest)
        return out

    def opened(self, connection: int) -> None:
        """The driver opened ``connection``; it is now busy with its request."""
        entry = self._entries.get(connection)
        if entry is not None and entry.state is _Conn.OPENING:
            entry.state = _Conn.BUSY

    def cancel(self, ticket: int) -> bool:
        """A waiting request gave up; True when it was still waiting (no lease given)."""
        return self._waiters.pop(ticket, None) is not None

    def close_all(self) -> list[int]:
        """Forget every connection; returns those the driver must close."""
        conns = list(self._entries)
        self._entries.clear()
        self._idle.clear()
        self._waiters.clear()
        return conns
