"""A streamed request body's items: bytes, bytearray and memoryview are sent as their
bytes; anything else is refused by ``body_item_bytes`` with a ``WriteError`` that says the
request was cut off (``request_sent=True``) and is not to be retried. Both codecs check
each piece before framing it, and a refused piece leaves the connection not reusable.
"""

from __future__ import annotations

import array
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk_core import InvalidRequestError, Request, WriteError
from sdk_core.lowlevel import HAS_HTTPTOOLS, ClientCodec, FastClientCodec, body_item_bytes

URL = "http://example.com/up"

#: The h11 codec always; the fast one where httptools is installed (it needs it).
CODECS: list[type[ClientCodec]] = [ClientCodec, *([FastClientCodec] if HAS_HTTPTOOLS else [])]


class Blob(bytes):
    """A bytes subclass: sent as plain bytes."""


def wide_view() -> memoryview:
    return memoryview(array.array("I", [0x64636261, 0x68676665]))  # 2 items, 8 bytes


def released_view() -> memoryview:
    view = memoryview(b"gone")
    view.release()
    return view


@pytest.mark.parametrize(
    "item",
    [bytearray(b"abc"), memoryview(b"xabcx")[1:4], Blob(b"abc")],
    ids=["bytearray", "memoryview-slice", "bytes-subclass"],
)
def test_bytes_like_items_become_bytes(item: Any) -> None:
    out = body_item_bytes(item)
    assert type(out) is bytes
    assert out == b"abc"


def test_a_memoryview_gives_its_bytes_not_its_items() -> None:
    view = wide_view()
    assert len(view) == 2
    assert body_item_bytes(view) == view.tobytes()
    assert len(body_item_bytes(view)) == 8


@pytest.mark.parametrize(
    ("item", "shown"),
    [
        (5, "int"),
        (0, "int"),
        (None, "NoneType"),
        ("text", "str"),
        ([b"a"], "list"),
        (released_view(), "a released memoryview"),
    ],
    ids=["int", "zero", "None", "str", "list", "released-memoryview"],
)
def test_other_items_are_refused_as_a_cut_off_write(item: object, shown: str) -> None:
    with pytest.raises(WriteError) as caught:
        body_item_bytes(item)
    error = caught.value
    assert not isinstance(error, InvalidRequestError)  # it cannot promise nothing was sent
    assert error.request_sent is True
    assert error.retryable is False
    assert str(error).startswith(f"content yielded {shown}, not bytes: ")
    assert "cut off" in str(error)
    assert ("encode a str first" in str(error)) is isinstance(item, str)


def streamed(codec: ClientCodec) -> bytes:
    return codec.encode_request(Request("POST", URL, content=iter(())))


@pytest.mark.parametrize("codec_class", CODECS)
def test_codecs_frame_bytes_like_pieces_by_their_byte_count(
    codec_class: type[ClientCodec],
) -> None:
    codec = codec_class()
    assert streamed(codec).endswith(b"Transfer-Encoding: chunked\r\n\r\n")
    view = wide_view()
    assert codec.encode_chunk(bytearray(b"ab")) == b"2\r\nab\r\n"
    assert codec.encode_chunk(view) == b"8\r\n" + view.tobytes() + b"\r\n"
    assert codec.encode_chunk(bytearray()) == b""  # an empty piece is never the last chunk
    assert codec.encode_end() == b"0\r\n\r\n"
    assert codec.reusable


@pytest.mark.parametrize("codec_class", CODECS)
@pytest.mark.parametrize(
    "bad", [5, 0, "", "x", None], ids=["int", "zero", "empty-str", "str", "None"]
)
def test_codecs_refuse_a_bad_piece_and_give_up_the_connection(
    codec_class: type[ClientCodec], bad: Any
) -> None:
    codec = codec_class()
    streamed(codec)
    assert codec.encode_chunk(b"a") == b"1\r\na\r\n"
    with pytest.raises(WriteError, match=f"content yielded {type(bad).__name__}, not bytes"):
        codec.encode_chunk(bad)
    assert not codec.reusable


@pytest.mark.parametrize("codec_class", CODECS)
def test_a_bad_piece_is_refused_on_a_cycle_h11_runs(codec_class: type[ClientCodec]) -> None:
    codec = codec_class()  # an Upgrade request: the fast codec hands the cycle to h11
    request = Request("POST", URL, headers={"Upgrade": "demo"}, content=iter(()))
    codec.encode_request(request)
    assert codec.encode_chunk(memoryview(b"ab")) == b"2\r\nab\r\n"
    with pytest.raises(WriteError, match="content yielded int"):
        codec.encode_chunk(7)  # type: ignore[arg-type]
    assert not codec.reusable


def unchunk(body: bytes) -> bytes:
    """The data of a chunked body that ends with its last chunk (and no trailers)."""
    out = b""
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert body == b"\r\n"
            return out
        out += body[:size]
        assert body[size : size + 2] == b"\r\n"
        body = body[size + 2 :]


_PIECE = st.binary(max_size=20).flatmap(
    lambda data: st.sampled_from(
        [data, bytearray(data), memoryview(data), memoryview(b"[" + data + b"]")[1:-1]]
    )
)
_WIDE = st.lists(st.integers(0, 2**16 - 1), max_size=5).map(
    lambda items: memoryview(array.array("H", items))
)


@given(st.lists(st.one_of(_PIECE, _WIDE), max_size=8))
def test_any_mix_of_bytes_like_pieces_arrives_whole(pieces: list[Any]) -> None:
    expected = b"".join(bytes(piece) for piece in pieces)
    for codec_class in CODECS:
        codec = codec_class()
        streamed(codec)
        body = b"".join(codec.encode_chunk(piece) for piece in pieces) + codec.encode_end()
        assert unchunk(body) == expected
        assert codec.reusable
