"""Incremental splitting of decoded text into lines, with a bound on a line's length;
``TextReader`` and ``LineReader`` turn the decoded bytes of a streamed body, fed piece
by piece, into text and into lines.

Line breaks are "\\r\\n", "\\n" and "\\r" (as in Server-Sent Events and HTTP), and a "\\r"
that ends one chunk and a "\\n" that starts the next are one break. Other characters
``str.splitlines`` breaks on (\\x0b, \\x0c, \\x1c-\\x1e, \\x85, \\u2028, \\u2029) stay in the line.
"""

from __future__ import annotations

import codecs
import re
from typing import Final

from ._errors import ResponseTooLargeError

__all__ = ["LineDecoder", "LineReader", "TextReader"]

_BREAK: Final = re.compile(r"\r\n|\r|\n")


class LineDecoder:
    """Split text fed in chunks into lines, returned without their line breaks.

    Raises ``ResponseTooLargeError`` for a line longer than ``max_line_length`` characters
    (so a stream without line breaks is not held without end).
    """

    __slots__ = ("_after_cr", "_max_line_length", "_partial", "_partial_length")

    def __init__(self, max_line_length: int = 1 << 20) -> None:
        self._max_line_length = max_line_length
        self._partial: list[str] = []  # the start of a line that has no break yet
        self._partial_length = 0
        self._after_cr = False  # the last chunk ended with "\r"

    def feed(self, text: str) -> list[str]:
        """The lines that ``text`` completes. Raises ``ResponseTooLargeError`` (see above)."""
        if not text:
            return []
        if self._after_cr and text[0] == "\n":
            text = text[1:]  # the second half of a "\r\n" split across chunks
        self._after_cr = text.endswith("\r")
        *lines, rest = _BREAK.split(text)
        if lines:
            lines[0] = "".join((*self._partial, lines[0]))
            self._partial = []
            self._partial_length = 0
            self._check(max(map(len, lines)))  # one check per chunk, not per line
        self._check(self._partial_length + len(rest))
        if rest:
            self._partial.append(rest)
            self._partial_length += len(rest)
        return lines

    def flush(self) -> list[str]:
        """The last line, when the text did not end with a line break; resets the decoder."""
        line = "".join(self._partial)
        self._partial = []
        self._partial_length = 0
        self._after_cr = False
        return [line] if line else []

    def _check(self, length: int) -> None:
        if length > self._max_line_length:
            raise ResponseTooLargeError(
                f"A line of the response is longer than max_line_length "
                f"({self._max_line_length} characters)."
            )


class TextReader:
    """The bytes of a body, fed in pieces, as text in ``encoding`` (a character split
    between pieces is kept for the next; undecodable bytes are replaced; an encoding
    Python does not know falls back to utf-8). ``feed`` and ``end`` return the
    text they complete, as a list of at most one non-empty string."""

    __slots__ = ("_decoder",)

    def __init__(self, encoding: str) -> None:
        try:
            self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        except LookupError:
            self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> list[str]:
        """The text ``data`` completes."""
        text = self._decoder.decode(data)
        return [text] if text else []

    def end(self) -> list[str]:
        """The text held at the end of the body."""
        text = self._decoder.decode(b"", final=True)
        return [text] if text else []


class LineReader:
    """The bytes of a body, fed in pieces, as lines of text in ``encoding`` (see
    ``TextReader`` and ``LineDecoder``; raises as ``LineDecoder`` does)."""

    __slots__ = ("_lines", "_text")

    def __init__(self, encoding: str, max_line_length: int = 1 << 20) -> None:
        self._text = TextReader(encoding)
        self._lines = LineDecoder(max_line_length)

    def feed(self, data: bytes) -> list[str]:
        """The lines ``data`` completes."""
        text = self._text.feed(data)  # at most one string
        return self._lines.feed(text[0]) if text else []

    def end(self) -> list[str]:
        """The last lines, at the end of the body."""
        lines = [line for text in self._text.end() for line in self._lines.feed(text)]
        return lines + self._lines.flush()
