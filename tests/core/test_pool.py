"""PoolState: a stateful model of a driver, plus the pool's reuse and eviction rules."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sdk_core import Limits, PoolStatistics
from sdk_core.lowlevel import Lease, Origin, Outcome, PoolState

A: Origin = ("https", "a.example", 443)
B: Origin = ("https", "b.example", 443)
C: Origin = ("http", "a.example", 80)
ORIGINS = (A, B, C)
STEPS = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0])


class PoolMachine(RuleBasedStateMachine):
    """Drives PoolState the way a transport does and checks it against a model.

    The model is the driver's view: which ticket holds which lease, which tickets wait
    (in arrival order), which connections are open, idle (and since when) or closed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.held: dict[int, Lease] = {}  # ticket -> its lease
        self.opened_conns: set[int] = set()  # leased connections the driver has opened
        self.waiting: list[int] = []  # tickets, first come first
        self.idle: dict[int, tuple[Origin, float]] = {}  # connection -> (origin, idle since)
        self.closed: set[int] = set()
        self.seen: set[int] = set()  # every connection id ever leased
        self.origins: dict[int, Origin] = {}  # ticket -> the origin it asked for
        self.released: list[Lease] = []  # every lease given back

    @initialize(
        max_connections=st.integers(1, 4),
        max_keepalive=st.none() | st.integers(1, 4),
        expiry=st.none() | st.sampled_from([0.0, 1.0, 2.5]),
    )
    def setup(self, max_connections: int, max_keepalive: int | None, expiry: float | None) -> None:
        self.limits = Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive,
            keepalive_expiry=expiry,
        )
        self.max_idle = min(max_keepalive or max_connections, max_connections)
        self.pool = PoolState(self.limits)

    # -- the driver's side of an outcome ------------------------------------------

    def _check_lease(self, lease: Lease, origin: Origin) -> None:
        assert lease.origin == origin
        assert lease.connection not in self.closed, "a closed connection was leased again"
        assert all(held.connection != lease.connection for held in self.held.values()), (
            "one connection held by two tickets"
        )
        if lease.is_new:
            assert lease.connection not in self.seen
        else:
            assert lease.connection in self.idle, "reused a connection that was not idle"
            assert self.idle[lease.connection][0] == origin
            del self.idle[lease.connection]
        self.seen.add(lease.connection)
        self.held[lease.ticket] = lease
        if not lease.is_new:
            self.opened_conns.add(lease.connection)

    def _apply(self, out: Outcome, *, releasing: int | None = None) -> None:
        for conn in out.close:
            assert conn not in self.closed, "closed twice"
            holders = [t for t, lease in self.held.items() if lease.connection == conn]
            assert not holders or conn == releasing, "closed a connection a request holds"
            self.idle.pop(conn, None)
            self.closed.add(conn)
        woken = [lease.ticket for lease in out.wake]
        # First come, first served: the woken are the longest waiting, in order.
        assert woken == self.waiting[: len(woken)], (woken, self.waiting)
        for lease in out.wake:
            self.waiting.remove(lease.ticket)
            origin = self.origins[lease.ticket]
            self._check_lease(lease, origin)

    # -- rules -----------------------------------------------------------------------

    @rule(origin=st.sampled_from(ORIGINS), step=STEPS)
    def request(self, origin: Origin, step: float) -> None:
        self.now += step
        earlier = list(self.waiting)
        out = self.pool.request(origin, self.now)
        assert out.ticket not in self.origins
        self.origins[out.ticket] = origin
        self._apply(out)
        if out.lease is not None:
            assert out.lease.ticket == out.ticket
            assert len(out.wake) == len(earlier), "a newcomer overtook a waiter"
            self._check_lease(out.lease, origin)
        else:
            self.waiting.append(out.ticket)

    def _unopened(self) -> list[int]:
        return sorted(
            t for t, lease in self.held.items() if lease.connection not in self.opened_conns
        )

    def _busy(self) -> list[int]:
        return sorted(t for t, lease in self.held.items() if lease.connection in self.opened_conns)

    @precondition(lambda self: self._unopened())
    @rule(data=st.data())
    def opened(self, data: st.DataObject) -> None:
        ticket = data.draw(st.sampled_from(self._unopened()))
        conn = self.held[ticket].connection
        self.pool.opened(conn)
        self.opened_conns.add(conn)
        self.pool.opened(conn)  # a second report changes nothing

    @precondition(lambda self: self._busy())
    @rule(data=st.data(), reusable=st.booleans(), step=STEPS)
    def release(self, data: st.DataObject, reusable: bool, step: float) -> None:
        self.now += step
        ticket = data.draw(st.sampled_from(self._busy()))
        lease = self.held.pop(ticket)
        out = self.pool.release(lease, reusable=reusable, now=self.now)
        self.released.append(lease)
        if not reusable:
            assert lease.connection in out.close
        else:
            self.idle[lease.connection] = (lease.origin, self.now)
        self._apply(out, releasing=lease.connection)

    @precondition(lambda self: self._unopened())
    @rule(data=st.data(), reusable=st.booleans())
    def open_failed(self, data: st.DataObject, reusable: bool) -> None:
        ticket = data.draw(st.sampled_from(self._unopened()))
        lease = self.held.pop(ticket)
        # Never opened: dropped whatever the driver says about reuse.
        out = self.pool.release(lease, reusable=reusable, now=self.now)
        assert lease.connection in out.close
        self._apply(out, releasing=lease.connection)

    @precondition(lambda self: self.waiting)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        ticket = data.draw(st.sampled_from(self.waiting))
        assert self.pool.cancel(ticket) is True
        self.waiting.remove(ticket)
        assert self.pool.cancel(ticket) is False  # cancelling twice is harmless

    @precondition(lambda self: self.released)
    @rule(data=st.data())
    def release_again(self, data: st.DataObject) -> None:
        """A stale release changes nothing: its connection may be idle, closed, or by now
        busy with another request, which keeps it."""
        lease = data.draw(st.sampled_from(self.released))
        before = self.pool.statistics()
        out = self.pool.release(lease, reusable=data.draw(st.booleans()), now=self.now)
        assert out == Outcome()
        assert self.pool.statistics() == before

    @rule(step=STEPS)
    def expire(self, step: float) -> None:
        self.now += step
        before = dict(self.idle)
        out = self.pool.expire(self.now)
        assert not out.wake
        expiry = self.limits.keepalive_expiry
        for conn in out.close:
            assert conn in before
            assert expiry is not None
            assert self.now - before[conn][1] >= expiry
        self._apply(out)
        if expiry is not None:
            assert all(self.now - since < expiry for _, since in self.idle.values())
        else:
            assert not out.close

    @rule(step=STEPS)
    def advance(self, step: float) -> None:
        self.now += step

    @rule()
    def drain(self) -> None:
        """Release or cancel everything; no slot may stay taken."""
        while self.held or self.waiting:
            for ticket in list(self.waiting):
                assert self.pool.cancel(ticket)
                self.waiting.remove(ticket)
            for ticket in sorted(self.held):
                lease = self.held.pop(ticket)
                reusable = lease.connection in self.opened_conns
                out = self.pool.release(lease, reusable=reusable, now=self.now)
                if reusable:
                    self.idle[lease.connection] = (lease.origin, self.now)
                self._apply(out, releasing=lease.connection)
        stats = self.pool.statistics()
        assert stats.in_use == 0
        assert stats.waiting == 0

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def statistics_match_the_model(self) -> None:
        if not hasattr(self, "pool"):
            return
        stats = self.pool.statistics()
        assert stats == PoolStatistics(
            in_use=len(self.held), idle=len(self.idle), waiting=len(self.waiting)
        )
        assert stats.in_use + stats.idle <= self.limits.max_connections  # type: ignore[operator]
        # A request waits only when no connection can be had: every slot is busy. (So a
        # new request may queue behind the waiters without trying to be served first.)
        if stats.waiting:
            assert stats.idle == 0
            assert stats.in_use == self.limits.max_connections
        assert stats.idle <= self.max_idle
        connections = [lease.connection for lease in self.held.values()]
        assert len(connections) == len(set(connections))
        assert not set(connections) & set(self.idle)
        if self.waiting:  # nobody waits while a slot or an idle connection is free
            assert stats.idle == 0
            assert stats.in_use == self.limits.max_connections

    def teardown(self) -> None:
        if hasattr(self, "pool"):
            self.drain()


