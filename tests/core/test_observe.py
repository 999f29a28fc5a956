"""``attempt_record``: the action from the call's state and decision, and nothing the
request's redaction policy hides."""

from __future__ import annotations

from sdk_core import (
    AttemptRecord,
    ReadTimeout,
    RedirectDecision,
    RedirectReason,
    Request,
    Response,
    RetryDecision,
    RetryReason,
)
from sdk_core._call import FAILING, READY_TO_SEND, READY_TO_SLEEP, SUCCEEDED
from sdk_core.lowlevel import DEFAULT_REDACTION, attempt_record

SECRET = "tok-secret-value"


def request(url: str = "https://api.test/v1/x?token=abc&page=2") -> Request:
    headers = {"Authorization": f"Bearer {SECRET}", "Accept": "application/json"}
    return Request("GET", url, headers=headers)


def response(status: int, **headers: str) -> Response:
    return Response(status, headers=headers, request=request())


def retry(delay: float = 0.5) -> RetryDecision:
    return RetryDecision(True, delay, RetryReason.RETRYABLE_STATUS)


def stop(reason: RetryReason) -> RetryDecision:
    return RetryDecision(False, 0.0, reason)


def check_hidden(record: AttemptRecord) -> None:
    assert SECRET not in repr(record)
    assert "abc" not in repr(record)


def test_success_returns() -> None:
    req = request()
    got = response(200, **{"x-request-id": "req_1"})
    record = attempt_record(req, 1, got, stop(RetryReason.SUCCEEDED), SUCCEEDED, elapsed=0.5)
    assert (record.action, record.outcome, record.status_code) == ("return", "200", 200)
    assert record.request_id == "req_1"
    assert record.delay is None
    assert record.redirect_to is None
    assert record.url == "https://api.test/v1/x?token=[redacted]&page=2"
    assert ("Authorization", "[redacted]") in record.headers
    assert record.elapsed == 0.5
    check_hidden(record)


def test_a_retry_carries_its_delay() -> None:
    record = attempt_record(request(), 1, response(503), retry(0.75), READY_TO_SLEEP, elapsed=0)
    assert (record.action, record.delay, record.request_id) == ("retry", 0.75, None)
    assert record.reason == "the status is retryable"


def test_an_error_is_named_by_its_class() -> None:
    error = ReadTimeout(f"{SECRET}")
    record = attempt_record(request(), 2, error, retry(0.0), READY_TO_SEND, elapsed=1.0)
    assert (record.action, record.outcome, record.status_code) == ("retry", "ReadTimeout", None)
    last = attempt_record(
        request(), 3, error, stop(RetryReason.RETRIES_EXHAUSTED), FAILING, elapsed=1.0
    )
    assert last.action == "raise"
    check_hidden(last)


def test_a_followed_redirect_names_its_target_redacted() -> None:
    target = request("https://api.test/v2/y?token=abc")
    decision = RedirectDecision(RedirectReason.FOLLOWED, "/v2/y?token=abc", target)
    record = attempt_record(request(), 1, response(307), decision, READY_TO_SEND, elapsed=0)
    assert record.action == "redirect"
    assert record.redirect_to == "https://api.test/v2/y?token=[redacted]"
    refused = RedirectDecision(RedirectReason.INVALID_LOCATION, "ftp://x")
    record = attempt_record(request(), 1, response(302), refused, FAILING, elapsed=0)
    assert (record.action, record.redirect_to) == ("raise", None)


def test_a_request_id_in_a_sensitive_header_is_redacted() -> None:
    policy = DEFAULT_REDACTION.extended(sensitive_headers=["x-request-id"])
    req = Request("GET", "https://api.test/", headers={"Accept": "*/*"})
    req.headers = req.headers.with_redaction(policy)
    got = Response(400, headers={"x-request-id": SECRET}, request=req)
    decision = stop(RetryReason.STATUS_NOT_RETRYABLE)
    record = attempt_record(req, 1, got, decision, FAILING, elapsed=0)
    assert record.request_id == "[redacted]"
    check_hidden(record)
