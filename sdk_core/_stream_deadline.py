"""``ReadDeadline``: how long each read of a streamed body may wait, and what a read
that failed raises, under the read timeout and the call's ``Timeout.total``.

Once a streamed response is handed over, its stream response (sync or async) is the one
owner of the call's deadline for the body: it asks ``next_wait`` before each read and
``failure`` after a failed one; the transport only applies the bound it is given.
"""

from __future__ import annotations

from ._errors import APIError, DeadlineExceeded, ReadTimeout, deadline_exceeded
from ._models import Request

__all__ = ["ReadDeadline"]


class ReadDeadline:
    """The read bounds of one streamed body: each read waits at most ``read_timeout``
    (None: unbounded), and none runs past ``deadline`` (a reading of the driver's clock;
    None: the call has no ``Timeout.total``), which ``total`` seconds set. ``request``
    and ``attempts`` name the call in the errors. Raises nothing on construction."""

    __slots__ = ("_attempts", "_deadline", "_read_timeout", "_request", "_total")

    def __init__(
        self,
        *,
        read_timeout: float | None,
        deadline: float | None,
        total: float | None,
        request: Request | None,
        attempts: int,
    ) -> None:
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._total = total
        self._request = request
        self._attempts = attempts

    def next_wait(self, now: float) -> tuple[float | None, bool]:
        """The bound for the next read at clock reading ``now``, and whether the deadline
        (rather than the read timeout) set it. Raises ``DeadlineExceeded`` when the
        deadline has passed."""
        timeout, deadline = self._read_timeout, self._deadline
        if deadline is None:
            return timeout, False
        left = deadline - now
        if left <= 0:
            raise self.expired()
        if timeout is None or left < timeout:
            return left, True
        return timeout, False

    def expired(self) -> DeadlineExceeded:
        """The error of a read the call's deadline cut short."""
        total = self._total
        assert total is not None, "a deadline comes with the Timeout.total that set it"
        return deadline_exceeded(self._request, total, attempts=self._attempts)

    def failure(self, error: APIError, by_deadline: bool) -> APIError:
        """What a read that failed with the transport's ``error`` raises: for a
        ``ReadTimeout`` of a wait the deadline bounded (``by_deadline``), the
        ``DeadlineExceeded`` it caused; otherwise ``error``, with the call's attempts."""
        if by_deadline and isinstance(error, ReadTimeout):
            cut: APIError = self.expired()
            cut.__cause__ = error
            return cut
        error.attempts = self._attempts
        return error
