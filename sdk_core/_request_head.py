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
from ._headers import Headers
from ._models import Request

__all__ = [
    "RequestFields",
    "RequestHead",
    "RequestRefused",
    "encode_request_head",
    "lists_close",
]

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


class RequestFields(NamedTuple):
    """A header list as the request head writes it; ``Headers`` keeps it once computed."""

    has_host: bool  # else a Host line is made from the URL
    hosts: str  # the Host lines
    lines: str  # every other line, in order
    has_length: bool
    has_coding: bool
    length: int  # the declared Content-Length, else 0
    chunked: bool
    keep_alive: bool
    refusal: str | None  # why h11 would refuse these fields, raised after the target's


def encode_request_head(request: Request, *, streamed: bool) -> RequestHead:
    """The head for ``request``; ``streamed``: the body follows in pieces, so a request
    declaring no length is sent chunked. Raises ``InvalidRequestError`` for both
    Transfer-Encoding and Content-Length, ``RequestRefused`` for what h11 refuses, and
    ``UnicodeEncodeError`` for a non-ASCII target or host (as ``ClientCodec`` does)."""
    url = request.url
    headers = request.headers
    method = request.method
    last = headers._head  # the same request again (URLs and headers are immutable)
    if last is not None and last[1] is url and last[0] == method and last[2] is streamed:
        return last[3]
    fields = headers._request_fields  # the headers are immutable: encoded once
    if fields is None:
        fields = headers._request_fields = _encode_fields(headers)
    host = None if fields.has_host else url.host_header
    if host is not None:
        host.encode("ascii")
    target = url.target
    target.encode("ascii")
    if not _TARGET.fullmatch(target):
        raise RequestRefused("Illegal target characters")
    if host is not None and not _FIELD_VALUE.fullmatch(host):
        raise RequestRefused("Illegal header value")  # as h11 judges the Host it adds
    if fields.refusal is not None:
        raise RequestRefused(fields.refusal)
    chunked = fields.chunked
    coding = ""
    if streamed and not fields.has_length and not fields.has_coding:
        coding = "Transfer-Encoding: chunked\r\n"
        chunked = True
    hosts = fields.hosts if host is None else f"Host: {host}\r\n"
    head = f"{method} {target} HTTP/1.1\r\n{hosts}{fields.lines}{coding}\r\n"
    encoded = RequestHead(head.encode("latin-1"), chunked, fields.length, fields.keep_alive)
    headers._head = (method, url, streamed, encoded)
    return encoded


def _encode_fields(headers: Headers) -> RequestFields:
    """The lines of ``headers`` (Host lines apart) and their framing, as h11 writes and
    judges them. Raises ``InvalidRequestError`` for both Transfer-Encoding and
    Content-Length; what h11 refuses is returned in ``refusal``, first problem first."""
    items = headers._items
    names = [name.lower() for name, _ in items]
    has_length = "content-length" in names
    has_coding = "transfer-encoding" in names
    if has_coding and has_length:
        # RFC 9112 6.2: never both; peers that disagree on framing split the request.
        raise InvalidRequestError(
            "The request cannot be sent: it has both Transfer-Encoding and Content-Length."
        )
    hosts: list[str] = []
    lines: list[str] = []
    length: str | None = None
    chunked = False
    keep_alive = True
    refusal: str | None = None
    for (name, value), lower in zip(items, names, strict=True):
        if lower == "host":
            if not _FIELD_VALUE.fullmatch(value):
                refusal = "Illegal header value"
                break
            hosts.append(f"{name}: {value}\r\n")
            continue
        if lower == "content-length":
            lengths = {part.strip(" \t") for part in value.split(",")}
            value = lengths.pop()
            if lengths or (length is not None and length != value):
                refusal = "conflicting Content-Length headers"
                break
            if not _LENGTH.fullmatch(value):
                refusal = "bad Content-Length"
                break
            if length is not None:
                continue  # h11 sends a repeated, identical Content-Length once
            length = value
        elif lower == "transfer-encoding":
            value = value.lower()
            if chunked or value != "chunked":
                refusal = "only one Transfer-Encoding, chunked, is supported"
                break
            chunked = True
        elif lower == "connection" and lists_close(value):
            keep_alive = False
        lines.append(f"{name}: {value}\r\n")
    if refusal is None and len(hosts) > 1:
        refusal = "Found multiple Host: headers"
    return RequestFields(
        "host" in names,
        "".join(hosts),
        "".join(lines),
        has_length,
        has_coding,
        int(length) if length is not None else 0,
        chunked,
        keep_alive,
        refusal,
    )
