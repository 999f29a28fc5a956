"""``AsyncTransportConformance``: the transport conformance scenarios for an
``AsyncTransport``, on asyncio and trio, plus the cancellation scenarios. Imported and
documented through ``sdk_transports.testing.conformance``."""

from __future__ import annotations

import contextlib
import importlib.util
import random
import ssl
from collections.abc import AsyncIterator
from typing import ClassVar

import anyio
import anyio.lowlevel
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
from sdk_transports import AsyncClient, AsyncTransport

from ._cancel_storm import STORM_DELAY, STORM_OUTCOMES, cancel_storm, need_proc_fds, no_sleep
from ._conformance_common import (
    ASYNC_SCENARIOS,
    BACKENDS,
    FAULTS,
    NO_BODY_CALLS,
    NO_BODY_HEAD,
    NO_BODY_READ,
    SHORT_CONNECT,
    SHORT_POOL,
    STALL,
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
    hang,
    read_head,
    read_request,
    refused_url,
    respond,
    send,
    serve,
    stall,
    unresponsive_listener,
)
from ._phase_server import PhaseServer
from ._socket_audit import audit_sockets, sockets_left, tls_contexts

__all__ = ["AsyncTransportConformance"]


class AsyncTransportConformance(Conformance):
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

    @pytest.fixture(params=BACKENDS)
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
        check_settled(transport)
        response = await transport.handle_async_request(get(server, "/after"), TIMEOUT)
        check_ok(response, "/after")
        check_settled(transport)

    async def _fault(self, name: str, server: FaultServer) -> None:
        fault = FAULTS[name]
        async with self._transport() as transport:
            for number, steps in enumerate(fault.scripts, 1):
                server.script(*steps)
                with pytest.raises(APIError) as info:
                    await transport.handle_async_request(
                        get(server, f"/fault/{number}"), fault.timeout
                    )
                check_error(info.value, fault.expected, request_sent=fault.request_sent)
                check_settled(transport, idle=0)
            await self._check_works(transport, server)
            expect(server.connections, len(fault.scripts) + 1, "connections accepted")

    # -- requests that work --

    @pytest.mark.anyio
    async def test_get_and_post(self, fault_server: FaultServer) -> None:
        async with self._transport() as transport:
            got = await transport.handle_async_request(get(fault_server, "/get?x=1"), TIMEOUT)
            check_ok(got, "/get?x=1")
            body = b'{"a": 1}'
            posted = await transport.handle_async_request(
                Request(
                    "POST",
                    fault_server.url + "/post",
                    content=body,
                    headers={"content-type": "application/json"},
                ),
                TIMEOUT,
            )
            check_ok(posted, "/post")
            seen_get, seen_post = fault_server.requests
            expect((seen_get.method, seen_get.body), ("GET", b""), "the GET as the server read it")
            expect(
                (seen_post.method, seen_post.body), ("POST", body), "the POST as the server read it"
            )
            expect(seen_post.header("content-type"), "application/json", "the POST's content-type")
            check_settled(transport, idle=1)

    @pytest.mark.anyio
    async def test_keep_alive_reuse(self, fault_server: FaultServer) -> None:
        async with self._transport() as transport:
            for target in ("/one", "/two"):
                response = await transport.handle_async_request(get(fault_server, target), TIMEOUT)
                check_ok(response, target)
                check_settled(transport, idle=1)
            expect(fault_server.connections, 1, "connections accepted")
            expect(
                [r.connection for r in fault_server.requests],
                [1, 1],
                "the connection of each request",
            )

    @pytest.mark.anyio
    async def test_stale_keep_alive_replaced(self, fault_server: FaultServer) -> None:
        fault_server.script(serve(1), close())
        async with self._transport() as transport:
            one = await transport.handle_async_request(get(fault_server, "/one"), TIMEOUT)
            check_ok(one, "/one")
            assert await anyio.to_thread.run_sync(fault_server.wait_finished, 1), "not closed"
            two = await transport.handle_async_request(get(fault_server, "/two"), TIMEOUT)
            check_ok(two, "/two")
            expect(fault_server.connections, 2, "connections accepted")
            check_settled(transport, idle=1)

    @pytest.mark.anyio
    async def test_no_body_responses(self, fault_server: FaultServer) -> None:
        fault_server.script(
            read_request(),
            send(b"HTTP/1.1 200 OK\r\n" + NO_BODY_HEAD),
            read_request(),
            send(b"HTTP/1.1 204 No Content\r\n" + NO_BODY_HEAD),
            read_request(),
            send(b"HTTP/1.1 304 Not Modified\r\n" + NO_BODY_HEAD),
            serve(),
        )
        async with self._transport() as transport:
            for method, target, status in NO_BODY_CALLS:
                response = await transport.handle_async_request(
                    Request(method, fault_server.url + target), NO_BODY_READ
                )
                expect(
                    (response.status_code, response.content),
                    (status, b""),
                    f"{method} {target}: status and body",
                )
                check_settled(transport, idle=1)
            after = await transport.handle_async_request(get(fault_server, "/next"), TIMEOUT)
            check_ok(after, "/next")
            expect(fault_server.connections, 1, "connections accepted")

    @pytest.mark.anyio
    async def test_early_response_during_upload(self, fault_server: FaultServer) -> None:
        fault_server.script(read_head(), respond(413, b'{"error": "too large"}', close=True))
        async with self._transport() as transport:
            request = Request("POST", fault_server.url + "/upload", content=b"u" * UPLOAD_SIZE)
            response = await transport.handle_async_request(request, TIMEOUT)
            expect(response.status_code, 413, "status")
            expect(response.json(), {"error": "too large"}, "body")
            check_settled(transport, idle=0)
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
                fault_server.url, transport=transport, max_retries=2, sleep=no_sleep
            )
            async with client:
                response = await client.get("/retry", timeout=TIMEOUT)
                check_ok(response, "/retry")
                expect(response.attempts, 2, "attempts")
                expect(fault_server.connections, 2, "connections accepted")
                check_settled(transport, idle=1)

    @pytest.mark.anyio
    async def test_client_does_not_retry_post(self, fault_server: FaultServer) -> None:
        fault_server.script(read_request(), close())
        async with self._transport() as transport:
            client = AsyncClient(
                fault_server.url,
                transport=transport,
                max_retries=2,
                idempotency_header=None,
                sleep=no_sleep,
            )
            async with client:
                with pytest.raises(APIError) as info:
                    await client.post("/once", content=b"x", timeout=TIMEOUT)
                check_error(info.value, RemoteProtocolError, request_sent=True)
                expect(info.value.attempts, 1, "attempts")
                expect(fault_server.connections, 1, "connections accepted")
                expect(
                    [r.method for r in fault_server.requests], ["POST"], "requests the server read"
                )
                check_ok(await client.get("/after", timeout=TIMEOUT), "/after")

    # -- connecting, waiting, cancelling --

    @pytest.mark.anyio
    async def test_connection_refused(self, fault_server: FaultServer) -> None:
        async with self._transport() as transport:
            with pytest.raises(APIError) as info:
                await transport.handle_async_request(Request("GET", refused_url() + "/"), TIMEOUT)
            check_error(info.value, ConnectError, request_sent=False)
            await self._check_works(transport, fault_server)

    @pytest.mark.anyio
    async def test_connect_timeout(self, fault_server: FaultServer) -> None:
        with unresponsive_listener() as listener:
            if not listener.connect_hangs:
                pytest.skip("this kernel completes connects to a full accept queue")
            async with self._transport() as transport:
                with pytest.raises(APIError) as info:
                    await transport.handle_async_request(
                        Request("GET", listener.url + "/"), SHORT_CONNECT
                    )
                check_error(info.value, ConnectTimeout, request_sent=False)
                await self._check_works(transport, fault_server)

    @pytest.mark.anyio
    async def test_pool_timeout(self, fault_server: FaultServer) -> None:
        fault_server.script(read_request(), stall(0.5), respond(), serve())
        async with self._transport(Limits(max_connections=1)) as transport:
            held: list[Response] = []

            async def hold() -> None:
                held.append(
                    await transport.handle_async_request(get(fault_server, "/held"), TIMEOUT)
                )

            async with anyio.create_task_group() as tg:
                tg.start_soon(hold)
                assert await anyio.to_thread.run_sync(fault_server.wait_requests, 1), "no request"
                with pytest.raises(APIError) as info:
                    await transport.handle_async_request(get(fault_server, "/waits"), SHORT_POOL)
                check_error(info.value, PoolTimeout, request_sent=False)
            expect([r.status_code for r in held], [200], "the holder's response status")
            await self._check_works(transport, fault_server)
            expect(fault_server.connections, 1, "connections accepted")

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
                fault_server.script(read_request(), stall(STALL), respond())
            else:
                partial = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nxx"
                fault_server.script(read_request(), send(partial), stall(STALL))
        outcomes: list[str] = []
        async with self._transport(Limits(max_connections=20)) as transport:

            async def one(i: int, deadline: float) -> None:
                with anyio.move_on_after(deadline) as scope:
                    response = await transport.handle_async_request(
                        get(fault_server, f"/c/{i}"), TIMEOUT
                    )
                    check_ok(response, f"/c/{i}")
                outcomes.append("cancelled" if scope.cancelled_caught else "completed")

            async with anyio.create_task_group() as tg:
                for i in range(200):
                    tg.start_soon(one, i, rng.uniform(0.0, 0.3))
            expect(len(outcomes), 200, "requests that finished")
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
                            await transport.handle_async_request(get(server, target), TIMEOUT)

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
        need_proc_fds()
        rng = random.Random(self.cancellation_seed)
        server_context, client_context = tls_contexts() if scheme == "https" else (None, None)
        with audit_sockets() as audit:
            with PhaseServer(ssl_context=server_context, seed=self.cancellation_seed) as server:
                if client_context is None:
                    transport = self.make_transport(limits=Limits())
                else:
                    transport = self.make_tls_transport(limits=Limits(), verify=client_context)
                tally = await cancel_storm(
                    transport, server.url, rng, self.cancelled_calls, STORM_DELAY[scheme]
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
            tally = await cancel_storm(
                transport, server.url, rng, self.cancelled_calls, STORM_DELAY["http"], 1 / 4
            )
        assert tally["cancelled"] > 0, f"nothing was cancelled: {tally}"
        other = {k: n for k, n in tally.items() if k not in STORM_OUTCOMES}
        assert not other, f"calls ended otherwise than cancelled or completed: {tally}"
