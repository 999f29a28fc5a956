"""Headers, URLs, Request, Response and the configuration values."""

from __future__ import annotations

import codecs
import dataclasses
import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdk_core import (
    NOT_GIVEN,
    URL,
    Headers,
    InvalidRequestError,
    Limits,
    Request,
    Response,
    RetryPolicy,
    Timeout,
    build_url,
)
from sdk_core._config import MAX_TIMEOUT
from sdk_core._status import status_error

BASE = "https://api.example.com"

# ---------------------------------------------------------------------------------------
# Headers


def test_lookup_ignores_case() -> None:
    h = Headers({"Content-Type": "application/json"})
    assert h["content-type"] == h["CONTENT-TYPE"] == "application/json"
    assert "content-TYPE" in h
    assert 42 not in h
    assert h.get("missing") is None
    assert h.first("CONTENT-type") == "application/json"
    assert h.first("missing") is None
    with pytest.raises(KeyError):
        h["missing"]


def test_multiple_values() -> None:
    h = Headers([("Set-Cookie", "a=1"), ("X-A", "1"), ("set-cookie", "b=2")])
    assert h["set-cookie"] == "a=1, b=2"
    assert h.get_list("SET-COOKIE") == ["a=1", "b=2"]
    assert h.get_list("missing") == []
    assert h.first("set-cookie") == "a=1"
    assert h.multi_items() == [("Set-Cookie", "a=1"), ("X-A", "1"), ("set-cookie", "b=2")]
    assert list(h) == ["Set-Cookie", "X-A"]
    assert len(h) == 2
    assert h.raw() == [(b"Set-Cookie", b"a=1"), (b"X-A", b"1"), (b"set-cookie", b"b=2")]


def test_headers_are_immutable() -> None:
    h = Headers({"a": "1"})
    with pytest.raises(TypeError):
        h["a"] = "2"  # type: ignore[index]
    with pytest.raises(TypeError):
        del h["a"]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        h.extra = 1  # type: ignore[attr-defined]
    h.get_list("a").append("2")
    h.multi_items().append(("b", "2"))
    assert h.multi_items() == [("a", "1")]
    with pytest.raises(TypeError):
        hash(h)


def test_headers_equality() -> None:
    h = Headers([("A", "1"), ("b", "2"), ("a", "3")])
    assert h == Headers([("a", "1"), ("a", "3"), ("B", "2")])
    assert h == [("a", "1"), ("B", "2"), ("A", "3")]
    assert h == (("a", "1"), ("a", "3"), ("b", "2"))
    assert h != [("a", "3"), ("a", "1"), ("b", "2")]  # order within a name matters
    assert Headers({"A": "1"}) == {"a": "1"}
    assert Headers({"A": "1"}) != {"a": "1", "b": "2"}
    assert Headers({"A": "1"}) != {"bad name": "1"}
    assert Headers({"A": "1"}) != {"A": "1\n"}
    assert Headers({"A": "1"}) != 1
    assert Headers() == {}
    assert Headers(Headers({"a": "1"})) == {"a": "1"}


def test_values_are_trimmed_and_tabs_allowed() -> None:
    h = Headers({"X-A": " \tspaced\tvalue \t"})
    assert h["x-a"] == "spaced\tvalue"
    assert Headers({"X-L": "café"})["x-l"] == "café"  # latin-1 is fine on the wire
    assert Headers({"X-L": "café"}).raw() == [(b"X-L", b"caf\xe9")]


@pytest.mark.parametrize(
    "pair",
    [
        ("", "v"),
        ("bad name", "v"),
        ("colon:", "v"),
        ("naïve", "v"),
        ("X-A\n", "v"),
        (b"X-A", "v"),
        (1, "v"),
        ("X-A", "\x01"),
        ("X-A", "\x7f"),
        ("X-A", "snow ☃"),
        ("X-A", b"bytes"),
        ("X-A", 1),
        ("X-A", None),
    ],
)
def test_invalid_headers(pair: tuple[object, object]) -> None:
    with pytest.raises(InvalidRequestError):
        Headers([pair])  # type: ignore[list-item]
    if pair[1] is None and pair[0] == "X-A":
        return  # merged() reads a None value as "remove this name"
    with pytest.raises(InvalidRequestError):
        Headers({"ok": "ok"}).merged([pair])  # type: ignore[list-item]


