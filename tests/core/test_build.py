"""build_request: what client.request's keywords become; and the request head's fields:
headers made by appending (``with_default``, a ``merged`` that replaces nothing, the
Content-Length a ``Request`` adds) encode exactly as the whole list does."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdk_core import Headers, InvalidRequestError, Request
from sdk_core._fields import encode_fields
from sdk_core._request_head import encode_request_head, fields_of
from sdk_core.lowlevel import build_request, encode_json

BASE = "https://api.example.com/v1"


def test_json_is_compact_utf8_with_a_json_content_type() -> None:
    request = build_request("post", BASE, "/items", json={"name": "café", "tags": [1, 2]})
    assert request.method == "POST"
    assert str(request.url) == "https://api.example.com/v1/items"
    assert request.content == '{"name":"café","tags":[1,2]}'.encode()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["content-length"] == str(len(request.content))


@pytest.mark.parametrize("value", [None, 0, "", [], {}, False])
def test_falsy_json_values_are_still_sent(value: object) -> None:
    request = build_request("POST", BASE, "x", json=value)
    assert isinstance(request.content, bytes)
    assert request.content == encode_json(value)
    assert request.headers["content-type"] == "application/json"


def test_a_given_content_type_is_kept() -> None:
    request = build_request(
        "POST", BASE, "x", json=[1], headers={"content-type": "application/merge-patch+json"}
    )
    assert request.headers.get_list("Content-Type") == ["application/merge-patch+json"]
    defaults = Headers({"Content-Type": "application/vnd.api+json"})
    request = build_request("POST", BASE, "x", json=[1], default_headers=defaults)
    assert request.headers.get_list("content-type") == ["application/vnd.api+json"]


def test_content_is_sent_as_given_without_a_content_type() -> None:
    request = build_request("PUT", BASE, "blob", content=b"\x00\x01")
    assert request.content == b"\x00\x01"
    assert "content-type" not in request.headers
    assert request.headers["content-length"] == "2"


def test_streamed_content_is_kept_as_an_iterable() -> None:
    chunks = [b"a", b"b"]
    request = build_request("POST", BASE, "upload", content=chunks)
    assert request.content is chunks
    assert not request.replayable
    assert "content-length" not in request.headers


def test_no_body() -> None:
    request = build_request("GET", BASE, "items")
    assert request.content == b""
    assert "content-length" not in request.headers
    assert "content-type" not in request.headers


@pytest.mark.parametrize("content", [b"", b"x", [b"x"]])
def test_json_and_content_together_are_refused(content: bytes | list[bytes]) -> None:
    with pytest.raises(InvalidRequestError, match="either json or content"):
        build_request("POST", BASE, "x", json={"a": 1}, content=content)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, {"a": [math.nan]}])
def test_json_that_is_not_json_is_refused(value: object) -> None:
    with pytest.raises(InvalidRequestError, match="cannot be encoded"):
        build_request("POST", BASE, "x", json=value)


@pytest.mark.parametrize("value", [{1, 2}, object(), b"bytes", {("tuple", "key"): 1}])
def test_json_of_unsupported_types_is_refused(value: object) -> None:
    with pytest.raises(InvalidRequestError, match="cannot be encoded") as info:
        build_request("POST", BASE, "x", json=value)
    assert isinstance(info.value, ValueError)


def test_default_headers_are_merged_and_overridden_by_name() -> None:
    defaults = Headers([("User-Agent", "sdk/1"), ("X-Trace", "a"), ("X-Trace", "b")])
    request = build_request(
        "GET",
        BASE,
        "x",
        headers={"user-agent": "mine/2", "Accept": "*/*"},
        default_headers=defaults,
    )
    assert request.headers.get_list("User-Agent") == ["mine/2"]
    assert request.headers.get_list("x-trace") == ["a", "b"]
    assert request.headers["accept"] == "*/*"
    assert request.headers.multi_items() == [
        ("X-Trace", "a"),
        ("X-Trace", "b"),
        ("user-agent", "mine/2"),
        ("Accept", "*/*"),
    ]
    untouched = build_request("GET", BASE, "x", default_headers=defaults)
    assert untouched.headers == defaults


def test_repeated_headers_replace_a_default_as_a_group() -> None:
    defaults = Headers({"X-Flag": "default"})
    request = build_request(
        "GET", BASE, "x", headers=[("x-flag", "1"), ("X-Flag", "2")], default_headers=defaults
    )
    assert request.headers.get_list("x-flag") == ["1", "2"]


def test_params() -> None:
    request = build_request(
        "GET",
        BASE + "?api-version=2",
        "/items?sort=asc",
        params={"limit": 10, "tags": ["a", "b c"], "deleted": False, "cursor": None},
    )
    assert request.url.target == (
        "/v1/items?api-version=2&sort=asc&limit=10&tags=a&tags=b+c&deleted=false"
    )


def test_empty_params_leave_the_url_alone() -> None:
    assert build_request("GET", BASE, "items", params={}).url.target == "/v1/items"
    assert build_request("GET", BASE, "items", params={"a": None}).url.target == "/v1/items"


@pytest.mark.parametrize(
    ("base", "path", "error"),
    [
        (BASE, "items\r\nX-Injected: 1", "control character"),
        (BASE, "http://other.example.com/\x00", "control character"),
        ("ftp://example.com/", "items", "scheme"),
        ("https:///no-host", "items", "no host"),
    ],
)
def test_bad_urls_are_refused(base: str, path: str, error: str) -> None:
    with pytest.raises(InvalidRequestError, match=error):
        build_request("GET", base, path)


def test_an_absolute_url_as_path_replaces_the_base() -> None:
    request = build_request("GET", BASE, "https://other.example.com/x", params={"a": 1})
    assert str(request.url) == "https://other.example.com/x?a=1"


@pytest.mark.parametrize(
    "headers", [{"X-Bad": "a\r\nInjected: 1"}, {"Bad Name": "x"}, {"X-Nul": "a\x00"}]
)
def test_bad_headers_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidRequestError):
        build_request("GET", BASE, "x", headers=headers)


def test_bad_method_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="method"):
        build_request("GE T", BASE, "x")


def test_a_content_length_that_disagrees_with_the_body_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="disagrees"):
        build_request("POST", BASE, "x", json={"a": 1}, headers={"Content-Length": "1"})


# -- Request fields: headers built by appending encode as the whole list does ------------
NAMES = st.sampled_from(
    ["Accept", "X-Key", "Host", "Content-Length", "Transfer-Encoding", "Connection", "x-key"]
)
VALUES = st.sampled_from(["1", "12", "a", "chunked", "close", "keep-alive", "1, 1", "x y"])
PAIRS = st.lists(st.tuples(NAMES, VALUES), max_size=4)


def whole(headers: Headers) -> object:
    try:
        return encode_fields(tuple(headers.multi_items()))
    except InvalidRequestError as exc:
        return str(exc)


def derived(headers: Headers) -> object:
    try:
        return fields_of(headers)
    except InvalidRequestError as exc:
        return str(exc)


STEPS = st.lists(
    st.tuples(st.sampled_from(["default", "merged", "appended"]), PAIRS), min_size=1, max_size=4
)


@settings(max_examples=500)
@given(PAIRS, STEPS, st.booleans())
def test_appended_lists_derive_what_the_whole_list_encodes(
    base: list[tuple[str, str]],
    steps: list[tuple[str, list[tuple[str, str]]]],
    encode_base_first: bool,
) -> None:
    headers = Headers(base)
    if encode_base_first:
        derived(headers)  # the base's fields are known before the appends
    made = [headers]
    for how, pairs in steps:
        if how == "default" and pairs:
            headers = headers.with_default(*pairs[0])
        elif how == "merged":
            headers = headers.merged(pairs)
        else:  # any validated pairs, repeated framing fields included
            headers = headers._appended(tuple(Headers(pairs).multi_items()), None)
        made.append(headers)
    assert derived(headers) == whole(headers)
    for each in made:  # every list on the way keeps fields for its own items
        assert derived(each) == whole(each)


def test_a_long_chain_of_appends_is_encoded_without_recursion() -> None:
    headers = Headers({"Accept": "*/*"})
    for index in range(2000):
        headers = headers.with_default(f"X-{index}", str(index))
    fields = fields_of(headers)
    assert fields == encode_fields(tuple(headers.multi_items()))
    assert fields.lines.count("\r\n") == 2001


def test_appending_leaves_the_original_list_and_its_index_alone() -> None:
    base = Headers([("A", "1")])
    child = base.merged({"B": "2"}).with_default("a", "3")  # "a" is present: unchanged
    assert child.multi_items() == [("A", "1"), ("B", "2")]
    grown = base._appended((("a", "2"),), None)
    assert grown.get_list("a") == ["1", "2"]
    assert base.get_list("a") == ["1"]
    assert base.multi_items() == [("A", "1")]


def test_a_request_body_length_extends_the_client_headers_fields() -> None:
    client_headers = Headers({"Accept": "application/json", "User-Agent": "t"})
    request = Request("POST", "http://a.test/x", headers=client_headers, content=b"{}")
    keyed = request.with_headers({"Idempotency-Key": "k-1"})
    head = encode_request_head(keyed, streamed=False)
    assert head.data == (
        b"POST /x HTTP/1.1\r\nHost: a.test\r\nAccept: application/json\r\nUser-Agent: t\r\n"
        b"Content-Length: 2\r\nIdempotency-Key: k-1\r\n\r\n"
    )
    assert head.length == 2
    assert client_headers._request_fields is not None  # encoded once, for every request
    assert keyed.headers._base is None  # derived: the chain is let go
