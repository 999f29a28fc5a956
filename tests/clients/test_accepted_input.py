"""What the clients accept reaches the server as meant, on every network transport and
loop: param pairs, every kind of ``content``, an infinite or huge timeout,
``timeout=None`` per call, international host names, and a default header removed with
None."""

from __future__ import annotations

import io
import json
import math
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from _network_transports import ASYNC_TRANSPORTS, SYNC_TRANSPORTS, TimeoutRecorder, recorder
from _support.raw_server import RawServer

from sdk_core import InvalidRequestError, Request, Response, Timeout
from sdk_core.lowlevel import MAX_TIMEOUT
from sdk_transports import AsyncClient, Client, MockTransport
from sdk_transports.testing import ScenarioApp, ServerHandle

Server = ServerHandle[ScenarioApp]

PAIRS: list[tuple[str, Any]] = [("a", "1"), ("a", 2), ("b", True), ("c", None), ("d", [1.5, "x y"])]
PAIRS_QUERY = "a=1&a=2&b=true&d=1.5&d=x+y"


def test_client_sends_a_list_of_param_pairs() -> None:
    transport, seen = recorder()
    with Client("https://api.example.test/v1?k=0", transport=transport) as client:
        client.get("/items", params=PAIRS)
        client.get("/items", params=tuple(PAIRS))
        client.get("/items", params={"filter": {"state": "open"}})
    assert [r.url.target for r in seen] == [
        f"/v1/items?k=0&{PAIRS_QUERY}",
        f"/v1/items?k=0&{PAIRS_QUERY}",
        "/v1/items?k=0&filter%5Bstate%5D=open",
    ]


@pytest.mark.anyio
async def test_async_client_sends_a_list_of_param_pairs() -> None:
    transport, seen = recorder()
    async with AsyncClient("https://api.example.test/v1", transport=transport) as client:
        await client.get("/items", params=PAIRS)
    assert seen[0].url.target == f"/v1/items?{PAIRS_QUERY}"


# ---------------------------------------------------------------------------------------
# Item 6: every kind of content reaches the server intact


def generated() -> Iterator[bytes]:
    yield b"gen-"
    yield b"erated"


async def agenerated() -> AsyncIterator[bytes]:
    yield b"async-"
    yield b"body"


BODY = bytes(range(256)) * 600  # 150 KiB: more than one file read


def content_cases() -> dict[str, tuple[Callable[[], Any], bytes]]:
    """(make the content, the bytes it sends) by kind, for either client."""
    return {
        "bytes": (lambda: b"plain bytes", b"plain bytes"),
        "bytearray": (lambda: bytearray(b"ba"), b"ba"),
        "memoryview": (lambda: memoryview(b"mv"), b"mv"),
        "str": (lambda: "héllo ☃", "héllo ☃".encode()),
        "list": (lambda: [b"li", b"st"], b"list"),
        "generator": (generated, b"gen-erated"),
        "file": (lambda: io.BytesIO(BODY), BODY),
        "lines-file": (lambda: io.BytesIO(b"line1\nline2\n"), b"line1\nline2\n"),
    }


def content_params(transports: dict[str, Callable[[], Any]], kinds: list[str]) -> list[Any]:
    return [
        pytest.param(transport, kind, id=f"{transport}-{kind}")
        for transport in transports
        for kind in kinds
    ]


@pytest.mark.parametrize(
    ("transport", "kind"), content_params(SYNC_TRANSPORTS, list(content_cases()))
)
def test_client_sends_every_kind_of_content(
    transport_server: Server, transport: str, kind: str
) -> None:
    make, expected = content_cases()[kind]
    with Client(
        transport_server.url, transport=SYNC_TRANSPORTS[transport](), max_retries=0
    ) as client:
        response = client.post("/echo", content=make())
    body = json.loads(response.content)["body"]
    assert body == expected.decode("utf-8", "replace")


ASYNC_KINDS = [*content_cases(), "async-generator"]


@pytest.mark.anyio
@pytest.mark.parametrize(("transport", "kind"), content_params(ASYNC_TRANSPORTS, ASYNC_KINDS))
async def test_async_client_sends_every_kind_of_content(
    transport_server: Server, transport: str, kind: str
) -> None:
    cases = {**content_cases(), "async-generator": (agenerated, b"async-body")}
    make, expected = cases[kind]
    async with AsyncClient(
        transport_server.url, transport=ASYNC_TRANSPORTS[transport](), max_retries=0
    ) as client:
        response = await client.post("/echo", content=make())
    body = json.loads(response.content)["body"]
    assert body == expected.decode("utf-8", "replace")


