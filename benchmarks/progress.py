"""Progress lines on stderr while a run goes: what is running and how long it has taken."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """Prints ``[mm:ss] suite: message`` lines, and ``\\r``-updated ones on a terminal."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self._tty = sys.stderr.isatty()
        self._transient = False

    def _stamp(self) -> str:
        elapsed = int(time.monotonic() - self._start)
        return f"[{elapsed // 60:02d}:{elapsed % 60:02d}]"

    def step(self, suite: str, message: str) -> None:
        """A line that the next one may overwrite on a terminal."""
        line = f"{self._stamp()} {suite}: {message}"
        if self._tty:
            sys.stderr.write("\r\033[K" + line)
            self._transient = True
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def info(self, suite: str, message: str) -> None:
        """A line that stays."""
        if self._transient:
            sys.stderr.write("\r\033[K")
            self._transient = False
        sys.stderr.write(f"{self._stamp()} {suite}: {message}\n")
        sys.stderr.flush()

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self._start
