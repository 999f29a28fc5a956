"""Conformance scenarios for streaming transports (``open_stream`` / ``open_async_stream``).

Subclass ``SyncStreamConformance`` or ``AsyncStreamConformance`` in a test module and
implement ``make_transport``; ``known_gaps`` works as in ``conformance``. Each scenario
scripts the ``FaultServer``, opens one stream, reads it in pieces, and checks what came
out, that no piece was larger than ``STREAM_WINDOW``, the error class of a failure, and
that the pool settled (nothing in use; the connection pooled only after a whole body).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import ClassVar

import anyio
import pytest

from sdk_core import APIError, Limits, Request, Timeout
from sdk_transports import STREAM_WINDOW, AsyncStreamingTransport, StreamingTransport

from ._conformance_common import BACKENDS, Conformance, check_error, check_settled, expect
from ._fault_server import (
    FaultServer,
    Step,
    read_request,
    respond,
    respond_chunked,
    send,
    serve_forever,
    stall,
)
from ._faults import FAULTS

__all__ = ["STREAM_SCENARIOS", "AsyncStreamConformance", "SyncStreamConformance"]

_TIMEOUT = Timeout(5.0)
_STALL = 1.0
_BIG = bytes(range(256)) * 1024  # 256 KiB: several windows
_TEXT = b"".join(b"line %d of a repetitive body\n" % i for i in range(40_000))  # ~1.2 MB


@dataclass(frozen=True)
class _Scenario:
    steps: tuple[Step, ...]
    #: The decoded body expected, or the error class a read raises.
    expected: bytes | type[APIError]
    #: Read this many pieces, then close the stream (None: read to the end).
    close_after: int | None = None
    #: Idle connections once the stream ended or was closed.
    idle: int = 0
    read_timeout: float | None = 5.0


_SCENARIOS: dict[str, _Scenario] = {
    "stream_content_length_body": _Scenario(
        (read_request(), respond(body=_BIG), serve_forever()), _BIG, idle=1
    ),
    "stream_chunked_body": _Scenario(
        (
            read_request(),
            respond_chunked([_BIG[i : i + 7000] for i in range(0, len(_BIG), 7000)]),
            serve_forever(),
        ),
        _BIG,
        idle=1,
    ),
    "stream_gzip_body": _Scenario(
        (
            read_request(),
            respond(body=gzip.compress(_TEXT), headers=[("Content-Encoding", "gzip")]),
            serve_forever(),
        ),
        _TEXT,
        idle=1,
    ),
    "stream_empty_body": _Scenario(
        (read_request(), respond(body=b""), serve_forever()), b"", idle=1
    ),
    "stream_closed_early": _Scenario(
        (read_request(), respond(body=_BIG)), _BIG[:1], close_after=1, idle=0
    ),
    # The faults of the one fault table, met while a stream is read.
    "stream_eof_mid_body": _Scenario(
        FAULTS["eof_in_content_length_body"].script, FAULTS["eof_in_content_length_body"].expected
    ),
    "stream_reset_mid_body": _Scenario(
        FAULTS["reset_mid_body"].script, FAULTS["reset_mid_body"].expected
    ),
    "stream_read_timeout_mid_body": _Scenario(
        FAULTS["read_timeout_mid_body"].script,
        FAULTS["read_timeout_mid_body"].expected,
        read_timeout=FAULTS["read_timeout_mid_body"].timeout.read,
    ),
    "stream_corrupt_gzip": _Scenario(
        FAULTS["corrupt_gzip"].script, FAULTS["corrupt_gzip"].expected
    ),
}

#: Every streaming scenario's name (a test is ``test_<name>``).
STREAM_SCENARIOS: tuple[str, ...] = tuple(_SCENARIOS)
#: ``STREAM_SCENARIOS`` plus those only an async transport runs.
ASYNC_STREAM_SCENARIOS: tuple[str, ...] = (*STREAM_SCENARIOS, "stream_cancelled_mid_body")


def _check_pieces(pieces: list[bytes], scenario: _Scenario) -> None:
    too_big = [len(p) for p in pieces if len(p) > STREAM_WINDOW]
    assert not too_big, f"pieces larger than STREAM_WINDOW ({STREAM_WINDOW}): {too_big}"
    assert all(pieces), "an empty piece before the end"
    body = b"".join(pieces)
    expected = scenario.expected
    assert isinstance(expected, bytes)
    if scenario.close_after is None:
        expect(len(body), len(expected), "the body's length")
        assert body == expected, "the body differs from what the server sent"
    else:
        assert expected.startswith(body[:1]), "the first piece differs from the body's start"


class SyncStreamConformance(Conformance):
    """Streaming scenarios for a blocking ``StreamingTransport``."""

    _scenarios: ClassVar[tuple[str, ...]] = STREAM_SCENARIOS

    def make_transport(self, *, limits: Limits) -> StreamingTransport:
        """A new transport with ``limits``; the suite closes it."""
        raise NotImplementedError("Implement make_transport(self, *, limits).")

    def _run(self, name: str, server: FaultServer) -> None:
        scenario = _SCENARIOS[name]
        server.script(*scenario.steps)
        transport = self.make_transport(limits=Limits())
        try:
            head, stream = transport.open_stream(Request("GET", server.url + "/s"), _TIMEOUT)
            expect(transport.statistics().in_use, 1, "connections in use while streaming")
            pieces: list[bytes] = []
            error: BaseException | None = None
            try:
                while scenario.close_after is None or len(pieces) < scenario.close_after:
                    piece = stream.read_chunk(scenario.read_timeout)
                    if not piece:
                        break
                    pieces.append(piece)
            except APIError as exc:
                error = exc
            stream.close()
            stream.close()  # idempotent
            if isinstance(scenario.expected, bytes):
                assert error is None, f"unexpected {type(error).__name__}: {error}"
                expect(head.status_code, 200, "the status")
                _check_pieces(pieces, scenario)
                expect(stream.read_chunk(1.0), b"", "a read after the end")
            else:
                assert error is not None, f"expected {scenario.expected.__name__}, got the body"
                check_error(error, scenario.expected, request_sent=True)
            check_settled(transport, idle=scenario.idle)
            after = transport.handle_request(Request("GET", server.url + "/after"), _TIMEOUT)
            expect(after.status_code, 200, "the status of the request after")
            check_settled(transport, idle=1)
            expect(server.connections, 2 - scenario.idle, "connections accepted")
        finally:
            transport.close()

    def test_stream_content_length_body(self, fault_server: FaultServer) -> None:
        self._run("stream_content_length_body", fault_server)

    def test_stream_chunked_body(self, fault_server: FaultServer) -> None:
        self._run("stream_chunked_body", fault_server)

    def test_stream_gzip_body(self, fault_server: FaultServer) -> None:
        self._run("stream_gzip_body", fault_server)

    def test_stream_empty_body(self, fault_server: FaultServer) -> None:
        self._run("stream_empty_body", fault_server)

    def test_stream_closed_early(self, fault_server: FaultServer) -> None:
        self._run("stream_closed_early", fault_server)

    def test_stream_eof_mid_body(self, fault_server: FaultServer) -> None:
        self._run("stream_eof_mid_body", fault_server)

    def test_stream_reset_mid_body(self, fault_server: FaultServer) -> None:
        self._run("stream_reset_mid_body", fault_server)

    def test_stream_read_timeout_mid_body(self, fault_server: FaultServer) -> None:
        self._run("stream_read_timeout_mid_body", fault_server)

    def test_stream_corrupt_gzip(self, fault_server: FaultServer) -> None:
        self._run("stream_corrupt_gzip", fault_server)


class AsyncStreamConformance(Conformance):
    """Streaming scenarios for an ``AsyncStreamingTransport`` on asyncio and trio; adds
    ``stream_cancelled_mid_body``."""

    _scenarios: ClassVar[tuple[str, ...]] = ASYNC_STREAM_SCENARIOS

    @pytest.fixture(params=BACKENDS)
    def anyio_backend(self, request: pytest.FixtureRequest) -> str:
        """Every scenario on asyncio and on trio."""
        return str(request.param)

    def make_transport(self, *, limits: Limits) -> AsyncStreamingTransport:
        """A new transport with ``limits``; the suite closes it."""
        raise NotImplementedError("Implement make_transport(self, *, limits).")

    async def _run(self, name: str, server: FaultServer) -> None:
        scenario = _SCENARIOS[name]
        server.script(*scenario.steps)
        transport = self.make_transport(limits=Limits())
        try:
            head, stream = await transport.open_async_stream(
                Request("GET", server.url + "/s"), _TIMEOUT
            )
            expect(transport.statistics().in_use, 1, "connections in use while streaming")
            pieces: list[bytes] = []
            error: BaseException | None = None
            try:
                while scenario.close_after is None or len(pieces) < scenario.close_after:
                    piece = await stream.read_chunk(scenario.read_timeout)
                    if not piece:
                        break
                    pieces.append(piece)
            except APIError as exc:
                error = exc
            await stream.aclose()
            await stream.aclose()  # idempotent
            if isinstance(scenario.expected, bytes):
                assert error is None, f"unexpected {type(error).__name__}: {error}"
                expect(head.status_code, 200, "the status")
                _check_pieces(pieces, scenario)
                expect(await stream.read_chunk(1.0), b"", "a read after the end")
            else:
                assert error is not None, f"expected {scenario.expected.__name__}, got the body"
                check_error(error, scenario.expected, request_sent=True)
            check_settled(transport, idle=scenario.idle)
            after = await transport.handle_async_request(
                Request("GET", server.url + "/after"), _TIMEOUT
            )
            expect(after.status_code, 200, "the status of the request after")
            check_settled(transport, idle=1)
            expect(server.connections, 2 - scenario.idle, "connections accepted")
        finally:
            await transport.aclose()

    @pytest.mark.anyio
    async def test_stream_content_length_body(self, fault_server: FaultServer) -> None:
        await self._run("stream_content_length_body", fault_server)

    @pytest.mark.anyio
    async def test_stream_chunked_body(self, fault_server: FaultServer) -> None:
        await self._run("stream_chunked_body", fault_server)

    @pytest.mark.anyio
    async def test_stream_gzip_body(self, fault_server: FaultServer) -> None:
        await self._run("stream_gzip_body", fault_server)

    @pytest.mark.anyio
    async def test_stream_empty_body(self, fault_server: FaultServer) -> None:
        await self._run("stream_empty_body", fault_server)

    @pytest.mark.anyio
    async def test_stream_closed_early(self, fault_server: FaultServer) -> None:
        await self._run("stream_closed_early", fault_server)

    @pytest.mark.anyio
    async def test_stream_eof_mid_body(self, fault_server: FaultServer) -> None:
        await self._run("stream_eof_mid_body", fault_server)

    @pytest.mark.anyio
    async def test_stream_reset_mid_body(self, fault_server: FaultServer) -> None:
        await self._run("stream_reset_mid_body", fault_server)

    @pytest.mark.anyio
    async def test_stream_read_timeout_mid_body(self, fault_server: FaultServer) -> None:
        await self._run("stream_read_timeout_mid_body", fault_server)

    @pytest.mark.anyio
    async def test_stream_corrupt_gzip(self, fault_server: FaultServer) -> None:
        await self._run("stream_corrupt_gzip", fault_server)

    @pytest.mark.anyio
    async def test_stream_cancelled_mid_body(self, fault_server: FaultServer) -> None:
        """A read cancelled while waiting for the body frees the connection's slot."""
        fault_server.script(
            read_request(),
            send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10),
            stall(_STALL),
        )
        transport = self.make_transport(limits=Limits())
        try:
            _, stream = await transport.open_async_stream(
                Request("GET", fault_server.url + "/s"), _TIMEOUT
            )
            first = await stream.read_chunk(5.0)
            expect(first, b"x" * 10, "the first piece")
            with anyio.move_on_after(0.05) as scope:
                await stream.read_chunk(5.0)
            assert scope.cancelled_caught, "the read was not cancelled"
            check_settled(transport, idle=0)
            await stream.aclose()
            check_settled(transport, idle=0)
        finally:
            await transport.aclose()
