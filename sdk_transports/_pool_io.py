"""What the pool plumbing of ``_sockets.SocketTransport`` does its own way on blocking
sockets and threads: the counterparts of ``_async_pool_io.py``, under the same names,
hand-written (``_sockets.py`` itself is generated from ``_async_sockets.py``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ._backends import NetworkBackend, NetworkStream
from ._exchange import Connection
from ._lifecycle import current_pid

if TYPE_CHECKING:
    import ssl

__all__ = ["STREAM_ERRORS", "Waiter", "close_all", "connect_tls", "current_owner", "wait"]

#: What a blocking stream raises besides ``TimeoutError`` (``ssl.SSLError`` is one).
STREAM_ERRORS = OSError

#: What a request waiting for a lease waits on: set, from another thread, when the pool
#: hands it one (or the transport closes).
Waiter = threading.Event

#: The owner of a pool's connections: this process (its id, renewed after a fork; the
#: same object until then, so ``is`` tells a change cheaply).
current_owner = current_pid


def wait(waiter: threading.Event, timeout: float | None) -> None:
    """Block until ``waiter`` is set or ``timeout`` (None: no limit) has passed; returns
    either way. An exception raised meanwhile (``KeyboardInterrupt``) propagates."""
    waiter.wait(timeout)


def close_all(connections: list[Connection]) -> None:
    """Close ``connections`` (never raises ``OSError``)."""
    for conn in connections:
        conn.stream.close()


def connect_tls(
    backend: NetworkBackend,
    host: str,
    port: int,
    timeout: float | None,
    ssl_context: ssl.SSLContext,
    server_hostname: str | None,
) -> NetworkStream:
    """A TCP connection, then TLS over it, each within ``timeout``. Raises
    ``TimeoutError`` or ``OSError`` (``ssl.SSLError``); on failure no socket is left
    open (``start_tls`` closes its stream when it fails)."""
    stream = backend.connect_tcp(host, port, timeout)
    return stream.start_tls(ssl_context, server_hostname, timeout)
