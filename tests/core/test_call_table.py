"""The Call state machine: every (state, input) pair against TRANSITIONS, reached through
the public API only, and a random walk over any inputs, legal or not."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from _call_helpers import ERROR_CLASSES, RESPONSE_HEADERS, STATUSES, URL, Clock, S, make_error
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from sdk_core import (
    TRANSITIONS,
    APIError,
    Call,
    CallInput,
    CallOptions,
    CallState,
    CallStateError,
    Completed,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    Failed,
    PoolTimeout,
    ReadError,
    Request,
    Response,
    ResponseTooLargeError,
    RetryBudget,
    RetryPolicy,
    RetryReason,
    SendRequest,
    Sleep,
    Timeout,
)

I = CallInput  # noqa: E741 - mirrors the core's own alias
BODIES = st.sampled_from([b"", b'{"error": {"message": "nope", "type": "t"}}', b"<html>", b"["])


@st.composite
def responses(draw: st.DrawFn) -> Response:
    return Response(draw(STATUSES), headers=draw(RESPONSE_HEADERS), content=draw(BODIES))


ERRORS = st.builds(make_error, st.sampled_from(ERROR_CLASSES), st.sampled_from([None, True, False]))


def new_call(data: st.DataObject, clock: Clock, *, total: float | None = None) -> Call:
    policy = RetryPolicy(max_retries=data.draw(st.integers(3, 5), label="max_retries"))
    options = CallOptions(retry=policy, timeout=Timeout(10.0, total=total))
    method = data.draw(st.sampled_from(["GET", "PUT", "DELETE", "POST"]), label="method")
    seed = data.draw(st.integers(0, 2**32), label="seed")
    return Call(Request(method, URL), options, now=clock.now, rng=random.Random(seed))


def reach_ready_to_send(data: st.DataObject, clock: Clock) -> Call:
    """A fresh call, or one that has already retried 1-2 times by any route."""
    call = new_call(data, clock)
    for _ in range(data.draw(st.integers(0, 2), label="retries before")):
        assert isinstance(call.next_event(), SendRequest)
        route = data.draw(st.sampled_from(["hint 0", "sleep on status", "sleep on error"]))
        if route == "hint 0":
            call.receive_response(Response(503, headers={"retry-after": "0"}), now=clock.tick())
        elif route == "sleep on status":
            call.receive_response(Response(503), now=clock.tick())
            assert call.state is S.READY_TO_SLEEP
            sleep = call.next_event()
            assert isinstance(sleep, Sleep)
            clock.tick(sleep.seconds)
        else:
            call.receive_error(ConnectError(), now=clock.tick())
            assert isinstance(call.next_event(), Sleep)
        assert call.state is S.READY_TO_SEND
    return call


def reach_awaiting(data: st.DataObject, clock: Clock) -> Call:
    call = reach_ready_to_send(data, clock)
    assert isinstance(call.next_event(), SendRequest)
    return call


def reach_ready_to_sleep(data: st.DataObject, clock: Clock) -> Call:
    call = reach_awaiting(data, clock)
    if data.draw(st.booleans(), label="by status"):
        status = data.draw(st.sampled_from([503, 502, 429]))
        call.receive_response(Response(status), now=clock.tick())
    else:
        kind = data.draw(st.sampled_from([ConnectError, ConnectTimeout, PoolTimeout]))
        call.receive_error(kind(), now=clock.tick())
    return call


def reach_succeeded(data: st.DataObject, clock: Clock) -> Call:
    call = reach_awaiting(data, clock)
    call.receive_response(Response(data.draw(st.integers(100, 399))), now=clock.tick())
    return call


def reach_failing(data: st.DataObject, clock: Clock) -> Call:
    call = reach_awaiting(data, clock)
    route = data.draw(st.sampled_from(["4xx", "refused", "error"]), label="failing route")
    if route == "4xx":
        status = data.draw(st.sampled_from([400, 401, 403, 404, 410, 422]))
        call.receive_response(Response(status), now=clock.tick())
    elif route == "refused":
        refused = Response(503, headers={"x-should-retry": "false"})
        call.receive_response(refused, now=clock.tick())
    else:
        kind = data.draw(st.sampled_from([DeadlineExceeded, ResponseTooLargeError, APIError]))
        call.receive_error(make_error(kind), now=clock.tick())
    return call


def reach_done(data: st.DataObject, clock: Clock) -> Call:
    route = data.draw(st.sampled_from(["completed", "failed", "no time"]), label="done route")
    if route == "no time":
        call = new_call(data, clock, total=0.0)
        event = call.next_event()
        assert isinstance(event, Failed)
        assert isinstance(event.error, DeadlineExceeded)
        return call
    call = reach_succeeded(data, clock) if route == "completed" else reach_failing(data, clock)
    call.next_event()
    return call


ILLEGAL = [pair for pair in ((s, i) for s in S for i in I) if pair not in TRANSITIONS]


def reach_error(data: st.DataObject, clock: Clock) -> Call:
    state, inp = data.draw(
        st.sampled_from([p for p in ILLEGAL if p[0] is not S.ERROR]), label="illegal"
    )
    call = REACH[state](data, clock)
    with pytest.raises(CallStateError):
        apply(call, inp, data, clock)
    return call


REACH: dict[CallState, Callable[[st.DataObject, Clock], Call]] = {
    S.READY_TO_SEND: reach_ready_to_send,
    S.AWAITING_OUTCOME: reach_awaiting,
    S.READY_TO_SLEEP: reach_ready_to_sleep,
    S.SUCCEEDED: reach_succeeded,
    S.FAILING: reach_failing,
    S.DONE: reach_done,
    S.ERROR: reach_error,
}


def apply(call: Call, inp: CallInput, data: st.DataObject, clock: Clock) -> object:
    if inp is I.NEXT_EVENT:
        return call.next_event()
    if inp is I.RECEIVE_RESPONSE:
        return call.receive_response(data.draw(responses()), now=clock.tick())
    return call.receive_error(data.draw(ERRORS), now=clock.tick())


def test_reach_covers_every_state() -> None:
    assert set(REACH) == set(CallState)


@pytest.mark.parametrize("inp", list(CallInput), ids=lambda i: i.name)
@pytest.mark.parametrize("state", list(CallState), ids=lambda s: s.name)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_every_state_input_pair(state: CallState, inp: CallInput, data: st.DataObject) -> None:
    clock = Clock()
    call = REACH[state](data, clock)
    assert call.state is state
    allowed = TRANSITIONS.get((state, inp))
    if allowed is not None:
        result = apply(call, inp, data, clock)
        assert call.state in allowed
        if inp is I.NEXT_EVENT:
            if state is S.READY_TO_SEND:
                expected = SendRequest if call.state is S.AWAITING_OUTCOME else Failed
            else:
                expected = {S.READY_TO_SLEEP: Sleep, S.SUCCEEDED: Completed}.get(state, Failed)
            assert isinstance(result, expected)
        else:
            assert result is None
        return
    attempts = call.attempts
    with pytest.raises(CallStateError) as info:
        apply(call, inp, data, clock)
    assert call.state is S.ERROR
    if state is not S.ERROR:
        assert inp.value in str(info.value)
        assert state.value in str(info.value)
    for further in data.draw(st.permutations(list(CallInput)), label="further inputs"):
        with pytest.raises(CallStateError):
            apply(call, further, data, clock)
        assert call.state is S.ERROR
    assert call.attempts == attempts


def test_table_shape() -> None:
    assert all(targets for targets in TRANSITIONS.values())
    assert all(S.ERROR not in targets for targets in TRANSITIONS.values())
    # DONE and ERROR are terminal: nothing leaves them.
    assert not [key for key in TRANSITIONS if key[0] in (S.DONE, S.ERROR)]
    # Only next_event moves a call that is not awaiting an outcome.
    for state, inp in TRANSITIONS:
        assert (inp is I.NEXT_EVENT) == (state is not S.AWAITING_OUTCOME)


def _scenario(
    *,
    policy: RetryPolicy | None = None,
    total: float | None = None,
    outcome: Response | APIError | None = None,
) -> Call:
    options = CallOptions(retry=policy or RetryPolicy(), timeout=Timeout(total=total))
    call = Call(Request("GET", URL), options, now=0.0, rng=random.Random(7))
    if outcome is not None:
        call.next_event()
        if isinstance(outcome, Response):
            call.receive_response(outcome, now=1.0)
        else:
            call.receive_error(outcome, now=1.0)
    return call


def _then_next(call: Call) -> Call:
    call.next_event()
    return call


#: One concrete run for every (state, input) -> target in the table: no edge is dead.
EDGES: dict[tuple[CallState, CallInput, CallState], Callable[[], Call]] = {
    (S.READY_TO_SEND, I.NEXT_EVENT, S.AWAITING_OUTCOME): lambda: _then_next(_scenario()),
    (S.READY_TO_SEND, I.NEXT_EVENT, S.DONE): lambda: _then_next(_scenario(total=0.0)),
    (S.AWAITING_OUTCOME, I.RECEIVE_RESPONSE, S.READY_TO_SEND): lambda: _scenario(
        outcome=Response(503, headers={"retry-after-ms": "0"})
    ),
    (S.AWAITING_OUTCOME, I.RECEIVE_RESPONSE, S.READY_TO_SLEEP): lambda: _scenario(
        outcome=Response(503)
    ),
    (S.AWAITING_OUTCOME, I.RECEIVE_RESPONSE, S.SUCCEEDED): lambda: _scenario(outcome=Response(200)),
    (S.AWAITING_OUTCOME, I.RECEIVE_RESPONSE, S.FAILING): lambda: _scenario(outcome=Response(404)),
    (S.AWAITING_OUTCOME, I.RECEIVE_ERROR, S.READY_TO_SEND): lambda: _scenario(
        policy=RetryPolicy(initial_delay=0.0), outcome=ConnectError()
    ),
    (S.AWAITING_OUTCOME, I.RECEIVE_ERROR, S.READY_TO_SLEEP): lambda: _scenario(outcome=ReadError()),
    (S.AWAITING_OUTCOME, I.RECEIVE_ERROR, S.FAILING): lambda: _scenario(
        policy=RetryPolicy(max_retries=0), outcome=ReadError()
    ),
    (S.READY_TO_SLEEP, I.NEXT_EVENT, S.READY_TO_SEND): lambda: _then_next(
        _scenario(outcome=Response(503))
    ),
    (S.SUCCEEDED, I.NEXT_EVENT, S.DONE): lambda: _then_next(_scenario(outcome=Response(204))),
    (S.FAILING, I.NEXT_EVENT, S.DONE): lambda: _then_next(_scenario(outcome=Response(400))),
}


def test_every_edge_of_the_table_is_taken() -> None:
    table_edges = {(s, i, t) for (s, i), targets in TRANSITIONS.items() for t in targets}
    assert table_edges == set(EDGES)
    for (_, _, target), run in EDGES.items():
        assert run().state is target


def test_an_error_never_completes_a_call() -> None:
    assert S.SUCCEEDED not in TRANSITIONS[(S.AWAITING_OUTCOME, I.RECEIVE_ERROR)]


def test_receive_error_refuses_a_foreign_exception() -> None:
    call = _then_next(_scenario())
    with pytest.raises(CallStateError):
        call.receive_error(OSError("not translated"), now=1.0)  # type: ignore[arg-type]
    assert call.state is S.ERROR


def test_the_table_is_what_the_call_obeys(monkeypatch: pytest.MonkeyPatch) -> None:
    # If the table stops allowing a move the code wants to make, the call refuses it
    # rather than landing in a state the table (and the generated diagram) never shows.
    monkeypatch.setitem(
        TRANSITIONS, (S.AWAITING_OUTCOME, I.RECEIVE_RESPONSE), frozenset({S.FAILING})
    )
    call = _then_next(_scenario())
    with pytest.raises(CallStateError):
        call.receive_response(Response(200), now=1.0)
    assert call.state is S.ERROR


def test_response_is_tied_to_the_call() -> None:
    call = _then_next(_scenario())
    response = Response(200, headers={"x-request-id": "r1"})
    call.receive_response(response, now=1.0)
    event = call.next_event()
    assert isinstance(event, Completed)
    assert event.response is response
    assert response.request is call.request
    assert response.attempts == 1
    # A response that already names its request keeps it.
    other = Request("GET", "https://elsewhere.example/")
    call = _then_next(_scenario())
    kept = Response(200, request=other)
    call.receive_response(kept, now=1.0)
    assert kept.request is other


def test_an_error_is_tied_to_the_call_unless_it_names_its_request() -> None:
    call = _then_next(_scenario())
    bare = ReadError()
    call.receive_error(bare, now=1.0)
    assert bare.request is call.request
    call = _then_next(_scenario())
    other = Request("GET", "https://elsewhere.example/")
    named = ReadError(request=other)
    call.receive_error(named, now=1.0)
    assert named.request is other


def test_decisions_are_recorded_in_order() -> None:
    clock = Clock()
    call = Call(Request("GET", URL), now=clock.now, rng=random.Random(1))
    call.next_event()
    call.receive_response(Response(503), now=clock.tick())
    call.next_event()
    call.next_event()
    call.receive_error(ReadError(), now=clock.tick())
    call.next_event()
    call.next_event()
    call.receive_response(Response(503), now=clock.tick())
    reasons = [d.reason for d in call.decisions]
    assert reasons == [
        RetryReason.RETRYABLE_STATUS,
        RetryReason.CONNECTION_FAILED,
        RetryReason.RETRIES_EXHAUSTED,
    ]
    assert [d.retry for d in call.decisions] == [True, True, False]
    failed = call.next_event()
    assert isinstance(failed, Failed)
    assert failed.error.attempts == 3


# ---------------------------------------------------------------------------------------
# A random walk over any inputs, legal or not


class CallWalk(RuleBasedStateMachine):
    """Feed a call arbitrary inputs; it follows TRANSITIONS or breaks for good."""

    @initialize(
        max_retries=st.integers(0, 3),
        total=st.none() | st.floats(0, 30),
        seed=st.integers(0, 2**16),
        method=st.sampled_from(["GET", "POST", "PATCH"]),
    )
    def start(self, max_retries: int, total: float | None, seed: int, method: str) -> None:
        self.clock = Clock(100.0)
        self.max_retries = max_retries
        self.budget = RetryBudget(capacity=20)
        options = CallOptions(
            retry=RetryPolicy(max_retries=max_retries), timeout=Timeout(total=total)
        )
        self.call = Call(
            Request(method, URL, content=b"{}"),
            options,
            now=self.clock.now,
            rng=random.Random(seed),
            budget=self.budget,
        )
        self.broken = False
        self.reports = 0

    def _step(self, inp: CallInput, action: Callable[[], object]) -> None:
        before = self.call.state
        allowed = TRANSITIONS.get((before, inp))
        if allowed is None:
            with pytest.raises(CallStateError):
                action()
            self.broken = True
        else:
            action()
            assert self.call.state in allowed
            if inp is not I.NEXT_EVENT:
                self.reports += 1

    @rule()
    def next_event(self) -> None:
        self._step(I.NEXT_EVENT, self.call.next_event)

    @rule(response=responses(), elapsed=st.floats(0, 5))
    def receive_response(self, response: Response, elapsed: float) -> None:
        now = self.clock.tick(elapsed)
        self._step(I.RECEIVE_RESPONSE, lambda: self.call.receive_response(response, now=now))

    @rule(error=ERRORS, elapsed=st.floats(0, 5))
    def receive_error(self, error: APIError, elapsed: float) -> None:
        now = self.clock.tick(elapsed)
        self._step(I.RECEIVE_ERROR, lambda: self.call.receive_error(error, now=now))

    @invariant()
    def consistent(self) -> None:
        if self.broken:
            assert self.call.state is S.ERROR
        else:
            assert self.call.state is not S.ERROR
        assert self.call.attempts <= self.max_retries + 1
        assert len(self.call.decisions) == self.reports
        assert 0 <= self.budget.tokens <= self.budget.capacity


CallWalk.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
test_call_walk = CallWalk.TestCase
