"""FastClientCodec against ClientCodec: the same bytes out, the same events, errors and
``reusable`` answers for the same bytes in, whole, in random pieces and byte by byte.

The differential test generates valid and broken exchanges; the unit tests below it pin
each rule on the fast codec alone. Where the two codecs differ on purpose (RFC 9112
against h11), a test says so.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import re
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import sdk_core._fastcodec as fastcodec
import sdk_core._fasthead as fasthead
from sdk_core import (
    Call,
    Completed,
    Headers,
    InvalidRequestError,
    LocalProtocolError,
    RemoteProtocolError,
    Request,
    SendRequest,
)
from sdk_core._fastcodec import FastClientCodec, new_codec
from sdk_core._http11 import (
    MAX_HEADER_BYTES,
    NEED_DATA,
    BodyChunk,
    ClientCodec,
    ResponseEnd,
    ResponseEvent,
    ResponseHead,
)
from sdk_core._reader import ResponseReader
from sdk_core._redact import DEFAULT_REDACTION
from sdk_core._request_head import RequestRefused, encode_request_head
from sdk_core._url import URL

pytest.importorskip("httptools")  # the fast codec is an optional extra

URL_TEXT = "http://example.com/v1/items?q=1"

# -- the harness: one exchange, run through a codec, as a comparable trace ---------------


@dataclass
class Exchange:
    """A request, how its body goes out, and the response bytes that come back."""

    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = b""  # None: a streamed body
    stream: list[bytes] = field(default_factory=list)  # pieces sent before the response
    finish: str = "before"  # the streamed body's end: "before" / "after" the response, "never"
    response: bytes = b""
    pieces: list[bytes] = field(default_factory=list)
    eof: bool = False
    max_header_bytes: int = MAX_HEADER_BYTES


def request_of(exchange: Exchange) -> Request:
    content = exchange.content if exchange.content is not None else iter(())
    return Request(exchange.method, URL_TEXT, headers=exchange.headers, content=content)


def run(codec_class: type[ClientCodec], exchange: Exchange) -> list[object]:
    """Every observable step: bytes sent, events (body chunks joined), errors."""
    codec = codec_class(max_header_bytes=exchange.max_header_bytes)
    trace: list[object] = []

    def attempt(what: str, call: object) -> bool:
        try:
            trace.append((what, call()))  # type: ignore[operator]
        except (InvalidRequestError, RemoteProtocolError) as exc:
            trace.append((what, type(exc).__name__, getattr(exc, "request_sent", None)))
            return False
        return True

    request = request_of(exchange)
    streamed = exchange.content is None
    body = None if streamed else exchange.content
    attempt("request", lambda: codec.encode_request(request, body=body))
    if streamed:
        for piece in exchange.stream:
            attempt("chunk", lambda piece=piece: codec.encode_chunk(piece))
        if exchange.finish == "before":
            attempt("end", codec.encode_end)
    for piece in [*exchange.pieces, *([b""] if exchange.eof else [])]:
        if not attempt("feed", lambda piece=piece: codec.feed(piece)):
            break
        if not pull(codec, trace):
            break
    if streamed and exchange.finish == "after":
        attempt("end", codec.encode_end)
    trace.append(("reusable", codec.reusable))
    return normal(trace)


def pull(codec: ClientCodec, trace: list[object]) -> bool:
    """Events up to NEED_DATA (past the end of the response too); False on an error."""
    while True:
        try:
            event = codec.next_event()
        except RemoteProtocolError as exc:
            trace.append(("error", type(exc).__name__, exc.request_sent))
            return False
        if event is NEED_DATA:
            return True
        trace.append(event)


def normal(trace: list[object]) -> list[object]:
    """Body chunks joined and empty ones dropped: how data is split may differ."""
    out: list[object] = []
    for item in trace:
        if isinstance(item, BodyChunk):
            if not item.data:
                continue
            if out and isinstance(out[-1], BodyChunk):
                out[-1] = BodyChunk(out[-1].data + item.data)
                continue
        elif isinstance(item, ResponseHead):  # headers in order, repeated names included
            item = ("head", item.status_code, item.headers.multi_items())
        elif item == ("feed", None):
            continue  # feed returns None; its errors are kept
        out.append(item)
    return out


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


# -- generated exchanges ---------------------------------------------------------------


def pick(usual: list[bytes], odd: list[bytes]) -> st.SearchStrategy[bytes]:
    """One of ``usual`` nine times in ten, else one of ``odd``."""
    return st.integers(0, 9).flatmap(
        lambda n: st.sampled_from(odd) if n == 0 else st.sampled_from(usual)
    )


OCTETS = st.sampled_from(
    [b"a", b"Z", b"0", b"9", b" ", b"\t", b",", b";", b"=", b'"', b":", b"/", b"\x01", b"\x7f"] * 2
    + [b"\x80", b"\xff", b"\x00", b"\x0b", b"\r", b"\n"]
)
ODD_TEXT = st.lists(OCTETS, max_size=6).map(b"".join)
SAFE_TEXT = st.text("abcXYZ019 -/.,;=", max_size=12).map(str.encode)


@st.composite
def header_line(draw: st.DrawFn) -> bytes:
    name = draw(
        pick([b"X-A", b"x-b", b"Content-Type", b"Set-Cookie", b"Server"], [b"Bad Name", b"", b"X:"])
    )
    value = draw(st.integers(0, 5).flatmap(lambda n: ODD_TEXT if n == 0 else SAFE_TEXT))
    lead = draw(pick([b" ", b"", b"  "], [b"\t", b" \t"]))
    trail = draw(pick([b""], [b" ", b"\t "]))
    fold = draw(pick([b""], [b"\r\n folded", b"\r\n\tmore"]))
    return name + b":" + lead + value + trail + fold


@st.composite
def head_block(draw: st.DrawFn, *, status: int | None = None) -> bytes:
    version = draw(pick([b"1.1", b"1.1", b"1.1", b"1.0"], [b"2.0", b"0.9", b"1.2", b"11"]))
    usual = [200, 200, 200, 201, 204, 206, 301, 304, 404, 500]
    code = (
        status
        if status is not None
        else draw(
            st.integers(0, 9).flatmap(
                lambda n: (
                    st.sampled_from([100, 101, 103, 150, 199, 99, 0])
                    if n == 0
                    else st.sampled_from(usual)
                )
            )
        )
    )
    reason = draw(
        pick(
            [b" OK", b" OK", b" Not Found", b"", b" "],
            [b"  two", b" \x80\xff", b" \x01", b" \x00", b" \x0b"],
        )
    )
    lines = [b"HTTP/" + version + b" " + b"%03d" % code + reason]
    lines += draw(st.lists(header_line(), max_size=3))
    return b"\r\n".join(lines)


CONTENT_LENGTHS = ["right"] * 12 + ["short", "long", "dup", "conflict", "list", "junk"]
CODINGS = ([b"chunked"] * 8, [b"Chunked", b"CHUNKED ", b"gzip", b"gzip, chunked", b""])
CONNECTIONS = ([b"close", b"keep-alive", b"Keep-Alive"], [b"keep-alive, Close", b"closed", b""])
CHUNK_EXTENSIONS = ([b""] * 3 + [b";a=b", b";a", b'; a="q s"'], [b";", b" ", b"\t", b";\x00"])


@st.composite
def chunked_body(draw: st.DrawFn, content: bytes) -> bytes:
    out = b""
    for piece in split(content, draw(st.lists(st.integers(0, 64), max_size=3))):
        size = draw(pick([b"%x", b"%X"], [b"00%x"])) % len(piece)
        footer = draw(pick([b"\r\n"], [b"\n", b"xx", b"\r"]))
        out += size + draw(pick(*CHUNK_EXTENSIONS)) + b"\r\n" + piece + footer
    out += b"0" + draw(pick(*CHUNK_EXTENSIONS)) + b"\r\n"
    trailers = draw(
        pick([b""], [b"X-T: v\r\n", b"Bad Trailer\r\n", b"T: a\r\n b\r\n", b"X: \x01\r\n"])
    )
    return out + trailers + draw(pick([b"\r\n"], [b"\n"]))


@st.composite
def final_response(draw: st.DrawFn) -> bytes:
    head = draw(head_block())
    content = draw(st.binary(max_size=40))
    framing = draw(st.sampled_from(["length"] * 4 + ["chunked"] * 3 + ["eof", "both"]))
    fields: list[bytes] = []
    if framing in ("length", "both"):
        kind = draw(st.sampled_from(CONTENT_LENGTHS))
        size = len(content) + {"short": -1, "long": 3}.get(kind, 0)
        value = b"%d" % max(size, 0)
        value = {"list": value + b", " + value, "junk": b"1x"}.get(kind, value)
        fields.append(b"Content-Length: " + value)
        if kind in ("dup", "conflict"):
            fields.append(b"Content-Length: " + (value if kind == "dup" else value + b"0"))
    if framing in ("chunked", "both"):
        fields.append(b"Transfer-Encoding: " + draw(pick(*CODINGS)))
        if draw(st.integers(0, 9)) == 0:
            fields.append(b"Transfer-Encoding: chunked")
    for _ in range(draw(st.integers(0, 2))):
        fields.append(b"Connection: " + draw(pick(*CONNECTIONS)))
    fields = draw(st.permutations(fields))
    block = b"\r\n".join([head, *fields]) + b"\r\n\r\n"
    body = draw(chunked_body(content)) if framing in ("chunked", "both") else content
    return block + body


@st.composite
def response_bytes(draw: st.DrawFn) -> bytes:
    data = b""
    if draw(st.integers(0, 7)) == 0:
        data = draw(head_block(status=draw(st.sampled_from([100, 103])))) + b"\r\n\r\n"
    data += draw(final_response())
    if draw(st.integers(0, 19)) == 0:  # a bare LF here and there
        data = data.replace(b"\r\n", b"\n", draw(st.integers(1, 3)))
    if draw(st.integers(0, 9)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + b"".join(draw(st.lists(OCTETS, min_size=1, max_size=3))) + data[at:]
    if draw(st.integers(0, 9)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return data + draw(
        pick([b""], [b"\r\n", b"\n", b"junk", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
    )


@st.composite
def exchanges(draw: st.DrawFn) -> Exchange:
    method = draw(st.sampled_from(["GET", "GET", "POST", "POST", "HEAD"]))
    exchange = Exchange(method=method)
    if draw(st.integers(0, 4)) == 0:
        exchange.headers["Connection"] = draw(st.sampled_from(["close", "keep-alive"]))
    if method == "POST" and draw(st.booleans()):
        exchange.content = None
        exchange.stream = draw(st.lists(st.binary(max_size=5), max_size=2))
        exchange.finish = draw(st.sampled_from(["before", "before", "after", "never"]))
    elif method == "POST":
        exchange.content = draw(st.binary(max_size=8))
    exchange.response = draw(response_bytes())
    mode = draw(st.sampled_from(["whole", "pieces", "bytes"]))
    data = exchange.response
    if mode == "whole":
        exchange.pieces = [data]
    elif mode == "bytes":
        exchange.pieces = [data[i : i + 1] for i in range(len(data))]
    else:
        exchange.pieces = split(data, draw(st.lists(st.integers(0, 10_000), max_size=8)))
    exchange.eof = draw(st.booleans())
    exchange.max_header_bytes = draw(st.sampled_from([MAX_HEADER_BYTES] * 6 + [40, 64, 120]))
    return exchange


# A chunk-size line with whitespace before ";": RFC 9110 5.6.3 says a recipient MUST
# accept such "bad whitespace" (BWS, in RFC 9112 7.1.1's chunk-ext); h11 refuses it and
# cannot be changed, so the fast codec follows the RFC and such inputs are left out here
# (test_whitespace_before_a_chunk_extension pins the difference).
_BWS_BEFORE_EXTENSION = re.compile(rb"(?:^|\n)[0-9A-Fa-f]+[ \t]+;")


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exchanges())
@example(
    Exchange(
        response=b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
        pieces=[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"],
    )
)
def test_both_codecs_agree(exchange: Exchange) -> None:
    assume(not _BWS_BEFORE_EXTENSION.search(exchange.response))
    assert run(FastClientCodec, exchange) == run(ClientCodec, exchange)


def test_whitespace_before_a_chunk_extension() -> None:
    """RFC 9112 7.1.1 allows BWS before a chunk extension's ";" and RFC 9110 5.6.3 says a
    recipient MUST accept it; h11 (whose chunk-size pattern cannot be changed from here)
    refuses it. The fast codec follows the RFC: the one deliberate difference."""
    response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 ;a=b\r\nhi\r\n0\t;c\r\n\r\n"
    fast = get(FastClientCodec, "GET", response)
    assert fast[1:] == [BodyChunk(b"hi"), ResponseEnd(reusable=True)]
    with pytest.raises(RemoteProtocolError):
        get(ClientCodec, "GET", response)


# -- unit tests: each rule on the fast codec ------------------------------------------


def codec_for(
    method: str = "GET", codec_class: type[ClientCodec] = FastClientCodec, **kwargs: int
) -> ClientCodec:
    codec = codec_class(**kwargs)
    codec.encode_request(Request(method, URL_TEXT), body=b"")
    return codec


def events(codec: ClientCodec) -> list[ResponseEvent]:
    """Every event available now, up to NEED_DATA (after the end of a response too)."""
    out: list[ResponseEvent] = []
    while (event := codec.next_event()) is not NEED_DATA:
        out.append(event)
    return out


def joined(found: list[ResponseEvent]) -> list[object]:
    return normal(list(found))


def get(
    codec_class: type[ClientCodec], method: str, data: bytes, *, eof: bool = False
) -> list[object]:
    """The events for ``data`` (then EOF), fed whole; checked byte by byte too."""
    results = []
    for pieces in ([data], [data[i : i + 1] for i in range(len(data))]):
        codec = codec_for(method, codec_class)
        found: list[ResponseEvent] = []
        for piece in [*pieces, *([b""] if eof else [])]:
            codec.feed(piece)
            found += events(codec)
        results.append(joined(found))
    assert results[0] == results[1]
    return results[0]


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


# -- responses --------------------------------------------------------------------------

PLAIN = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world"


def test_a_plain_response() -> None:
    found = get(FastClientCodec, "GET", PLAIN)
    assert found == [
        ("head", 200, [("content-type", "text/plain"), ("content-length", "11")]),
        BodyChunk(b"hello world"),
        ResponseEnd(reusable=True),
    ]


OK = b"HTTP/1.1 200 OK\r\n"
CHUNKED = OK + b"Transfer-Encoding: chunked\r\n\r\n"
LENGTH_2 = b"Content-Length: 2\r\n"
CLOSE = b"Connection: close\r\n"

# (request method, response bytes, EOF after them): every rule the fast codec hands
# to h11 or decides itself, with what h11 answers (test_the_fast_codec_answers_as_h11).
RULES: dict[str, tuple[str, bytes, bool]] = {
    "head-length": ("HEAD", OK + b"Content-Length: 1000\r\n\r\n", False),
    "head-chunked": ("HEAD", CHUNKED, False),
    "head-no-framing": ("HEAD", OK + b"\r\n", False),
    "head-with-a-body": ("HEAD", OK + LENGTH_2 + b"\r\nhi", False),
    "connect": ("CONNECT", OK + b"\r\n", False),
    "informational": (
        "GET",
        b"HTTP/1.1 100 Go\r\n\r\nHTTP/1.1 103 E\r\nLink: <a>\r\n\r\n" + PLAIN,
        False,
    ),
    "switching-protocols-unasked": (
        "GET",
        b"HTTP/1.1 101 Switching\r\nUpgrade: ws\r\nConnection: upgrade\r\n\r\n",
        False,
    ),
    "1xx-with-a-length": ("GET", b"HTTP/1.1 150 Odd\r\n" + LENGTH_2 + b"\r\n" + OK + b"\r\n", True),
    "no-content": ("GET", b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", False),
    "not-modified": (
        "GET",
        b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
        False,
    ),
    "length-and-chunked": ("GET", OK + LENGTH_2 + CHUNKED[17:] + b"2\r\nhi\r\n0\r\n\r\n", False),
    "chunked-and-length": (
        "GET",
        OK + b"Transfer-Encoding: chunked\r\n" + LENGTH_2 + b"\r\n0\r\n\r\n",
        False,
    ),
    "same-length-twice": ("GET", OK + LENGTH_2 + LENGTH_2 + b"\r\nhi", False),
    "same-length-listed": ("GET", OK + b"Content-Length: 2, 2\r\n\r\nhi", False),
    "conflicting-lengths": ("GET", OK + LENGTH_2 + b"Content-Length: 3\r\n\r\nhi", False),
    "negative-length": ("GET", OK + b"Content-Length: -1\r\n\r\n", False),
    "gzip-coding": ("GET", OK + b"Transfer-Encoding: gzip\r\n\r\nhi", True),
    "gzip-then-chunked": ("GET", OK + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", False),
    "chunked-twice": (
        "GET",
        OK + b"Transfer-Encoding: chunked\r\n" + CHUNKED[17:] + b"0\r\n\r\n",
        False,
    ),
    "chunked-in-capitals": (
        "GET",
        OK + b"Transfer-Encoding: CHUNKED\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
        False,
    ),
    "close": ("GET", OK + CLOSE + LENGTH_2 + b"\r\nhi", False),
    "close-listed": (
        "GET",
        OK + b"Connection: keep-alive, Close\r\n" + LENGTH_2 + b"\r\nhi",
        False,
    ),
    "closed-is-no-close": ("GET", OK + b"Connection: closed\r\n" + LENGTH_2 + b"\r\nhi", False),
    "http10-keep-alive": (
        "GET",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n" + LENGTH_2 + b"\r\nhi",
        False,
    ),
    "http20": ("GET", b"HTTP/2.0 200 OK\r\n" + LENGTH_2 + b"\r\nhi", False),
    "until-eof": ("GET", OK + b"\r\nread until the server closes", True),
    "bare-lf": ("GET", b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", False),
    "folded": ("GET", OK + b"X-Folded: a\r\n b\r\n" + LENGTH_2 + b"\r\nhi", False),
    "control-in-a-value": ("GET", OK + b"X-Ctl: a\x01b\r\n" + LENGTH_2 + b"\r\nhi", False),
    "whitespace-around-a-value": ("GET", OK + b"X: \t v \t\r\nContent-Length: 0\r\n\r\n", False),
    "trailers": ("GET", CHUNKED + b"2\r\nhi\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n", False),
    "folded-trailer": ("GET", CHUNKED + b"0\r\nT: a\r\n b\r\n\r\n", False),
    "bad-trailer": ("GET", CHUNKED + b"0\r\nBad Trailer\r\n\r\n", False),
    "extensions-and-lf-end": ("GET", CHUNKED + b"1;a=b;c\r\nx\r\n0\r\n\n", False),
    "chunk-too-long": ("GET", CHUNKED + b"1\r\nxy\r\n0\r\n\r\n", False),
    "chunk-footer-lf": ("GET", CHUNKED + b"1\r\nx\n0\r\n\r\n", False),
    "bad-chunk-size": ("GET", CHUNKED + b"zz\r\n", False),
    "eof-before-a-chunk": ("GET", CHUNKED, True),
    "eof-in-a-chunk": ("GET", CHUNKED + b"5\r\nab", True),
    "eof-in-a-chunk-footer": ("GET", CHUNKED + b"5\r\nabcde\r", True),
    "eof-in-a-chunk-size": ("GET", CHUNKED + b"5", True),
    "eof-before-the-last-blank-line": ("GET", CHUNKED + b"0\r\n\r", True),
    "eof-in-the-body": ("GET", OK + b"Content-Length: 10\r\n\r\nabc", True),
    "eof-in-the-head": ("GET", OK + b"Content-Le", True),
    "eof-at-once": ("GET", b"", True),
    "status-under-100": ("GET", b"HTTP/1.1 099 Low\r\n\r\n", False),
    "nul-in-the-reason": ("GET", b"HTTP/1.1 200 O\x00K\r\n\r\n", False),
    "control-in-the-reason": ("GET", b"HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n", False),
    "leading-space": ("GET", b" " + OK + b"\r\n", False),
    "leading-blank-line": ("GET", b"\r\n" + OK + b"\r\n", False),
    "ssh": ("GET", b"SSH-2.0-OpenSSH_9.6\r\n\r\n", False),
    "html": ("GET", b"<html>hello</html>\r\n\r\n", False),
    "header-without-colon": ("GET", OK + b"Bad Header\r\n\r\n", False),
    "a-second-response": ("GET", PLAIN + OK + b"Content-Length: 0\r\n\r\n", False),
    "a-stray-blank-line-then-eof": ("GET", PLAIN + b"\r\n", True),
    "eof-after-the-end": ("GET", PLAIN, True),
    "data-after-close": ("GET", OK + CLOSE + LENGTH_2 + b"\r\nhi!", False),
    "eof-after-close": ("GET", OK + CLOSE + LENGTH_2 + b"\r\nhi", True),
}


@pytest.mark.parametrize("name", sorted(RULES))
def test_the_fast_codec_answers_as_h11(name: str) -> None:
    method, data, eof = RULES[name]
    for pieces in ([data], [data[i : i + 1] for i in range(len(data))]):
        exchange = Exchange(method=method, response=data, pieces=pieces, eof=eof)
        assert run(FastClientCodec, exchange) == run(ClientCodec, exchange)


def test_head_responses_have_no_body_and_the_next_cycle_is_fast_again() -> None:
    codec = codec_for("HEAD")
    codec.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    found = events(codec)
    assert isinstance(found[0], ResponseHead)
    assert found[1:] == [ResponseEnd(reusable=True)]
    codec.start_next_cycle()
    codec.encode_request(Request("GET", URL_TEXT), body=b"")
    codec.feed(PLAIN)
    assert joined(events(codec))[1:] == [BodyChunk(b"hello world"), ResponseEnd(reusable=True)]
    codec.start_next_cycle()
    assert codec.reusable


def test_bytes_received_before_a_head_request_go_to_h11_with_it() -> None:
    codec = FastClientCodec()
    codec.feed(b"HTTP/1.1 200 OK\r\n")
    codec.encode_request(Request("HEAD", URL_TEXT), body=b"")
    assert codec.next_event() is NEED_DATA
    codec.feed(b"Content-Length: 5\r\n\r\n")
    assert events(codec)[-1] == ResponseEnd(reusable=True)
    codec.feed(b"")
    with pytest.raises(RemoteProtocolError, match="closed the connection"):
        codec.next_event()
    assert not codec.reusable


def test_a_head_request_after_eof_is_answered_by_an_error() -> None:
    codec = FastClientCodec()
    codec.feed(b"")
    codec.encode_request(Request("HEAD", URL_TEXT), body=b"")
    with pytest.raises(RemoteProtocolError):
        codec.next_event()
    with pytest.raises(LocalProtocolError, match="after EOF"):
        codec.feed(b"late")


def test_a_delegated_cycle_forwards_everything() -> None:
    codec = FastClientCodec()
    request = Request("HEAD", URL_TEXT, headers={"Transfer-Encoding": "chunked"}, content=iter([]))
    assert codec.encode_request(request).endswith(b"Transfer-Encoding: chunked\r\n\r\n")
    assert codec.encode_chunk(b"ab") == b"2\r\nab\r\n"
    assert codec.encode_end() == b"0\r\n\r\n"
    with pytest.raises(InvalidRequestError):  # h11 says: a request is in progress
        codec.encode_request(Request("GET", URL_TEXT), body=b"")
    assert not codec.reusable
    with pytest.raises(RuntimeError, match="start_next_cycle"):
        codec.start_next_cycle()


def test_a_head_request_while_another_is_in_progress_is_refused() -> None:
    codec = codec_for("GET")
    with pytest.raises(InvalidRequestError, match="in progress"):
        codec.encode_request(Request("HEAD", URL_TEXT), body=b"")
    assert not codec.reusable


def test_a_response_delegated_midway_keeps_our_request_state() -> None:
    codec = FastClientCodec()
    codec.encode_request(Request("POST", URL_TEXT, content=iter([])))
    codec.feed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert events(codec)[-1] == ResponseEnd(reusable=False)  # our body was never ended
    with pytest.raises(RuntimeError, match="not sent whole"):
        codec.start_next_cycle()


def test_a_delegated_response_then_the_next_cycle() -> None:
    codec = codec_for("GET")
    codec.feed(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert codec.next_event() is NEED_DATA
    codec.feed(PLAIN)
    assert events(codec)[-1] == ResponseEnd(reusable=True)
    codec.start_next_cycle()
    codec.encode_request(Request("GET", URL_TEXT), body=b"")
    codec.feed(PLAIN)
    assert events(codec)[-1] == ResponseEnd(reusable=True)


def test_a_trailer_section_is_read_by_h11_and_the_connection_stays_usable() -> None:
    codec = codec_for("GET")
    codec.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T")
    assert joined(events(codec))[1:] == [BodyChunk(b"hi")]
    codec.feed(b": 1\r\n\r\n")
    assert events(codec) == [ResponseEnd(reusable=True)]
    codec.start_next_cycle()
    assert codec.reusable


def test_a_transfer_encoding_with_content_length_is_chunked_and_not_reusable() -> None:
    codec = codec_for("GET")
    codec.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n")
    codec.feed(b"2\r\nhi\r\n0\r\n\r\n")
    assert joined(events(codec))[1:] == [BodyChunk(b"hi"), ResponseEnd(reusable=False)]
    assert not codec.reusable
    codec.start_next_cycle()  # as h11 allows, but the doubt stays
    assert not codec.reusable


def test_http10_keep_alive_is_not_honoured() -> None:
    """RFC 9112 9.3: the recipient of HTTP/1.0 "keep-alive" MAY honour it; h11 does not,
    nor does the fast codec, so both close such a connection (HTTP/1.0 servers are rare,
    and a persistent HTTP/1.0 connection without Content-Length cannot end a body)."""
    data = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"
    assert get(FastClientCodec, "GET", data)[-1] == ResponseEnd(reusable=False)


def test_data_after_a_response_that_closes_is_a_protocol_error() -> None:
    codec = codec_for("GET")
    codec.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi")
    assert events(codec)[-1] == ResponseEnd(reusable=False)
    codec.feed(b"more")
    with pytest.raises(RemoteProtocolError, match="data after a response"):
        codec.next_event()
    with pytest.raises(RemoteProtocolError):
        codec.next_event()
    codec.feed(b"ignored")  # a broken connection reads nothing more
    with pytest.raises(RuntimeError):
        codec.start_next_cycle()


def test_bytes_after_a_kept_alive_response_wait_and_are_no_response() -> None:
    codec = codec_for("GET")
    codec.feed(PLAIN + b"HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nb")
    assert events(codec)[-1] == ResponseEnd(reusable=False)
    assert codec.next_event() is NEED_DATA
    codec.start_next_cycle()  # as h11 allows; the reader never does this
    codec.encode_request(Request("GET", URL_TEXT), body=b"")
    found = joined(events(codec))
    assert found[0] == ("head", 404, [("content-length", "1")])


def test_a_response_before_any_request_is_a_protocol_error() -> None:
    codec = FastClientCodec()
    codec.feed(b"HTTP/1.1 200 OK\r\n")
    assert codec.next_event() is NEED_DATA
    codec.feed(b"\r\n")
    with pytest.raises(RemoteProtocolError, match="before any request"):
        codec.next_event()


@pytest.mark.parametrize("byte_by_byte", [False, True])
@pytest.mark.parametrize(("size", "ok"), [(1024, True), (1025, False)])
def test_the_header_block_bound(byte_by_byte: bool, size: int, ok: bool) -> None:
    start = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: "
    data = start + b"a" * (size - len(start) - 4) + b"\r\n\r\n"
    pieces = [data[i : i + 1] for i in range(len(data))] if byte_by_byte else [data]
    for codec_class in (ClientCodec, FastClientCodec):
        codec = codec_for("GET", codec_class, max_header_bytes=1024)
        found: list[ResponseEvent] = []
        try:
            for piece in pieces:
                codec.feed(piece)
                found += events(codec)
        except RemoteProtocolError:
            assert not ok
        else:
            assert ok
            assert found[-1] == ResponseEnd(reusable=True)


@pytest.mark.parametrize("codec_class", [ClientCodec, FastClientCodec])
def test_an_endless_header_block_fails_without_buffering_it(
    codec_class: type[ClientCodec],
) -> None:
    """Both codecs: the error comes as soon as the bound is passed."""
    limit, line = 4096, b"X-Long: " + b"a" * 500 + b"\r\n"
    codec = codec_for("GET", codec_class, max_header_bytes=limit)
    codec.feed(b"HTTP/1.1 200 OK\r\n")
    fed = 0

    def feed_ten_times_the_limit() -> None:
        nonlocal fed
        while fed < 10 * limit:
            codec.feed(line)
            fed += len(line)
            assert codec.next_event() is NEED_DATA

    with pytest.raises(RemoteProtocolError, match="Receive buffer too long"):
        feed_ten_times_the_limit()
    assert fed <= limit + len(line)


def test_an_endless_chunk_size_line_fails_without_buffering_it() -> None:
    codec = codec_for("GET", max_header_bytes=1024)
    codec.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=")
    assert isinstance(codec.next_event(), ResponseHead)

    def feed_a_long_line() -> None:
        for _ in range(100):
            codec.feed(b"x" * 100)
            assert codec.next_event() is NEED_DATA

    with pytest.raises(RemoteProtocolError, match="Receive buffer too long"):
        feed_a_long_line()


def test_a_body_streamed_in_pieces_does_not_accumulate() -> None:
    codec = codec_for("GET")
    codec.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert isinstance(codec.next_event(), ResponseHead)
    body = b""
    for _ in range(200):  # every read ends inside a chunk-size line
        codec.feed(bytearray(b"100\r\n" + b"x" * 0x100 + b"\r\n1"))
        body += b"".join(e.data for e in events(codec) if isinstance(e, BodyChunk))
        codec.feed(b"0")
        assert codec.next_event() is NEED_DATA
        codec.feed(b"0\r\n" + b"y" * 0x100 + b"\r\n")
        body += b"".join(e.data for e in events(codec) if isinstance(e, BodyChunk))
        assert len(codec._buf) - codec._pos < 8  # type: ignore[attr-defined]
    assert body == (b"x" * 0x100 + b"y" * 0x100) * 200


def test_the_reader_assembles_a_response_from_the_fast_codec() -> None:
    request = Request("GET", URL_TEXT)
    codec = new_codec()
    codec.encode_request(request, body=b"")
    reader = ResponseReader(codec, request, max_size=1 << 20)
    assert reader.step() is NEED_DATA
    reader.feed(PLAIN[:30])
    assert reader.step() is NEED_DATA
    reader.feed(PLAIN[30:])
    step = reader.step()
    assert step is not NEED_DATA
    response, reusable = step
    assert (response.status_code, response.content, reusable) == (200, b"hello world", True)
    codec.encode_request(request, body=b"")  # the reader started the next cycle


class _LenientParser:
    """Stands in for an llhttp that lets more through than 0.9 does (older releases
    were laxer): the checks made after it must still leave these heads to h11."""

    def __init__(self, protocol: object) -> None:
        pass

    def feed_data(self, data: object) -> None:
        pass


@pytest.mark.parametrize(
    "data",
    [
        OK + b"X: a\nContent-Length: 2\r\n\r\nhi",
        OK + b"X: a\rb\r\nContent-Length: 2\r\n\r\nhi",
        OK + b"X: a\r\n b\r\nContent-Length: 2\r\n\r\nhi",
        OK + b"X: a\r\n\tb\r\nContent-Length: 2\r\n\r\nhi",
        OK + b"Content-Length: 2x\r\n\r\nhi",
        b"HTTP/1.1 2000 OK\r\n\r\n",
    ],
)
def test_heads_a_lenient_llhttp_would_pass_still_get_h11s_answer(
    data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fasthead, "HttpResponseParser", _LenientParser)
    monkeypatch.setattr(fasthead, "_strict", [])  # probed again, with the lenient parser
    exchange = Exchange(response=data, pieces=[data])
    assert run(FastClientCodec, exchange) == run(ClientCodec, exchange)
    assert fasthead._strict == [False]


def test_the_installed_llhttp_refuses_what_h11_must_judge() -> None:
    """The fast path skips its own bare CR/LF and folding checks only on this answer."""
    assert fasthead._llhttp_is_strict()


@pytest.mark.parametrize("codec_class", [ClientCodec, FastClientCodec])
def test_data_after_eof_is_refused(codec_class: type[ClientCodec]) -> None:
    codec = codec_for("GET", codec_class)
    codec.feed(b"")
    with pytest.raises(LocalProtocolError, match="after EOF"):
        codec.feed(b"HTTP/1.1 200 OK\r\n")
    assert not codec.reusable


@pytest.mark.parametrize("codec_class", [ClientCodec, FastClientCodec])
def test_no_request_is_sent_after_the_server_broke_the_protocol(
    codec_class: type[ClientCodec],
) -> None:
    """Found by these tests: h11 0.16 fails with an AttributeError while wording its
    refusal of a request on a connection the server broke first. Both codecs now refuse
    it as a protocol error that sent nothing (safe to retry on another connection)."""
    codec = codec_class()
    codec.feed(b"\x00garbage")
    with pytest.raises(RemoteProtocolError):
        codec.next_event()
    with pytest.raises(RemoteProtocolError, match="was not sent") as info:
        codec.encode_request(Request("GET", URL_TEXT), body=b"")
    assert info.value.request_sent is False
    with pytest.raises(RemoteProtocolError):
        codec.next_event()
    assert not codec.reusable


def test_pieces_that_end_inside_chunk_size_lines() -> None:
    pieces = [
        CHUNKED + b"5\r\nab",
        b"cde\r\n1",
        b"0\r\n" + b"x" * 16 + b"\r\n3",
        b"\r\nabc\r\n0\r\n\r\n",
    ]
    exchange = Exchange(response=b"".join(pieces), pieces=pieces)
    found = run(FastClientCodec, exchange)
    assert found == run(ClientCodec, exchange)
    assert BodyChunk(b"abcde" + b"x" * 16 + b"abc") in found


@pytest.mark.parametrize(
    "response",
    [
        OK + b"Content-Length: 6\r\n\r\n\r\n\r\nab",  # a body that holds CRLF CRLF
        OK + b"X: a\n\r\nContent-Length: 6\r\n\r\n\r\n\r\nab",  # h11 ends the head early
        OK + b"X: a\n\nContent-Length: 2\r\n\r\nab",
    ],
)
def test_a_head_split_anywhere_ends_where_h11_says(response: bytes) -> None:
    for at in range(1, len(response)):
        exchange = Exchange(response=response, pieces=[response[:at], response[at:]])
        assert run(FastClientCodec, exchange) == run(ClientCodec, exchange), at


def test_a_plain_response_reaches_the_caller_with_its_headers_still_a_block() -> None:
    """Nothing on the way (reader, redaction, the call's decision) splits the headers:
    that work waits for a caller who needs the whole list."""
    policy = DEFAULT_REDACTION.extended(sensitive_headers=["x-request-id"])
    headers = Headers({"Accept": "*/*"}).with_redaction(policy)  # as a client's are
    request = Request("GET", URL_TEXT, headers=headers)
    call = Call(request, now=0.0, rng=random.Random(0))
    sent = call.next_event()
    assert isinstance(sent, SendRequest)
    codec = new_codec()
    codec.encode_request(sent.request, body=b"")
    reader = ResponseReader(codec, sent.request, max_size=1 << 20)
    codec.feed(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: r-1\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    )
    result = reader.step()
    assert result is not NEED_DATA
    response, reusable = result
    assert reusable
    call.receive_response(response, now=0.0)
    done = call.next_event()
    assert isinstance(done, Completed)
    assert done.response.headers._pending is not None
    assert done.response.headers.redaction is policy
    assert done.response.request_id == "r-1"  # a lookup by name leaves it so
    assert done.response.headers._pending is not None
    assert done.response.json() == {}
