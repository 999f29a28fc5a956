"""The reliability failure catalogue, through ``Client`` and ``AsyncClient``, on every
network transport (SocketTransport and HttpcoreTransport; AnyioTransport and
AsyncHttpcoreTransport on asyncio and trio) against ``FaultServer``.

Every scenario names one expected outcome (an exception class, or "ok"): the same fault
gives the same exception on every transport and loop. Each run records its outcome in
``TABLE``; ``test_outcomes_are_uniform`` (last in the file) checks the table.
A scenario a transport cannot pass goes in ``KNOWN_GAPS`` and runs as a strict xfail.
No test waits for real: ``sleep=`` recorders stand in for backoff. The faults that are
also transport faults come from the one fault table, ``sdk_transports.testing.FAULTS``.
No wall-clock asserts: an endless body that the cap failed to end would run into the
5 s read timeout, which is the wrong outcome.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from sdk_core import (
    APIError,
    Limits,
    RateLimitError,
    Response,
    Timeout,
    TooManyRedirects,
    supported_encodings,
)
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
    hang,
    read_request,
    respond,
    respond_chunked,
    send,
    serve_forever,
)

CAP = 64 * 1024  # max_response_size for every transport here
SECRET = "sk-live-Zq8pX3TOPSECRET"
TOKEN = "svc-token-TOPSECRET"
#: For the endless bodies: a client that kept reading past the cap would time out.
BOUNDED = {"timeout": Timeout(5.0)}

SYNC_TRANSPORTS: dict[str, Callable[[], Any]] = {
    "SocketTransport": lambda: SocketTransport(limits=Limits(), max_response_size=CAP),
    "HttpcoreTransport": lambda: HttpcoreTransport(limits=Limits(), max_response_size=CAP),
}
ASYNC_TRANSPORTS: dict[str, Callable[[], Any]] = {
    "AnyioTransport": lambda: AnyioTransport(limits=Limits(), max_response_size=CAP),
    "AsyncHttpcoreTransport": lambda: AsyncHttpcoreTransport(
        limits=Limits(), max_response_size=CAP
    ),
}

# (scenario, transport, loop) -> reason; run as strict xfail.
KNOWN_GAPS: dict[tuple[str, str, str], str] = {}

# scenario -> transport/loop -> outcome, filled as the tests run.
TABLE: dict[str, dict[str, str]] = {}


# -- scenarios --------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one scenario run produced."""

    outcome: str  # the exception class name, or "ok"
    error: BaseException | None
    responses: list[Response]
    sleeps: list[float]
    servers: list[FaultServer]


@dataclass(frozen=True)
class Scenario:
    name: str
    expected: str
    # scripts(servers) -> for each server, the scripts of its next connections
    scripts: Callable[[Sequence[FaultServer]], list[list[tuple[Step, ...]]]]
    paths: tuple[str, ...] = ("/thing",)
    servers: int = 1
    client: dict[str, Any] = field(default_factory=dict)
    check: Callable[[Outcome], None] | None = None


def _one(*steps: Step) -> Callable[[Sequence[FaultServer]], list[list[tuple[Step, ...]]]]:
    return lambda _: [[tuple(steps)]]


def _respond_raw(head: bytes, body: bytes) -> bytes:
    return head.replace(b"\n", b"\r\n") + b"\r\n" + body


def _backoff_sleeps(first: float = 0.5) -> Callable[[Outcome], None]:
    def check(result: Outcome) -> None:
        # proportional jitter: the first backoff is in [0.75, 1] * initial_delay
        assert len(result.sleeps) == 1, result.sleeps
        assert 0.75 * first <= result.sleeps[0] <= first, result.sleeps
        assert len(result.servers[0].requests) == 2

    return check


def _retry_after_garbage(label: str, value: str) -> Scenario:
    return Scenario(
        f"retry_after_{label}",
        "ok",
        _one(read_request(), respond(429, headers=[("Retry-After", value)]), serve_forever()),
        check=_backoff_sleeps(),
    )


def _check_huge_retry_after(result: Outcome) -> None:
    assert isinstance(result.error, RateLimitError)
    assert result.error.retry_after is not None
    assert result.error.retry_after > 60.0
    assert result.sleeps == []
    assert len(result.servers[0].requests) == 1
    assert result.error.attempts == 1


def _huge_retry_after(label: str, value: str) -> Scenario:
    return Scenario(
        f"retry_after_{label}",
        "RateLimitError",
        _one(read_request(), respond(429, headers=[("Retry-After", value)]), serve_forever()),
        check=_check_huge_retry_after,
    )


def _check_no_garbage(result: Outcome) -> None:
    first, second = result.responses
    assert first.json() == {"ok": True}
    assert second.json()["target"] == "/second", second.content
    assert len(result.servers[0].requests) == 2


def _check_single_attempt(result: Outcome) -> None:
    assert isinstance(result.error, APIError)
    assert result.error.attempts == 1


