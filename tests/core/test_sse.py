"""SSEDecoder (with LineDecoder): the WHATWG HTML event stream interpretation."""

from __future__ import annotations

import dataclasses
import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk_core import ResponseTooLargeError, ServerSentEvent
from sdk_core.lowlevel import LineDecoder, SSEDecoder


def parse(chunks: list[str], max_event_size: int = 16 << 20) -> list[ServerSentEvent]:
    lines = LineDecoder()
    decoder = SSEDecoder(max_event_size)
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        for line in lines.feed(chunk):
            if (event := decoder.feed(line)) is not None:
                events.append(event)
    for line in lines.flush():
        if (event := decoder.feed(line)) is not None:
            events.append(event)
    decoder.flush()
    return events


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


# -- the spec's examples (WHATWG HTML, "Parsing an event stream") ---------------------


def test_spec_three_messages() -> None:
    stream = (
        "data: This is the first message.\n\n"
        "data: This is the second message, it\n"
        "data: has two lines.\n\n"
        "data: This is the third message.\n\n"
    )
    assert parse([stream]) == [
        ServerSentEvent(data="This is the first message."),
        ServerSentEvent(data="This is the second message, it\nhas two lines."),
        ServerSentEvent(data="This is the third message."),
    ]


def test_spec_event_types() -> None:
    stream = (
        "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n"
    )
    assert parse([stream]) == [
        ServerSentEvent(event="add", data="73857293"),
        ServerSentEvent(event="remove", data="2153"),
        ServerSentEvent(event="add", data="113411"),
    ]


def test_spec_multiline_data() -> None:
    assert parse(["data: YHOO\ndata: +2\ndata: 10\n\n"]) == [ServerSentEvent(data="YHOO\n+2\n10")]


def test_spec_ids_and_comments() -> None:
    stream = (
        ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n"
    )
    # The third event has no blank line after it: the stream ends inside it.
    assert parse([stream]) == [
        ServerSentEvent(data="first event", id="1"),
        ServerSentEvent(data="second event", id=""),
    ]
    assert parse([stream + "\n"])[-1] == ServerSentEvent(data=" third event", id="")


def test_spec_empty_data() -> None:
    # Two events (data "" and "\n"); the last block is discarded at the end of the stream.
    assert parse(["data\n\ndata\ndata\n\ndata:"]) == [
        ServerSentEvent(data=""),
        ServerSentEvent(data="\n"),
    ]


def test_spec_one_optional_space() -> None:
    assert parse(["data:test\n\ndata: test\n\n"]) == [ServerSentEvent(data="test")] * 2


# -- line endings, BOM, fields ------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_ending(newline: str) -> None:
    stream = newline.join(["event: e", "data: a", "data: b", "id: 7", "", "data: c", "", ""])
    events = [ServerSentEvent(event="e", data="a\nb", id="7"), ServerSentEvent(data="c", id="7")]
    assert parse([stream]) == events
    assert parse(list(stream)) == events  # one character at a time


def test_a_leading_bom_is_ignored_once() -> None:
    assert parse(["\ufeffdata: x\n\n"]) == [ServerSentEvent(data="x")]
    # On a later line the BOM is part of the field name: an unknown field.
    assert parse(["data: x\n\n\ufeffdata: y\n\n"]) == [ServerSentEvent(data="x")]
    assert parse(["\ufeff\ufeffdata: x\n\n"]) == []  # only one BOM is ignored


def test_fields() -> None:
    decoder = SSEDecoder()
    for line in ["unknown: field", "DATA: case matters", "event", "data:a:b", "id: 1\0", "retry"]:
        assert decoder.feed(line) is None
    assert decoder.feed("") == ServerSentEvent(data="a:b")


def test_event_type_resets_after_each_dispatch() -> None:
    decoder = SSEDecoder()
    decoder.feed("event: ping")
    assert decoder.feed("") is None  # no data: nothing dispatched, type reset anyway
    decoder.feed("data: x")
    assert decoder.feed("") == ServerSentEvent(event="message", data="x")


def test_last_event_id_persists_and_nul_ids_are_ignored() -> None:
    assert SSEDecoder().last_event_id is None
    decoder = SSEDecoder()
    decoder.feed("id: 1")
    assert decoder.feed("") is None  # no data, but the id is kept
    assert decoder.last_event_id == "1"
    decoder.feed("data: a")
    assert decoder.feed("") == ServerSentEvent(data="a", id="1")
    decoder.feed("id: 2\0")
    decoder.feed("data: b")
    assert decoder.feed("") == ServerSentEvent(data="b", id="1")


