"""``AnyioTransport`` on asyncio opens its own sockets (``sdk_transports._dial``): an IP
literal or a name with one address is connected directly, several addresses race as
RFC 8305 says, and no socket is left for the garbage collector, whatever is cancelled.

(asyncio's own ``create_connection(..., happy_eyeballs_delay=...)`` loses the socket
that won its race when cancelled at the wrong moment.) The conformance kit's
``cancellation_closes_every_socket`` covers every async transport and loop against an IP
literal; this file covers the race, with the resolver and the slow connects injected:
``socket.getaddrinfo`` answers for ``race.example.test``, and ``loop.sock_connect`` to
the address ``HANG`` never completes.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from sdk_core import ConnectError, Limits, Request, Timeout
from sdk_transports import AnyioTransport
from sdk_transports import _dial as dial
from sdk_transports.testing import FaultServer, refused_url
from sdk_transports.testing._socket_audit import audit_sockets, sockets_left

NAME = "race.example.test"
HANG = ("127.0.0.77", 4)  # connecting here never completes (see ``slow_connects``)
TIMEOUT = Timeout(5.0)
V4, V6 = socket.AF_INET, socket.AF_INET6


@pytest.fixture
def anyio_backend() -> str:
    """The dialer runs on asyncio only (trio and TLS connect through anyio)."""
    return "asyncio"


def address(url: str) -> tuple[str, int]:
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    return host, int(port)


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


Answer = Callable[[list[tuple[str, int]]], None]


@pytest.fixture
def resolve(monkeypatch: pytest.MonkeyPatch) -> Answer:
    """``resolve([(ip, port), ...])``: what ``getaddrinfo`` answers for ``NAME``."""
    real = socket.getaddrinfo
    answer: list[tuple[str, int]] = []

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in (NAME, NAME.encode()):
            return [(V4, socket.SOCK_STREAM, 6, "", sockaddr) for sockaddr in answer]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)

    def set_answer(addresses: list[tuple[str, int]]) -> None:
        answer[:] = addresses

    return set_answer


Attempts = list[tuple[tuple[str, int], socket.socket]]


@pytest.fixture
def slow_connects(monkeypatch: pytest.MonkeyPatch) -> Attempts:
    """Makes asyncio's ``loop.sock_connect`` to ``HANG`` wait until cancelled; returns
    each connect attempted, (address, socket), in order."""
    attempted: Attempts = []
    loop_class = asyncio.selector_events.BaseSelectorEventLoop
    real = loop_class.sock_connect

    async def sock_connect(self: Any, sock: socket.socket, addr: Any) -> None:
        attempted.append((addr, sock))
        if addr == HANG:
            await anyio.sleep_forever()
        await real(self, sock, addr)

    monkeypatch.setattr(loop_class, "sock_connect", sock_connect)
    return attempted


def get(url: str) -> Request:
    return Request("GET", url + "/")


async def cancel_after(scope: anyio.CancelScope, checkpoints: int, delay: float) -> None:
    """Cancel ``scope`` after ``checkpoints`` scheduler checkpoints when that is odd,
    else after ``delay`` seconds."""
    if checkpoints % 2:
        for _ in range(checkpoints):
            await anyio.lowlevel.checkpoint()
    else:
        await anyio.sleep(delay)
    scope.cancel()


def test_families_alternate_first_family_first() -> None:
    mixed = dial.interleave(
        [(V6, "a6"), (V6, "b6"), (V6, "c6"), (V4, "a4"), (V4, "b4")]  # type: ignore[list-item]
    )
    assert [a for _, a in mixed] == ["a6", "a4", "b6", "b4", "c6"]
    assert [a for _, a in dial.interleave([(V4, "x"), (V6, "y")])] == ["x", "y"]  # type: ignore[list-item]
    assert dial.interleave([]) == []


@pytest.mark.anyio
async def test_one_address_connects_without_a_race(
    server: FaultServer, resolve: Answer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_race(*args: object) -> socket.socket:
        raise AssertionError("raced a single address")

    monkeypatch.setattr(dial, "_race", no_race)
    resolve([address(server.url)])
    port = address(server.url)[1]
    transport = AnyioTransport()
    try:
        for url in (server.url, f"http://{NAME}:{port}"):
            response = await transport.handle_async_request(get(url), TIMEOUT)
            assert response.status_code == 200
    finally:
        await transport.aclose()


@pytest.mark.anyio
async def test_a_refused_address_falls_through_to_the_next(
    server: FaultServer, resolve: Answer, slow_connects: Attempts
) -> None:
    resolve([address(refused_url()), address(server.url)])
    port = address(server.url)[1]
    transport = AnyioTransport()
    try:
        response = await transport.handle_async_request(get(f"http://{NAME}:{port}"), TIMEOUT)
    finally:
        await transport.aclose()
    assert response.status_code == 200
    assert [a for a, _ in slow_connects] == [address(refused_url()), address(server.url)]
    assert slow_connects[0][1].fileno() == -1, "the refused attempt's socket is open"
    assert server.connections == 1


@pytest.mark.anyio
async def test_a_hanging_address_is_passed_after_the_delay_and_closed(
    server: FaultServer,
    resolve: Answer,
    slow_connects: Attempts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dial, "HAPPY_EYEBALLS_DELAY", 0.01)
    resolve([HANG, address(server.url)])
    port = address(server.url)[1]
    transport = AnyioTransport()
    try:
        response = await transport.handle_async_request(get(f"http://{NAME}:{port}"), TIMEOUT)
        assert response.status_code == 200
        assert [a for a, _ in slow_connects] == [HANG, address(server.url)]
        assert slow_connects[0][1].fileno() == -1, "the attempt that lost is still open"
        assert slow_connects[1][1].fileno() != -1, "the connection that won was closed"
    finally:
        await transport.aclose()


@pytest.mark.anyio
async def test_every_address_failing_says_how_each_did(resolve: Answer) -> None:
    refused = address(refused_url())
    other = ("127.0.0.2", refused[1])  # nothing listens there either
    resolve([refused, other])
    transport = AnyioTransport()
    try:
        with pytest.raises(ConnectError) as caught:
            await transport.handle_async_request(get(f"http://{NAME}:{refused[1]}"), TIMEOUT)
    finally:
        await transport.aclose()
    text = str(caught.value)
    assert text.startswith(f"connecting to {NAME}:{refused[1]} failed: "), text
    assert str(refused) in text, text
    assert str(other) in text, text
    assert caught.value.retryable is True


@pytest.mark.anyio
async def test_a_cancelled_race_leaves_no_socket(
    resolve: Answer, slow_connects: Attempts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """300 races (a hanging address then a good one, or two good ones that connect in
    the same turn), each cancelled after a seeded random number of checkpoints or of
    milliseconds: with the collector off, once the transport is closed and the server
    stopped, every socket is closed."""
    monkeypatch.setattr(dial, "HAPPY_EYEBALLS_DELAY", 0.0005)
    rng = random.Random(10)
    outcomes = {"completed": 0, "cancelled": 0}
    with audit_sockets() as audit:
        with FaultServer() as server:
            good = address(server.url)
            url = f"http://{NAME}:{good[1]}"
            transport = AnyioTransport(limits=Limits(max_keepalive_connections=0))  # all race
            try:
                for _ in range(300):
                    resolve([HANG, good] if rng.random() < 0.5 else [good, good])
                    checkpoints, delay = rng.randrange(30), rng.uniform(0.0, 0.005)
                    with anyio.CancelScope() as scope:
                        async with anyio.create_task_group() as tg:
                            tg.start_soon(cancel_after, scope, checkpoints, delay)
                            await transport.handle_async_request(get(url), TIMEOUT)
                            tg.cancel_scope.cancel()
                    outcomes["cancelled" if scope.cancelled_caught else "completed"] += 1
            finally:
                await transport.aclose()
        left = await sockets_left(audit)
        unclosed = audit.unclosed()
    assert outcomes["cancelled"] > 0, outcomes
    assert outcomes["completed"] > 0, outcomes
    assert not left, f"{len(left)} socket(s) left open ({outcomes})"
    assert not unclosed, unclosed[:3]
    assert sum(a == HANG for a, _ in slow_connects) > 0, "no race had a hanging address"
    assert all(sock.fileno() == -1 for _, sock in slow_connects), "an attempt is open"
