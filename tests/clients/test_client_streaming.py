"""``Client.stream`` and ``AsyncClient.stream`` over MockTransport and over a scripted
streaming transport driven by an injected clock: pieces, text, lines, events, whole
reads, retries and error statuses before the hand-over, deadlines during the body,
closing, and misuse."""

from __future__ import annotations

import gc
import json
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from sdk_core import (
    DeadlineExceeded,
    InternalServerError,
    NotFoundError,
    PoolStatistics,
    ReadError,
    ReadTimeout,
    Request,
    Response,
    ResponseTooLargeError,
    StreamClosedError,
    Timeout,
)
from sdk_transports import STREAM_WINDOW, AsyncClient, Client, MockTransport

SSE_BODY = (
    b": hello\n\n"
    b'event: tick\nid: 1\ndata: {"n": 1}\n\n'
    b"data: two\r\ndata: lines\r\n\r\n"
    b"retry: 10\rdata: cr\r\r"
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def no_sleep(_: float) -> None:
    return None


def mock(handler: Callable[[Request], Response]) -> MockTransport:
    return MockTransport(handler)


# -- a scripted streaming transport ---------------------------------------------------


class ScriptedStream:
    """Hands out ``pieces``; each read advances ``clock`` by ``cost`` and records the
    timeout it was given; an exception in ``pieces`` is raised in its turn."""

    def __init__(self, pieces: list[bytes | Exception], clock: Clock, cost: float) -> None:
        self.pieces = list(pieces)
        self.clock = clock
        self.cost = cost
        self.timeouts: list[float | None] = []
        self.closed = False

    def read_chunk(self, timeout: float | None) -> bytes:
        self.timeouts.append(timeout)
        self.clock.now += self.cost
        if timeout is not None and self.cost > timeout:
            self.closed = True
            raise ReadTimeout(f"no data for {timeout} s.")
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        if isinstance(piece, Exception):
            self.closed = True
            raise piece
        return piece

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


class AsyncScriptedStream(ScriptedStream):
    async def read_chunk(self, timeout: float | None) -> bytes:  # type: ignore[override]
        return ScriptedStream.read_chunk(self, timeout)


class ScriptedTransport:
    """A streaming transport: each attempt takes the next (status, headers, pieces)."""

    def __init__(
        self,
        attempts: list[tuple[int, dict[str, str], list[bytes | Exception]]],
        clock: Clock,
        cost: float = 0.0,
        *,
        asynchronous: bool = False,
    ) -> None:
        self.attempts = list(attempts)
        self.clock = clock
        self.cost = cost
        self.streams: list[ScriptedStream] = []
        self.asynchronous = asynchronous

    def _open(self, request: Request) -> tuple[Response, Any]:
        status, headers, pieces = self.attempts.pop(0)
        kind = AsyncScriptedStream if self.asynchronous else ScriptedStream
        stream = kind(pieces, self.clock, self.cost)
        self.streams.append(stream)
        return Response(status, headers=headers, request=request), stream

    def open_stream(self, request: Request, timeout: Timeout) -> tuple[Response, Any]:
        return self._open(request)

    async def open_async_stream(self, request: Request, timeout: Timeout) -> tuple[Response, Any]:
        return self._open(request)

    def handle_request(self, request: Request, timeout: Timeout) -> Response:
        raise AssertionError("a streaming call must open a stream")

    async def handle_async_request(self, request: Request, timeout: Timeout) -> Response:
        raise AssertionError("a streaming call must open a stream")

    def statistics(self) -> PoolStatistics:
        return PoolStatistics()

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


def sync_client(transport: Any, clock: Clock, **kwargs: Any) -> Client:
    return Client(
        "http://api.test", transport=transport, clock=clock, sleep=lambda _: None, **kwargs
    )


def async_client(transport: Any, clock: Clock, **kwargs: Any) -> AsyncClient:
    return AsyncClient(
        "http://api.test", transport=transport, clock=clock, sleep=no_sleep, **kwargs
    )


# -- over MockTransport (no streaming: read whole, handed out in pieces) ----------------


def test_iter_bytes_hands_out_window_sized_pieces() -> None:
    body = bytes(range(256)) * 1000  # 256,000 bytes: four pieces
    with (
        Client("http://api.test", transport=mock(lambda r: Response(200, content=body))) as c,
        c.stream("GET", "/big") as response,
    ):
        assert response.status_code == 200
        assert response.attempts == 1
        pieces = list(response.iter_bytes())
        assert response.is_closed
    assert b"".join(pieces) == body
    assert [len(p) for p in pieces] == [STREAM_WINDOW] * 3 + [body.__len__() - 3 * STREAM_WINDOW]


def test_iter_text_decodes_characters_split_between_pieces() -> None:
    text = "a" * (STREAM_WINDOW - 1) + "é€😀" * 1000  # the first é straddles two pieces
    body = text.encode()
    handler = lambda r: Response(  # noqa: E731
        200, headers={"content-type": "text/plain; charset=utf-8"}, content=body
    )
    with Client("http://api.test", transport=mock(handler)) as c, c.stream("GET", "/") as r:
        assert "".join(r.iter_text()) == text


def test_iter_text_uses_the_charset_of_the_response() -> None:
    body = "grüße".encode("latin-1")
    handler = lambda r: Response(  # noqa: E731
        200, headers={"content-type": "text/plain; charset=latin-1"}, content=body
    )
    with Client("http://api.test", transport=mock(handler)) as c, c.stream("GET", "/") as r:
        assert r.encoding == "latin-1"
        assert "".join(r.iter_text()) == "grüße"


def test_iter_lines_splits_on_every_line_break() -> None:
    body = b"one\ntwo\r\nthree\rfour"
    with (
        Client("http://api.test", transport=mock(lambda r: Response(200, content=body))) as c,
        c.stream("GET", "/") as response,
    ):
        assert list(response.iter_lines()) == ["one", "two", "three", "four"]


def test_iter_events_parses_server_sent_events() -> None:
    handler = lambda r: Response(  # noqa: E731
        200, headers={"content-type": "text/event-stream"}, content=SSE_BODY
    )
    with Client("http://api.test", transport=mock(handler)) as c, c.stream("GET", "/") as r:
        events = list(r.iter_events())
    assert [(e.event, e.data, e.id) for e in events] == [
        ("tick", '{"n": 1}', "1"),
        ("message", "two\nlines", "1"),
        ("message", "cr", "1"),
    ]
    assert events[0].json() == {"n": 1}
    assert events[2].retry == 10


def test_read_keeps_the_body_and_json_parses_it() -> None:
    body = json.dumps({"a": [1, 2]}).encode()
    with (
        Client("http://api.test", transport=mock(lambda r: Response(200, content=body))) as c,
        c.stream("GET", "/") as response,
    ):
        assert response.json() == {"a": [1, 2]}
        assert response.read() == body  # kept: the same bytes again
        assert response.response.content == body


def test_a_body_can_be_iterated_once() -> None:
    with (
        Client("http://api.test", transport=mock(lambda r: Response(200, content=b"x"))) as c,
        c.stream("GET", "/") as response,
    ):
        assert list(response.iter_bytes()) == [b"x"]
        with pytest.raises(StreamClosedError):
            list(response.iter_bytes())
        with c.stream("GET", "/") as response:
            response.close()
            with pytest.raises(StreamClosedError):
                response.read()


def test_read_past_max_response_size_raises() -> None:
    body = b"x" * 200_000
    transport = mock(lambda r: Response(200, content=body))
    with (
        Client("http://api.test", transport=transport, max_response_size=100_000) as c,
        c.stream("GET", "/") as response,
    ):
        with pytest.raises(ResponseTooLargeError):
            response.read()
        assert response.is_closed


def test_error_statuses_raise_before_the_hand_over_with_the_body_parsed() -> None:
    body = json.dumps({"error": {"message": "no such model"}}).encode()
    sent: list[Request] = []

    def handler(request: Request) -> Response:
        sent.append(request)
        return Response(404, content=body)

    with Client("http://api.test", transport=mock(handler)) as c:
        streamed = c.stream("GET", "/models/x")
        assert sent == []  # the call is made on entering the block
        with pytest.raises(NotFoundError) as info, streamed:
            pass
    assert len(sent) == 1
    assert "no such model" in str(info.value)
    assert info.value.attempts == 1


def test_retries_happen_before_the_hand_over() -> None:
    statuses = [503, 503, 200]
    transport = mock(lambda r: Response(statuses.pop(0), content=b"ok"))
    with (
        Client("http://api.test", transport=transport, sleep=lambda _: None) as c,
        c.stream("GET", "/") as response,
    ):
        assert response.attempts == 3
        assert response.read() == b"ok"


def test_an_unclosed_stream_response_warns_when_collected() -> None:
    clock = Clock()
    transport = ScriptedTransport([(200, {}, [b"a", b"b"])], clock)
    client = sync_client(transport, clock)
    streamed = client.stream("GET", "/")
    response = streamed.__enter__()  # entered, and never left
    assert next(response.iter_bytes()) == b"a"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del response, streamed
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in caught)


