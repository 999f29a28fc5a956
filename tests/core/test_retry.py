"""The retry decision: backoff, which outcomes are retried, what may be retried once it may
have reached the server, and properties over every input."""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator

import pytest
from _retry_helpers import URL, CountingRandom, decide
from hypothesis import given, settings
from hypothesis import strategies as st

from sdk_core import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    Call,
    CallOptions,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    Headers,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    Response,
    ResponseTooLargeError,
    RetryBudget,
    RetryDecision,
    RetryPolicy,
    RetryReason,
    SendRequest,
    Sleep,
    WriteError,
    WriteTimeout,
    decide_retry,
    parse_retry_after,
)

CONNECTION_ERRORS: list[type[APIConnectionError]] = [
    APIConnectionError,
    ConnectError,
    ReadError,
    WriteError,
    RemoteProtocolError,
    APITimeoutError,
    ConnectTimeout,
    ReadTimeout,
    WriteTimeout,
    PoolTimeout,
]
NEVER_SENT = [ConnectError, ConnectTimeout, PoolTimeout]

# ---------------------------------------------------------------------------------------
# Backoff

NUMBERS = st.one_of(st.floats(0, 1e6, allow_nan=False, allow_infinity=False), st.integers(0, 10**6))
POLICIES = st.builds(
    RetryPolicy,
    initial_delay=NUMBERS,
    max_delay=NUMBERS,
    multiplier=st.one_of(
        st.floats(1, 1e3, allow_nan=False, allow_infinity=False), st.integers(1, 1000)
    ),
    jitter=st.sampled_from(["proportional", "full", "none"]),
)
RETRY_INDEXES = st.one_of(
    st.integers(-5, 80), st.integers(0, 10**30), st.sampled_from([10**10, 2**63, 10**400])
)


def undithered(policy: RetryPolicy, n: int) -> float:
    """initial * multiplier**n capped at max_delay, computed in log space (no overflow)."""
    if policy.initial_delay == 0 or policy.max_delay == 0:
        return 0.0
    steps = float(min(max(n, 0), 10**300))
    log_raw = math.log(policy.initial_delay) + steps * math.log(policy.multiplier)
    if log_raw >= math.log(policy.max_delay):
        return float(policy.max_delay)
    return math.exp(log_raw)


@settings(max_examples=400, deadline=None)
@given(policy=POLICIES, n=RETRY_INDEXES, seed=st.integers(0, 2**64))
def test_backoff_is_bounded_for_any_policy_seed_and_attempt(
    policy: RetryPolicy, n: int, seed: int
) -> None:
    u = random.Random(seed).random()
    delay = policy.backoff(n, u)
    assert not math.isnan(delay)
    assert 0 <= delay <= policy.max_delay
    if n > 10**300 and policy.multiplier == 1:
        return  # beyond float range the core rounds a constant backoff up to max_delay
    base = undithered(policy, n)
    close = {"rel_tol": 1e-9, "abs_tol": 1e-12}
    if policy.jitter == "none":
        assert math.isclose(delay, base, **close)
    elif policy.jitter == "proportional":
        assert math.isclose(delay, base * (0.75 + 0.25 * u), **close)
        assert 0.75 * base * (1 - 1e-9) <= delay <= base * (1 + 1e-9)
    else:
        assert math.isclose(delay, base * u, **close)
        assert delay <= base * (1 + 1e-9)


@settings(max_examples=100, deadline=None)
@given(policy=POLICIES, attempt=RETRY_INDEXES.filter(lambda n: n >= 1), seed=st.integers())
def test_decided_delay_is_bounded_for_huge_attempts(
    policy: RetryPolicy, attempt: int, seed: int
) -> None:
    decision = decide(
        Response(503), policy=policy, attempt=attempt, rng=random.Random(seed), max_retries=attempt
    )
    assert decision.retry
    assert 0 <= decision.delay <= policy.max_delay


