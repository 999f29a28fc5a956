"""``sdk_core.lowlevel``, the extension API for transport authors: every name resolves to
the object its module defines, loads on first use, and is enough to drive one exchange
(pool books, codec, reader) without a private import.

Pure: no network, no async, no clock.
"""

from __future__ import annotations

import importlib

import pytest

import sdk_core
from sdk_core import Limits, PoolStatistics, Request, Response, lowlevel
from sdk_core.lowlevel import (
    NEED_DATA,
    BodyBuffer,
    LineReader,
    NeedData,
    PoolState,
    ResponseReader,
    StreamReader,
    new_codec,
    wait_bound,
)


def test_every_name_resolves_to_its_home(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in lowlevel.__all__:
        monkeypatch.delitem(vars(lowlevel), name, raising=False)  # load it again, now
        module, attribute = lowlevel._HOMES[name]
        assert getattr(lowlevel, name) is getattr(
            importlib.import_module(f"sdk_core.{module}"), attribute
        )
    assert sorted(lowlevel._HOMES) == sorted(lowlevel.__all__)
    assert set(lowlevel.__all__) <= set(dir(lowlevel))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"sdk_core\.lowlevel.*NoSuchName"):
        lowlevel.NoSuchName  # noqa: B018


def test_the_package_hands_out_the_submodule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sdk_core, "lowlevel")  # as before anything imported it
    assert sdk_core.lowlevel is lowlevel
    assert "lowlevel" in dir(sdk_core)
    assert "lowlevel" not in sdk_core.__all__  # a submodule, not a name to star-import


def test_need_data_is_the_one_value_of_its_type() -> None:
    assert isinstance(NEED_DATA, NeedData)
    assert list(NeedData) == [NEED_DATA]
    assert repr(NEED_DATA) == "NEED_DATA"


def test_wait_bound_caps_a_timeout_by_the_deadline() -> None:
    assert wait_bound(5.0, None, now=100.0) == 5.0
    assert wait_bound(5.0, 102.0, now=100.0) == 2.0
    assert wait_bound(None, None, now=100.0) is None


RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello\nworld"


@pytest.mark.parametrize("fast", [False, None])
def test_one_exchange_from_public_names(fast: bool | None) -> None:
    """The shape of a transport's request, written against ``lowlevel`` alone: lease a
    connection, encode the request, feed the bytes read, release the connection."""
    pool = PoolState(Limits(max_connections=1))
    origin = ("http", "api.test", 80)
    outcome = pool.request(origin, now=0.0)
    assert outcome.lease is not None
    assert outcome.lease.is_new
    pool.opened(outcome.lease.connection)
    assert pool.statistics() == PoolStatistics(in_use=1, idle=0, waiting=0)

    codec = new_codec(fast=fast)
    request = Request("GET", "http://api.test/items")
    assert codec.encode_request(request, body=b"").startswith(b"GET /items HTTP/1.1\r\n")
    reader = ResponseReader(codec, request, max_size=1024)
    assert reader.step() is NEED_DATA
    for i in range(len(RESPONSE)):  # byte by byte: the same answer as whole
        reader.feed(RESPONSE[i : i + 1])
        result = reader.step()
        if result is not NEED_DATA:
            break
    assert not isinstance(result, NeedData)
    response, reusable = result
    assert isinstance(response, Response)
    assert (response.status_code, response.content, reusable) == (200, b"hello\nworld", True)

    released = pool.release(outcome.lease, reusable=reusable, now=1.0)
    assert released.close == []
    assert pool.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)


def test_a_stream_read_in_pieces_and_lines() -> None:
    codec = new_codec()
    request = Request("GET", "http://api.test/lines")
    codec.encode_request(request, body=b"")
    reader = StreamReader(codec, request, window=4)
    reader.feed(RESPONSE)
    head = reader.head()
    assert isinstance(head, Response)
    assert head.status_code == 200
    pieces = []
    for _ in range(10):  # bounded: 3 pieces of at most 4 bytes are expected
        piece = reader.body()
        assert piece is not NEED_DATA
        if not piece:
            break
        pieces.append(piece)
    assert max(map(len, pieces)) <= 4
    lines = LineReader("utf-8")
    assert [line for piece in pieces for line in lines.feed(piece)] + lines.end() == [
        "hello",
        "world",
    ]
    assert reader.reusable
    whole = BodyBuffer(max_size=11, request=request)
    for piece in pieces:
        whole.add(piece)
    assert whole.content() == b"hello\nworld"