# -- over a scripted streaming transport ------------------------------------------------


def test_streamed_pieces_are_read_with_the_read_timeout() -> None:
    clock = Clock()
    transport = ScriptedTransport([(200, {}, [b"a", b"b", b"c"])], clock, cost=0.5)
    with (
        sync_client(transport, clock, timeout=Timeout(10.0, read=3.0)) as client,
        client.stream("GET", "/") as response,
    ):
        assert b"".join(response.iter_bytes()) == b"abc"
    assert transport.streams[0].timeouts == [3.0, 3.0, 3.0, 3.0]


def test_the_total_deadline_bounds_the_body_reads() -> None:
    clock = Clock()
    pieces: list[bytes | Exception] = [b"x"] * 100
    transport = ScriptedTransport([(200, {}, pieces)], clock, cost=1.0)
    with (
        sync_client(transport, clock, timeout=Timeout(10.0, read=3.0, total=5.5)) as client,
        client.stream("GET", "/") as response,
    ):
        got: list[bytes] = []
        pieces_read = response.iter_bytes()
        with pytest.raises(DeadlineExceeded) as info:
            got.extend(pieces_read)
        assert response.is_closed
    # 1 s per read: five whole reads fit in 5.5 s; the sixth may only wait what is left.
    assert got == [b"x"] * 5
    timeouts = transport.streams[0].timeouts
    assert timeouts[:3] == [3.0, 3.0, 3.0]
    assert timeouts[-1] == pytest.approx(0.5)
    assert info.value.attempts == 1
    assert transport.streams[0].closed


