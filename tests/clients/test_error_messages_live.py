"""What users read when a real call fails, on every network transport and loop.

Each fault of the failure catalogue that gives a connection, too-large or status error
runs through ``Client`` (SocketTransport, HttpcoreTransport) and ``AsyncClient``
(AnyioTransport, AsyncHttpcoreTransport, on asyncio and trio) against ``FaultServer``,
with a secret in the query. ``str(error)`` must not start with (or repeat) the error's
class name, must end with the method, the redacted URL and the attempts, and must hold
the secret nowhere (nor its traceback); a status error says what to do; the deadline
reads the same on every transport and loop. No test waits for real between attempts:
``sleep=`` stands in for backoff. The connection faults are the entries of the one fault
table, ``sdk_transports.testing.FAULTS``.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from sdk_core import APIError, Limits, Timeout
from sdk_transports import (
    AnyioTransport,
    AsyncClient,
    AsyncHttpcoreTransport,
    Client,
    HttpcoreTransport,
    SocketTransport,
)
from sdk_transports.testing import (
    FAULTS,
    FaultServer,
    Step,
    read_request,
    respond,
    serve_forever,
    stall,
)

SECRET = "zQ-live-query-secret-4f1e"
PARAMS: dict[str, str | int] = {"key": SECRET, "page": 2}
PATH = "/v1/items"
CAP = 64 * 1024

SYNC_TRANSPORTS: dict[str, Callable[[], Any]] = {
    "SocketTransport": lambda: SocketTransport(
        limits=Limits(max_connections=1), max_response_size=CAP
    ),
    "HttpcoreTransport": lambda: HttpcoreTransport(
        limits=Limits(max_connections=1), max_response_size=CAP
    ),
}
ASYNC_TRANSPORTS: dict[str, Callable[[], Any]] = {
    "AnyioTransport": lambda: AnyioTransport(
        limits=Limits(max_connections=1), max_response_size=CAP
    ),
    "AsyncHttpcoreTransport": lambda: AsyncHttpcoreTransport(
        limits=Limits(max_connections=1), max_response_size=CAP
    ),
}


@dataclass(frozen=True)
class Fault:
    name: str
    expected: str
    script: tuple[Step, ...] = ()
    client: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1
    # text str(error) holds besides the request (the advice, or the whole message)
    says: str | None = None


def _from_table(name: str, table_name: str, says: str | None = None) -> Fault:
    """The fault ``table_name`` of ``FAULTS``, sent with its timeout and no retries."""
    fault = FAULTS[table_name]
    return Fault(
        name,
        fault.expected.__name__,
        fault.script,
        client={"timeout": fault.timeout},
        says=says,
    )


FAULTS_SEEN = [
    Fault("refused", "ConnectError", client={"max_retries": 1}, attempts=2),
    _from_table("closed_before_response", "closed_before_response"),
    _from_table("not_http", "not_http"),
    _from_table("reset_mid_body", "reset_mid_body"),
    _from_table("read_timeout", "read_timeout_mid_body"),
    Fault(
        "too_large",
        "ResponseTooLargeError",
        (read_request(), respond(200, b"x" * (CAP + 1))),
    ),
    _from_table(
        "deadline", "trickle_past_deadline", says="the call's total timeout of 0.3 s ran out."
    ),
    Fault("pool_timeout", "PoolTimeout", client={"timeout": Timeout(5.0, pool=0.1)}),
    Fault(
        "401",
        "AuthenticationError",
        (read_request(), respond(401, b'{"error": {"message": "Incorrect API key"}}')),
        says="Error code: 401 - Incorrect API key. Check the API key",
    ),
    Fault(
        "429",
        "RateLimitError",
        (read_request(), respond(429, b"{}", [("Retry-After", "120")])),
        says="Rate limited: retry after 120 s.",
    ),
    Fault(
        "503",
        "InternalServerError",
        (read_request(), respond(503, b""), read_request(), respond(503, b"")),
        client={"max_retries": 1},
        attempts=2,
        says="Error code: 503 - Service Unavailable. The server failed; retried 1 time.",
    ),
]
# The request the pool-timeout fault makes wait: it holds the only connection meanwhile.
HOLD = (read_request(), stall(1.0), respond(), serve_forever())


def check(error: BaseException, fault: Fault, base_url: str) -> None:
    name = type(error).__name__
    assert name == fault.expected, error
    assert isinstance(error, APIError)
    text = str(error)
    assert not text.startswith(name), text
    assert f"{name}:" not in text, text  # not "ReadTimeout: ReadTimeout: ..."
    attempts = "1 attempt" if fault.attempts == 1 else f"{fault.attempts} attempts"
    assert text.endswith(f" (GET {base_url}{PATH}?key=[redacted]&page=2, {attempts})"), text
    assert error.attempts == fault.attempts
    if fault.says is not None:
        assert fault.says in text, text
    assert SECRET not in "".join(traceback.format_exception(error))


def start(fault: Fault) -> FaultServer:
    server = FaultServer().start()
    if fault.name == "pool_timeout":
        server.script(*HOLD)
    elif fault.script:
        server.script(*fault.script)
    return server


def ids(fault: Fault) -> str:
    return fault.name


@pytest.mark.parametrize("transport_name", list(SYNC_TRANSPORTS))
@pytest.mark.parametrize("fault", FAULTS_SEEN, ids=ids)
def test_sync(fault: Fault, transport_name: str, closed_port_url: str) -> None:
    server = start(fault)
    base_url = closed_port_url if fault.name == "refused" else server.url
    held: list[object] = []
    try:
        with Client(
            base_url,
            transport=SYNC_TRANSPORTS[transport_name](),
            sleep=lambda _: None,
            **{"max_retries": 0, **fault.client},
        ) as client:
            holder = threading.Thread(target=lambda: held.append(client.get("/hold")))
            if fault.name == "pool_timeout":
                holder.start()
                assert server.wait_requests(1)
            try:
                with pytest.raises(APIError) as caught:
                    client.get(PATH, params=PARAMS)
            finally:
                if holder.is_alive():
                    holder.join(10)
    finally:
        server.stop()
    check(caught.value, fault, base_url)
    assert len(held) == (1 if fault.name == "pool_timeout" else 0)


@pytest.mark.anyio
@pytest.mark.parametrize("transport_name", list(ASYNC_TRANSPORTS))
@pytest.mark.parametrize("fault", FAULTS_SEEN, ids=ids)
async def test_async(fault: Fault, transport_name: str, closed_port_url: str) -> None:
    server = start(fault)
    base_url = closed_port_url if fault.name == "refused" else server.url
    held: list[object] = []

    async def no_sleep(_: float) -> None:
        pass

    try:
        async with AsyncClient(
            base_url,
            transport=ASYNC_TRANSPORTS[transport_name](),
            sleep=no_sleep,
            **{"max_retries": 0, **fault.client},
        ) as client:

            async def hold() -> None:
                held.append(await client.get("/hold"))

            with anyio.fail_after(10):
                async with anyio.create_task_group() as group:
                    if fault.name == "pool_timeout":
                        group.start_soon(hold)
                        await anyio.to_thread.run_sync(server.wait_requests, 1)
                    with pytest.raises(APIError) as caught:
                        await client.get(PATH, params=PARAMS)
    finally:
        await anyio.to_thread.run_sync(server.stop)
    check(caught.value, fault, base_url)
    assert len(held) == (1 if fault.name == "pool_timeout" else 0)


# -- the deadline while a streamed body is read -------------------------------------------

DEADLINE = next(fault for fault in FAULTS_SEEN if fault.name == "deadline")


@pytest.mark.parametrize("transport_name", list(SYNC_TRANSPORTS))
def test_sync_stream_deadline(transport_name: str) -> None:
    server = start(DEADLINE)
    client = Client(
        server.url,
        transport=SYNC_TRANSPORTS[transport_name](),
        sleep=lambda _: None,
        **{"max_retries": 0, **DEADLINE.client},
    )
    try:
        with (
            client,
            client.stream("GET", PATH, params=PARAMS) as response,
            pytest.raises(APIError) as caught,
        ):
            response.read()
    finally:
        server.stop()
    check(caught.value, DEADLINE, server.url)


@pytest.mark.anyio
@pytest.mark.parametrize("transport_name", list(ASYNC_TRANSPORTS))
async def test_async_stream_deadline(transport_name: str) -> None:
    server = start(DEADLINE)

    async def no_sleep(_: float) -> None:
        pass

    try:
        async with AsyncClient(
            server.url,
            transport=ASYNC_TRANSPORTS[transport_name](),
            sleep=no_sleep,
            **{"max_retries": 0, **DEADLINE.client},
        ) as client:
            with anyio.fail_after(10):
                async with client.stream("GET", PATH, params=PARAMS) as response:
                    with pytest.raises(APIError) as caught:
                        await response.aread()
    finally:
        await anyio.to_thread.run_sync(server.stop)
    check(caught.value, DEADLINE, server.url)
