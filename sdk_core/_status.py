"""From an error response to its typed error: one table maps status to class.

Bodies are parsed from ``{"error": {...}}`` JSON and RFC 9457 problem details; a body
that is empty, not JSON, truncated or huge still gives the right class, keeping a
bounded excerpt of its text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

from ._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from ._models import Response

__all__ = ["STATUS_ERRORS", "ErrorBody", "error_class_for", "parse_error_body", "status_error"]

#: The one table from status code to error class; >= 500 falls to InternalServerError.
STATUS_ERRORS: Final[dict[int, type[APIStatusError]]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

#: Characters of a non-JSON body kept on the error.
MAX_EXCERPT: Final = 4096
#: Characters of the server's message shown in ``str(error)``.
MAX_MESSAGE: Final = 300
#: Bodies larger than this are not parsed as JSON, only excerpted.
MAX_JSON_BODY: Final = 1 << 20


def error_class_for(status_code: int) -> type[APIStatusError]:
    """The error class for a status code of 400 or more."""
    cls = STATUS_ERRORS.get(status_code)
    if cls is not None:
        return cls
    return InternalServerError if status_code >= 500 else APIStatusError


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
