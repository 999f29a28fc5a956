"""Client and AsyncClient (asyncio and trio) against the scenario server on 127.0.0.1.

Waits between retries go through an injected sleep that only records, so the retry
tests take no real time; the timeout tests use short real server delays on purpose.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.request
import uuid
from http import HTTPStatus
from typing import Any

import anyio
import pytest

from sdk_core import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectError,
    DeadlineExceeded,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    PoolStatistics,
    RateLimitError,
    ReadTimeout,
    Request,
    Response,
    Timeout,
    UnprocessableEntityError,
)
from sdk_transports import AsyncClient, Client, HttpcoreTransport
from sdk_transports.testing import ScenarioApp, ServerHandle

pytestmark = pytest.mark.integration

Server = ServerHandle[ScenarioApp]
REQUEST_ID = re.compile(r"^req_\d+$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class Sleeps:
    """An injected sleep that records the waits and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.calls.append(seconds)


def key() -> str:
    return uuid.uuid4().hex


def server_log(server: Server, name: str) -> list[dict[str, Any]]:
    """What the server recorded for ``name``, read with the stdlib client."""
    with urllib.request.urlopen(f"{server.url}/log/{name}", timeout=5) as reply:
        return json.loads(reply.read())  # type: ignore[no-any-return]


@pytest.fixture
def closed_port_url() -> str:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


# 503, 503, 200 ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_flaky_503_twice_then_200_sync(scenario_server: Server, method: str) -> None:
    name, sleeps = key(), Sleeps()
    with Client(scenario_server.url, sleep=sleeps) as client:
        response = client.request(method, f"/flaky/{name}?fail=2&status=503", json={"n": 1})
    assert response.status_code == 200
    assert response.json() == {"ok": True, "attempt": 3}
    assert response.attempts == 3
    assert len(sleeps.calls) == 2
    assert 0.375 <= sleeps.calls[0] <= 0.5
    assert 0.75 <= sleeps.calls[1] <= 1.0
    log = server_log(scenario_server, name)
    assert [entry["method"] for entry in log] == [method] * 3
    keys = [entry["idempotency_key"] for entry in log]
    if method == "POST":
        assert keys[0] is not None
        assert UUID4.match(keys[0])
        assert keys == [keys[0]] * 3
    else:
        assert keys == [None] * 3


@pytest.mark.anyio
async def test_flaky_503_twice_then_200_async(scenario_server: Server) -> None:
    name, sleeps = key(), Sleeps()
    async with AsyncClient(scenario_server.url, sleep=sleeps.asleep) as client:
        response = await client.post(f"/flaky/{name}?fail=2&status=503", json={"n": 1})
    assert response.json() == {"ok": True, "attempt": 3}
    assert response.attempts == 3
    assert len(sleeps.calls) == 2
    log = server_log(scenario_server, name)
    assert len(log) == 3
    assert len({entry["idempotency_key"] for entry in log}) == 1
    assert log[0]["idempotency_key"] is not None


# Retry-After -----------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "wait"), [("seconds=1", 1.0), ("ms=250", 0.25)])
def test_retry_after_is_honoured_sync(scenario_server: Server, query: str, wait: float) -> None:
    name, sleeps = key(), Sleeps()
    with Client(scenario_server.url, sleep=sleeps) as client:
        response = client.post(f"/retry-after/{name}?{query}", json={})
    assert response.json() == {"ok": True, "attempt": 2}
    assert response.attempts == 2
    assert sleeps.calls == [wait]
    assert len(server_log(scenario_server, name)) == 2


@pytest.mark.anyio
async def test_retry_after_is_honoured_async(scenario_server: Server) -> None:
    name, sleeps = key(), Sleeps()
    async with AsyncClient(scenario_server.url, sleep=sleeps.asleep) as client:
        response = await client.post(f"/retry-after/{name}?seconds=1", json={})
    assert response.attempts == 2
    assert sleeps.calls == [1.0]


def test_retry_after_http_date_is_measured_from_the_date_header(scenario_server: Server) -> None:
    name, sleeps = key(), Sleeps()
    with Client(scenario_server.url, sleep=sleeps) as client:
        response = client.get(f"/retry-after/{name}?date=1&seconds=30")
    assert response.attempts == 2
    assert len(sleeps.calls) == 1
    # Both dates have one-second resolution.
    assert 28.0 <= sleeps.calls[0] <= 31.0


