"""What ``str(error)`` tells a user: no class name repeated, the request (method and
redacted URL) and the attempts for connection, status and too-large errors, the advice of
the status table, and one ``DeadlineExceeded`` message wherever the deadline passed.

Pure: no network, no async. The transports' real errors are walked in
``tests/clients/test_error_messages_live.py``.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sdk_core
from sdk_core import (
    STATUS_ERRORS,
    STATUS_RULES,
    APIConnectionError,
    APIError,
    APIStatusError,
    Call,
    CallOptions,
    ConnectError,
    DeadlineExceeded,
    Failed,
    PaginationError,
    RateLimitError,
    ReadTimeout,
    Request,
    Response,
    ResponseTooLargeError,
    SendRequest,
    Sleep,
    StatusRule,
    Timeout,
    deadline_exceeded,
    status_advice,
    status_error,
)

SECRET = "zQ-s3cr3t-query-value"
URL = f"https://api.example.com/v1/items?key={SECRET}&page=2"
SHOWN = "GET https://api.example.com/v1/items?key=[redacted]&page=2"

CONNECTION_ERRORS = [
    cls
    for cls in vars(sdk_core).values()
    if isinstance(cls, type) and issubclass(cls, APIConnectionError)
]


def request(url: str = URL, **headers: str) -> Request:
    return Request("GET", url, headers=headers)


# -- connection errors ------------------------------------------------------------------


@pytest.mark.parametrize("cls", CONNECTION_ERRORS, ids=lambda cls: cls.__name__)
def test_a_connection_error_names_the_request_and_the_attempts(
    cls: type[APIConnectionError],
) -> None:
    error = cls("no data for 0.3 s.", request=request())
    assert error.message == "no data for 0.3 s."  # the bare message
    assert str(error) == f"no data for 0.3 s. ({SHOWN})"  # no attempt made yet
    error.attempts = 1  # the client sets it after the error is made
    assert str(error) == f"no data for 0.3 s. ({SHOWN}, 1 attempt)"
    error.attempts = 3
    assert str(error) == f"no data for 0.3 s. ({SHOWN}, 3 attempts)"
    assert not str(error).startswith(cls.__name__)
    assert SECRET not in str(error)


def test_without_a_request_only_the_message_shows() -> None:
    error = ReadTimeout("no data for 0.3 s.")
    error.attempts = 2
    assert str(error) == "no data for 0.3 s."
    assert str(APIError("went wrong")) == "went wrong"


def test_the_url_is_redacted_by_the_requests_policy() -> None:
    policy = Request("GET", URL).headers.redaction.extended(loggable_query_params=["key"])
    shown = Request("GET", URL, headers=sdk_core.Headers().with_redaction(policy))
    assert f"key={SECRET}" in str(ConnectError("refused.", request=shown))
    hidden = Request("GET", f"https://api.example.com/v1?sig={SECRET}#{SECRET}")
    assert str(ConnectError("refused.", request=hidden)) == (
        "refused. (GET https://api.example.com/v1?sig=[redacted])"
    )


def test_a_too_large_body_names_the_request_and_other_errors_keep_their_message() -> None:
    too_large = ResponseTooLargeError("too big.", request=request())
    too_large.attempts = 1
    assert str(too_large) == f"too big. ({SHOWN}, 1 attempt)"
    paging = PaginationError("not a page.", response=Response(200, request=request()))
    assert str(paging) == "not a page."


@given(st.text(min_size=1, max_size=30))
def test_str_always_starts_with_the_message(message: str) -> None:
    for cls in CONNECTION_ERRORS:
        assert str(cls(message, request=request())).startswith(message)


# -- status errors ----------------------------------------------------------------------


def test_the_status_table_is_the_one_home_of_classes_and_advice() -> None:
    assert {
        status: rule.error
        for status, rule in STATUS_RULES.items()
        if rule.error is not APIStatusError
    } == STATUS_ERRORS
    for status in range(400, 600):
        rule = STATUS_RULES.get(status)
        if rule is not None:
            assert sdk_core.error_class_for(status) is rule.error
    assert STATUS_RULES[400] == StatusRule(sdk_core.BadRequestError)  # no advice
    # One table, read-only: an edit elsewhere cannot change every error's str().
    with pytest.raises(TypeError):
        STATUS_RULES[400] = StatusRule(sdk_core.APIStatusError)  # type: ignore[index]
    with pytest.raises(TypeError):
        sdk_core.STATUS_ERRORS[404] = sdk_core.APIStatusError  # type: ignore[index]
    assert all(status not in STATUS_ERRORS for status in (405, 408, 413, 414, 415, 431))


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        (401, "Check the API key: it is missing, wrong, expired or revoked."),
        (403, "The credentials were accepted but lack permission"),
        (404, "Check the path and any id in it"),
        (405, "This path does not accept this HTTP method."),
        (413, "The request body is too large for the server: send less."),
        (429, "Rate limited: slow down, then retry."),
        (503, "The server failed."),
    ],
)
def test_a_status_error_says_what_to_do(status: int, advice: str) -> None:
    key = "zQ-the-api-key-itself"
    refused = Request("GET", URL, headers={"Authorization": f"Bearer {key}"})
    body = f'{{"error": {{"message": "Incorrect API key provided: {key}"}}}}'
    error = status_error(Response(status, content=body.encode(), request=refused))
    text = str(error)
    assert text.startswith(f"Error code: {status} - Incorrect API key provided: [redacted]. ")
    assert advice in text
    assert text.endswith(f" ({SHOWN})")
    assert key not in text
    assert SECRET not in text


def test_no_advice_where_the_server_says_it_all() -> None:
    for status in (400, 418, 422):
        error = status_error(Response(status))
        assert status_advice(error) is None
        assert str(error) == error.message


def test_429_tells_the_wait_when_the_server_gave_one() -> None:
    error = status_error(Response(429, request=request()), retry_after=20.0)
    assert isinstance(error, RateLimitError)
    error.attempts = 1
    assert str(error) == (
        f"Error code: 429 - Too Many Requests. Rate limited: retry after 20 s. ({SHOWN}, 1 attempt)"
    )
    assert "retry after 1.5 s." in str(status_error(Response(429), retry_after=1.5))


def test_5xx_tells_the_retries_made() -> None:
    error = status_error(Response(503, content=b"upstream down"))
    assert str(error) == "Error code: 503 - upstream down. The server failed."
    error.attempts = 1
    assert str(error).endswith("The server failed; not retried.")
    error.attempts = 2
    assert str(error).endswith("The server failed; retried 1 time.")
    error.attempts = 3
    error.retry_after = 2.0
    assert str(error).endswith("The server failed; retried 2 times; it asked for a wait of 2 s.")


def test_a_message_ending_a_sentence_is_not_given_another_full_stop() -> None:
    error = status_error(Response(404, content=b'{"error": {"message": "No such item!"}}'))
    assert str(error).startswith("Error code: 404 - No such item! Check the path")


def test_a_failed_call_shows_the_attempts_it_made() -> None:
    call = Call(request(), CallOptions(), now=0.0, rng=random.Random(0))
    for _ in range(3):
        assert isinstance(call.next_event(), SendRequest)
        call.receive_response(Response(503), now=0.0)
        if len(call.decisions) < 3:
            assert isinstance(call.next_event(), Sleep)
    failed = call.next_event()
    assert isinstance(failed, Failed)
    assert isinstance(failed.error, APIStatusError)
    assert str(failed.error) == (
        "Error code: 503 - Service Unavailable. The server failed; retried 2 times."
        f" ({SHOWN}, 3 attempts)"
    )


# -- DeadlineExceeded -------------------------------------------------------------------


def test_deadline_exceeded_is_built_in_one_place() -> None:
    error = deadline_exceeded(request(), 2.5, attempts=2, request_sent=False)
    assert isinstance(error, DeadlineExceeded)
    assert (error.attempts, error.request_sent) == (2, False)
    assert error.message == "the call's total timeout of 2.5 s ran out."
    assert str(error) == f"the call's total timeout of 2.5 s ran out. ({SHOWN}, 2 attempts)"
    assert deadline_exceeded(None, 1.0).request_sent is True  # may have been sent
    assert str(deadline_exceeded(None, 1.0)) == "the call's total timeout of 1.0 s ran out."


def test_the_call_words_its_deadline_the_same_before_and_during_an_attempt() -> None:
    # Before an attempt could start: no time at all.
    before = Call(request(), CallOptions(timeout=Timeout(total=0.0)), now=0.0, rng=random.Random(0))
    failed = before.next_event()
    assert isinstance(failed, Failed)
    assert isinstance(failed.error, DeadlineExceeded)
    assert str(failed.error) == f"the call's total timeout of 0.0 s ran out. ({SHOWN})"
    assert failed.error.request_sent is False
    # During an attempt: the attempt's capped timeout fired at the deadline.
    options = CallOptions(timeout=Timeout(total=2.0))
    during = Call(request(), options, now=0.0, rng=random.Random(0))
    during.next_event()
    during.receive_error(ReadTimeout("no data for 2.0 s."), now=2.0)
    cut = during.next_event()
    assert isinstance(cut, Failed)
    assert isinstance(cut.error, DeadlineExceeded)
    assert cut.error.message == "the call's total timeout of 2.0 s ran out."
    assert str(cut.error) == f"the call's total timeout of 2.0 s ran out. ({SHOWN}, 1 attempt)"
    assert isinstance(cut.error.__cause__, ReadTimeout)  # the detail stays in the chain
