"""StreamDecoder: Content-Encoding undone piece by piece, each piece and the held state bounded."""

from __future__ import annotations

import gzip
import itertools
import tracemalloc
import zlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdk_core import BodyDecoder, RemoteProtocolError, StreamDecoder, _decoding
from sdk_core.lowlevel import MAX_ENCODINGS

TEXT = b"".join(b"line %d: the quick brown fox jumps over the lazy dog\n" % i for i in range(2000))
MB = 1024 * 1024


def raw_deflated(data: bytes) -> bytes:
    obj = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return obj.compress(data) + obj.flush()


def gzip_members(data: bytes) -> bytes:
    """Several gzip members, one after the other (as ``gzip -c a b c`` writes)."""
    third = len(data) // 3
    parts = [data[:third], b"", data[third : 2 * third], data[2 * third :]]
    return b"".join(gzip.compress(part, mtime=0) for part in parts)


#: name -> (Content-Encoding token, compressor)
ENCODERS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "gzip": ("gzip", lambda data: gzip.compress(data, mtime=0)),
    "gzip-members": ("gzip", gzip_members),
    "deflate": ("deflate", zlib.compress),
    "raw-deflate": ("deflate", raw_deflated),
}
if _decoding._brotli is not None:
    ENCODERS["br"] = ("br", lambda data: _decoding._brotli.compress(data, quality=5))
if _decoding._zstandard is not None:
    ENCODERS["zstd"] = ("zstd", _decoding._zstandard.ZstdCompressor(level=3).compress)

NAMES = sorted(ENCODERS)


def encode(chain: list[str], data: bytes) -> tuple[str, bytes]:
    """Apply ``chain`` in order; the header lists the encodings in the order applied."""
    for name in chain:
        data = ENCODERS[name][1](data)
    return ", ".join(ENCODERS[name][0] for name in chain), data


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def drain(decoder: StreamDecoder, window: int, pieces: list[bytes]) -> None:
    while piece := decoder.read():
        assert len(piece) <= window
        pieces.append(piece)


def stream(header: str | None, chunks: list[bytes], window: int = 64 * 1024) -> list[bytes]:
    """Feed each chunk once ``read`` returned ``b""``, then end the body; every piece read."""
    decoder = StreamDecoder(header, window=window)
    pieces: list[bytes] = []
    for chunk in chunks:
        drain(decoder, window, pieces)
        decoder.feed(chunk)
    drain(decoder, window, pieces)
    decoder.feed_eof()
    drain(decoder, window, pieces)
    assert decoder.read() == b""  # stays at the end
    return pieces


def body_decoded(header: str, body: bytes) -> bytes:
    decoder = BodyDecoder(header, max_size=1 << 40)
    return decoder.feed(body) + decoder.flush()


# -- round trips -------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    chain=st.lists(st.sampled_from(NAMES), max_size=3),
    data=st.binary(max_size=3000) | st.just(TEXT) | st.builds(bytes, st.integers(0, 300_000)),
    cuts=st.lists(st.integers(0, 1_000_000), max_size=20),
    window=st.integers(1, 8) | st.integers(1, 100_000),
)
def test_round_trip_in_random_chunks_and_windows(
    chain: list[str], data: bytes, cuts: list[int], window: int
) -> None:
    if window < 64 and len(data) > 5000:
        data = data[:5000]  # tiny windows are slow on big bodies; the bound is the same
    header, body = encode(chain, data)
    pieces = stream(header, split(body, cuts), window)
    assert b"".join(pieces) == data
    assert body_decoded(header, body) == data


@pytest.mark.parametrize("name", NAMES)
def test_one_byte_at_a_time(name: str) -> None:
    header, body = encode([name], TEXT[:3000])
    chunks = [body[i : i + 1] for i in range(len(body))]
    assert b"".join(stream(header, chunks, window=7)) == TEXT[:3000]


@pytest.mark.parametrize("chain", [["gzip", "deflate"], ["raw-deflate", "gzip"], NAMES[:5]])
def test_chained_encodings(chain: list[str]) -> None:
    header, body = encode(chain, TEXT)
    assert b"".join(stream(header, [body], window=1000)) == TEXT
    assert b"".join(stream(header, split(body, list(range(0, len(body), 13))), 1000)) == TEXT


def test_a_gzip_member_ending_exactly_at_the_window() -> None:
    body = gzip.compress(b"x" * 100, mtime=0)
    assert stream("gzip", [body], window=100) == [b"x" * 100]
    assert stream("gzip", [body, gzip.compress(b"yz")], window=100) == [b"x" * 100, b"yz"]


def test_bytes_after_a_deflate_stream_are_ignored() -> None:
    assert stream("deflate", [zlib.compress(b"data") + b"trailing"]) == [b"data"]


@pytest.mark.parametrize("name", NAMES)
def test_an_empty_body(name: str) -> None:
    header, body = encode([name], b"")
    assert stream(header, []) == []
    assert stream(header, [b""]) == []
    assert stream(header, [body]) == []


# -- identity ----------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "identity", " , ,", "compress", "gzip, x-bogus"])
def test_identity_passes_the_body_in_window_pieces(header: str | None) -> None:
    decoder = StreamDecoder(header, window=4)
    assert decoder.identity
    assert decoder.read() == b""
    decoder.feed(b"0123456789")
    assert [decoder.read() for _ in range(4)] == [b"0123", b"4567", b"89", b""]
    decoder.feed(b"ab")
    decoder.feed(b"cdef")  # fed before read() returned b"": still kept in order
    decoder.feed_eof()
    assert [decoder.read() for _ in range(3)] == [b"abcd", b"ef", b""]