def test_retry_after_past_max_retry_after_raises_with_the_hint(scenario_server: Server) -> None:
    name, sleeps = key(), Sleeps()
    client = Client(scenario_server.url, sleep=sleeps)
    with client, pytest.raises(RateLimitError) as caught:
        client.get(f"/retry-after/{name}?seconds=90")
    assert caught.value.retry_after == 90.0
    assert caught.value.attempts == 1
    assert sleeps.calls == []


def test_x_should_retry_true_retries_a_400(scenario_server: Server) -> None:
    name = key()
    with Client(scenario_server.url, sleep=Sleeps()) as client:
        response = client.get(f"/should-retry/{name}?value=true&status=400")
    assert response.attempts == 2
    assert len(server_log(scenario_server, name)) == 2


# status errors ---------------------------------------------------------------------------

STATUSES = [
    (400, BadRequestError, False),
    (401, AuthenticationError, False),
    (403, PermissionDeniedError, False),
    (404, NotFoundError, False),
    (409, ConflictError, True),
    (422, UnprocessableEntityError, False),
    (429, RateLimitError, True),
    (500, InternalServerError, True),
    (503, InternalServerError, True),
]
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "unprocessable_entity_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
}


def check_status_error(
    exc: APIStatusError, status: int, cls: type[APIStatusError], retried: bool, body: str
) -> None:
    assert type(exc) is cls
    assert exc.status_code == status
    assert exc.attempts == (3 if retried else 1)
    assert exc.request_id is not None
    assert REQUEST_ID.match(exc.request_id)
    assert exc.request_id in str(exc)
    phrase = HTTPStatus(status).phrase
    if body == "error":
        assert exc.body == {
            "error": {
                "message": f"scenario status {status} {phrase}",
                "type": ERROR_TYPES[status],
                "code": HTTPStatus(status).name.lower(),
            }
        }
        assert exc.type == ERROR_TYPES[status]
        assert exc.code == HTTPStatus(status).name.lower()
        assert f"scenario status {status}" in str(exc)
    else:
        assert exc.body["title"] == phrase
        assert exc.body["status"] == status
        assert exc.type == f"https://example.com/problems/status-{status}"
        assert f"scenario problem for status {status}" in str(exc)


@pytest.mark.parametrize("body", ["error", "problem"])
@pytest.mark.parametrize(("status", "cls", "retried"), STATUSES)
def test_status_errors_sync(
    scenario_server: Server, status: int, cls: type[APIStatusError], retried: bool, body: str
) -> None:
    sleeps = Sleeps()
    with Client(scenario_server.url, sleep=sleeps) as client, pytest.raises(cls) as caught:
        client.get(f"/status/{status}?body={body}")
    check_status_error(caught.value, status, cls, retried, body)
    assert len(sleeps.calls) == caught.value.attempts - 1


@pytest.mark.anyio
@pytest.mark.parametrize("body", ["error", "problem"])
@pytest.mark.parametrize(("status", "cls", "retried"), STATUSES)
async def test_status_errors_async(
    scenario_server: Server, status: int, cls: type[APIStatusError], retried: bool, body: str
) -> None:
    sleeps = Sleeps()
    async with AsyncClient(scenario_server.url, sleep=sleeps.asleep) as client:
        with pytest.raises(cls) as caught:
            await client.get(f"/status/{status}?body={body}")
    check_status_error(caught.value, status, cls, retried, body)


@pytest.mark.parametrize(("status", "cls"), [(404, NotFoundError), (502, InternalServerError)])
def test_text_empty_and_huge_error_bodies_keep_the_class_sync(
    scenario_server: Server, status: int, cls: type[APIStatusError]
) -> None:
    with Client(scenario_server.url, max_retries=0) as client:
        with pytest.raises(cls) as text:
            client.get(f"/status/{status}?body=text")
        with pytest.raises(cls) as empty:
            client.get(f"/status/{status}?body=empty")
        with pytest.raises(cls) as huge:
            client.get(f"/status/{status}?body=huge")
    phrase = HTTPStatus(status).phrase
    assert text.value.body == f"Scenario says {phrase} ({status}) in plain text.\n"
    assert empty.value.body is None
    assert f"Error code: {status} - {phrase}" in str(empty.value)
    assert isinstance(huge.value.body, str)
    assert huge.value.body.startswith("not json: this scenario body is deliberately huge")
    assert len(huge.value.body) <= 4096  # a bounded excerpt of the 1 MiB body
    assert len(str(huge.value)) < 1024
    for caught in (text, empty, huge):
        assert REQUEST_ID.match(caught.value.request_id or "")


