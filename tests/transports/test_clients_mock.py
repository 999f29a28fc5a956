"""Client and AsyncClient driven through MockTransport: no network and no real waiting.

Each behaviour has a sync test (``Client``) and an async one (``AsyncClient``, run on
asyncio and trio). Time comes from an injected clock, waits are recorded by an injected
sleep, and jitter from an injected random source, so every assertion is exact.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from sdk_core import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    ConnectError,
    DeadlineExceeded,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PoolStatistics,
    RateLimitError,
    ReadError,
    ReadTimeout,
    Request,
    Response,
    ResponseTooLargeError,
    RetryPolicy,
    Timeout,
    UnprocessableEntityError,
)
from sdk_transports import AsyncClient, Client, HttpcoreTransport, MockTransport

BASE = "https://api.example.test/v1"
SECRET = "sk-live-Zq8pX3TOPSECRET"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


# helpers -------------------------------------------------------------------------------


class FixedRandom:
    """A random source whose ``random()`` is constant; ``getrandbits`` is seeded."""

    def __init__(self, value: float = 0.5, seed: int = 7) -> None:
        self.value = value
        self._bits = random.Random(seed)

    def random(self) -> float:
        return self.value

    def getrandbits(self, k: int, /) -> int:
        return self._bits.getrandbits(k)


class FakeClock:
    """A monotonic clock that only moves when told to; sleeping moves it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


Outcome = Response | type[Exception] | Exception


class Script:
    """A MockTransport handler that plays ``outcomes`` in order (the last one repeats).

    A Response is copied for each attempt; an exception class is raised as a fresh
    instance. Every request the handler saw is kept in ``requests``.
    """

    def __init__(self, *outcomes: Outcome) -> None:
        assert outcomes
        self.outcomes = list(outcomes)
        self.requests: list[Request] = []

    def _next(self) -> Outcome:
        return self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        outcome = self._next()
        if isinstance(outcome, Response):
            return Response(outcome.status_code, headers=outcome.headers, content=outcome.content)
        if isinstance(outcome, type):
            raise outcome()
        raise outcome

    @property
    def calls(self) -> int:
        return len(self.requests)


def never_called(request: Request) -> Response:
    raise AssertionError(f"the handler must not be called, got {request!r}")


def ok(payload: Any = None, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps({"ok": True} if payload is None else payload).encode()
    return Response(
        200, headers={"content-type": "application/json", **(headers or {})}, content=body
    )


def error_response(status: int, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"message": f"failure {status}", "type": "some_type", "code": "some_code"}}
    return Response(
        status,
        headers={
            "content-type": "application/json",
            "x-request-id": f"req_{status}",
            **(headers or {}),
        },
        content=json.dumps(body).encode(),
    )


def sync_client(
    handler: Callable[[Request], Any], clock: FakeClock | None = None, **kw: Any
) -> Client:
    clock = clock or FakeClock()
    kw.setdefault("rng", FixedRandom())
    return Client(BASE, transport=MockTransport(handler), clock=clock, sleep=clock.sleep, **kw)


def async_client(
    handler: Callable[[Request], Any], clock: FakeClock | None = None, **kw: Any
) -> AsyncClient:
    clock = clock or FakeClock()
    kw.setdefault("rng", FixedRandom())
    return AsyncClient(
        BASE, transport=MockTransport(handler), clock=clock, sleep=clock.asleep, **kw
    )


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


# status errors -------------------------------------------------------------------------

STATUS_CLASSES = [
    (400, BadRequestError, False),
    (401, AuthenticationError, False),
    (403, PermissionDeniedError, False),
    (404, NotFoundError, False),
    (409, ConflictError, True),
    (418, APIStatusError, False),
    (422, UnprocessableEntityError, False),
    (429, RateLimitError, True),
    (500, InternalServerError, True),
    (501, InternalServerError, False),
    (502, InternalServerError, True),
    (503, InternalServerError, True),
    (504, InternalServerError, True),
]


def check_status_error(exc: APIStatusError, status: int, cls: type, retried: bool) -> None:
    assert type(exc) is cls
    assert exc.status_code == status
    assert exc.response.status_code == status
    assert exc.body == {
        "error": {"message": f"failure {status}", "type": "some_type", "code": "some_code"}
    }
    assert exc.code == "some_code"
    assert exc.type == "some_type"
    assert exc.request_id == f"req_{status}"
    assert f"failure {status}" in str(exc)
    assert exc.attempts == (3 if retried else 1)


