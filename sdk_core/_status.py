"""From an error response to its typed error: the status errors (``APIStatusError`` and
its subclasses), and the one table that maps a status to its class and advice.

Bodies are parsed from ``{"error": {...}}`` JSON and RFC 9457 problem details; a body
that is empty, not JSON, truncated or huge still gives the right class, keeping a
bounded excerpt of its text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from types import MappingProxyType
from typing import Any, Final

from ._errors import APIError
from ._models import Response

__all__ = [
    "STATUS_ERRORS",
    "STATUS_RULES",
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ErrorBody",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "StatusRule",
    "UnprocessableEntityError",
    "error_class_for",
    "parse_error_body",
    "status_advice",
    "status_error",
]


class APIStatusError(APIError):
    """The server answered with an error status.

    ``body`` is the parsed JSON body, or a bounded excerpt of the raw text, or None.
    ``retry_after`` is the wait in seconds the server asked for, when it asked.
    ``str(error)`` is ``message`` (the server's words first), then what to do about the
    status where the status table knows (``sdk_core.status_advice``), then the request.
    """

    status_code: int
    names_request = True

    def __init__(
        self,
        message: str,
        *,
        response: Response,
        body: Any = None,
        code: str | None = None,
        type: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code
        self.body = body
        self.code = code
        self.type = type
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        advice = status_advice(self)
        if advice is None:
            return self.message + self._where()
        end = "" if self.message.endswith((".", "!", "?")) else "."
        return f"{self.message}{end} {advice}{self._where()}"


class BadRequestError(APIStatusError):
    """400: the server rejected the request as malformed."""


class AuthenticationError(APIStatusError):
    """401: missing or invalid credentials."""


class PermissionDeniedError(APIStatusError):
    """403: the credentials do not allow this operation."""


class NotFoundError(APIStatusError):
    """404: the resource does not exist."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the resource's current state."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well formed but semantically invalid."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` holds the server's hint, if any."""


class InternalServerError(APIStatusError):
    """Any status of 500 or more: the server failed."""


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _rate_limited(error: APIStatusError) -> str:
    if error.retry_after is not None:
        return f"Rate limited: retry after {_seconds(error.retry_after)}."
    return "Rate limited: slow down, then retry."


def _server_failed(error: APIStatusError) -> str:
    retries = error.attempts - 1
    said = "The server failed"
    if retries > 0:
        said += f"; retried {retries} time{'' if retries == 1 else 's'}"
    elif retries == 0:
        said += "; not retried"
    if error.retry_after is not None:
        said += f"; it asked for a wait of {_seconds(error.retry_after)}"
    return said + "."


@dataclass(frozen=True, slots=True)
class StatusRule:
    """What one error status means: its error class, and what the caller can do about
    it (``advice``: text, or a function of the error for advice that depends on
    ``retry_after`` or ``attempts``; None where the server's message is all there is)."""

    error: type[APIStatusError]
    advice: str | Callable[[APIStatusError], str] | None = None


_SERVER_FAILED: Final = StatusRule(InternalServerError, _server_failed)
_OTHER: Final = StatusRule(APIStatusError)

#: The one status table, read-only: class and advice by status code. A status of 500 or more that
#: is not listed is a server failure (``InternalServerError``); any other an
#: ``APIStatusError`` without advice. The advice never quotes a request value.
STATUS_RULES: Final[Mapping[int, StatusRule]] = MappingProxyType(
    {
        400: StatusRule(BadRequestError),
        401: StatusRule(
            AuthenticationError, "Check the API key: it is missing, wrong, expired or revoked."
        ),
        403: StatusRule(
            PermissionDeniedError,
            "The credentials were accepted but lack permission for this operation or resource.",
        ),
        404: StatusRule(
            NotFoundError,
            "Check the path and any id in it: the resource does not exist, or these "
            "credentials cannot see it.",
        ),
        405: StatusRule(APIStatusError, "This path does not accept this HTTP method."),
        408: StatusRule(APIStatusError, "The server gave up waiting for the request."),
        409: StatusRule(
            ConflictError, "The resource changed or is busy: read its current state, then retry."
        ),
        413: StatusRule(APIStatusError, "The request body is too large for the server: send less."),
        414: StatusRule(
            APIStatusError, "The URL is too long for the server: send fewer parameters."
        ),
        415: StatusRule(
            APIStatusError,
            "The server does not accept the body's Content-Type or Content-Encoding.",
        ),
        422: StatusRule(UnprocessableEntityError),
        429: StatusRule(RateLimitError, _rate_limited),
        431: StatusRule(APIStatusError, "The request's headers are too large for the server."),
    }
)

#: Status code to error class, for the statuses with a class of their own (a view of
#: ``STATUS_RULES``, read-only as it is); >= 500 falls to InternalServerError.
STATUS_ERRORS: Final[Mapping[int, type[APIStatusError]]] = MappingProxyType(
    {status: rule.error for status, rule in STATUS_RULES.items() if rule.error is not _OTHER.error}
)


def _rule_for(status_code: int) -> StatusRule:
    rule = STATUS_RULES.get(status_code)
    if rule is not None:
        return rule
    return _SERVER_FAILED if status_code >= 500 else _OTHER


def error_class_for(status_code: int) -> type[APIStatusError]:
    """The error class for a status code of 400 or more."""
    return _rule_for(status_code).error


def status_advice(error: APIStatusError) -> str | None:
    """What the caller can do about ``error``'s status, from ``STATUS_RULES``; None when
    the table has nothing to add. Reads ``retry_after`` and ``attempts`` as they are now.
    Raises nothing."""
    advice = _rule_for(error.status_code).advice
    if advice is None or isinstance(advice, str):
        return advice
    return advice(error)


#: Characters of a non-JSON body kept on the error.
MAX_EXCERPT: Final = 4096
#: Characters of the server's message shown in ``str(error)``.
MAX_MESSAGE: Final = 300
#: Bodies larger than this are not parsed as JSON, only excerpted.
MAX_JSON_BODY: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """What an error body says: ``body`` is parsed JSON or a bounded text excerpt."""

    body: Any
    message: str | None
    type: str | None
    code: str | None


def _text(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _excerpt(response: Response) -> str:
    raw = response.content[: MAX_EXCERPT * 4]
    try:
        text = raw.decode(response.encoding, "replace")
    except (LookupError, UnicodeError):  # unknown, or a codec like idna that cannot replace
        text = raw.decode("utf-8", "replace")
    return text[:MAX_EXCERPT]


def parse_error_body(response: Response) -> ErrorBody:
    """Read what the server said about an error. Never raises."""
    content = response.content
    if not content.strip():
        return ErrorBody(None, None, None, None)
    parsed: Any = None
    if len(content) <= MAX_JSON_BODY:
        try:
            parsed = json.loads(content)
        except (ValueError, RecursionError):
            parsed = None
    if not isinstance(parsed, dict):
        if parsed is not None:
            return ErrorBody(parsed, _text(parsed), None, None)
        text = _excerpt(response)
        return ErrorBody(text, text.strip() or None, None, None)
    error = parsed.get("error")
    if isinstance(error, dict):
        message = _text(error.get("message")) or _text(error.get("detail"))
        return ErrorBody(parsed, message, _text(error.get("type")), _text(error.get("code")))
    if isinstance(error, str):
        return ErrorBody(parsed, error, _text(parsed.get("type")), _text(parsed.get("code")))
    content_type = (response.headers.first("content-type") or "").lower()
    if content_type.startswith("application/problem+json") or "title" in parsed:
        message = _text(parsed.get("detail")) or _text(parsed.get("title"))
        return ErrorBody(parsed, message, _text(parsed.get("type")), _text(parsed.get("code")))
    return ErrorBody(
        parsed, _text(parsed.get("message")), _text(parsed.get("type")), _text(parsed.get("code"))
    )


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _shown_request_id(response: Response) -> str | None:
    if response.request_id_header.lower() in response.headers.redaction.sensitive_headers:
        return None  # the user marked the request-id header sensitive
    return response.request_id


def status_error(response: Response, *, retry_after: float | None = None) -> APIStatusError:
    """The typed error for an error response (status >= 400, or any the caller rejects).

    The message never holds a value the request's ``Headers.redaction`` hides (the
    server's words are scrubbed of them); ``body`` keeps what the server sent.
    """
    status = response.status_code
    parsed = parse_error_body(response)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    detail = _shorten(parsed.message) if parsed.message else phrase
    extras = [
        f"{name}={_shorten(value)[:80]}"
        for name, value in (
            ("type", parsed.type),
            ("code", parsed.code),
            ("request_id", _shown_request_id(response)),
        )
        if value
    ]
    message = f"Error code: {status} - {detail}" + (f" ({', '.join(extras)})" if extras else "")
    request = response.request
    if request is not None:  # a server may echo the key it refused: never show it
        redaction = request.headers.redaction
        secrets = redaction.secrets(request.headers.multi_items(), request.url.target)
        message = redaction.scrub(message, secrets)
    cls = error_class_for(status)
    return cls(
        message,
        response=response,
        body=parsed.body,
        code=parsed.code,
        type=parsed.type,
        request_id=response.request_id,
        retry_after=retry_after,
    )
