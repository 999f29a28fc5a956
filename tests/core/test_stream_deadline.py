"""ReadDeadline: the bound of each read of a streamed body, and what a failed read raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk_core import DeadlineExceeded, ReadError, ReadTimeout, Request
from sdk_core.lowlevel import ReadDeadline, wait_bound

REQUEST = Request("GET", "https://a.test/stream")


def _bounds(read: float | None, deadline: float | None, total: float | None = 10.0) -> ReadDeadline:
    return ReadDeadline(
        read_timeout=read, deadline=deadline, total=total, request=REQUEST, attempts=2
    )


def test_without_a_deadline_every_read_waits_the_read_timeout() -> None:
    assert _bounds(5.0, None).next_wait(1e9) == (5.0, False)
    assert _bounds(None, None, None).next_wait(0.0) == (None, False)


def test_the_deadline_shortens_a_wait_and_says_so() -> None:
    bounds = _bounds(5.0, 100.0)
    assert bounds.next_wait(90.0) == (5.0, False)  # 10 s left: the read timeout binds
    assert bounds.next_wait(98.0) == (2.0, True)
    assert bounds.next_wait(95.0) == (5.0, False)  # a tie is the read timeout's
    assert _bounds(None, 100.0).next_wait(40.0) == (60.0, True)


@pytest.mark.parametrize("now", [100.0, 101.0])
def test_a_read_at_or_past_the_deadline_raises_deadline_exceeded(now: float) -> None:
    with pytest.raises(DeadlineExceeded) as caught:
        _bounds(5.0, 100.0).next_wait(now)
    assert caught.value.request is REQUEST
    assert caught.value.attempts == 2
    assert "10.0 s" in str(caught.value)


@given(
    read=st.none() | st.floats(0.001, 1e6),
    deadline=st.none() | st.floats(-1e6, 1e6),
    now=st.floats(-1e6, 1e6),
)
def test_the_wait_is_the_cores_wait_bound(
    read: float | None, deadline: float | None, now: float
) -> None:
    bounds = _bounds(read, deadline)
    expected = wait_bound(read, deadline, now)
    if expected is not None and expected <= 0:
        with pytest.raises(DeadlineExceeded):
            bounds.next_wait(now)
        return
    wait, by_deadline = bounds.next_wait(now)
    assert wait == expected
    assert by_deadline == (wait != read)


def test_a_read_timeout_the_deadline_set_becomes_deadline_exceeded() -> None:
    timeout = ReadTimeout("no data for 2.0 s.", request=REQUEST)
    error = _bounds(5.0, 100.0).failure(timeout, by_deadline=True)
    assert isinstance(error, DeadlineExceeded)
    assert error.__cause__ is timeout
    assert error.attempts == 2


def test_other_failures_are_raised_as_they_are_with_the_attempts() -> None:
    bounds = _bounds(5.0, 100.0)
    timeout = ReadTimeout("no data for 5.0 s.", request=REQUEST)
    assert bounds.failure(timeout, by_deadline=False) is timeout
    assert timeout.attempts == 2
    broken = ReadError("reset", request=REQUEST)
    assert bounds.failure(broken, by_deadline=True) is broken
    assert broken.attempts == 2
