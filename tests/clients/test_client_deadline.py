"""The total deadline (``Timeout(total=...)``) through Client and AsyncClient on an
injected clock: attempts, sleeps and hints cut to what is left, and a hung attempt
cancelled."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest
from _mock_clients import (
    BASE,
    FakeClock,
    FixedRandom,
    Script,
    async_client,
    error_response,
    never_called,
    ok,
    sync_client,
)

from sdk_core import (
    DeadlineExceeded,
    InternalServerError,
    PoolStatistics,
    RateLimitError,
    ReadTimeout,
    Request,
    Response,
    Timeout,
)
from sdk_transports import AsyncClient, Client, MockTransport

# the total deadline, on an injected clock ----------------------------------------------


class TimingOutTransport:
    """Each attempt 'waits' its whole read timeout on the fake clock, then times out.

    Records the Timeout the client gave every attempt.
    """

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.timeouts: list[Timeout] = []
        self.closed = False

    def _attempt(self, request: Request, timeout: Timeout) -> Response:
        self.timeouts.append(timeout)
        assert timeout.read is not None
        self.clock.now += timeout.read
        raise ReadTimeout(request=request)

    def handle_request(self, request: Request, timeout: Timeout) -> Response:
        return self._attempt(request, timeout)

    async def handle_async_request(self, request: Request, timeout: Timeout) -> Response:
        return self._attempt(request, timeout)

    def statistics(self) -> PoolStatistics:
        return PoolStatistics()

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def check_deadline_cut(
    exc: DeadlineExceeded, transport: TimingOutTransport, clock: FakeClock
) -> None:
    # total=1.0, read=0.3: attempt 1 times out at 0.3; the wait is 0.4375 (0.5 x 0.875);
    # attempt 2 gets what is left (0.2625) as its read timeout and ends at the deadline.
    assert exc.attempts == 2
    assert isinstance(exc.__cause__, ReadTimeout)
    assert clock.sleeps == [pytest.approx(0.4375)]
    first, second = transport.timeouts
    assert (first.connect, first.read, first.write, first.pool) == (0.3, 0.3, 0.3, 0.3)
    assert second.read == pytest.approx(0.2625)
    assert second.connect == second.write == second.pool == pytest.approx(0.2625)
    assert clock.now == pytest.approx(1001.0)


def test_total_deadline_caps_attempts_and_raises_deadline_exceeded_sync() -> None:
    clock = FakeClock(start=1000.0)
    transport = TimingOutTransport(clock)
    client = Client(
        BASE,
        transport=transport,
        timeout=Timeout(0.3, total=1.0),
        clock=clock,
        sleep=clock.sleep,
        rng=FixedRandom(0.5),
        max_retries=5,
    )
    with pytest.raises(DeadlineExceeded) as caught:
        client.get("/slow")
    check_deadline_cut(caught.value, transport, clock)


@pytest.mark.anyio
async def test_total_deadline_caps_attempts_and_raises_deadline_exceeded_async() -> None:
    clock = FakeClock(start=1000.0)
    transport = TimingOutTransport(clock)
    client = AsyncClient(
        BASE,
        transport=transport,
        timeout=Timeout(0.3, total=1.0),
        clock=clock,
        sleep=clock.asleep,
        rng=FixedRandom(0.5),
        max_retries=5,
    )
    with pytest.raises(DeadlineExceeded) as caught:
        await client.get("/slow")
    check_deadline_cut(caught.value, transport, clock)


def test_a_wait_past_the_deadline_ends_retries_with_the_last_error_sync() -> None:
    # total=1.0: the first wait (0.4375) fits, the second (0.875) would pass the deadline,
    # so the call stops at once with the last status error, no sleep past the deadline.
    clock = FakeClock()
    script = Script(error_response(503))
    client = sync_client(script, clock, timeout=Timeout(5.0, total=1.0), max_retries=5)
    with pytest.raises(InternalServerError) as caught:
        client.get("/items")
    assert caught.value.attempts == 2
    assert clock.sleeps == [pytest.approx(0.4375)]


@pytest.mark.anyio
async def test_a_wait_past_the_deadline_ends_retries_with_the_last_error_async() -> None:
    clock = FakeClock()
    script = Script(error_response(429, {"Retry-After": "5"}))
    async with async_client(script, clock, timeout=Timeout(5.0, total=2.0)) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.get("/items")
    assert caught.value.attempts == 1
    assert caught.value.retry_after == 5.0
    assert clock.sleeps == []


def test_zero_total_timeout_sends_nothing_sync() -> None:
    with pytest.raises(DeadlineExceeded) as caught:
        sync_client(never_called, timeout=Timeout(total=0.0)).get("/")
    assert caught.value.attempts == 0


@pytest.mark.anyio
async def test_async_deadline_cancels_a_hung_attempt() -> None:
    # A real (short) deadline: the attempt would take 10 s, the call allows 0.1 s.
    calls = 0

    async def hang(request: Request) -> Response:
        nonlocal calls
        calls += 1
        await anyio.sleep(10)
        return ok()

    async with AsyncClient(
        BASE, transport=MockTransport(hang), timeout=Timeout(5.0, total=0.1)
    ) as client:
        with pytest.raises(DeadlineExceeded) as caught:
            await client.get("/hang")
    assert caught.value.attempts == 1
    assert calls == 1


def test_async_deadline_on_trio_virtual_time() -> None:
    """The same on trio's autojumping clock, where no time passes for real: attempts of
    1000 s each against a 30 s deadline (and a 20 s read timeout the mock ignores)."""
    trio = pytest.importorskip("trio")
    trio_testing = pytest.importorskip("trio.testing")
    seen: list[float] = []

    async def hang(request: Request) -> Response:
        seen.append(trio.current_time())
        await trio.sleep(1000)
        return ok()

    async def main() -> float:
        async with AsyncClient(
            BASE,
            transport=MockTransport(hang),
            timeout=Timeout(5.0, read=20.0, total=30.0),
            sleep=trio.sleep,
        ) as client:
            start = trio.current_time()
            with pytest.raises(DeadlineExceeded) as caught:
                await client.get("/hang")
            assert caught.value.attempts == 1
            return float(trio.current_time() - start)

    elapsed = trio.run(main, clock=trio_testing.MockClock(autojump_threshold=0))
    assert elapsed == pytest.approx(30.0)
    assert len(seen) == 1
