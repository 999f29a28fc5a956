"""StreamReader: the head, then the body in decoded pieces of at most ``window`` bytes,
the same however the bytes are cut, on both codecs; ``reusable`` only after a whole
body the connection can carry on from."""

from __future__ import annotations

import gzip
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdk_core import RemoteProtocolError, Request, Response
from sdk_core.lowlevel import HAS_HTTPTOOLS, NEED_DATA, ClientCodec, FastClientCodec, StreamReader

REQUEST = Request("GET", "http://example.test/x")
# The llhttp codec exists only where httptools is installed (the h11 run hides it).
CODECS = [ClientCodec, FastClientCodec] if HAS_HTTPTOOLS else [ClientCodec]
BODY = bytes(range(256)) * 40  # 10,240 bytes


def cut(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(raw), *(c % (len(raw) + 1) for c in cuts)})
    return [raw[a:b] for a, b in itertools.pairwise(points)]


def stream(
    codec_class: type[ClientCodec], raw: bytes, cuts: list[int], window: int, *, eof: bool = True
) -> tuple[Response, list[bytes], StreamReader]:
    """Feed ``raw`` in pieces (then EOF, when ``eof``); the head and every body piece."""
    codec = codec_class()
    codec.encode_request(REQUEST, body=b"")
    reader = StreamReader(codec, REQUEST, window=window)
    chunks = [*cut(raw, cuts), *([b""] if eof else [])]
    head = reader.head()
    while head is NEED_DATA:
        reader.feed(chunks.pop(0))
        head = reader.head()
    pieces: list[bytes] = []
    while True:
        piece = reader.body()
        if piece is NEED_DATA:
            reader.feed(chunks.pop(0))
            continue
        if not piece:
            return head, pieces, reader
        pieces.append(piece)


def framed(body: bytes, *headers: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(h + b"\r\n" for h in headers)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


@pytest.mark.parametrize("codec_class", CODECS)
@settings(max_examples=50, deadline=None)
@given(cuts=st.lists(st.integers(0, 20_000), max_size=12), window=st.integers(1, 5000))
def test_pieces_are_bounded_and_add_up(
    codec_class: type[ClientCodec], cuts: list[int], window: int
) -> None:
    head, pieces, reader = stream(codec_class, framed(BODY, b"X-Request-Id: r1"), cuts, window)
    assert (head.status_code, head.content, head.request_id) == (200, b"", "r1")
    assert head.request is REQUEST
    assert b"".join(pieces) == BODY
    assert max(map(len, pieces)) <= window
    assert reader.reusable
    assert reader.body() == b""  # and from then on


@pytest.mark.parametrize("codec_class", CODECS)
def test_gzip_and_chunked_bodies_are_decoded(codec_class: type[ClientCodec]) -> None:
    packed = gzip.compress(BODY)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in cut(packed, [7, 300, 2000]))
    raw = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunked
        + b"0\r\n\r\n"
    )
    _, pieces, reader = stream(codec_class, raw, [5, 50, 500], 1000)
    assert b"".join(pieces) == BODY
    assert max(map(len, pieces)) <= 1000
    assert reader.reusable


@pytest.mark.parametrize("codec_class", CODECS)
def test_a_body_framed_by_eof_is_never_reusable(codec_class: type[ClientCodec]) -> None:
    raw = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BODY
    _, pieces, reader = stream(codec_class, raw, [100], 4096)
    assert b"".join(pieces) == BODY
    assert not reader.reusable


@pytest.mark.parametrize("codec_class", CODECS)
def test_a_truncated_body_raises(codec_class: type[ClientCodec]) -> None:
    raw = framed(BODY)[:-10]
    with pytest.raises(RemoteProtocolError):
        stream(codec_class, raw, [], 4096)


@pytest.mark.parametrize("codec_class", CODECS)
def test_a_truncated_gzip_stream_raises_at_the_end(codec_class: type[ClientCodec]) -> None:
    raw = framed(gzip.compress(BODY)[:-12], b"Content-Encoding: gzip")
    with pytest.raises(RemoteProtocolError, match="compressed stream"):
        stream(codec_class, raw, [], 4096)