def _check_loop(result: Outcome) -> None:
    assert isinstance(result.error, TooManyRedirects)
    assert len(result.servers[0].requests) == 6  # the first request and 5 redirects


def _cross_origin(servers: Sequence[FaultServer]) -> list[list[tuple[Step, ...]]]:
    location = f"{servers[1].url}/landed"
    return [[(read_request(), respond(302, b"", [("Location", location)]), serve_forever())], []]


def _check_cross_origin(result: Outcome) -> None:
    (response,) = result.responses
    assert response.json()["target"] == "/landed"
    (sent,) = result.servers[0].requests
    assert sent.header("x-service-token") == TOKEN
    assert sent.header("authorization") == f"Bearer {SECRET}"
    (landed,) = result.servers[1].requests
    assert landed.header("x-service-token") is None
    assert landed.header("authorization") is None
    assert SECRET not in repr(landed.headers)
    assert TOKEN not in repr(landed.headers)


def _bomb(encoding: str) -> bytes:
    plain = b"\0" * (8 * 1024 * 1024)
    if encoding == "gzip":
        return gzip.compress(plain)
    if encoding == "br":
        import brotli  # type: ignore[import-untyped, unused-ignore]

        return bytes(brotli.compress(plain))
    import zstandard  # type: ignore[import-untyped, unused-ignore]

    return bytes(zstandard.ZstdCompressor().compress(plain))


def _bomb_scenario(encoding: str) -> Scenario:
    def scripts(_: Sequence[FaultServer]) -> list[list[tuple[Step, ...]]]:
        body = _bomb(encoding)
        headers = [("Content-Encoding", encoding), ("Content-Type", "application/json")]
        return [[(read_request(), respond(200, body, headers), serve_forever())]]

    return Scenario(
        f"decompression_bomb_{encoding}",
        "ResponseTooLargeError",
        scripts,
        client=BOUNDED,
        check=_check_single_attempt,
    )


_ENDLESS_CHUNK = b"x" * 16384

SCENARIOS: list[Scenario] = [
    _retry_after_garbage("garbage", "soon"),
    _retry_after_garbage("negative", "-5"),
    _retry_after_garbage("nan", "nan"),
    _retry_after_garbage("inf", "inf"),
    _retry_after_garbage("bad_date", "Wed, 99 Foo 2015 07:28:00 GMT"),
    _huge_retry_after("1e35", "1e35"),
    _huge_retry_after("26_digits", "9" * 26),
    _huge_retry_after("3600_over_max", "3600"),
    Scenario(
        "content_length_longer_than_body",
        FAULTS["eof_in_content_length_body"].expected.__name__,
        _one(*FAULTS["eof_in_content_length_body"].script),
        client={"max_retries": 0},
        check=_check_single_attempt,
    ),
    Scenario(
        "bytes_beyond_content_length",
        "ok",
        _one(
            read_request(),
            send(
                _respond_raw(
                    b"HTTP/1.1 200 OK\nContent-Length: 11\nContent-Type: application/json\n",
                    b'{"ok":true}'
                    + _respond_raw(
                        b"HTTP/1.1 200 OK\nContent-Length: 14\nContent-Type: application/json\n",
                        b'{"evil": true}',
                    ),
                )
            ),
            serve_forever(),
        ),
        paths=("/first", "/second"),
        check=_check_no_garbage,
    ),
    Scenario(
        "endless_chunked_body",
        "ResponseTooLargeError",
        _one(read_request(), respond_chunked([_ENDLESS_CHUNK] * 64, terminate=False), hang()),
        client=BOUNDED,
        check=_check_single_attempt,
    ),
    Scenario(
        "huge_content_length",
        "ResponseTooLargeError",
        _one(
            read_request(),
            send(
                _respond_raw(b"HTTP/1.1 200 OK\nContent-Length: 1000000000000\n", _ENDLESS_CHUNK)
                + _ENDLESS_CHUNK * 63
            ),
            hang(),
        ),
        client=BOUNDED,
        check=_check_single_attempt,
    ),
    Scenario(
        # Only the call's deadline ends a body that trickles in just under the read
        # timeout (the table's entry says by how much).
        "trickle_past_deadline",
        FAULTS["trickle_past_deadline"].expected.__name__,
        _one(*FAULTS["trickle_past_deadline"].script),
        client={"timeout": FAULTS["trickle_past_deadline"].timeout, "max_retries": 0},
        check=_check_single_attempt,
    ),
    Scenario(
        "redirect_loop",
        "TooManyRedirects",
        _one(
            *[
                s
                for _ in range(10)
                for s in (read_request(), respond(302, b"", [("Location", "/loop")]))
            ]
        ),
        check=_check_loop,
    ),
    Scenario(
        "cross_origin_redirect_with_credentials",
        "ok",
        _cross_origin,
        servers=2,
        client={
            "api_key": TOKEN,
            "auth_header": "X-Service-Token",
            "auth_scheme": None,
            "default_headers": {"Authorization": f"Bearer {SECRET}"},
        },
        check=_check_cross_origin,
    ),
    *[
        _bomb_scenario(encoding)
        for encoding in ("gzip", "br", "zstd")
        if encoding in supported_encodings()
    ],
]


