"""What the fast codec's unit tests share: a codec over a sent request, its events, and a
request to send."""

from __future__ import annotations

from dataclasses import dataclass, field

from sdk_core import InvalidRequestError, RemoteProtocolError, Request
from sdk_core.lowlevel import (
    MAX_HEADER_BYTES,
    NEED_DATA,
    BodyChunk,
    ClientCodec,
    FastClientCodec,
    ResponseEvent,
    ResponseHead,
)

URL_TEXT = "http://example.com/v1/items?q=1"


# -- the harness: one exchange, run through a codec, as a comparable trace ---------------


@dataclass
class Exchange:
    """A request, how its body goes out, and the response bytes that come back."""

    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = b""  # None: a streamed body
    stream: list[bytes] = field(default_factory=list)  # pieces sent before the response
    finish: str = "before"  # the streamed body's end: "before" / "after" the response, "never"
    response: bytes = b""
    pieces: list[bytes] = field(default_factory=list)
    eof: bool = False
    max_header_bytes: int = MAX_HEADER_BYTES


def request_of(exchange: Exchange) -> Request:
    content = exchange.content if exchange.content is not None else iter(())
    return Request(exchange.method, URL_TEXT, headers=exchange.headers, content=content)


def run(codec_class: type[ClientCodec], exchange: Exchange) -> list[object]:
    """Every observable step: bytes sent, events (body chunks joined), errors."""
    codec = codec_class(max_header_bytes=exchange.max_header_bytes)
    trace: list[object] = []

    def attempt(what: str, call: object) -> bool:
        try:
            trace.append((what, call()))  # type: ignore[operator]
        except (InvalidRequestError, RemoteProtocolError) as exc:
            trace.append((what, type(exc).__name__, getattr(exc, "request_sent", None)))
            return False
        return True

    request = request_of(exchange)
    streamed = exchange.content is None
    body = None if streamed else exchange.content
    attempt("request", lambda: codec.encode_request(request, body=body))
    if streamed:
        for piece in exchange.stream:
            attempt("chunk", lambda piece=piece: codec.encode_chunk(piece))
        if exchange.finish == "before":
            attempt("end", codec.encode_end)
    for piece in [*exchange.pieces, *([b""] if exchange.eof else [])]:
        if not attempt("feed", lambda piece=piece: codec.feed(piece)):
            break
        if not pull(codec, trace):
            break
    if streamed and exchange.finish == "after":
        attempt("end", codec.encode_end)
    trace.append(("reusable", codec.reusable))
    return normal(trace)


def pull(codec: ClientCodec, trace: list[object]) -> bool:
    """Events up to NEED_DATA (past the end of the response too); False on an error."""
    while True:
        try:
            event = codec.next_event()
        except RemoteProtocolError as exc:
            trace.append(("error", type(exc).__name__, exc.request_sent))
            return False
        if event is NEED_DATA:
            return True
        trace.append(event)


def normal(trace: list[object]) -> list[object]:
    """Body chunks joined and empty ones dropped: how data is split may differ."""
    out: list[object] = []
    for item in trace:
        if isinstance(item, BodyChunk):
            if not item.data:
                continue
            if out and isinstance(out[-1], BodyChunk):
                out[-1] = BodyChunk(out[-1].data + item.data)
                continue
        elif isinstance(item, ResponseHead):  # headers in order, repeated names included
            item = ("head", item.status_code, item.headers.multi_items())
        elif item == ("feed", None):
            continue  # feed returns None; its errors are kept
        out.append(item)
    return out


# -- unit tests: each rule on the fast codec ------------------------------------------


def codec_for(
    method: str = "GET", codec_class: type[ClientCodec] = FastClientCodec, **kwargs: int
) -> ClientCodec:
    codec = codec_class(**kwargs)
    codec.encode_request(Request(method, URL_TEXT), body=b"")
    return codec


def events(codec: ClientCodec) -> list[ResponseEvent]:
    """Every event available now, up to NEED_DATA (after the end of a response too)."""
    out: list[ResponseEvent] = []
    while (event := codec.next_event()) is not NEED_DATA:
        out.append(event)
    return out


def joined(found: list[ResponseEvent]) -> list[object]:
    return normal(list(found))


def get(
    codec_class: type[ClientCodec], method: str, data: bytes, *, eof: bool = False
) -> list[object]:
    """The events for ``data`` (then EOF), fed whole; checked byte by byte too."""
    results = []
    for pieces in ([data], [data[i : i + 1] for i in range(len(data))]):
        codec = codec_for(method, codec_class)
        found: list[ResponseEvent] = []
        for piece in [*pieces, *([b""] if eof else [])]:
            codec.feed(piece)
            found += events(codec)
        results.append(joined(found))
    assert results[0] == results[1]
    return results[0]
