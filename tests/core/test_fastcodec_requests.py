"""FastClientCodec writing requests: the same bytes as h11, kept fields and reused heads,
the requests h11 refuses, streamed bodies within their framing, and the factory that
picks the codec."""

from __future__ import annotations

import dataclasses

import pytest
from _fastcodec_helpers import URL_TEXT, codec_for, events

import sdk_core._fastcodec as fastcodec
from sdk_core import URL, Headers, InvalidRequestError, Request
from sdk_core._request_head import RequestRefused, encode_request_head
from sdk_core.lowlevel import ClientCodec, FastClientCodec, ResponseEnd, new_codec

pytest.importorskip("httptools")  # the fast codec is an optional extra


def test_factory_picks_the_fast_codec_when_httptools_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert type(new_codec()) is FastClientCodec
    assert type(new_codec(fast=True, max_header_bytes=10)) is FastClientCodec
    assert type(new_codec(fast=False)) is ClientCodec
    monkeypatch.setattr(fastcodec, "HAS_HTTPTOOLS", False)
    assert type(new_codec()) is ClientCodec
    with pytest.raises(RuntimeError, match="needs httptools"):
        new_codec(fast=True)


@pytest.mark.parametrize(
    ("method", "headers", "content", "streamed"),
    [
        ("GET", {"Accept": "*/*", "X-Tab": "a\tb"}, b"", False),
        ("GET", {"Accept": "*/*", "host": "other", "User-Agent": "t"}, b"", False),
        ("POST", {"Content-Type": "application/json"}, b'{"a":1}', False),
        ("POST", {}, b"", True),
        ("PUT", {"Content-Length": "5"}, b"", True),
        ("PUT", {"Content-Length": " 5 , 5"}, b"", True),
        ("PUT", [("Content-Length", "5"), ("content-length", "5")], b"", True),
        ("PATCH", {"Transfer-Encoding": "Chunked"}, b"", True),
        ("DELETE", {"Connection": "keep-alive, Close"}, b"", False),
        ("OPTIONS", {"X-Latin": "caf\xe9"}, b"", False),
    ],
)
def test_request_bytes_are_h11s(
    method: str, headers: object, content: bytes, streamed: bool
) -> None:
    outputs = []
    request = Request(
        method,
        "http://example.com:8080/a?b=1",
        headers=headers,  # type: ignore[arg-type]
        content=iter([]) if streamed else content,
    )
    # The second fast codec sends the fields the first one encoded and kept.
    for codec_class in (ClientCodec, FastClientCodec, FastClientCodec):
        codec = codec_class()
        body = None if streamed else content
        out = [codec.encode_request(request, body=body)]
        if streamed:
            out += [codec.encode_chunk(b"ab"), codec.encode_chunk(b""), codec.encode_chunk(b"cde")]
            out.append(codec.encode_end())
        outputs.append((out, codec.reusable))
    assert outputs[0] == outputs[1] == outputs[2]


def test_kept_fields_go_with_each_requests_own_host_and_target() -> None:
    headers = Headers({"Accept": "*/*"})
    heads = []
    for url in ("http://a.test/x", "http://b.test:8080/y?z=1", "http://a.test/x"):
        codec = FastClientCodec()
        heads.append(codec.encode_request(Request("GET", url, headers=headers), body=b""))
    assert heads == [
        b"GET /x HTTP/1.1\r\nHost: a.test\r\nAccept: */*\r\n\r\n",
        b"GET /y?z=1 HTTP/1.1\r\nHost: b.test:8080\r\nAccept: */*\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: a.test\r\nAccept: */*\r\n\r\n",
    ]
    assert Headers(headers)._request_fields is headers._request_fields is not None
    assert headers.with_redaction(None)._request_fields is headers._request_fields


def test_a_head_written_again_is_reused_only_for_the_same_method_url_and_framing() -> None:
    headers = Headers({"Accept": "*/*"})
    url = URL.parse("http://a.test/x")
    get = Request("GET", url, headers=headers)
    first = encode_request_head(get, streamed=False)
    assert encode_request_head(Request("GET", url, headers=headers), streamed=False) is first
    others = [
        (Request("DELETE", url, headers=headers), False),
        (Request("GET", URL.parse("http://a.test/x"), headers=headers), False),  # equal URL
        (Request("GET", "http://b.test/x", headers=headers), False),
        (Request("POST", url, headers=headers, content=iter([])), True),
    ]
    for request, streamed in others:
        again = encode_request_head(request, streamed=streamed)
        assert again is not first
        fresh = Request(
            request.method,
            request.url,
            headers=Headers(request.headers.items()),
            content=request.content,
        )
        assert again == encode_request_head(fresh, streamed=streamed)
    assert encode_request_head(get, streamed=True).data == (
        b"GET /x HTTP/1.1\r\nHost: a.test\r\nAccept: */*\r\nTransfer-Encoding: chunked\r\n\r\n"
    )