# -- running a scenario -----------------------------------------------------------------


def _start(scenario: Scenario) -> list[FaultServer]:
    servers = [FaultServer().start() for _ in range(scenario.servers)]
    for server, scripts in zip(servers, scenario.scripts(servers), strict=True):
        for steps in scripts:
            server.script(*steps)
    return servers


def _stop(servers: list[FaultServer]) -> None:
    for server in servers:
        server.stop()


def _verify(scenario: Scenario, column: str, result: Outcome) -> None:
    """Check ``result`` and record its cell in ``TABLE`` ("<outcome> (wrong)" when the
    outcome is right but the scenario's own check fails)."""
    cell = result.outcome
    try:
        if result.outcome != scenario.expected and result.error is not None:
            raise AssertionError(f"expected {scenario.expected}, got {result.outcome}") from (
                result.error
            )
        assert result.outcome == scenario.expected
        if scenario.check is not None:
            try:
                scenario.check(result)
            except Exception:
                cell = f"{result.outcome} (wrong)"
                raise
    finally:
        TABLE.setdefault(scenario.name, {})[column] = cell


def _gap(request: pytest.FixtureRequest, scenario: Scenario, transport: str, loop: str) -> None:
    reason = KNOWN_GAPS.get((scenario.name, transport, loop))
    if reason is not None:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


def _ids(scenario: Scenario) -> str:
    return scenario.name


@pytest.mark.parametrize("transport_name", list(SYNC_TRANSPORTS))
@pytest.mark.parametrize("scenario", SCENARIOS, ids=_ids)
def test_sync(scenario: Scenario, transport_name: str, request: pytest.FixtureRequest) -> None:
    _gap(request, scenario, transport_name, "sync")
    servers = _start(scenario)
    sleeps: list[float] = []
    responses: list[Response] = []
    error: BaseException | None = None
    try:
        with Client(
            servers[0].url,
            transport=SYNC_TRANSPORTS[transport_name](),
            rng=random.Random(7),
            sleep=sleeps.append,
            **scenario.client,
        ) as client:
            try:
                for path in scenario.paths:
                    responses.append(client.get(path))
            except APIError as exc:
                error = exc
            stats = client.statistics()
            assert (stats.in_use, stats.waiting) == (0, 0), stats
    finally:
        _stop(servers)
    result = Outcome(
        "ok" if error is None else type(error).__name__, error, responses, sleeps, servers
    )
    _verify(scenario, f"{transport_name}/sync", result)


@pytest.mark.anyio
@pytest.mark.parametrize("transport_name", list(ASYNC_TRANSPORTS))
@pytest.mark.parametrize("scenario", SCENARIOS, ids=_ids)
async def test_async(
    scenario: Scenario, transport_name: str, anyio_backend: str, request: pytest.FixtureRequest
) -> None:
    _gap(request, scenario, transport_name, anyio_backend)
    servers = _start(scenario)
    sleeps: list[float] = []
    responses: list[Response] = []
    error: BaseException | None = None

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    try:
        async with AsyncClient(
            servers[0].url,
            transport=ASYNC_TRANSPORTS[transport_name](),
            rng=random.Random(7),
            sleep=sleep,
            **scenario.client,
        ) as client:
            try:
                with anyio.fail_after(30):  # a hang fails here, not at pytest's timeout
                    for path in scenario.paths:
                        responses.append(await client.get(path))
            except APIError as exc:
                error = exc
            stats = client.statistics()
            assert (stats.in_use, stats.waiting) == (0, 0), stats
    finally:
        await anyio.to_thread.run_sync(_stop, servers)
    result = Outcome(
        "ok" if error is None else type(error).__name__, error, responses, sleeps, servers
    )
    _verify(scenario, f"{transport_name}/{anyio_backend}", result)


COLUMNS = [f"{name}/sync" for name in SYNC_TRANSPORTS] + [
    f"{name}/{loop}" for name in ASYNC_TRANSPORTS for loop in ("asyncio", "trio")
]


def test_outcomes_are_uniform() -> None:
    """Last in the file: every scenario gave one outcome on every transport and loop
    (apart from the known gaps)."""
    if not TABLE:
        pytest.skip("the scenarios did not run in this session")
    lines = [" | ".join(["scenario", *COLUMNS])]
    odd: list[str] = []
    for scenario in SCENARIOS:
        row = TABLE.get(scenario.name, {})
        cells = [row.get(column, "-") for column in COLUMNS]
        lines.append(" | ".join([scenario.name, *cells]))
        for column, cell in zip(COLUMNS, cells, strict=True):
            transport, loop = column.split("/")
            if cell not in ("-", scenario.expected) and (
                (scenario.name, transport, loop) not in KNOWN_GAPS
            ):
                odd.append(f"{scenario.name} on {column}: {cell}")
    print("\n".join(lines))
    assert not odd, "\n".join([*lines, "", *odd])
