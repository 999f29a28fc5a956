"""Bytes a server sends on an idle keep-alive connection are never read as the answer to
the next request: the connection is dropped and a fresh one carries the request."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest
from _support.raw_server import RawConnection, RawServer, ok_response

from sdk_transports import AnyioTransport, AsyncClient, Client, SocketTransport

FAKE = ok_response(b"fake")


class InjectAfterFirst:
    """First connection: answer one request, then, once the test says the client has
    read that answer (``answered``), send a whole fake response while it is idle and set
    ``injected``. Later connections: answer every request with "real"."""

    def __init__(self) -> None:
        self.answered = threading.Event()
        self.injected = threading.Event()
        self.first = True
        self.lock = threading.Lock()

    def __call__(self, conn: RawConnection) -> None:
        with self.lock:
            first, self.first = self.first, False
        if first:
            if conn.read_request() is None:
                return
            conn.send(ok_response(b"first"))
            if not self.answered.wait(5):  # junk sent with the answer is another case
                return
            conn.send(FAKE)
            self.injected.set()
            conn.read_request()  # hold the connection open until the client drops it
            return
        while conn.read_request() is not None:
            conn.send(ok_response(b"real"))


def test_sync_idle_bytes_are_not_an_answer() -> None:
    handler = InjectAfterFirst()
    with RawServer(handler) as server, Client(server.url, transport=SocketTransport()) as client:
        assert client.get("/one").content == b"first"
        handler.answered.set()
        assert handler.injected.wait(5)
        assert client.get("/two").content == b"real"
        assert server.connections == 2


@pytest.mark.anyio
async def test_async_idle_bytes_are_not_an_answer(anyio_backend: Any) -> None:
    handler = InjectAfterFirst()
    with RawServer(handler) as server:
        async with AsyncClient(server.url, transport=AnyioTransport()) as client:
            assert (await client.get("/one")).content == b"first"
            handler.answered.set()
            # Once the server's send returned, the bytes are in the client's socket
            # buffer, where the pool's idle check looks (not only in what the loop read).
            assert await anyio.to_thread.run_sync(handler.injected.wait, 5)
            assert (await client.get("/two")).content == b"real"
        assert server.connections == 2
