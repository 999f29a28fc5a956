"""Content-Encoding decoding with a bound on what it may produce.

gzip and deflate (zlib-wrapped or raw); other encodings pass through as sent. At most
``MAX_ENCODINGS`` chained encodings. Output past ``max_size`` raises
``ResponseTooLargeError``, so a decompression bomb never inflates in memory.
"""

from __future__ import annotations

import zlib
from typing import Final

from ._errors import RemoteProtocolError, ResponseTooLargeError

__all__ = ["MAX_ENCODINGS", "BodyDecoder", "supported_encodings"]

#: Chained encodings accepted in one response (urllib3's limit).
MAX_ENCODINGS: Final = 5


class _Zlib:
    """gzip (``gzip``, one member or several) or zlib-wrapped or raw deflate (``deflate``)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        # deflate: the bytes fed until zlib has checked its 2-byte header, kept so that
        # they can be decoded again as raw deflate when the header check fails.
        self._seen: bytes | None = None if gzip else b""
        self._fed = False

    def decompress(self, data: bytes, max_length: int) -> bytes:
        self._fed = self._fed or bool(data)
        if self._gzip and self._obj.eof:
            # RFC 1952 2.2: a gzip stream is one or more members, one after the other.
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self._seen is None:
            return self._obj.decompress(data, max_length)
        self._seen += data
        try:
            out = self._obj.decompress(data, max_length)
        except zlib.error:
            # Many servers send raw deflate without the zlib wrapper.
            self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
            data, self._seen = self._seen, None
            return self._obj.decompress(data, max_length)
        if len(self._seen) >= 2:
            self._seen = None  # the zlib header passed its check
        return out

    @property
    def tail(self) -> bytes:
        """Input still to decode: held back by ``max_length``, or a next gzip member."""
        if self._gzip and self._obj.eof:
            return self._obj.unused_data
        return self._obj.unconsumed_tail

    def flush(self) -> bytes:
        return self._obj.flush()

    @property
    def truncated(self) -> bool:
        """True when input arrived but the compressed stream never reached its end."""
        return self._fed and not self._obj.eof


def supported_encodings() -> tuple[str, ...]:
    """The encodings ``BodyDecoder`` undoes, best first, for Accept-Encoding."""
    return ("gzip", "deflate")


class BodyDecoder:
    """Undo a response's Content-Encoding chunk by chunk, within ``max_size`` bytes.

    Unknown encodings leave the body as it is. Raises ``RemoteProtocolError`` for a
    corrupt stream or too many encodings, ``ResponseTooLargeError`` past ``max_size``.
    """

    __slots__ = ("_decoders", "_max_size", "_produced")

    def __init__(self, content_encoding: str | None, *, max_size: int) -> None:
        self._max_size = max_size
        self._produced = 0
        names = [n.strip().lower() for n in (content_encoding or "").split(",") if n.strip()]
        names = [n for n in names if n != "identity"]
        if len(names) > MAX_ENCODINGS:
            raise RemoteProtocolError(
                f"The response has {len(names)} chained content encodings "
                f"(at most {MAX_ENCODINGS} are accepted).",
                request_sent=True,
            )
        decoders: list[_Zlib] = []
        for name in reversed(names):
            if name in ("gzip", "x-gzip"):
                decoders.append(_Zlib(gzip=True))
            elif name == "deflate":
                decoders.append(_Zlib(gzip=False))
            else:
                decoders = []  # an encoding we cannot undo: hand the body over as sent
                break
        self._decoders = decoders

    @property
    def identity(self) -> bool:
        """True when the body passes through unchanged."""
        return not self._decoders

    def _count(self, data: bytes) -> bytes:
        self._produced += len(data)
        if self._produced > self._max_size:
            raise ResponseTooLargeError(
                f"The response body is larger than max_response_size ({self._max_size} bytes)."
            )
        return data

    def feed(self, data: bytes) -> bytes:
        """Decode one chunk of the body as received."""
        if not self._decoders:
            return self._count(data)
        for decoder in self._decoders:
            data = self._run(decoder, data)
        return self._count(data)

    def _run(self, decoder: _Zlib, data: bytes, *, final: bool = False) -> bytes:
        out = bytearray()
        room = self._max_size - self._produced + 1
        try:
            while data:
                chunk = decoder.decompress(data, room - len(out))
                out += chunk
                if len(out) >= room:
                    self._count(bytes(out))  # raises: past the bound
                # Each turn consumes all its input, reaches the bound, or ends a member.
                data = decoder.tail
            if final:
                # Empty unless output was held back by the bound, which raised above.
                out += decoder.flush()
                if decoder.truncated:
                    raise RemoteProtocolError(
                        "The response body ended inside its compressed stream.",
                        request_sent=True,
                    )
        except zlib.error as exc:
            raise RemoteProtocolError(
                f"The response body could not be decoded: {exc}.", request_sent=True
            ) from None
        return bytes(out)

    def flush(self) -> bytes:
        """What the decoders still hold at the end of the body."""
        out = b""
        for decoder in self._decoders:
            out = self._run(decoder, out, final=True)
        return self._count(out)
