"""Whole driver loops over generated outcomes, on a fake clock: each call's attempts,
sleeps and end match what the retry rules, the budget and the deadline say."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

import pytest
from _call_helpers import ERROR_CLASSES, RESPONSE_HEADERS, STATUSES, URL, Clock, S, make_error
from hypothesis import event, given, settings
from hypothesis import strategies as st

from sdk_core import (
    APIConnectionError,
    APIError,
    APIStatusError,
    Call,
    CallOptions,
    Completed,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    Failed,
    ReadError,
    Request,
    Response,
    RetryBudget,
    RetryPolicy,
    RetryReason,
    SendRequest,
    Sleep,
    Timeout,
    error_class_for,
)

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


# ---------------------------------------------------------------------------------------
# Whole driver loops over generated outcomes


@dataclass(frozen=True)
class Outcome:
    """One scripted attempt: a response or a transport error, after ``duration`` s."""

    duration: float
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    error: type[APIError] | None = None
    request_sent: bool | None = None

    def build(self) -> Response | APIError:
        if self.error is not None:
            return make_error(self.error, self.request_sent)
        assert self.status is not None
        return Response(self.status, headers=list(self.headers), content=b'{"error": "x"}')

    @property
    def provably_unsent(self) -> bool:
        if self.error is None or not issubclass(self.error, APIConnectionError):
            return False
        sent = self.error.may_follow_send if self.request_sent is None else self.request_sent
        return not sent


DURATIONS = st.floats(0, 4, allow_nan=False)
OUTCOMES = st.one_of(
    # Retryable outcomes get a branch of their own, so that long runs are common.
    st.builds(Outcome, duration=DURATIONS, status=st.sampled_from([429, 500, 502, 503, 504])),
    st.builds(
        Outcome,
        duration=DURATIONS,
        error=st.sampled_from([ConnectError, ConnectTimeout, ReadError]),
    ),
    st.builds(
        Outcome,
        duration=DURATIONS,
        status=STATUSES,
        headers=RESPONSE_HEADERS.map(lambda h: tuple(h.items())),
    ),
    st.builds(
        Outcome,
        duration=DURATIONS,
        error=st.sampled_from(ERROR_CLASSES),
        request_sent=st.sampled_from([None, True, False]),
    ),
)


@dataclass(frozen=True)
class Setup:
    method: str
    seed: int
    start: float
    policy: RetryPolicy
    options_max_retries: int | None
    total: float | None
    idempotency_header: str | None
    budget_capacity: int | None
    wall_time: float | None
    script: tuple[Outcome, ...]

    @property
    def max_retries(self) -> int:
        if self.options_max_retries is not None:
            return self.options_max_retries
        return self.policy.max_retries


@st.composite
def setups(draw: st.DrawFn) -> Setup:
    policy = RetryPolicy(
        max_retries=draw(st.integers(0, 4)),
        initial_delay=draw(st.sampled_from([0.0, 0.1, 0.5, 2.0])),
        max_delay=draw(st.sampled_from([0.5, 8.0, 30.0])),
        jitter=draw(st.sampled_from(["proportional", "full", "none"])),
        max_retry_after=draw(st.sampled_from([0.0, 5.0, 60.0, 200.0])),
    )
    options_max_retries = draw(st.none() | st.integers(0, 4))
    retries = policy.max_retries if options_max_retries is None else options_max_retries
    return Setup(
        method=draw(st.sampled_from(["GET", "PUT", "DELETE", "POST", "PATCH", "PURGE"])),
        seed=draw(st.integers(0, 2**32)),
        start=draw(st.sampled_from([0.0, 1000.0, 123456.789])),
        policy=policy,
        options_max_retries=options_max_retries,
        total=draw(st.none() | st.floats(0, 30) | st.floats(30, 120)),
        idempotency_header=draw(st.sampled_from(["Idempotency-Key", None])),
        budget_capacity=draw(st.none() | st.integers(0, 30)),
        wall_time=draw(st.none() | st.just(1445412480.0)),
        script=tuple(draw(st.lists(OUTCOMES, min_size=retries + 1, max_size=retries + 1))),
    )


@dataclass
class Trace:
    events: list[tuple[object, ...]] = field(default_factory=list)
    sent: list[Request] = field(default_factory=list)
    #: (clock before the sleep, seconds)
    sleeps: list[tuple[float, float]] = field(default_factory=list)
    #: (clock at SendRequest, its timeout)
    sends: list[tuple[float, Timeout]] = field(default_factory=list)
    reported: list[Outcome] = field(default_factory=list)
    result: Completed | Failed | None = None
    deadline: float | None = None
    reasons: list[RetryReason] = field(default_factory=list)


def _normal(event: object) -> tuple[object, ...]:
    if isinstance(event, SendRequest):
        request = event.request
        return (
            "send",
            request.method,
            str(request.url),
            request.headers.multi_items(),
            event.timeout,
        )
    if isinstance(event, Sleep):
        return ("sleep", event.seconds)
    if isinstance(event, Completed):
        return ("completed", event.response.status_code, event.response.attempts)
    assert isinstance(event, Failed)
    return ("failed", type(event.error).__name__, str(event.error), event.error.attempts)


def drive(setup: Setup) -> Trace:
    """The driver loop of DESIGN.md, with a fake clock and a scripted transport."""
    clock = Clock(setup.start)
    options = CallOptions(
        retry=setup.policy,
        timeout=Timeout(10.0, total=setup.total),
        max_retries=setup.options_max_retries,
        idempotency_header=setup.idempotency_header,
    )
    budget = None if setup.budget_capacity is None else RetryBudget(setup.budget_capacity)
    request = Request(setup.method, URL, content=b'{"a": 1}')
    call = Call(request, options, now=clock.now, rng=random.Random(setup.seed), budget=budget)
    trace = Trace(deadline=call.deadline)
    script = iter(setup.script)
    for _ in range(3 * len(setup.script) + 2):
        event = call.next_event()
        trace.events.append(_normal(event))
        if isinstance(event, SendRequest):
            trace.sent.append(event.request)
            trace.sends.append((clock.now, event.timeout))
            outcome = next(script)  # StopIteration here: more attempts than allowed
            trace.reported.append(outcome)
            clock.tick(outcome.duration)
            built = outcome.build()
            if isinstance(built, Response):
                call.receive_response(built, now=clock.now, wall_time=setup.wall_time)
            else:
                call.receive_error(built, now=clock.now)
        elif isinstance(event, Sleep):
            trace.sleeps.append((clock.now, event.seconds))
            clock.tick(event.seconds)
        else:
            trace.result = event
            trace.reasons = [decision.reason for decision in call.decisions]
            assert call.state is S.DONE
            return trace
    raise AssertionError("the driver loop did not terminate")


@settings(max_examples=300, deadline=None)
@given(setup=setups())
def test_driver_loop(setup: Setup) -> None:
    trace = drive(setup)
    attempts = len(trace.sent)
    event(f"{type(trace.result).__name__} after {attempts} attempt(s)")
    if isinstance(trace.result, Failed):
        event(f"failed with {type(trace.result.error).__name__}")
    if trace.reasons:
        event(f"stopped: {trace.reasons[-1].name}")
    assert attempts <= setup.max_retries + 1
    result = trace.result
    last = trace.reported[-1] if trace.reported else None
    sent_last = len(trace.events) >= 2 and trace.events[-2][0] == "send"

    if isinstance(result, Completed):
        assert result.response.status_code < 400
        assert result.response.attempts == attempts
        assert last is not None
        assert last.status == result.response.status_code
    else:
        assert isinstance(result, Failed)
        error = result.error
        assert error.attempts == attempts
        if not sent_last:  # the deadline ran out before another attempt could start
            assert isinstance(error, DeadlineExceeded)
            assert setup.total is not None
        elif last is not None and last.status is not None:
            assert last.status >= 400
            assert isinstance(error, APIStatusError)
            assert type(error) is error_class_for(last.status)
            assert error.status_code == last.status
        else:
            assert last is not None
            assert last.error is not None
            assert isinstance(error, last.error) or (
                isinstance(error, DeadlineExceeded) and isinstance(error.__cause__, last.error)
            )

    # No sleep runs past the deadline, and no attempt may outlive it.
    if setup.total is not None:
        assert trace.deadline == setup.start + setup.total
        slack = 1e-9 * max(1.0, abs(trace.deadline))
        for at, seconds in trace.sleeps:
            assert at + seconds <= trace.deadline + slack
        for at, timeout in trace.sends:
            left = trace.deadline - at
            for phase in (timeout.connect, timeout.read, timeout.write, timeout.pool):
                assert phase is not None
                assert 0 <= phase <= max(left, 0.0) + slack
    else:
        assert trace.deadline is None
    for _, seconds in trace.sleeps:
        assert 0 < seconds <= max(setup.policy.max_delay, setup.policy.max_retry_after)

    # The Idempotency-Key: one per call, the same on every attempt, only with retries.
    keys = {r.headers.get("Idempotency-Key") for r in trace.sent}
    generated = setup.method in ("POST", "PATCH") and setup.idempotency_header is not None
    if trace.sent and generated and setup.max_retries > 0:
        assert len(keys) == 1
        (key,) = keys
        assert key is not None
        assert UUID4.match(key)
    else:
        assert keys <= {None}

    # A retry of a non-idempotent, unkeyed request follows only a provably unsent attempt.
    keyed = bool(keys - {None})
    if setup.method in ("POST", "PATCH", "PURGE") and not keyed:
        for outcome in trace.reported[: attempts - 1]:
            assert outcome.provably_unsent


@settings(max_examples=100, deadline=None)
@given(setup=setups())
def test_driver_loop_is_deterministic(setup: Setup) -> None:
    assert drive(setup).events == drive(setup).events


def test_same_seed_same_key_other_seed_other_key() -> None:
    def key(seed: int) -> str | None:
        call = Call(Request("POST", URL), now=0.0, rng=random.Random(seed))
        return call.request.headers.get("Idempotency-Key")

    assert key(1) == key(1)
    assert key(1) != key(2)
    assert UUID4.match(key(3) or "")


@pytest.mark.parametrize(
    ("options", "method", "expected"),
    [
        (CallOptions(), "POST", "generated"),
        (CallOptions(), "PATCH", "generated"),
        (CallOptions(), "PUT", None),
        (CallOptions(), "GET", None),
        (CallOptions(retry=RetryPolicy(max_retries=0)), "POST", None),
        (CallOptions(max_retries=0), "POST", None),
        (CallOptions(retry=RetryPolicy(max_retries=0), max_retries=1), "POST", "generated"),
        (CallOptions(idempotency_header=None), "POST", None),
        (CallOptions(idempotency_key="k-1"), "POST", "k-1"),
        (CallOptions(idempotency_key="k-1"), "GET", "k-1"),
        (CallOptions(idempotency_key="k-1", max_retries=0), "POST", "k-1"),
    ],
)
def test_idempotency_key(options: CallOptions, method: str, expected: str | None) -> None:
    call = Call(Request(method, URL), options, now=0.0, rng=random.Random(0))
    key = call.request.headers.get("Idempotency-Key")
    if expected == "generated":
        assert key is not None
        assert UUID4.match(key)
    else:
        assert key == expected


def test_a_callers_own_key_header_is_kept() -> None:
    request = Request("POST", URL, headers={"idempotency-key": "mine"})
    call = Call(request, CallOptions(idempotency_key="other"), now=0.0, rng=random.Random(0))
    assert call.request.headers.get_list("Idempotency-Key") == ["mine"]
    custom = CallOptions(idempotency_header="X-Request-Key")
    call = Call(Request("POST", URL), custom, now=0.0, rng=random.Random(0))
    assert "X-Request-Key" in call.request.headers
    assert "Idempotency-Key" not in call.request.headers