@pytest.mark.parametrize(("status", "cls", "retried"), STATUS_CLASSES)
def test_status_errors_sync(status: int, cls: type[APIStatusError], retried: bool) -> None:
    clock = FakeClock()
    script = Script(error_response(status))
    with pytest.raises(cls) as caught:
        sync_client(script, clock).get("/items")
    check_status_error(caught.value, status, cls, retried)
    assert script.calls == caught.value.attempts
    assert len(clock.sleeps) == caught.value.attempts - 1


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "cls", "retried"), STATUS_CLASSES)
async def test_status_errors_async(status: int, cls: type[APIStatusError], retried: bool) -> None:
    script = Script(error_response(status))
    async with async_client(script) as client:
        with pytest.raises(cls) as caught:
            await client.get("/items")
    check_status_error(caught.value, status, cls, retried)
    assert script.calls == caught.value.attempts


def test_problem_json_body_sync() -> None:
    problem = {
        "type": "https://example.test/problems/out-of-stock",
        "title": "Conflict",
        "status": 409,
        "detail": "item 7 is out of stock",
    }
    response = Response(
        409,
        headers={"content-type": "application/problem+json", "x-request-id": "req_p"},
        content=json.dumps(problem).encode(),
    )
    with pytest.raises(ConflictError) as caught:
        sync_client(Script(response), max_retries=0).post("/orders", json={})
    exc = caught.value
    assert exc.body == problem
    assert exc.type == "https://example.test/problems/out-of-stock"
    assert "item 7 is out of stock" in str(exc)
    assert exc.request_id == "req_p"
    assert exc.attempts == 1


@pytest.mark.parametrize(
    ("content", "body"), [(b"<html>Bad gateway</html>", "<html>Bad gateway</html>"), (b"", None)]
)
def test_non_json_and_empty_error_bodies_keep_the_class_sync(
    content: bytes, body: str | None
) -> None:
    response = Response(404, headers={"x-request-id": "req_t"}, content=content)
    with pytest.raises(NotFoundError) as caught:
        sync_client(Script(response)).get("/items/9")
    assert caught.value.body == body
    assert caught.value.request_id == "req_t"
    assert caught.value.status_code == 404


# connection errors and idempotency -----------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_connect_error_is_retried_and_succeeds_sync(method: str) -> None:
    # A connect error provably sent nothing, so even a POST with no key is retried.
    script = Script(ConnectError, ConnectError, ok())
    client = sync_client(script, idempotency_header=None)
    response = client.request(method, "/items")
    assert response.status_code == 200
    assert response.attempts == 3
    assert all("Idempotency-Key" not in r.headers for r in script.requests)


@pytest.mark.anyio
async def test_connect_error_is_retried_and_succeeds_async() -> None:
    script = Script(ConnectError, ok())
    async with async_client(script, idempotency_header=None) as client:
        response = await client.post("/items", json={"a": 1})
    assert response.attempts == 2


def test_read_timeout_on_post_without_key_is_not_retried_sync() -> None:
    script = Script(ReadTimeout, ok())
    with pytest.raises(ReadTimeout) as caught:
        sync_client(script, idempotency_header=None).post("/charges", json={"amount": 1})
    assert caught.value.attempts == 1
    assert script.calls == 1
    assert "Idempotency-Key" not in script.requests[0].headers


@pytest.mark.anyio
async def test_read_timeout_on_post_without_key_is_not_retried_async() -> None:
    script = Script(ReadTimeout, ok())
    async with async_client(script, idempotency_header=None) as client:
        with pytest.raises(ReadTimeout) as caught:
            await client.post("/charges", json={"amount": 1})
    assert caught.value.attempts == 1
    assert script.calls == 1


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_post_with_auto_key_is_retried_with_the_same_key_sync(method: str) -> None:
    script = Script(ReadTimeout, ReadError, ok())
    response = sync_client(script).request(method, "/charges", json={"amount": 1})
    assert response.attempts == 3
    keys = [r.headers.get("Idempotency-Key") for r in script.requests]
    assert keys[0] is not None
    assert UUID4.match(keys[0])
    assert keys == [keys[0]] * 3


@pytest.mark.anyio
async def test_post_with_auto_key_is_retried_with_the_same_key_async() -> None:
    script = Script(ReadTimeout, ReadError, ok())
    async with async_client(script) as client:
        response = await client.post("/charges", json={"amount": 1})
    assert response.attempts == 3
    keys = {r.headers.get("Idempotency-Key") for r in script.requests}
    assert len(keys) == 1
    assert UUID4.match(keys.pop() or "")


