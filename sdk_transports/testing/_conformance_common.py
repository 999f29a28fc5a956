"""What the two transport conformance suites share: the scenario names, the checks, and
the base class with the known-gap marker and the server fixture. The faults they inflict
come from the one fault table (``_faults.FAULTS``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import ClassVar

import pytest

from sdk_core import APIConnectionError, APIError, Request, Response, Timeout
from sdk_transports import AsyncTransport, Transport

from ._fault_server import FaultServer
from ._faults import DEFAULT_TIMEOUT, FAULTS, STALL

__all__ = [
    "ASYNC_SCENARIOS",
    "BACKENDS",
    "FAULTS",
    "NO_BODY_CALLS",
    "NO_BODY_HEAD",
    "NO_BODY_READ",
    "SCENARIOS",
    "SHORT_CONNECT",
    "SHORT_POOL",
    "STALL",
    "TIMEOUT",
    "UPLOAD_SIZE",
    "Conformance",
    "check_error",
    "check_ok",
    "check_settled",
    "expect",
    "get",
]

#: Scenarios both classes run (test method names without ``test_``).
SCENARIOS: tuple[str, ...] = (
    "get_and_post",
    "keep_alive_reuse",
    "stale_keep_alive_replaced",
    "closed_before_response",
    "client_retries_idempotent_get",
    "client_does_not_retry_post",
    "eof_in_content_length_body",
    "eof_in_chunked_body",
    "reset_mid_body",
    "early_response_during_upload",
    "connection_refused",
    "connect_timeout",
    "read_timeout_mid_body",
    "pool_timeout",
    "no_body_responses",
    "header_block_over_64k",
    "not_http",
)
#: ``SCENARIOS`` plus those only an async transport runs.
ASYNC_SCENARIOS: tuple[str, ...] = (
    *SCENARIOS,
    "cancellation_frees_every_slot",
    "cancellation_closes_every_socket",
    "cancellation_propagates_unwrapped",
)

BACKENDS = ("asyncio", "trio")

#: For the parts of a scenario that should never time out (a hang fails, not blocks).
TIMEOUT = DEFAULT_TIMEOUT
SHORT_CONNECT = Timeout(5.0, connect=0.2)
SHORT_POOL = Timeout(5.0, pool=0.1)
NO_BODY_READ = Timeout(5.0, read=0.5)  # reading a body that never comes fails fast

UPLOAD_SIZE = 8 * 1024 * 1024  # more than loopback socket buffers hold unread
NO_BODY_HEAD = b"Content-Length: 1000\r\n\r\n"  # declared, never sent: must not be read
NO_BODY_CALLS = (("HEAD", "/", 200), ("GET", "/204", 204), ("GET", "/304", 304))


def check_error(exc: BaseException, expected: type[APIError], *, request_sent: bool | None) -> None:
    """``exc`` is exactly ``expected`` (not a subclass), with ``request_sent``."""
    assert type(exc) is expected, f"expected {expected.__name__}, got {type(exc).__name__}: {exc}"
    if request_sent is not None:
        assert isinstance(exc, APIConnectionError)
        assert exc.request_sent is request_sent, f"request_sent is {exc.request_sent}"


def expect(actual: object, expected: object, what: str) -> None:
    """``assert actual == expected`` with a message (this module is not assert-rewritten)."""
    assert actual == expected, f"{what}: expected {expected!r}, got {actual!r}"


def check_settled(transport: Transport | AsyncTransport, *, idle: int | None = None) -> None:
    stats = transport.statistics()
    assert (stats.in_use, stats.waiting) == (0, 0), f"the pool did not settle: {stats}"
    if idle is not None:
        assert stats.idle == idle, f"expected {idle} idle connection(s): {stats}"


def check_ok(response: Response, target: str) -> None:
    assert response.status_code == 200, f"expected 200, got {response.status_code}: {response}"
    expect(response.json()["target"], target, "the target the server saw")


def get(server: FaultServer, target: str) -> Request:
    return Request("GET", server.url + target)


class Conformance:
    """What both suites share: the gaps, the server fixture and the gap marker."""

    #: scenario name -> why this transport cannot pass it (run as a strict xfail).
    known_gaps: ClassVar[Mapping[str, str]] = {}
    _scenarios: ClassVar[tuple[str, ...]] = SCENARIOS

    @pytest.fixture
    def fault_server(self) -> Iterator[FaultServer]:
        """A fresh ``FaultServer`` for one scenario."""
        with FaultServer() as server:
            yield server

    @pytest.fixture(autouse=True)
    def _mark_known_gap(self, request: pytest.FixtureRequest) -> None:
        name = getattr(request.node, "originalname", request.node.name).removeprefix("test_")
        reason = self.known_gaps.get(name)
        callspec = getattr(request.node, "callspec", None)
        backend = callspec.params.get("anyio_backend") if callspec is not None else None
        if reason is None and backend is not None:
            reason = self.known_gaps.get(f"{name}[{backend}]")
        if reason is not None:
            request.applymarker(pytest.mark.xfail(strict=True, reason=reason))

    def test_known_gaps_name_scenarios(self) -> None:
        """Every ``known_gaps`` key names a scenario (async: optionally ``[asyncio]`` or
        ``[trio]``), with a reason: a typo must not silently run a gap as a test."""
        names = set(self._scenarios)
        if self._scenarios is ASYNC_SCENARIOS:
            names |= {f"{n}[{b}]" for n in self._scenarios for b in BACKENDS}
        unknown = sorted(set(self.known_gaps) - names)
        assert not unknown, f"known_gaps names no such scenario: {unknown}"
        empty = sorted(k for k, r in self.known_gaps.items() if not (isinstance(r, str) and r))
        assert not empty, f"known_gaps without a reason: {empty}"
