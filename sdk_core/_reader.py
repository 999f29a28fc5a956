"""From a codec's events to a response: ``ResponseReader`` reads it whole, body decoded;
``StreamReader`` hands over the head and then the decoded body piece by piece.

The h11 transports only move bytes: they feed what they read and ask for the next
step, so the assembly and its bounds live here once, for threads and async alike.
"""

from __future__ import annotations

from ._decoding import BodyDecoder, StreamDecoder, body_too_large
from ._http11 import NEED_DATA, BodyChunk, ClientCodec, NeedData, ResponseEnd, ResponseHead
from ._models import Request, Response

__all__ = ["BodyBuffer", "ResponseReader", "StreamReader"]


class ResponseReader:
    """Read one response from ``codec``: call ``step()``; on ``NEED_DATA`` read from the
    connection and ``feed()`` it (b"" at EOF); otherwise ``step()`` returned
    ``(response, reusable)``. Raises ``RemoteProtocolError`` for a bad response and
    ``ResponseTooLargeError`` past ``max_size`` decoded bytes.
    """

    __slots__ = ("_codec", "_decoder", "_head", "_max_size", "_pieces", "_request", "_size")

    def __init__(self, codec: ClientCodec, request: Request, *, max_size: int) -> None:
        self._codec = codec
        self._request = request
        self._head: ResponseHead | None = None
        # None until the head names a Content-Encoding: identity bodies are only counted.
        self._decoder: BodyDecoder | None = None
        # The body's pieces, joined once at the end (a body read in one piece is not
        # copied), and the size of the identity ones.
        self._pieces: list[bytes] = []
        self._size = 0
        self._max_size = max_size

    def feed(self, data: bytes) -> None:
        """Bytes read from the connection; b"" means EOF."""
        self._codec.feed(data)

    def step(self) -> tuple[Response, bool] | NeedData:
        """Advance as far as the bytes fed allow."""
        codec = self._codec
        while True:
            event = codec.next_event()
            if event is NEED_DATA:
                return NEED_DATA
            if isinstance(event, BodyChunk):
                decoder = self._decoder
                if decoder is not None:
                    self._pieces.append(decoder.feed(event.data))
                else:
                    self._pieces.append(event.data)
                    self._size += len(event.data)
                    if self._size > self._max_size:
                        raise body_too_large(self._max_size)
            elif isinstance(event, ResponseHead):
                self._head = event
                encodings = event.headers._values("content-encoding")
                if encodings:  # every line of the field: RFC 9110 5.3 joins them
                    self._decoder = BodyDecoder(", ".join(encodings), max_size=self._max_size)
            else:
                assert isinstance(event, ResponseEnd)
                head = self._head
                assert head is not None  # the codec never ends a response it did not start
                if self._decoder is not None:
                    self._pieces.append(self._decoder.flush())
                if event.reusable:
                    codec.start_next_cycle()
                response = Response._received(
                    head.status_code, head.headers, b"".join(self._pieces), self._request
                )
                return response, event.reusable


class StreamReader:
    """Read one response from ``codec`` as a stream: ``head()`` until it returns the head
    (a ``Response`` with empty content), then ``body()`` for each decoded piece of at most
    ``window`` bytes. Either returns ``NEED_DATA`` when the caller must read from the
    connection and ``feed()`` it (b"" at EOF). ``body()`` returns b"" at the end of the
    body, and from then on; ``reusable`` then says whether the connection may be pooled.

    Raises ``RemoteProtocolError`` for a bad response or a corrupt or truncated encoded
    body. The reader holds at most one read of raw bytes and the decoder's bounded state.
    """

    __slots__ = ("_codec", "_decoder", "_ended", "_request", "_window", "reusable")

    def __init__(self, codec: ClientCodec, request: Request, *, window: int) -> None:
        self._codec = codec
        self._request = request
        self._window = window
        self._decoder: StreamDecoder | None = None
        self._ended = False
        #: True once the body ended and the connection may carry another request.
        self.reusable = False

    def feed(self, data: bytes) -> None:
        """Bytes read from the connection; b"" means EOF."""
        self._codec.feed(data)

    def head(self) -> Response | NeedData:
        """The response head, or ``NEED_DATA``."""
        event = self._codec.next_event()
        if event is NEED_DATA:
            return NEED_DATA
        # The codec yields the head before anything else of a response.
        assert isinstance(event, ResponseHead)
        self._decoder = StreamDecoder(event.headers.get("content-encoding"), window=self._window)
        return Response._received(event.status_code, event.headers, b"", self._request)

    def body(self) -> bytes | NeedData:
        """The next decoded piece of the body, b"" at its end, or ``NEED_DATA``."""
        decoder = self._decoder
        assert decoder is not None, "body() before head()"
        codec = self._codec
        while True:
            piece = decoder.read()
            if piece or self._ended:
                return piece
            event = codec.next_event()
            if event is NEED_DATA:
                return NEED_DATA
            if isinstance(event, BodyChunk):
                decoder.feed(event.data)
            else:
                assert isinstance(event, ResponseEnd)
                decoder.feed_eof()
                self._ended = True
                if event.reusable:
                    codec.start_next_cycle()
                    self.reusable = True


class BodyBuffer:
    """A streamed body kept whole from its decoded pieces, within ``max_size`` bytes:
    ``add`` raises ``ResponseTooLargeError`` (naming ``request``) past it."""

    __slots__ = ("_max_size", "_parts", "_request", "_size")

    def __init__(self, max_size: int, request: Request | None = None) -> None:
        self._max_size = max_size
        self._request = request
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, piece: bytes) -> None:
        """Keep ``piece``."""
        self._size += len(piece)
        if self._size > self._max_size:
            raise body_too_large(self._max_size, self._request)
        self._parts.append(piece)

    def content(self) -> bytes:
        """The body so far."""
        return b"".join(self._parts)
