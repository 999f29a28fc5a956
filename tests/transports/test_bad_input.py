"""Bad input to ``Client`` and ``AsyncClient`` gets a typed error before anything is sent.

Each refusal is checked on every network transport (SocketTransport and
HttpcoreTransport; AnyioTransport and AsyncHttpcoreTransport on asyncio and trio)
against a raw socket server that counts the connections it accepted: a refused call
opens none. What is accepted (a list of param pairs, every kind of ``content``, an
infinite or huge timeout, a header removed with None) is checked on the wire.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import pytest
from _raw_server import RawServer, keep_alive, ok_response

from sdk_core import (
    CursorPaging,
    InvalidRequestError,
    PoolStatistics,
    Request,
    Response,
    RetryPolicy,
    Timeout,
)
from sdk_core._config import MAX_TIMEOUT
from sdk_transports import (
    AnyioTransport,
    AsyncClient,
    AsyncHttpcoreTransport,
    Client,
    HttpcoreTransport,
    MockTransport,
    SocketTransport,
)
from sdk_transports.testing import ScenarioApp, ServerHandle

Server = ServerHandle[ScenarioApp]
SYNC_TRANSPORTS: dict[str, Callable[[], Any]] = {
    "SocketTransport": SocketTransport,
    "HttpcoreTransport": HttpcoreTransport,
}
ASYNC_TRANSPORTS: dict[str, Callable[[], Any]] = {
    "AnyioTransport": AnyioTransport,
    "AsyncHttpcoreTransport": AsyncHttpcoreTransport,
}
SECRET = "zQsecret-TOPSECRET"


def deep_json(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


async def async_chunks() -> AsyncGenerator[bytes, None]:
    yield b"a"


#: (call id, method, path, keywords, error class, message pattern): each refused.
BAD_CALLS: list[tuple[str, str, str, dict[str, Any], type[Exception], str]] = [
    ("params-bytes", "GET", "/k", {"params": {"a": b"xy"}}, InvalidRequestError, "'a'.*bytes"),
    (
        "params-nested-list",
        "GET",
        "/k",
        {"params": {"a": [["x", "y"]]}},
        InvalidRequestError,
        "list inside a list",
    ),
    (
        "params-nan",
        "GET",
        "/k",
        {"params": {"a": math.nan}},
        InvalidRequestError,
        "NaN or infinite",
    ),
    (
        "params-inf",
        "GET",
        "/k",
        {"params": [("a", math.inf)]},
        InvalidRequestError,
        "NaN or infinite",
    ),
    ("params-object", "GET", "/k", {"params": {"a": object()}}, InvalidRequestError, "not object"),
    ("params-str", "GET", "/k", {"params": "a=1"}, InvalidRequestError, "mapping or a list"),
    ("params-triple", "GET", "/k", {"params": [("a", 1, 2)]}, InvalidRequestError, "pairs"),
    (
        "params-surrogate",
        "GET",
        "/k",
        {"params": {"a": "\ud800"}},
        InvalidRequestError,
        "surrogate",
    ),
    ("path-surrogate", "GET", "/k\udfff", {}, InvalidRequestError, "surrogate"),
    ("content-int", "POST", "/k", {"content": 5}, InvalidRequestError, "content must be.*not int"),
    ("content-dict", "POST", "/k", {"content": {"a": 1}}, InvalidRequestError, "json="),
    ("content-object", "POST", "/k", {"content": object()}, InvalidRequestError, "not object"),
    (
        "content-text-file",
        "POST",
        "/k",
        {"content": io.StringIO("x")},
        InvalidRequestError,
        "binary mode",
    ),
    ("content-surrogate", "POST", "/k", {"content": "\ud800"}, InvalidRequestError, "surrogate"),
    (
        "json-deep",
        "POST",
        "/k",
        {"json": deep_json(5000)},
        InvalidRequestError,
        "nested too deeply",
    ),
    ("json-nan", "POST", "/k", {"json": {"a": math.nan}}, InvalidRequestError, "cannot be encoded"),
    (
        "json-and-content",
        "POST",
        "/k",
        {"json": {}, "content": b"x"},
        InvalidRequestError,
        "either json or content",
    ),
    ("timeout-negative", "GET", "/k", {"timeout": -1}, InvalidRequestError, "timeout must be"),
    ("timeout-str", "GET", "/k", {"timeout": "5"}, InvalidRequestError, "timeout must be.*not str"),
    ("timeout-nan", "GET", "/k", {"timeout": math.nan}, InvalidRequestError, "timeout must be"),
    (
        "max-retries-str",
        "GET",
        "/k",
        {"max_retries": "2"},
        InvalidRequestError,
        "max_retries must be",
    ),
    (
        "max-retries-negative",
        "GET",
        "/k",
        {"max_retries": -1},
        InvalidRequestError,
        "max_retries must be",
    ),
    (
        "idempotency-empty",
        "POST",
        "/k",
        {"idempotency_key": ""},
        InvalidRequestError,
        "non-empty str",
    ),
    (
        "idempotency-blank",
        "POST",
        "/k",
        {"idempotency_key": "  "},
        InvalidRequestError,
        "non-empty str",
    ),
    (
        "idempotency-crlf",
        "POST",
        "/k",
        {"idempotency_key": "a\r\nX-Evil: 1"},
        InvalidRequestError,
        "cannot hold",
    ),
    ("idempotency-int", "POST", "/k", {"idempotency_key": 5}, InvalidRequestError, "non-empty str"),
    (
        "follow-str",
        "GET",
        "/k",
        {"follow_redirects": "no"},
        InvalidRequestError,
        "follow_redirects must be True or False",
    ),
    (
        "follow-int",
        "GET",
        "/k",
        {"follow_redirects": 0},
        InvalidRequestError,
        "follow_redirects must be",
    ),
    (
        "max-redirects-bool",
        "GET",
        "/k",
        {"max_redirects": True},
        InvalidRequestError,
        "max_redirects must be",
    ),
    (
        "header-crlf",
        "GET",
        "/k",
        {"headers": {"X-A": "1\r\nX-Evil: 1"}},
        InvalidRequestError,
        "control character",
    ),
    ("header-int", "GET", "/k", {"headers": {"X-A": 5}}, InvalidRequestError, "str value"),
    ("headers-str", "GET", "/k", {"headers": "X-A: 1"}, InvalidRequestError, "mapping or"),
    ("headers-triple", "GET", "/k", {"headers": [("X-A", "1", "2")]}, InvalidRequestError, "pairs"),
    ("host-snowman", "GET", "http://☃.com/x", {}, InvalidRequestError, "international domain name"),
    ("host-emoji", "GET", "http://😇/x", {}, InvalidRequestError, "international domain name"),
    ("misspelt", "GET", "/k", {"parms": {"a": 1}}, TypeError, "did you mean 'params'"),
]
BAD_IDS = [case[0] for case in BAD_CALLS]


@pytest.fixture
def raw() -> Iterator[RawServer]:
    """A raw server that answers 200 to everything and counts what it accepted."""
    with RawServer(keep_alive(ok_response())) as server:
        yield server


def assert_nothing_reached(server: RawServer) -> None:
    assert server.connections == 0
    assert server.requests == []


@pytest.mark.parametrize("transport", list(SYNC_TRANSPORTS))
@pytest.mark.parametrize(
    ("name", "method", "path", "kwargs", "error", "match"), BAD_CALLS, ids=BAD_IDS
)
def test_client_refuses_before_connecting(
    raw: RawServer,
    transport: str,
    name: str,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    with Client(raw.url, transport=SYNC_TRANSPORTS[transport]()) as client:
        with pytest.raises(error, match=match):
            client.request(method, path, **kwargs)
        with pytest.raises(error, match=match), client.stream(method, path, **kwargs):
            pass
    assert_nothing_reached(raw)


@pytest.mark.anyio
@pytest.mark.parametrize("transport", list(ASYNC_TRANSPORTS))
@pytest.mark.parametrize(
    ("name", "method", "path", "kwargs", "error", "match"), BAD_CALLS, ids=BAD_IDS
)
async def test_async_client_refuses_before_connecting(
    raw: RawServer,
    transport: str,
    name: str,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    async with AsyncClient(raw.url, transport=ASYNC_TRANSPORTS[transport]()) as client:
        with pytest.raises(error, match=match):
            await client.request(method, path, **kwargs)
        with pytest.raises(error, match=match):
            async with client.stream(method, path, **kwargs):
                pass
    assert_nothing_reached(raw)


@pytest.mark.parametrize("transport", list(SYNC_TRANSPORTS))
def test_client_refuses_an_async_iterable_before_connecting(raw: RawServer, transport: str) -> None:
    body = async_chunks()
    with (
        Client(raw.url, transport=SYNC_TRANSPORTS[transport]()) as client,
        pytest.raises(InvalidRequestError, match=r"async iterable.*use AsyncClient"),
    ):
        client.post("/k", content=body)
    assert_nothing_reached(raw)
    anyio.run(body.aclose)


def test_a_refused_secret_is_never_echoed() -> None:
    client = Client("https://api.example.test", transport=MockTransport(lambda r: Response(200)))
    for kwargs in (
        {"params": {"token": SECRET.encode()}},
        {"params": {"token": [[SECRET]]}},
        {"idempotency_key": SECRET + "\n"},
        {"headers": {"Authorization": SECRET + "\r\n"}},
    ):
        with pytest.raises(InvalidRequestError) as caught:
            client.get("/k", **kwargs)
        assert "zQ" not in str(caught.value)
        assert caught.value.__context__ is None or "zQ" not in str(caught.value.__context__)


# ---------------------------------------------------------------------------------------
# Item 5: params


def recorder() -> tuple[MockTransport, list[Request]]:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(200, content=b"{}")

    return MockTransport(handler), seen


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


class TimeoutRecorder:
    """A transport that records the timeout of every attempt."""

    def __init__(self) -> None:
        self.timeouts: list[Timeout] = []

    def handle_request(self, request: Request, timeout: Timeout) -> Response:
        self.timeouts.append(timeout)
        return Response(200, request=request)

    async def handle_async_request(self, request: Request, timeout: Timeout) -> Response:
        return self.handle_request(request, timeout)

    def statistics(self) -> PoolStatistics:
        return PoolStatistics()

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


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
# Item 8: a misspelt keyword names the method and the closest keyword


def never_called(request: Request) -> Response:
    raise AssertionError("nothing may be sent")


SYNC_ENTRY_POINTS: dict[str, Callable[..., Any]] = {
    "request": lambda c, **kw: c.request("GET", "/k", **kw),
    "get": lambda c, **kw: c.get("/k", **kw),
    "post": lambda c, **kw: c.post("/k", **kw),
    "put": lambda c, **kw: c.put("/k", **kw),
    "patch": lambda c, **kw: c.patch("/k", **kw),
    "delete": lambda c, **kw: c.delete("/k", **kw),
    "stream": lambda c, **kw: c.stream("GET", "/k", **kw).__enter__(),
    "paginate": lambda c, **kw: c.paginate("GET", "/k", CursorPaging(), **kw),
}


@pytest.mark.parametrize("method", list(SYNC_ENTRY_POINTS))
@pytest.mark.parametrize(
    ("keyword", "hint"),
    [
        ("parms", "; did you mean 'params'?"),
        ("jsn", "; did you mean 'json'?"),
        ("time_out", "; did you mean 'timeout'?"),
        ("idempotency", "; did you mean 'idempotency_key'?"),
        ("zzz", ""),
    ],
)
def test_client_names_the_method_and_the_closest_keyword(
    method: str, keyword: str, hint: str
) -> None:
    with (
        Client("https://api.example.test", transport=MockTransport(never_called)) as client,
        pytest.raises(TypeError) as caught,
    ):
        SYNC_ENTRY_POINTS[method](client, **{keyword: 1})
    assert str(caught.value) == (
        f"Client.{method}() got an unexpected keyword argument {keyword!r}{hint}"
    )


def test_paginate_suggests_max_pages() -> None:
    with (
        Client("https://api.example.test", transport=MockTransport(never_called)) as client,
        pytest.raises(TypeError, match=r"paginate\(\).*'max_page'; did you mean 'max_pages'\?"),
    ):
        client.paginate("GET", "/k", CursorPaging(), max_page=3)  # type: ignore[call-arg]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "method", ["request", "get", "post", "put", "patch", "delete", "stream", "paginate"]
)
async def test_async_client_names_the_method_and_the_closest_keyword(method: str) -> None:
    async with AsyncClient(
        "https://api.example.test", transport=MockTransport(never_called)
    ) as client:
        calls: dict[str, Callable[[], Any]] = {
            "request": lambda: client.request("GET", "/k", parms=1),  # type: ignore[call-arg]
            "stream": lambda: client.stream("GET", "/k", parms=1),  # type: ignore[call-arg]
            "paginate": lambda: client.paginate("GET", "/k", CursorPaging(), parms=1),  # type: ignore[call-arg]
        }
        call = calls.get(method, lambda: getattr(client, method)("/k", parms=1))
        with pytest.raises(TypeError) as caught:
            await call()
    assert str(caught.value) == (
        f"AsyncClient.{method}() got an unexpected keyword argument 'parms'; did you mean 'params'?"
    )


class OpenAI(Client):
    """An SDK built on the client: its methods are named after it."""

    def create(self, **kwargs: Any) -> Response:
        return self.post("/create", **kwargs)


@pytest.mark.parametrize("cls", [Client, AsyncClient, OpenAI])
def test_a_misspelt_client_setting_names_the_client(cls: type[Any]) -> None:
    with pytest.raises(TypeError) as caught:
        cls("https://api.example.test", max_retry=3)
    assert str(caught.value) == (
        f"{cls.__name__}() got an unexpected keyword argument 'max_retry'; "
        "did you mean 'max_retries'?"
    )
    with pytest.raises(TypeError, match=r"'folow_redirects'; did you mean 'follow_redirects'\?"):
        cls("https://api.example.test", folow_redirects=False)


@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_with_options_names_itself_and_the_closest_keyword(cls: type[Any]) -> None:
    client = cls("https://api.example.test", transport=MockTransport(never_called))
    with pytest.raises(TypeError) as caught:
        client.with_options(max_retry=3)
    assert str(caught.value) == (
        f"{cls.__name__}.with_options() got an unexpected keyword argument 'max_retry'; "
        "did you mean 'max_retries'?"
    )


def test_a_subclass_method_is_named_after_the_subclass() -> None:
    with (
        OpenAI("https://api.example.test", transport=MockTransport(never_called)) as client,
        pytest.raises(TypeError, match=r"^OpenAI\.post\(\) got an unexpected keyword argument"),
    ):
        client.create(jsn={})


def test_valid_keywords_are_all_accepted() -> None:
    transport, seen = recorder()
    with Client("https://api.example.test", transport=transport) as client:
        client.post(
            "/k",
            params={"a": 1},
            headers={"X-A": "1"},
            json={"b": 2},
            timeout=3.0,
            max_retries=1,
            idempotency_key="key-1",
            follow_redirects=False,
            max_redirects=2,
        )
        client.post("/k", content=b"x", headers=None, params=None, json=None)
    assert seen[0].headers["idempotency-key"] == "key-1"


# ---------------------------------------------------------------------------------------
# Item 9: bool and int settings are checked, per call, in the client and in with_options


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"follow_redirects": "no"}, "follow_redirects must be True or False, not str"),
        ({"follow_redirects": None}, "follow_redirects must be True or False"),
        ({"max_redirects": "3"}, "max_redirects must be an int >= 0"),
        ({"max_retries": -1}, "max_retries must be an int >= 0"),
        ({"max_retries": None}, "max_retries must be an int >= 0"),
        ({"timeout": "5"}, "timeout must be a Timeout"),
        ({"timeout": -1}, "timeout must be a Timeout"),
        ({"retry": 3}, "retry must be a RetryPolicy or None, not int"),
        ({"limits": 3}, "limits must be a Limits or None, not int"),
        ({"max_response_size": "1"}, "max_response_size must be an int >= 0"),
        ({"request_id_header": "bad name"}, "request_id_header must be a header name"),
        ({"request_id_header": None}, "request_id_header must be a header name"),
        ({"idempotency_header": 5}, "idempotency_header must be a header name"),
        ({"auth_header": "a\nb"}, "auth_header must be a header name"),
        ({"auth_scheme": "Bearer\r\n"}, "auth_scheme must be"),
        ({"auth_scheme": ""}, "auth_scheme must be"),
        ({"hooks": 5}, "hooks must be an iterable of callables"),
        ({"hooks": [5]}, "hooks must be callables"),
        ({"default_headers": {"X-A": 1}}, "str value"),
    ],
)
@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_client_settings_are_checked(cls: type[Any], settings: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        cls("https://api.example.test", transport=MockTransport(never_called), **settings)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"follow_redirects": "no"}, "follow_redirects must be True or False, not str"),
        ({"follow_redirects": 1}, "follow_redirects must be True or False, not int"),
        ({"max_redirects": -1}, "max_redirects must be an int >= 0"),
        ({"max_retries": None}, "max_retries must be an int >= 0"),
        ({"timeout": "5"}, "timeout must be a Timeout"),
        ({"retry": "x"}, "retry must be a RetryPolicy"),
        ({"base_url": 5}, "base_url must be a non-empty str"),
        ({"base_url": "ftp://x"}, "scheme must be http or https"),
        ({"api_key": 5}, "api_key must be a non-empty str"),
        ({"default_headers": {"X-A": "a\nb"}}, "control character"),
    ],
)
@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_with_options_values_are_checked(
    cls: type[Any], options: dict[str, Any], match: str
) -> None:
    client = cls("https://api.example.test", transport=MockTransport(never_called))
    with pytest.raises(InvalidRequestError, match=match):
        client.with_options(**options)


def test_with_options_applies_what_it_is_given() -> None:
    transport = TimeoutRecorder()
    with Client("https://api.example.test/v1", transport=transport, timeout=0.3) as client:
        copy = client.with_options(
            base_url="https://other.example.test/v2",
            timeout=2.0,
            retry=None,
            max_retries=0,
            follow_redirects=False,
            max_redirects=1,
            default_headers={"X-A": "1"},
            api_key="sk-copy",
        )
        options = copy._config.options
        assert (options.timeout, options.max_retries, options.retry) == (
            Timeout(2.0),
            0,
            RetryPolicy(),
        )
        assert (options.follow_redirects, options.max_redirects) == (False, 1)
        assert copy._config.headers["x-a"] == "1"
        assert copy._config.has_api_key
        assert str(copy._config.base_url) == "https://other.example.test/v2"
        unchanged = client.with_options()
        assert unchanged._config.options == client._config.options


@pytest.mark.parametrize("value", [True, False])
def test_follow_redirects_takes_a_bool_everywhere(value: bool) -> None:
    transport, _ = recorder()
    with Client("https://api.example.test", transport=transport, follow_redirects=value) as client:
        assert client._config.options.follow_redirects is value
        assert client.with_options(follow_redirects=not value)._config.options.follow_redirects is (
            not value
        )
        client.get("/k", follow_redirects=not value)


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
