"""The pool plumbing of ``SocketTransport`` and ``AsyncSocketTransport``, written once in
``_async_sockets.py`` (``_sockets.py`` is generated from it): the same order of
operations on both sides, over the in-memory backends. The waits of the pool are
replaced where a test must act at the moment a request waits, so nothing here depends
on timing. The async cases run on asyncio and trio."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from sdk_core import (
    ClientClosedError,
    ConnectError,
    ConnectTimeout,
    Limits,
    PoolTimeout,
    ReadError,
    Request,
    Timeout,
)
from sdk_transports import (
    AsyncSocketTransport,
    SocketTransport,
    _async_sockets,
    _pool_io,
    _sockets,
)
from sdk_transports._backends._mock import (
    AsyncMockBackend,
    AsyncMockStream,
    MockBackend,
    MockStream,
)

URL = "http://api.test:8080/items"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
TIMEOUT = Timeout(connect=1.0, read=2.0, write=3.0, pool=4.0)
ONE = Limits(max_connections=1)


class Interrupted(BaseException):
    """Plays a KeyboardInterrupt (sync) or a cancellation (async) raised while waiting."""


def read_all_sync(chunks: Any) -> bytes:
    pieces: list[bytes] = []
    for _ in range(100):
        piece = chunks.read_chunk(5.0)
        if not piece:
            return b"".join(pieces)
        pieces.append(piece)
    raise AssertionError("the body did not end")


async def read_all(chunks: Any) -> bytes:
    pieces: list[bytes] = []
    for _ in range(100):
        piece = await chunks.read_chunk(5.0)
        if not piece:
            return b"".join(pieces)
        pieces.append(piece)
    raise AssertionError("the body did not end")


# -- sync ------------------------------------------------------------------------------


def test_a_connect_timeout_of_zero_is_a_connect_timeout_before_dialling() -> None:
    backend = MockBackend([MockStream([OK])])
    transport = SocketTransport(network_backend=backend)
    with pytest.raises(ConnectTimeout, match="took over 0"):
        transport.handle_request(Request("GET", URL), Timeout(5.0, connect=0))
    assert backend.connects == []
    assert transport.statistics().in_use == 0


def test_a_pool_timeout_of_zero_fails_at_once_and_leaves_no_ticket() -> None:
    backend = MockBackend([MockStream([OK]), MockStream([OK])])
    transport = SocketTransport(limits=ONE, network_backend=backend)
    _, held = transport.open_stream(Request("GET", URL), TIMEOUT)
    with pytest.raises(PoolTimeout):
        transport.handle_request(Request("GET", URL), Timeout(5.0, pool=0))
    assert transport.statistics().waiting == 0
    held.close()


def test_closing_the_transport_wakes_a_waiter_with_the_closed_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport = SocketTransport(limits=ONE, network_backend=MockBackend([MockStream([OK])]))
    _, held = transport.open_stream(Request("GET", URL), TIMEOUT)

    def close_then_wait(waiter: Any, timeout: float | None) -> None:
        transport.close()  # as another thread would, while this request waits
        assert waiter.wait(0)  # the close woke it

    monkeypatch.setattr(_sockets, "wait", close_then_wait)
    with pytest.raises(ClientClosedError):
        transport.handle_request(Request("GET", URL), TIMEOUT)
    assert transport.statistics().waiting == 0
    held.close()


def test_a_wait_interrupted_before_a_lease_came_leaves_no_ticket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport = SocketTransport(limits=ONE, network_backend=MockBackend([MockStream([OK])]))
    _, held = transport.open_stream(Request("GET", URL), TIMEOUT)

    def interrupted(waiter: Any, timeout: float | None) -> None:
        raise Interrupted

    monkeypatch.setattr(_sockets, "wait", interrupted)
    with pytest.raises(Interrupted):
        transport.handle_request(Request("GET", URL), TIMEOUT)
    assert transport.statistics().waiting == 0
    assert read_all_sync(held) == b"hello"
    assert transport.statistics().idle == 1


def test_a_lease_handed_to_an_interrupted_waiter_is_given_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = MockStream([OK])
    transport = SocketTransport(limits=ONE, network_backend=MockBackend([stream]))
    _, held = transport.open_stream(Request("GET", URL), TIMEOUT)

    def handed_then_interrupted(waiter: Any, timeout: float | None) -> None:
        assert read_all_sync(held) == b"hello"  # the holder ends: the waiter gets its lease
        assert waiter.wait(0)
        raise Interrupted

    monkeypatch.setattr(_sockets, "wait", handed_then_interrupted)
    with pytest.raises(Interrupted):
        transport.handle_request(Request("GET", URL), TIMEOUT)
    statistics = transport.statistics()
    assert (statistics.in_use, statistics.idle, statistics.waiting) == (0, 1, 0)
    assert not stream.closed


def test_a_waiter_is_woken_before_the_connection_it_replaces_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport: SocketTransport
    seen: list[tuple[bool, int]] = []

    class Checked(MockStream):
        def close(self) -> None:
            locked = transport._lock.locked()  # statistics() would then wait for ever
            seen.append((locked, -1 if locked else transport.statistics().waiting))
            super().close()

    backend = MockBackend([Checked([OK]), MockStream([OK])])
    transport = SocketTransport(limits=ONE, network_backend=backend)
    _, held = transport.open_stream(Request("GET", URL), TIMEOUT)
    real_wait = _pool_io.wait

    def holder_closes_then_wait(waiter: Any, timeout: float | None) -> None:
        held.close()  # unread: closed, and the waiter handed a lease for a new connection
        real_wait(waiter, timeout)

    monkeypatch.setattr(_sockets, "wait", holder_closes_then_wait)
    response = transport.handle_request(Request("GET", URL), TIMEOUT)
    assert response.status_code == 200
    assert seen == [(False, 0)]
    assert transport.statistics().idle == 1


def test_https_fetches_the_context_before_dialling(tmp_path: Any) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    backend = MockBackend([MockStream([OK])])
    transport = SocketTransport(verify=str(bad), network_backend=backend)
    with pytest.raises(ConnectError):
        transport.handle_request(Request("GET", "https://api.test/items"), TIMEOUT)
    assert backend.connects == []
    assert transport.statistics().in_use == 0


@pytest.mark.parametrize(
    ("failure", "error"),
    [(TimeoutError(), ConnectTimeout), (OSError("handshake failed"), ConnectError)],
)
def test_a_failed_tls_handshake_is_typed_and_frees_the_slot(
    failure: BaseException, error: type[Exception]
) -> None:
    class FailingTLS(MockStream):
        def start_tls(self, *args: Any) -> MockStream:
            self.close()  # as the protocol asks of a failed start_tls
            raise failure

    stream = FailingTLS([OK])
    transport = SocketTransport(verify=False, network_backend=MockBackend([stream]))
    with pytest.raises(error):
        transport.handle_request(Request("GET", "https://api.test/items"), TIMEOUT)
    assert stream.closed
    assert transport.statistics().in_use == 0


def test_a_body_stream_of_a_pool_dropped_after_fork_leaves_the_new_pool_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = MockStream([OK[:-5], OK[-5:]]), MockStream([OK])
    transport = SocketTransport(network_backend=MockBackend([old, new]))
    _, inherited = transport.open_stream(Request("GET", URL), TIMEOUT)
    child = object()  # the pid a forked child sees
    monkeypatch.setattr(_sockets, "current_owner", lambda: child)
    # The child's first request starts a fresh pool; its lease has the numbers the
    # inherited one had, so giving the inherited one back must not touch it.
    _, mine = transport.open_stream(Request("GET", URL), TIMEOUT)
    assert old.closed  # the child's copy of the inherited socket
    with pytest.raises(ReadError):
        inherited.read_chunk(5.0)
    assert transport.statistics().in_use == 1
    assert read_all_sync(mine) == b"hello"
    assert transport.statistics().idle == 1
    assert not new.closed


# -- async ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_a_connect_timeout_of_zero_is_a_connect_timeout_before_dialling() -> None:
    backend = AsyncMockBackend([AsyncMockStream([OK])])
    transport = AsyncSocketTransport(network_backend=backend)
    with pytest.raises(ConnectTimeout, match="took over 0"):
        await transport.handle_async_request(Request("GET", URL), Timeout(5.0, connect=0))
    assert backend.connects == []
    assert transport.statistics().in_use == 0


@pytest.mark.anyio
async def test_async_pool_timeout_zero_and_closing_wakes_a_waiter() -> None:
    backend = AsyncMockBackend([AsyncMockStream([OK])])
    transport = AsyncSocketTransport(limits=ONE, network_backend=backend)
    _, held = await transport.open_async_stream(Request("GET", URL), TIMEOUT)
    with pytest.raises(PoolTimeout):
        await transport.handle_async_request(Request("GET", URL), Timeout(5.0, pool=0))
    assert transport.statistics().waiting == 0

    failures: list[BaseException] = []

    async def waits() -> None:
        try:
            await transport.handle_async_request(Request("GET", URL), TIMEOUT)
        except ClientClosedError as exc:
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(waits)
        await anyio.wait_all_tasks_blocked()
        assert transport.statistics().waiting == 1
        await transport.aclose()
    assert len(failures) == 1
    assert transport.statistics().waiting == 0
    await held.aclose()


@pytest.mark.anyio
async def test_async_a_lease_handed_to_a_cancelled_waiter_is_given_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = AsyncMockStream([OK])
    transport = AsyncSocketTransport(limits=ONE, network_backend=AsyncMockBackend([stream]))
    _, held = await transport.open_async_stream(Request("GET", URL), TIMEOUT)

    async def handed_then_cancelled(waiter: Any, timeout: float | None) -> None:
        assert await read_all(held) == b"hello"
        assert waiter.is_set()
        raise Interrupted

    monkeypatch.setattr(_async_sockets, "wait", handed_then_cancelled)
    with pytest.raises(Interrupted):
        await transport.handle_async_request(Request("GET", URL), TIMEOUT)
    statistics = transport.statistics()
    assert (statistics.in_use, statistics.idle, statistics.waiting) == (0, 1, 0)
    assert not stream.closed


@pytest.mark.anyio
async def test_async_a_waiter_is_woken_before_the_connection_it_replaces_is_closed() -> None:
    transport: AsyncSocketTransport
    seen: list[int] = []

    class Checked(AsyncMockStream):
        async def aclose(self) -> None:
            seen.append(transport.statistics().waiting)
            await super().aclose()

    backend = AsyncMockBackend([Checked([OK]), AsyncMockStream([OK])])
    transport = AsyncSocketTransport(limits=ONE, network_backend=backend)
    _, held = await transport.open_async_stream(Request("GET", URL), TIMEOUT)
    results: list[int] = []

    async def waits() -> None:
        response = await transport.handle_async_request(Request("GET", URL), TIMEOUT)
        results.append(response.status_code)

    async with anyio.create_task_group() as tg:
        tg.start_soon(waits)
        await anyio.wait_all_tasks_blocked()
        assert transport.statistics().waiting == 1
        await held.aclose()  # unread: closed, and the waiter handed a new connection
    assert seen == [0]
    assert results == [200]
    assert transport.statistics().idle == 1


@pytest.mark.anyio
async def test_async_a_body_stream_of_an_old_loop_leaves_the_new_pool_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = AsyncMockStream([OK]), AsyncMockStream([OK])
    transport = AsyncSocketTransport(network_backend=AsyncMockBackend([old, new]))
    _, inherited = await transport.open_async_stream(Request("GET", URL), TIMEOUT)
    other_loop = object()
    monkeypatch.setattr(_async_sockets, "current_owner", lambda: other_loop)
    _, mine = await transport.open_async_stream(Request("GET", URL), TIMEOUT)
    await inherited.aclose()
    assert old.closed
    assert transport.statistics().in_use == 1
    assert await read_all(mine) == b"hello"
    assert transport.statistics().idle == 1
    assert not new.closed
