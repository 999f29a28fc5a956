"""FastClientCodec reading responses: each rule the fast codec decides or hands to h11
answers as h11 does (bodies, HEAD, trailers, keep-alive, bounds, a lenient llhttp,
pieces cut anywhere)."""

from __future__ import annotations

import random

import pytest
from _fastcodec_helpers import URL_TEXT, Exchange, codec_for, events, get, joined, run

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
from sdk_core.lowlevel import (
    DEFAULT_REDACTION,
    NEED_DATA,
    BodyChunk,
    ClientCodec,
    FastClientCodec,
    ResponseEnd,
    ResponseEvent,
    ResponseHead,
    ResponseReader,
    new_codec,
)

pytest.importorskip("httptools")  # the fast codec is an optional extra

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
