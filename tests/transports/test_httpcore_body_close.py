"""``AsyncHttpcoreTransport`` leaves nothing of a request body for the garbage collector.

httpcore wraps a bytes body in an async generator (``ByteStream.__aiter__``), which a
write that fails or is cancelled leaves unfinished, and trio warns ("Async generator ...
was garbage collected before it had been exhausted") when it is collected. The adapter
hands httpcore a body whose iterator is a plain object, and closes the iterator of an
async iterable body itself. Each case records every warning from the call to a
``gc.collect()`` after it, on asyncio and trio.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import AsyncIterator

import anyio
import pytest

from sdk_core import APIError, Request, Timeout
from sdk_transports import AsyncHttpcoreTransport
from sdk_transports.testing import FaultServer, hang, read_head, reset

UPLOAD = 8 * 1024 * 1024  # more than loopback socket buffers take unread
PIECE = 64 * 1024
TIMEOUT = Timeout(5.0)


def request(server: FaultServer, body: str, closed: list[str]) -> Request:
    if body == "bytes":
        return Request("POST", server.url + "/up", content=b"u" * UPLOAD)

    async def pieces() -> AsyncIterator[bytes]:
        try:
            for _ in range(UPLOAD // PIECE):
                yield b"u" * PIECE
        finally:
            closed.append("closed")

    return Request(
        "POST", server.url + "/up", content=pieces(), headers={"Transfer-Encoding": "chunked"}
    )


async def fail_write(transport: AsyncHttpcoreTransport, server: FaultServer, req: Request) -> str:
    server.script(read_head(), reset())
    with pytest.raises(APIError):
        await transport.handle_async_request(req, TIMEOUT)
    return "failed"


async def cancel_write(transport: AsyncHttpcoreTransport, server: FaultServer, req: Request) -> str:
    server.script(read_head(), hang())  # the body is never read: the write blocks
    async with anyio.create_task_group() as tg:

        async def call() -> None:
            await transport.handle_async_request(req, TIMEOUT)

        tg.start_soon(call)
        assert await anyio.to_thread.run_sync(server.wait_request, "/up"), "no request"
        tg.cancel_scope.cancel()
    return "cancelled"


@pytest.mark.anyio
@pytest.mark.parametrize("body", ["bytes", "async generator"])
@pytest.mark.parametrize("fault", [fail_write, cancel_write], ids=["failed", "cancelled"])
async def test_a_body_write_that_ends_early_leaves_nothing_to_collect(
    body: str, fault: object
) -> None:
    closed: list[str] = []
    with FaultServer() as server, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        transport = AsyncHttpcoreTransport()
        try:
            req = request(server, body, closed)
            assert callable(fault)
            await fault(transport, server, req)
            if body == "async generator":
                assert closed == ["closed"], "the body's generator was not closed"
            del req
        finally:
            await transport.aclose()
        gc.collect()
    left = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not left, left
