"""What the pool plumbing of ``_async_sockets.AsyncSocketTransport`` does its own way on
an event loop: wait for a lease, close connections, open a TLS connection, tell which
loop it runs on. The blocking side's counterparts are in ``_pool_io.py``, under the same
names, so the one pool source (``_async_sockets.py``, from which ``_sockets.py`` is
generated) calls either without knowing which it has. Both are hand-written.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import anyio

from ._async_exchange import AsyncConnection
from ._backends import AsyncNetworkBackend, AsyncNetworkStream
from ._backends._anyio import STREAM_ERRORS
from ._lifecycle import current_loop

if TYPE_CHECKING:
    import ssl

__all__ = ["STREAM_ERRORS", "Waiter", "close_all", "connect_tls", "current_owner", "wait"]

#: What a request waiting for a lease waits on: set when the pool hands it one (or the
#: transport closes). Made, set and waited on by one event loop.
Waiter = anyio.Event

#: The owner of a pool's connections: the running event loop (compare with ``is``).
current_owner = current_loop


async def wait(waiter: anyio.Event, timeout: float | None) -> None:
    """Wait until ``waiter`` is set or ``timeout`` (None: no limit) has passed; returns
    either way. Cancellation: stops waiting and propagates."""
    with anyio.move_on_after(math.inf if timeout is None else timeout):
        await waiter.wait()


async def close_all(connections: list[AsyncConnection]) -> None:
    """Close ``connections``, shielded from cancellation so none is left open."""
    with anyio.CancelScope(shield=True):
        for conn in connections:
            await conn.stream.aclose()


async def connect_tls(
    backend: AsyncNetworkBackend,
    host: str,
    port: int,
    timeout: float | None,
    ssl_context: ssl.SSLContext,
    server_hostname: str | None,
) -> AsyncNetworkStream:
    """The backend's own TLS connection (it may have a faster way than TCP then TLS).
    Raises as ``AsyncNetworkBackend.connect_tls``."""
    return await backend.connect_tls(host, port, timeout, ssl_context, server_hostname)
