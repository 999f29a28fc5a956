"""A request's line and header block as h11 writes them, without h11's event machinery.

``FastClientCodec`` sends with this. ``wire_headers`` (public, for transports written
outside this package over another HTTP/1.1 stack) gives the header lines with the Host a
core ``Request`` does not hold. The headers were validated by ``Headers``; what h11
checks on top (one Host, a target of visible characters, the framing fields) and how it
writes (Host first, a repeated identical Content-Length once, Transfer-Encoding in lower
case) is repeated here, so the bytes and the refusals are h11's.
"""

from __future__ import annotations

import re
from typing import Final

from ._fields import (
    FIELD_VALUE,
    RequestFields,
    RequestHead,
    encode_fields,
    extend_fields,
    lists_close,
)
from ._headers import Headers
from ._models import Request

__all__ = [
    "RequestFields",
    "RequestHead",
    "RequestRefused",
    "encode_request_head",
    "lists_close",
    "wire_headers",
]

_TARGET: Final = re.compile(r"[\x21-\x7e]+")


class RequestRefused(Exception):
    """A request h11 would refuse to send; the argument is the reason."""


def fields_of(headers: Headers) -> RequestFields:
    """The request fields of ``headers``, kept on them. Headers made by appending to
    others derive theirs from those (kept there too), going up at most 8 steps: the
    default headers of a client are encoded once, and each request only adds its lines.
    Raises ``InvalidRequestError`` as ``encode_fields``."""
    # Another thread may derive the same fields meanwhile: it sets ``_request_fields``
    # before it clears ``_base``, and each is read once here.
    chain: list[tuple[Headers, tuple[tuple[str, str], ...]]] = []
    node = headers
    fields = node._request_fields
    while fields is None and len(chain) < 8:
        base = node._base
        if base is None:
            break
        chain.append((node, base[1]))
        node = base[0]
        fields = node._request_fields
    if fields is None:
        fields = node._request_fields = encode_fields(node._items)
        node._base = None
    for child, extra in reversed(chain):
        derived = extend_fields(fields, extra)
        fields = child._request_fields = (
            derived if derived is not None else encode_fields(child._items)
        )
        child._base = None  # the fields are known: the list it extends may go
    return fields


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
        fields = fields_of(headers)
    host = None if fields.has_host else url.host_header
    if host is not None:
        host.encode("ascii")
    target = url.target
    target.encode("ascii")
    if not _TARGET.fullmatch(target):
        raise RequestRefused("Illegal target characters")
    if host is not None and not FIELD_VALUE.fullmatch(host):
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


def wire_headers(request: Request) -> list[tuple[bytes, bytes]]:
    """``request``'s HTTP/1.1 header lines as they go on the wire, Host first.

    A core ``Request`` has no Host header unless the caller set one: the Host comes from
    the URL (``request.url.host_header``: the port only when it is not the scheme's
    default) and goes first, as h11 writes it. The request's pairs follow in order
    (names ASCII, values latin-1: ``Headers`` checked both). A bytes body has its
    Content-Length already; a body of unknown length (an iterable, with neither
    Content-Length nor Transfer-Encoding) gets ``Transfer-Encoding: chunked`` last.
    Raises nothing.
    """
    headers = request.headers
    lines = headers.raw()
    if "host" not in headers:
        lines.insert(0, (b"Host", request.url.host_header.encode("ascii")))
    framed = "content-length" in headers or "transfer-encoding" in headers
    if not request.replayable and not framed:
        lines.append((b"Transfer-Encoding", b"chunked"))
    return lines