def test_generated_keys_differ_between_calls_and_follow_the_rng_sync() -> None:
    first = Script(ok())
    sync_client(first, rng=FixedRandom(seed=1)).post("/a")
    second = Script(ok())
    client = sync_client(second, rng=FixedRandom(seed=1))
    client.post("/a")
    client.post("/a")
    keys = [r.headers["Idempotency-Key"] for r in second.requests]
    assert keys[0] == first.requests[0].headers["Idempotency-Key"]  # same seed, same key
    assert keys[0] != keys[1]


def test_explicit_idempotency_key_and_no_key_cases_sync() -> None:
    script = Script(ReadTimeout, ok())
    client = sync_client(script)
    client.post("/charges", json={}, idempotency_key="order-42")
    assert [r.headers["Idempotency-Key"] for r in script.requests] == ["order-42", "order-42"]
    # No key for PUT (idempotent) nor for a POST that will never be retried.
    script2 = Script(ok())
    client2 = sync_client(script2)
    client2.put("/items/1", json={})
    client2.post("/items", json={}, max_retries=0)
    assert all("Idempotency-Key" not in r.headers for r in script2.requests)


def test_put_is_retried_after_a_read_timeout_sync() -> None:
    script = Script(ReadTimeout, ok())
    assert sync_client(script, idempotency_header=None).put("/items/1", json={}).attempts == 2


def test_one_shot_body_is_never_retried_sync() -> None:
    script = Script(ConnectError, ok())
    body = (chunk for chunk in [b"streamed"])
    with pytest.raises(ConnectError) as caught:
        sync_client(script).request("PUT", "/upload", content=body)  # type: ignore[arg-type]
    assert caught.value.attempts == 1


def test_connection_errors_exhaust_retries_and_carry_attempts_sync() -> None:
    clock = FakeClock()
    script = Script(ConnectError)
    with pytest.raises(ConnectError) as caught:
        sync_client(script, clock).get("/items")
    assert caught.value.attempts == 3
    assert len(clock.sleeps) == 2
    assert isinstance(caught.value, APIConnectionError)


def test_response_too_large_from_a_transport_is_not_retried_sync() -> None:
    script = Script(ResponseTooLargeError("too big"), ok())
    with pytest.raises(ResponseTooLargeError) as caught:
        sync_client(script).get("/items")
    assert caught.value.attempts == 1
    assert script.calls == 1


# max_retries precedence ----------------------------------------------------------------


def attempts_of(call: Callable[[], Any]) -> int:
    with pytest.raises(InternalServerError) as caught:
        call()
    return caught.value.attempts


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


# with_options --------------------------------------------------------------------------


def test_with_options_shares_the_retry_budget_sync() -> None:
    no_wait = RetryPolicy(initial_delay=0.0)
    script = Script(error_response(503))
    client = sync_client(script, retry=no_wait)
    copy = client.with_options(max_retries=1000)
    # The bucket holds 500 tokens and a retry costs 5: exactly 100 retries.
    assert attempts_of(lambda: copy.get("/")) == 101
    assert attempts_of(lambda: client.get("/")) == 1  # the original sees the empty bucket
    # A separate client has its own budget.
    assert attempts_of(lambda: sync_client(script, retry=no_wait).get("/")) == 3


@pytest.mark.anyio
async def test_with_options_shares_the_retry_budget_async() -> None:
    script = Script(error_response(503))
    client = async_client(script, retry=RetryPolicy(initial_delay=0.0))
    with pytest.raises(InternalServerError) as caught:
        await client.with_options(max_retries=1000).get("/")
    assert caught.value.attempts == 101
    with pytest.raises(InternalServerError) as caught:
        await client.get("/")
    assert caught.value.attempts == 1


def test_retry_budget_costs_and_refunds_sync() -> None:
    # botocore's standard mode: 500 tokens, a retry costs 5, a timeout retry 10,
    # a success gives 1 back.
    script = Script(ReadTimeout)
    client = sync_client(script, retry=RetryPolicy(initial_delay=0.0), max_retries=1000)
    with pytest.raises(ReadTimeout) as caught:
        client.get("/")
    assert caught.value.attempts == 51  # 500 / 10 timeout retries
    script.outcomes = [ok()]
    for _ in range(5):  # five successes refund five tokens: one retry's worth
        client.get("/")
    script.outcomes = [error_response(503), ok()]
    assert client.get("/").attempts == 2
    script.outcomes = [error_response(503), ok()]
    assert attempts_of(lambda: client.get("/")) == 1  # 1 token left: no retry


