"""BodyDecoder: gzip and deflate undone chunk by chunk, within a bound on the output."""

from __future__ import annotations

import gzip
import itertools
import os
import tracemalloc
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk_core import BodyDecoder, RemoteProtocolError, ResponseTooLargeError, supported_encodings
from sdk_core.lowlevel import MAX_ENCODINGS

TEXT = b"".join(b"line %d: the quick brown fox jumps over the lazy dog\n" % i for i in range(2000))
BIG = 10 * 1024 * 1024


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def zlib_deflated(data: bytes) -> bytes:
    return zlib.compress(data)


def raw_deflated(data: bytes) -> bytes:
    obj = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return obj.compress(data) + obj.flush()


ENCODERS = {"gzip": gzipped, "x-gzip": gzipped, "deflate": zlib_deflated, "raw": raw_deflated}


def encode(name: str, data: bytes) -> tuple[str, bytes]:
    header = "deflate" if name == "raw" else name
    return header, ENCODERS[name](data)


def decode(header: str | None, pieces: list[bytes], max_size: int = BIG) -> bytes:
    decoder = BodyDecoder(header, max_size=max_size)
    return b"".join(decoder.feed(piece) for piece in pieces) + decoder.flush()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def test_supported_encodings() -> None:
    # br and zstd come first when their packages are installed: test_decoding_br_zstd.py
    assert supported_encodings()[-2:] == ("gzip", "deflate")


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_round_trip_whole(name: str) -> None:
    header, body = encode(name, TEXT)
    decoder = BodyDecoder(header, max_size=BIG)
    assert not decoder.identity
    assert decoder.feed(body) + decoder.flush() == TEXT


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_round_trip_byte_by_byte(name: str) -> None:
    header, body = encode(name, TEXT[:3000])
    assert decode(header, [body[i : i + 1] for i in range(len(body))]) == TEXT[:3000]


@given(
    name=st.sampled_from(sorted(ENCODERS)),
    data=st.binary(max_size=2000) | st.just(TEXT),
    cuts=st.lists(st.integers(0, 1_000_000), max_size=30),
)
def test_round_trip_in_random_chunks(name: str, data: bytes, cuts: list[int]) -> None:
    header, body = encode(name, data)
    assert decode(header, split(body, cuts)) == data


@given(data=st.binary(max_size=500), cuts=st.lists(st.integers(0, 10_000), max_size=10))
def test_chained_gzip_gzip(data: bytes, cuts: list[int]) -> None:
    body = gzipped(gzipped(data))
    assert decode("gzip, gzip", split(body, cuts)) == data


def test_chained_encodings_are_undone_in_reverse_order() -> None:
    body = zlib_deflated(gzipped(TEXT))  # gzip applied first, then deflate
    assert decode("gzip, deflate", [body]) == TEXT
    assert decode(" GZIP ,identity,  Deflate ", [body]) == TEXT


def test_at_most_five_encodings() -> None:
    body = TEXT
    for _ in range(MAX_ENCODINGS):
        body = gzipped(body)
    assert decode(", ".join(["gzip"] * MAX_ENCODINGS), [body]) == TEXT
    with pytest.raises(RemoteProtocolError, match="6 chained content encodings") as info:
        BodyDecoder(", ".join(["gzip"] * (MAX_ENCODINGS + 1)), max_size=BIG)
    assert info.value.request_sent is True


def test_identity_does_not_count_as_an_encoding() -> None:
    header = ", ".join(["identity"] * 10 + ["gzip"])
    assert decode(header, [gzipped(TEXT)]) == TEXT


@pytest.mark.parametrize("header", [None, "", "identity", " , ,", "IDENTITY"])
def test_identity(header: str | None) -> None:
    decoder = BodyDecoder(header, max_size=BIG)
    assert decoder.identity
    assert decoder.feed(b"abc") == b"abc"
    assert decoder.feed(b"") == b""
    assert decoder.flush() == b""


@pytest.mark.parametrize("header", ["x-bogus", "compress", "gzip, compress", "compress, gzip"])
def test_an_encoding_we_cannot_undo_passes_the_body_through(header: str) -> None:
    body = gzipped(TEXT)
    decoder = BodyDecoder(header, max_size=BIG)
    assert decoder.identity
    assert decoder.feed(body) + decoder.flush() == body


def test_pass_through_is_bounded_too() -> None:
    decoder = BodyDecoder("compress", max_size=10)
    assert decoder.feed(b"x" * 10) == b"x" * 10
    with pytest.raises(ResponseTooLargeError):
        decoder.feed(b"x")


@pytest.mark.parametrize(
    ("header", "body"),
    [
        ("gzip", b"this is not gzip at all"),
        ("gzip", gzipped(TEXT)[:10] + b"\xff" * 50),
        ("deflate", b"\xff\xff\xff\xff not deflate either"),
        ("deflate", zlib_deflated(TEXT)[:2] + b"\xff" * 50),
        ("gzip, gzip", gzipped(b"plain text inside")),
    ],
)
def test_corrupt_data_is_a_protocol_error(header: str, body: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="could not be decoded") as info:
        decode(header, [body])
    assert info.value.request_sent is True


