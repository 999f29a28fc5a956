"""The httpcore transports never reuse a connection that received bytes past its
response, and still keep normal connections alive; on sync, asyncio and trio.

``drop_if_bytes_past_response`` reads httpcore internals to find h11's state. The first
tests fail if httpcore's internals move (the guard would then drop every connection,
losing keep-alive); the last ones check that the fallback still never reuses such a
connection.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import h11
import pytest

from sdk_core import Request, Timeout
from sdk_transports import AsyncHttpcoreTransport, HttpcoreTransport, _httpcore_common
from sdk_transports._httpcore_common import h11_state_of, to_httpcore_request
from sdk_transports.testing import FaultServer, read_request, send, serve_forever

pytestmark = pytest.mark.integration

TIMEOUT = Timeout(5.0)

_FIRST = b'{"ok":true}'
_SMUGGLED = b'HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{"evil": true}'
# Bytes past the response: past a Content-Length, and after a 204 that has no body.
_PAST_THE_END = {
    "content-length": b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n" + _FIRST + _SMUGGLED,
    "no-content": b"HTTP/1.1 204 No Content\r\n\r\n" + _SMUGGLED,
}


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        yield fault_server


def _get(server: FaultServer, path: str) -> Request:
    return Request("GET", server.url + path)


def _check_second_answer(server: FaultServer, body: bytes) -> None:
    assert b"evil" not in body
    assert b'"target":"/second"' in body  # the server's real answer to the second request
    assert server.connections == 2


# -- the internals the guard relies on --------------------------------------------------


def test_sync_pool_exposes_the_h11_state(server: FaultServer) -> None:
    transport = HttpcoreTransport()
    try:
        raw = transport._pool.handle_request(to_httpcore_request(_get(server, "/"), TIMEOUT, b""))
        try:
            raw.read()
            assert isinstance(h11_state_of(raw), h11.Connection)
        finally:
            raw.close()
    finally:
        transport.close()


@pytest.mark.anyio
async def test_async_pool_exposes_the_h11_state(server: FaultServer) -> None:
    transport = AsyncHttpcoreTransport()
    try:
        raw = await transport._pool.handle_async_request(
            to_httpcore_request(_get(server, "/"), TIMEOUT, b"")
        )
        try:
            await raw.aread()
            assert isinstance(h11_state_of(raw), h11.Connection)
        finally:
            await raw.aclose()
    finally:
        await transport.aclose()


def test_sync_normal_responses_keep_their_connection(server: FaultServer) -> None:
    transport = HttpcoreTransport()
    try:
        for path in ("/a", "/b", "/c"):
            assert transport.handle_request(_get(server, path), TIMEOUT).status_code == 200
        assert transport.statistics().idle == 1
    finally:
        transport.close()
    assert server.connections == 1


@pytest.mark.anyio
async def test_async_normal_responses_keep_their_connection(server: FaultServer) -> None:
    transport = AsyncHttpcoreTransport()
    try:
        for path in ("/a", "/b", "/c"):
            response = await transport.handle_async_request(_get(server, path), TIMEOUT)
            assert response.status_code == 200
        assert transport.statistics().idle == 1
    finally:
        await transport.aclose()
    assert server.connections == 1


# -- bytes past the response ------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(_PAST_THE_END))
def test_sync_connection_with_bytes_past_the_response_is_not_reused(
    server: FaultServer, case: str
) -> None:
    server.script(read_request(), send(_PAST_THE_END[case]), serve_forever())
    transport = HttpcoreTransport()
    try:
        first = transport.handle_request(_get(server, "/first"), TIMEOUT)
        assert first.content == (_FIRST if case == "content-length" else b"")
        assert transport.statistics().in_use == transport.statistics().idle == 0
        second = transport.handle_request(_get(server, "/second"), TIMEOUT)
        _check_second_answer(server, second.content)
    finally:
        transport.close()


@pytest.mark.anyio
@pytest.mark.parametrize("case", sorted(_PAST_THE_END))
async def test_async_connection_with_bytes_past_the_response_is_not_reused(
    server: FaultServer, case: str
) -> None:
    server.script(read_request(), send(_PAST_THE_END[case]), serve_forever())
    transport = AsyncHttpcoreTransport()
    try:
        first = await transport.handle_async_request(_get(server, "/first"), TIMEOUT)
        assert first.content == (_FIRST if case == "content-length" else b"")
        assert transport.statistics().in_use == transport.statistics().idle == 0
        second = await transport.handle_async_request(_get(server, "/second"), TIMEOUT)
        _check_second_answer(server, second.content)
    finally:
        await transport.aclose()


# -- the fallback when httpcore's internals have moved ----------------------------------


def test_sync_fallback_never_reuses_a_connection(
    server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_httpcore_common, "h11_state_of", lambda raw: None)
    server.script(read_request(), send(_PAST_THE_END["content-length"]), serve_forever())
    transport = HttpcoreTransport()
    try:
        assert transport.handle_request(_get(server, "/first"), TIMEOUT).content == _FIRST
        second = transport.handle_request(_get(server, "/second"), TIMEOUT)
        _check_second_answer(server, second.content)
        assert transport.statistics().in_use == 0
    finally:
        transport.close()


@pytest.mark.anyio
async def test_async_fallback_never_reuses_a_connection(
    server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_httpcore_common, "h11_state_of", lambda raw: None)
    server.script(read_request(), send(_PAST_THE_END["content-length"]), serve_forever())
    transport = AsyncHttpcoreTransport()
    try:
        first = await transport.handle_async_request(_get(server, "/first"), TIMEOUT)
        assert first.content == _FIRST
        with anyio.fail_after(5):
            second = await transport.handle_async_request(_get(server, "/second"), TIMEOUT)
        _check_second_answer(server, second.content)
        assert transport.statistics().in_use == 0
    finally:
        await transport.aclose()
