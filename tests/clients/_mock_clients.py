"""What the MockTransport client tests share: a fixed random source, a fake clock whose
sleeps are recorded, a scripted transport, and clients built on them."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from sdk_core import InternalServerError, Request, Response
from sdk_transports import AsyncClient, Client, MockTransport

BASE = "https://api.example.test/v1"


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


# max_retries precedence ----------------------------------------------------------------


def attempts_of(call: Callable[[], Any]) -> int:
    with pytest.raises(InternalServerError) as caught:
        call()
    return caught.value.attempts