def test_backoff_never_computes_an_exact_integer_power() -> None:
    # RetryPolicy(multiplier=2) is natural to write; 2 ** (10**12) as an exact int would
    # take gigabytes and minutes, in C where no timeout can interrupt it.
    class Multiplier(int):
        def __pow__(self, other: object, mod: object = None) -> int:
            raise AssertionError("the backoff raised an int to a power")

    policy = RetryPolicy(initial_delay=1, multiplier=Multiplier(2), max_delay=30)
    assert policy.backoff(10**12, 0.5) == 30 * 0.875
    assert policy.backoff(3, 1.0) == 8.0
    huge = decide(Response(503), policy=policy, attempt=2**63, max_retries=2**64)
    assert huge.retry
    assert huge.delay <= 30


def test_default_backoff_sequence() -> None:
    plain = RetryPolicy(jitter="none")
    assert [plain.backoff(n, 0.3) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert plain.backoff(-3, 0.3) == 0.5


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 10, 1000])
def test_jitter_ranges(n: int) -> None:
    proportional = RetryPolicy()
    full = RetryPolicy(jitter="full")
    d = RetryPolicy(jitter="none").backoff(n, 0.0)
    assert proportional.backoff(n, 0.0) == 0.75 * d
    assert proportional.backoff(n, 0.999999) == pytest.approx(d, rel=1e-6)
    assert full.backoff(n, 0.0) == 0.0
    assert full.backoff(n, 0.5) == d / 2
    for u in (random.Random(n).random() for _ in range(50)):
        assert 0.75 * d <= proportional.backoff(n, u) <= d
        assert 0 <= full.backoff(n, u) <= d


def test_rng_values_outside_the_unit_interval_are_clamped() -> None:
    policy = RetryPolicy()
    assert policy.backoff(0, 7.0) == 0.5
    assert policy.backoff(0, -7.0) == 0.375
    assert RetryPolicy(jitter="full").backoff(0, -1.0) == 0.0


def test_zero_initial_delay_means_immediate_retries() -> None:
    assert RetryPolicy(initial_delay=0).backoff(10**9, 0.9) == 0.0
    assert decide(ReadError(), policy=RetryPolicy(initial_delay=0)).delay == 0.0


def test_backoff_draws_one_random_value_per_retry() -> None:
    rng = CountingRandom(0.0)
    decision = decide(Response(503), rng=rng, attempt=2)
    assert decision == RetryDecision(True, 0.75, RetryReason.RETRYABLE_STATUS, None)
    assert rng.draws == 1


# ---------------------------------------------------------------------------------------
# Which outcomes are retried


def test_status_rule() -> None:
    for status in range(100, 1000):
        decision = decide(Response(status))
        if status < 400:
            assert decision == RetryDecision(False, 0.0, RetryReason.SUCCEEDED), status
        elif status in (408, 409, 429, 500, 502, 503, 504):
            assert decision.retry, status
            assert decision.reason is RetryReason.RETRYABLE_STATUS
        else:
            assert decision == RetryDecision(False, 0.0, RetryReason.STATUS_NOT_RETRYABLE), status


def test_retry_statuses_are_configurable() -> None:
    policy = RetryPolicy(retry_statuses={418})
    assert decide(Response(418), policy=policy).retry
    assert not decide(Response(503), policy=policy).retry


@pytest.mark.parametrize("status", [400, 404, 418, 422, 501, 505, 599])
@pytest.mark.parametrize("value", ["true", "TRUE", " True "])
def test_x_should_retry_true_overrides_the_status(status: int, value: str) -> None:
    decision = decide(Response(status, headers={"x-should-retry": value}))
    assert decision.retry
    assert decision.reason is RetryReason.SERVER_ASKED_RETRY


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
@pytest.mark.parametrize("value", ["false", "FALSE", " false"])
def test_x_should_retry_false_overrides_the_status(status: int, value: str) -> None:
    response = Response(status, headers={"x-should-retry": value, "retry-after": "1"})
    decision = decide(response)
    assert decision == RetryDecision(False, 0.0, RetryReason.SERVER_REFUSED_RETRY, 1.0)


@pytest.mark.parametrize("value", ["yes", "1", "", "maybe"])
def test_other_x_should_retry_values_leave_the_status_rule(value: str) -> None:
    assert decide(Response(503, headers={"x-should-retry": value})).retry
    assert not decide(Response(400, headers={"x-should-retry": value})).retry


