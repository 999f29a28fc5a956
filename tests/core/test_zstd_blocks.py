"""zstd: the framing read block by block (RFC 8878 3.1), the output bounded per block."""

from __future__ import annotations

import functools
import random
import tracemalloc

import pytest

from sdk_core import (
    BodyDecoder,
    RemoteProtocolError,
    ResponseTooLargeError,
    StreamDecoder,
    _decoding,
)

zstandard = pytest.importorskip("zstandard")

MB = 1024 * 1024
BLOCK = 128 * 1024
TEXT = b"".join(b"line %d: the quick brown fox jumps over the lazy dog\n" % i for i in range(4000))


def noise(size: int, seed: int = 8878) -> bytes:
    """Incompressible bytes (zstd sends them as Raw blocks), the same on every run."""
    return random.Random(seed).randbytes(size)


#: Raw, RLE and Compressed blocks, in that order, and a short Raw tail.
MIXED = noise(200_000) + bytes(300_000) + TEXT + noise(1000, seed=1)


@functools.cache
def compressed(data: bytes, level: int = 3, checksum: bool = True, size: bool = True) -> bytes:
    compressor = zstandard.ZstdCompressor(
        level=level, write_checksum=checksum, write_content_size=size
    )
    return compressor.compress(data)  # type: ignore[no-any-return]


# -- hand-made frames (RFC 8878 3.1.1) ----------------------------------------------


def header(descriptor: int, rest: bytes) -> bytes:
    """Magic number, Frame_Header_Descriptor, then the optional header fields."""
    return (0xFD2FB528).to_bytes(4, "little") + bytes([descriptor]) + rest


def block(block_type: int, size: int, content: bytes, *, last: bool = False) -> bytes:
    return ((size << 3) | (block_type << 1) | last).to_bytes(3, "little") + content


def raw(content: bytes, *, last: bool = False) -> bytes:
    return block(0, len(content), content, last=last)


def rle(byte: int, size: int, *, last: bool = False) -> bytes:
    return block(1, size, bytes([byte]), last=last)


#: Frame_Header_Descriptor 0 with Window_Descriptor 0x38: a 128 KiB window, nothing else.
PLAIN = header(0x00, b"\x38")


def skippable(content: bytes, nibble: int = 0) -> bytes:
    """A skippable frame (RFC 8878 3.1.2); any magic number 0x184D2A50 to 0x184D2A5F."""
    return (
        (0x184D2A50 + nibble).to_bytes(4, "little") + len(content).to_bytes(4, "little") + content
    )


# -- feeding -----------------------------------------------------------------------


def chunked(body: bytes, seed: int, largest: int = 70_000) -> list[bytes]:
    """``body`` in random chunk sizes, one byte often among them."""
    rng = random.Random(seed)
    chunks, start = [], 0
    while start < len(body):
        size = rng.choice([1, 1, 2, 3, rng.randint(1, 200), rng.randint(1, largest)])
        chunks.append(body[start : start + size])
        start += size
    return chunks


def streamed(chunks: list[bytes], window: int = 64 * 1024) -> bytes:
    decoder = StreamDecoder("zstd", window=window)
    out = bytearray()
    for chunk in chunks:
        decoder.feed(chunk)
        while piece := decoder.read():
            assert len(piece) <= window
            out += piece
    decoder.feed_eof()
    while piece := decoder.read():
        assert len(piece) <= window
        out += piece
    return bytes(out)


def buffered(chunks: list[bytes], max_size: int = 64 * MB) -> bytes:
    decoder = BodyDecoder("zstd", max_size=max_size)
    return b"".join(decoder.feed(chunk) for chunk in chunks) + decoder.flush()


def feed_all(decoder: BodyDecoder, chunks: list[bytes]) -> None:
    for chunk in chunks:
        decoder.feed(chunk)


def read_all(decoder: StreamDecoder, out: bytearray) -> None:
    while piece := decoder.read():
        out += piece


def both(chunks: list[bytes], window: int = 64 * 1024) -> tuple[bytes, bytes]:
    return streamed(chunks, window), buffered(chunks)


# -- round trips -------------------------------------------------------------------


@pytest.mark.parametrize("level", [-5, 1, 3, 19])
@pytest.mark.parametrize("checksum", [False, True])
@pytest.mark.parametrize("size", [False, True])
def test_incompressible_and_mixed_data_round_trip(level: int, checksum: bool, size: bool) -> None:
    for data in (noise(300_000), MIXED):
        body = compressed(data, level, checksum, size)
        assert both([body]) == (data, data)
        for seed in range(2):
            chunks = chunked(body, seed)
            assert both(chunks) == (data, data)
            assert streamed(chunks, window=4096) == data


