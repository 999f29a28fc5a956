"""A Content-Encoding sent as two header lines (RFC 9110 5.3: one list, in order) is
undone whole, on every transport, read whole or streamed: gzip applied twice and
named on two lines comes back as the original bytes, not as gzip."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sdk_transports import (
    AnyioTransport,
    AsyncClient,
    AsyncHttpcoreTransport,
    Client,
    HttpcoreTransport,
    SocketTransport,
)
from sdk_transports.testing import FaultServer, read_request, respond

ORIGINAL = b'{"ok":true,"padding":"' + b"x" * 4000 + b'"}'
TWICE = gzip.compress(gzip.compress(ORIGINAL))
SPLIT = [
    ("Content-Type", "application/json"),
    ("Content-Encoding", "gzip"),
    ("Content-Encoding", "gzip"),
]
SYNC: dict[str, Callable[[], Any]] = {"socket": SocketTransport, "httpcore": HttpcoreTransport}
ASYNC: dict[str, Callable[[], Any]] = {"anyio": AnyioTransport, "httpcore": AsyncHttpcoreTransport}


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        fault_server.script(read_request(), respond(200, TWICE, SPLIT))
        yield fault_server


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("name", list(SYNC))
def test_sync_split_content_encoding(server: FaultServer, name: str, streamed: bool) -> None:
    with Client(server.url, transport=SYNC[name](), max_retries=0) as client:
        if streamed:
            with client.stream("GET", "/") as response:
                body = b"".join(response.iter_bytes())
        else:
            body = client.get("/").content
    assert body == ORIGINAL


@pytest.mark.anyio
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("name", list(ASYNC))
async def test_async_split_content_encoding(server: FaultServer, name: str, streamed: bool) -> None:
    async with AsyncClient(server.url, transport=ASYNC[name](), max_retries=0) as client:
        if streamed:
            async with client.stream("GET", "/") as response:
                body = b"".join([piece async for piece in response.aiter_bytes()])
        else:
            body = (await client.get("/")).content
    assert body == ORIGINAL
