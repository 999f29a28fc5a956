"""Opening a TCP connection on asyncio without leaving a socket to the garbage collector.

``loop.create_connection(..., happy_eyeballs_delay=...)`` runs asyncio's staggered race
even for one address, and that race loses the socket that won it when the task is
cancelled at the wrong moment: the socket stays open until the collector finds it.
``open_socket`` resolves the name itself, connects an IP literal (or a name with one
address) directly, and races several addresses as RFC 8305 describes: families
interleaved, a new attempt 250 ms after the previous one started or as soon as it
failed. Every socket that loses, fails or is cancelled is closed before
``open_socket`` returns or raises.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from typing import Any

import anyio

__all__ = ["HAPPY_EYEBALLS_DELAY", "AllAttemptsFailed", "interleave", "open_socket"]

#: Seconds between the starts of two connection attempts (RFC 8305's recommendation).
HAPPY_EYEBALLS_DELAY = 0.25

Address = tuple[int, Any]  # (family, sockaddr)
SocketOption = tuple[int, int, int | bytes]  # (level, option, value) for setsockopt


class AllAttemptsFailed(OSError):
    """Every address of a name refused or failed; ``exceptions`` says how each did."""

    def __init__(self, errors: list[OSError]) -> None:
        super().__init__(f"all {len(errors)} addresses failed")
        self.exceptions = tuple(errors)


def interleave(addresses: list[Address]) -> list[Address]:
    """``addresses`` with their families alternating, the first address's family first
    (RFC 8305 section 4); within a family the resolver's order is kept."""
    if not addresses:
        return []
    first = addresses[0][0]
    ours = [a for a in addresses if a[0] == first]
    others = [a for a in addresses if a[0] != first]
    mixed: list[Address] = []
    for index in range(max(len(ours), len(others))):
        mixed += ours[index : index + 1] + others[index : index + 1]
    return mixed


async def _resolve(loop: asyncio.AbstractEventLoop, host: str, port: int) -> list[Address]:
    """The addresses to try for ``host``: an IP literal as it is, else what the resolver
    answers (``socket.gaierror`` when it cannot), interleaved."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return interleave([(family, sockaddr) for family, _, _, _, sockaddr in infos])
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    return [(family, (host, port))]


async def _connect(
    loop: asyncio.AbstractEventLoop,
    address: Address,
    local_address: str | None = None,
    socket_options: Sequence[SocketOption] = (),
) -> socket.socket:
    """A non-blocking socket connected to ``address`` (from ``local_address`` when
    given, with ``socket_options`` set before connecting); closed if that fails or is
    cancelled."""
    sock = socket.socket(address[0], socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for option in socket_options:
            sock.setsockopt(*option)
        if local_address is not None:
            sock.bind((local_address, 0))
        await loop.sock_connect(sock, address[1])
    except BaseException:
        sock.close()
        raise
    return sock


async def _race(
    loop: asyncio.AbstractEventLoop,
    addresses: list[Address],
    local_address: str | None = None,
    socket_options: Sequence[SocketOption] = (),
) -> socket.socket:
    """The first of ``addresses`` to connect, attempts staggered by
    ``HAPPY_EYEBALLS_DELAY``; the others are cancelled and closed."""
    won: list[socket.socket] = []
    errors: list[OSError] = []

    async def attempt(address: Address, failed: anyio.Event) -> None:
        try:
            sock = await _connect(loop, address, local_address, socket_options)
        except OSError as exc:
            errors.append(exc)
            failed.set()
            return
        if won:  # another attempt got there in the same turn of the loop
            sock.close()
            return
        won.append(sock)
        tg.cancel_scope.cancel()

    try:
        async with anyio.create_task_group() as tg:
            for address in addresses:
                failed = anyio.Event()
                tg.start_soon(attempt, address, failed)
                with anyio.move_on_after(HAPPY_EYEBALLS_DELAY):
                    await failed.wait()
    except BaseException:
        for sock in won:
            sock.close()
        raise
    if not won:
        raise AllAttemptsFailed(errors)
    return won[0]


async def open_socket(
    loop: asyncio.AbstractEventLoop,
    host: str,
    port: int,
    *,
    local_address: str | None = None,
    socket_options: Sequence[SocketOption] = (),
) -> socket.socket:
    """A connected non-blocking TCP socket to ``host``:``port``, bound to
    ``local_address`` when given, with ``socket_options`` set.

    Raises ``socket.gaierror`` when the name does not resolve, the ``OSError`` of the
    one address tried, or ``AllAttemptsFailed`` when several were. On cancellation
    every socket opened is closed, and the cancellation propagates.
    """
    addresses = await _resolve(loop, host, port)
    if len(addresses) == 1:
        return await _connect(loop, addresses[0], local_address, socket_options)
    return await _race(loop, addresses, local_address, socket_options)
