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

The faults come from the one fault table (``sdk_transports.testing.FAULTS``). This
module needs pytest (and anyio's pytest plugin for the async class); importing
``sdk_transports.testing`` does not import it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest

from sdk_core import (
    APIError,
    ConnectError,
    ConnectTimeout,
    Limits,
    PoolTimeout,
    RemoteProtocolError,
    Request,
    Response,
)
from sdk_transports import Client, Transport

from ._async_conformance import AsyncTransportConformance
from ._conformance_common import (
    ASYNC_SCENARIOS,
    FAULTS,
    NO_BODY_CALLS,
    NO_BODY_HEAD,
    NO_BODY_READ,
    SCENARIOS,
    SHORT_CONNECT,
    SHORT_POOL,
    TIMEOUT,
    UPLOAD_SIZE,
    Conformance,
    check_error,
    check_ok,
    check_settled,
    expect,
    get,
)
from ._fault_server import (
    FaultServer,
    close,
    read_head,
    read_request,
    refused_url,
    respond,
    send,
    serve,
    stall,
    unresponsive_listener,
)

__all__ = [
    "ASYNC_SCENARIOS",
    "SCENARIOS",
    "AsyncTransportConformance",
    "SyncTransportConformance",
]


# -- blocking transports ----------------------------------------------------------------


class SyncTransportConformance(Conformance):
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
        check_settled(transport)
        check_ok(transport.handle_request(get(server, "/after"), TIMEOUT), "/after")
        check_settled(transport)

    def _fault(self, name: str, server: FaultServer) -> None:
        fault = FAULTS[name]
        with self._transport() as transport:
            for number, steps in enumerate(fault.scripts, 1):
                server.script(*steps)
                with pytest.raises(APIError) as info:
                    transport.handle_request(get(server, f"/fault/{number}"), fault.timeout)
                check_error(info.value, fault.expected, request_sent=fault.request_sent)
                check_settled(transport, idle=0)  # a failed connection is never pooled
            self._check_works(transport, server)
            expect(server.connections, len(fault.scripts) + 1, "connections accepted")

    # -- requests that work --

    def test_get_and_post(self, fault_server: FaultServer) -> None:
        with self._transport() as transport:
            check_ok(transport.handle_request(get(fault_server, "/get?x=1"), TIMEOUT), "/get?x=1")
            body = b'{"a": 1}'
            posted = transport.handle_request(
                Request(
                    "POST",
                    fault_server.url + "/post",
                    content=body,
                    headers={"content-type": "application/json"},
                ),
                TIMEOUT,
            )
            check_ok(posted, "/post")
            got, post = fault_server.requests
            expect((got.method, got.body), ("GET", b""), "the GET as the server read it")
            expect((post.method, post.body), ("POST", body), "the POST as the server read it")
            expect(post.header("content-type"), "application/json", "the POST's content-type")
            check_settled(transport, idle=1)

    def test_keep_alive_reuse(self, fault_server: FaultServer) -> None:
        with self._transport() as transport:
            for target in ("/one", "/two"):
                check_ok(transport.handle_request(get(fault_server, target), TIMEOUT), target)
                check_settled(transport, idle=1)
            expect(fault_server.connections, 1, "connections accepted")
            expect(
                [r.connection for r in fault_server.requests],
                [1, 1],
                "the connection of each request",
            )

    def test_stale_keep_alive_replaced(self, fault_server: FaultServer) -> None:
        fault_server.script(serve(1), close())  # keep-alive advertised, then closed idle
        with self._transport() as transport:
            check_ok(transport.handle_request(get(fault_server, "/one"), TIMEOUT), "/one")
            assert fault_server.wait_finished(1), "the server did not close the connection"
            check_ok(transport.handle_request(get(fault_server, "/two"), TIMEOUT), "/two")
            expect(fault_server.connections, 2, "connections accepted")
            check_settled(transport, idle=1)

    def test_no_body_responses(self, fault_server: FaultServer) -> None:
        fault_server.script(
            read_request(),
            send(b"HTTP/1.1 200 OK\r\n" + NO_BODY_HEAD),
            read_request(),
            send(b"HTTP/1.1 204 No Content\r\n" + NO_BODY_HEAD),
            read_request(),
            send(b"HTTP/1.1 304 Not Modified\r\n" + NO_BODY_HEAD),
            serve(),
        )
        with self._transport() as transport:
            for method, target, status in NO_BODY_CALLS:
                response = transport.handle_request(
                    Request(method, fault_server.url + target), NO_BODY_READ
                )
                expect(
                    (response.status_code, response.content),
                    (status, b""),
                    f"{method} {target}: status and body",
                )
                check_settled(transport, idle=1)
            check_ok(transport.handle_request(get(fault_server, "/next"), TIMEOUT), "/next")
            expect(fault_server.connections, 1, "connections accepted")

    def test_early_response_during_upload(self, fault_server: FaultServer) -> None:
        fault_server.script(read_head(), respond(413, b'{"error": "too large"}', close=True))
        with self._transport() as transport:
            request = Request("POST", fault_server.url + "/upload", content=b"u" * UPLOAD_SIZE)
            response = transport.handle_request(request, TIMEOUT)
            expect(response.status_code, 413, "status")
            expect(response.json(), {"error": "too large"}, "body")
            check_settled(transport, idle=0)
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
                response = client.get("/retry", timeout=TIMEOUT)
                check_ok(response, "/retry")
                expect(response.attempts, 2, "attempts")
                expect(fault_server.connections, 2, "connections accepted")
                check_settled(transport, idle=1)

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
                    client.post("/once", content=b"x", timeout=TIMEOUT)
                check_error(info.value, RemoteProtocolError, request_sent=True)
                expect(info.value.attempts, 1, "attempts")
                expect(fault_server.connections, 1, "connections accepted")
                expect(
                    [r.method for r in fault_server.requests], ["POST"], "requests the server read"
                )
                check_ok(client.get("/after", timeout=TIMEOUT), "/after")

    # -- connecting and waiting --

    def test_connection_refused(self, fault_server: FaultServer) -> None:
        with self._transport() as transport:
            with pytest.raises(APIError) as info:
                transport.handle_request(Request("GET", refused_url() + "/"), TIMEOUT)
            check_error(info.value, ConnectError, request_sent=False)
            self._check_works(transport, fault_server)

    def test_connect_timeout(self, fault_server: FaultServer) -> None:
        with unresponsive_listener() as listener, self._transport() as transport:
            if not listener.connect_hangs:
                pytest.skip("this kernel completes connects to a full accept queue")
            with pytest.raises(APIError) as info:
                transport.handle_request(Request("GET", listener.url + "/"), SHORT_CONNECT)
            check_error(info.value, ConnectTimeout, request_sent=False)
            self._check_works(transport, fault_server)

    def test_pool_timeout(self, fault_server: FaultServer) -> None:
        fault_server.script(read_request(), stall(0.5), respond(), serve())
        with self._transport(Limits(max_connections=1)) as transport:
            held: list[Response] = []
            holder = threading.Thread(
                target=lambda: held.append(
                    transport.handle_request(get(fault_server, "/held"), TIMEOUT)
                )
            )
            holder.start()
            try:
                assert fault_server.wait_requests(1), "the first request never arrived"
                with pytest.raises(APIError) as info:
                    transport.handle_request(get(fault_server, "/waits"), SHORT_POOL)
                check_error(info.value, PoolTimeout, request_sent=False)
            finally:
                holder.join(5.0)
            expect([r.status_code for r in held], [200], "the holder's response status")
            self._check_works(transport, fault_server)
            # the request that timed out waiting for the pool opened no connection
            expect(fault_server.connections, 1, "connections accepted")
