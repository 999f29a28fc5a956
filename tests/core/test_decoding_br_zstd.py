"""BodyDecoder: br and zstd, when their packages are installed, within the same bound."""

from __future__ import annotations

import gzip
import itertools
import tracemalloc
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk_core import (
    BodyDecoder,
    RemoteProtocolError,
    ResponseTooLargeError,
    _decoding,
    supported_encodings,
)

TEXT = b"".join(b"line %d: the quick brown fox jumps over the lazy dog\n" % i for i in range(2000))
BIG = 10 * 1024 * 1024
MB = 1024 * 1024


def _brotli_compress() -> Callable[[bytes], bytes] | None:
    module = _decoding._brotli
    if module is None:
        return None
    return lambda data: module.compress(data, quality=5)


def _zstd_compress() -> Callable[[bytes], bytes] | None:
    module = _decoding._zstandard
    if module is None:
        return None
    return module.ZstdCompressor(level=10).compress  # type: ignore[no-any-return]


COMPRESSORS = {"br": _brotli_compress(), "zstd": _zstd_compress()}
NAMES = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            COMPRESSORS[name] is None, reason=f"no {name} package is installed"
        ),
    )
    for name in sorted(COMPRESSORS)
]
AVAILABLE = sorted(name for name, compress in COMPRESSORS.items() if compress is not None)


def _bomb(name: str) -> bytes:
    """200 MB of zeros, compressed fast (a bomb needs no effort to make)."""
    if name == "br":
        return _decoding._brotli.compress(bytes(200 * MB), quality=1)  # type: ignore[no-any-return]
    return _decoding._zstandard.ZstdCompressor(level=1).compress(bytes(200 * MB))  # type: ignore[no-any-return]


def compress(name: str, data: bytes) -> bytes:
    compressor = COMPRESSORS[name]
    assert compressor is not None
    return compressor(data)


def decode(header: str, pieces: list[bytes], max_size: int = BIG) -> bytes:
    decoder = BodyDecoder(header, max_size=max_size)
    return b"".join(decoder.feed(piece) for piece in pieces) + decoder.flush()


def feed_all(decoder: BodyDecoder, pieces: list[bytes], fed: list[bytes] | None = None) -> None:
    """Feed ``pieces`` in order; ``fed`` collects each one as it goes in."""
    for piece in pieces:
        if fed is not None:
            fed.append(piece)
        decoder.feed(piece)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def test_advertised_exactly_when_installed() -> None:
    expected = tuple(n for n in ("zstd", "br") if COMPRESSORS[n] is not None)
    assert supported_encodings() == (*expected, "gzip", "deflate")


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_whole(name: str) -> None:
    decoder = BodyDecoder(name, max_size=BIG)
    assert not decoder.identity
    assert decoder.feed(compress(name, TEXT)) + decoder.flush() == TEXT


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_byte_by_byte(name: str) -> None:
    body = compress(name, TEXT[:3000])
    assert decode(name, [body[i : i + 1] for i in range(len(body))]) == TEXT[:3000]


@pytest.mark.skipif(not AVAILABLE, reason="neither a brotli nor the zstandard package")
@given(
    name=st.sampled_from(AVAILABLE or ["br"]),
    data=st.binary(max_size=2000) | st.just(TEXT),
    cuts=st.lists(st.integers(0, 1_000_000), max_size=30),
)
def test_round_trip_in_random_chunks(name: str, data: bytes, cuts: list[int]) -> None:
    assert decode(name, split(compress(name, data), cuts)) == data


@pytest.mark.parametrize("name", NAMES)
def test_empty_body(name: str) -> None:
    assert decode(name, []) == b""
    assert decode(name, [compress(name, b"")]) == b""


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("outer", ["gzip", "inner-first"])
def test_chained_with_gzip(name: str, outer: str) -> None:
    if outer == "gzip":  # Content-Encoding: br, gzip -> br applied first, then gzip
        header, body = f"{name}, gzip", gzip.compress(compress(name, TEXT), mtime=0)
    else:  # Content-Encoding: gzip, br
        header, body = f"gzip, {name}", compress(name, gzip.compress(TEXT, mtime=0))
    assert decode(header, [body]) == TEXT
    assert decode(header, split(body, list(range(0, len(body), 7)))) == TEXT


@pytest.mark.skipif(COMPRESSORS["zstd"] is None, reason="no zstandard package")
def test_zstd_frames_one_after_the_other() -> None:
    body = compress("zstd", TEXT) + compress("zstd", b"second frame")
    assert decode("zstd", [body]) == TEXT + b"second frame"
    assert decode("zstd", [body[i : i + 5] for i in range(0, len(body), 5)]) == (
        TEXT + b"second frame"
    )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("chunked", [False, True])
def test_bomb_is_rejected_early_without_inflating(name: str, chunked: bool) -> None:
    bomb = _bomb(name)
    pieces = [bomb[i : i + 256] for i in range(0, len(bomb), 256)] if chunked else [bomb]
    decoder = BodyDecoder(name, max_size=MB)
    fed: list[bytes] = []
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError):
            feed_all(decoder, pieces, fed)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * MB
    if chunked:  # it stops within the first hundredth of the input, not at its end
        assert len(fed) <= max(2, len(pieces) // 100), (len(fed), len(pieces))


@pytest.mark.parametrize("name", NAMES)
def test_output_exactly_at_the_bound_is_accepted(name: str) -> None:
    body = compress(name, bytes(MB))
    assert decode(name, [body], max_size=MB) == bytes(MB)
    with pytest.raises(ResponseTooLargeError):
        decode(name, [body], max_size=MB - 1)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("keep", [1, 10, 0.5, -1])
def test_truncated_stream(name: str, keep: float) -> None:
    body = compress(name, TEXT)
    cut = int(len(body) * keep) if isinstance(keep, float) else keep
    decoder = BodyDecoder(name, max_size=BIG)
    decoder.feed(body[:cut])
    with pytest.raises(RemoteProtocolError, match="ended inside") as info:
        decoder.flush()
    assert info.value.request_sent is True


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("corrupt", ["garbage", "flipped", "trailing"])
def test_corrupt_stream(name: str, corrupt: str) -> None:
    body = compress(name, TEXT)
    if corrupt == "garbage":
        body = b"this is not compressed at all, not even a little" * 3
    elif corrupt == "flipped":
        body = body[:8] + bytes(b ^ 0xFF for b in body[8:40]) + body[40:]
    else:
        body += b"\xff" * 16
    with pytest.raises(RemoteProtocolError, match="could not be decoded") as info:
        decode(name, [body])
    assert info.value.request_sent is True


def test_a_brotli_without_an_output_limit_is_not_used() -> None:
    class OldDecompressor:
        def process(self, data: bytes) -> bytes:
            return data

    class NewDecompressor:
        def process(self, data: bytes, output_buffer_limit: int | None = None) -> bytes:
            return data

    old: Any = SimpleNamespace(Decompressor=OldDecompressor)
    new: Any = SimpleNamespace(Decompressor=NewDecompressor)
    assert _decoding._bounded_brotli(None, old) is None
    assert _decoding._bounded_brotli(old, None, new) is new
    assert _decoding._bounded_brotli(new, old) is new