@pytest.mark.anyio
async def test_text_and_empty_error_bodies_keep_the_class_async(scenario_server: Server) -> None:
    async with AsyncClient(scenario_server.url, max_retries=0) as client:
        with pytest.raises(ConflictError) as text:
            await client.get("/status/409?body=text")
        with pytest.raises(ConflictError) as empty:
            await client.get("/status/409?body=empty")
    assert text.value.body == "Scenario says Conflict (409) in plain text.\n"
    assert empty.value.body is None


# connection failures and timeouts ----------------------------------------------------------


def test_closed_port_raises_connect_error_after_the_retries_sync(closed_port_url: str) -> None:
    sleeps = Sleeps()
    with Client(closed_port_url, sleep=sleeps) as client, pytest.raises(ConnectError) as caught:
        client.get("/anything")
    assert caught.value.attempts == 3
    assert len(sleeps.calls) == 2


@pytest.mark.anyio
async def test_closed_port_raises_connect_error_after_the_retries_async(
    closed_port_url: str,
) -> None:
    sleeps = Sleeps()
    async with AsyncClient(closed_port_url, sleep=sleeps.asleep) as client:
        with pytest.raises(ConnectError) as caught:
            await client.post("/anything", json={})
    assert caught.value.attempts == 3
    assert len(sleeps.calls) == 2


SLOW_READ = Timeout(5.0, read=0.25)


def test_slow_body_raises_read_timeout_sync(scenario_server: Server) -> None:
    sleeps = Sleeps()
    with Client(scenario_server.url, timeout=SLOW_READ, max_retries=1, sleep=sleeps) as client:
        with pytest.raises(ReadTimeout) as caught:
            client.get("/slow-body?delay=1")
        assert caught.value.attempts == 2  # a GET is retried after a timeout
        assert client.statistics().in_use == 0
        assert client.get("/echo").status_code == 200


@pytest.mark.anyio
async def test_slow_body_raises_read_timeout_async(scenario_server: Server) -> None:
    async with AsyncClient(scenario_server.url, timeout=SLOW_READ, max_retries=0) as client:
        with pytest.raises(ReadTimeout) as caught:
            await client.get("/slow-body?delay=1")
        assert caught.value.attempts == 1
        assert client.statistics().in_use == 0
        assert (await client.get("/echo")).status_code == 200


DEADLINE = Timeout(5.0, read=5.0, total=0.6)


@pytest.mark.anyio
async def test_total_deadline_stops_the_async_client_in_time(scenario_server: Server) -> None:
    async with AsyncClient(scenario_server.url, timeout=DEADLINE) as client:
        # The server answers after 20 s; a call that waited for it instead of ending at
        # its 0.6 s deadline fails the 10 s bound (no wall-clock assert on the margin).
        with anyio.fail_after(10), pytest.raises(DeadlineExceeded) as caught:
            await client.get("/slow-headers?delay=20")
        assert caught.value.attempts == 1
        assert client.statistics().in_use == 0


class RecordingTransport:
    """Wraps a transport and records the Timeout each attempt was given."""

    def __init__(self, inner: HttpcoreTransport) -> None:
        self.inner = inner
        self.timeouts: list[Timeout] = []

    def handle_request(self, request: Request, timeout: Timeout) -> Response:
        self.timeouts.append(timeout)
        return self.inner.handle_request(request, timeout)

    def statistics(self) -> PoolStatistics:
        return self.inner.statistics()

    def close(self) -> None:
        self.inner.close()


def test_total_deadline_caps_the_sync_clients_attempt_timeouts(scenario_server: Server) -> None:
    # The sync client cannot cancel a blocking read; what it guarantees is that every
    # phase timeout of an attempt is capped to what is left of the deadline, and that a
    # timeout at the deadline is reported as DeadlineExceeded and not retried.
    transport = RecordingTransport(HttpcoreTransport())
    # With the phases uncapped (read=5.0) the answer after 2 s would arrive: a 200, not
    # DeadlineExceeded.
    with (
        Client(scenario_server.url, timeout=DEADLINE, transport=transport) as client,
        pytest.raises(DeadlineExceeded) as caught,
    ):
        client.get("/slow-headers?delay=2")
    assert caught.value.attempts == 1
    assert isinstance(caught.value.__cause__, ReadTimeout)
    (timeout,) = transport.timeouts
    for phase in (timeout.connect, timeout.read, timeout.write, timeout.pool):
        assert phase is not None
        assert 0.5 < phase <= 0.6