def test_with_options_shares_the_transport_and_merges_headers_sync() -> None:
    script = Script(ok())
    transport = MockTransport(script)
    client = Client(
        BASE,
        api_key=SECRET,
        transport=transport,
        default_headers={"X-A": "1", "X-B": "2"},
    )
    copy = client.with_options(default_headers={"X-B": "3", "X-C": "4"}, timeout=3.0)
    copy.get("/one")
    client.get("/two")
    via_copy, via_original = script.requests
    assert (via_copy.headers["X-A"], via_copy.headers["X-B"], via_copy.headers["X-C"]) == (
        "1",
        "3",
        "4",
    )
    assert via_copy.headers["Authorization"] == f"Bearer {SECRET}"
    assert via_original.headers["X-B"] == "2"
    assert "X-C" not in via_original.headers
    assert copy.statistics() == client.statistics() == PoolStatistics()
    # Closing the copy leaves the shared transport open; closing the original closes it.
    copy.close()
    assert not transport.closed
    client.get("/three")
    client.close()
    assert transport.closed
    with pytest.raises(ClientClosedError):
        copy.get("/four")
    assert script.calls == 3


@pytest.mark.anyio
async def test_with_options_shares_the_transport_and_merges_headers_async() -> None:
    script = Script(ok())
    transport = MockTransport(script)
    client = AsyncClient(BASE, transport=transport, default_headers={"X-A": "1", "X-B": "2"})
    copy = client.with_options(default_headers={"X-B": "3"}, base_url="https://other.test/v2")
    await copy.get("/one")
    assert str(script.requests[0].url) == "https://other.test/v2/one"
    assert (script.requests[0].headers["X-A"], script.requests[0].headers["X-B"]) == ("1", "3")
    await copy.aclose()
    assert not transport.closed
    await client.aclose()
    assert transport.closed
    with pytest.raises(ClientClosedError):
        await copy.get("/two")


# api_key secrecy -----------------------------------------------------------------------


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text, text


def check_logs_without_secret(caplog: pytest.LogCaptureFixture) -> list[str]:
    records = [r for r in caplog.records if r.name.startswith("sdk_transports")]
    messages = [r.getMessage() for r in records]
    assert_no_secret(*messages, *(repr(r.args) for r in records))
    return messages


