"""The retry decision's limits beyond the attempt count: the whole call's deadline, and the
retry budget a client's calls share."""

from __future__ import annotations

import random

import pytest
from _retry_helpers import URL, CountingRandom, decide

from sdk_core import (
    APITimeoutError,
    Call,
    CallOptions,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    Failed,
    InternalServerError,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    Request,
    Response,
    RetryBudget,
    RetryDecision,
    RetryReason,
    SendRequest,
    Sleep,
    Timeout,
    WriteTimeout,
)

# ---------------------------------------------------------------------------------------
# Deadline


def test_a_wait_past_the_deadline_stops() -> None:
    rng = CountingRandom(0.0)  # backoff 0.375 s
    assert decide(ReadError(), rng=rng, remaining=0.376).retry
    assert decide(ReadError(), rng=rng, remaining=0.375).reason is RetryReason.DEADLINE
    assert decide(ReadError(), rng=rng, remaining=-1.0).reason is RetryReason.DEADLINE
    hinted = Response(503, headers={"retry-after": "5"})
    assert decide(hinted, remaining=4.0) == RetryDecision(False, 0.0, RetryReason.DEADLINE, 5.0)
    assert decide(hinted, remaining=None).retry
    # Even an immediate retry needs time left for the attempt.
    now = Response(503, headers={"retry-after": "0"})
    assert decide(now, remaining=0.0).reason is RetryReason.DEADLINE
    assert decide(now, remaining=0.001).retry


def test_the_deadline_through_a_call() -> None:
    options = CallOptions(timeout=Timeout(10.0, total=3.0))
    call = Call(Request("GET", URL), options, now=100.0, rng=CountingRandom(1.0))
    assert call.deadline == 103.0
    first = call.next_event()
    assert isinstance(first, SendRequest)
    assert first.timeout == Timeout(3.0, total=3.0)
    call.receive_response(Response(503), now=101.0)
    assert call.next_event() == Sleep(0.5)
    second = call.next_event()
    assert isinstance(second, SendRequest)
    assert second.timeout == Timeout(1.5, total=1.5)  # total: what this attempt may take
    call.receive_response(Response(503, headers={"retry-after": "2"}), now=102.0)
    failed = call.next_event()
    assert isinstance(failed, Failed)
    assert isinstance(failed.error, InternalServerError)
    assert failed.error.retry_after == 2.0
    assert failed.error.attempts == 2
    assert call.decisions[-1].reason is RetryReason.DEADLINE


@pytest.mark.parametrize("cls", [ReadTimeout, ConnectTimeout, WriteTimeout, PoolTimeout])
def test_a_timeout_at_the_deadline_becomes_deadline_exceeded(cls: type[APITimeoutError]) -> None:
    options = CallOptions(timeout=Timeout(total=3.0))
    call = Call(Request("GET", URL), options, now=0.0, rng=random.Random(0))
    call.next_event()
    timeout = cls(request_sent=True)
    call.receive_error(timeout, now=2.9995)  # within the timer slack
    failed = call.next_event()
    assert isinstance(failed, Failed)
    assert isinstance(failed.error, DeadlineExceeded)
    assert failed.error.__cause__ is timeout
    assert failed.error.request_sent is True
    assert failed.error.attempts == 1
    assert str(failed.error).endswith(", 1 attempt)")
    assert timeout.request is call.request


def test_a_timeout_before_the_deadline_stays_what_it_is() -> None:
    call = Call(
        Request("GET", URL), CallOptions(timeout=Timeout(total=3.0)), now=0, rng=random.Random(0)
    )
    call.next_event()
    timeout = ReadTimeout()
    call.receive_error(timeout, now=2.9)  # 0.1 s left: too little for the backoff
    failed = call.next_event()
    assert isinstance(failed, Failed)
    assert failed.error is timeout
    assert call.decisions[-1].reason is RetryReason.DEADLINE


def test_other_errors_and_no_deadline_are_left_alone() -> None:
    call = Call(
        Request("GET", URL), CallOptions(timeout=Timeout(total=3.0)), now=0, rng=random.Random(0)
    )
    call.next_event()
    error = ReadError()
    call.receive_error(error, now=5.0)
    failed = call.next_event()
    assert isinstance(failed, Failed)
    assert failed.error is error
    call = Call(Request("GET", URL), now=0, rng=random.Random(0))
    call.next_event()
    timeout = ReadTimeout()
    call.receive_error(timeout, now=1e9)
    assert call.decisions[-1].retry
    # A DeadlineExceeded from the driver is kept as it is.
    call = Call(
        Request("GET", URL), CallOptions(timeout=Timeout(total=1.0)), now=0, rng=random.Random(0)
    )
    call.next_event()
    own = DeadlineExceeded()
    call.receive_error(own, now=1.0)
    failed = call.next_event()
    assert isinstance(failed, Failed)
    assert failed.error is own