@given(
    data=st.binary(max_size=2000),
    cuts=st.lists(st.integers(0, 10_000), max_size=10),
    window=st.integers(1, 3000),
)
def test_identity_round_trip(data: bytes, cuts: list[int], window: int) -> None:
    assert b"".join(stream(None, split(data, cuts), window)) == data


def test_not_identity() -> None:
    assert not StreamDecoder("gzip").identity


# -- errors ------------------------------------------------------------------------


def test_at_most_five_encodings() -> None:
    header, body = encode(["gzip"] * MAX_ENCODINGS, TEXT)
    assert b"".join(stream(header, [body])) == TEXT
    with pytest.raises(RemoteProtocolError, match="6 chained content encodings") as info:
        StreamDecoder(", ".join(["gzip"] * (MAX_ENCODINGS + 1)))
    assert info.value.request_sent is True


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window"):
        StreamDecoder("gzip", window=0)


def test_feed_after_feed_eof_is_refused() -> None:
    decoder = StreamDecoder("gzip")
    decoder.feed_eof()
    with pytest.raises(RuntimeError, match="after feed_eof"):
        decoder.feed(b"x")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("keep", [1, 10, 0.5, -1])
def test_truncated_stream_raises_after_what_was_decoded(name: str, keep: float) -> None:
    header, body = encode([name], TEXT)
    cut = int(len(body) * keep) if isinstance(keep, float) else keep
    decoder = StreamDecoder(header, window=1000)
    decoder.feed(body[:cut])
    decoder.feed_eof()
    pieces: list[bytes] = []
    with pytest.raises(RemoteProtocolError, match="ended inside") as info:
        drain(decoder, 1000, pieces)
    assert info.value.request_sent is True
    out = b"".join(pieces)
    assert TEXT.startswith(out)
    with pytest.raises(RemoteProtocolError, match="ended inside"):
        decoder.read()  # and again


def test_a_truncated_outer_layer_of_a_chain() -> None:
    header, body = encode(["gzip", "gzip"], TEXT)
    with pytest.raises(RemoteProtocolError, match="ended inside"):
        stream(header, [body[:-4]])


def test_a_truncated_stream_is_only_an_error_at_the_end() -> None:
    decoder = StreamDecoder("gzip")
    decoder.feed(gzip.compress(TEXT)[:100])
    assert TEXT.startswith(decoder.read())
    assert decoder.read() == b""  # more may come


@pytest.mark.parametrize(
    ("chain", "corrupt"),
    [
        (["gzip"], lambda body: b"this is not gzip at all"),
        (["gzip"], lambda body: body[:10] + b"\xff" * 50),
        (["gzip"], lambda body: body + b"garbage after the member"),
        (["deflate"], lambda body: b"\xff\xff\xff\xff not deflate either"),
        (["gzip", "gzip"], lambda body: gzip.compress(b"plain text inside")),
        *((["br"], lambda body: b"not brotli at all, not even a little" * 3),) * ("br" in NAMES),
        *(
            (["zstd"], lambda body: body[:8] + bytes(b ^ 0xFF for b in body[8:40]) + body[40:]),
            (["zstd"], lambda body: body + b"\xff" * 16),
        )
        * ("zstd" in NAMES),
    ],
)
def test_corrupt_data_is_a_protocol_error(
    chain: list[str], corrupt: Callable[[bytes], bytes]
) -> None:
    header, body = encode(chain, TEXT)
    with pytest.raises(RemoteProtocolError, match="could not be decoded") as info:
        stream(header, [corrupt(body)], window=1000)
    assert info.value.request_sent is True


# -- bombs -------------------------------------------------------------------------

BOMB_SIZE = 200 * MB


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    """200 MB of zeros in each encoding, compressed fast (a bomb needs no effort to make)."""
    zeros = bytes(BOMB_SIZE)
    made = {"gzip": gzip.compress(zeros, compresslevel=1, mtime=0)}
    if "br" in NAMES:
        made["br"] = _decoding._brotli.compress(zeros, quality=1)
    if "zstd" in NAMES:
        made["zstd"] = _decoding._zstandard.ZstdCompressor(level=1).compress(zeros)
    made["gzip, gzip"] = gzip.compress(made["gzip"], mtime=0)
    return made


def held(decoder: StreamDecoder) -> int:
    """Bytes the decoder holds between calls (its input, each stage's, its output)."""
    return (
        len(decoder._input)
        + sum(len(pending) for pending in decoder._pending)
        + len(decoder._ready)
    )


@pytest.mark.parametrize("name", ["gzip", "gzip, gzip", "br", "zstd"])
@pytest.mark.parametrize("window", [64 * 1024, 4096])
def test_a_bomb_is_decoded_piece_by_piece(bombs: dict[str, bytes], name: str, window: int) -> None:
    if name not in bombs:
        pytest.skip(f"no {name} package is installed")
    bomb = bombs[name]
    assert len(bomb) < 1 * MB
    decoder = StreamDecoder(name, window=window)
    total = largest = most_held = 0
    tracemalloc.start()
    try:
        for start in range(0, len(bomb), 16 * 1024):
            decoder.feed(bomb[start : start + 16 * 1024])
            while piece := decoder.read():
                total += len(piece)
                largest = max(largest, len(piece))
                most_held = max(most_held, held(decoder))
                assert piece.count(0) == len(piece)
        decoder.feed_eof()
        assert decoder.read() == b""
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == BOMB_SIZE
    assert largest == window
    # One zstd block (128 KiB) or brotli step (32 KiB) plus a window or two of input.
    assert most_held <= 2 * window + 16 * 1024 + 128 * 1024, most_held
    assert peak < 8 * MB, f"peak {peak} bytes: the bomb was inflated"
