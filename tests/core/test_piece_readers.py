"""The pure pieces behind streamed reads: ``wait_bound``, ``TextReader``,
``LineReader``, ``EventReader`` and ``BodyBuffer``; a body cut anywhere gives the
same text, lines and events as the body whole."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdk_core import Request, ResponseTooLargeError
from sdk_core._config import wait_bound
from sdk_core._lines import LineReader, TextReader
from sdk_core._reader import BodyBuffer
from sdk_core._sse import EventReader

TEXT = "grüße, 😀\r\nline two\rline three\nlast"
EVENTS = b': hi\n\nevent: tick\nid: 7\ndata: {"n": 1}\n\ndata: a\r\ndata: b\r\n\r\ndata: cut'


def cut(data: bytes, points: list[int]) -> list[bytes]:
    marks = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in itertools.pairwise(marks)]


def run(reader: TextReader | LineReader | EventReader, pieces: list[bytes]) -> list[object]:
    out: list[object] = []
    for piece in pieces:
        out += reader.feed(piece)
    return out + list(reader.end())


def test_wait_bound() -> None:
    assert wait_bound(5.0, None, 100.0) == 5.0
    assert wait_bound(None, None, 100.0) is None
    assert wait_bound(5.0, 102.0, 100.0) == 2.0  # the end is nearer
    assert wait_bound(1.0, 102.0, 100.0) == 1.0  # the timeout is
    assert wait_bound(None, 102.0, 100.0) == 2.0
    assert wait_bound(5.0, 99.0, 100.0) == -1.0  # passed: the caller raises


@settings(max_examples=100, deadline=None)
@given(points=st.lists(st.integers(0, 200), max_size=12))
def test_text_and_lines_however_the_body_is_cut(points: list[int]) -> None:
    data = TEXT.encode()
    assert "".join(run(TextReader("utf-8"), cut(data, points))) == TEXT  # type: ignore[arg-type]
    lines = run(LineReader("utf-8"), cut(data, points))
    assert lines == ["grüße, 😀", "line two", "line three", "last"]


@settings(max_examples=100, deadline=None)
@given(points=st.lists(st.integers(0, 200), max_size=12))
def test_events_however_the_body_is_cut(points: list[int]) -> None:
    events = run(EventReader(), cut(EVENTS, points))
    assert [(e.event, e.data, e.id) for e in events] == [  # type: ignore[attr-defined]
        ("tick", '{"n": 1}', "7"),
        ("message", "a\nb", "7"),
    ]  # the event the body ends inside is dropped


def test_text_in_the_named_encoding_or_utf8_for_an_unknown_one() -> None:
    assert run(TextReader("latin-1"), ["grüße".encode("latin-1")]) == ["grüße"]
    assert run(TextReader("no-such-codec"), ["ü".encode()]) == ["ü"]
    assert run(TextReader("utf-8"), [b"\xff", b""]) == ["\ufffd"]  # replaced


def test_body_buffer_keeps_within_its_bound() -> None:
    request = Request("GET", "http://example.test/")
    kept = BodyBuffer(5, request)
    kept.add(b"abc")
    kept.add(b"de")
    assert kept.content() == b"abcde"
    with pytest.raises(ResponseTooLargeError, match=r"max_response_size \(5 bytes\)") as info:
        kept.add(b"f")
    assert info.value.request is request
