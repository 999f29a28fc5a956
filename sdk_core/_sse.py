"""Server-Sent Events: the WHATWG HTML "event stream interpretation", one line at a time.

Lines come from ``LineDecoder`` (no line breaks). A blank line dispatches the event being
built if it has data; comments (":...") and unknown fields are ignored; an event the
stream ends inside is discarded. The last event ID and the reconnection time persist
from event to event, as the spec keeps them on the event source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ._errors import ResponseTooLargeError
from ._lines import LineReader

__all__ = ["EventReader", "SSEDecoder", "ServerSentEvent"]

#: Longest ``retry`` value taken (leading zeros aside): 10**18 ms is 31 million years, and
#: ``int()`` of a much longer string is slow or refused.
_MAX_RETRY_DIGITS = 18


def _is_retry(value: str) -> bool:
    """Only ASCII digits (the spec's rule), and not absurdly many."""
    return value.isascii() and value.isdigit() and len(value.lstrip("0")) <= _MAX_RETRY_DIGITS


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event.

    ``id`` is the last event ID the stream set (``None`` if it never set one); ``retry``
    the reconnection time in milliseconds the stream last set (``None`` if never).
    """

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        """``data`` parsed as JSON. Raises ``json.JSONDecodeError`` (a ``ValueError``)."""
        return json.loads(self.data)


class SSEDecoder:
    """Build events from the lines of an event stream.

    Raises ``ResponseTooLargeError`` when one event's data grows past ``max_event_size``
    characters.
    """

    __slots__ = (
        "_data",
        "_data_size",
        "_event",
        "_first_line",
        "_last_event_id",
        "_max_event_size",
        "_retry",
    )

    def __init__(self, max_event_size: int = 16 << 20) -> None:
        self._max_event_size = max_event_size
        self._first_line = True
        self._event = ""
        self._data: list[str] = []
        self._data_size = 0
        self._last_event_id: str | None = None
        self._retry: int | None = None

    @property
    def last_event_id(self) -> str | None:
        """The last event ID the stream set (for ``Last-Event-ID`` when reconnecting)."""
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The reconnection time in milliseconds the stream last set, even without an event."""
        return self._retry

    def feed(self, line: str) -> ServerSentEvent | None:
        """Take one line (without its line break); the event a blank line dispatches.

        Raises ``ResponseTooLargeError`` (see the class).
        """
        if self._first_line:
            self._first_line = False
            line = line.removeprefix("\ufeff")
        if not line:
            return self._dispatch()
        if line[0] == ":":
            return None  # a comment
        field, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data_size += len(value) + 1
            if self._data_size > self._max_event_size:
                raise ResponseTooLargeError(
                    f"A server-sent event is larger than max_event_size "
                    f"({self._max_event_size} characters)."
                )
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self._last_event_id = value
        elif field == "retry" and _is_retry(value):
            self._retry = int(value)
        return None

    def flush(self) -> None:
        """End the stream: an event it ended inside is discarded (the spec's rule).

        The last event ID and reconnection time are kept, and the next line fed is the
        first of a new stream (a reconnection's), whose leading BOM is ignored.
        """
        self._reset()
        self._first_line = True

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data:
            self._reset()
            return None
        event = ServerSentEvent(
            event=self._event or "message",
            data="\n".join(self._data),
            id=self._last_event_id,
            retry=self._retry,
        )
        self._reset()
        return event

    def _reset(self) -> None:
        self._event = ""
        self._data = []
        self._data_size = 0


class EventReader:
    """The bytes of a ``text/event-stream`` body, fed in pieces, as events (see
    ``LineReader`` and ``SSEDecoder``; raises as they do). An event the body ends inside
    is discarded."""

    __slots__ = ("_events", "_lines")

    def __init__(self, encoding: str = "utf-8") -> None:
        self._lines = LineReader(encoding)
        self._events = SSEDecoder()

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """The events ``data`` completes."""
        return self._dispatch(self._lines.feed(data))

    def end(self) -> list[ServerSentEvent]:
        """The events the end of the body completes."""
        events = self._dispatch(self._lines.end())
        self._events.flush()
        return events

    def _dispatch(self, lines: list[str]) -> list[ServerSentEvent]:
        events = []
        for line in lines:
            event = self._events.feed(line)
            if event is not None:
                events.append(event)
        return events
