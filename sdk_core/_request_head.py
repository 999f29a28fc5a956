"""A request's line and header block as h11 writes them, without h11's event machinery.

``FastClientCodec`` sends with this. The headers were validated by ``Headers``; what h11
checks on top (one Host, a target of visible characters, the framing fields) and how it
writes (Host first, a repeated identical Content-Length once, Transfer-Encoding in lower
case) is repeated here, so the bytes and the refusals are h11's.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from ._errors import InvalidRequestError
from ._models import Request

__all__ = ["RequestHead", "RequestRefused", "encode_request_head", "lists_close"]

_LENGTH: Final = re.compile(r"[0-9]{1,20}")
_TARGET: Final = re.compile(r"[\x21-\x7e]+")
# h11's field-value: bytes' \s is SP, HTAB, CR, LF, VT and FF (the Host added here).
_FIELD_VALUE: Final = re.compile(r"(?:[^\x00 \t\r\n\x0b\x0c]+(?:[ \t]+[^\x00 \t\r\n\x0b\x0c]+)*)?")


class RequestHead(NamedTuple):
    """The encoded head and the body framing it declares."""

    data: bytes
    chunked: bool
    length: int  # the body's length when not chunked
    keep_alive: bool  # no "Connection: close"


class RequestRefused(Exception):
    """A request h11 would refuse to send; the argument is the reason."""


def lists_close(value: str) -> bool:
    """True when a Connection field value lists the "close" option (h11's reading)."""
    lowered = value.lower()
    return "close" in lowered and "close" in (t.strip(" \t") for t in lowered.split(","))


def encode_request_head(request: Request, *, streamed: bool) -> RequestHead:
    """The head for ``request``; ``streamed``: the body follows in pieces, so a request
    declaring no length is sent chunked. Raises ``InvalidRequestError`` for both
    Transfer-Encoding and Content-Length, ``RequestRefused`` for what h11 refuses, and
    ``UnicodeEncodeError`` for a non-ASCII target or host (as ``ClientCodec`` does)."""
    url = request.url
    items = request.headers.multi_items()
    names = [name.lower() for name, _ in items]
    has_length = "content-length" in names
    has_coding = "transfer-encoding" in names
    if has_coding and has_length:
        # RFC 9112 6.2: never both; peers that disagree on framing split the request.
        raise InvalidRequestError(
            "The request cannot be sent: it has both Transfer-Encoding and Content-Length."
        )
    if "host" not in names:
        url.host_header.encode("ascii")
        items.insert(0, ("Host", url.host_header))
        names.insert(0, "host")
    if streamed and not has_length and not has_coding:
        items.append(("Transfer-Encoding", "chunked"))
        names.append("transfer-encoding")
    target = url.target
    target.encode("ascii")
    if not _TARGET.fullmatch(target):
        raise RequestRefused("Illegal target characters")
    hosts: list[str] = []
    lines = [f"{request.method} {target} HTTP/1.1\r\n"]
    length: str | None = None
    chunked = False
    keep_alive = True
    for (name, value), lower in zip(items, names, strict=True):
        if lower == "host":
            if not _FIELD_VALUE.fullmatch(value):
                raise RequestRefused("Illegal header value")
            hosts.append(f"{name}: {value}\r\n")
            continue
        if lower == "content-length":
            lengths = {part.strip(" \t") for part in value.split(",")}
            value = lengths.pop()
            if lengths or (length is not None and length != value):
                raise RequestRefused("conflicting Content-Length headers")
            if not _LENGTH.fullmatch(value):
                raise RequestRefused("bad Content-Length")
            if length is not None:
                continue  # h11 sends a repeated, identical Content-Length once
            length = value
        elif lower == "transfer-encoding":
            value = value.lower()
            if chunked or value != "chunked":
                raise RequestRefused("only one Transfer-Encoding, chunked, is supported")
            chunked = True
        elif lower == "connection" and lists_close(value):
            keep_alive = False
        lines.append(f"{name}: {value}\r\n")
    if len(hosts) > 1:
        raise RequestRefused("Found multiple Host: headers")
    lines[1:1] = hosts
    lines.append("\r\n")
    data = "".join(lines).encode("latin-1")
    return RequestHead(data, chunked, int(length) if length is not None else 0, keep_alive)