def test_x_should_retry_cannot_fail_a_success() -> None:
    for value in ("true", "false"):
        decision = decide(Response(200, headers={"x-should-retry": value}))
        assert decision.reason is RetryReason.SUCCEEDED


def test_x_should_retry_true_still_respects_the_limits() -> None:
    asked = Response(400, headers={"x-should-retry": "true"})
    exhausted = decide(asked, attempt=3)
    assert exhausted.reason is RetryReason.RETRIES_EXHAUSTED
    post = decide(Response(400, headers={"x-should-retry": "true"}), Request("POST", URL))
    assert post.reason is RetryReason.NOT_IDEMPOTENT


@pytest.mark.parametrize("cls", CONNECTION_ERRORS)
def test_connection_errors_are_retried(cls: type[APIConnectionError]) -> None:
    decision = decide(cls())
    assert decision.retry
    assert decision.reason is RetryReason.CONNECTION_FAILED


@pytest.mark.parametrize("cls", CONNECTION_ERRORS)
def test_a_permanent_connection_error_is_not_retried(cls: type[APIConnectionError]) -> None:
    error = cls("no such host", retryable=False)
    assert error.retryable is False
    assert decide(error) == RetryDecision(False, 0.0, RetryReason.CONNECTION_PERMANENT)
    assert cls().retryable is True


@pytest.mark.parametrize(
    "error",
    [DeadlineExceeded(), ResponseTooLargeError("too big"), APIError("other")],
    ids=lambda e: type(e).__name__,
)
def test_errors_that_are_never_retried(error: APIError) -> None:
    assert decide(error) == RetryDecision(False, 0.0, RetryReason.ERROR_NOT_RETRYABLE)


def test_a_status_error_reported_as_an_error_is_not_retried() -> None:
    error = APIStatusError("x", response=Response(503))
    assert decide(error).reason is RetryReason.ERROR_NOT_RETRYABLE


# ---------------------------------------------------------------------------------------
# Safety: what may have reached the server


RESPONSES = st.builds(
    lambda status, headers: Response(status, headers=headers),
    st.integers(100, 599),
    st.fixed_dictionaries(
        {},
        optional={
            "retry-after": st.sampled_from(["0", "1", "garbage"]),
            "x-should-retry": st.sampled_from(["true", "false"]),
        },
    ),
)
UNSAFE_METHODS = st.sampled_from(["POST", "PATCH", "PURGE", "LOCK", "post", "M-SEARCH"])


@settings(max_examples=300, deadline=None)
@given(
    method=UNSAFE_METHODS,
    outcome=st.one_of(
        RESPONSES,
        st.builds(lambda cls: cls(request_sent=True), st.sampled_from(CONNECTION_ERRORS)),
    ),
    attempt=st.integers(1, 3),
    max_retries=st.integers(0, 5),
    other_header=st.sampled_from([None, "X-Other-Key"]),
)
def test_unsafe_methods_are_not_retried_once_they_may_have_been_sent(
    method: str,
    outcome: Response | APIConnectionError,
    attempt: int,
    max_retries: int,
    other_header: str | None,
) -> None:
    # A key in some other header does not count.
    headers = {other_header: "k"} if other_header else None
    request = Request(method, URL, headers=headers, content=b"{}")
    decision = decide(outcome, request, attempt=attempt, max_retries=max_retries)
    assert not decision.retry


@settings(max_examples=200, deadline=None)
@given(
    method=UNSAFE_METHODS,
    cls=st.sampled_from(CONNECTION_ERRORS),
    seed=st.integers(0, 2**32),
)
def test_unsafe_methods_are_retried_when_nothing_was_sent(
    method: str, cls: type[APIConnectionError], seed: int
) -> None:
    request = Request(method, URL, content=b"{}")
    default = cls()
    if cls in NEVER_SENT:
        assert default.request_sent is False
        assert decide(default, request, rng=random.Random(seed)).retry
    else:
        assert default.request_sent is True
        assert decide(default, request).reason is RetryReason.NOT_IDEMPOTENT
    # Whatever the class, an error that says nothing was sent is safe to retry.
    assert decide(cls(request_sent=False), request).retry