def test_gzip_with_several_members() -> None:
    """RFC 1952: members one after another make one stream (as ``gzip -c a b`` writes)."""
    body = gzipped(b"first, ") + gzipped(b"") + gzipped(b"second")
    assert decode("gzip", [body]) == b"first, second"
    assert decode("gzip", [body[i : i + 1] for i in range(len(body))]) == b"first, second"


def test_garbage_after_a_gzip_member_is_a_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError):
        decode("gzip", [gzipped(b"data") + b"garbage"])


def test_bytes_after_the_end_of_a_deflate_stream_are_ignored() -> None:
    assert decode("deflate", [zlib_deflated(b"data") + b"trailing"]) == b"data"


# -- the bound ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_output_exactly_at_max_size_passes(name: str) -> None:
    header, body = encode(name, TEXT)
    assert decode(header, [body], max_size=len(TEXT)) == TEXT
    assert decode(header, split(body, list(range(0, len(body), 7))), max_size=len(TEXT)) == TEXT


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_one_byte_over_max_size_fails(name: str) -> None:
    header, body = encode(name, TEXT)
    with pytest.raises(ResponseTooLargeError, match=str(len(TEXT) - 1)):
        decode(header, [body], max_size=len(TEXT) - 1)
    with pytest.raises(ResponseTooLargeError):
        decode(header, split(body, list(range(0, len(body), 7))), max_size=len(TEXT) - 1)


def test_the_bound_counts_across_feeds() -> None:
    decoder = BodyDecoder("gzip", max_size=10)
    assert decoder.feed(gzipped(b"012345")) == b"012345"
    assert decoder.feed(gzipped(b"6789")) == b"6789"  # a second member: 10 bytes in all
    with pytest.raises(ResponseTooLargeError):
        decoder.feed(gzipped(b"a"))


def test_the_bound_applies_when_an_outer_layer_releases_data_late() -> None:
    # The outer layer's encoder holds everything back until its flush: the inner
    # layer's output then arrives all at once, and the bound still applies.
    inner = gzipped(b"x" * 100)
    outer = zlib.compressobj(wbits=31)
    held = outer.compress(inner)
    decoder = BodyDecoder("gzip, gzip", max_size=99)
    assert decoder.feed(held) == b""
    with pytest.raises(ResponseTooLargeError):
        decoder.feed(outer.flush())


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """50 MB of zeros, gzipped to about 50 KB."""
    obj = zlib.compressobj(9, wbits=31)
    block = bytes(1024 * 1024)
    return b"".join(obj.compress(block) for _ in range(50)) + obj.flush()


@pytest.mark.parametrize("pieces", [1, 64])
def test_a_decompression_bomb_stops_at_the_bound(bomb: bytes, pieces: int) -> None:
    assert len(bomb) < 100_000
    size = -(-len(bomb) // pieces)
    chunks = [bomb[i : i + size] for i in range(0, len(bomb), size)]
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError):
            decode("gzip", chunks, max_size=1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024, f"peak {peak} bytes: the bomb was inflated"


def test_a_bomb_inside_a_chain_stops_at_the_bound(bomb: bytes) -> None:
    body = gzipped(bomb)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError):
            decode("gzip, gzip", [body], max_size=1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024


# -- flush -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_flush_after_everything_was_fed_gives_nothing_more(name: str) -> None:
    header, body = encode(name, TEXT)
    decoder = BodyDecoder(header, max_size=BIG)
    assert decoder.feed(body) == TEXT
    assert decoder.flush() == b""


def test_data_an_outer_layer_releases_late_is_decoded() -> None:
    inner = gzipped(TEXT)
    outer = zlib.compressobj(wbits=31)
    decoder = BodyDecoder("gzip, gzip", max_size=BIG)
    out = decoder.feed(outer.compress(inner))
    out += decoder.feed(outer.flush())
    assert out + decoder.flush() == TEXT


@pytest.mark.parametrize("header", ["gzip", "deflate", "gzip, deflate"])
def test_an_empty_body_decodes_to_nothing(header: str) -> None:
    decoder = BodyDecoder(header, max_size=BIG)
    assert decoder.feed(b"") == b""
    assert decoder.flush() == b""


def test_random_data_round_trips_in_small_pieces() -> None:
    data = os.urandom(5000)
    for name in ENCODERS:
        header, body = encode(name, data)
        assert decode(header, split(body, list(range(0, len(body), 3)))) == data


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_a_compressed_stream_cut_short_is_a_protocol_error(name: str) -> None:
    header, body = encode(name, os.urandom(4096))
    with pytest.raises(RemoteProtocolError, match="ended inside"):
        decode(header, [body[: len(body) // 2]])


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_an_empty_body_with_an_encoding_is_empty(name: str) -> None:
    header, _ = encode(name, b"")
    assert decode(header, []) == b""
    assert decode(header, [b""]) == b""
