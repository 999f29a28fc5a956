"""``Timeout(total=...)`` bounds the error body a streamed call reads to build its error,
on both clients, as it bounds ``client.request``: a 500 whose body trickles in past the
deadline ends the call with ``DeadlineExceeded``, not with the status error after the
whole body. The transport's reads advance an injected clock; nothing sleeps."""

from __future__ import annotations

import pytest

from sdk_core import DeadlineExceeded, InternalServerError, Request, Response, Timeout
from sdk_transports import AsyncClient, Client

TIMEOUT = Timeout(5.0, read=1.0, total=0.5)
PIECES = 20  # the body's pieces; each read takes 0.1 s on the fake clock


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Trickle:
    """A 500 whose body comes one byte per read, each read 0.1 s on the clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.reads = 0
        self.waits: list[float | None] = []
        self.closed = False

    def head(self, request: Request) -> Response:
        return Response(500, headers={"content-type": "text/plain"}, request=request)

    def next_piece(self, timeout: float | None) -> bytes:
        self.waits.append(timeout)
        if self.reads >= PIECES:
            return b""
        self.reads += 1
        self.clock.now += 0.1
        return b"x"


class SyncTrickle(Trickle):
    def handle_request(self, request: Request, timeout: Timeout) -> Response:
        raise AssertionError("the streamed call opens a stream")

    def open_stream(self, request: Request, timeout: Timeout) -> tuple[Response, SyncTrickle]:
        return self.head(request), self

    def read_chunk(self, timeout: float | None) -> bytes:
        return self.next_piece(timeout)

    def close(self) -> None:
        self.closed = True


class AsyncTrickle(Trickle):
    async def handle_async_request(self, request: Request, timeout: Timeout) -> Response:
        raise AssertionError("the streamed call opens a stream")

    async def open_async_stream(
        self, request: Request, timeout: Timeout
    ) -> tuple[Response, AsyncTrickle]:
        return self.head(request), self

    async def read_chunk(self, timeout: float | None) -> bytes:
        return self.next_piece(timeout)

    async def aclose(self) -> None:
        self.closed = True


def check(transport: Trickle, error: DeadlineExceeded) -> None:
    assert transport.reads <= 6  # 0.5 s of 0.1 s reads, not the whole body
    assert transport.closed
    waits = [w for w in transport.waits if w is not None]
    assert waits
    assert all(w <= 0.5 + 1e-9 for w in waits)  # each read within what is left
    assert not isinstance(error, InternalServerError)


def test_sync_stream_error_body_is_cut_by_the_total_timeout() -> None:
    clock = FakeClock()
    transport = SyncTrickle(clock)
    with (
        Client(
            "http://api.test", transport=transport, timeout=TIMEOUT, max_retries=0, clock=clock
        ) as client,
        pytest.raises(DeadlineExceeded) as caught,
        client.stream("GET", "/x"),
    ):
        pass
    check(transport, caught.value)


@pytest.mark.anyio
async def test_async_stream_error_body_is_cut_by_the_total_timeout() -> None:
    clock = FakeClock()
    transport = AsyncTrickle(clock)
    async with AsyncClient(
        "http://api.test", transport=transport, timeout=TIMEOUT, max_retries=0, clock=clock
    ) as client:
        with pytest.raises(DeadlineExceeded) as caught:
            async with client.stream("GET", "/x"):
                pass
    check(transport, caught.value)


def test_sync_stream_error_body_within_the_deadline_is_the_status_error() -> None:
    clock = FakeClock()
    transport = SyncTrickle(clock)
    roomy = Timeout(5.0, read=1.0, total=30.0)
    with (
        Client(
            "http://api.test", transport=transport, timeout=roomy, max_retries=0, clock=clock
        ) as client,
        pytest.raises(InternalServerError) as caught,
        client.stream("GET", "/x"),
    ):
        pass
    assert caught.value.response.content == b"x" * PIECES