@pytest.mark.parametrize(
    ("value", "retry"),
    [
        ("1500", 1500),
        ("0", 0),
        ("007", 7),
        ("0" * 100 + "5", 5),
        ("9" * 18, 10**18 - 1),
        ("9" * 19, None),  # absurdly long: ignored
        ("9" * 5000, None),
        ("", None),
        (" 15", None),  # only one space is stripped: " 15" is not all digits
        ("1.5", None),
        ("-1", None),
        ("1e3", None),
        ("\u0661\u0662", None),  # Arabic-Indic digits are digits, not ASCII ones
        ("\u00b2", None),
    ],
)
def test_retry_takes_only_ascii_digits(value: str, retry: int | None) -> None:
    decoder = SSEDecoder()
    decoder.feed(f"retry: {value}")
    assert decoder.retry == retry
    decoder.feed("data: x")
    assert decoder.feed("") == ServerSentEvent(data="x", retry=retry)


def test_retry_persists_and_is_seen_without_an_event() -> None:
    decoder = SSEDecoder()
    decoder.feed("retry: 3000")
    assert decoder.feed("") is None
    assert decoder.retry == 3000
    decoder.feed("retry: bogus")
    decoder.feed("data: x")
    assert decoder.feed("") == ServerSentEvent(data="x", retry=3000)


def test_flush_discards_the_event_and_starts_a_new_stream() -> None:
    decoder = SSEDecoder()
    decoder.feed("id: 9")
    decoder.feed("retry: 10")
    decoder.feed("event: half")
    decoder.feed("data: never dispatched")
    decoder.flush()
    decoder.feed("\ufeffdata: after reconnecting")  # the new stream's BOM is ignored
    assert decoder.feed("") == ServerSentEvent(data="after reconnecting", id="9", retry=10)


def test_json() -> None:
    assert ServerSentEvent(data='{"a": [1, 2]}').json() == {"a": [1, 2]}
    with pytest.raises(json.JSONDecodeError):
        ServerSentEvent(data="not json").json()


def test_events_are_frozen_and_slotted() -> None:
    event = ServerSentEvent(data="x")
    assert (event.event, event.id, event.retry) == ("message", None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = "y"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")


# -- the bound ---------------------------------------------------------------------


def test_an_event_at_the_bound_passes() -> None:
    # Counted as the spec's data buffer: each data line plus its "\n".
    assert parse(["data: " + "x" * 9 + "\n\n"], max_event_size=10) == [
        ServerSentEvent(data="x" * 9)
    ]
    assert parse(["data: xxxx\ndata: xxxx\n\n"], max_event_size=10) == [
        ServerSentEvent(data="xxxx\nxxxx")
    ]


@pytest.mark.parametrize("stream", ["data: " + "x" * 10 + "\n", "data: xxxx\ndata: xxxx\ndata\n"])
def test_an_oversized_event_is_refused(stream: str) -> None:
    with pytest.raises(ResponseTooLargeError, match=r"max_event_size \(10 characters\)"):
        parse([stream], max_event_size=10)


def test_the_bound_is_per_event() -> None:
    assert len(parse(["data: " + "x" * 9 + "\n\n"] * 5, max_event_size=10)) == 5


# -- round trip --------------------------------------------------------------------

NO_BREAKS = st.text(st.characters(blacklist_characters="\r\n"), max_size=20)


@st.composite
def events(draw: st.DrawFn) -> tuple[str, str, str | None, int | None]:
    event = draw(NO_BREAKS)
    data = "\n".join(draw(st.lists(NO_BREAKS, min_size=1, max_size=4)))
    event_id = draw(st.none() | NO_BREAKS.filter(lambda value: "\0" not in value))
    retry = draw(st.none() | st.integers(0, 10**12))
    return event, data, event_id, retry


@given(
    sent=st.lists(events(), max_size=8),
    newlines=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=1),
    bom=st.booleans(),
    comments=st.booleans(),
    cuts=st.lists(st.integers(0, 10_000), max_size=20),
)
def test_round_trip(
    sent: list[tuple[str, str, str | None, int | None]],
    newlines: list[str],
    bom: bool,
    comments: bool,
    cuts: list[int],
) -> None:
    breaks = itertools.cycle(newlines)
    lines: list[str] = []
    expected: list[ServerSentEvent] = []
    last_id: str | None = None
    last_retry: int | None = None
    for event, data, event_id, retry in sent:
        if comments:
            lines.append(": a comment")
        lines.append(f"event: {event}")
        if event_id is not None:
            lines.append(f"id: {event_id}")
            last_id = event_id
        if retry is not None:
            lines.append(f"retry: {retry}")
            last_retry = retry
        lines += [f"data: {line}" for line in data.split("\n")]
        lines.append("")
        expected.append(ServerSentEvent(event or "message", data, last_id, last_retry))
    text = ["\ufeff"] if bom else []
    previous = ""
    for line in lines:
        newline = next(breaks)
        if not line and previous == "\r" and newline == "\n":
            newline = "\r"  # "\r" then "\n" would be one "\r\n" break: a writer must avoid it
        text += [line, newline]
        previous = newline
    stream = "".join(text)
    assert parse(split(stream, cuts)) == expected
