"""Client and AsyncClient driven through MockTransport: no network and no real waiting.
Here: success, backoff, the server's hints, ``max_retries`` precedence, async handlers
and closing; errors, options and the deadline have their own files (test_client_*.py).

Each behaviour has a sync test (``Client``) and an async one (``AsyncClient``, run on
asyncio and trio). Time comes from an injected clock, waits are recorded by an injected
sleep, and jitter from an injected random source, so every assertion is exact.
"""

from __future__ import annotations

import random
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from _mock_clients import (
    BASE,
    FakeClock,
    FixedRandom,
    Script,
    async_client,
    attempts_of,
    error_response,
    never_called,
    ok,
    sync_client,
)

from sdk_core import (
    APIConnectionError,
    ClientClosedError,
    InternalServerError,
    InvalidRequestError,
    PoolStatistics,
    RateLimitError,
    Request,
    Response,
    RetryPolicy,
)
from sdk_transports import AsyncClient, Client, HttpcoreTransport, MockTransport


def backoff(index: int, rng_value: float) -> float:
    """The default policy's wait before retry ``index``: 0.5 * 2**n, times U(0.75, 1)."""
    return min(0.5 * 2.0**index, 8.0) * (0.75 + 0.25 * rng_value)


# success -------------------------------------------------------------------------------


def test_success_sync() -> None:
    script = Script(ok({"id": 1}))
    with sync_client(script) as client:
        response = client.get("/items/1")
    assert response.status_code == 200
    assert response.json() == {"id": 1}
    assert response.attempts == 1
    assert script.calls == 1
    assert str(script.requests[0].url) == "https://api.example.test/v1/items/1"
    assert response.request is not None
    assert response.request.method == "GET"


@pytest.mark.anyio
async def test_success_async() -> None:
    script = Script(ok({"id": 1}))
    async with async_client(script) as client:
        response = await client.get("/items/1")
    assert response.status_code == 200
    assert response.json() == {"id": 1}
    assert response.attempts == 1
    assert str(script.requests[0].url) == "https://api.example.test/v1/items/1"


def test_urls_built_for_a_path_are_kept_and_bounded_sync() -> None:
    script = Script(ok())
    with sync_client(script) as client:
        client.get("/items/1")
        client.get("/items/1")
        client.get("/items/1", params={"a": "b"})
        client.get("/items/1", params={"a": "c"})
        derived = client.with_options(base_url="https://other.example.test/v2")
        derived.get("/items/1")
        for index in range(300):
            client.get(f"/n/{index}")
        assert len(client._config.urls) <= 256
    first, again, with_b, with_c, other = script.requests[:5]
    assert again.url is first.url  # built once
    assert [str(r.url) for r in (with_b, with_c, other)] == [
        "https://api.example.test/v1/items/1?a=b",
        "https://api.example.test/v1/items/1?a=c",
        "https://other.example.test/v2/items/1",
    ]
    assert str(script.requests[-1].url) == "https://api.example.test/v1/n/299"


# backoff -------------------------------------------------------------------------------


@pytest.mark.parametrize("rng_value", [0.0, 0.5, 0.999])
def test_503_503_200_backs_off_within_the_policy_sync(rng_value: float) -> None:
    clock = FakeClock()
    script = Script(error_response(503), error_response(503), ok())
    with sync_client(script, clock, rng=FixedRandom(rng_value)) as client:
        response = client.get("/items")
    assert response.status_code == 200
    assert response.attempts == 3
    assert script.calls == 3
    assert clock.sleeps == pytest.approx([backoff(0, rng_value), backoff(1, rng_value)])
    assert 0.375 <= clock.sleeps[0] <= 0.5
    assert 0.75 <= clock.sleeps[1] <= 1.0


@pytest.mark.anyio
@pytest.mark.parametrize("rng_value", [0.0, 0.5, 0.999])
async def test_503_503_200_backs_off_within_the_policy_async(rng_value: float) -> None:
    clock = FakeClock()
    script = Script(error_response(503), error_response(503), ok())
    async with async_client(script, clock, rng=FixedRandom(rng_value)) as client:
        response = await client.get("/items")
    assert response.attempts == 3
    assert clock.sleeps == pytest.approx([backoff(0, rng_value), backoff(1, rng_value)])


