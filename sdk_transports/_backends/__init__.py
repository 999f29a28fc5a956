"""The network backends: one small stream interface (``_base``) and one module per way
of doing the I/O.

- ``_sync``: blocking sockets (``SocketTransport``)
- ``_asyncio``: an ``asyncio.Protocol`` stream and its timer wheel; HTTPS by the loop's
  own ``start_tls``
- ``_trio``: raw non-blocking trio sockets and their timeouts
- ``_tls``: TLS over any async stream (``ssl.SSLObject`` and memory BIOs; HTTPS on trio,
  and a tunnel's inner TLS); ``_sync_tls`` is its generated blocking twin
- ``_anyio``: the errors anyio's streams raise (``STREAM_ERRORS``)
- ``_mock``: in-memory streams (sync and async) for testing the connection logic

Importing this package loads none of them: a program that only uses ``Client`` never
imports anyio, asyncio or trio.
"""

from __future__ import annotations

import sys

from ._base import (
    READ_SIZE,
    AsyncNetworkBackend,
    AsyncNetworkStream,
    NetworkBackend,
    NetworkStream,
    SocketOption,
)

__all__ = [
    "READ_SIZE",
    "AsyncNetworkBackend",
    "AsyncNetworkStream",
    "NetworkBackend",
    "NetworkStream",
    "SocketOption",
    "backend_for",
]


def backend_for(loop: object) -> AsyncNetworkBackend:
    """The backend for ``loop`` (what ``_lifecycle.current_loop`` returned): asyncio's
    for an asyncio loop, trio's for a trio run's token."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and isinstance(loop, asyncio.AbstractEventLoop):
        from ._asyncio import AsyncioBackend

        return AsyncioBackend(loop)
    from ._trio import TrioBackend

    return TrioBackend(sys.modules["trio"])