TestPoolMachine = PoolMachine.TestCase
TestPoolMachine.settings = settings(
    max_examples=300,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# -- plain unit tests --------------------------------------------------------------


def lease_of(out: Outcome) -> Lease:
    assert out.lease is not None
    return out.lease


def test_reuses_the_most_recently_idle_connection_of_the_origin() -> None:
    pool = PoolState(Limits(max_connections=4, keepalive_expiry=None))
    first = lease_of(pool.request(A, 0.0))
    second = lease_of(pool.request(A, 0.0))
    assert first.is_new
    assert second.is_new
    assert first.connection != second.connection
    for lease in (first, second):
        pool.opened(lease.connection)
    pool.release(first, reusable=True, now=1.0)
    pool.release(second, reusable=True, now=2.0)
    assert pool.statistics() == PoolStatistics(in_use=0, idle=2, waiting=0)
    again = lease_of(pool.request(A, 3.0))
    assert not again.is_new
    assert again.connection == second.connection
    assert lease_of(pool.request(A, 3.0)).connection == first.connection


def test_no_reuse_across_origins() -> None:
    pool = PoolState(Limits(max_connections=4))
    lease = lease_of(pool.request(A, 0.0))
    pool.opened(lease.connection)
    pool.release(lease, reusable=True, now=0.0)
    for origin in (B, C):  # same host, other scheme and port, is another origin
        other = lease_of(pool.request(origin, 0.0))
        assert other.is_new
        assert other.connection != lease.connection
    assert pool.statistics() == PoolStatistics(in_use=2, idle=1, waiting=0)


def test_at_max_the_oldest_idle_connection_of_another_origin_is_evicted() -> None:
    pool = PoolState(Limits(max_connections=2, keepalive_expiry=None))
    a = lease_of(pool.request(A, 0.0))
    b = lease_of(pool.request(B, 0.0))
    for lease in (a, b):
        pool.opened(lease.connection)
    pool.release(a, reusable=True, now=1.0)
    pool.release(b, reusable=True, now=2.0)
    out = pool.request(C, 3.0)
    assert out.close == [a.connection]
    assert lease_of(out).is_new
    assert pool.statistics() == PoolStatistics(in_use=1, idle=1, waiting=0)


def test_at_max_without_idle_connections_the_request_waits() -> None:
    pool = PoolState(Limits(max_connections=1))
    first = lease_of(pool.request(A, 0.0))
    out = pool.request(A, 0.0)
    assert out.lease is None
    assert pool.statistics() == PoolStatistics(in_use=1, idle=0, waiting=1)
    pool.opened(first.connection)
    released = pool.release(first, reusable=True, now=1.0)
    assert released.close == []
    assert released.wake == [Lease(out.ticket, first.connection, A, False)]
    assert pool.statistics() == PoolStatistics(in_use=1, idle=0, waiting=0)


def test_a_failed_open_hands_a_new_connection_to_the_waiter() -> None:
    pool = PoolState(Limits(max_connections=1))
    first = lease_of(pool.request(A, 0.0))
    waiter = pool.request(B, 0.0)
    out = pool.release(first, reusable=True, now=0.0)  # never opened
    assert out.close == [first.connection]
    [woken] = out.wake
    assert woken.ticket == waiter.ticket
    assert woken.is_new
    assert woken.origin == B


def test_keepalive_expiry() -> None:
    pool = PoolState(Limits(max_connections=2, keepalive_expiry=5.0))
    lease = lease_of(pool.request(A, 0.0))
    pool.opened(lease.connection)
    pool.release(lease, reusable=True, now=0.0)
    kept = pool.request(A, 4.9)
    assert kept.close == []
    again = lease_of(kept)
    assert again.connection == lease.connection
    assert pool.release(lease, reusable=True, now=4.9) == Outcome()  # stale: not its lease
    pool.release(again, reusable=True, now=4.9)
    assert pool.expire(9.8).close == []
    expired = pool.request(A, 9.9)  # 5.0 s idle: gone
    assert expired.close == [lease.connection]
    assert lease_of(expired).is_new
    assert pool.statistics() == PoolStatistics(in_use=1, idle=0, waiting=0)


def test_expire_alone_and_without_expiry() -> None:
    pool = PoolState(Limits(keepalive_expiry=1.0))
    lease = lease_of(pool.request(A, 0.0))
    pool.opened(lease.connection)
    pool.release(lease, reusable=True, now=0.0)
    out = Outcome()
    assert pool.expire(1.0, out) is out
    assert out.close == [lease.connection]
    assert pool.statistics() == PoolStatistics()

    forever = PoolState(Limits(keepalive_expiry=None))
    lease = lease_of(forever.request(A, 0.0))
    forever.opened(lease.connection)
    forever.release(lease, reusable=True, now=0.0)
    assert forever.expire(1e9).close == []
    assert forever.statistics().idle == 1


def test_idle_connections_beyond_max_keepalive_are_closed_oldest_first() -> None:
    pool = PoolState(Limits(max_connections=3, max_keepalive_connections=1))
    leases = [lease_of(pool.request(A, 0.0)) for _ in range(3)]
    for lease in leases:
        pool.opened(lease.connection)
    assert pool.release(leases[0], reusable=True, now=1.0).close == []
    assert pool.release(leases[1], reusable=True, now=2.0).close == [leases[0].connection]
    assert pool.release(leases[2], reusable=False, now=3.0).close == [leases[2].connection]
    assert pool.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)


