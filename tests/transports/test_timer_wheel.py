"""The async backends' timeouts: ``TimerWheel`` on asyncio shares loop timers by bucket
(driven by a fake loop clock), ``TrioTimeouts`` runs on trio's ``MockClock``; nothing
waits in real time."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import pytest

from sdk_transports._backends._asyncio import TimerWheel as _TimerWheel
from sdk_transports._backends._buckets import bucket as _bucket


class FakeLoop:
    """The two loop methods the wheel uses; ``call_at`` only records."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.timers: list[tuple[float, Callable[..., Any], tuple[Any, ...]]] = []
        self.real = asyncio.new_event_loop()

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> None:
        self.timers.append((when, callback, args))

    def fire_until(self, now: float) -> None:
        self.now = now
        due = [t for t in self.timers if t[0] <= now]
        self.timers = [t for t in self.timers if t[0] > now]
        for _, callback, args in due:
            callback(*args)


@pytest.fixture
def loop() -> Any:
    fake = FakeLoop()
    yield fake
    fake.real.close()


def test_waits_in_one_tick_share_one_timer_and_fail_together(loop: Any) -> None:
    wheel = _TimerWheel(loop)
    waiters = [loop.real.create_future() for _ in range(64)]
    buckets = set()
    for i, waiter in enumerate(waiters):
        loop.now = 1000.01 + i * 0.0001  # all within one 62.5 ms tick of a 1 s timeout
        buckets.add(wheel.add(waiter, 1.0))
    assert len(buckets) == 1
    assert len(loop.timers) == 1
    when = loop.timers[0][0]
    assert 1001.0164 <= when <= 1001.0164 + 1.0 / 16  # at or after the last deadline
    done_early = waiters[0]
    done_early.set_result(None)
    wheel.discard(when, done_early)
    loop.fire_until(when - 0.001)
    assert not any(w.done() for w in waiters[1:])
    loop.fire_until(when)
    assert all(isinstance(w.exception(), TimeoutError) for w in waiters[1:])
    assert done_early.result() is None


def test_ticks_follow_the_timeout_within_bounds(loop: Any) -> None:
    wheel = _TimerWheel(loop)
    short = wheel.add(loop.real.create_future(), 0.004)  # tick 1 ms (the floor)
    long = wheel.add(loop.real.create_future(), 60.0)  # tick 250 ms (the ceiling)
    assert 1000.004 <= short <= 1000.005 + 1e-9
    assert 1060.0 <= long <= 1060.25
    assert len(loop.timers) == 2


def test_a_bucket_fired_empty_is_harmless(loop: Any) -> None:
    wheel = _TimerWheel(loop)
    waiter = loop.real.create_future()
    when = wheel.add(waiter, 0.5)
    waiter.set_result(None)
    wheel.discard(when, waiter)
    loop.fire_until(when)
    wheel.discard(when, waiter)  # after the bucket is gone: nothing to do
    assert waiter.result() is None


class _FakeAnyioStream:
    """What ``_TrioStream`` needs of an anyio stream: the raw socket and aclose."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def extra(self, attribute: Any, default: Any = None) -> Any:
        return self.sock

    async def aclose(self) -> None:
        self.sock.close()


def test_trio_read_timeouts_expire_waits_on_virtual_time() -> None:
    """``_TrioTimeouts`` on trio's autojumping clock: a 5 s and a 2 s wait on silent
    sockets end in TimeoutError near their deadlines (the watcher wakes early for the
    later-added, earlier bucket); a wait whose bytes arrive is left alone."""
    trio = pytest.importorskip("trio")
    trio_testing = pytest.importorskip("trio.testing")
    from sdk_transports._backends._trio import TrioStream as _TrioStream
    from sdk_transports._backends._trio import TrioTimeouts as _TrioTimeouts

    pairs = [socket.socketpair() for _ in range(3)]
    for a, _ in pairs:
        a.setblocking(False)
    ended: dict[str, float] = {}

    async def main() -> None:
        timeouts = _TrioTimeouts(trio)
        fakes: list[Any] = [_FakeAnyioStream(a) for a, _ in pairs]
        streams = [_TrioStream(fake, trio, timeouts) for fake in fakes]

        async def silent(name: str, stream: _TrioStream, timeout: float) -> None:
            with pytest.raises(TimeoutError):
                await stream.receive(1024, timeout)
            ended[name] = trio.current_time()

        async def answered(stream: _TrioStream, peer: socket.socket) -> None:
            async def answer() -> None:
                await trio.sleep(1.0)
                peer.send(b"hello")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(answer)
                assert await stream.receive(1024, 3.0) == b"hello"
            ended["answered"] = trio.current_time()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(silent, "5s", streams[0], 5.0)
            await trio.sleep(0.01)
            nursery.start_soon(silent, "2s", streams[1], 2.0)
            nursery.start_soon(answered, streams[2], pairs[2][1])

    try:
        trio.run(main, clock=trio_testing.MockClock(autojump_threshold=0))
    finally:
        for a, b in pairs:
            a.close()
            b.close()
    assert 5.0 <= ended["5s"] <= 5.01 + 5.0 / 16
    assert 2.01 <= ended["2s"] <= 2.01 + 2.0 / 16
    assert ended["answered"] == pytest.approx(1.01)


def test_expiring_a_stream_closed_under_it_is_harmless() -> None:
    """The watcher may fire for a wait whose socket was just closed: it must not raise
    (an exception in trio's system task would end the whole run)."""
    trio = pytest.importorskip("trio")
    from sdk_transports._backends._trio import TrioStream as _TrioStream
    from sdk_transports._backends._trio import TrioTimeouts as _TrioTimeouts

    async def main() -> None:
        a, b = socket.socketpair()
        fake: Any = _FakeAnyioStream(a)
        stream = _TrioStream(fake, trio, _TrioTimeouts(trio))
        a.close()  # closed under the stream
        stream.expire()
        await stream.aclose()
        stream.expire()
        b.close()

    trio.run(main)


def test_buckets_follow_each_timeout_and_the_tick_cache_stays_small(loop: Any) -> None:
    wheel = _TimerWheel(loop)
    for step in range(200):  # timeouts capped by a call's deadline take any value
        timeout = 0.01 + step * 0.037
        loop.now = 1000.0 + step * 0.013
        assert wheel.add(loop.real.create_future(), timeout) == _bucket(loop.now, timeout)
        assert len(wheel._ticks) <= 64
