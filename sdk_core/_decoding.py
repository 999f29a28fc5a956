"""Content-Encoding decoding with a bound on what it may produce.

Public (``sdk_core.BodyDecoder``, ``StreamDecoder``, ``supported_encodings``) for
transports written outside this package: the client advertises
``Accept-Encoding: <supported_encodings()>``, so a transport must undo what comes back.

``BodyDecoder`` decodes a buffered body within a total size; ``StreamDecoder`` decodes a
streamed body piece by piece, each piece and the state it holds bounded by a window.
gzip and deflate (zlib-wrapped or raw) always; br when ``brotli`` or ``brotlicffi`` is
installed and zstd when ``zstandard`` is (the ``compression`` extra); other encodings pass
through as sent. At most ``MAX_ENCODINGS`` chained encodings. Output past ``max_size``
raises ``ResponseTooLargeError``, so a decompression bomb never inflates in memory: every
decoder produces its output in steps of bounded size, and the bound is checked after each.
The optional packages are pure codecs (no I/O), imported here once.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any, Final, Protocol

from ._errors import RemoteProtocolError, ResponseTooLargeError

if TYPE_CHECKING:
    from ._models import Request

try:
    import brotli as _brotli_c  # type: ignore[import-untyped, unused-ignore]
except ImportError:  # pragma: no cover - only without the brotli package
    _brotli_c = None
try:
    import brotlicffi as _brotlicffi  # type: ignore[import-untyped, unused-ignore]
except ImportError:  # pragma: no cover - only without the brotlicffi package
    _brotlicffi = None
try:
    import zstandard as _zstandard_module

    _zstandard: Any = _zstandard_module
except ImportError:  # pragma: no cover - only without the zstandard package
    _zstandard = None

__all__ = [
    "MAX_ENCODINGS",
    "BodyDecoder",
    "StreamDecoder",
    "body_too_large",
    "supported_encodings",
]

#: Chained encodings accepted in one response (urllib3's limit).
MAX_ENCODINGS: Final = 5

#: Output limit asked of one brotli ``process`` call. brotli's C module grows its buffer
#: in blocks and stops once it holds at least the limit, so one call returns at most about
#: 32 KiB for this limit (brotlicffi returns at most the limit itself).
_BROTLI_STEP: Final = 16 * 1024
#: zstd's largest block (RFC 8878 3.1.1.2.4: Block_Maximum_Size <= 128 KiB).
_ZSTD_BLOCK: Final = 128 * 1024
#: Largest zstd window accepted: RFC 9659 limits the zstd content coding to 8 MiB.
_ZSTD_MAX_WINDOW: Final = 8 * 1024 * 1024
#: Magic numbers (RFC 8878 3.1.1 and 3.1.2: skippable frames take any last hex digit).
_ZSTD_MAGIC: Final = 0xFD2FB528
_ZSTD_SKIPPABLE: Final = 0x184D2A50
# The fields of a zstd stream ``_Zstd`` reads, in the order of RFC 8878 3.1. Fields
# before ``_BLOCK`` are parsed (their bytes are kept); the others are only passed on.
_MAGIC, _SKIP_SIZE, _DESCRIPTOR, _BLOCK_HEADER, _BLOCK, _HEADER_REST, _CHECKSUM, _SKIPPED = range(8)


def _bounded_brotli(*modules: Any) -> Any:
    """The first of ``modules`` whose ``Decompressor.process`` takes ``output_buffer_limit``.

    Older brotli and brotlicffi releases cannot bound one call's output: br is then not
    decoded at all (nor advertised) rather than decoded without a bound.
    """
    for module in modules:
        if module is None:
            continue
        try:
            module.Decompressor().process(b"", output_buffer_limit=1)
        except TypeError:
            continue
        return module
    return None


_brotli: Any = _bounded_brotli(_brotli_c, _brotlicffi)

#: Errors the decoders raise for a corrupt stream.
_DECODE_ERRORS: tuple[type[Exception], ...] = (
    zlib.error,
    *((_brotli.error,) if _brotli is not None else ()),
    *((_zstandard.ZstdError,) if _zstandard is not None else ()),
)


class _Decoder(Protocol):
    def decompress(self, data: bytes, max_length: int) -> bytes: ...

    @property
    def tail(self) -> bytes: ...

    def flush(self) -> bytes: ...

    @property
    def truncated(self) -> bool: ...


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
        if self._gzip and self._obj.eof and data:
            # RFC 1952 2.2: a gzip stream is one or more members, one after the other.
            # Only on new input: a call with none (StreamDecoder draining) keeps the end.
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


class _Brotli:
    """br (RFC 7932), through ``brotli`` or ``brotlicffi``.

    Bound: each ``process`` call is asked for at most ``_BROTLI_STEP`` bytes (so returns
    at most about 32 KiB), and ``decompress`` stops calling once ``max_length`` is reached.
    """

    def __init__(self) -> None:
        self._obj = _brotli.Decompressor()
        self._fed = False

    def decompress(self, data: bytes, max_length: int) -> bytes:
        self._fed = self._fed or bool(data)
        out = bytearray()
        chunk: bytes = self._obj.process(data, output_buffer_limit=_BROTLI_STEP)
        out += chunk
        # Past a full step the decoder holds more output (or unread input): ask again with
        # no input until a call yields nothing while the decoder accepts more data.
        while len(out) < max_length and (chunk or not self._obj.can_accept_more_data()):
            chunk = self._obj.process(b"", output_buffer_limit=_BROTLI_STEP)
            out += chunk
        return bytes(out)

    @property
    def tail(self) -> bytes:
        return b""  # brotli keeps unread input inside its decoder

    def flush(self) -> bytes:
        return b""

    @property
    def truncated(self) -> bool:
        return self._fed and not self._obj.is_finished()


class _Zstd:
    """zstd (RFC 8878), through ``zstandard``; one frame or several, one after the other.

    Bound: ``ZstdDecompressionObj.decompress`` has no output limit, so ``_Zstd`` reads the
    framing (RFC 8878 3.1) just enough to find where each block ends, and hands zstd the
    input up to one block's end at a time. A block yields at most 128 KiB (3.1.1.2.4; an
    RLE block too), so one step yields at most ``max_length`` plus 128 KiB. A block cut
    short by the end of ``data`` goes to zstd as it is, which keeps it until the rest
    arrives (in its input buffer, at most one block). zstd checks everything else; this
    only refuses framing it cannot follow: an unknown magic number, a reserved bit or
    block type, a block over 128 KiB.
    """

    def __init__(self) -> None:
        self._dctx = _zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
        self._obj = self._dctx.decompressobj()
        self._fed = False
        self._tail = b""
        self._kind = _MAGIC  # the field being read
        self._need = 4  # its bytes still to come
        self._field = b""  # its bytes so far (parsed fields only)
        self._last = False  # the current block is the last of its frame
        self._checksum = False  # the current frame ends with a Content_Checksum

    def decompress(self, data: bytes, max_length: int) -> bytes:
        self._fed = self._fed or bool(data)
        view = memoryview(data)
        out = bytearray()
        fed = pos = 0  # view[:fed] went to zstd; view[:pos] was read
        while True:
            if not self._need:
                if self._next():  # a block or a frame ended at pos
                    out += self._feed(view[fed:pos])
                    fed = pos
                    if len(out) >= max_length:
                        break
                continue
            if pos == len(view):
                break
            step = min(self._need, len(view) - pos)
            if self._kind < _BLOCK:
                self._field += view[pos : pos + step]
            pos += step
            self._need -= step
        if fed < pos:  # a block cut short, or headers without their block yet
            out += self._feed(view[fed:pos])
        self._tail = bytes(view[pos:])
        return bytes(out)

    def _feed(self, piece: memoryview) -> bytes:
        if self._obj.eof:
            # RFC 8878 3: a zstd stream may hold several frames, one after the other.
            self._obj = self._dctx.decompressobj()
        return self._obj.decompress(piece)  # type: ignore[no-any-return]

    def _expect(self, kind: int, size: int) -> None:
        self._kind, self._need, self._field = kind, size, b""

    def _next(self) -> bool:
        """Take the field just read and expect the next; True at a block's or frame's end."""
        kind, value = self._kind, int.from_bytes(self._field, "little")
        if kind == _MAGIC:
            if value == _ZSTD_MAGIC:
                self._expect(_DESCRIPTOR, 1)
            elif value & ~0xF == _ZSTD_SKIPPABLE:  # 3.1.2: Frame_Size follows
                self._expect(_SKIP_SIZE, 4)
            else:
                raise _zstandard.ZstdError(f"unknown frame magic number {value:#010x}")
        elif kind == _SKIP_SIZE:
            self._expect(_SKIPPED, value)
        elif kind == _DESCRIPTOR:  # 3.1.1.1.1 Frame_Header_Descriptor
            if value & 0x08:  # 3.1.1.1.1.5 Reserved_Bit
                raise _zstandard.ZstdError("reserved bit set in a frame header")
            self._checksum = bool(value & 0x04)
            single = value & 0x20  # Single_Segment_flag: no Window_Descriptor
            content_size = (1 if single else 0, 2, 4, 8)[value >> 6]  # 3.1.1.1.4
            dictionary_id = (0, 1, 2, 4)[value & 0x03]  # 3.1.1.1.3
            self._expect(_HEADER_REST, (0 if single else 1) + dictionary_id + content_size)
        elif kind == _HEADER_REST:
            self._expect(_BLOCK_HEADER, 3)
        elif kind == _BLOCK_HEADER:  # 3.1.1.2.1: Last_Block, Block_Type, Block_Size
            self._last = bool(value & 1)
            # 3.1.1.2.2 Block_Type: 0 Raw, 1 RLE, 2 Compressed, 3 Reserved; 3.1.1.2.3 Block_Size.
            block_type, size = (value >> 1) & 3, value >> 3
            if block_type == 3:
                raise _zstandard.ZstdError("reserved block type")
            if size > _ZSTD_BLOCK:
                raise _zstandard.ZstdError(f"block of {size} bytes (at most 128 KiB)")
            self._expect(_BLOCK, 1 if block_type == 1 else size)  # RLE: one byte, repeated
        elif kind == _BLOCK and not self._last:
            self._expect(_BLOCK_HEADER, 3)
            return True
        elif kind == _BLOCK and self._checksum:  # 3.1.1: Content_Checksum, 4 bytes
            self._expect(_CHECKSUM, 4)
            return True
        else:  # a frame's end: its last block or checksum, or a skippable frame's data
            self._expect(_MAGIC, 4)
            return True
        return False

    @property
    def tail(self) -> bytes:
        """Input not yet read, left once ``max_length`` was reached."""
        return self._tail

    def flush(self) -> bytes:
        return b""

    @property
    def truncated(self) -> bool:
        return self._fed and not self._obj.eof


def body_too_large(max_size: int, request: Request | None = None) -> ResponseTooLargeError:
    """The error for a body past ``max_size`` bytes (``max_response_size``), decoded."""
    return ResponseTooLargeError(
        f"The response body is larger than max_response_size ({max_size} bytes).",
        request=request,
    )


def supported_encodings() -> tuple[str, ...]:
    """The encodings ``BodyDecoder`` undoes, best first, for Accept-Encoding."""
    return (
        *(("zstd",) if _zstandard is not None else ()),
        *(("br",) if _brotli is not None else ()),
        "gzip",
        "deflate",
    )


def _decoders_for(content_encoding: str | None) -> list[_Decoder]:
    """The decoders that undo ``content_encoding``, in the order the body goes through them.

    Empty when the body passes through as sent (no encoding, or one we cannot undo).
    Raises ``RemoteProtocolError`` for more than ``MAX_ENCODINGS`` encodings.
    """
    names = [n.strip().lower() for n in (content_encoding or "").split(",") if n.strip()]
    names = [n for n in names if n != "identity"]
    if len(names) > MAX_ENCODINGS:
        raise RemoteProtocolError(
            f"The response has {len(names)} chained content encodings "
            f"(at most {MAX_ENCODINGS} are accepted).",
            request_sent=True,
        )
    decoders: list[_Decoder] = []
    for name in reversed(names):
        if name in ("gzip", "x-gzip"):
            decoders.append(_Zlib(gzip=True))
        elif name == "deflate":
            decoders.append(_Zlib(gzip=False))
        elif name == "br" and _brotli is not None:
            decoders.append(_Brotli())
        elif name == "zstd" and _zstandard is not None:
            decoders.append(_Zstd())
        else:
            return []  # an encoding we cannot undo: hand the body over as sent
    return decoders


def _corrupt(exc: Exception) -> RemoteProtocolError:
    return RemoteProtocolError(f"The response body could not be decoded: {exc}.", request_sent=True)


def _truncated() -> RemoteProtocolError:
    return RemoteProtocolError(
        "The response body ended inside its compressed stream.", request_sent=True
    )


class BodyDecoder:
    """Undo a response's Content-Encoding chunk by chunk, within ``max_size`` bytes.

    Unknown encodings leave the body as it is. Raises ``RemoteProtocolError`` for a
    corrupt stream or too many encodings, ``ResponseTooLargeError`` past ``max_size``.
    """

    __slots__ = ("_decoders", "_max_size", "_produced")

    def __init__(self, content_encoding: str | None, *, max_size: int) -> None:
        self._max_size = max_size
        self._produced = 0
        self._decoders = _decoders_for(content_encoding)

    @property
    def identity(self) -> bool:
        """True when the body passes through unchanged."""
        return not self._decoders

    def _count(self, data: bytes) -> bytes:
        self._produced += len(data)
        if self._produced > self._max_size:
            raise body_too_large(self._max_size)
        return data

    def feed(self, data: bytes) -> bytes:
        """Decode one chunk of the body as received."""
        if not self._decoders:
            return self._count(data)
        for decoder in self._decoders:
            data = self._run(decoder, data)
        return self._count(data)

    def _run(self, decoder: _Decoder, data: bytes, *, final: bool = False) -> bytes:
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
                    raise _truncated()
        except _DECODE_ERRORS as exc:
            raise _corrupt(exc) from None
        return bytes(out)

    def flush(self) -> bytes:
        """What the decoders still hold at the end of the body."""
        out = b""
        for decoder in self._decoders:
            out = self._run(decoder, out, final=True)
        return self._count(out)


class StreamDecoder:
    """Undo a streamed response's Content-Encoding, one bounded piece at a time.

    Pull style: ``feed`` the bytes received once ``read`` returns ``b""``, and ``feed_eof``
    when the body ends. No total bound (a stream may be endless): each ``read`` returns at
    most ``window`` bytes, and each decoding stage holds at most a window of pending input
    and hands on at most a window (plus one decoder step: about 32 KiB for br, one 128 KiB
    block for zstd), so a decompression bomb inflates one piece at a time. Unknown
    encodings leave the body as it is. Raises ``RemoteProtocolError`` for too many
    encodings, a corrupt stream, or a compressed stream the body ended inside.
    """

    __slots__ = (
        "_decoders",
        "_eof",
        "_held",
        "_input",
        "_input_at",
        "_pending",
        "_ready",
        "_ready_at",
        "_window",
    )

    def __init__(self, content_encoding: str | None, *, window: int = 64 * 1024) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1 byte, not {window}.")
        self._decoders = _decoders_for(content_encoding)
        self._window = window
        self._eof = False
        # Bytes fed and not yet handed to the first stage (or, for identity, returned).
        self._input = b""
        self._input_at = 0
        # Each stage's input not yet decoded, and whether it may hold output back.
        self._pending = [b""] * len(self._decoders)
        self._held = [False] * len(self._decoders)
        # The last stage's output not yet returned.
        self._ready = b""
        self._ready_at = 0

    @property
    def identity(self) -> bool:
        """True when the body passes through unchanged."""
        return not self._decoders

    def feed(self, data: bytes) -> None:
        """Add bytes of the body as received; call it once ``read`` returned ``b""``.

        Raises ``RuntimeError`` after ``feed_eof``.
        """
        if self._eof:
            raise RuntimeError("StreamDecoder.feed() was called after feed_eof().")
        self._input = self._input[self._input_at :] + data
        self._input_at = 0

    def feed_eof(self) -> None:
        """Mark the end of the body."""
        self._eof = True

    def read(self) -> bytes:
        """The next decoded piece (at most ``window`` bytes).

        ``b""`` means more input is needed or, after ``feed_eof``, the body is done.
        Raises ``RemoteProtocolError`` for a corrupt stream, and after ``feed_eof`` for a
        compressed stream cut short (once everything decoded before the cut is returned).
        """
        if not self._decoders:
            return self._take_input()
        if self._ready_at >= len(self._ready):
            try:
                self._ready = self._pull(len(self._decoders) - 1)
            except _DECODE_ERRORS as exc:
                raise _corrupt(exc) from None
            self._ready_at = 0
            if not self._ready:
                if self._eof and any(decoder.truncated for decoder in self._decoders):
                    raise _truncated()
                return b""
        start = self._ready_at
        self._ready_at = start + self._window
        return self._ready[start : self._ready_at]

    def _take_input(self) -> bytes:
        start = self._input_at
        self._input_at = start + self._window
        return self._input[start : self._input_at]

    def _pull(self, stage: int) -> bytes:
        """Some output of ``stage``; ``b""`` when it needs input nobody has fed yet."""
        decoder = self._decoders[stage]
        while True:
            data = self._pending[stage]
            if not data and not self._held[stage]:
                data = self._pull(stage - 1) if stage else self._take_input()
                if not data:
                    return b""
            out = decoder.decompress(data, self._window)
            self._pending[stage] = decoder.tail
            # A full step: the decoder may hold more output back (zlib does, inside a
            # long match); ask again with no input before pulling more. flush() is never
            # needed then, and never called: it has no output bound.
            self._held[stage] = len(out) >= self._window
            if out:
                return out
