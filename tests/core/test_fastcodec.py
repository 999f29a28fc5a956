"""FastClientCodec against ClientCodec: the same bytes out, the same events, errors and
``reusable`` answers for the same bytes in, whole, in random pieces and byte by byte.

The differential test generates valid and broken exchanges; test_fastcodec_requests.py
and test_fastcodec_responses.py pin each rule on the fast codec alone. Where the two
codecs differ on purpose (RFC 9112 against h11), a test says so.
"""

from __future__ import annotations

import itertools
import re

import pytest
from _fastcodec_helpers import Exchange, get, run
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from sdk_core import RemoteProtocolError
from sdk_core.lowlevel import MAX_HEADER_BYTES, BodyChunk, ClientCodec, FastClientCodec, ResponseEnd

pytest.importorskip("httptools")  # the fast codec is an optional extra


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
