"""A connection whose dial is still in flight when the transport is closed is closed
as soon as the dial returns, and the request raises ClientClosedError: no close() would
ever see it otherwise (it would be left to the garbage collector), on SocketTransport
and AsyncSocketTransport alike."""

from __future__ import annotations

import threading

import anyio
import pytest

from sdk_core import ClientClosedError, Request, Timeout
from sdk_transports import AsyncSocketTransport, SocketTransport
from sdk_transports._backends._mock import AsyncMockBackend, AsyncMockStream, MockStream

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class GatedBackend:
    """connect_tcp blocks until ``go`` is set; it says when it has started."""

    def __init__(self) -> None:
        self.started, self.go = threading.Event(), threading.Event()
        self.stream = MockStream([OK])

    def connect_tcp(self, host, port, timeout, *, local_address=None, socket_options=()):  # type: ignore[no-untyped-def]
        self.started.set()
        assert self.go.wait(10)
        return self.stream


def test_sync_close_during_dial_leaves_no_open_stream() -> None:
    backend = GatedBackend()
    transport = SocketTransport(network_backend=backend)  # type: ignore[arg-type]
    request = Request("GET", "http://example.test/")
    errors: list[BaseException] = []

    def call() -> None:
        try:
            transport.handle_request(request, Timeout(5.0))
        except BaseException as exc:  # the call may fail: closed under it
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    assert backend.started.wait(10)
    transport.close()
    backend.go.set()
    worker.join(10)
    assert not worker.is_alive()
    assert backend.stream.closed, "the stream dialled during close() was never closed"
    assert [type(e) for e in errors] == [ClientClosedError]


@pytest.mark.anyio
async def test_async_close_during_dial_leaves_no_open_stream() -> None:
    stream = AsyncMockStream([OK])
    gate = anyio.Event()
    started = anyio.Event()

    class Gated(AsyncMockBackend):
        async def connect_tcp(self, host, port, timeout, *, local_address=None, socket_options=()):  # type: ignore[no-untyped-def,override]
            started.set()
            await gate.wait()
            return stream

    transport = AsyncSocketTransport(network_backend=Gated([]))
    request = Request("GET", "http://example.test/")

    errors: list[BaseException] = []

    async def call() -> None:
        try:
            await transport.handle_async_request(request, Timeout(5.0))
        except Exception as exc:  # closed under it
            errors.append(exc)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await started.wait()
            await transport.aclose()
            gate.set()
    assert stream.closed, "the stream dialled during aclose() was never closed"
    assert [type(e) for e in errors] == [ClientClosedError]