def test_merged_replaces_by_name() -> None:
    h = Headers([("Accept", "a"), ("X-A", "1"), ("x-a", "2")])
    merged = h.merged({"X-A": "3", "New": "n"})
    assert merged.multi_items() == [("Accept", "a"), ("X-A", "3"), ("New", "n")]
    assert h.get_list("x-a") == ["1", "2"]  # the original is untouched
    assert h.merged(None) is h
    assert h.merged({}) is h
    assert h.merged(Headers()) is h
    assert h.merged([("ACCEPT", "b"), ("accept", "c")]).get_list("accept") == ["b", "c"]


def test_with_default_and_without() -> None:
    h = Headers({"Accept": "a"})
    assert h.with_default("accept", "b") is h
    added = h.with_default("User-Agent", "sdk/1")
    assert added.multi_items() == [("Accept", "a"), ("User-Agent", "sdk/1")]
    with pytest.raises(InvalidRequestError):
        h.with_default("Bad Name", "x")
    with pytest.raises(InvalidRequestError):
        h.with_default("X-Ok", "a\r\nInjected: 1")
    both = Headers([("A", "1"), ("b", "2"), ("a", "3")])
    assert both.without("A").multi_items() == [("b", "2")]
    assert both.without("missing") is both


def test_repr_redacts_secrets() -> None:
    h = Headers(
        {
            "Authorization": "Bearer sk-secret",
            "Proxy-Authorization": "Basic c2VjcmV0",
            "Cookie": "session=secret",
            "X-API-Key": "secret-key",
            "Accept": "application/json",
        }
    )
    text = repr(h)
    assert "secret" not in text
    assert "c2VjcmV0" not in text
    assert text.count("[redacted]") == 4
    assert "application/json" in text
    assert "Authorization" in text


# ---------------------------------------------------------------------------------------
# Injection: CR, LF or NUL anywhere


BAD = st.sampled_from(["\r", "\n", "\x00", "\r\n", "\n\n"])
TOKENS = st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}", fullmatch=True)
VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
PATHS = st.from_regex(r"(/[A-Za-z0-9._~-]{0,8}){1,4}(\?[a-z]=[0-9])?", fullmatch=True)


def inject(data: st.DataObject, text: str) -> str:
    at = data.draw(st.integers(0, len(text)), label="at")
    return text[:at] + data.draw(BAD, label="bad") + text[at:]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), method=TOKENS)
def test_control_characters_in_a_method(data: st.DataObject, method: str) -> None:
    assert Request(method, BASE).method == method.upper()
    with pytest.raises(InvalidRequestError):
        Request(inject(data, method), BASE)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), name=TOKENS, value=VALUES)
def test_control_characters_in_a_header_name(data: st.DataObject, name: str, value: str) -> None:
    bad = inject(data, name)
    with pytest.raises(InvalidRequestError):
        Headers({bad: value})
    with pytest.raises(InvalidRequestError):
        Request("GET", BASE, headers=[(bad, value)])
    with pytest.raises(InvalidRequestError):
        Headers().with_default(bad, value)
    with pytest.raises(InvalidRequestError):
        Request("GET", BASE).with_headers({bad: value})


@settings(max_examples=200, deadline=None)
@given(data=st.data(), name=TOKENS, value=VALUES)
def test_control_characters_in_a_header_value(data: st.DataObject, name: str, value: str) -> None:
    assert Headers({name: value})[name] == value.strip(" \t")
    bad = inject(data, value)
    with pytest.raises(InvalidRequestError):
        Headers({name: bad})
    with pytest.raises(InvalidRequestError):
        Request("POST", BASE, headers={name: bad})
    with pytest.raises(InvalidRequestError):
        Headers().with_default(name, bad)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), path=PATHS)
