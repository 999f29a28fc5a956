"""The pure pieces behind streamed reads: ``wait_bound``, ``TextReader``,
``LineReader``, ``EventReader`` and ``BodyBuffer``; a body cut anywhere gives the
same text, lines and events as the body whole. ``LineDecoder``: text fed in any chunks
gives the same lines, breaking only on \\n, \\r\\n and \\r."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdk_core import Request, ResponseTooLargeError
from sdk_core.lowlevel import (
    BodyBuffer,
    EventReader,
    LineDecoder,
    LineReader,
    TextReader,
    wait_bound,
)

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


# -- LineDecoder: the same lines from any chunking ---------------------------------------
#: Characters str.splitlines also breaks on, which LineDecoder must keep in the line.
OTHER_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def reference_lines(text: str) -> list[str]:
    """``str.splitlines()`` restricted to "\\r\\n", "\\n" and "\\r", written out by hand."""
    lines: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in "\r\n":
            lines.append("".join(current))
            current = []
            if text[i : i + 2] == "\r\n":
                i += 1
        else:
            current.append(char)
        i += 1
    if current:
        lines.append("".join(current))
    return lines


def decode(chunks: list[str], max_line_length: int = 1 << 20) -> list[str]:
    decoder = LineDecoder(max_line_length)
    lines: list[str] = []
    for chunk in chunks:
        lines += decoder.feed(chunk)
    return lines + decoder.flush()


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


def test_the_reference_agrees_with_splitlines_on_the_three_breaks() -> None:
    for text in ["", "a", "a\n", "a\r\nb", "\r\r\n\n", "a\rb\r", "\n\n", "x\r\n\r\n"]:
        assert reference_lines(text) == text.splitlines()


LINE_TEXT = st.text(
    alphabet=st.sampled_from("ab \r\n" + OTHER_BREAKS) | st.characters(), max_size=200
)


@given(text=LINE_TEXT, cuts=st.lists(st.integers(0, 1000), max_size=20))
def test_any_chunks_give_the_reference_lines(text: str, cuts: list[int]) -> None:
    assert decode(split(text, cuts)) == reference_lines(text)


@given(text=LINE_TEXT)
def test_one_character_at_a_time(text: str) -> None:
    assert decode(list(text)) == reference_lines(text)


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        (["a\r", "\nb"], ["a", "b"]),  # one break split across chunks
        (["a\r", "", "\nb"], ["a", "b"]),  # an empty chunk between the halves
        (["a\r", "\r\n"], ["a", ""]),
        (["a\r", "b"], ["a", "b"]),
        (["a\n", "\nb"], ["a", "", "b"]),
        (["a\u2028b\x85c\x0bd\x0ce"], ["a\u2028b\x85c\x0bd\x0ce"]),
        (["", ""], []),
        (["\r\n"], [""]),
    ],
)
def test_examples(chunks: list[str], lines: list[str]) -> None:
    assert decode(chunks) == lines


def test_flush_resets() -> None:
    decoder = LineDecoder()
    assert decoder.feed("a\r") == ["a"]
    assert decoder.feed("partial") == []
    assert decoder.flush() == ["partial"]
    assert decoder.flush() == []
    assert decoder.feed("\nnext\n") == ["", "next"]  # a new stream: "\n" is its own break


def test_a_line_at_the_bound_passes() -> None:
    assert decode(["x" * 10 + "\n"], max_line_length=10) == ["x" * 10]
    assert decode(["x" * 5, "x" * 5, "\r\n"], max_line_length=10) == ["x" * 10]
    assert decode(["x" * 5, "x" * 5], max_line_length=10) == ["x" * 10]


@pytest.mark.parametrize(
    "chunks",
    [
        ["x" * 11 + "\n"],  # a complete line
        ["ok\n" + "x" * 11 + "\nok\n"],  # a complete line in the middle
        ["x" * 11],  # the start of a line
        ["x" * 6, "x" * 5],  # a line growing across chunks
        ["x" * 6, "x" * 5 + "\n"],  # completed in the chunk that makes it too long
    ],
)
def test_a_line_past_the_bound_is_refused(chunks: list[str]) -> None:
    with pytest.raises(ResponseTooLargeError, match=r"max_line_length \(10 characters\)"):
        decode(chunks, max_line_length=10)
