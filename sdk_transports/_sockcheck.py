"""Is an idle pooled socket still usable? One check shared by the h11 transports; and
the timeout a blocking socket wait gets under a deadline (``socket_timeout``)."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

from sdk_core.lowlevel import wait_bound

__all__ = ["is_readable", "readable_probe", "socket_timeout"]

_EVENTS = select.POLLIN | select.POLLERR | select.POLLHUP if hasattr(select, "poll") else 0


def is_readable(sock: socket.socket) -> bool:
    """True when ``sock`` has bytes or EOF waiting, or is broken.

    An idle HTTP/1.1 connection has nothing to read, so a readable one was closed by the
    server (or got junk) and must not carry another request. Uses ``poll`` where it
    exists, so it works for descriptors past select's 1024 limit.
    """
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, _EVENTS)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)  # pragma: no cover - no poll()
        return bool(readable)  # pragma: no cover
    except (OSError, ValueError):
        return True


def readable_probe(sock: socket.socket) -> Callable[[], bool]:
    """``is_readable(sock)`` as a function of no arguments, for a socket checked before
    each reuse: one ``poll`` object stays registered for the socket's lifetime, so a
    check costs one ``poll(0)`` system call and no setup. A socket closed since (or
    one that cannot be registered) reads as readable, as ``is_readable`` says."""
    if not hasattr(select, "poll"):  # pragma: no cover - no poll()
        return lambda: is_readable(sock)
    poller = select.poll()
    try:
        poller.register(sock, _EVENTS)
    except (OSError, ValueError):
        return lambda: True
    poll = poller.poll

    def probe() -> bool:
        # A descriptor closed since reports POLLNVAL: readable, so never reused.
        try:
            return bool(poll(0))
        except OSError:  # pragma: no cover - ENOMEM and the like
            return True

    return probe


def socket_timeout(timeout: float | None, end: float | None) -> float | None:
    """The timeout for one blocking socket wait: ``timeout``, or what is left until the
    monotonic time ``end`` when that is less (``wait_bound``), never below a
    microsecond: a zero timeout would make the socket non-blocking (httpcore reads it as
    "do not wait"), where a tiny one still raises the timeout."""
    wait = wait_bound(timeout, end, time.monotonic())
    return wait if wait is None else max(wait, 1e-6)