def test_double_release_is_harmless() -> None:
    pool = PoolState(Limits(max_connections=1))
    lease = lease_of(pool.request(A, 0.0))
    pool.opened(lease.connection)
    assert pool.release(lease, reusable=True, now=0.0) == Outcome()
    assert pool.release(lease, reusable=True, now=0.0) == Outcome()
    assert pool.release(lease, reusable=False, now=0.0) == Outcome()
    assert pool.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
    assert pool.release(Lease(0, 12345, A, False), reusable=False, now=0.0) == Outcome()


def test_cancel_of_an_unknown_ticket_is_false() -> None:
    pool = PoolState(Limits())
    out = pool.request(A, 0.0)
    assert pool.cancel(out.ticket) is False  # it got a lease, it never waited
    assert pool.cancel(999) is False


def test_opened_of_an_unknown_connection_is_ignored() -> None:
    pool = PoolState(Limits())
    pool.opened(42)
    assert pool.statistics() == PoolStatistics()


def test_close_all_forgets_everything() -> None:
    pool = PoolState(Limits(max_connections=2))
    busy = lease_of(pool.request(A, 0.0))
    pool.opened(busy.connection)
    idle = lease_of(pool.request(B, 0.0))
    pool.opened(idle.connection)
    pool.release(idle, reusable=True, now=0.0)
    opening = lease_of(pool.request(C, 0.0))  # evicts the idle one
    waiter = pool.request(A, 0.0)
    assert waiter.lease is None
    assert sorted(pool.close_all()) == sorted([busy.connection, opening.connection])
    assert pool.statistics() == PoolStatistics()
    assert pool.cancel(waiter.ticket) is False
    assert pool.release(busy, reusable=True, now=0.0) == Outcome()
    assert pool.close_all() == []
    fresh = lease_of(pool.request(A, 0.0))
    assert fresh.is_new
    assert fresh.connection not in (busy.connection, idle.connection, opening.connection)


