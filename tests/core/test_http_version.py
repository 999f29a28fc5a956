"""A status line whose HTTP version is not 1.x is the peer's fault: both codecs refuse
it with ``RemoteProtocolError`` naming the version, whole and byte by byte, in a final
response and in a 1xx before it; HTTP/1.0, HTTP/1.1 (and a later 1.x) are read."""

from __future__ import annotations

import pytest

from sdk_core import RemoteProtocolError, Request
from sdk_core.lowlevel import (
    HAS_HTTPTOOLS,
    NEED_DATA,
    BodyChunk,
    ClientCodec,
    FastClientCodec,
    ResponseEnd,
    ResponseHead,
)

# The llhttp codec exists only where httptools is installed (the h11 run hides it).
CODECS = [ClientCodec, FastClientCodec] if HAS_HTTPTOOLS else [ClientCodec]
REFUSED = ["0.5", "0.9", "2.0", "3.0", "9.9"]
BODY = b"Content-Length: 2\r\n\r\nhi"


def drain(codec: ClientCodec, pieces: list[bytes]) -> list[object]:
    """Feed ``pieces`` one after another, taking every event each makes possible."""
    found: list[object] = []
    for piece in pieces:
        codec.feed(piece)
        while (event := codec.next_event()) is not NEED_DATA:
            found.append(event)
    return found


def read_all(codec_class: type[ClientCodec], data: bytes, *, byte_by_byte: bool) -> list[object]:
    """Every event ``data`` gives after a GET, fed whole or a byte at a time."""
    codec = codec_class()
    codec.encode_request(Request("GET", "http://example.com/"), body=b"")
    pieces = [data[i : i + 1] for i in range(len(data))] if byte_by_byte else [data]
    return drain(codec, pieces)


@pytest.mark.parametrize("byte_by_byte", [False, True], ids=["whole", "bytes"])
@pytest.mark.parametrize("version", REFUSED)
@pytest.mark.parametrize("codec_class", CODECS)
def test_a_version_other_than_1_x_is_refused(
    codec_class: type[ClientCodec], version: str, byte_by_byte: bool
) -> None:
    data = b"HTTP/%s 200 OK\r\n%s" % (version.encode(), BODY)
    codec = codec_class()
    codec.encode_request(Request("GET", "http://example.com/"), body=b"")
    pieces = [data[i : i + 1] for i in range(len(data))] if byte_by_byte else [data]
    with pytest.raises(RemoteProtocolError, match=rf"HTTP/{version}, not HTTP/1\.x") as info:
        drain(codec, pieces)
    assert info.value.request_sent is True
    assert not codec.reusable


@pytest.mark.parametrize("byte_by_byte", [False, True], ids=["whole", "bytes"])
@pytest.mark.parametrize("codec_class", CODECS)
def test_an_informational_response_with_another_version_is_refused(
    codec_class: type[ClientCodec], byte_by_byte: bool
) -> None:
    data = b"HTTP/2.0 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n" + BODY
    with pytest.raises(RemoteProtocolError, match=r"HTTP/2\.0"):
        read_all(codec_class, data, byte_by_byte=byte_by_byte)


@pytest.mark.parametrize("byte_by_byte", [False, True], ids=["whole", "bytes"])
@pytest.mark.parametrize(("version", "reusable"), [("1.1", True), ("1.0", False), ("1.2", True)])
@pytest.mark.parametrize("codec_class", CODECS)
def test_http_1_x_is_read(
    codec_class: type[ClientCodec], version: str, reusable: bool, byte_by_byte: bool
) -> None:
    data = b"HTTP/%s 200 OK\r\n%s" % (version.encode(), BODY)
    found = read_all(codec_class, data, byte_by_byte=byte_by_byte)
    assert isinstance(found[0], ResponseHead)
    assert found[0].status_code == 200
    assert b"".join(e.data for e in found if isinstance(e, BodyChunk)) == b"hi"
    assert found[-1] == ResponseEnd(reusable=reusable)
