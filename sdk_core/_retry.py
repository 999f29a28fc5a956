"""The retry decision: a pure function of the request, the outcome and the call so far.

Every decision carries a ``RetryReason``, so a driver can log why it retried or stopped.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Final, Protocol

from ._config import RetryBudget, RetryPolicy
from ._errors import APIConnectionError, APIError, APITimeoutError, DeadlineExceeded
from ._headers import Headers
from ._models import Request, Response

__all__ = ["RandomSource", "RetryDecision", "RetryReason", "decide_retry", "parse_retry_after"]

_NUMBER = re.compile(r"^\d+(\.\d*)?([eE][+-]?\d+)?$")
#: A wait too large to represent counts as this long (RFC 9111, 1.2.2), not as garbage.
_MAX_WAIT = 2.0**31


class RandomSource(Protocol):
    """What the core needs of a ``random.Random``: it is injected, never created here."""

    def random(self) -> float: ...

    def getrandbits(self, k: int, /) -> int: ...


class RetryReason(enum.Enum):
    """Why a call retried or stopped."""

    SUCCEEDED = "the response succeeded"
    RETRYABLE_STATUS = "the status is retryable"
    SERVER_ASKED_RETRY = "the server sent x-should-retry: true"
    SERVER_REFUSED_RETRY = "the server sent x-should-retry: false"
    STATUS_NOT_RETRYABLE = "the status is not retryable"
    CONNECTION_FAILED = "the connection failed"
    ERROR_NOT_RETRYABLE = "the error is not retryable"
    CONNECTION_PERMANENT = "the connection failed in a way another attempt cannot change"
    RETRIES_EXHAUSTED = "no retries are left"
    NOT_IDEMPOTENT = "the request may have been applied and is not idempotent"
    BODY_NOT_REPLAYABLE = "the request body cannot be sent again"
    RETRY_AFTER_TOO_LONG = "the server asked for a wait longer than max_retry_after"
    DEADLINE = "the wait would pass the call's deadline"
    BUDGET_EXHAUSTED = "the client's retry budget is empty"


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Retry after ``delay`` seconds, or stop; ``retry_after`` is the server's hint."""

    retry: bool
    delay: float
    reason: RetryReason
    retry_after: float | None = None


def _seconds(text: str, scale: float) -> float | None:
    text = text.strip()
    if not _NUMBER.match(text):
        return None
    # The pattern admits no sign, NaN or "inf": only an overflow can make this infinite.
    return min(float(text) * scale, _MAX_WAIT)


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# RFC 9110 5.6.7: IMF-fixdate, the obsolete RFC 850 form, and asctime.
# Lenient where servers are: a numeric zone or UTC instead of GMT in the first form.
_IMF = re.compile(
    r"^[A-Za-z]{3}, (\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) "
    r"(GMT|UTC|UT|Z|[+-]\d{4})$"
)
_RFC850 = re.compile(r"^[A-Za-z]+, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$")
_ASCTIME = re.compile(r"^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$")


def _http_date(text: str) -> float | None:
    """Unix seconds for an HTTP-date in any of its three forms (always GMT), or None."""
    text = text.strip()
    offset = 0
    if match := _IMF.match(text):
        day, month, year, hh, mm, ss, zone = match.groups()
        if zone[0] in "+-":
            sign = -1 if zone[0] == "-" else 1
            offset = sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)
    elif match := _RFC850.match(text):
        day, month, year, hh, mm, ss = match.groups()
        year = str(int(year) + (2000 if int(year) < 70 else 1900))
    elif match := _ASCTIME.match(text):
        month, day, hh, mm, ss, year = match.groups()
    else:
        return None
    number = _MONTHS.get(month.lower())
    if number is None or not text.isascii():
        return None
    try:
        moment = datetime(
            int(year), number, int(day), int(hh), int(mm), int(ss), tzinfo=timezone.utc
        )
    except ValueError:  # 31 February, hour 25, ...
        return None
    return moment.timestamp() - offset