def test_control_characters_in_a_url_or_path(data: st.DataObject, path: str) -> None:
    url = BASE + path
    assert str(URL.parse(url)).startswith(BASE)
    bad_url = inject(data, url)
    with pytest.raises(InvalidRequestError):
        URL.parse(bad_url)
    with pytest.raises(InvalidRequestError):
        Request("GET", bad_url)
    with pytest.raises(InvalidRequestError):
        build_url(bad_url, "/x")
    with pytest.raises(InvalidRequestError):
        build_url(BASE, inject(data, path))
    with pytest.raises(InvalidRequestError):
        build_url(BASE, inject(data, url))  # an absolute URL given as the path


def test_params_are_encoded_not_injected() -> None:
    url = build_url(BASE, "/x", {"q": "a\r\nHost: evil", "k\n": "v"})
    assert "\r" not in url.target
    assert "\n" not in url.target
    assert url.target == "/x?q=a%0D%0AHost%3A+evil&k%0A=v"


# ---------------------------------------------------------------------------------------
# URLs


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        (BASE, "/v1/users", "https://api.example.com/v1/users"),
        (BASE, "v1/users", "https://api.example.com/v1/users"),
        (BASE + "/", "/v1/users", "https://api.example.com/v1/users"),
        (BASE + "/v1", "users", "https://api.example.com/v1/users"),
        (BASE + "/v1", "/users", "https://api.example.com/v1/users"),
        (BASE + "/v1/", "/users/", "https://api.example.com/v1/users/"),
        (BASE + "/v1//", "//users", "https://api.example.com/v1/users"),
        (BASE + "/v1", "", "https://api.example.com/v1"),
        (BASE, "", "https://api.example.com/"),
        (BASE + "/v1?key=1", "users?x=2", "https://api.example.com/v1/users?key=1&x=2"),
        (BASE + "/v1?key=1", "users", "https://api.example.com/v1/users?key=1"),
        (BASE, "/a b/ü", "https://api.example.com/a%20b/%C3%BC"),
        (BASE, "/already%20encoded", "https://api.example.com/already%20encoded"),
        (BASE, "/id#frag", "https://api.example.com/id%23frag"),
        (BASE, "/q?a=b c", "https://api.example.com/q?a=b%20c"),
        (BASE, "http://other.example:8080/x", "http://other.example:8080/x"),
        ("not a url", "https://other.example/x", "https://other.example/x"),
        ("HTTPS://API.Example.COM/V1", "x", "https://api.example.com/V1/x"),
    ],
)
def test_build_url(base: str, path: str, expected: str) -> None:
    assert str(build_url(base, path)) == expected


def test_build_url_from_a_url() -> None:
    base = URL.parse(BASE + "/v2")
    assert str(build_url(base, "items")) == BASE + "/v2/items"


@pytest.mark.parametrize(
    ("params", "query"),
    [
        ({"a": [1, 2], "b": True, "c": None, "d": False}, "?a=1&a=2&b=true&d=false"),
        ({"e": "x y&z", "f": (None, "z"), "g": 1.5}, "?e=x+y%26z&f=z&g=1.5"),
        ({"only": None}, ""),
        ({"empty": []}, ""),
        ({}, ""),
        ({"s": ""}, "?s="),
        ({"u": "ü"}, "?u=%C3%BC"),
        ({"list": [True, None, 0]}, "?list=true&list=0"),
    ],
)
def test_params(params: dict[str, object], query: str) -> None:
    assert build_url(BASE, "/p", params).target == "/p" + query  # type: ignore[arg-type]
    assert build_url(BASE, "/p?x=1", params).target == "/p?x=1" + query.replace("?", "&")
    assert build_url(BASE, "/p", None).target == "/p"


def test_url_parts() -> None:
    url = URL.parse("https://API.example.com/a/b?c=d#e")
    assert (url.scheme, url.host, url.port, url.target) == (
        "https",
        "api.example.com",
        443,
        "/a/b?c=d",
    )
    assert url.origin == ("https", "api.example.com", 443)
    assert url.host_header == "api.example.com"
    assert str(url) == "https://api.example.com/a/b?c=d"
    assert URL.parse("http://h").target == "/"
    assert URL.parse("http://h?x=1").target == "/?x=1"
    assert URL.parse("  http://h/  ").host == "h"


