"""``AttemptRecord``: what one attempt of a call did, with every secret left out.

Clients hand one to each of their ``hooks`` after every attempt (a followed redirect
included), for metrics, tracing or audit logs. It holds text only, built under the
client's redaction policy: the URL's query shows only allowlisted parameters, header
values only for allowlisted names, and no error message (only the error's class), so
nothing a hook stores or exports can carry an API key, a token or a password.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._call import SUCCEEDED, CallState
from ._errors import APIError
from ._models import Request, Response
from ._redirect import RedirectDecision
from ._retry import RetryDecision

__all__ = ["AttemptRecord", "attempt_record"]


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt and what the call decided after it.

    ``outcome`` is the status code as text ("503") or the error's class name
    ("ReadTimeout"); ``action`` is "return" (the call ends with this response),
    "retry" (after ``delay`` seconds), "redirect" (to ``redirect_to``, redacted) or
    "raise" (the call ends with an error); ``reason`` is the decision's reason.
    ``elapsed`` is the attempt's time on the client's clock, in seconds.
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    attempt: int
    outcome: str
    status_code: int | None
    request_id: str | None
    action: str
    reason: str
    delay: float | None
    redirect_to: str | None
    elapsed: float


def attempt_record(
    request: Request,
    attempt: int,
    result: Response | APIError,
    decision: RetryDecision | RedirectDecision,
    state: CallState,
    *,
    elapsed: float,
) -> AttemptRecord:
    """The record of ``request``'s attempt that got ``result`` and led to ``decision``,
    leaving the call in ``state``. Raises nothing."""
    redaction = request.headers.redaction
    response = result if isinstance(result, Response) else None
    delay: float | None = None
    redirect_to: str | None = None
    if state is SUCCEEDED:
        action = "return"
    elif isinstance(decision, RedirectDecision) and decision.request is not None:
        action = "redirect"
        redirect_to = redaction.url(decision.request.url)
    elif isinstance(decision, RetryDecision) and decision.retry:
        action = "retry"
        delay = decision.delay
    else:
        action = "raise"
    request_id = response.request_id if response is not None else None
    if response is not None and request_id is not None:  # unless marked sensitive
        request_id = redaction.header_value(response.request_id_header, request_id)
    return AttemptRecord(
        method=request.method,
        url=redaction.url(request.url),
        headers=tuple(redaction.headers(request.headers.multi_items())),
        attempt=attempt,
        outcome=str(response.status_code) if response is not None else type(result).__name__,
        status_code=response.status_code if response is not None else None,
        request_id=request_id,
        action=action,
        reason=decision.reason.value,
        delay=delay,
        redirect_to=redirect_to,
        elapsed=elapsed,
    )