def test_backoff_with_a_real_random_source_stays_in_bounds_sync() -> None:
    clock = FakeClock()
    script = Script(error_response(500))
    client = sync_client(script, clock, rng=random.Random(1234), max_retries=6)
    with pytest.raises(InternalServerError) as caught:
        client.get("/items")
    assert caught.value.attempts == 7
    # 0.5, 1, 2, 4, 8, 8 (capped at max_delay), each times U(0.75, 1)
    for seconds, base in zip(clock.sleeps, [0.5, 1, 2, 4, 8, 8], strict=True):
        assert 0.75 * base <= seconds <= base


def test_custom_policy_caps_the_backoff_sync() -> None:
    clock = FakeClock()
    policy = RetryPolicy(
        max_retries=4, initial_delay=1.0, multiplier=3.0, max_delay=5.0, jitter="none"
    )
    script = Script(error_response(502))
    with pytest.raises(InternalServerError) as caught:
        sync_client(script, clock, retry=policy).get("/items")
    assert caught.value.status_code == 502
    assert caught.value.attempts == 5
    assert clock.sleeps == [1.0, 3.0, 5.0, 5.0]


# server hints --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "3"}, 3.0), ({"retry-after-ms": "1500"}, 1.5), ({"Retry-After": "0"}, None)],
)
def test_429_retry_after_is_honoured_exactly_sync(
    headers: dict[str, str], expected: float | None
) -> None:
    clock = FakeClock()
    script = Script(error_response(429, headers), ok())
    with sync_client(script, clock) as client:
        response = client.post("/items", json={"a": 1})
    assert response.attempts == 2
    # A zero wait is no sleep at all.
    assert clock.sleeps == ([] if expected is None else [expected])


@pytest.mark.anyio
async def test_429_retry_after_is_honoured_exactly_async() -> None:
    clock = FakeClock()
    script = Script(error_response(429, {"Retry-After": "3"}), ok())
    async with async_client(script, clock) as client:
        response = await client.post("/items", json={"a": 1})
    assert response.attempts == 2
    assert clock.sleeps == [3.0]


def test_retry_after_longer_than_max_retry_after_stops_sync() -> None:
    clock = FakeClock()
    script = Script(error_response(429, {"Retry-After": "120"}), ok())
    with pytest.raises(RateLimitError) as caught:
        sync_client(script, clock).get("/items")
    assert caught.value.retry_after == 120.0
    assert caught.value.attempts == 1
    assert clock.sleeps == []


@pytest.mark.parametrize(("status", "value", "attempts"), [(400, "true", 2), (503, "false", 1)])
def test_x_should_retry_overrides_the_status_rule_sync(
    status: int, value: str, attempts: int
) -> None:
    script = Script(error_response(status, {"x-should-retry": value}), ok())
    client = sync_client(script)
    if attempts == 2:
        assert client.get("/items").attempts == 2
    else:
        with pytest.raises(InternalServerError) as caught:
            client.get("/items")
        assert caught.value.attempts == 1
    assert script.calls == attempts


def test_max_retries_precedence_sync() -> None:
    script = Script(error_response(503))
    policy4 = RetryPolicy(max_retries=4)
    assert attempts_of(lambda: sync_client(script).get("/")) == 3  # RetryPolicy() default
    assert attempts_of(lambda: sync_client(script, retry=policy4).get("/")) == 5
    client = sync_client(script, retry=policy4, max_retries=1)
    assert attempts_of(lambda: client.get("/")) == 2  # the client's max_retries wins
    copy = client.with_options(max_retries=3)
    assert attempts_of(lambda: copy.get("/")) == 4  # with_options wins over the client
    assert attempts_of(lambda: copy.get("/", max_retries=0)) == 1  # the call wins
    assert attempts_of(lambda: client.get("/", max_retries=5)) == 6
    # A new retry policy does not undo a max_retries that was passed explicitly...
    assert attempts_of(lambda: client.with_options(retry=RetryPolicy(max_retries=0)).get("/")) == 2
    # ...but applies when none was.
    plain = sync_client(script)
    assert attempts_of(lambda: plain.with_options(retry=policy4).get("/")) == 5
    assert attempts_of(lambda: client.get("/")) == 2  # the original is unchanged


