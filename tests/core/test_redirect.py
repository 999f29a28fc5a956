"""Redirects: the pure decision (``redirect_request``) for every status, method and body,
and how ``Call`` follows it within its limits (loops, attempts, retries, the deadline)."""

from __future__ import annotations

import random

import pytest
from _redirect_helpers import CREDENTIALS, METHODS, STATUSES, URL, make_request, redirect

from sdk_core import (
    TRANSITIONS,
    APIError,
    Call,
    CallInput,
    CallOptions,
    CallState,
    CallStateError,
    Completed,
    DeadlineExceeded,
    Failed,
    NotFoundError,
    RedirectDecision,
    RedirectError,
    RedirectReason,
    Request,
    Response,
    RetryBudget,
    RetryPolicy,
    SendRequest,
    Sleep,
    Timeout,
    TooManyRedirects,
    redirect_request,
)

BODY_HEADERS = ("Content-Length", "Content-Type", "Transfer-Encoding")


# ---------------------------------------------------------------------------------------
# The decision: every status x method x replayable body


@pytest.mark.parametrize("replayable", [True, False], ids=["bytes", "stream"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("status", STATUSES)
def test_status_method_body_matrix(status: int, method: str, replayable: bool) -> None:
    request = make_request(method, replayable=replayable)
    decision = redirect_request(request, redirect(status, "/v2/things"))
    assert decision is not None
    assert decision.location == "/v2/things"
    assert not decision.cross_origin
    as_get = status == 303 or (status in (301, 302) and method == "POST")
    if as_get:
        assert decision.reason is RedirectReason.FOLLOWED_AS_GET
        new = decision.request
        assert new is not None
        assert new.method == ("HEAD" if method == "HEAD" else "GET")
        assert new.content == b""
        for name in BODY_HEADERS:
            assert name not in new.headers
    elif replayable:
        assert decision.reason is RedirectReason.FOLLOWED
        new = decision.request
        assert new is not None
        assert new.method == method
        assert new.content == request.content
        assert new.headers == request.headers
    else:
        assert decision.reason is RedirectReason.BODY_NOT_REPLAYABLE
        assert decision.request is None
        assert not decision.follow
        assert method in decision.message
        return
    assert decision.follow
    assert str(new.url) == "https://api.example.com/v2/things"
    # Same origin: every credential and the other headers stay.
    for name, value in CREDENTIALS.items():
        assert new.headers[name] == value
    assert new.headers["X-Trace"] == "t-1"


@pytest.mark.parametrize("replayable", [True, False], ids=["bytes", "stream"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("status", STATUSES)
def test_the_call_follows_the_matrix(status: int, method: str, replayable: bool) -> None:
    options = CallOptions(retry=RetryPolicy(max_retries=0))
    call = Call(make_request(method, replayable=replayable), options, now=0.0, rng=random.Random(0))
    first = call.next_event()
    assert isinstance(first, SendRequest)
    response = redirect(status, "https://api.example.com/elsewhere")
    call.receive_response(response, now=0.1)
    (decision,) = call.decisions
    assert isinstance(decision, RedirectDecision)
    if decision.follow:
        assert call.state is CallState.READY_TO_SEND
        hop = call.next_event()
        assert isinstance(hop, SendRequest)
        assert hop.request is decision.request
        assert hop.request.url.target == "/elsewhere"
        assert call.request is hop.request
        assert call.attempts == 1
        assert call.redirects == 1
        final = Response(200)
        call.receive_response(final, now=0.2)
        done = call.next_event()
        assert isinstance(done, Completed)
        assert done.response is final
        assert final.redirects == 1
        assert final.attempts == 1
        assert final.request is hop.request
    else:
        assert call.state is CallState.FAILING
        failed = call.next_event()
        assert isinstance(failed, Failed)
        error = failed.error
        assert type(error) is RedirectError
        assert error.response is response
        assert error.status_code == status
        assert error.location == "https://api.example.com/elsewhere"
        assert error.attempts == 1
        assert error.request is first.request
        assert "one-shot stream" in str(error)
        assert call.redirects == 0


def test_303_after_head_stays_head() -> None:
    decision = redirect_request(Request("HEAD", URL), redirect(303, "/x"))
    assert decision is not None
    assert decision.request is not None
    assert decision.request.method == "HEAD"


def test_307_post_keeps_body_and_idempotency_key() -> None:
    request = Request("POST", URL, headers={"Idempotency-Key": "k-9"}, content=b"payload")
    decision = redirect_request(request, redirect(307, "/v1/other"))
    assert decision is not None
    new = decision.request
    assert new is not None
    assert (new.method, new.content) == ("POST", b"payload")
    assert new.headers["Content-Length"] == "7"
    assert new.headers["Idempotency-Key"] == "k-9"


# ---------------------------------------------------------------------------------------
# Limits, loops, attempts, retries and the deadline


@pytest.mark.parametrize("max_redirects", [1, 2, 5])
def test_a_loop_ends_at_max_redirects(max_redirects: int) -> None:
    options = CallOptions(max_redirects=max_redirects)
    call = Call(Request("GET", URL), options, now=0.0, rng=random.Random(0))
    sends = 0
    last: Response | None = None
    while True:
        event = call.next_event()
        if isinstance(event, SendRequest):
            sends += 1
            last = redirect(302, str(event.request.url))  # redirect to itself
            call.receive_response(last, now=0.0)
        else:
            break
    assert isinstance(event, Failed)
    error = event.error
    assert isinstance(error, TooManyRedirects)
    assert isinstance(error, RedirectError)
    assert error.response is last
    assert error.response.redirects == max_redirects
    assert error.attempts == 1
    assert sends == max_redirects + 1
    assert call.redirects == max_redirects
    assert f"max_redirects={max_redirects}" in str(error)
    reasons = [d.reason for d in call.decisions]
    assert reasons == [RedirectReason.FOLLOWED] * max_redirects + [
        RedirectReason.TOO_MANY_REDIRECTS
    ]


def test_the_default_limit_is_five() -> None:
    assert CallOptions().max_redirects == 5
    request = Request("GET", URL)
    assert redirect_request(request, redirect(302, "/x"), redirects=4) is not None
    decision = redirect_request(request, redirect(302, "/x"), redirects=5)
    assert decision is not None
    assert decision.reason is RedirectReason.TOO_MANY_REDIRECTS


def test_the_limit_comes_before_the_location() -> None:
    decision = redirect_request(
        Request("GET", URL), redirect(302, "ftp://x/"), redirects=2, max_redirects=2
    )
    assert decision is not None
    assert decision.reason is RedirectReason.TOO_MANY_REDIRECTS


def test_a_chain_within_the_limit_completes() -> None:
    call = Call(Request("GET", URL), CallOptions(max_redirects=3), now=0.0, rng=random.Random(0))
    urls = []
    for location in ("/1", "/2", "https://other.example/3"):
        event = call.next_event()
        assert isinstance(event, SendRequest)
        urls.append(str(event.request.url))
        call.receive_response(redirect(301, location), now=0.0)
    event = call.next_event()
    assert isinstance(event, SendRequest)
    urls.append(str(event.request.url))
    final = Response(200, content=b"{}")
    call.receive_response(final, now=0.0)
    done = call.next_event()
    assert isinstance(done, Completed)
    assert urls == [
        URL,
        "https://api.example.com/1",
        "https://api.example.com/2",
        "https://other.example/3",
    ]
    assert (final.redirects, final.attempts, call.redirects, call.attempts) == (3, 1, 3, 1)


def test_redirects_are_not_retries_and_leave_the_budget_alone() -> None:
    # max_retries=0 still follows redirects; a retry after a redirect resends the new URL.
    budget = RetryBudget(capacity=20)
    options = CallOptions(retry=RetryPolicy(max_retries=1, initial_delay=0.0))
    call = Call(Request("GET", URL), options, now=0.0, rng=random.Random(0), budget=budget)
    sent = []
    script = [redirect(302, "/moved"), Response(503), redirect(307, "/final"), Response(200)]
    for response in script:
        event = call.next_event()
        while isinstance(event, Sleep):
            event = call.next_event()
        assert isinstance(event, SendRequest)
        sent.append((event.request.url.target, call.attempts))
        call.receive_response(response, now=0.0)
        if response.status_code < 300:
            break
    done = call.next_event()
    assert isinstance(done, Completed)
    assert sent == [("/v1/things?page=2", 1), ("/moved", 1), ("/moved", 2), ("/final", 2)]
    assert (done.response.attempts, done.response.redirects) == (2, 2)
    # One retry (5 tokens) and one success (1 back): redirects took nothing.
    assert budget.tokens == 20 - 5 + 1
    kinds = [type(d).__name__ for d in call.decisions]
    assert kinds == ["RedirectDecision", "RetryDecision", "RedirectDecision", "RetryDecision"]


def test_zero_retries_still_follows() -> None:
    options = CallOptions(max_retries=0)
    call = Call(Request("POST", URL, content=b"x"), options, now=0.0, rng=random.Random(0))
    call.next_event()
    call.receive_response(redirect(303, "/result"), now=0.0)
    hop = call.next_event()
    assert isinstance(hop, SendRequest)
    assert (hop.request.method, hop.request.content) == ("GET", b"")
    call.receive_response(Response(200), now=0.0)
    assert isinstance(call.next_event(), Completed)


def test_an_error_after_a_redirect_carries_the_count() -> None:
    call = Call(Request("GET", URL), now=0.0, rng=random.Random(0))
    call.next_event()
    call.receive_response(redirect(302, "/gone"), now=0.0)
    call.next_event()
    missing = Response(404)
    call.receive_response(missing, now=0.0)
    failed = call.next_event()
    assert isinstance(failed, Failed)
    assert isinstance(failed.error, NotFoundError)
    assert failed.error.attempts == 1
    assert failed.error.response.redirects == 1
    assert failed.error.request is not None
    assert failed.error.request.url.target == "/gone"


def test_the_deadline_bounds_redirects() -> None:
    options = CallOptions(timeout=Timeout(5.0, total=1.0))
    call = Call(Request("GET", URL), options, now=10.0, rng=random.Random(0))
    call.next_event()
    call.receive_response(redirect(302, "/a"), now=10.4)
    hop = call.next_event()
    assert isinstance(hop, SendRequest)
    assert hop.timeout.read is not None
    assert hop.timeout.read == pytest.approx(0.6)
    call.receive_response(redirect(302, "/b"), now=11.0)
    failed = call.next_event()
    assert isinstance(failed, Failed)
    assert isinstance(failed.error, DeadlineExceeded)
    assert failed.error.attempts == 1
    assert failed.error.request is not None
    assert failed.error.request.url.target == "/b"
    assert call.state is CallState.DONE


def test_a_redirect_obeys_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    key = (CallState.AWAITING_OUTCOME, CallInput.RECEIVE_RESPONSE)
    monkeypatch.setitem(TRANSITIONS, key, TRANSITIONS[key] - {CallState.READY_TO_SEND})
    call = Call(Request("GET", URL), now=0.0, rng=random.Random(0))
    call.next_event()
    with pytest.raises(CallStateError):
        call.receive_response(redirect(302, "/x"), now=0.0)
    assert call.state is CallState.ERROR


def test_the_error_classes() -> None:
    assert issubclass(TooManyRedirects, RedirectError)
    assert issubclass(RedirectError, APIError)
    response = redirect(302, "/x")
    error = TooManyRedirects("too many", response=response, location="/x")
    assert (error.response, error.status_code, error.location) == (response, 302, "/x")
    assert error.attempts == 0
