"""ClientCodec: requests to bytes, response bytes to events, whole, chunked or byte by byte."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk_core import (
    APIError,
    CallStateError,
    InvalidRequestError,
    LocalProtocolError,
    RemoteProtocolError,
    Request,
)
from sdk_core._http11 import (
    MAX_HEADER_BYTES,
    NEED_DATA,
    BodyChunk,
    ClientCodec,
    ResponseEnd,
    ResponseEvent,
    ResponseHead,
)

URL = "http://example.com/v1/items?q=1"


def get_codec(method: str = "GET", **kwargs: int) -> ClientCodec:
    codec = ClientCodec(**kwargs)
    codec.encode_request(Request(method, URL), body=b"")
    return codec


def pull(codec: ClientCodec) -> list[ResponseEvent]:
    """Every event available now, up to NEED_DATA or the end of the response."""
    events: list[ResponseEvent] = []
    while True:
        event = codec.next_event()
        if event is NEED_DATA:
            return events
        events.append(event)
        if isinstance(event, ResponseEnd):
            return events


def normal(events: list[ResponseEvent]) -> list[object]:
    """Body chunks joined: how data is split is the only thing feeding may change."""
    out: list[object] = []
    for event in events:
        if isinstance(event, BodyChunk) and out and isinstance(out[-1], BodyChunk):
            out[-1] = BodyChunk(out[-1].data + event.data)
        elif not (isinstance(event, BodyChunk) and not event.data):
            out.append(event)
    return out


def parse(pieces: list[bytes], method: str = "GET", *, eof: bool = False) -> list[object]:
    codec = get_codec(method)
    events: list[ResponseEvent] = []
    for piece in pieces:
        codec.feed(piece)
        events += pull(codec)
    if eof:
        codec.feed(b"")
        events += pull(codec)
    assert isinstance(events[-1], ResponseEnd)
    return normal(events)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def feed_all(codec: ClientCodec, pieces: list[bytes]) -> list[ResponseEvent]:
    events: list[ResponseEvent] = []
    for piece in pieces:
        codec.feed(piece)
        events += pull(codec)
    return events


def head(events: Sequence[object]) -> ResponseHead:
    first = events[0]
    assert isinstance(first, ResponseHead)
    return first


# -- encoding --------------------------------------------------------------------


def test_encode_get() -> None:
    codec = ClientCodec()
    out = codec.encode_request(Request("GET", URL, headers={"Accept": "*/*"}), body=b"")
    assert out == b"GET /v1/items?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"


def test_encode_host_header_keeps_a_port_and_a_given_host() -> None:
    codec = ClientCodec()
    out = codec.encode_request(Request("GET", "http://example.com:8080/"), body=b"")
    assert out.startswith(b"GET / HTTP/1.1\r\nHost: example.com:8080\r\n")
    codec = ClientCodec()
    out = codec.encode_request(
        Request("GET", "https://example.com/", headers={"host": "other"}), body=b""
    )
    assert out == b"GET / HTTP/1.1\r\nhost: other\r\n\r\n"


def test_encode_post_appends_the_body() -> None:
    codec = ClientCodec()
    request = Request("POST", URL, content=b'{"a":1}')
    out = codec.encode_request(request, body=b'{"a":1}')
    assert out == (
        b'POST /v1/items?q=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 7\r\n\r\n{"a":1}'
    )


def test_encode_post_with_an_empty_body() -> None:
    codec = ClientCodec()
    out = codec.encode_request(Request("POST", URL), body=b"")
    assert out.endswith(b"Content-Length: 0\r\n\r\n")


def test_encode_streamed_body_is_chunked() -> None:
    codec = ClientCodec()
    request = Request("POST", URL, content=iter([b"ab", b"cde"]))
    out = codec.encode_request(request)
    assert out == (
        b"POST /v1/items?q=1 HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    assert codec.encode_chunk(b"ab") == b"2\r\nab\r\n"
    assert codec.encode_chunk(b"") == b""  # never the terminating empty chunk
    assert codec.encode_chunk(b"cde") == b"3\r\ncde\r\n"
    assert codec.encode_end() == b"0\r\n\r\n"
    assert codec.reusable


def test_encode_streamed_body_with_a_declared_length() -> None:
    codec = ClientCodec()
    request = Request("PUT", URL, headers={"Content-Length": "5"}, content=iter([]))
    out = codec.encode_request(request)
    assert b"Transfer-Encoding" not in out
    assert out.endswith(b"Content-Length: 5\r\n\r\n")
    assert codec.encode_chunk(b"ab") + codec.encode_chunk(b"cde") == b"abcde"
    assert codec.encode_end() == b""


def test_streamed_body_longer_than_its_content_length_is_refused() -> None:
    codec = ClientCodec()
    codec.encode_request(Request("PUT", URL, headers={"Content-Length": "3"}, content=iter([])))
    with pytest.raises(InvalidRequestError, match="body cannot be sent"):
        codec.encode_chunk(b"abcd")
    assert not codec.reusable


def test_streamed_body_shorter_than_its_content_length_is_refused() -> None:
    codec = ClientCodec()
    codec.encode_request(Request("PUT", URL, headers={"Content-Length": "3"}, content=iter([])))
    codec.encode_chunk(b"ab")
    with pytest.raises(InvalidRequestError, match="cannot be ended"):
        codec.encode_end()
    assert not codec.reusable


def test_transfer_encoding_and_content_length_together_are_refused() -> None:
    """Bytes content gets a Content-Length; a caller's Transfer-Encoding would then
    frame the body two ways, which lets a proxy and a server split it differently."""
    codec = ClientCodec()
    request = Request("POST", URL, headers={"Transfer-Encoding": "chunked"}, content=b"abc")
    with pytest.raises(InvalidRequestError, match="both Transfer-Encoding and Content-Length"):
        codec.encode_request(request, body=b"abc")


def test_unsupported_transfer_encoding_is_refused() -> None:
    codec = ClientCodec()
    request = Request("POST", URL, headers={"Transfer-Encoding": "gzip"}, content=iter([]))
    with pytest.raises(InvalidRequestError, match="cannot be sent"):
        codec.encode_request(request)
    assert not codec.reusable


def test_a_second_request_before_the_cycle_ends_is_refused() -> None:
    codec = get_codec()
    with pytest.raises(InvalidRequestError):
        codec.encode_request(Request("GET", URL), body=b"")
    assert not codec.reusable


# -- parsing: the same events however the bytes arrive ------------------------------

RESPONSES: dict[str, tuple[bytes, str, bool]] = {
    # name: (bytes, request method, needs EOF to end)
    "content-length": (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
        "GET",
        False,
    ),
    "chunked": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n",
        "GET",
        False,
    ),
    "informational": (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
        "POST",
        False,
    ),
    "until-eof": (b"HTTP/1.1 200 OK\r\n\r\nread until the server closes", "GET", True),
    "head": (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", "HEAD", False),
    "no-content": (b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", "DELETE", False),
    "not-modified": (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", "GET", False),
    "http10": (b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc", "GET", False),
}


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_whole_and_byte_by_byte_give_the_same_events(name: str) -> None:
    data, method, eof = RESPONSES[name]
    whole = parse([data], method, eof=eof)
    assert parse([data[i : i + 1] for i in range(len(data))], method, eof=eof) == whole


@given(name=st.sampled_from(sorted(RESPONSES)), cuts=st.lists(st.integers(0, 10_000)))
def test_random_chunks_give_the_same_events(name: str, cuts: list[int]) -> None:
    data, method, eof = RESPONSES[name]
    assert parse(split(data, cuts), method, eof=eof) == parse([data], method, eof=eof)


def test_content_length_response() -> None:
    events = parse([RESPONSES["content-length"][0]])
    assert head(events).status_code == 200
    assert head(events).headers["content-type"] == "text/plain"
    assert head(events).headers["CONTENT-LENGTH"] == "11"
    assert events[1:] == [BodyChunk(b"hello world"), ResponseEnd(reusable=True)]


def test_chunked_response() -> None:
    events = parse([RESPONSES["chunked"][0]])
    assert events[1:] == [BodyChunk(b"hello world"), ResponseEnd(reusable=True)]


def test_informational_responses_are_skipped() -> None:
    events = parse([RESPONSES["informational"][0]], "POST")
    assert head(events).status_code == 201
    assert "link" not in head(events).headers
    assert events[1:] == [BodyChunk(b"ok"), ResponseEnd(reusable=True)]


@pytest.mark.parametrize("name", ["head", "no-content", "not-modified"])
def test_responses_without_a_body(name: str) -> None:
    data, method, _ = RESPONSES[name]
    events = parse([data], method)
    assert len(events) == 2
    assert events[1] == ResponseEnd(reusable=True)


def test_body_until_eof_is_not_reusable() -> None:
    events = parse([RESPONSES["until-eof"][0]], eof=True)
    assert events[1:] == [BodyChunk(b"read until the server closes"), ResponseEnd(reusable=False)]


def test_http10_response_is_not_reusable() -> None:
    events = parse([RESPONSES["http10"][0]])
    assert events[1:] == [BodyChunk(b"abc"), ResponseEnd(reusable=False)]


def test_connection_close_is_not_reusable() -> None:
    data = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi"
    assert parse([data])[-1] == ResponseEnd(reusable=False)


def test_identical_repeated_content_length_is_accepted() -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi"
    assert parse([data])[1:] == [BodyChunk(b"hi"), ResponseEnd(reusable=True)]


@pytest.mark.parametrize(
    "lengths",
    [b"Content-Length: 2\r\nContent-Length: 3\r\n", b"Content-Length: 2, 3\r\n"],
)
def test_conflicting_content_length_is_a_protocol_error(lengths: bytes) -> None:
    codec = get_codec()
    codec.feed(b"HTTP/1.1 200 OK\r\n" + lengths + b"\r\nhi")
    with pytest.raises(RemoteProtocolError) as info:
        codec.next_event()
    assert info.value.request_sent is True
    assert not codec.reusable


def test_transfer_encoding_with_content_length_is_chunked_and_not_reusable() -> None:
    data = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nhi\r\n0\r\n\r\n"
    )
    codec = get_codec()
    codec.feed(data)
    events = normal(pull(codec))
    assert events[1:] == [BodyChunk(b"hi"), ResponseEnd(reusable=False)]
    assert not codec.reusable


def test_unsupported_response_transfer_encoding_is_a_protocol_error() -> None:
    codec = get_codec()
    codec.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")
    with pytest.raises(RemoteProtocolError):
        codec.next_event()


def test_unrequested_switching_protocols_is_a_protocol_error() -> None:
    codec = get_codec()
    codec.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
    with pytest.raises(RemoteProtocolError):
        codec.next_event()


# -- truncation and EOF -----------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Le",
    ],
    ids=["content-length", "chunked-mid-chunk", "chunked-between-chunks", "mid-head"],
)
def test_eof_in_the_middle_of_a_response_is_a_protocol_error(data: bytes) -> None:
    codec = get_codec()
    codec.feed(data)
    pull(codec)
    codec.feed(b"")
    with pytest.raises(RemoteProtocolError):
        pull(codec)
    assert not codec.reusable


def test_eof_before_any_response_is_a_protocol_error() -> None:
    codec = get_codec()
    assert codec.next_event() is NEED_DATA
    codec.feed(b"")
    with pytest.raises(RemoteProtocolError, match="without sending a complete response head"):
        codec.next_event()
    assert not codec.reusable


def test_data_after_eof_is_refused() -> None:
    codec = get_codec()
    codec.feed(b"")
    with pytest.raises(LocalProtocolError, match="after EOF") as caught:
        codec.feed(b"HTTP/1.1 200 OK\r\n")
    assert not codec.reusable
    # The driver's bug: not the peer's (no RemoteProtocolError), and not an APIError,
    # so no client retries it as a connection failure.
    assert not isinstance(caught.value, APIError)
    assert issubclass(CallStateError, LocalProtocolError)


# -- bounds and garbage ------------------------------------------------------------


def head_of_size(size: int, status: bytes = b"200 OK") -> bytes:
    """A response head of exactly ``size`` bytes, ending with the blank line."""
    start = b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nX-Pad: "
    pad = size - len(start) - 4
    assert pad > 0
    block = start + b"a" * pad + b"\r\n\r\n"
    assert len(block) == size
    return block


@pytest.mark.parametrize("byte_by_byte", [False, True])
def test_a_header_block_at_the_limit_is_accepted(byte_by_byte: bool) -> None:
    codec = get_codec(max_header_bytes=1024)
    data = head_of_size(1024)
    pieces = [data[i : i + 1] for i in range(len(data))] if byte_by_byte else [data]
    events = feed_all(codec, pieces)
    assert isinstance(events[0], ResponseHead)
    assert events[-1] == ResponseEnd(reusable=True)


@pytest.mark.parametrize("byte_by_byte", [False, True])
@pytest.mark.parametrize("status", [b"200 OK", b"100 Continue"])
def test_a_header_block_over_the_limit_is_a_protocol_error(
    byte_by_byte: bool, status: bytes
) -> None:
    codec = get_codec(max_header_bytes=1024)
    data = head_of_size(1025, status)
    pieces = [data[i : i + 1] for i in range(len(data))] if byte_by_byte else [data]
    with pytest.raises(RemoteProtocolError):
        feed_all(codec, pieces)
    assert not codec.reusable


def test_default_header_limit() -> None:
    codec = get_codec()
    codec.feed(head_of_size(MAX_HEADER_BYTES + 1))
    with pytest.raises(RemoteProtocolError, match="larger than 65536 bytes"):
        codec.next_event()


@pytest.mark.parametrize(
    "data",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"<html>hello</html>\r\n\r\n",
        b"HTTP/1.1 2OO OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_garbage_is_a_protocol_error(data: bytes) -> None:
    codec = get_codec()
    codec.feed(data)
    with pytest.raises(RemoteProtocolError):
        pull(codec)
    assert not codec.reusable
    with pytest.raises(RemoteProtocolError):  # and it stays broken
        codec.next_event()


# -- keep-alive --------------------------------------------------------------------


def test_two_cycles_on_one_connection() -> None:
    codec = ClientCodec()
    for i in range(2):
        body = f"response {i}".encode()
        codec.encode_request(Request("GET", URL), body=b"")
        codec.feed(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        events = normal(pull(codec))
        assert events[1:] == [BodyChunk(body), ResponseEnd(reusable=True)]
        assert codec.reusable
        codec.start_next_cycle()


def test_bytes_after_a_response_make_it_not_reusable() -> None:
    """Nothing is pipelined, so a second response already received answers no request:
    RFC 9112 6.3, a client MUST NOT process such extra data as a separate response."""
    first = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
    second = b"HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nb"
    codec = get_codec()
    codec.feed(first + second)
    assert normal(pull(codec))[1:] == [BodyChunk(b"a"), ResponseEnd(reusable=False)]
    assert codec.next_event() is NEED_DATA  # h11 pauses: nothing more for this cycle


def test_pipelined_bytes_wait_for_the_next_cycle() -> None:
    """A driver that starts the next cycle anyway (none here does) gets h11's reading."""
    first = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
    second = b"HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nb"
    codec = get_codec()
    codec.feed(first + second)
    assert normal(pull(codec))[1:] == [BodyChunk(b"a"), ResponseEnd(reusable=False)]
    assert codec.next_event() is NEED_DATA  # h11 pauses: nothing more for this cycle
    codec.start_next_cycle()
    codec.encode_request(Request("GET", URL), body=b"")
    events = normal(pull(codec))
    assert head(events).status_code == 404
    assert events[1:] == [BodyChunk(b"b"), ResponseEnd(reusable=True)]