@pytest.mark.anyio
async def test_max_retries_precedence_async() -> None:
    script = Script(error_response(503))

    async def attempts(client: AsyncClient, **kw: Any) -> int:
        with pytest.raises(InternalServerError) as caught:
            await client.get("/", **kw)
        return caught.value.attempts

    client = async_client(script, retry=RetryPolicy(max_retries=4))
    assert await attempts(client) == 5
    client = async_client(script, retry=RetryPolicy(max_retries=4), max_retries=1)
    assert await attempts(client) == 2
    assert await attempts(client.with_options(max_retries=3)) == 4
    assert await attempts(client.with_options(max_retries=3), max_retries=0) == 1


@pytest.mark.parametrize("bad", [-1, True, 1.5])
def test_invalid_max_retries_is_refused(bad: Any) -> None:
    client = sync_client(never_called)
    with pytest.raises(InvalidRequestError):
        client.get("/", max_retries=bad)
    with pytest.raises(InvalidRequestError):
        client.with_options(max_retries=bad)


# async handlers, transports that do not fit, closing -----------------------------------


@pytest.mark.anyio
async def test_async_handler_works_with_async_client() -> None:
    async def handler(request: Request) -> Response:
        await anyio.lowlevel.checkpoint()
        return ok({"path": request.url.target})

    async with AsyncClient(BASE, transport=MockTransport(handler)) as client:
        response = await client.get("/x")
    assert response.json() == {"path": "/v1/x"}


def test_async_handler_with_sync_client_raises_type_error() -> None:
    async def handler(request: Request) -> Response:
        return ok()

    with Client(BASE, transport=MockTransport(handler)) as client, pytest.raises(TypeError):
        client.get("/x")


def test_transports_of_the_wrong_kind_are_refused() -> None:
    with pytest.raises(TypeError):
        Client(BASE, transport=object())  # type: ignore[arg-type]
    sync_transport = HttpcoreTransport()
    try:
        with pytest.raises(TypeError):
            AsyncClient(BASE, transport=sync_transport)  # type: ignore[arg-type]
    finally:
        sync_transport.close()


def test_closed_client_raises_client_closed_error_sync() -> None:
    transport = MockTransport(never_called)
    client = Client(BASE, transport=transport)
    client.close()
    assert transport.closed
    with pytest.raises(ClientClosedError, match="Client is closed") as caught:
        client.get("/x")
    # Not a connection error: a retry loop that treats those as transient must not spin.
    assert not isinstance(caught.value, APIConnectionError)
    client.close()  # idempotent


@pytest.mark.anyio
async def test_closed_client_raises_client_closed_error_async() -> None:
    transport = MockTransport(never_called)
    client = AsyncClient(BASE, transport=transport)
    await client.aclose()
    assert transport.closed
    with pytest.raises(ClientClosedError, match="AsyncClient is closed") as caught:
        await client.get("/x")
    assert not isinstance(caught.value, APIConnectionError)


def test_context_manager_closes_the_transport_sync() -> None:
    transport = MockTransport(Script(ok()))
    with Client(BASE, transport=transport) as client:
        client.get("/x")
        assert not transport.closed
    assert transport.closed


@pytest.mark.anyio
async def test_context_manager_closes_the_transport_async() -> None:
    transport = MockTransport(Script(ok()))
    async with AsyncClient(BASE, transport=transport) as client:
        await client.get("/x")
        assert not transport.closed
    assert transport.closed


def test_statistics_returns_pool_statistics_sync() -> None:
    with sync_client(Script(ok())) as client:
        stats = client.statistics()
    assert isinstance(stats, PoolStatistics)
    assert (stats.in_use, stats.idle, stats.waiting) == (0, 0, 0)


@pytest.mark.anyio
async def test_statistics_returns_pool_statistics_async() -> None:
    async with async_client(Script(ok())) as client:
        assert client.statistics() == PoolStatistics(in_use=0, idle=0, waiting=0)
