"""Response heads for ``FastClientCodec``: the plain case, read without h11.

llhttp (httptools) validates the status line and the header block in one C call, with
no callbacks; the framing fields are then found by C string searches of the block and
the headers stay a block (``Headers._from_block``). ``parse_head`` answers None for a
head that is not the plain case (a 1xx, a head llhttp refuses, unusual framing headers,
a version other than HTTP/1.0 and 1.1): the codec then lets h11 read the response.
"""

from __future__ import annotations

import re
from typing import Final

from ._headers import Headers, scan_fields
from ._http11 import ResponseHead
from ._request_head import lists_close

try:
    from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser
except ImportError:  # pragma: no cover - exercised where the extra is not installed
    HAS_HTTPTOOLS = False
else:
    HAS_HTTPTOOLS = True

__all__ = ["CHUNKED", "HAS_HTTPTOOLS", "UNTIL_EOF", "head_size", "parse_head"]

#: ``parse_head``'s body length for a chunked body, and for one read until EOF.
CHUNKED: Final = -2
UNTIL_EOF: Final = -1

# A status line is "HTTP/1.x NNN" and, when more follows, a space and the reason.
_VERSIONS: Final = {"HTTP/1.1 ": True, "HTTP/1.0 ": False}  # True: may be kept alive
_STATUS_CODES: Final = {f"{code:03d}": code for code in range(1000)}
# h11 refuses NUL, VT and FF in the reason.
_BAD_REASON: Final = re.compile(r"[\x00\x0b\x0c]")
_TE_FIELD: Final = "\r\ntransfer-encoding:"


class _NoCallbacks:
    """llhttp only validates: the head is split here, so no callback is needed."""

    __slots__ = ()


_SILENT: Final = _NoCallbacks()

# Heads llhttp 9 refuses and older, more lenient versions let through: a bare LF or CR,
# folded lines. h11 refuses or reads them differently, so they must reach it.
_LENIENT_PROBES: Final = (
    b"HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: b\rC: d\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n",
    b"HTTP/1.1 200 OK\nA: b\r\n\r\n",
)
_strict: list[bool] = []  # the probe's answer, once


def _llhttp_is_strict() -> bool:
    """True when llhttp refuses every head in ``_LENIENT_PROBES`` (probed once)."""
    if not _strict:
        refused = 0
        for probe in _LENIENT_PROBES:
            try:
                HttpResponseParser(_SILENT).feed_data(probe)
            except (HttpParserError, HttpParserUpgrade):
                refused += 1
        _strict.append(refused == len(_LENIENT_PROBES))
    return _strict[0]


def _needs_h11(text: str) -> bool:
    """A bare CR or LF, or a folded line: what a lenient llhttp may have accepted."""
    breaks = text.count("\r\n")
    return (
        text.count("\n") != breaks
        or text.count("\r") != breaks
        or "\r\n " in text
        or ("\r\n\t" in text)
    )


def parse_head(block: bytes | bytearray) -> tuple[ResponseHead, int, bool] | None:
    """``(head, body_length, keep_alive)`` for ``block``, a whole head (status line to
    blank line), when it is plain: llhttp accepts it, it is final, its framing is
    unambiguous. None to let h11 judge it. Raises nothing.

    ``body_length`` is the body's size (0 for none: 204, 304, ``Content-Length: 0``),
    ``CHUNKED`` or ``UNTIL_EOF``; ``keep_alive`` is False when the response ends the
    connection (``Connection: close``, HTTP/1.0, a body read until EOF)."""
    try:
        HttpResponseParser(_SILENT).feed_data(block)
    except (HttpParserError, HttpParserUpgrade):
        return None
    text = block.decode("latin-1")
    if not _llhttp_is_strict() and _needs_h11(text):
        return None
    eol = text.find("\r\n")
    status_line = text[:eol]
    http11 = _VERSIONS.get(status_line[:9])
    status = _STATUS_CODES.get(status_line[9:12])
    reason = status_line[12:]
    if http11 is None or status is None:
        return None
    if reason and (reason[0] != " " or (not reason.isprintable() and _BAD_REASON.search(reason))):
        return None
    if status < 200:  # 1xx: h11 skips it
        return None
    fields = text[eol:-2]  # every field line after a CRLF and before one
    lowered = fields.lower()
    length = UNTIL_EOF
    lengths = scan_fields(fields, lowered, "content-length")
    if lengths is not None:
        # h11 judges a repeated or unusual Content-Length (latin-1 has no decimal
        # digit but 0-9).
        value = lengths[0]
        if len(lengths) > 1 or not value.isdecimal() or len(value) > 20:
            return None
        length = int(value)
    headers = Headers._from_block(fields, lowered)
    if _TE_FIELD in lowered:
        codings = scan_fields(fields, lowered, "transfer-encoding")
        assert codings is not None
        if length >= 0 or len(codings) > 1 or codings[0].lower() != "chunked":
            return None  # h11 judges mixed or unusual framing
        if codings[0] != "chunked":  # h11 hands the coding over lowercased
            items = headers.multi_items()
            items = [(n, "chunked" if n == "transfer-encoding" else v) for n, v in items]
            headers = Headers._trusted(items)
        length = CHUNKED
    keep_alive = http11
    if "close" in lowered:  # else no Connection field lists it
        for value in scan_fields(fields, lowered, "connection") or ():
            if lists_close(value):
                keep_alive = False
                break
    if status in (204, 304):
        length = 0
    elif length == UNTIL_EOF:  # RFC 9112 6.3: read until the server closes
        keep_alive = False
    return ResponseHead(status, headers), length, keep_alive


def head_size(block: bytes | bytearray, head: ResponseHead) -> int:
    """The size of ``block``, parsed as ``head``, as ``ClientCodec._check_size`` counts
    it (4 bytes a field for the colon and CRLF, the status line at most 1 more)."""
    items = head.headers.multi_items()
    size = sum(len(name) + len(value) for name, value in items)
    return size + 17 + max(block.find(b"\r\n") - 13, 0) + 4 * len(items)
