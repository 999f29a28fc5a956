"""Bad input to ``Client`` and ``AsyncClient`` gets a typed error before anything is sent.

Each refusal is checked on every network transport (SocketTransport and
HttpcoreTransport; AnyioTransport and AsyncHttpcoreTransport on asyncio and trio)
against a raw socket server that counts the connections it accepted: a refused call
opens none. A misspelt keyword names the closest one; bool and int settings are checked
per call, in the client and in ``with_options``. What is accepted is checked on the wire
in test_accepted_input.py.
"""

from __future__ import annotations

import io
import math
from collections.abc import AsyncGenerator, Callable
from typing import Any

import anyio
import pytest
from _network_transports import ASYNC_TRANSPORTS, SYNC_TRANSPORTS, TimeoutRecorder, recorder
from _support.raw_server import RawServer

from sdk_core import CursorPaging, InvalidRequestError, Request, Response, RetryPolicy, Timeout
from sdk_transports import AsyncClient, Client, MockTransport

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
