"""The server's hints: ``Retry-After`` (seconds or an HTTP date) and ``retry-after-ms``,
parsed, capped by ``max_retry_after``, and used instead of the backoff."""

from __future__ import annotations

import math
import random
from calendar import timegm

import pytest
from _retry_helpers import URL, CountingRandom, decide
from hypothesis import given, settings
from hypothesis import strategies as st

from sdk_core import (
    APIStatusError,
    Call,
    CallOptions,
    Failed,
    Headers,
    InternalServerError,
    RateLimitError,
    Request,
    Response,
    RetryDecision,
    RetryPolicy,
    RetryReason,
    SendRequest,
    Sleep,
    parse_retry_after,
)

#: 2015-10-21 07:28:00 GMT, the Date header used below.
DATE = "Wed, 21 Oct 2015 07:28:00 GMT"
DATE_TS = float(timegm((2015, 10, 21, 7, 28, 0)))


def hdrs(**values: str) -> Headers:
    return Headers({name.replace("_", "-"): value for name, value in values.items()})


# ---------------------------------------------------------------------------------------
# Retry-After and retry-after-ms


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 5 ", 5.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("2.", 2.0),
        ("1e2", 100.0),
        ("007", 7.0),
        ("garbage", None),
        ("5s", None),
        ("+5", None),
        ("-1", None),
        ("-0.5", None),
        ("-0", None),
        ("NaN", None),
        ("nan", None),
        ("inf", None),
        ("Infinity", None),
        ("-inf", None),
        ("0x10", None),
        ("1_000", None),
        (".5", None),
        ("1,5", None),
        ("", None),
        ("   ", None),
        ("\t", None),
    ],
)
def test_retry_after_seconds(value: str, expected: float | None) -> None:
    assert parse_retry_after(hdrs(retry_after=value)) == expected
    assert parse_retry_after(hdrs(retry_after=value), wall_time=DATE_TS) == expected


@pytest.mark.parametrize("value", ["1e35", "9" * 30, "9" * 400, "1e400", "1" + "0" * 5000])
def test_a_huge_retry_after_is_a_long_wait_not_garbage(value: str) -> None:
    seconds = parse_retry_after(hdrs(retry_after=value))
    assert seconds is not None
    assert math.isfinite(seconds)
    assert seconds > 365 * 24 * 3600
    # ... so it stops the retries instead of being ignored for a quick backoff.
    decision = decide(Response(503, headers={"retry-after": value}))
    assert decision.reason is RetryReason.RETRY_AFTER_TOO_LONG
    assert decision.retry_after == seconds
    ms = parse_retry_after(hdrs(retry_after_ms=value))
    assert ms is not None
    assert math.isfinite(ms)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 10**6))
def test_any_integer_retry_after(n: int) -> None:
    assert parse_retry_after(hdrs(retry_after=str(n))) == float(n)
    assert parse_retry_after(hdrs(retry_after_ms=str(n))) == pytest.approx(n / 1000)


HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    retry_after=st.none() | HEADER_TEXT,
    ms=st.none() | HEADER_TEXT,
    date=st.none() | HEADER_TEXT | st.just(DATE),
    wall_time=st.none() | st.floats(allow_nan=False) | st.just(DATE_TS),
)
def test_parse_retry_after_never_raises(
    retry_after: str | None, ms: str | None, date: str | None, wall_time: float | None
) -> None:
    pairs = [("Retry-After", retry_after), ("retry-after-ms", ms), ("Date", date)]
    headers = Headers([(name, value) for name, value in pairs if value is not None])
    value = parse_retry_after(headers, wall_time=wall_time)
    assert value is None or (math.isfinite(value) and value >= 0)


@pytest.mark.parametrize(
    ("ms", "retry_after", "expected"),
    [
        ("1500", None, 1.5),
        ("1500", "30", 1.5),  # ms wins
        ("0", "30", 0.0),
        ("2.5", None, 0.0025),
        ("abc", "30", 30.0),  # invalid ms falls back
        ("-5", "30", 30.0),
        ("nan", "30", 30.0),
        ("", "30", 30.0),
        ("abc", None, None),
        ("abc", "abc", None),
        ("abc", DATE, None),  # a date needs a reference
    ],
)
def test_retry_after_ms(ms: str, retry_after: str | None, expected: float | None) -> None:
    headers = {"retry-after-ms": ms} | ({"retry-after": retry_after} if retry_after else {})
    assert parse_retry_after(Headers(headers)) == expected


def test_only_the_first_value_counts() -> None:
    headers = Headers([("Retry-After", "3"), ("Retry-After", "1")])
    assert parse_retry_after(headers) == 3.0