@pytest.mark.parametrize("checksum", [False, True])
def test_one_byte_at_a_time(checksum: bool) -> None:
    # One full Raw block, the start of the next, then an RLE and a Compressed block.
    data = noise(BLOCK + 100) + bytes(BLOCK) + TEXT[:5000]
    body = compressed(data, 3, checksum)
    chunks = [body[i : i + 1] for i in range(len(body))]
    assert both(chunks) == (data, data)


def test_frames_and_skippable_frames_one_after_the_other() -> None:
    parts = [
        (skippable(b"leading metadata", nibble=0), b""),
        (compressed(noise(150_000, seed=2), 1, checksum=True), noise(150_000, seed=2)),
        (skippable(b"", nibble=0xF), b""),
        (compressed(b""), b""),
        (skippable(noise(BLOCK + 1000, seed=3), nibble=7), b""),  # longer than a block
        (compressed(MIXED, 3, checksum=False, size=False), MIXED),
        (compressed(TEXT, 19), TEXT),
        (skippable(b"trailing", nibble=0xA), b""),
    ]
    body = b"".join(frame for frame, _ in parts)
    data = b"".join(content for _, content in parts)
    assert both([body]) == (data, data)
    for seed in range(4):
        assert both(chunked(body, seed)) == (data, data)
    assert streamed(chunked(body, 9, largest=5000), window=1000) == data


def test_a_body_of_skippable_frames_only_is_empty() -> None:
    body = skippable(b"x") + skippable(b"")
    assert both([body]) == (b"", b"")
    assert both([body[i : i + 1] for i in range(len(body))]) == (b"", b"")


@pytest.mark.parametrize(
    ("frame", "content"),
    [
        # Dictionary_ID of 1, 2 and 4 bytes (0: no dictionary), after the Window_Descriptor.
        (header(0x01, b"\x38\x00") + raw(b"hello", last=True), b"hello"),
        (header(0x02, b"\x38\x00\x00") + raw(b"hello", last=True), b"hello"),
        (header(0x03, b"\x38" + bytes(4)) + raw(b"hello", last=True), b"hello"),
        # Single_Segment: no Window_Descriptor; Frame_Content_Size of 1, 2, 4 and 8 bytes.
        (header(0x20, b"\x05") + raw(b"hello", last=True), b"hello"),
        (header(0x60, (300 - 256).to_bytes(2, "little")) + raw(b"h" * 300, last=True), b"h" * 300),
        (header(0xA0, (5).to_bytes(4, "little")) + raw(b"hello", last=True), b"hello"),
        (header(0xE1, b"\x00" + (5).to_bytes(8, "little")) + raw(b"hello", last=True), b"hello"),
        # Frame_Content_Size of 8 bytes with a Window_Descriptor; the unused bit set.
        (header(0xC0, b"\x38" + (5).to_bytes(8, "little")) + raw(b"hello", last=True), b"hello"),
        (header(0x10, b"\x38") + raw(b"hello", last=True), b"hello"),
        # Empty Raw blocks, RLE blocks up to the 128 KiB Block_Maximum_Size.
        (
            PLAIN + raw(b"") + rle(0x61, BLOCK) + raw(b"") + rle(0x62, 3) + raw(b"", last=True),
            b"a" * BLOCK + b"bbb",
        ),
        (PLAIN + rle(0x63, 1, last=True), b"c"),
    ],
)
def test_hand_made_frames(frame: bytes, content: bytes) -> None:
    body = frame + skippable(b"") + frame
    assert both([body]) == (content * 2, content * 2)
    assert both([body[i : i + 1] for i in range(len(body))], window=7) == (content * 2,) * 2


# -- the bound ---------------------------------------------------------------------

#: 200 MiB of zeros in 6.4 KB: 1600 RLE blocks of 128 KiB, 4 bytes each.
RLE_BOMB = PLAIN + rle(0, BLOCK) * 1599 + rle(0, BLOCK, last=True)


def test_one_step_is_one_block_past_the_limit() -> None:
    decoder = _decoding._Zstd()
    assert decoder.decompress(RLE_BOMB, 1) == bytes(BLOCK)
    assert decoder.tail == RLE_BOMB[len(PLAIN) + 4 :]
    assert decoder.decompress(decoder.tail, 3 * BLOCK) == bytes(3 * BLOCK)
    assert decoder.decompress(decoder.tail, 3 * BLOCK - 1) == bytes(3 * BLOCK)
    assert decoder.tail == RLE_BOMB[len(PLAIN) + 7 * 4 :]
    # A Raw block cut short: what arrived is decoded, nothing is left as tail.
    decoder = _decoding._Zstd()
    assert decoder.decompress(PLAIN + raw(noise(BLOCK))[:1000], 1) == noise(BLOCK)[:997]
    assert decoder.tail == b""
    assert decoder.truncated


