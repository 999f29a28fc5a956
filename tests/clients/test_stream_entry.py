"""``stream`` behaves the same on both clients: the call is made on entering the block,
bad input raises at ``stream(...)``, and a result used without the block says so."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from sdk_core import InvalidRequestError, NotFoundError, Request, Response
from sdk_transports import AsyncClient, Client, MockTransport

BASE = "https://api.example.test"


class Recorder:
    """A handler that answers ``status`` and records what it was sent."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.sent: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.sent.append(request)
        return Response(self.status, content=b"body")


def test_sync_stream_sends_nothing_until_the_block_is_entered() -> None:
    handler = Recorder()
    with Client(BASE, transport=MockTransport(handler)) as client:
        streamed = client.stream("GET", "/a")
        assert handler.sent == []
        with streamed as response:
            assert len(handler.sent) == 1
            assert response.read() == b"body"
        assert response.is_closed


def test_sync_stream_raises_an_error_status_on_entering() -> None:
    handler = Recorder(404)
    with Client(BASE, transport=MockTransport(handler), max_retries=0) as client:
        streamed = client.stream("GET", "/a")
        with pytest.raises(NotFoundError), streamed:
            pytest.fail("the block does not run")
    assert len(handler.sent) == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"headers": {"x-bad": "a\r\nb"}}, InvalidRequestError), ({"parms": 1}, TypeError)],
)
def test_sync_stream_raises_bad_input_at_the_call(kwargs: dict[str, Any], error: type) -> None:
    handler = Recorder()
    with Client(BASE, transport=MockTransport(handler)) as client, pytest.raises(error):
        client.stream("GET", "/a", **kwargs)
    assert handler.sent == []


def test_sync_stream_used_without_with_says_how_to_use_it() -> None:
    handler = Recorder()
    with Client(BASE, transport=MockTransport(handler)) as client:
        streamed: Any = client.stream("GET", "/a")
        with pytest.raises(AttributeError, match=r"with client\.stream\(\.\.\.\) as response"):
            streamed.read()
        with pytest.raises(AttributeError, match="no 'status_code'"):
            _ = streamed.status_code
    assert handler.sent == []


def test_sync_stream_can_be_entered_once() -> None:
    with Client(BASE, transport=MockTransport(Recorder())) as client:
        streamed = client.stream("GET", "/a")
        with streamed:
            pass
        with pytest.raises(RuntimeError, match="only once"), streamed:
            pytest.fail("the block does not run")


def _async_recorder_client(handler: Recorder, **kwargs: Any) -> AsyncClient:
    return AsyncClient(BASE, transport=MockTransport(handler), **kwargs)


@pytest.mark.anyio
async def test_async_stream_sends_nothing_until_the_block_is_entered() -> None:
    handler = Recorder()
    async with _async_recorder_client(handler) as client:
        streamed = client.stream("GET", "/a")
        assert handler.sent == []
        async with streamed as response:
            assert len(handler.sent) == 1
            assert await response.aread() == b"body"
        assert response.is_closed


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"headers": {"x-bad": "a\r\nb"}}, InvalidRequestError), ({"parms": 1}, TypeError)],
)
async def test_async_stream_raises_bad_input_at_the_call(
    kwargs: dict[str, Any], error: type
) -> None:
    handler = Recorder()
    async with _async_recorder_client(handler) as client:
        with pytest.raises(error):
            client.stream("GET", "/a", **kwargs)
    assert handler.sent == []


@pytest.mark.anyio
async def test_async_stream_awaited_or_used_without_async_with_says_how_to_use_it() -> None:
    handler = Recorder()
    async with _async_recorder_client(handler) as client:
        streamed: Any = client.stream("GET", "/a")
        # Not an awaitable (code that awaits whatever is awaitable leaves it alone);
        # awaiting it anyway is Python's own TypeError.
        assert not inspect.isawaitable(streamed)
        with pytest.raises(TypeError, match="can't be used in 'await' expression"):
            await streamed
        with pytest.raises(AttributeError, match=r"async with client\.stream"):
            streamed.aiter_bytes()
        async with streamed as response:  # still usable the right way
            assert await response.aread() == b"body"
    assert len(handler.sent) == 1


@pytest.mark.anyio
async def test_async_stream_can_be_entered_once() -> None:
    async with _async_recorder_client(Recorder()) as client:
        streamed = client.stream("GET", "/a")
        async with streamed:
            pass
        with pytest.raises(RuntimeError, match="only once"):
            async with streamed:
                pytest.fail("the block does not run")
