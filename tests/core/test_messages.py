"""URL, Request and Response: how each is built and checked, what it holds, and what its
repr shows."""

from __future__ import annotations

import pytest

from sdk_core import URL, InvalidRequestError, Request, Response, build_url

BASE = "https://api.example.com"


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
