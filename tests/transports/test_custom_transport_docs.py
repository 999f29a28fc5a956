"""The example transports of docs/transports.md, run as they are written there.

The ``python`` blocks of its "Writing your own transport" section are read from the
markdown at test time and run in one namespace; ``MyTransport`` (httpcore's
``ConnectionPool``) then serves ``Client`` and ``MyAsyncTransport`` (its
``AsyncConnectionPool``) serves ``AsyncClient`` on asyncio and trio, against a local
hypercorn server whose routes answer gzip. A transport built from the docs must send the
Host (h11 refuses a request without one), hand over the body decoded within its bound,
and raise the core's errors.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from sdk_core import ConnectError, Response, ResponseTooLargeError
from sdk_transports import AsyncClient, AsyncTransport, Client, Transport
from sdk_transports.testing import ServerHandle, run_server
from sdk_transports.testing._scenario_app import Receive, Scope, Send

DOCS = Path(__file__).parents[2] / "docs" / "transports.md"
SECTION = "## Writing your own transport"
SMALL_LIMIT = 64 * 1024
BOMB = gzip.compress(b"\0" * (4 * 1024 * 1024))


def docs_code() -> str:
    """The section's python blocks, in order, exactly as written."""
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    blocks = re.findall(r"^```python\n(.*?)^```$", text[start:end], re.DOTALL | re.MULTILINE)
    assert len(blocks) == 2, "the section shows a sync and an async transport"
    return "\n\n".join(blocks)


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "transports_md_example"}
    exec(compile(docs_code(), str(DOCS), "exec"), namespace)  # the docs' own code
    return namespace


class GzipApp:
    """``/echo``: what the server received, as gzip-encoded JSON. ``/bomb``: 4 MiB of
    zeros, gzip-encoded (4 KiB on the wire). ``/plain``: the same JSON, not encoded."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rpartition(".")[2]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        received = {
            "method": scope["method"],
            "path": scope["path"],
            "host": [value for name, value in headers if name.lower() == "host"],
            "accept_encoding": dict(headers).get("accept-encoding"),
            "body": body.decode(),
        }
        plain = json.dumps(received).encode()
        if scope["path"].endswith("/bomb"):
            content, encoding = BOMB, [(b"content-encoding", b"gzip")]
        elif scope["path"].endswith("/plain"):
            content, encoding = plain, []
        else:
            content, encoding = gzip.compress(plain), [(b"content-encoding", b"gzip")]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                    *encoding,
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle[GzipApp]]:
    with run_server(GzipApp()) as handle:
        yield handle


def check_echo(response: Response, server: ServerHandle[GzipApp], method: str, body: Any) -> None:
    received = response.json()  # decoded by the transport: the client does not decode
    assert received["method"] == method
    assert received["path"] == "/v1/echo"
    assert received["host"] == [server.url.removeprefix("http://")]
    assert "gzip" in received["accept_encoding"]
    assert (json.loads(received["body"]) if received["body"] else None) == body
    assert response.headers.first("content-encoding") == "gzip"


def test_the_sync_example_through_client(
    example: dict[str, Any], server: ServerHandle[GzipApp], closed_port_url: str
) -> None:
    transport = example["MyTransport"](max_response_size=SMALL_LIMIT)
    assert isinstance(transport, Transport)
    with Client(server.url + "/v1", transport=transport, max_retries=0) as client:
        check_echo(client.get("/echo"), server, "GET", None)
        check_echo(client.post("/echo", json={"a": 1}), server, "POST", {"a": 1})
        assert client.get("/plain").json()["path"] == "/v1/plain"
        streamed = client.post("/echo", content=iter([b'{"a":', b" 2}"]))  # goes chunked
        check_echo(streamed, server, "POST", {"a": 2})
        with pytest.raises(ResponseTooLargeError) as too_large:
            client.get("/bomb")
        assert str(too_large.value).endswith(f"(GET {server.url}/v1/bomb, 1 attempt)")
        stats = client.statistics()
        assert (stats.in_use, stats.waiting) == (0, 0)
    refused = example["MyTransport"]()
    with (
        Client(closed_port_url, transport=refused, max_retries=0) as client,
        pytest.raises(ConnectError) as caught,
    ):
        client.get("/v1/x", params={"token": "zQ-not-shown-anywhere"})
    assert str(caught.value).endswith(f"(GET {closed_port_url}/v1/x?token=[redacted], 1 attempt)")


@pytest.mark.anyio
async def test_the_async_example_through_async_client(
    example: dict[str, Any], server: ServerHandle[GzipApp], closed_port_url: str
) -> None:
    transport = example["MyAsyncTransport"](max_response_size=SMALL_LIMIT)
    assert isinstance(transport, AsyncTransport)
    with anyio.fail_after(30):
        async with AsyncClient(server.url + "/v1", transport=transport, max_retries=0) as client:
            check_echo(await client.get("/echo"), server, "GET", None)
            check_echo(await client.post("/echo", json={"a": 1}), server, "POST", {"a": 1})
            assert (await client.get("/plain")).json()["path"] == "/v1/plain"
            with pytest.raises(ResponseTooLargeError):
                await client.get("/bomb")
            stats = client.statistics()
            assert (stats.in_use, stats.waiting) == (0, 0)
        refused = example["MyAsyncTransport"]()
        async with AsyncClient(closed_port_url, transport=refused, max_retries=0) as client:
            with pytest.raises(ConnectError) as caught:
                await client.get("/v1/x")
    assert str(caught.value).endswith(f"(GET {closed_port_url}/v1/x, 1 attempt)")
