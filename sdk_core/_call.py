"""``Call``: the state machine of one API call, every attempt included.

The driver asks ``next_event()`` what to do and reports what happened with
``receive_response()`` or ``receive_error()``; the call never waits or touches a socket.

Every legal transition is in ``TRANSITIONS`` below, in this file and nowhere else.
Any other (state, input) pair raises ``CallStateError`` and leaves the call in ``ERROR``.
The state diagram in the docs is generated from this table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, NoReturn, TypeAlias

from ._config import RetryBudget, RetryPolicy, Timeout
from ._errors import (
    APIError,
    APITimeoutError,
    CallStateError,
    DeadlineExceeded,
    deadline_exceeded,
)
from ._models import Request, Response
from ._redirect import RedirectDecision, redirect_error, redirect_request
from ._retry import SUCCESS, RandomSource, RetryDecision, decide_retry
from ._status import status_error

__all__ = [
    "TRANSITIONS",
    "Call",
    "CallEvent",
    "CallInput",
    "CallOptions",
    "CallState",
    "Completed",
    "Failed",
    "SendRequest",
    "Sleep",
]


class CallState(enum.Enum):
    """Where a call is."""

    # Members are singletons, so identity is an exact hash for the table's keys.
    __hash__ = object.__hash__

    READY_TO_SEND = "ready to send"
    AWAITING_OUTCOME = "awaiting outcome"
    READY_TO_SLEEP = "ready to sleep"
    SUCCEEDED = "succeeded"
    FAILING = "failing"
    DONE = "done"
    ERROR = "error"


class CallInput(enum.Enum):
    """What a driver can do to a call."""

    __hash__ = object.__hash__

    NEXT_EVENT = "next_event"
    RECEIVE_RESPONSE = "receive_response"
    RECEIVE_ERROR = "receive_error"


# The members by their names, as h11 names its states: the table below reads better, and
# the transitions read plain module globals rather than attributes of the enum class.
READY_TO_SEND: Final = CallState.READY_TO_SEND
AWAITING_OUTCOME: Final = CallState.AWAITING_OUTCOME
READY_TO_SLEEP: Final = CallState.READY_TO_SLEEP
SUCCEEDED: Final = CallState.SUCCEEDED
FAILING: Final = CallState.FAILING
DONE: Final = CallState.DONE
ERROR: Final = CallState.ERROR
NEXT_EVENT: Final = CallInput.NEXT_EVENT
RECEIVE_RESPONSE: Final = CallInput.RECEIVE_RESPONSE
RECEIVE_ERROR: Final = CallInput.RECEIVE_ERROR

_OUTCOMES = frozenset({READY_TO_SEND, READY_TO_SLEEP, SUCCEEDED, FAILING})

#: (state, input) -> the states that input may lead to. Nothing else is legal.
TRANSITIONS: Final[dict[tuple[CallState, CallInput], frozenset[CallState]]] = {
    # SendRequest, or Failed(DeadlineExceeded) when no time is left for an attempt.
    (READY_TO_SEND, NEXT_EVENT): frozenset({AWAITING_OUTCOME, DONE}),
    # The retry decision: send again now, sleep first, complete, or fail. A followed
    # redirect also goes back to READY_TO_SEND (with the new request); a refused one fails.
    (AWAITING_OUTCOME, RECEIVE_RESPONSE): _OUTCOMES,
    (AWAITING_OUTCOME, RECEIVE_ERROR): _OUTCOMES - {SUCCEEDED},  # never a success
    (READY_TO_SLEEP, NEXT_EVENT): frozenset({READY_TO_SEND}),  # Sleep
    (SUCCEEDED, NEXT_EVENT): frozenset({DONE}),  # Completed
    (FAILING, NEXT_EVENT): frozenset({DONE}),  # Failed
}


@dataclass(frozen=True, slots=True)
class SendRequest:
    """Send ``request`` once, within the phase timeouts of ``timeout``."""

    request: Request
    timeout: Timeout


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds`` before the next attempt."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Completed:
    """The call succeeded with ``response``."""

    response: Response


@dataclass(frozen=True, slots=True)
class Failed:
    """The call failed; raise ``error`` (its ``attempts`` is set)."""

    error: APIError


CallEvent: TypeAlias = SendRequest | Sleep | Completed | Failed


# Both are frozen: every CallOptions may share them instead of building its own.
_DEFAULT_RETRY: Final = RetryPolicy()
_DEFAULT_TIMEOUT: Final = Timeout()


@dataclass(frozen=True, slots=True)
class CallOptions:
    """What shapes one call besides its request.

    ``max_retries`` (when not None) overrides ``retry.max_retries``. ``idempotency_key``
    is sent in ``idempotency_header``; when absent, POST and PATCH get one generated
    from the call's random source whenever retries are enabled (None as the header
    name turns that off).

    A 301, 302, 303, 307 or 308 with a Location is followed up to ``max_redirects``
    times (0, or ``follow_redirects=False``, returns the 3xx instead). ``auth_header``
    names the header holding the client's credential: it is dropped, with Authorization,
    Proxy-Authorization, Cookie and the rest of ``CREDENTIAL_HEADERS``, when a redirect
    changes scheme, host or port.
    """

    retry: RetryPolicy = _DEFAULT_RETRY
    timeout: Timeout = _DEFAULT_TIMEOUT
    max_retries: int | None = None
    idempotency_key: str | None = None
    idempotency_header: str | None = "Idempotency-Key"
    request_id_header: str = "x-request-id"
    follow_redirects: bool = True
    max_redirects: int = 5
    auth_header: str | None = None


_DEFAULT_OPTIONS: Final = CallOptions()

#: Slack for a timer that fired a hair before the deadline it was set to.
_DEADLINE_SLACK: Final = 0.001


def _generated_key(rng: RandomSource) -> str:
    bits = rng.getrandbits(128)
    # Shape it as a version 4 UUID so servers that validate keys accept it.
    bits = (bits & ~(0xF000 << 64)) | (0x4000 << 64)
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Call:
    """One API call: the attempts, the waits between them, and its outcome.

    ``now`` is a monotonic clock reading in seconds from the driver; ``rng`` draws the
    jitter and the idempotency key. The same inputs always give the same events.
    Raises ``CallStateError`` when an input is not legal in the current state.

    A followed redirect makes the next ``SendRequest`` carry the redirected request
    (``request`` becomes it, and retries resend it); it counts in ``redirects``, not
    in ``attempts``, and takes nothing from the retry budget. A redirect that cannot
    be followed fails the call with ``RedirectError`` or ``TooManyRedirects``.
    """

    __slots__ = (
        "_budget",
        "_deadline",
        "_estimated_now",
        "_options",
        "_pending",
        "_redirect_pending",
        "_rng",
        "_state",
        "attempts",
        "decisions",
        "redirects",
        "request",
    )

    def __init__(
        self,
        request: Request,
        options: CallOptions | None = None,
        *,
        now: float,
        rng: RandomSource,
        budget: RetryBudget | None = None,
    ) -> None:
        options = options if options is not None else _DEFAULT_OPTIONS
        self._options = options
        self._rng = rng
        self._budget = budget
        self._state: CallState = READY_TO_SEND
        self._pending: CallEvent | None = None
        total = options.timeout.total
        self._deadline = None if total is None else now + total
        self._estimated_now = now
        #: Attempts sent so far.
        self.attempts = 0
        #: Redirects followed so far.
        self.redirects = 0
        self._redirect_pending = False
        #: Every decision made, one per reported outcome, in order: a RetryDecision, or a
        #: RedirectDecision for a 3xx that was followed or refused.
        self.decisions: list[RetryDecision | RedirectDecision] = []
        header = options.idempotency_header
        key = options.idempotency_key
        generate = key is None and request.method in ("POST", "PATCH") and self._max_retries > 0
        if header is not None and (key is not None or generate) and header not in request.headers:
            request = request.with_headers(
                {header: key if key is not None else _generated_key(rng)}
            )
        self.request = request

    @property
    def state(self) -> CallState:
        """The current state."""
        return self._state

    @property
    def deadline(self) -> float | None:
        """The clock reading past which no attempt or sleep may run, or None."""
        return self._deadline

    @property
    def _max_retries(self) -> int:
        options = self._options
        return options.retry.max_retries if options.max_retries is None else options.max_retries

    @property
    def _total(self) -> float:
        """``Timeout.total``; read only when there is a deadline, so it is set."""
        total = self._options.timeout.total
        assert total is not None
        return total

    def _remaining(self, now: float) -> float | None:
        deadline = self._deadline
        if deadline is None:
            return None
        # min(): now + total - now can exceed total by a rounding error.
        return min(deadline - now, self._options.timeout.total or 0.0)

    def _legal(self, event: CallInput) -> frozenset[CallState]:
        """The states ``event`` may lead to from here (``TRANSITIONS``); raises
        ``CallStateError`` when it is not legal at all. Looked up once per input."""
        allowed = TRANSITIONS.get((self._state, event))
        if allowed is None:
            self._fail_state(event)
        return allowed

    def _move(self, event: CallInput, allowed: frozenset[CallState], target: CallState) -> None:
        if target not in allowed:
            self._fail_state(event)
        self._state = target

    def _fail_state(self, event: CallInput) -> NoReturn:
        state = self._state
        self._state = ERROR
        raise CallStateError(f"Call cannot take {event.value} in state {state.value!r}.")

    def next_event(self) -> CallEvent:
        """What the driver does next. Raises ``CallStateError`` while awaiting an outcome."""
        allowed = self._legal(NEXT_EVENT)
        if self._state is READY_TO_SEND:
            remaining = self._remaining(self._estimated_now)
            if remaining is not None and remaining <= 0:
                error = deadline_exceeded(
                    self.request,
                    self._total,
                    attempts=self.attempts,
                    request_sent=self.attempts > 0,
                )
                self._move(NEXT_EVENT, allowed, DONE)
                return Failed(error)
            if self._redirect_pending:  # a redirect continues the attempt it came from
                self._redirect_pending = False
            else:
                self.attempts += 1
            self._move(NEXT_EVENT, allowed, AWAITING_OUTCOME)
            timeout = self._options.timeout
            return SendRequest(
                self.request, timeout if remaining is None else timeout.capped(remaining)
            )
        pending = self._pending
        assert pending is not None
        self._pending = None
        if isinstance(pending, Sleep):
            self._estimated_now += pending.seconds
            self._move(NEXT_EVENT, allowed, READY_TO_SEND)
        else:
            self._move(NEXT_EVENT, allowed, DONE)
        return pending

    def receive_response(
        self, response: Response, *, now: float, wall_time: float | None = None
    ) -> None:
        """Report the attempt's response. ``wall_time`` (Unix seconds) dates Retry-After.

        The call gives the response its metadata here (``Response._taken_by_call``), and
        the ``Completed`` or error it leads to holds that response."""
        allowed = self._legal(RECEIVE_RESPONSE)
        options = self._options
        response = response._taken_by_call(
            self.request, self.attempts, self.redirects, options.request_id_header
        )
        if 300 <= response.status_code < 400 and options.follow_redirects:
            decision = redirect_request(
                self.request,
                response,
                redirects=self.redirects,
                max_redirects=options.max_redirects,
                auth_header=options.auth_header,
            )
            if decision is not None:
                self._redirect(decision, response, now, allowed)
                return
        self._decide(RECEIVE_RESPONSE, allowed, response, now, wall_time)

    def receive_error(self, error: APIError, *, now: float) -> None:
        """Report that the attempt failed with a transport's ``error``."""
        allowed = self._legal(RECEIVE_ERROR)
        if not isinstance(error, APIError):  # a guard for untyped drivers
            self._fail_state(RECEIVE_ERROR)
        if error.request is None:
            error.request = self.request
        if (
            isinstance(error, APITimeoutError)
            and not isinstance(error, DeadlineExceeded)
            and self._deadline is not None
            and now >= self._deadline - _DEADLINE_SLACK
        ):
            cut = deadline_exceeded(
                self.request, self._total, attempts=self.attempts, request_sent=error.request_sent
            )
            cut.__cause__ = error
            error = cut
        self._decide(RECEIVE_ERROR, allowed, error, now, None)

    def _redirect(
        self,
        decision: RedirectDecision,
        response: Response,
        now: float,
        allowed: frozenset[CallState],
    ) -> None:
        self._estimated_now = now
        self.decisions.append(decision)
        if decision.request is not None:
            self._move(RECEIVE_RESPONSE, allowed, READY_TO_SEND)
            self.redirects += 1
            self._redirect_pending = True
            self.request = decision.request
            return
        error = redirect_error(decision, response)
        error.attempts = self.attempts
        self._pending = Failed(error)
        self._move(RECEIVE_RESPONSE, allowed, FAILING)

    def _decide(
        self,
        event: CallInput,
        allowed: frozenset[CallState],
        outcome: Response | APIError,
        now: float,
        wall_time: float | None,
    ) -> None:
        self._estimated_now = now
        decision = decide_retry(
            self._options.retry,
            self.request,
            outcome,
            attempt=self.attempts,
            rng=self._rng,
            remaining=self._remaining(now),
            budget=self._budget,
            max_retries=self._options.max_retries,  # None: the policy's
            idempotency_header=self._options.idempotency_header,
            wall_time=wall_time,
        )
        self.decisions.append(decision)
        if decision.retry:
            if decision.delay > 0:
                self._pending = Sleep(decision.delay)
                self._move(event, allowed, READY_TO_SLEEP)
            else:
                self._move(event, allowed, READY_TO_SEND)
            return
        if isinstance(outcome, Response) and decision.reason is SUCCESS:
            if self._budget is not None:
                self._budget.record_success()
            self._pending = Completed(outcome)
            self._move(event, allowed, SUCCEEDED)
            return
        error = (
            status_error(outcome, retry_after=decision.retry_after)
            if isinstance(outcome, Response)
            else outcome
        )
        error.attempts = self.attempts
        self._pending = Failed(error)
        self._move(event, allowed, FAILING)