def test_a_refused_head_is_refused_every_time() -> None:
    request = Request("GET", url_with(target="/a b"), headers=Headers({"Accept": "*/*"}))
    for _ in range(2):
        with pytest.raises(RequestRefused):
            encode_request_head(request, streamed=False)
    assert request.headers._head is None


def url_with(**changes: object) -> URL:
    """A URL that URL.parse would not make (a transport may build one directly)."""
    return dataclasses.replace(URL.parse(URL_TEXT), **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("headers", "url", "streamed", "doubtful"),
    [
        ({"Transfer-Encoding": "chunked", "Content-Length": "3"}, None, True, False),
        ({"Transfer-Encoding": "gzip"}, None, True, True),
        ([("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")], None, True, True),
        ([("Host", "a"), ("host", "b")], None, False, True),
        (Headers._trusted([("Host", "a\x0bb")]), None, False, True),  # unvalidated
        ({"Content-Length": "abc"}, None, True, True),
        ({"Content-Length": "1, 2"}, None, True, True),
        ([("Content-Length", "1"), ("Content-Length", "2")], None, True, True),
        ({}, url_with(target="/a b"), False, True),
        ({}, url_with(host="a\x00b"), False, True),
    ],
)
def test_requests_h11_refuses_are_refused(
    headers: object, url: URL | None, streamed: bool, doubtful: bool
) -> None:
    request = Request("PUT", url or URL_TEXT, headers=headers, content=iter([]))
    messages = []
    # The second fast codec gets the refusal from the fields the first one kept.
    for codec_class in (ClientCodec, FastClientCodec, FastClientCodec):
        codec = codec_class()
        with pytest.raises(InvalidRequestError, match="cannot be sent") as refused:
            codec.encode_request(request, body=None if streamed else b"")
        assert codec.reusable is not doubtful
        messages.append(str(refused.value))
    assert messages[1] == messages[2]


def test_a_non_ascii_target_escapes_as_in_h11() -> None:
    for codec_class in (ClientCodec, FastClientCodec):
        with pytest.raises(UnicodeEncodeError):
            codec_class().encode_request(Request("GET", url_with(target="/\xe9")), body=b"")


def test_a_refused_request_leaves_the_codec_usable_for_another() -> None:
    """As h11: a request refused for its own content changes no state (but doubt)."""
    codec = FastClientCodec()
    bad = Request("PUT", URL_TEXT, headers={"Content-Length": "x"}, content=iter([]))
    with pytest.raises(InvalidRequestError, match="bad Content-Length"):
        codec.encode_request(bad)
    codec.encode_request(Request("GET", URL_TEXT), body=b"")
    codec.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert events(codec)[-1] == ResponseEnd(reusable=False)


@pytest.mark.parametrize("codec_class", [ClientCodec, FastClientCodec])
def test_streamed_bodies_keep_to_their_framing(codec_class: type[ClientCodec]) -> None:
    def streaming(length: str) -> ClientCodec:
        codec = codec_class()
        request = Request("PUT", URL_TEXT, headers={"Content-Length": length}, content=iter([]))
        codec.encode_request(request)
        return codec

    codec = streaming("3")
    with pytest.raises(InvalidRequestError, match="body cannot be sent"):
        codec.encode_chunk(b"abcd")
    assert not codec.reusable
    with pytest.raises(InvalidRequestError):  # and the send side stays broken
        codec.encode_end()
    codec = streaming("3")
    codec.encode_chunk(b"ab")
    with pytest.raises(InvalidRequestError, match="cannot be ended"):
        codec.encode_end()
    codec = codec_class()
    with pytest.raises(InvalidRequestError):
        codec.encode_chunk(b"before any request")
    with pytest.raises(InvalidRequestError):
        codec.encode_request(Request("GET", URL_TEXT), body=b"")
    assert codec.encode_chunk(b"") == b""
    codec = codec_for("GET", codec_class)
    with pytest.raises(InvalidRequestError, match="cannot be ended"):
        codec.encode_end()
    with pytest.raises(InvalidRequestError, match="cannot be sent"):
        codec.encode_request(Request("GET", URL_TEXT), body=b"")
    assert not codec.reusable


def test_a_bytes_body_that_breaks_its_framing_is_refused() -> None:
    for codec_class in (ClientCodec, FastClientCodec):
        codec = codec_class()
        with pytest.raises(InvalidRequestError, match="cannot be sent"):
            codec.encode_request(Request("GET", URL_TEXT), body=b"no length declared")
        assert not codec.reusable