def test_response_before_the_request_body_is_sent_is_not_reusable() -> None:
    codec = ClientCodec()
    codec.encode_request(Request("POST", URL, content=iter([])))
    codec.encode_chunk(b"partial")
    codec.feed(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n")
    events = pull(codec)
    assert head(events).status_code == 413
    assert events[-1] == ResponseEnd(reusable=False)


def test_reusable_becomes_false_after_an_error() -> None:
    codec = get_codec()
    assert codec.reusable
    codec.feed(b"garbage\r\n\r\n")
    with pytest.raises(RemoteProtocolError):
        codec.next_event()
    assert not codec.reusable


def test_eof_right_after_a_complete_response_is_not_reusable() -> None:
    codec = get_codec()
    codec.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
    codec.feed(b"")  # the server closed as it answered
    assert normal(pull(codec))[1:] == [BodyChunk(b"hi"), ResponseEnd(reusable=False)]


def test_eof_after_the_response_ended_is_reported_when_asked() -> None:
    codec = get_codec()
    codec.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
    assert pull(codec)[-1] == ResponseEnd(reusable=True)
    codec.feed(b"")
    with pytest.raises(RemoteProtocolError, match="closed the connection"):
        codec.next_event()
    assert not codec.reusable


def test_eof_after_an_informational_response() -> None:
    codec = get_codec("POST")
    codec.feed(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert codec.next_event() is NEED_DATA
    codec.feed(b"")
    with pytest.raises(RemoteProtocolError, match="without sending a complete response head"):
        codec.next_event()


def test_need_data_is_a_sentinel() -> None:
    assert repr(NEED_DATA) == "NEED_DATA"
    assert NEED_DATA is not None