@pytest.mark.parametrize(
    ("url", "port", "host_header"),
    [
        ("http://h/", 80, "h"),
        ("https://h/", 443, "h"),
        ("http://h:80/", 80, "h"),
        ("https://h:443/", 443, "h"),
        ("http://h:443/", 443, "h:443"),
        ("https://h:80/", 80, "h:80"),
        ("http://h:8080/", 8080, "h:8080"),
        ("http://h:65535/", 65535, "h:65535"),
    ],
)
def test_default_ports(url: str, port: int, host_header: str) -> None:
    parsed = URL.parse(url)
    assert parsed.port == port
    assert parsed.host_header == host_header


def test_ipv6_hosts() -> None:
    url = URL.parse("http://[::1]:8080/x")
    assert (url.host, url.port) == ("::1", 8080)
    assert url.host_header == "[::1]:8080"
    assert str(url) == "http://[::1]:8080/x"
    plain = URL.parse("https://[2001:db8::1]/")
    assert plain.host_header == "[2001:db8::1]"
    assert str(build_url("http://[::1]:8080/api", "v1")) == "http://[::1]:8080/api/v1"


def test_international_hosts() -> None:
    assert URL.parse("https://bücher.example/").host == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://h/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "ws://h/",
        "h/path",
        "//h/path",
        "localhost:8000",
        "",
        "http://",
        "http:///path",
        "http://:80/",
        "https://user@/x",
        "http://h:0/",
        "http://h:65536/",
        "http://h:99999999999/",
        "http://h:abc/",
        "http://h:-1/",
        "http://[::1/",
        "http://a b/",
        "http://ü..example/",
        "http://xn--ü.example/",
    ],
)
def test_unusable_urls(url: str) -> None:
    with pytest.raises(InvalidRequestError):
        URL.parse(url)
    with pytest.raises(InvalidRequestError):
        Request("GET", url)
    with pytest.raises(InvalidRequestError):
        build_url(url, "/x")


@pytest.mark.parametrize("value", [None, b"https://h/", 1])
def test_urls_and_paths_must_be_str(value: object) -> None:
    with pytest.raises(InvalidRequestError, match="must be a str"):
        URL.parse(value)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="must be a str"):
        build_url(BASE, value)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Request


def test_request_basics() -> None:
    request = Request("get", BASE + "/x", headers={"Accept": "a"})
    assert request.method == "GET"
    assert isinstance(request.url, URL)
    assert request.headers == {"accept": "a"}
    assert request.content == b""
    assert request.replayable
    assert request.is_idempotent
    assert repr(request) == "<Request GET https://api.example.com/x>"
    assert Request("GET", URL.parse(BASE)).url == URL.parse(BASE)


@pytest.mark.parametrize("method", ["", "GE T", "GET/", "GÉT", "GET\t", None, b"GET"])
def test_invalid_methods(method: object) -> None:
    with pytest.raises(InvalidRequestError, match="method"):
        Request(method, BASE)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "content", "length"),
    [
        ("GET", b"", None),
        ("GET", b"abc", "3"),
        ("DELETE", b"", None),
        ("POST", b"", "0"),
        ("PUT", b"", "0"),
        ("PATCH", b"", "0"),
        ("POST", b"hello", "5"),
        ("POST", bytearray(b"xy"), "2"),
        ("POST", memoryview(b"xyz"), "3"),
    ],
)
def test_content_length_is_added(method: str, content: bytes, length: str | None) -> None:
    request = Request(method, BASE, content=content)
    assert request.headers.get("content-length") == length
    assert type(request.content) is bytes
    assert request.content == bytes(content)