def test_a_read_error_mid_body_carries_the_attempts() -> None:
    clock = Clock()
    broken = ReadError("connection reset")
    transport = ScriptedTransport([(503, {}, []), (200, {}, [b"a", broken])], clock, cost=0.0)
    with (
        sync_client(transport, clock) as client,
        client.stream("GET", "/") as response,
        pytest.raises(ReadError) as info,
    ):
        list(response.iter_bytes())
    assert info.value.attempts == 2
    assert transport.streams[0].closed  # the 503's body was read and closed


def test_an_error_body_that_is_too_large_raises_response_too_large() -> None:
    clock = Clock()
    transport = ScriptedTransport([(500, {}, [b"e" * 60, b"e" * 60])], clock)
    with (
        sync_client(transport, clock, max_retries=0, max_response_size=100) as client,
        pytest.raises(ResponseTooLargeError),
        client.stream("GET", "/"),
    ):
        pass
    assert transport.streams[0].closed


def test_a_retried_503_is_named_in_the_error_when_retries_run_out() -> None:
    clock = Clock()
    transport = ScriptedTransport([(503, {}, [b"busy"])] * 3, clock)
    with (
        sync_client(transport, clock, max_retries=2) as client,
        pytest.raises(InternalServerError) as info,
        client.stream("GET", "/"),
    ):
        pass
    assert info.value.attempts == 3
    assert all(s.closed for s in transport.streams)


# -- AsyncClient ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_stream_pieces_lines_and_events() -> None:
    handler = lambda r: Response(200, content=SSE_BODY)  # noqa: E731
    async with AsyncClient("http://api.test", transport=mock(handler)) as client:
        async with client.stream("GET", "/") as response:
            events = [e async for e in response.aiter_events()]
        assert [e.data for e in events] == ['{"n": 1}', "two\nlines", "cr"]
        async with client.stream("GET", "/") as response:
            lines = [line async for line in response.aiter_lines()]
        assert lines[:3] == [": hello", "", "event: tick"]
        async with client.stream("GET", "/") as response:
            assert await response.aread() == SSE_BODY
            assert await response.aread() == SSE_BODY
            with pytest.raises(StreamClosedError):
                [p async for p in response.aiter_bytes()]


@pytest.mark.anyio
async def test_async_error_status_raises_before_the_hand_over() -> None:
    transport = mock(lambda r: Response(404, content=b'{"error": {"message": "gone"}}'))
    async with AsyncClient("http://api.test", transport=transport) as client:
        with pytest.raises(NotFoundError, match="gone"):
            async with client.stream("GET", "/"):
                raise AssertionError("not reached")


@pytest.mark.anyio
async def test_async_total_deadline_bounds_the_body_reads() -> None:
    clock = Clock()
    pieces: list[bytes | Exception] = [b"x"] * 100
    transport = ScriptedTransport([(200, {}, pieces)], clock, cost=1.0, asynchronous=True)
    client = async_client(transport, clock, timeout=Timeout(10.0, read=3.0, total=5.5))
    async with client, client.stream("GET", "/") as response:
        got: list[bytes] = []

        async def collect() -> None:
            async for piece in response.aiter_bytes():
                got.append(piece)

        with pytest.raises(DeadlineExceeded):
            await collect()
    assert got == [b"x"] * 5
    assert transport.streams[0].timeouts[-1] == pytest.approx(0.5)
    assert transport.streams[0].closed


@pytest.mark.anyio
async def test_async_retry_then_stream_closes_every_body() -> None:
    clock = Clock()
    transport = ScriptedTransport(
        [(502, {}, [b"bad gateway"]), (200, {}, [b"a", b"b"])], clock, asynchronous=True
    )
    async with async_client(transport, clock) as client, client.stream("GET", "/") as response:
        assert [p async for p in response.aiter_bytes()] == [b"a", b"b"]
        assert response.attempts == 2
    assert all(s.closed for s in transport.streams)


@pytest.mark.anyio
async def test_async_leaving_the_block_early_closes_the_stream() -> None:
    clock = Clock()
    transport = ScriptedTransport([(200, {}, [b"a", b"b"])], clock, asynchronous=True)
    async with async_client(transport, clock) as client, client.stream("GET", "/") as response:
        async for _ in response.aiter_bytes():
            break
    assert transport.streams[0].closed