def test_no_time_for_a_first_attempt() -> None:
    call = Call(
        Request("GET", URL), CallOptions(timeout=Timeout(total=0.0)), now=5, rng=random.Random(0)
    )
    failed = call.next_event()
    assert isinstance(failed, Failed)
    assert isinstance(failed.error, DeadlineExceeded)
    assert failed.error.attempts == 0
    assert failed.error.request_sent is False
    assert failed.error.request is call.request


# ---------------------------------------------------------------------------------------
# Budget


def test_budget_defaults_are_botocores_standard_mode() -> None:
    budget = RetryBudget()
    assert (budget.capacity, budget.retry_cost, budget.timeout_cost, budget.success_refund) == (
        500,
        5,
        10,
        1,
    )
    assert budget.tokens == 500
    assert repr(budget) == "RetryBudget(tokens=500/500)"


def test_budget_drains_and_refunds() -> None:
    budget = RetryBudget()
    assert all(budget.try_acquire() for _ in range(100))
    assert budget.tokens == 0
    assert not budget.try_acquire()
    assert budget.tokens == 0
    budget.record_success()
    assert budget.tokens == 1
    assert not budget.try_acquire()  # 1 < 5: nothing is taken
    assert budget.tokens == 1
    for _ in range(1000):
        budget.record_success()
    assert budget.tokens == 500  # never past capacity
    assert all(budget.try_acquire(after_timeout=True) for _ in range(50))
    assert not budget.try_acquire(after_timeout=True)
    assert budget.tokens == 0


def test_budget_validation() -> None:
    for kwargs in (
        {"capacity": -1},
        {"retry_cost": -1},
        {"timeout_cost": -1},
        {"success_refund": -1},
    ):
        with pytest.raises(ValueError, match="RetryBudget"):
            RetryBudget(**kwargs)  # type: ignore[arg-type]


def test_budget_holds_its_lock_around_every_update() -> None:
    entered: list[str] = []

    class Lock:
        held = False

        def __enter__(self) -> None:
            assert not self.held
            self.held = True
            entered.append("enter")

        def __exit__(self, *exc: object) -> None:
            self.held = False

    budget = RetryBudget(10, lock=Lock())
    budget.try_acquire()
    budget.record_success()
    budget.try_acquire(after_timeout=True)
    assert entered == ["enter"] * 3


def test_decide_takes_the_cost_only_when_retrying() -> None:
    budget = RetryBudget(12)
    assert decide(Response(503), budget=budget).retry
    assert budget.tokens == 7
    assert decide(ReadTimeout(), budget=budget) == RetryDecision(
        False, 0.0, RetryReason.BUDGET_EXHAUSTED
    )
    assert budget.tokens == 7  # a timeout costs 10; nothing taken
    assert decide(ReadError(), budget=budget).retry
    assert budget.tokens == 2
    # Decisions that stop for another reason leave the bucket alone.
    for outcome in (Response(200), Response(404), DeadlineExceeded()):
        decide(outcome, budget=budget)
    decide(ReadError(), budget=budget, attempt=3)
    decide(ReadError(), budget=budget, remaining=0.0)
    assert budget.tokens == 2
    hinted = Response(429, headers={"retry-after": "1"})
    assert decide(hinted, budget=budget).reason is RetryReason.BUDGET_EXHAUSTED
    assert decide(hinted, budget=budget).retry_after == 1.0


def test_a_timeout_retry_costs_more() -> None:
    budget = RetryBudget()
    assert decide(ConnectTimeout(), budget=budget).retry
    assert budget.tokens == 490
    assert decide(ConnectError(), budget=budget).retry
    assert budget.tokens == 485


def test_a_shared_budget_stops_a_retry_storm() -> None:
    budget = RetryBudget()
    calls = 0
    retries = 0
    while True:
        calls += 1
        call = Call(Request("GET", URL), now=0.0, rng=random.Random(calls), budget=budget)
        call.next_event()
        call.receive_error(ConnectError(), now=0.0)
        if not call.decisions[-1].retry:
            assert call.decisions[-1].reason is RetryReason.BUDGET_EXHAUSTED
            break
        retries += 1
    assert retries == 100
    assert budget.tokens == 0
    # Successes refill it a token at a time.
    for _ in range(5):
        call = Call(Request("GET", URL), now=0.0, rng=random.Random(0), budget=budget)
        call.next_event()
        call.receive_response(Response(200), now=0.0)
        call.next_event()
    assert budget.tokens == 5
    call = Call(Request("GET", URL), now=0.0, rng=random.Random(0), budget=budget)
    call.next_event()
    call.receive_response(Response(503), now=0.0)
    assert call.decisions[-1].retry
    assert budget.tokens == 0