def test_api_key_is_sent_as_bearer_and_never_shown_sync(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sdk_transports")
    clock = FakeClock()
    script = Script(error_response(503), ReadTimeout, ok(), error_response(401))
    client = sync_client(script, clock, api_key=SECRET)
    assert client.get("/items", params={"q": "x"}).attempts == 3
    with pytest.raises(AuthenticationError) as caught:
        client.get("/me")
    assert all(r.headers["Authorization"] == f"Bearer {SECRET}" for r in script.requests)
    exc = caught.value
    assert exc.request is not None
    assert_no_secret(repr(client), str(exc), repr(exc), exc.message, repr(exc.request))
    assert_no_secret(repr(exc.request.headers), repr(exc.response))
    assert "api_key=set" in repr(client)
    messages = check_logs_without_secret(caplog)
    assert messages == [
        "HTTP GET https://api.example.test/v1/items?q=[redacted] attempt 1",
        f"503: retrying in {clock.sleeps[0]:.3f} s because the status is retryable",
        "HTTP GET https://api.example.test/v1/items?q=[redacted] attempt 2",
        f"ReadTimeout: retrying in {clock.sleeps[1]:.3f} s because the connection failed",
        "HTTP GET https://api.example.test/v1/items?q=[redacted] attempt 3",
        "200: not retrying because the response succeeded",
        "HTTP GET https://api.example.test/v1/me attempt 1",
        "401: not retrying because the status is not retryable",
    ]


@pytest.mark.anyio
async def test_api_key_is_sent_as_bearer_and_never_shown_async(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="sdk_transports")
    script = Script(ConnectError)
    async with async_client(script, api_key=SECRET) as client:
        with pytest.raises(ConnectError) as caught:
            await client.post("/items", json={"k": 1})
        assert_no_secret(repr(client), str(caught.value), repr(caught.value))
    assert script.requests[0].headers["Authorization"] == f"Bearer {SECRET}"
    messages = check_logs_without_secret(caplog)
    assert sum("attempt" in m for m in messages) == 3
    assert sum("retrying in" in m for m in messages) == 2
    assert messages[-1] == "ConnectError: not retrying because no retries are left"


def test_api_key_changes_with_options_and_bad_keys_are_not_echoed() -> None:
    script = Script(ok())
    client = sync_client(script, api_key=SECRET)
    client.with_options(api_key="sk-other").get("/")
    client.with_options(api_key=None).get("/")
    assert script.requests[0].headers["Authorization"] == "Bearer sk-other"
    assert "Authorization" not in script.requests[1].headers
    with pytest.raises(InvalidRequestError) as caught:
        Client(BASE, api_key=SECRET + "\r\nX-Injected: 1", transport=MockTransport(never_called))
    assert_no_secret(str(caught.value), repr(caught.value))


# headers and request building ----------------------------------------------------------


def test_default_headers_and_user_agent_sync() -> None:
    script = Script(ok())
    client = sync_client(script, default_headers={"X-Team": "core"})
    client.get("/a")
    client.get("/b", headers={"X-Team": "override", "X-Extra": "1"})
    first, second = script.requests
    assert first.headers["X-Team"] == "core"
    assert "sdk-core/" in first.headers["User-Agent"]
    assert first.headers["Accept"] == "application/json"
    assert "gzip" in first.headers["Accept-Encoding"]
    assert (second.headers["X-Team"], second.headers["X-Extra"]) == ("override", "1")
    assert second.headers.get_list("X-Team") == ["override"]
    sync_client(script, default_headers={"User-Agent": "my-sdk/2.0"}).get("/c")
    assert script.requests[-1].headers.get_list("User-Agent") == ["my-sdk/2.0"]


@pytest.mark.anyio
async def test_default_headers_and_user_agent_async() -> None:
    script = Script(ok())
    async with async_client(script, default_headers={"X-Team": "core"}) as client:
        await client.get("/a")
    assert script.requests[0].headers["X-Team"] == "core"
    assert "sdk-core/" in script.requests[0].headers["User-Agent"]


def test_params_json_and_content_building_sync() -> None:
    script = Script(ok())
    client = sync_client(script)
    client.get(
        "/search", params={"q": "a b", "tags": ["x", "y"], "flag": True, "skip": None, "n": 3}
    )
    client.post("/items", json={"name": "café", "n": [1, 2]})
    client.patch(
        "/items/1", json={"a": None}, headers={"Content-Type": "application/merge-patch+json"}
    )
    client.put("/blob", content=b"\x00raw bytes")
    search, created, patched, blob = script.requests
    assert search.url.target == "/v1/search?q=a+b&tags=x&tags=y&flag=true&n=3"
    assert search.content == b""
    assert created.content == '{"name":"café","n":[1,2]}'.encode()
    assert created.headers["Content-Type"] == "application/json"
    assert created.headers["Content-Length"] == str(len(created.content))
    assert patched.headers.get_list("Content-Type") == ["application/merge-patch+json"]
    assert patched.content == b'{"a":null}'
    assert blob.content == b"\x00raw bytes"
    assert blob.headers["Content-Length"] == "10"
    assert "Content-Type" not in blob.headers
    assert [r.method for r in script.requests] == ["GET", "POST", "PATCH", "PUT"]
    client.delete("/items/1")
    assert script.requests[-1].method == "DELETE"


@pytest.mark.anyio
async def test_params_json_and_content_building_async() -> None:
    script = Script(ok())
    async with async_client(script) as client:
        await client.get("/search", params={"q": "a b", "n": 3})
        await client.post("/items", json={"n": 1})
        await client.put("/blob", content=b"xyz")
    search, created, blob = script.requests
    assert search.url.target == "/v1/search?q=a+b&n=3"
    assert created.content == b'{"n":1}'
    assert created.headers["Content-Type"] == "application/json"
    assert blob.content == b"xyz"


BAD_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("/items", {"headers": {"X-Bad": "a\r\nInjected: 1"}}),
    ("/items", {"headers": {"X-Bad": "a\nb"}}),
    ("/items", {"headers": {"X-Bad": "a\x00b"}}),
    ("/items", {"headers": {"Bad Name": "v"}}),
    ("/items\r\nInjected: 1", {}),
    ("/items\x00", {}),
    ("/items", {"json": {"a": 1}, "content": b"x"}),
    ("/items", {"json": {"a": float("nan")}}),
]


@pytest.mark.parametrize(("path", "kwargs"), BAD_REQUESTS)
def test_invalid_requests_are_refused_before_sending_sync(
    path: str, kwargs: dict[str, Any]
) -> None:
    client = sync_client(never_called)
    with pytest.raises(InvalidRequestError) as caught:
        client.post(path, **kwargs)
    assert isinstance(caught.value, ValueError)


@pytest.mark.anyio
@pytest.mark.parametrize(("path", "kwargs"), BAD_REQUESTS)
async def test_invalid_requests_are_refused_before_sending_async(
    path: str, kwargs: dict[str, Any]
) -> None:
    async with async_client(never_called) as client:
        with pytest.raises(InvalidRequestError):
            await client.post(path, **kwargs)


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
