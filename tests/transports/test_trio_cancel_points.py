"""On trio a stream's reads and writes are cancel points even when they need not wait:
a task cancelled while the peer keeps bytes ready stops at its next read, as trio's own
streams do, instead of reading on to the end of the body."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
import trio

from sdk_transports._backends._trio import TrioBackend

SENT = threading.Event()


@pytest.fixture
def talkative_port() -> Iterator[int]:
    """A server on 127.0.0.1 that sends 32 KiB at once (within loopback's buffers, so it
    is all on the client's side when ``SENT`` is set), then waits for the client to close."""
    SENT.clear()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        with contextlib.suppress(OSError), listener.accept()[0] as conn:
            conn.sendall(b"x" * 32 * 1024)
            SENT.set()
            conn.settimeout(10)
            conn.recv(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()
    thread.join(10)
    assert not thread.is_alive()


def test_a_read_with_bytes_ready_is_a_cancel_point(talkative_port: int) -> None:
    async def main() -> None:
        stream = await TrioBackend(trio).connect_tcp("127.0.0.1", talkative_port, 5.0)
        try:
            assert await trio.to_thread.run_sync(SENT.wait, 10)
            assert await stream.receive(1024, 5.0)  # bytes are ready, more than one read's
            with trio.CancelScope() as scope:
                scope.cancel()
                await stream.receive(1024, 5.0)
                pytest.fail("receive returned inside a cancelled scope")
            assert scope.cancelled_caught
        finally:
            await stream.aclose()

    trio.run(main)