def parse_retry_after(headers: Headers, *, wall_time: float | None = None) -> float | None:
    """Seconds the server asked to wait, or None.

    ``retry-after-ms`` wins over ``Retry-After``. An HTTP-date is measured from the
    response's ``Date`` header, else from ``wall_time`` (Unix seconds), else ignored; a
    date in the past means 0. Garbage, negative, NaN and infinite values are ignored.
    """
    ms = headers.first("retry-after-ms")
    if ms is not None:
        value = _seconds(ms, 0.001)
        if value is not None:
            return value
    header = headers.first("retry-after")
    if header is None:
        return None
    value = _seconds(header, 1.0)
    if value is not None:
        return value
    target = _http_date(header)
    if target is None:
        return None
    date = headers.first("date")
    reference = _http_date(date) if date is not None else None
    if reference is None:
        reference = wall_time
    if reference is None:
        return None
    return max(0.0, target - reference)


def _stop(reason: RetryReason, retry_after: float | None = None) -> RetryDecision:
    return RetryDecision(False, 0.0, reason, retry_after)


# The member as a global: ``_classify`` returns it for every success (docs/performance.md).
SUCCESS: Final = RetryReason.SUCCEEDED
_SUCCEEDED = RetryDecision(False, 0.0, SUCCESS)


def _classify(policy: RetryPolicy, outcome: Response | APIError) -> tuple[RetryReason, bool]:
    """(reason, retryable) for the outcome alone, before limits and safety."""
    if isinstance(outcome, Response):
        if outcome.status_code < 400:
            return SUCCESS, False
        should = (outcome.headers.first("x-should-retry") or "").strip().lower()
        if should == "true":
            return RetryReason.SERVER_ASKED_RETRY, True
        if should == "false":
            return RetryReason.SERVER_REFUSED_RETRY, False
        if outcome.status_code in policy.retry_statuses:
            return RetryReason.RETRYABLE_STATUS, True
        return RetryReason.STATUS_NOT_RETRYABLE, False
    if isinstance(outcome, APIConnectionError) and not isinstance(outcome, DeadlineExceeded):
        if not outcome.retryable:
            return RetryReason.CONNECTION_PERMANENT, False
        return RetryReason.CONNECTION_FAILED, True
    return RetryReason.ERROR_NOT_RETRYABLE, False


def decide_retry(
    policy: RetryPolicy,
    request: Request,
    outcome: Response | APIError,
    *,
    attempt: int,
    rng: RandomSource,
    remaining: float | None = None,
    budget: RetryBudget | None = None,
    max_retries: int | None = None,
    idempotency_header: str | None = "Idempotency-Key",
    wall_time: float | None = None,
) -> RetryDecision:
    """Decide whether attempt ``attempt`` (1-based) of ``request`` is followed by another.

    ``remaining`` is the time left before the call's deadline (None: no deadline);
    ``max_retries`` overrides ``policy.max_retries``. Takes the retry's cost from
    ``budget`` only when the answer is to retry. Draws from ``rng`` only for jitter.
    Never raises for any outcome.
    """
    reason, retryable = _classify(policy, outcome)
    if reason is SUCCESS:
        return _SUCCEEDED
    hint = (
        parse_retry_after(outcome.headers, wall_time=wall_time)
        if isinstance(outcome, Response)
        else None
    )
    if not retryable:
        return _stop(reason, hint)
    limit = policy.max_retries if max_retries is None else max_retries
    if attempt > limit:
        return _stop(RetryReason.RETRIES_EXHAUSTED, hint)
    if not request.replayable:
        return _stop(RetryReason.BODY_NOT_REPLAYABLE, hint)
    may_have_been_sent = isinstance(outcome, Response) or (
        isinstance(outcome, APIConnectionError) and outcome.request_sent
    )
    if may_have_been_sent and not request.is_idempotent:
        keyed = idempotency_header is not None and idempotency_header in request.headers
        if not keyed:
            return _stop(RetryReason.NOT_IDEMPOTENT, hint)
    if hint is not None:
        if hint > policy.max_retry_after:
            return _stop(RetryReason.RETRY_AFTER_TOO_LONG, hint)
        delay = hint
    else:
        delay = policy.backoff(attempt - 1, rng.random())
    if remaining is not None and delay >= remaining:
        return _stop(RetryReason.DEADLINE, hint)
    if budget is not None and not budget.try_acquire(
        after_timeout=isinstance(outcome, APITimeoutError)
    ):
        return _stop(RetryReason.BUDGET_EXHAUSTED, hint)
    return RetryDecision(True, delay, reason, hint)
