"""``ResponseReader``: from a codec's events to a whole ``Response``, body decoded.

The h11 transports only move bytes: they feed what they read and ask for the next
step, so the assembly and its bounds live here once, for threads and async alike.
"""

from __future__ import annotations

from ._decoding import BodyDecoder
from ._http11 import NEED_DATA, BodyChunk, ClientCodec, ResponseEnd, ResponseHead, _NeedData
from ._models import Request, Response

__all__ = ["ResponseReader"]


class ResponseReader:
    """Read one response from ``codec``: call ``step()``; on ``NEED_DATA`` read from the
    connection and ``feed()`` it (b"" at EOF); otherwise ``step()`` returned
    ``(response, reusable)``. Raises ``RemoteProtocolError`` for a bad response and
    ``ResponseTooLargeError`` past ``max_size`` decoded bytes.
    """

    __slots__ = ("_body", "_codec", "_decoder", "_head", "_max_size", "_request")

    def __init__(self, codec: ClientCodec, request: Request, *, max_size: int) -> None:
        self._codec = codec
        self._request = request
        self._head: ResponseHead | None = None
        self._decoder = BodyDecoder(None, max_size=max_size)
        self._body = bytearray()
        self._max_size = max_size

    def feed(self, data: bytes) -> None:
        """Bytes read from the connection; b"" means EOF."""
        self._codec.feed(data)

    def step(self) -> tuple[Response, bool] | _NeedData:
        """Advance as far as the bytes fed allow."""
        codec = self._codec
        while True:
            event = codec.next_event()
            if event is NEED_DATA:
                return NEED_DATA
            if isinstance(event, BodyChunk):
                self._body += self._decoder.feed(event.data)
            elif isinstance(event, ResponseHead):
                self._head = event
                self._decoder = BodyDecoder(
                    event.headers.first("content-encoding"), max_size=self._max_size
                )
            else:
                assert isinstance(event, ResponseEnd)
                head = self._head
                assert head is not None  # the codec never ends a response it did not start
                self._body += self._decoder.flush()
                if event.reusable:
                    codec.start_next_cycle()
                response = Response(
                    head.status_code,
                    headers=head.headers,
                    content=bytes(self._body),
                    request=self._request,
                )
                return response, event.reusable