def test_content_length_must_agree() -> None:
    assert Request("POST", BASE, headers={"Content-Length": "3"}, content=b"abc").headers.get_list(
        "content-length"
    ) == ["3"]
    twice = [("Content-Length", "3"), ("content-length", "3")]
    assert Request("POST", BASE, headers=twice, content=b"abc")
    for declared in (["4"], ["2"], ["03"], ["3", "4"], ["abc"], ["-3"]):
        headers = [("Content-Length", value) for value in declared]
        with pytest.raises(InvalidRequestError, match="Content-Length"):
            Request("POST", BASE, headers=headers, content=b"abc")
    with pytest.raises(InvalidRequestError, match="Content-Length"):
        Request("GET", BASE, headers={"Content-Length": "1"})


def test_streamed_content() -> None:
    chunks = iter([b"a", b"b"])
    request = Request("POST", BASE, headers={"Content-Length": "2"}, content=chunks)
    assert request.content is chunks
    assert not request.replayable
    assert request.headers.get("content-length") == "2"
    with pytest.raises(InvalidRequestError, match="bytes, not str"):
        Request("POST", BASE, content="text")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "idempotent"),
    [
        ("GET", True),
        ("HEAD", True),
        ("OPTIONS", True),
        ("PUT", True),
        ("DELETE", True),
        ("POST", False),
        ("PATCH", False),
        ("PURGE", False),
        ("CONNECT", False),
    ],
)
def test_idempotent_methods(method: str, idempotent: bool) -> None:
    assert Request(method, BASE).is_idempotent is idempotent


def test_with_headers_is_a_copy() -> None:
    request = Request("POST", BASE, headers={"A": "1", "B": "2"}, content=b"x")
    copy = request.with_headers({"a": "3"})
    assert copy is not request
    assert copy.headers.multi_items() == [("B", "2"), ("Content-Length", "1"), ("a", "3")]
    assert request.headers["a"] == "1"
    assert (copy.method, copy.url, copy.content) == (request.method, request.url, request.content)


# ---------------------------------------------------------------------------------------
# Response


def test_response_basics() -> None:
    response = Response(201, headers={"X-Request-Id": "r1"}, content=bytearray(b'{"a": [1]}'))
    assert response.status_code == 201
    assert response.is_success
    assert type(response.content) is bytes
    assert response.json() == {"a": [1]}
    assert response.text == '{"a": [1]}'
    assert response.encoding == "utf-8"
    assert response.request_id == "r1"
    assert response.request is None
    assert response.attempts == 1
    assert repr(response) == "<Response [201]>"
    assert response.request_id_header == "x-request-id"
    assert response.redirects == 0
    assert not Response(199).is_success
    assert not Response(300).is_success
    assert Response(299).is_success


def test_response_json_errors() -> None:
    with pytest.raises(ValueError, match="Expecting value"):
        Response(200, content=b"not json").json()
    with pytest.raises(ValueError, match="Expecting value"):
        Response(204).json()


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        (None, "utf-8"),
        ("application/json", "utf-8"),
        ("text/plain; charset=ISO-8859-1", "ISO-8859-1"),
        ('text/plain; CHARSET="latin-1"', "latin-1"),
        ("text/plain;charset=utf-16;format=flowed", "utf-16"),
    ],
)
def test_response_encoding(content_type: str | None, encoding: str) -> None:
    headers = {"Content-Type": content_type} if content_type else None
    assert Response(200, headers=headers).encoding == encoding


def test_response_text_replaces_what_it_cannot_decode() -> None:
    assert Response(200, content=b"ok \xff").text == "ok \ufffd"
    latin = Response(200, headers={"content-type": "text/plain; charset=latin-1"}, content=b"\xe9")
    assert latin.text == "é"
    unknown = Response(
        200, headers={"content-type": "text/plain; charset=nope"}, content=b"\xc3\xa9"
    )
    assert unknown.text == "é"


@pytest.mark.parametrize("status", [99, 1000, -1, "200", 200.0, True, None])
def test_invalid_status_codes(status: object) -> None:
    with pytest.raises(ValueError, match="status code"):
        Response(status)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Timeout, Limits, RetryPolicy


