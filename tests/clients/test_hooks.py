"""``hooks``: one ``AttemptRecord`` per attempt, on both clients and for streams, with
the decision the call took after it, on the client's (injected) clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sdk_core import (
    AttemptRecord,
    InvalidRequestError,
    NotFoundError,
    ReadTimeout,
    Request,
    Response,
)
from sdk_transports import AsyncClient, Client, MockTransport

BASE = "https://api.example.test/v1"
KEY = "sk-hooks-secret-key"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def scripted(clock: Clock, outcomes: list[int | Exception], cost: float = 0.25) -> MockTransport:
    """Answers with each status (or raises each error) in turn, each taking ``cost``."""

    def handler(request: Request) -> Response:
        clock.now += cost
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        headers = {"x-request-id": f"req_{len(outcomes)}", "Retry-After": "0"}
        if outcome in (301, 302, 307):
            headers["Location"] = "/elsewhere?token=abc&page=2"
        return Response(outcome, headers=headers, request=request)

    return MockTransport(handler)


def sync_client(transport: MockTransport, clock: Clock, hook: Callable[..., object]) -> Client:
    return Client(
        BASE, api_key=KEY, transport=transport, clock=clock, sleep=lambda _: None, hooks=[hook]
    )


def test_each_attempt_is_recorded_with_the_decision_after_it() -> None:
    clock, records = Clock(), list[AttemptRecord]()
    with sync_client(scripted(clock, [503, 200]), clock, records.append) as client:
        client.get("/items", params={"q": "x", "token": "abc"})
    first, second = records
    assert (first.attempt, first.outcome, first.status_code) == (1, "503", 503)
    assert (first.action, first.delay) == ("retry", 0.0)
    assert first.reason == "the status is retryable"
    assert first.request_id == "req_1"
    assert (second.attempt, second.outcome, second.action) == (2, "200", "return")
    assert second.delay is None
    assert first.elapsed == second.elapsed == 0.25
    assert first.method == "GET"
    assert first.url == f"{BASE}/items?q=[redacted]&token=[redacted]"
    assert ("Authorization", "[redacted]") in first.headers
    assert KEY not in repr(records)


def test_errors_are_recorded_by_class_and_the_last_one_raises() -> None:
    clock, records = Clock(), list[AttemptRecord]()
    timeouts: list[int | Exception] = [ReadTimeout("x"), ReadTimeout("x")]
    client = Client(
        BASE,
        transport=scripted(clock, timeouts),
        clock=clock,
        sleep=lambda _: None,
        max_retries=1,
        hooks=[records.append],
    )
    with client, pytest.raises(ReadTimeout):
        client.get("/slow")
    assert [(r.outcome, r.status_code, r.action) for r in records] == [
        ("ReadTimeout", None, "retry"),
        ("ReadTimeout", None, "raise"),
    ]
    assert records[0].delay is not None
    assert records[0].delay > 0


def test_a_followed_redirect_is_recorded_with_its_target_redacted() -> None:
    clock, records = Clock(), list[AttemptRecord]()
    with sync_client(scripted(clock, [307, 200]), clock, records.append) as client:
        client.get("/old")
    redirect, final = records
    assert redirect.action == "redirect"
    assert redirect.redirect_to == "https://api.example.test/elsewhere?token=[redacted]&page=2"
    assert final.url == redirect.redirect_to
    assert (final.action, final.attempt) == ("return", 1)  # a redirect continues the attempt


def test_an_error_status_is_recorded_as_raise() -> None:
    clock, records = Clock(), list[AttemptRecord]()
    with (
        sync_client(scripted(clock, [404]), clock, records.append) as client,
        pytest.raises(NotFoundError),
    ):
        client.get("/missing")
    assert [(r.outcome, r.action) for r in records] == [("404", "raise")]


def test_streams_are_recorded_too() -> None:
    clock, records = Clock(), list[AttemptRecord]()
    with (
        sync_client(scripted(clock, [502, 200]), clock, records.append) as client,
        client.stream("GET", "/s") as response,
    ):
        assert response.status_code == 200
    assert [r.action for r in records] == ["retry", "return"]


def test_a_hook_that_raises_ends_the_call() -> None:
    clock = Clock()

    def broken(record: AttemptRecord) -> None:
        raise RuntimeError("exporter down")

    with (
        sync_client(scripted(clock, [200]), clock, broken) as client,
        pytest.raises(RuntimeError, match="exporter down"),
    ):
        client.get("/")


def test_copies_keep_the_hooks_and_bad_hooks_are_refused() -> None:
    clock, records = Clock(), list[AttemptRecord]()
    with sync_client(scripted(clock, [200]), clock, records.append) as client:
        client.with_options(max_retries=0).get("/")
    assert len(records) == 1
    with pytest.raises(InvalidRequestError, match="hooks"):
        Client(BASE, hooks=["not callable"])  # type: ignore[list-item]


@pytest.mark.anyio
async def test_async_client_records_every_attempt() -> None:
    clock, records = Clock(), list[AttemptRecord]()

    async def no_sleep(_: float) -> None:
        return None

    async with AsyncClient(
        BASE,
        transport=scripted(clock, [429, 200, 200]),
        clock=clock,
        sleep=no_sleep,
        hooks=[records.append],
    ) as client:
        await client.get("/a")
        async with client.stream("GET", "/b") as response:
            await response.aread()
    assert [(r.outcome, r.action, r.elapsed) for r in records] == [
        ("429", "retry", 0.25),
        ("200", "return", 0.25),
        ("200", "return", 0.25),
    ]
