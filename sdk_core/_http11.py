"""The HTTP/1.1 client codec: a request to bytes, response bytes to events.

It composes h11 (which owns the framing rules of RFC 9112) and adds what a pooled
client needs: typed errors from the core's tree, a bounded header block, and one
answer to "may this connection carry another request?". Feeding a response whole, in
chunks or byte by byte gives the same events.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, TypeAlias

import h11

from ._errors import InvalidRequestError, LocalProtocolError, RemoteProtocolError, WriteError
from ._headers import Headers
from ._models import Request

__all__ = [
    "NEED_DATA",
    "BodyChunk",
    "ClientCodec",
    "NeedData",
    "ResponseEnd",
    "ResponseEvent",
    "ResponseHead",
    "body_item_bytes",
    "check_http1_version",
]

#: The largest response header block accepted, in bytes.
MAX_HEADER_BYTES: Final = 64 * 1024

_BROKEN_BEFORE_REQUEST: Final = (
    "The request was not sent: the server broke the protocol on this connection before it."
)


class NeedData(enum.Enum):
    """The type of ``NEED_DATA``, its one value: ``next_event`` (and the readers) have
    nothing to say until more bytes, or EOF, are fed."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


#: ``next_event`` has nothing to say until more bytes (or EOF) are fed.
NEED_DATA: Final = NeedData.NEED_DATA


# Slotted, not frozen: built for every response and never changed (docs/performance.md).


@dataclass(slots=True)
class ResponseHead:
    """The status line and headers of the final (non-1xx) response. The headers were
    made for this response alone (``ResponseReader`` sets their redaction policy)."""

    status_code: int
    headers: Headers


@dataclass(slots=True)
class BodyChunk:
    """A piece of the response body, transfer framing removed."""

    data: bytes


@dataclass(frozen=True, slots=True)
class ResponseEnd:
    """The response is complete; ``reusable`` says whether the connection may be pooled."""

    reusable: bool


ResponseEvent: TypeAlias = "ResponseHead | BodyChunk | ResponseEnd | NeedData"


def check_http1_version(version: bytes) -> None:
    """Raise ``RemoteProtocolError`` (the peer's fault, ``request_sent=True``) unless
    ``version``, a status line's "d.d" after "HTTP/", is 1.x.

    h11 reads any "HTTP/d.d" status line; only 1.x has HTTP/1.1's syntax and framing
    (RFC 9112 2.3: a later minor version is read as 1.1).
    """
    if version[:2] != b"1.":
        raise RemoteProtocolError(
            "The server sent an invalid HTTP response: its status line says "
            f"HTTP/{version.decode('ascii', 'replace')}, not HTTP/1.x.",
            request_sent=True,
        )


def body_item_bytes(item: object) -> bytes:
    """``item``, one piece of a streamed request body, as bytes: a bytearray copied, a
    memoryview as its raw bytes (``nbytes`` of them, whatever its format).

    For anything else (an int, a str, None...) raises ``WriteError`` with
    ``request_sent=True`` and ``retryable=False``, naming the type: a piece is encoded
    after the head and the pieces before it, so the request is cut off (its chunked body
    never terminated), and another attempt would meet the same item. Callers take
    ``type(item) is bytes`` as it is and come here for the rest.
    """
    if isinstance(item, bytes | bytearray | memoryview):
        try:
            return bytes(item)
        except ValueError:  # a released memoryview
            pass
    kind = "a released memoryview" if isinstance(item, memoryview) else type(item).__name__
    hint = " (encode a str first)" if isinstance(item, str) else ""
    raise WriteError(
        f"content yielded {kind}, not bytes: the items of an iterable content must be "
        f"bytes, bytearray or memoryview{hint}. The request was cut off before its end "
        "and is not retried.",
        request_sent=True,
        retryable=False,
    )


