"""LineDecoder: text fed in any chunks gives the same lines, breaking only on \\n, \\r\\n, \\r."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk_core._errors import ResponseTooLargeError
from sdk_core._lines import LineDecoder

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


TEXT = st.text(alphabet=st.sampled_from("ab \r\n" + OTHER_BREAKS) | st.characters(), max_size=200)


@given(text=TEXT, cuts=st.lists(st.integers(0, 1000), max_size=20))
def test_any_chunks_give_the_reference_lines(text: str, cuts: list[int]) -> None:
    assert decode(split(text, cuts)) == reference_lines(text)


@given(text=TEXT)
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
