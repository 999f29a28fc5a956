"""A conformance suite for transports: subclass, implement ``make_transport``, run pytest.

::

    from sdk_core import Limits
    from sdk_transports.testing.conformance import SyncTransportConformance

    class TestMine(SyncTransportConformance):
        def make_transport(self, *, limits: Limits) -> MyTransport:
            return MyTransport(limits=limits)

``AsyncTransportConformance`` does the same for an ``AsyncTransport`` and runs every
scenario on asyncio and on trio (skipped when trio is not installed); its TLS scenarios
also need ``make_tls_transport`` (a transport that trusts the given context's CA) and
trustme. Every scenario
talks to its own ``FaultServer`` on 127.0.0.1 and checks the exact core exception class,
that the pool settles (``in_use == 0``, ``waiting == 0``) and that the same transport
then serves another request.

A scenario the transport cannot pass goes in ``known_gaps`` (scenario name -> reason;
for the async class ``"name[asyncio]"`` or ``"name[trio]"`` limits it to one loop): it
then runs as ``xfail(strict=True)``, so the gap is documented, shows in the report, and
fails the run once it is fixed. ``SCENARIOS`` and ``ASYNC_SCENARIOS`` list the names.

This module needs pytest (and anyio's pytest plugin for the async class); importing
``sdk_transports.testing`` does not import it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import random
import ssl
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar

import anyio
import anyio.lowlevel
import pytest

from sdk_core import (
    APIConnectionError,
    APIError,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    Limits,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    Response,
    Timeout,
)

from .._async_client import AsyncClient
from .._client import Client
from .._protocols import AsyncTransport, Transport
from ._fault_server import (
    FaultServer,
    Step,
    close,
    hang,
    read_head,
    read_request,
    refused_url,
    reset,
    respond,
    respond_chunked,
    send,
    serve,
    stall,
    unresponsive_listener,
)
from ._phase_server import PhaseServer
from ._socket_audit import audit_sockets, open_sockets, sockets_left, tls_contexts

__all__ = [
    "ASYNC_SCENARIOS",
    "SCENARIOS",
    "AsyncTransportConformance",
    "SyncTransportConformance",
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

_BACKENDS = ("asyncio", "trio")

#: For the parts of a scenario that should never time out (a hang fails, not blocks).
_TIMEOUT = Timeout(5.0)
_SHORT_READ = Timeout(5.0, read=0.2)
_SHORT_CONNECT = Timeout(5.0, connect=0.2)
_SHORT_POOL = Timeout(5.0, pool=0.1)
_NO_BODY_READ = Timeout(5.0, read=0.5)  # reading a body that never comes fails fast
_STALL = 1.0  # far past every short timeout above, and interrupted when the server stops

_UPLOAD_SIZE = 8 * 1024 * 1024  # more than loopback socket buffers hold unread
_NOT_HTTP = b"SSH-2.0-OpenSSH_9.6\r\nthis is not http\r\n\r\n"
_NO_BODY_HEAD = b"Content-Length: 1000\r\n\r\n"  # declared, never sent: must not be read
_NO_BODY_CALLS = (("HEAD", "/", 200), ("GET", "/204", 204), ("GET", "/304", 304))


def _huge_head(kib: int) -> bytes:
    """A response head of about ``kib`` KiB of headers."""
    pad = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(kib))
    return b"HTTP/1.1 200 OK\r\n" + pad + b"Content-Length: 0\r\n\r\n"


@dataclass(frozen=True)
class _Fault:
    """One request per script, each failing with ``expected`` (request_sent True)."""

    scripts: tuple[tuple[Step, ...], ...]
    expected: type[APIConnectionError]
    timeout: Timeout = _TIMEOUT


_FAULTS: dict[str, _Fault] = {
    "closed_before_response": _Fault(((read_request(), close()),), RemoteProtocolError),
    "eof_in_content_length_body": _Fault(
        ((read_request(), send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), close()),),
        RemoteProtocolError,
    ),
    "eof_in_chunked_body": _Fault(
        (
            (
                read_request(),
                respond_chunked([b"abcde"], terminate=False),
                send(b"5\r\nab"),  # EOF inside the second chunk
                close(),
            ),
        ),
        RemoteProtocolError,
    ),
    "reset_mid_body": _Fault(
        (
            (
                read_request(),
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
                stall(0.05),  # the client is now waiting for the rest of the body
                reset(),
            ),
        ),
        ReadError,
    ),
    "read_timeout_mid_body": _Fault(
        (
            (
                read_request(),
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10),
                stall(_STALL),
            ),
        ),
        ReadTimeout,
        _SHORT_READ,
    ),
    # 80 KiB can arrive whole; 200 KiB is past any reasonable incomplete-head bound.
    "header_block_over_64k": _Fault(
        ((read_request(), send(_huge_head(80)), close()), (read_request(), send(_huge_head(200)))),
        RemoteProtocolError,
    ),
    "not_http": _Fault(((read_request(), send(_NOT_HTTP), close()),), RemoteProtocolError),
}


def _check_error(
    exc: BaseException, expected: type[APIError], *, request_sent: bool | None
) -> None:
    """``exc`` is exactly ``expected`` (not a subclass), with ``request_sent``."""
    assert type(exc) is expected, f"expected {expected.__name__}, got {type(exc).__name__}: {exc}"
    if request_sent is not None:
        assert isinstance(exc, APIConnectionError)
        assert exc.request_sent is request_sent, f"request_sent is {exc.request_sent}"


def _expect(actual: object, expected: object, what: str) -> None:
    """``assert actual == expected`` with a message (this module is not assert-rewritten)."""
    assert actual == expected, f"{what}: expected {expected!r}, got {actual!r}"


def _check_settled(transport: Transport | AsyncTransport, *, idle: int | None = None) -> None:
    stats = transport.statistics()
    assert (stats.in_use, stats.waiting) == (0, 0), f"the pool did not settle: {stats}"
    if idle is not None:
        assert stats.idle == idle, f"expected {idle} idle connection(s): {stats}"


def _check_ok(response: Response, target: str) -> None:
    assert response.status_code == 200, f"expected 200, got {response.status_code}: {response}"
    _expect(response.json()["target"], target, "the target the server saw")


def _get(server: FaultServer, target: str) -> Request:
    return Request("GET", server.url + target)


class _Conformance:
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
            names |= {f"{n}[{b}]" for n in self._scenarios for b in _BACKENDS}
        unknown = sorted(set(self.known_gaps) - names)
        assert not unknown, f"known_gaps names no such scenario: {unknown}"
        empty = sorted(k for k, r in self.known_gaps.items() if not (isinstance(r, str) and r))
        assert not empty, f"known_gaps without a reason: {empty}"


# -- blocking transports ----------------------------------------------------------------


class SyncTransportConformance(_Conformance):
    """Scenarios for a blocking ``Transport``; implement ``make_transport``."""

    def make_transport(self, *, limits: Limits) -> Transport:
        """A new transport with ``limits``; the suite closes it."""
        raise NotImplementedError("Implement make_transport(self, *, limits) -> Transport.")

    @contextlib.contextmanager
    def _transport(self, limits: Limits | None = None) -> Iterator[Transport]:
        transport = self.make_transport(limits=limits or Limits())
        try:
            yield transport
        finally:
            transport.close()

    def _check_works(self, transport: Transport, server: FaultServer) -> None:
        """The transport settled and serves another request."""
        _check_settled(transport)
        _check_ok(transport.handle_request(_get(server, "/after"), _TIMEOUT), "/after")
        _check_settled(transport)

    def _fault(self, name: str, server: FaultServer) -> None:
        fault = _FAULTS[name]
        with self._transport() as transport:
            for number, steps in enumerate(fault.scripts, 1):
                server.script(*steps)
                with pytest.raises(APIError) as info:
                    transport.handle_request(_get(server, f"/fault/{number}"), fault.timeout)
                _check_error(info.value, fault.expected, request_sent=True)
                _check_settled(transport, idle=0)  # a failed connection is never pooled
            self._check_works(transport, server)
            _expect(server.connections, len(fault.scripts) + 1, "connections accepted")

    # -- requests that work --

    def test_get_and_post(self, fault_server: FaultServer) -> None:
        with self._transport() as transport:
            _check_ok(
                transport.handle_request(_get(fault_server, "/get?x=1"), _TIMEOUT), "/get?x=1"
            )
            body = b'{"a": 1}'
            posted = transport.handle_request(
                Request(
                    "POST",
                    fault_server.url + "/post",
                    content=body,
                    headers={"content-type": "application/json"},
                ),
                _TIMEOUT,
            )
            _check_ok(posted, "/post")
            got, post = fault_server.requests
            _expect((got.method, got.body), ("GET", b""), "the GET as the server read it")
            _expect((post.method, post.body), ("POST", body), "the POST as the server read it")
            _expect(post.header("content-type"), "application/json", "the POST's content-type")
            _check_settled(transport, idle=1)

    def test_keep_alive_reuse(self, fault_server: FaultServer) -> None:
        with self._transport() as transport:
            for target in ("/one", "/two"):
                _check_ok(transport.handle_request(_get(fault_server, target), _TIMEOUT), target)
                _check_settled(transport, idle=1)
            _expect(fault_server.connections, 1, "connections accepted")
            _expect(
                [r.connection for r in fault_server.requests],
                [1, 1],
                "the connection of each request",
            )

    def test_stale_keep_alive_replaced(self, fault_server: FaultServer) -> None:
        fault_server.script(serve(1), close())  # keep-alive advertised, then closed idle
        with self._transport() as transport:
            _check_ok(transport.handle_request(_get(fault_server, "/one"), _TIMEOUT), "/one")
            assert fault_server.wait_finished(1), "the server did not close the connection"
            _check_ok(transport.handle_request(_get(fault_server, "/two"), _TIMEOUT), "/two")
            _expect(fault_server.connections, 2, "connections accepted")
            _check_settled(transport, idle=1)

    def test_no_body_responses(self, fault_server: FaultServer) -> None:
        fault_server.script(
            read_request(),
            send(b"HTTP/1.1 200 OK\r\n" + _NO_BODY_HEAD),
            read_request(),
            send(b"HTTP/1.1 204 No Content\r\n" + _NO_BODY_HEAD),
            read_request(),
            send(b"HTTP/1.1 304 Not Modified\r\n" + _NO_BODY_HEAD),
            serve(),
        )
        with self._transport() as transport:
            for method, target, status in _NO_BODY_CALLS:
                response = transport.handle_request(
                    Request(method, fault_server.url + target), _NO_BODY_READ
                )
                _expect(
                    (response.status_code, response.content),
                    (status, b""),
                    f"{method} {target}: status and body",
                )
                _check_settled(transport, idle=1)
            _check_ok(transport.handle_request(_get(fault_server, "/next"), _TIMEOUT), "/next")
            _expect(fault_server.connections, 1, "connections accepted")

    def test_early_response_during_upload(self, fault_server: FaultServer) -> None:
        fault_server.script(read_head(), respond(413, b'{"error": "too large"}', close=True))
        with self._transport() as transport:
            request = Request("POST", fault_server.url + "/upload", content=b"u" * _UPLOAD_SIZE)
            response = transport.handle_request(request, _TIMEOUT)
            _expect(response.status_code, 413, "status")
            _expect(response.json(), {"error": "too large"}, "body")
            _check_settled(transport, idle=0)
            self._check_works(transport, fault_server)

    # -- faults --

    def test_closed_before_response(self, fault_server: FaultServer) -> None:
        self._fault("closed_before_response", fault_server)

    def test_eof_in_content_length_body(self, fault_server: FaultServer) -> None:
        self._fault("eof_in_content_length_body", fault_server)

    def test_eof_in_chunked_body(self, fault_server: FaultServer) -> None:
        self._fault("eof_in_chunked_body", fault_server)

    def test_reset_mid_body(self, fault_server: FaultServer) -> None:
        self._fault("reset_mid_body", fault_server)

    def test_read_timeout_mid_body(self, fault_server: FaultServer) -> None:
        self._fault("read_timeout_mid_body", fault_server)

    def test_header_block_over_64k(self, fault_server: FaultServer) -> None:
        self._fault("header_block_over_64k", fault_server)

    def test_not_http(self, fault_server: FaultServer) -> None:
        self._fault("not_http", fault_server)

    # -- through the client --

    def test_client_retries_idempotent_get(self, fault_server: FaultServer) -> None:
        fault_server.script(read_request(), close())
        with self._transport() as transport:
            client = Client(
                fault_server.url, transport=transport, max_retries=2, sleep=lambda _: None
            )
            with client:
                response = client.get("/retry", timeout=_TIMEOUT)
                _check_ok(response, "/retry")
                _expect(response.attempts, 2, "attempts")
                _expect(fault_server.connections, 2, "connections accepted")
                _check_settled(transport, idle=1)

    def test_client_does_not_retry_post(self, fault_server: FaultServer) -> None:
        fault_server.script(read_request(), close())
        with self._transport() as transport:
            client = Client(
                fault_server.url,
                transport=transport,
                max_retries=2,
                idempotency_header=None,
                sleep=lambda _: None,
            )
            with client:
                with pytest.raises(APIError) as info:
                    client.post("/once", content=b"x", timeout=_TIMEOUT)
                _check_error(info.value, RemoteProtocolError, request_sent=True)
                _expect(info.value.attempts, 1, "attempts")
                _expect(fault_server.connections, 1, "connections accepted")
                _expect(
                    [r.method for r in fault_server.requests], ["POST"], "requests the server read"
                )
                _check_ok(client.get("/after", timeout=_TIMEOUT), "/after")

    # -- connecting and waiting --

    def test_connection_refused(self, fault_server: FaultServer) -> None:
        with self._transport() as transport:
            with pytest.raises(APIError) as info:
                transport.handle_request(Request("GET", refused_url() + "/"), _TIMEOUT)
            _check_error(info.value, ConnectError, request_sent=False)
            self._check_works(transport, fault_server)

    def test_connect_timeout(self, fault_server: FaultServer) -> None:
        with unresponsive_listener() as listener, self._transport() as transport:
            if not listener.connect_hangs:
                pytest.skip("this kernel completes connects to a full accept queue")
            with pytest.raises(APIError) as info:
                transport.handle_request(Request("GET", listener.url + "/"), _SHORT_CONNECT)
            _check_error(info.value, ConnectTimeout, request_sent=False)
            self._check_works(transport, fault_server)

    def test_pool_timeout(self, fault_server: FaultServer) -> None:
        fault_server.script(read_request(), stall(0.5), respond(), serve())
        with self._transport(Limits(max_connections=1)) as transport:
            held: list[Response] = []
            holder = threading.Thread(
                target=lambda: held.append(
                    transport.handle_request(_get(fault_server, "/held"), _TIMEOUT)
                )
            )
            holder.start()
            try:
                assert fault_server.wait_requests(1), "the first request never arrived"
                with pytest.raises(APIError) as info:
                    transport.handle_request(_get(fault_server, "/waits"), _SHORT_POOL)
                _check_error(info.value, PoolTimeout, request_sent=False)
            finally:
                holder.join(5.0)
            _expect([r.status_code for r in held], [200], "the holder's response status")
            self._check_works(transport, fault_server)
            # the request that timed out waiting for the pool opened no connection
            _expect(fault_server.connections, 1, "connections accepted")


# -- async transports -------------------------------------------------------------------


async def _no_sleep(_: float) -> None:
    return None


class AsyncTransportConformance(_Conformance):
    """Scenarios for an ``AsyncTransport`` on asyncio and trio; implement
    ``make_transport`` (and ``make_tls_transport`` for the TLS runs). Adds the
    cancellation scenarios: ``cancellation_frees_every_slot``,
    ``cancellation_closes_every_socket`` (plain and TLS; it counts the process's open
    sockets in ``/proc/self/fd``) and ``cancellation_propagates_unwrapped``."""

    _scenarios: ClassVar[tuple[str, ...]] = ASYNC_SCENARIOS
    #: Seeds the random order and times of the cancellation scenarios.
    cancellation_seed: ClassVar[int] = 1
    #: Calls each run of the ``cancellation_closes_every_socket`` and
    #: ``cancellation_propagates_unwrapped`` scenarios makes (most of them cancelled).
    cancelled_calls: ClassVar[int] = 200

    @pytest.fixture(params=_BACKENDS)
    def anyio_backend(self, request: pytest.FixtureRequest) -> str:
        """Every scenario on asyncio and on trio."""
        backend = str(request.param)
        if backend == "trio" and importlib.util.find_spec("trio") is None:
            pytest.skip("trio is not installed")
        return backend

    def make_transport(self, *, limits: Limits) -> AsyncTransport:
        """A new transport with ``limits``; the suite closes it."""
        raise NotImplementedError("Implement make_transport(self, *, limits) -> AsyncTransport.")

    def make_tls_transport(self, *, limits: Limits, verify: ssl.SSLContext) -> AsyncTransport:
        """A new transport with ``limits`` that verifies servers with the context
        ``verify`` (for the TLS scenarios); the suite closes it."""
        raise NotImplementedError(
            "Implement make_tls_transport(self, *, limits, verify) -> AsyncTransport."
        )

    @contextlib.asynccontextmanager
    async def _transport(self, limits: Limits | None = None) -> AsyncIterator[AsyncTransport]:
        transport = self.make_transport(limits=limits or Limits())
        try:
            yield transport
        finally:
            await transport.aclose()

    async def _check_works(self, transport: AsyncTransport, server: FaultServer) -> None:
        _check_settled(transport)
        response = await transport.handle_async_request(_get(server, "/after"), _TIMEOUT)
        _check_ok(response, "/after")
        _check_settled(transport)

    async def _fault(self, name: str, server: FaultServer) -> None:
        fault = _FAULTS[name]
        async with self._transport() as transport:
            for number, steps in enumerate(fault.scripts, 1):
                server.script(*steps)
                with pytest.raises(APIError) as info:
                    await transport.handle_async_request(
                        _get(server, f"/fault/{number}"), fault.timeout
                    )
                _check_error(info.value, fault.expected, request_sent=True)
                _check_settled(transport, idle=0)
            await self._check_works(transport, server)
            _expect(server.connections, len(fault.scripts) + 1, "connections accepted")

    # -- requests that work --

    @pytest.mark.anyio
    async def test_get_and_post(self, fault_server: FaultServer) -> None:
        async with self._transport() as transport:
            got = await transport.handle_async_request(_get(fault_server, "/get?x=1"), _TIMEOUT)
            _check_ok(got, "/get?x=1")
            body = b'{"a": 1}'
            posted = await transport.handle_async_request(
                Request(
                    "POST",
                    fault_server.url + "/post",
                    content=body,
                    headers={"content-type": "application/json"},
                ),
                _TIMEOUT,
            )
            _check_ok(posted, "/post")
            seen_get, seen_post = fault_server.requests
            _expect((seen_get.method, seen_get.body), ("GET", b""), "the GET as the server read it")
            _expect(
                (seen_post.method, seen_post.body), ("POST", body), "the POST as the server read it"
            )
            _expect(seen_post.header("content-type"), "application/json", "the POST's content-type")
            _check_settled(transport, idle=1)

    @pytest.mark.anyio
    async def test_keep_alive_reuse(self, fault_server: FaultServer) -> None:
        async with self._transport() as transport:
            for target in ("/one", "/two"):
                response = await transport.handle_async_request(
                    _get(fault_server, target), _TIMEOUT
                )
                _check_ok(response, target)
                _check_settled(transport, idle=1)
            _expect(fault_server.connections, 1, "connections accepted")
            _expect(
                [r.connection for r in fault_server.requests],
                [1, 1],
                "the connection of each request",
            )

    @pytest.mark.anyio
    async def test_stale_keep_alive_replaced(self, fault_server: FaultServer) -> None:
        fault_server.script(serve(1), close())
        async with self._transport() as transport:
            one = await transport.handle_async_request(_get(fault_server, "/one"), _TIMEOUT)
            _check_ok(one, "/one")
            assert await anyio.to_thread.run_sync(fault_server.wait_finished, 1), "not closed"
            two = await transport.handle_async_request(_get(fault_server, "/two"), _TIMEOUT)
            _check_ok(two, "/two")
            _expect(fault_server.connections, 2, "connections accepted")
            _check_settled(transport, idle=1)

    @pytest.mark.anyio
    async def test_no_body_responses(self, fault_server: FaultServer) -> None:
        fault_server.script(
            read_request(),
            send(b"HTTP/1.1 200 OK\r\n" + _NO_BODY_HEAD),
            read_request(),
            send(b"HTTP/1.1 204 No Content\r\n" + _NO_BODY_HEAD),
            read_request(),
            send(b"HTTP/1.1 304 Not Modified\r\n" + _NO_BODY_HEAD),
            serve(),
        )
        async with self._transport() as transport:
            for method, target, status in _NO_BODY_CALLS:
                response = await transport.handle_async_request(
                    Request(method, fault_server.url + target), _NO_BODY_READ
                )
                _expect(
                    (response.status_code, response.content),
                    (status, b""),
                    f"{method} {target}: status and body",
                )
                _check_settled(transport, idle=1)
            after = await transport.handle_async_request(_get(fault_server, "/next"), _TIMEOUT)
            _check_ok(after, "/next")
            _expect(fault_server.connections, 1, "connections accepted")

    @pytest.mark.anyio
    async def test_early_response_during_upload(self, fault_server: FaultServer) -> None:
        fault_server.script(read_head(), respond(413, b'{"error": "too large"}', close=True))
        async with self._transport() as transport:
            request = Request("POST", fault_server.url + "/upload", content=b"u" * _UPLOAD_SIZE)
            response = await transport.handle_async_request(request, _TIMEOUT)
            _expect(response.status_code, 413, "status")
            _expect(response.json(), {"error": "too large"}, "body")
            _check_settled(transport, idle=0)
            await self._check_works(transport, fault_server)

    # -- faults --

    @pytest.mark.anyio
    async def test_closed_before_response(self, fault_server: FaultServer) -> None:
        await self._fault("closed_before_response", fault_server)

    @pytest.mark.anyio
    async def test_eof_in_content_length_body(self, fault_server: FaultServer) -> None:
        await self._fault("eof_in_content_length_body", fault_server)

    @pytest.mark.anyio
    async def test_eof_in_chunked_body(self, fault_server: FaultServer) -> None:
        await self._fault("eof_in_chunked_body", fault_server)

    @pytest.mark.anyio
    async def test_reset_mid_body(self, fault_server: FaultServer) -> None:
        await self._fault("reset_mid_body", fault_server)

    @pytest.mark.anyio
    async def test_read_timeout_mid_body(self, fault_server: FaultServer) -> None:
        await self._fault("read_timeout_mid_body", fault_server)

    @pytest.mark.anyio
    async def test_header_block_over_64k(self, fault_server: FaultServer) -> None:
        await self._fault("header_block_over_64k", fault_server)

    @pytest.mark.anyio
    async def test_not_http(self, fault_server: FaultServer) -> None:
        await self._fault("not_http", fault_server)

    # -- through the client --

    @pytest.mark.anyio
    async def test_client_retries_idempotent_get(self, fault_server: FaultServer) -> None:
        fault_server.script(read_request(), close())
        async with self._transport() as transport:
            client = AsyncClient(
                fault_server.url, transport=transport, max_retries=2, sleep=_no_sleep
            )
            async with client:
                response = await client.get("/retry", timeout=_TIMEOUT)
                _check_ok(response, "/retry")
                _expect(response.attempts, 2, "attempts")
                _expect(fault_server.connections, 2, "connections accepted")
                _check_settled(transport, idle=1)

    @pytest.mark.anyio
    async def test_client_does_not_retry_post(self, fault_server: FaultServer) -> None:
        fault_server.script(read_request(), close())
        async with self._transport() as transport:
            client = AsyncClient(
                fault_server.url,
                transport=transport,
                max_retries=2,
                idempotency_header=None,
                sleep=_no_sleep,
            )
            async with client:
                with pytest.raises(APIError) as info:
                    await client.post("/once", content=b"x", timeout=_TIMEOUT)
                _check_error(info.value, RemoteProtocolError, request_sent=True)
                _expect(info.value.attempts, 1, "attempts")
                _expect(fault_server.connections, 1, "connections accepted")
                _expect(
                    [r.method for r in fault_server.requests], ["POST"], "requests the server read"
                )
                _check_ok(await client.get("/after", timeout=_TIMEOUT), "/after")

    # -- connecting, waiting, cancelling --

    @pytest.mark.anyio
    async def test_connection_refused(self, fault_server: FaultServer) -> None:
        async with self._transport() as transport:
            with pytest.raises(APIError) as info:
                await transport.handle_async_request(Request("GET", refused_url() + "/"), _TIMEOUT)
            _check_error(info.value, ConnectError, request_sent=False)
            await self._check_works(transport, fault_server)

    @pytest.mark.anyio
    async def test_connect_timeout(self, fault_server: FaultServer) -> None:
        with unresponsive_listener() as listener:
            if not listener.connect_hangs:
                pytest.skip("this kernel completes connects to a full accept queue")
            async with self._transport() as transport:
                with pytest.raises(APIError) as info:
                    await transport.handle_async_request(
                        Request("GET", listener.url + "/"), _SHORT_CONNECT
                    )
                _check_error(info.value, ConnectTimeout, request_sent=False)
                await self._check_works(transport, fault_server)

    @pytest.mark.anyio
    async def test_pool_timeout(self, fault_server: FaultServer) -> None:
        fault_server.script(read_request(), stall(0.5), respond(), serve())
        async with self._transport(Limits(max_connections=1)) as transport:
            held: list[Response] = []

            async def hold() -> None:
                held.append(
                    await transport.handle_async_request(_get(fault_server, "/held"), _TIMEOUT)
                )

            async with anyio.create_task_group() as tg:
                tg.start_soon(hold)
                assert await anyio.to_thread.run_sync(fault_server.wait_requests, 1), "no request"
                with pytest.raises(APIError) as info:
                    await transport.handle_async_request(_get(fault_server, "/waits"), _SHORT_POOL)
                _check_error(info.value, PoolTimeout, request_sent=False)
            _expect([r.status_code for r in held], [200], "the holder's response status")
            await self._check_works(transport, fault_server)
            _expect(fault_server.connections, 1, "connections accepted")

    @pytest.mark.anyio
    async def test_cancellation_frees_every_slot(self, fault_server: FaultServer) -> None:
        """Cancelled requests give back their slots, wherever the cancellation lands.

        First the hand-off race: the only connection's holder is cancelled, and a
        request waiting for it is cancelled 0 to 5 scheduler checkpoints later, around
        the moment the pool hands it the freed slot (a new connection). Then 200
        concurrent requests, 8 of them on stalling connections, each cancelled at a
        seeded random time (waiting for the pool, connecting, sending or reading).
        """
        rng = random.Random(self.cancellation_seed)
        await self._cancel_handoffs(rng)
        for i in range(8):  # the first connections stall before or inside the response
            if i % 2:
                fault_server.script(read_request(), stall(_STALL), respond())
            else:
                partial = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nxx"
                fault_server.script(read_request(), send(partial), stall(_STALL))
        outcomes: list[str] = []
        async with self._transport(Limits(max_connections=20)) as transport:

            async def one(i: int, deadline: float) -> None:
                with anyio.move_on_after(deadline) as scope:
                    response = await transport.handle_async_request(
                        _get(fault_server, f"/c/{i}"), _TIMEOUT
                    )
                    _check_ok(response, f"/c/{i}")
                outcomes.append("cancelled" if scope.cancelled_caught else "completed")

            async with anyio.create_task_group() as tg:
                for i in range(200):
                    tg.start_soon(one, i, rng.uniform(0.0, 0.3))
            _expect(len(outcomes), 200, "requests that finished")
            assert "cancelled" in outcomes, "no request was cancelled"
            assert "completed" in outcomes, "no request completed"
            await self._check_works(transport, fault_server)

    async def _cancel_handoffs(self, rng: random.Random, repeats: int = 8) -> None:
        offsets = [j for j in range(6) for _ in range(repeats)]
        rng.shuffle(offsets)
        with FaultServer(default=(read_request(), hang())) as server:
            async with self._transport(Limits(max_connections=1)) as transport:
                for attempt, offset in enumerate(offsets):
                    holder, waiter = anyio.CancelScope(), anyio.CancelScope()

                    async def send_in(scope: anyio.CancelScope, target: str) -> None:
                        with scope:
                            await transport.handle_async_request(_get(server, target), _TIMEOUT)

                    target = f"/holder/{attempt}"
                    with anyio.fail_after(5):
                        async with anyio.create_task_group() as tg:
                            tg.start_soon(send_in, holder, target)
                            # until it holds the connection
                            assert await anyio.to_thread.run_sync(server.wait_request, target), (
                                "no request"
                            )
                            tg.start_soon(send_in, waiter, f"/waiter/{attempt}")
                            while transport.statistics().waiting == 0:
                                await anyio.lowlevel.checkpoint()
                            holder.cancel()
                            for _ in range(offset):
                                await anyio.lowlevel.checkpoint()
                            waiter.cancel()
                    stats = transport.statistics()
                    assert (stats.in_use, stats.waiting) == (0, 0), (
                        f"a slot leaked when the waiter was cancelled {offset} checkpoint(s) "
                        f"after the holder (attempt {attempt}): {stats}"
                    )

    @pytest.mark.anyio
    @pytest.mark.parametrize("scheme", ["http", "https"])
    async def test_cancellation_closes_every_socket(self, scheme: str) -> None:
        """No socket is left for the garbage collector, wherever a call is cancelled.

        ``cancelled_calls`` calls, one after another, each cancelled at a seeded random
        point (connecting, in the TLS handshake, sending an upload, reading the head or
        the body), by the caller's cancel scope or by the client's ``Timeout(total=...)``,
        against a server that pauses before each phase. With the collector off, once the
        transport is closed and the server stopped, every socket the run opened is
        closed, and no ``ResourceWarning`` (a finalizer closing something) was raised.
        """
        _need_proc_fds()
        rng = random.Random(self.cancellation_seed)
        server_context, client_context = tls_contexts() if scheme == "https" else (None, None)
        with audit_sockets() as audit:
            with PhaseServer(ssl_context=server_context, seed=self.cancellation_seed) as server:
                if client_context is None:
                    transport = self.make_transport(limits=Limits())
                else:
                    transport = self.make_tls_transport(limits=Limits(), verify=client_context)
                tally = await _cancel_storm(
                    transport, server.url, rng, self.cancelled_calls, _STORM_DELAY[scheme]
                )
            left = await sockets_left(audit)
            unclosed = audit.unclosed()
        assert tally["cancelled"] + tally["deadline"] > 0, f"nothing was cancelled: {tally}"
        assert not left, (
            f"{len(left)} socket(s) left open after {self.cancelled_calls} calls ({tally})"
        )
        assert not unclosed, f"closed by a finalizer: {unclosed[:3]} ({len(unclosed)} in all)"

    @pytest.mark.anyio
    async def test_cancellation_propagates_unwrapped(self) -> None:
        """A cancelled call raises the event loop's own cancellation exception
        (``asyncio.CancelledError``, ``trio.Cancelled``), never one wrapped in an
        exception group, so ``except anyio.get_cancelled_exc_class()`` catches it:
        ``cancelled_calls`` calls cancelled at seeded random points, uploads among them.
        """
        rng = random.Random(self.cancellation_seed + 1)
        with PhaseServer(seed=self.cancellation_seed + 1) as server:
            transport = self.make_transport(limits=Limits())
            tally = await _cancel_storm(
                transport, server.url, rng, self.cancelled_calls, _STORM_DELAY["http"], 1 / 4
            )
        assert tally["cancelled"] > 0, f"nothing was cancelled: {tally}"
        other = {k: n for k, n in tally.items() if k not in _STORM_OUTCOMES}
        assert not other, f"calls ended otherwise than cancelled or completed: {tally}"


#: What a call of ``_cancel_storm`` may end with.
_STORM_OUTCOMES = frozenset({"completed", "cancelled", "deadline"})
_STORM_CHECKPOINTS = 40  # a call cancelled after up to this many checkpoints
#: or after up to this many seconds (a TLS exchange takes longer)
_STORM_DELAY = {"http": 0.006, "https": 0.012}


def _need_proc_fds() -> None:
    try:
        open_sockets()
    except OSError:
        pytest.skip("counting open sockets needs /proc/self/fd")


async def _cancel_storm(
    transport: AsyncTransport,
    url: str,
    rng: random.Random,
    calls: int,
    max_delay: float,
    uploads: float = 1 / 16,
) -> Counter[str]:
    """Make ``calls`` calls one after another, each cancelled at a point ``rng`` picks:
    after a number of scheduler checkpoints, after up to ``max_delay`` seconds, or by
    the client's ``Timeout(total=...)``; the share ``uploads`` of them send
    ``_UPLOAD_SIZE`` bytes (a transport may send those while reading). Closes
    ``transport``. Returns how the calls ended: ``_STORM_OUTCOMES``, or the name of
    what else came out of one."""
    tally: Counter[str] = Counter()
    cancelled = anyio.get_cancelled_exc_class()
    client = AsyncClient(
        url, transport=transport, max_retries=0, idempotency_header=None, sleep=_no_sleep
    )

    async def call(request: Request, scope: anyio.CancelScope) -> None:
        with scope:
            try:
                await transport.handle_async_request(request, _TIMEOUT)
            except cancelled:
                tally["cancelled"] += 1
                raise
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # a cancellation wrapped in a group, say
                tally[type(exc).__name__] += 1
                return
            tally["completed"] += 1

    try:
        for number in range(calls):
            upload = rng.random() < uploads
            path = f"/storm/{number}"
            content = b"u" * _UPLOAD_SIZE if upload else None
            how = rng.randrange(3)
            if how == 0:  # the client's own deadline
                total = rng.uniform(0.0002, max_delay)
                try:
                    await client.request(
                        "POST" if upload else "GET",
                        path,
                        content=content,
                        timeout=Timeout(5.0, total=total),
                    )
                except DeadlineExceeded:
                    tally["deadline"] += 1
                except APIError as exc:
                    tally[type(exc).__name__] += 1
                else:
                    tally["completed"] += 1
                continue
            request = (
                Request("POST", url + path, content=content)
                if content is not None
                else Request("GET", url + path)
            )
            scope = anyio.CancelScope()
            async with anyio.create_task_group() as tg:
                tg.start_soon(call, request, scope)
                if how == 1:
                    for _ in range(rng.randrange(_STORM_CHECKPOINTS)):
                        await anyio.lowlevel.checkpoint()
                else:
                    await anyio.sleep(rng.uniform(0.0, max_delay))
                scope.cancel()
    finally:
        await client.aclose()  # closes the transport
    return tally