class ClientCodec:
    """One connection's client side. Use: ``encode_request``, then ``feed`` what the
    socket reads (b"" at EOF) and drain ``next_event`` until ``ResponseEnd``; then
    ``start_next_cycle`` to reuse the connection when ``ResponseEnd.reusable``.

    Raises ``InvalidRequestError`` for a request h11 refuses to send and
    ``RemoteProtocolError`` for a malformed, truncated or oversized response, or one
    whose HTTP version is not 1.x; after either, the connection is not reusable.
    """

    __slots__ = ("_conn", "_doubtful", "_eof", "_max_header_bytes", "_method")

    def __init__(self, *, max_header_bytes: int = MAX_HEADER_BYTES) -> None:
        # h11 bounds only an incomplete head; _check_size bounds one that arrives whole.
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_bytes)
        self._max_header_bytes = max_header_bytes
        self._doubtful = False
        self._eof = False  # the peer closed its side: nothing more can be read
        self._method = b"GET"

    @property
    def reusable(self) -> bool:
        """True while nothing has left this connection's state in doubt."""
        return not self._doubtful and self._conn.our_state is not h11.ERROR

    def encode_request(self, request: Request, *, body: bytes | None = None) -> bytes:
        """The request head, followed by ``body`` when given (bytes content).

        For a streamed body pass ``body=None`` and use ``encode_chunk``/``encode_end``;
        a request without Content-Length is then sent chunked. Raises
        ``RemoteProtocolError`` (``request_sent=False``) when the server already broke
        the protocol on this idle connection.
        """
        conn = self._conn
        if conn.their_state is h11.ERROR and conn.our_state is h11.IDLE:
            # The peer broke the protocol before any request (h11 0.16 fails to even
            # word its refusal): nothing is sent, so the caller may safely retry.
            self._doubtful = True
            raise RemoteProtocolError(_BROKEN_BEFORE_REQUEST, request_sent=False)
        url = request.url
        headers = request.headers.raw()
        names = {n.lower() for n, _ in headers}
        if b"transfer-encoding" in names and b"content-length" in names:
            # RFC 9112 6.2: never both; peers that disagree on framing split the request.
            raise InvalidRequestError(
                "The request cannot be sent: it has both Transfer-Encoding and Content-Length."
            )
        if b"host" not in names:
            headers.insert(0, (b"Host", url.host_header.encode("ascii")))
        if body is None and b"content-length" not in names and b"transfer-encoding" not in names:
            headers.append((b"Transfer-Encoding", b"chunked"))
        self._method = request.method.encode("ascii")
        try:
            out = self._conn.send(
                h11.Request(method=self._method, target=url.target.encode("ascii"), headers=headers)
            )
            assert out is not None
            if body is not None:
                if body:
                    out += self._conn.send(h11.Data(data=body)) or b""
                out += self._conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            self._doubtful = True
            raise InvalidRequestError(f"The request cannot be sent: {exc}") from None
        return out

    def _piece_bytes(self, data: object) -> bytes:
        """``body_item_bytes(data)``; a refused piece leaves the connection not reusable."""
        try:
            return body_item_bytes(data)
        except WriteError:
            self._doubtful = True
            raise

    def encode_chunk(self, data: bytes | bytearray | memoryview) -> bytes:
        """One piece of a streamed body. Raises ``WriteError`` for a piece that is not
        bytes, a bytearray or a memoryview (``body_item_bytes``); the connection is then
        not reusable."""
        if type(data) is not bytes:
            data = self._piece_bytes(data)
        try:
            return self._conn.send(h11.Data(data=data)) or b"" if data else b""
        except h11.LocalProtocolError as exc:
            self._doubtful = True
            raise InvalidRequestError(f"The request body cannot be sent: {exc}") from None

    def encode_end(self) -> bytes:
        """The end of a streamed body."""
        try:
            return self._conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            self._doubtful = True
            raise InvalidRequestError(f"The request body cannot be ended: {exc}") from None

    def feed(self, data: bytes) -> None:
        """Bytes read from the connection; b"" means the peer closed it (EOF)."""
        try:
            self._conn.receive_data(data)
            self._eof = self._eof or not data
        except RuntimeError as exc:  # data after EOF: a driver bug, not the peer's
            self._doubtful = True
            raise LocalProtocolError(f"Data fed after EOF: {exc}") from None

    def next_event(self) -> ResponseEvent:
        """The next response event, or ``NEED_DATA``."""
        while True:
            awaiting_head = self._conn.their_state is h11.SEND_RESPONSE
            try:
                event = self._conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._doubtful = True
                if awaiting_head and self._eof:
                    raise RemoteProtocolError(
                        "The server closed the connection without sending a complete "
                        "response head.",
                        request_sent=True,
                    ) from None
                raise RemoteProtocolError(
                    f"The server sent an invalid HTTP response: {exc}", request_sent=True
                ) from None
            if event is h11.NEED_DATA:
                return NEED_DATA
            if isinstance(event, h11.Response | h11.InformationalResponse):
                self._check_size(event)
                self._check_version(event)
            if isinstance(event, h11.Response):
                return self._head(event)
            if isinstance(event, h11.Data):
                return BodyChunk(bytes(event.data))
            if isinstance(event, h11.EndOfMessage):
                return ResponseEnd(self._reusable_after_end())
            if isinstance(event, h11.ConnectionClosed):
                self._doubtful = True
                raise RemoteProtocolError(
                    "The server closed the connection without sending a response.",
                    request_sent=True,
                )
            # InformationalResponse (1xx) and PAUSED are not the final answer: keep reading.
            if event is h11.PAUSED:  # bytes after EndOfMessage wait for start_next_cycle
                return NEED_DATA

    def _check_size(self, event: h11.Response | h11.InformationalResponse) -> None:
        # The block as parsed (whitespace stripped): a lower bound of what was received.
        size = 15 + len(event.reason)  # "HTTP/1.1 200 " + reason + CRLF
        size += sum(len(n) + len(v) + 4 for n, v in event.headers) + 2
        if size > self._max_header_bytes:
            self._doubtful = True
            raise RemoteProtocolError(
                f"The response header block is larger than {self._max_header_bytes} bytes.",
                request_sent=True,
            )

    def _check_version(self, event: h11.Response | h11.InformationalResponse) -> None:
        try:
            check_http1_version(event.http_version)
        except RemoteProtocolError:
            self._doubtful = True
            raise

    def _head(self, event: h11.Response) -> ResponseHead:
        raw = event.headers
        names = [n for n, _ in raw]
        if b"transfer-encoding" in names and b"content-length" in names:
            # RFC 9112 6.3: framed as chunked, but the connection is not to be trusted.
            self._doubtful = True
        headers = Headers._trusted((n.decode("latin-1"), v.decode("latin-1")) for n, v in raw)
        return ResponseHead(event.status_code, headers)

    def _reusable_after_end(self) -> bool:
        conn = self._conn
        # h11 keeps a body read until EOF "keep-alive"; a closed peer is never reusable.
        # Bytes already behind the response answer no request we sent: RFC 9112 6.3 says
        # a client MUST NOT process them as a separate response, so the next request
        # must not meet them.
        return (
            not self._doubtful
            and not self._eof
            and conn.our_state is h11.DONE
            and conn.their_state is h11.DONE
            and not conn.trailing_data[0]
        )

    def start_next_cycle(self) -> None:
        """Make the connection ready for another request (only after a reusable end)."""
        self._conn.start_next_cycle()