def test_timeout_defaults() -> None:
    t = Timeout()
    assert (t.connect, t.read, t.write, t.pool, t.total) == (5.0, 60.0, 60.0, 10.0, None)


def test_one_timeout_sets_every_phase() -> None:
    t = Timeout(10.0)
    assert (t.connect, t.read, t.write, t.pool, t.total) == (10.0, 10.0, 10.0, 10.0, None)
    assert Timeout(10) == t
    assert isinstance(Timeout(10).read, float)
    off = Timeout(None)
    assert (off.connect, off.read, off.write, off.pool, off.total) == (None,) * 5


def test_timeout_keywords_override() -> None:
    t = Timeout(10.0, read=30.0, pool=None, total=60)
    assert (t.connect, t.read, t.write, t.pool, t.total) == (10.0, 30.0, 10.0, None, 60.0)
    t = Timeout(connect=1.0)
    assert (t.connect, t.read, t.write, t.pool) == (1.0, 60.0, 60.0, 10.0)
    assert Timeout(NOT_GIVEN, read=2.0) == Timeout(read=2.0)


@pytest.mark.parametrize("bad", [-1, -0.001, math.nan, -math.inf])
def test_timeout_rejects_negative_and_nan(bad: float) -> None:
    for kwargs in ({"connect": bad}, {"read": bad}, {"write": bad}, {"pool": bad}, {"total": bad}):
        with pytest.raises(ValueError, match=">= 0"):
            Timeout(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        Timeout(bad)


@pytest.mark.parametrize("bad", ["1", True, [1], b"1"])
def test_timeout_rejects_non_numbers(bad: object) -> None:
    with pytest.raises(TypeError, match="number of seconds"):
        Timeout(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="number of seconds"):
        Timeout(total=bad)  # type: ignore[arg-type]


def test_timeout_is_frozen_and_comparable() -> None:
    t = Timeout(1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.read = 2.0  # type: ignore[misc]
    assert t == Timeout(connect=1, read=1, write=1, pool=1)
    assert t != Timeout(1.0, total=1.0)
    assert "read=1.0" in repr(t)


def test_timeout_capped() -> None:
    t = Timeout(connect=5.0, read=60.0, write=None, pool=0.5, total=30.0)
    assert t.capped(None) is t
    capped = t.capped(3.0)
    assert (capped.connect, capped.read, capped.write, capped.pool, capped.total) == (
        3.0,
        3.0,
        3.0,
        0.5,
        3.0,
    )
    gone = t.capped(-2.0)
    assert (gone.connect, gone.read, gone.write, gone.pool, gone.total) == (0.0,) * 5
    assert Timeout(None).capped(1.5) == Timeout(1.5, total=1.5)


@settings(max_examples=200, deadline=None)
@given(
    phases=st.lists(st.none() | st.floats(0, 1e9), min_size=4, max_size=4),
    remaining=st.floats(-1e9, 1e9),
)
def test_capped_never_exceeds_what_is_left(phases: list[float | None], remaining: float) -> None:
    connect, read, write, pool = phases
    t = Timeout(connect=connect, read=read, write=write, pool=pool)
    capped = t.capped(remaining)
    after_phases = (capped.connect, capped.read, capped.write, capped.pool)
    for before, after in zip(phases, after_phases, strict=True):
        assert after is not None
        assert 0 <= after <= max(remaining, 0.0)
        assert before is None or after <= before
    assert capped.total == min(max(remaining, 0.0), MAX_TIMEOUT)  # longer waits are clamped


def test_limits() -> None:
    limits = Limits()
    assert (limits.max_connections, limits.max_keepalive_connections, limits.keepalive_expiry) == (
        100,
        20,
        5.0,
    )
    assert Limits(None, None, None).max_connections is None
    assert Limits(max_keepalive_connections=0).max_keepalive_connections == 0  # no keep-alive
    assert (
        Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=0).keepalive_expiry
        == 0
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.max_connections = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_connections": 0},
        {"max_connections": -1},
        {"max_connections": 1.5},
        {"max_connections": "10"},
        {"max_keepalive_connections": -1},
        {"max_connections": True},
        {"max_keepalive_connections": False},
        {"max_keepalive_connections": 2.0},
        {"keepalive_expiry": -1},
        {"keepalive_expiry": math.nan},
    ],
)
def test_limits_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="Limits"):
        Limits(**kwargs)  # type: ignore[arg-type]


