"""Lifecycle helpers: which process and which event loop a pool belongs to.

A pooled connection is only good in the process and on the event loop that opened it.
After ``os.fork()`` the child shares the parent's sockets; after ``anyio.run`` ends,
its streams belong to a dead loop. The transports compare the current process or loop
with the one their pool was made in, and when it changed they drop the old
connections with ``close_socket_now`` (no byte sent, no await) and start afresh.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from collections.abc import Iterable

from sdk_core import ClientClosedError, Request

__all__ = [
    "close_socket_now",
    "closed_client_error",
    "closed_transport_error",
    "current_loop",
    "current_pid",
    "drop_httpcore_connections",
    "fork_lock",
    "loop_may_still_run",
]

# Serialises the reset of a pool in a forked child. A lock held by another thread at
# fork time stays held in the child forever, so the child gets a fresh one.
_fork_lock = threading.Lock()
# This process's id, renewed after a fork: the hot paths read it instead of calling
# os.getpid() (docs/performance.md).
_pid = os.getpid()


def _after_fork_in_child() -> None:  # pragma: no cover - runs in forked children
    global _fork_lock, _pid
    _fork_lock = threading.Lock()
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def current_pid() -> int:
    """The id of this process, kept up to date across ``os.fork()``."""
    return _pid


def fork_lock() -> threading.Lock:
    """The lock a transport holds while it resets its pool after a fork."""
    return _fork_lock


def current_loop() -> object:
    """An object that identifies the running event loop: the asyncio loop, or trio's
    token for the current run (also in guest mode). Compare with ``is``. Raises
    ``RuntimeError`` outside an event loop."""
    trio = sys.modules.get("trio")  # not imported: trio cannot be running
    if trio is not None and trio.lowlevel.in_trio_run():
        return trio.lowlevel.current_trio_token()
    asyncio = sys.modules.get("asyncio")  # not imported: no asyncio loop can be running
    loop = asyncio._get_running_loop() if asyncio is not None else None
    if loop is None:
        raise RuntimeError("no running event loop")
    return loop


def loop_may_still_run(loop: object) -> bool:
    """True unless ``loop`` is known to be finished. An asyncio loop that still runs
    (on another thread) keeps its sockets; a trio token cannot tell, and a finished
    ``trio.run`` is the only way a sequential program leaves one behind."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and isinstance(loop, asyncio.AbstractEventLoop):
        return bool(loop.is_running() and not loop.is_closed())
    return False


def close_socket_now(sock: object) -> None:
    """Close ``sock`` at once, without sending anything and without an event loop.

    Takes a ``socket.socket`` or a wrapper that holds one (asyncio's
    ``TransportSocket``, a trio socket): the real socket object is closed, so the
    wrapper's own close later finds it closed instead of closing a reused descriptor.
    Never raises.
    """
    real = sock
    for _ in range(3):  # unwrap TransportSocket._sock / trio SocketType._sock
        if isinstance(real, socket.socket):
            break
        real = getattr(real, "_sock", None)
    if isinstance(real, socket.socket):
        with contextlib.suppress(OSError):
            real.close()


def socket_of_httpcore(connection: object) -> object:
    """The socket under one of httpcore's pooled connections, or None."""
    with contextlib.suppress(Exception):
        stream = getattr(getattr(connection, "_connection", None), "_network_stream", None)
        if stream is not None:
            return stream.get_extra_info("socket")
    return None


def drop_httpcore_connections(connections: Iterable[object]) -> None:
    """Close the sockets of httpcore connections without httpcore's (awaiting) close."""
    for connection in connections:
        close_socket_now(socket_of_httpcore(connection))


def closed_transport_error(request: Request) -> ClientClosedError:
    """The error for a request on a transport that was closed: the caller's mistake,
    raised before anything is sent, on every transport alike."""
    return ClientClosedError(f"the transport is closed; {request.method} was not sent.")


def closed_client_error(client: object) -> ClientClosedError:
    """The error for a request on a closed ``Client`` or ``AsyncClient`` (or subclass)."""
    return ClientClosedError(f"{type(client).__name__} is closed; make a new client.")
