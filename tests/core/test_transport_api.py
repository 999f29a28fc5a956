"""What the core offers people who write a transport: the header lines to send (Host
included) and the decoders for the Content-Encoding the client advertises.

Pure: no network, no async. ``tests/transports/test_custom_transport_docs.py`` runs the
docs' example transport, built on these, against a real server.
"""

from __future__ import annotations

import gzip
import zlib

import pytest

import sdk_core
from sdk_core import (
    BodyDecoder,
    Request,
    ResponseTooLargeError,
    StreamDecoder,
    _decoding,
    _request_head,
    supported_encodings,
    wire_headers,
)


def test_the_names_are_public_and_load_on_first_use() -> None:
    homes = {
        "BodyDecoder": _decoding,
        "StreamDecoder": _decoding,
        "supported_encodings": _decoding,
        "wire_headers": _request_head,
    }
    for name, home in homes.items():
        assert name in sdk_core.__all__
        assert getattr(sdk_core, name) is getattr(home, name)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://api.example.com/v1", b"api.example.com"),
        ("http://api.example.com:80/v1", b"api.example.com"),
        ("http://127.0.0.1:8080/", b"127.0.0.1:8080"),
        ("https://[::1]:8443/", b"[::1]:8443"),
        ("https://b\u00fccher.example/", b"xn--bcher-kva.example"),
    ],
)
def test_wire_headers_put_the_host_first(url: str, host: bytes) -> None:
    request = Request("POST", url, headers={"X-A": "1", "Accept": "*/*"}, content=b"{}")
    assert wire_headers(request) == [
        (b"Host", host),
        (b"X-A", b"1"),
        (b"Accept", b"*/*"),
        (b"Content-Length", b"2"),
    ]
    assert "host" not in request.headers  # the request itself is unchanged


def test_a_host_the_caller_set_is_kept() -> None:
    request = Request("GET", "https://api.example.com/", headers={"X-A": "1", "host": "other"})
    assert wire_headers(request) == [(b"X-A", b"1"), (b"host", b"other")]


def test_a_body_of_unknown_length_goes_chunked() -> None:
    url = "https://a.test/"
    streamed = Request("POST", url, content=iter([b"a"]))
    assert wire_headers(streamed)[-1] == (b"Transfer-Encoding", b"chunked")
    framed = Request("POST", url, headers={"Transfer-Encoding": "chunked"}, content=[b"a"])
    assert wire_headers(framed) == [(b"Host", b"a.test"), (b"Transfer-Encoding", b"chunked")]
    sized = Request("POST", url, headers={"Content-Length": "1"}, content=[b"a"])
    assert wire_headers(sized) == [(b"Host", b"a.test"), (b"Content-Length", b"1")]
    assert wire_headers(Request("GET", url)) == [(b"Host", b"a.test")]  # no body, no framing


def test_values_go_out_as_latin_1() -> None:
    request = Request("GET", "https://a.test/", headers={"X-Name": "caf\u00e9"})
    assert wire_headers(request)[1] == (b"X-Name", "caf\u00e9".encode("latin-1"))


def test_the_body_decoder_undoes_what_the_client_asks_for() -> None:
    assert {"gzip", "deflate"} <= set(supported_encodings())
    body = b'{"ok": true}' * 100
    for encoding, data in (
        ("gzip", gzip.compress(body)),
        ("deflate", zlib.compress(body)),
        ("identity", body),
        (None, body),
    ):
        decoder = BodyDecoder(encoding, max_size=len(body))
        out = b"".join(decoder.feed(data[i : i + 7]) for i in range(0, len(data), 7))
        assert out + decoder.flush() == body


def test_the_body_decoder_bounds_what_it_produces() -> None:
    decoder = BodyDecoder("gzip", max_size=1000)
    with pytest.raises(ResponseTooLargeError):
        decoder.feed(gzip.compress(b"\0" * 1_000_000))


def test_the_stream_decoder_gives_bounded_pieces() -> None:
    decoder = StreamDecoder("gzip", window=1024)
    decoder.feed(gzip.compress(b"x" * 10_000))
    decoder.feed_eof()
    pieces = []
    for _ in range(100):  # bounded: 10 pieces are expected
        piece = decoder.read()
        if not piece:
            break
        pieces.append(piece)
    assert max(map(len, pieces)) == 1024
    assert b"".join(pieces) == b"x" * 10_000
