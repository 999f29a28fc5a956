"""Is an idle pooled socket still usable? One check shared by the h11 transports."""

from __future__ import annotations

import select
import socket

__all__ = ["is_readable"]


def is_readable(sock: socket.socket) -> bool:
    """True when ``sock`` has bytes or EOF waiting, or is broken.

    An idle HTTP/1.1 connection has nothing to read, so a readable one was closed by the
    server (or got junk) and must not carry another request. Uses ``poll`` where it
    exists, so it works for descriptors past select's 1024 limit.
    """
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)  # pragma: no cover - no poll()
        return bool(readable)  # pragma: no cover
    except (OSError, ValueError):
        return True