@settings(max_examples=200, deadline=None)
@given(
    method=UNSAFE_METHODS,
    outcome=st.one_of(
        st.sampled_from([408, 409, 429, 500, 502, 503, 504]).map(Response),
        st.builds(lambda cls: cls(request_sent=True), st.sampled_from(CONNECTION_ERRORS)),
    ),
    header=st.sampled_from(["Idempotency-Key", "idempotency-key", "X-Key"]),
)
def test_an_idempotency_key_makes_unsafe_methods_retryable(
    method: str, outcome: Response | APIConnectionError, header: str
) -> None:
    request = Request(method, URL, headers={header: "key-1"}, content=b"{}")
    decision = decide(outcome, request, idempotency_header=header.title())
    assert decision.retry
    # ... but only the header the call names counts, and None names none.
    assert not decide(outcome, request, idempotency_header="Other-Key").retry
    assert not decide(outcome, request, idempotency_header=None).retry


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
def test_idempotent_methods_are_retried_after_sending(method: str) -> None:
    request = Request(method, URL)
    assert decide(ReadError(), request).retry
    assert decide(Response(503), request).retry


@pytest.mark.parametrize(
    "content",
    [
        lambda: iter([b"a", b"b"]),
        lambda: (chunk for chunk in [b"a"]),
        lambda: [b"a", b"b"],
    ],
    ids=["iterator", "generator", "list"],
)
@settings(max_examples=50, deadline=None)
@given(
    outcome=st.one_of(RESPONSES, st.builds(lambda cls: cls(), st.sampled_from(CONNECTION_ERRORS))),
    method=st.sampled_from(["PUT", "POST", "GET"]),
)
def test_a_one_shot_body_is_never_retried(
    content: object, outcome: Response | APIConnectionError, method: str
) -> None:
    body = content()  # type: ignore[operator]
    request = Request(method, URL, headers={"Idempotency-Key": "k"}, content=body)
    assert not request.replayable
    decision = decide(outcome, request)
    assert not decision.retry
    if decide(outcome, Request(method, URL, headers={"Idempotency-Key": "k"})).retry:
        assert decision.reason is RetryReason.BODY_NOT_REPLAYABLE


def test_an_async_body_is_never_retried() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"a"

    request = Request("PUT", URL, content=chunks())
    assert decide(ConnectError(), request).reason is RetryReason.BODY_NOT_REPLAYABLE


@settings(max_examples=200, deadline=None)
@given(
    outcome=st.one_of(RESPONSES, st.builds(lambda cls: cls(), st.sampled_from(CONNECTION_ERRORS))),
    method=st.sampled_from(["GET", "PUT", "POST"]),
    policy_retries=st.integers(0, 5),
    via=st.sampled_from(["policy", "override", "call options"]),
)
def test_max_retries_zero_never_retries(
    outcome: Response | APIConnectionError, method: str, policy_retries: int, via: str
) -> None:
    request = Request(method, URL, headers={"Idempotency-Key": "k"})
    if via == "policy":
        decision = decide(outcome, request, policy=RetryPolicy(max_retries=0))
    elif via == "override":
        policy = RetryPolicy(max_retries=policy_retries)
        decision = decide(outcome, request, policy=policy, max_retries=0)
    else:
        options = CallOptions(retry=RetryPolicy(max_retries=policy_retries), max_retries=0)
        call = Call(request, options, now=0.0, rng=random.Random(0))
        call.next_event()
        if isinstance(outcome, Response):
            call.receive_response(outcome, now=0.0)
        else:
            call.receive_error(outcome, now=0.0)
        decision = call.decisions[-1]
        assert not isinstance(call.next_event(), SendRequest | Sleep)
        assert call.attempts == 1
    assert not decision.retry


def test_max_retries_override_wins_both_ways() -> None:
    assert decide(Response(503), policy=RetryPolicy(max_retries=0), max_retries=1).retry
    assert not decide(Response(503), attempt=3, max_retries=2).retry
    assert decide(Response(503), attempt=3, max_retries=3).retry


