"""ResponseReader: codec events assembled into a Response, fed whole or byte by byte."""

from __future__ import annotations

import gzip
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk_core import RemoteProtocolError, Request, ResponseTooLargeError
from sdk_core.lowlevel import NEED_DATA, ClientCodec, ResponseReader

REQUEST = Request("GET", "http://example.test/x")


def read(raw: bytes, pieces: list[int] | None = None, *, max_size: int = 1 << 20):
    codec = ClientCodec()
    codec.encode_request(REQUEST, body=b"")
    reader = ResponseReader(codec, REQUEST, max_size=max_size)
    cuts = sorted({0, len(raw), *(p % (len(raw) + 1) for p in (pieces or []))})
    chunks = [raw[a:b] for a, b in itertools.pairwise(cuts)] + [b""]
    for chunk in chunks:
        step = reader.step()
        if step is not NEED_DATA:
            return step
        reader.feed(chunk)
    return reader.step()


BODY = b'{"ok": true}'
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-Request-Id: r1\r\n\r\n" + BODY


@given(st.lists(st.integers(min_value=0, max_value=len(RESPONSE)), max_size=20))
def test_the_same_response_however_it_is_cut(cuts: list[int]) -> None:
    step = read(RESPONSE, cuts)
    assert step is not NEED_DATA
    response, reusable = step
    assert (response.status_code, response.content, response.request_id) == (200, BODY, "r1")
    assert response.request is REQUEST
    assert reusable


def test_a_gzip_body_is_decoded() -> None:
    packed = gzip.compress(BODY)
    raw = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "
        + str(len(packed)).encode()
        + b"\r\n\r\n"
        + packed
    )
    step = read(raw)
    assert step is not NEED_DATA
    assert step[0].content == BODY


def test_a_body_framed_by_eof_is_not_reusable() -> None:
    step = read(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BODY)
    assert step is not NEED_DATA
    assert step == (step[0], False)
    assert step[0].content == BODY


def test_eof_inside_the_body_is_a_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError):
        read(RESPONSE[:-3])


def test_the_size_bound_holds() -> None:
    with pytest.raises(ResponseTooLargeError):
        read(RESPONSE, max_size=len(BODY) - 1)


def test_need_data_until_bytes_arrive() -> None:
    codec = ClientCodec()
    codec.encode_request(REQUEST, body=b"")
    reader = ResponseReader(codec, REQUEST, max_size=100)
    assert reader.step() is NEED_DATA
    reader.feed(RESPONSE[:20])
    assert reader.step() is NEED_DATA
