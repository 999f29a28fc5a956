"""``parse_head``, the fast codec's reading of a plain response head: the framing and
keep-alive answers it gives, and the heads it leaves to h11 (None).

The codec-level behaviour (the same events as h11) is pinned in test_fastcodec.py.
"""

from __future__ import annotations

import pytest

from sdk_core._fasthead import CHUNKED, UNTIL_EOF, head_size, parse_head

pytest.importorskip("httptools")  # the fast codec is an optional extra

OK = b"HTTP/1.1 200 OK\r\n"


@pytest.mark.parametrize(
    ("block", "status", "length", "keep_alive"),
    [
        (OK + b"Content-Length: 12\r\n\r\n", 200, 12, True),
        (OK + b"Content-Length: 0\r\n\r\n", 200, 0, True),
        (OK + b"Transfer-Encoding: chunked\r\n\r\n", 200, CHUNKED, True),
        (OK + b"Transfer-Encoding: Chunked\r\n\r\n", 200, CHUNKED, True),
        (OK + b"\r\n", 200, UNTIL_EOF, False),
        (OK + b"Content-Length: 3\r\nConnection: close\r\n\r\n", 200, 3, False),
        (OK + b"Content-Length: 3\r\nConnection: keep-alive, Close\r\n\r\n", 200, 3, False),
        (OK + b"Content-Length: 3\r\nX-Note: close\r\n\r\n", 200, 3, True),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", 200, 3, False),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, 0, True),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", 304, 0, True),
        (b"HTTP/1.1 404\r\nContent-Length: 1\r\n\r\n", 404, 1, True),
    ],
)
def test_a_plain_head_gives_its_framing(
    block: bytes, status: int, length: int, keep_alive: bool
) -> None:
    parsed = parse_head(block)
    assert parsed is not None
    head, got_length, got_keep_alive = parsed
    assert (head.status_code, got_length, got_keep_alive) == (status, length, keep_alive)


def test_a_chunked_coding_is_handed_over_lowercased() -> None:
    parsed = parse_head(OK + b"Transfer-Encoding: CHUNKED\r\nA: b\r\n\r\n")
    assert parsed is not None
    assert parsed[0].headers.multi_items() == [("transfer-encoding", "chunked"), ("a", "b")]


@pytest.mark.parametrize(
    "block",
    [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/2.0 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\r\n",  # llhttp refuses a bare LF
        OK + b"Content-Length: 1\r\nContent-Length: 1\r\n\r\n",
        OK + b"Content-Length: +1\r\n\r\n",
        OK + b"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        OK + b"Transfer-Encoding: gzip, chunked\r\n\r\n",
        OK + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    ],
)
def test_a_head_that_is_not_plain_is_left_to_h11(block: bytes) -> None:
    assert parse_head(block) is None


def test_head_size_counts_as_the_h11_codec_does() -> None:
    block = b"HTTP/1.1 200 Fine\r\nContent-Length: 2\r\nX-A: bc\r\n\r\n"
    parsed = parse_head(block)
    assert parsed is not None
    # "HTTP/1.1 200 " + reason + CRLF, then name + value + 4 for each field, then CRLF.
    expected = 15 + len("Fine") + (14 + 1 + 4) + (3 + 2 + 4) + 2
    assert head_size(block, parsed[0]) == expected