def test_retry_policy_defaults() -> None:
    policy = RetryPolicy()
    assert (
        policy.max_retries,
        policy.initial_delay,
        policy.max_delay,
        policy.multiplier,
        policy.jitter,
        policy.max_retry_after,
    ) == (2, 0.5, 8.0, 2.0, "proportional", 60.0)
    assert policy.retry_statuses == frozenset({408, 409, 429, 500, 502, 503, 504})
    assert RetryPolicy(retry_statuses={500}).retry_statuses == frozenset({500})  # type: ignore[arg-type]
    assert isinstance(RetryPolicy(retry_statuses=[500]).retry_statuses, frozenset)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_retries": True}, TypeError),
        ({"max_retries": 1.0}, TypeError),
        ({"max_retries": "2"}, TypeError),
        ({"max_retries": -1}, ValueError),
        ({"initial_delay": -0.1}, ValueError),
        ({"initial_delay": math.inf}, ValueError),
        ({"initial_delay": math.nan}, ValueError),
        ({"initial_delay": "1"}, ValueError),
        ({"max_delay": -1}, ValueError),
        ({"max_delay": math.inf}, ValueError),
        ({"max_retry_after": math.nan}, ValueError),
        ({"max_retry_after": -1}, ValueError),
        ({"multiplier": 0.5}, ValueError),
        ({"multiplier": 0}, ValueError),
        ({"multiplier": math.inf}, ValueError),
        ({"multiplier": math.nan}, ValueError),
        ({"multiplier": "2"}, ValueError),
        ({"jitter": "random"}, ValueError),
        ({"jitter": None}, ValueError),
    ],
)
def test_retry_policy_validation(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error, match="RetryPolicy"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_not_given() -> None:
    assert repr(NOT_GIVEN) == "NOT_GIVEN"
    assert not NOT_GIVEN


CONSTRUCTORS: list[Callable[[], object]] = [Timeout, Limits, RetryPolicy]


@pytest.mark.parametrize("make", CONSTRUCTORS, ids=lambda c: c.__name__)
def test_config_values_are_slotted(make: Callable[[], object]) -> None:
    assert not hasattr(make(), "__dict__")


def test_headers_lookup_by_a_non_str_is_a_key_error() -> None:
    headers = Headers({"A": "1"})
    assert headers.get(1) is None  # type: ignore[call-overload]
    with pytest.raises(KeyError):
        headers[1]  # type: ignore[index]


@pytest.mark.parametrize("path", ["HTTP://other.example/x", "Https://other.example/x"])
def test_an_absolute_url_in_any_case_replaces_the_base(path: str) -> None:
    assert build_url("https://api.example.com/v1", path).host == "other.example"


@pytest.mark.parametrize(
    "url", ["https://user:secret@api.example.com/", "https://user@api.example.com/"]
)
def test_credentials_in_a_url_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        URL.parse(url)
    assert "secret" not in str(caught.value)


def _raising_codec(name: str) -> codecs.CodecInfo | None:
    if name != "sdk_test_raising":
        return None

    def decode(data: bytes, errors: str = "strict") -> tuple[str, int]:
        raise UnicodeError("this codec never decodes")

    def encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
        raise UnicodeError("this codec never encodes")

    return codecs.CodecInfo(encode, decode, name="sdk_test_raising")


def test_a_registered_codec_that_raises_falls_back_to_utf8() -> None:
    codecs.register(_raising_codec)
    try:
        response = Response(
            500,
            headers={"Content-Type": "text/plain; charset=sdk_test_raising"},
            content="café".encode(),
        )
        assert response.text == "café"
        assert status_error(response).body == "café"
    finally:
        codecs.unregister(_raising_codec)