@pytest.mark.parametrize("window", [64 * 1024, 4096])
def test_an_rle_bomb_is_decoded_piece_by_piece(window: int) -> None:
    decoder = StreamDecoder("zstd", window=window)
    total = 0
    tracemalloc.start()
    try:
        for start in range(0, len(RLE_BOMB), 1024):
            decoder.feed(RLE_BOMB[start : start + 1024])
            while piece := decoder.read():
                assert len(piece) == window
                assert piece.count(0) == window
                total += window
        decoder.feed_eof()
        assert decoder.read() == b""
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == 1600 * BLOCK
    assert peak < 2 * MB, f"peak {peak} bytes: the bomb was inflated"


@pytest.mark.parametrize("chunk", [1, 4096, len(RLE_BOMB)])
def test_an_rle_bomb_is_refused_past_max_size(chunk: int) -> None:
    decoder = BodyDecoder("zstd", max_size=MB)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError):
            feed_all(decoder, [RLE_BOMB[i : i + chunk] for i in range(0, len(RLE_BOMB), chunk)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MB


# -- malformed framing and truncation ----------------------------------------------

GOOD = compressed(b"hello")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x28\xb5\x2f\xfe" + GOOD[4:], "unknown frame magic number 0xfe2fb528"),
        (skippable(b"x")[:3] + b"\x40\x04\x00\x00\x00x", "unknown frame magic number 0x40"),
        (GOOD + b"\xff" * 16, "unknown frame magic number 0xffffffff"),
        (header(0x08, b"\x38") + raw(b"hello", last=True), "reserved bit"),
        (PLAIN + block(3, 5, b"hello", last=True), "reserved block type"),
        (PLAIN + raw(b"x" * (BLOCK + 1), last=True), "block of 131073 bytes"),
        (PLAIN + rle(0x61, BLOCK + 1, last=True), "block of 131073 bytes"),
        (header(0x00, b"\x00") + rle(0x61, 2000, last=True), ""),  # over a 1 KiB window
        (GOOD[:-4] + b"\x00\x00\x00\x00", ""),  # a wrong Content_Checksum
    ],
)
def test_malformed_framing_is_a_protocol_error(body: bytes, message: str) -> None:
    for feed in (streamed, buffered):
        with pytest.raises(RemoteProtocolError, match="could not be decoded") as info:
            feed([body])
        assert message in str(info.value)
        assert info.value.request_sent is True
        # Fed a byte at a time, zstd may see a field and refuse it first.
        with pytest.raises(RemoteProtocolError, match="could not be decoded"):
            feed([body[i : i + 1] for i in range(len(body))])


def _cuts() -> list[tuple[str, bytes, int]]:
    """(what the body ends inside, the body, where it is cut)."""
    data = noise(BLOCK + 500) + bytes(BLOCK) + TEXT[:20_000]
    frame = compressed(data, 3, checksum=True)
    # Single_Segment, a Frame_Content_Size of 4 bytes, a Content_Checksum; a full Raw block.
    assert frame[4] == 0xA4
    first = 9
    assert int.from_bytes(frame[first : first + 3], "little") == BLOCK << 3
    return [
        ("the magic number", frame, 2),
        ("the frame header", frame, 6),
        ("a block header", frame, first + 1),
        ("a Raw block", frame, first + 3 + 70_000),
        ("the next block header", frame, first + 3 + BLOCK + 2),
        ("a Compressed block", frame, len(frame) - 30),
        ("the checksum", frame, len(frame) - 2),
        ("before the checksum", frame, len(frame) - 4),
        ("an RLE block", PLAIN + rle(0x61, 100, last=True), len(PLAIN) + 3),
        ("the skippable frame size", skippable(b"skipped") + frame, 6),
        ("the skippable frame", skippable(b"skipped") + frame, 10),
        ("the next frame", frame + compressed(b"second"), len(frame) + 2),
    ]


@pytest.mark.parametrize(("where", "body", "cut"), _cuts(), ids=[c[0] for c in _cuts()])
@pytest.mark.parametrize("window", [64 * 1024, 1000])
def test_a_truncated_stream_raises_at_the_end(
    where: str, body: bytes, cut: int, window: int
) -> None:
    whole = streamed([body])
    decoder = StreamDecoder("zstd", window=window)
    out = bytearray()
    for chunk in chunked(body[:cut], seed=cut):
        decoder.feed(chunk)
        read_all(decoder, out)
    assert decoder.read() == b""  # not an error before the end
    decoder.feed_eof()
    with pytest.raises(RemoteProtocolError, match="ended inside"):
        read_all(decoder, out)
    assert whole.startswith(out)
    body_decoder = BodyDecoder("zstd", max_size=64 * MB)
    feed_all(body_decoder, chunked(body[:cut], seed=cut))
    with pytest.raises(RemoteProtocolError, match="ended inside"):
        body_decoder.flush()