@pytest.mark.parametrize("max_retries", [0, 1, 2, 5])
def test_exhaustion_after_max_retries_plus_one_attempts(max_retries: int) -> None:
    policy = RetryPolicy(max_retries=max_retries)
    for attempt in range(1, max_retries + 1):
        assert decide(ReadError(), policy=policy, attempt=attempt).retry
    last = decide(ReadError(), policy=policy, attempt=max_retries + 1)
    assert last == RetryDecision(False, 0.0, RetryReason.RETRIES_EXHAUSTED)


@settings(max_examples=200, deadline=None)
@given(
    outcome=st.one_of(
        RESPONSES,
        st.builds(
            lambda cls, sent: cls(request_sent=sent),
            st.sampled_from([*CONNECTION_ERRORS, DeadlineExceeded]),
            st.sampled_from([None, True, False]),
        ),
        st.builds(lambda msg: APIError(msg), st.text(max_size=5)),
    ),
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "PURGE"]),
    attempt=st.integers(1, 10),
    remaining=st.none() | st.floats(-10, 100),
    budget_tokens=st.none() | st.integers(0, 20),
    max_retries=st.none() | st.integers(0, 10),
    wall_time=st.none() | st.floats(0, 2e9),
    seed=st.integers(0, 2**32),
)
def test_decide_retry_never_raises_and_is_consistent(
    outcome: Response | APIError,
    method: str,
    attempt: int,
    remaining: float | None,
    budget_tokens: int | None,
    max_retries: int | None,
    wall_time: float | None,
    seed: int,
) -> None:
    budget = None if budget_tokens is None else RetryBudget(budget_tokens)
    decision = decide(
        outcome,
        Request(method, URL),
        attempt=attempt,
        rng=random.Random(seed),
        remaining=remaining,
        budget=budget,
        max_retries=max_retries,
        wall_time=wall_time,
    )
    limit = 2 if max_retries is None else max_retries
    if decision.retry:
        assert attempt <= limit
        assert decision.delay >= 0
        assert remaining is None or decision.delay < remaining
        assert budget is None or budget.tokens < budget_tokens  # type: ignore[operator]
    else:
        assert decision.delay == 0.0
        assert budget is None or budget.tokens == budget_tokens
    if isinstance(outcome, Response) and decision.reason is not RetryReason.SUCCEEDED:
        assert decision.retry_after == parse_retry_after(outcome.headers, wall_time=wall_time)
    else:  # a success is not read for hints: it ends the call
        assert decision.retry_after is None


def test_every_reason_has_a_distinct_message() -> None:
    messages = [reason.value for reason in RetryReason]
    assert all(messages)
    assert len(set(messages)) == len(messages)


def test_trace_is_not_retried_after_it_may_have_been_sent() -> None:
    # DESIGN.md names GET, HEAD, OPTIONS, PUT and DELETE; anything else needs a key.
    request = Request("TRACE", "https://api.example.com/x")
    decision = decide_retry(
        RetryPolicy(), request, Response(503, request=request), attempt=1, rng=random.Random(0)
    )
    assert not decision.retry
    assert decision.reason is RetryReason.NOT_IDEMPOTENT


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 2.0, -1.0])
def test_backoff_stays_in_bounds_for_a_faulty_random_source(value: float) -> None:
    delay = RetryPolicy().backoff(0, value)
    assert 0.0 <= delay <= 0.5


@pytest.mark.parametrize(
    "value",
    [
        "Wed, 21 Foo 2015 07:30:00 GMT",  # no such month
        "Wed, \uff12\uff11 Oct 2015 07:30:00 GMT",  # full-width digits match \\d
        "Wed Oct 21 07:30:00 20\uff115",
    ],
)
def test_retry_after_dates_that_are_not_http_dates_are_ignored(value: str) -> None:
    # Built as received headers are, unvalidated: a caller may build them from anything.
    headers = Headers._trusted([("Retry-After", value)])
    assert parse_retry_after(headers, wall_time=0.0) is None