@pytest.mark.parametrize(
    ("headers", "wall_time", "expected"),
    [
        # Measured from the response's Date header ...
        ({"Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT", "Date": DATE}, None, 120.0),
        # ... which wins over the driver's wall clock ...
        ({"Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT", "Date": DATE}, DATE_TS - 500, 120.0),
        # ... or from wall_time when there is no (usable) Date header ...
        ({"Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT"}, DATE_TS, 120.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT", "Date": "soon"}, DATE_TS, 120.0),
        # ... or ignored with neither.
        ({"Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT"}, None, None),
        ({"Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT", "Date": "soon"}, None, None),
        # A date in the past means now.
        ({"Retry-After": "Wed, 21 Oct 2015 07:00:00 GMT", "Date": DATE}, None, 0.0),
        ({"Retry-After": "Tue, 20 Oct 2015 07:28:00 GMT"}, DATE_TS, 0.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, DATE_TS, 0.0),
        # Obsolete formats RFC 9110 still requires recipients to accept.
        ({"Retry-After": "Wednesday, 21-Oct-15 07:29:00 GMT"}, DATE_TS, 60.0),
        ({"Retry-After": "Wed Oct 21 07:29:00 2015"}, DATE_TS, 60.0),  # asctime: GMT
        (
            {"Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT", "Date": "Wed Oct 21 07:28:00 2015"},
            None,
            120.0,
        ),
        # A zone other than GMT is still understood.
        ({"Retry-After": "Wed, 21 Oct 2015 09:30:00 +0200"}, DATE_TS, 120.0),
        # Not dates.
        ({"Retry-After": "Wed, 32 Oct 2015 07:30:00 GMT"}, DATE_TS, None),
        ({"Retry-After": "Wed, 21 Oct 2015 25:30:00 GMT"}, DATE_TS, None),
        ({"Retry-After": "Wed, 21 Oct 99999 07:30:00 GMT"}, DATE_TS, None),
        ({"Retry-After": "Wed, 21 Oct 2015 07:30:00 -0000"}, DATE_TS, 120.0),  # UTC, RFC 5322
        ({"Retry-After": "Wed, 21 Oct"}, DATE_TS, None),
        ({"Retry-After": "x" * 1000}, DATE_TS, None),
    ],
)
def test_retry_after_http_date(
    headers: dict[str, str], wall_time: float | None, expected: float | None
) -> None:
    assert parse_retry_after(Headers(headers), wall_time=wall_time) == expected


def test_an_http_date_in_the_future_delays_the_call() -> None:
    request = Request("GET", URL)
    call = Call(request, now=50.0, rng=random.Random(0))
    call.next_event()
    later = Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"})
    call.receive_response(later, now=51.0, wall_time=DATE_TS)
    assert call.next_event() == Sleep(30.0)
    call.next_event()
    # A hint without a usable reference is ignored: backoff applies.
    call.receive_response(Response(503, headers={"Retry-After": DATE}), now=82.0)
    event = call.next_event()
    assert isinstance(event, Sleep)
    assert 0.75 <= event.seconds <= 1.0


def test_a_hint_replaces_the_backoff_and_draws_nothing() -> None:
    rng = CountingRandom()
    decision = decide(Response(503, headers={"retry-after": "3"}), rng=rng)
    assert decision == RetryDecision(True, 3.0, RetryReason.RETRYABLE_STATUS, 3.0)
    assert rng.draws == 0
    # Above max_delay is fine: only max_retry_after bounds a hint.
    assert decide(Response(429, headers={"retry-after": "60"})).delay == 60.0
    policy = RetryPolicy(max_retry_after=200)
    assert decide(Response(429, headers={"retry-after": "120"}), policy=policy).delay == 120.0


@pytest.mark.parametrize(
    ("status", "cls"), [(429, RateLimitError), (503, InternalServerError), (408, APIStatusError)]
)
@pytest.mark.parametrize(
    "headers", [{"retry-after": "61"}, {"retry-after-ms": "60001"}, {"retry-after": "1e35"}]
)
def test_a_hint_above_max_retry_after_stops(
    status: int, cls: type[APIStatusError], headers: dict[str, str]
) -> None:
    response = Response(status, headers=headers)
    hint = parse_retry_after(response.headers)
    assert hint is not None
    decision = decide(response)
    assert decision == RetryDecision(False, 0.0, RetryReason.RETRY_AFTER_TOO_LONG, hint)
    call = Call(Request("GET", URL), now=0.0, rng=random.Random(0))
    call.next_event()
    call.receive_response(Response(status, headers=headers), now=1.0)
    event = call.next_event()
    assert isinstance(event, Failed)
    assert type(event.error) is cls
    assert isinstance(event.error, APIStatusError)
    assert event.error.retry_after == hint
    assert event.error.attempts == 1


def test_rate_limit_error_carries_the_hint_after_the_last_attempt() -> None:
    call = Call(Request("GET", URL), CallOptions(max_retries=1), now=0.0, rng=random.Random(0))
    assert isinstance(call.next_event(), SendRequest)
    call.receive_response(Response(429, headers={"retry-after": "2"}), now=0.0)
    assert call.next_event() == Sleep(2.0)
    assert isinstance(call.next_event(), SendRequest)
    call.receive_response(Response(429, headers={"retry-after": "2"}), now=3.0)
    failed = call.next_event()
    assert isinstance(failed, Failed)
    assert isinstance(failed.error, RateLimitError)
    assert failed.error.retry_after == 2.0
    assert failed.error.attempts == 2
    assert call.decisions[-1].reason is RetryReason.RETRIES_EXHAUSTED


def test_no_hint_means_retry_after_none() -> None:
    call = Call(Request("GET", URL), CallOptions(max_retries=0), now=0.0, rng=random.Random(0))
    call.next_event()
    call.receive_response(Response(429), now=0.0)
    failed = call.next_event()
    assert isinstance(failed, Failed)
    assert isinstance(failed.error, RateLimitError)
    assert failed.error.retry_after is None