def test_unbounded_limits() -> None:
    pool = PoolState(Limits(max_connections=None, max_keepalive_connections=None))
    leases = [lease_of(pool.request(A, 0.0)) for _ in range(50)]
    for lease in leases:
        pool.opened(lease.connection)
        assert pool.release(lease, reusable=True, now=0.0).close == []
    assert pool.statistics() == PoolStatistics(in_use=0, idle=50, waiting=0)


def test_waiters_are_served_in_arrival_order_across_origins() -> None:
    pool = PoolState(Limits(max_connections=1, keepalive_expiry=None))
    first = lease_of(pool.request(A, 0.0))
    pool.opened(first.connection)
    w1 = pool.request(B, 0.0)
    w2 = pool.request(A, 0.0)
    out = pool.release(first, reusable=True, now=0.0)
    # The idle A connection would suit w2, but w1 came first: it is evicted for B.
    assert out.close == [first.connection]
    assert [lease.ticket for lease in out.wake] == [w1.ticket]
    assert out.wake[0].is_new
    assert pool.statistics() == PoolStatistics(in_use=1, idle=0, waiting=1)
    assert w2.lease is None


def test_a_newcomer_does_not_overtake_a_waiter() -> None:
    pool = PoolState(Limits(max_connections=1))
    first = lease_of(pool.request(A, 0.0))
    pool.opened(first.connection)
    waiter = pool.request(A, 0.0)
    newcomer = pool.request(A, 0.0)
    assert waiter.lease is None
    assert newcomer.lease is None
    out = pool.release(first, reusable=True, now=1.0)
    assert out.wake == [Lease(waiter.ticket, first.connection, A, False)]
    assert pool.statistics() == PoolStatistics(in_use=1, idle=0, waiting=1)
    assert pool.cancel(newcomer.ticket)
    assert pool.statistics() == PoolStatistics(in_use=1, idle=0, waiting=0)
