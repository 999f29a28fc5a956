"""Status and connection errors through Client and AsyncClient on MockTransport: the class
for each status, what is retried, and when a request that may have been sent is retried
(idempotency)."""

from __future__ import annotations

import json
import re

import pytest
from _mock_clients import (
    FakeClock,
    FixedRandom,
    Script,
    async_client,
    error_response,
    ok,
    sync_client,
)

from sdk_core import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ReadError,
    ReadTimeout,
    Response,
    ResponseTooLargeError,
    UnprocessableEntityError,
)

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

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