class ReadRecorder(io.RawIOBase):
    """A binary file that records the size of every read and refuses to be iterated."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.reads: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.reads.append(size)
        return self._data.read(size)

    def __iter__(self) -> Iterator[bytes]:
        raise AssertionError("a content file is read in pieces, never by lines")


def test_a_content_file_is_read_in_pieces_and_reaches_the_transport_as_bytes() -> None:
    transport, seen = recorder()
    file = ReadRecorder(b"x" * 150_000)
    with Client("https://api.example.test", transport=transport) as client:
        client.post("/up", content=file)
        assert b"".join(seen[0].content) == b"x" * 150_000  # type: ignore[arg-type]
    assert file.reads == [65536, 65536, 65536, 65536]


class NonBlockingFile(io.RawIOBase):
    """A non-blocking raw file with nothing ready: ``read`` answers None, not b""."""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> None:
        return None


def test_a_non_blocking_content_file_is_refused_not_taken_for_its_end() -> None:
    def handler(request: Request) -> Response:
        b"".join(request.content)  # type: ignore[arg-type]  # read as a transport does
        return Response(200)

    client = Client("https://api.example.test", transport=MockTransport(handler))
    with client, pytest.raises(InvalidRequestError, match="non-blocking"):
        client.post("/up", content=NonBlockingFile())


@pytest.mark.parametrize("huge", [-(10**5000), 10**5000], ids=["negative", "positive"])
def test_a_huge_int_timeout_gets_a_typed_error_or_is_clamped(huge: int) -> None:
    transport, seen = recorder()
    with Client("https://api.example.test", transport=transport) as client:
        if huge < 0:
            with pytest.raises(InvalidRequestError, match="negative int of over 64 bits"):
                client.get("/", timeout=huge)
            assert seen == []
        else:
            client.get("/", timeout=huge)
            assert len(seen) == 1


@pytest.mark.anyio
async def test_async_client_adapts_sync_content_to_an_async_iterator() -> None:
    """AsyncClient hands a transport bytes or an async iterable only."""
    received: list[bytes] = []

    async def handler(request: Request) -> Response:
        content = request.content
        assert isinstance(content, bytes) or hasattr(content, "__aiter__")
        if isinstance(content, bytes):
            received.append(content)
        else:
            received.append(b"".join([chunk async for chunk in content]))
        return Response(200)

    file = ReadRecorder(b"y" * 70_000)
    async with AsyncClient("https://api.example.test", transport=MockTransport(handler)) as client:
        await client.post("/up", content=file)
        await client.post("/up", content=[b"a", b"b"])
        await client.post("/up", content=generated())
        await client.post("/up", content="text")
    assert received == [b"y" * 70_000, b"ab", b"gen-erated", b"text"]
    assert file.reads == [65536, 65536, 65536]


# ---------------------------------------------------------------------------------------
# Item 7: an infinite or huge timeout works on every transport and loop


TIMEOUTS: dict[str, Any] = {
    "inf": math.inf,
    "1e300": 1e300,
    "10**400": 10**400,
    # Past 2**31 ms a blocking socket's timeout wraps (to about 0.5 s here): the clamp that
    # keeps it below is tested in tests/core; here it must simply work.
    "past-the-socket-wrap": 4294967.8,
    "read-inf-total-inf": Timeout(5.0, read=math.inf, total=math.inf),
    "phases-1e10-total-1e300": Timeout(1e10, total=1e300),
}


@pytest.mark.parametrize("timeout", list(TIMEOUTS))
@pytest.mark.parametrize("transport", list(SYNC_TRANSPORTS))
def test_client_takes_an_infinite_or_huge_timeout(
    raw: RawServer, transport: str, timeout: str
) -> None:
    for where in ("client", "call"):
        client_timeout = TIMEOUTS[timeout] if where == "client" else 5.0
        with Client(
            raw.url, transport=SYNC_TRANSPORTS[transport](), timeout=client_timeout
        ) as client:
            kwargs: dict[str, Any] = {"timeout": TIMEOUTS[timeout]} if where == "call" else {}
            assert client.get("/k", **kwargs).status_code == 200
            with client.stream("GET", "/k", **kwargs) as response:
                assert response.read() == b"ok"


@pytest.mark.anyio
@pytest.mark.parametrize("timeout", list(TIMEOUTS))
@pytest.mark.parametrize("transport", list(ASYNC_TRANSPORTS))
async def test_async_client_takes_an_infinite_or_huge_timeout(
    raw: RawServer, transport: str, timeout: str
) -> None:
    for where in ("client", "call"):
        client_timeout = TIMEOUTS[timeout] if where == "client" else 5.0
        async with AsyncClient(
            raw.url, transport=ASYNC_TRANSPORTS[transport](), timeout=client_timeout
        ) as client:
            kwargs: dict[str, Any] = {"timeout": TIMEOUTS[timeout]} if where == "call" else {}
            assert (await client.get("/k", **kwargs)).status_code == 200
            async with client.stream("GET", "/k", **kwargs) as response:
                assert await response.aread() == b"ok"


def test_a_transport_never_sees_an_infinite_or_overflowing_timeout() -> None:
    transport = TimeoutRecorder()
    with Client("https://api.example.test", transport=transport, timeout=math.inf) as client:
        client.get("/")
        client.get("/", timeout=10**400)
        client.get("/", timeout=Timeout(1.0, total=1e300))
    assert transport.timeouts == [
        Timeout(None),
        Timeout(MAX_TIMEOUT),
        Timeout(1.0, total=MAX_TIMEOUT).capped(MAX_TIMEOUT),
    ]


# ---------------------------------------------------------------------------------------
# Item 10: a per-call timeout=None means no limit, as in with_options


def test_a_per_call_timeout_of_none_removes_the_limit() -> None:
    transport = TimeoutRecorder()
    with Client("https://api.example.test", transport=transport, timeout=0.3) as client:
        client.get("/")  # the client's
        client.get("/", timeout=None)  # no limit for this call
        client.get("/", timeout=2.0)
        client.with_options(timeout=None).get("/")  # no limit either
        client.get("/", max_retries=None, follow_redirects=None, max_redirects=None)  # the client's
    assert transport.timeouts == [
        Timeout(0.3),
        Timeout(None),
        Timeout(2.0),
        Timeout(None),
        Timeout(0.3),
    ]


@pytest.mark.anyio
async def test_async_per_call_timeout_of_none_removes_the_limit() -> None:
    transport = TimeoutRecorder()
    async with AsyncClient("https://api.example.test", transport=transport, timeout=0.3) as client:
        await client.get("/", timeout=None)
        await client.with_options(timeout=None).get("/")
        await client.get("/")
    assert transport.timeouts == [Timeout(None), Timeout(None), Timeout(0.3)]


def test_a_per_call_max_retries_of_none_keeps_the_clients() -> None:
    attempts = []

    def handler(request: Request) -> Response:
        attempts.append(request)
        return Response(503)

    with (
        Client(
            "https://api.example.test",
            transport=MockTransport(handler),
            max_retries=1,
            sleep=lambda seconds: None,
        ) as client,
        pytest.raises(Exception, match="503"),
    ):
        client.get("/", max_retries=None)
    assert len(attempts) == 2


# ---------------------------------------------------------------------------------------
# Item 11: international host names


@pytest.mark.anyio
async def test_async_client_sends_an_international_host_as_idna_2008() -> None:
    transport, seen = recorder()
    async with AsyncClient("https://Königsgäßchen.de", transport=transport) as client:
        await client.get("/x")
        with pytest.raises(InvalidRequestError, match="international domain name"):
            await client.get("https://☃.com/x")
    assert [r.url.host for r in seen] == ["xn--knigsgchen-b4a3dun.de"]


def test_an_international_host_is_sent_as_idna_2008() -> None:
    transport, seen = recorder()
    with Client("https://faß.de/v1", transport=transport) as client:
        client.get("/x")
        client.get("https://βόλος.com/y")
    assert [r.url.host_header for r in seen] == ["xn--fa-hia.de", "xn--nxasmm1c.com"]
    with pytest.raises(InvalidRequestError, match="international domain name"):
        Client("https://☃.com")


# ---------------------------------------------------------------------------------------
# Item 17: a per-call header of None removes a default header


def head_lines(server: RawServer) -> list[bytes]:
    (head,) = server.requests
    return head.split(b"\r\n")[1:]


@pytest.mark.parametrize("transport", list(SYNC_TRANSPORTS))
def test_client_removes_a_default_header_given_none(raw: RawServer, transport: str) -> None:
    with Client(
        raw.url,
        transport=SYNC_TRANSPORTS[transport](),
        api_key="sk-test",
        default_headers={"X-Default": "1"},
    ) as client:
        client.get(
            "/k", headers={"User-Agent": None, "x-default": None, "X-Absent": None, "X-New": "n"}
        )
    names = [line.split(b":")[0].lower() for line in head_lines(raw)]
    assert b"user-agent" not in names
    assert b"x-default" not in names
    assert b"x-absent" not in names
    assert b"authorization" in names
    assert b"x-new: n" in [line.lower() for line in head_lines(raw)]


@pytest.mark.anyio
@pytest.mark.parametrize("transport", list(ASYNC_TRANSPORTS))
async def test_async_client_removes_a_default_header_given_none(
    raw: RawServer, transport: str
) -> None:
    async with AsyncClient(raw.url, transport=ASYNC_TRANSPORTS[transport]()) as client:
        await client.get("/k", headers={"User-Agent": None, "Authorization": None})
    names = [line.split(b":")[0].lower() for line in head_lines(raw)]
    assert b"user-agent" not in names
    assert b"accept" in names


def test_removal_applies_to_one_call_only_and_to_client_defaults() -> None:
    transport, seen = recorder()
    with Client(
        "https://api.example.test", transport=transport, default_headers={"Accept": None}
    ) as client:
        client.get("/", headers={"User-Agent": None})
        client.get("/")
        client.with_options(default_headers={"User-Agent": None}).get("/")
    assert ["user-agent" in r.headers for r in seen] == [False, True, False]
    assert not any("accept" in r.headers for r in seen)
