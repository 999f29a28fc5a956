"""A request's header list as the request head writes it (``RequestFields``), and the
framing it declares, as h11 writes and judges them; the encoded head (``RequestHead``).

``Headers`` keeps the fields of a list once they are computed, and derives those of a
list made by appending plain fields (``extend_fields``) without going over every line
again. ``encode_request_head`` writes them.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from ._error_base import InvalidRequestError

__all__ = ["RequestFields", "RequestHead", "encode_fields", "extend_fields", "lists_close"]

LENGTH: Final = re.compile(r"[0-9]{1,20}")
# h11's field-value: bytes' \s is SP, HTAB, CR, LF, VT and FF (the Host added here).
FIELD_VALUE: Final = re.compile(r"(?:[^\x00 \t\r\n\x0b\x0c]+(?:[ \t]+[^\x00 \t\r\n\x0b\x0c]+)*)?")
# Fields whose names change the framing or the Host: never appended line by line.
_FRAMING: Final = frozenset({"host", "content-length", "transfer-encoding", "connection"})


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


class RequestHead(NamedTuple):
    """The encoded head and the body framing it declares (``encode_request_head``)."""

    data: bytes
    chunked: bool
    length: int  # the body's length when not chunked
    keep_alive: bool  # no "Connection: close"


def encode_fields(items: tuple[tuple[str, str], ...]) -> RequestFields:
    """The lines of a header list (Host lines apart) and their framing, as h11 writes
    and judges them. Raises ``InvalidRequestError`` for both Transfer-Encoding and
    Content-Length; what h11 refuses is returned in ``refusal``, first problem first."""
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
            if not FIELD_VALUE.fullmatch(value):
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
            if not LENGTH.fullmatch(value):
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


def extend_fields(
    fields: RequestFields, extra: tuple[tuple[str, str], ...]
) -> RequestFields | None:
    """The fields of a list that is ``fields``' list followed by ``extra`` (validated
    pairs), or None when ``extra`` touches the framing or the Host in a way that needs
    ``encode_fields`` on the whole list. A Content-Length is appended here when the list
    declares neither a length nor a coding and the value is a plain number."""
    if fields.refusal is not None:
        return None
    lines = fields.lines
    has_length, length = fields.has_length, fields.length
    for name, value in extra:
        lower = name.lower()
        if lower in _FRAMING:
            if lower != "content-length" or has_length or fields.has_coding:
                return None
            if not LENGTH.fullmatch(value):
                return None
            has_length, length = True, int(value)
        lines += f"{name}: {value}\r\n"
    return RequestFields(
        fields.has_host,
        fields.hosts,
        lines,
        has_length,
        fields.has_coding,
        length,
        fields.chunked,
        fields.keep_alive,
        None,
    )
