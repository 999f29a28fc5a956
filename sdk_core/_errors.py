"""The error tree. Every error says who is at fault.

``InvalidRequestError`` is the caller's mistake, raised before anything is sent.
``APIConnectionError`` and its subclasses mean no usable response arrived.
``APIStatusError`` and its subclasses carry a response the server sent; they live in
``_status.py`` beside the table that maps a status to its class and advice.
``PaginationError`` is a successful page that cannot be paged on from.
The root ``SDKError`` and the errors
that carry no request (``InvalidRequestError``, ``LocalProtocolError`` ...) live in
``_error_base.py``, which the models import; this module re-exports them.

``str(error)`` of an ``APIError`` is its ``message``, then what a reader of a log needs:
for a connection or too-large error that has a request, its method and URL (redacted
by the request's policy) and the attempts made (a status error adds its advice).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ._error_base import (
    CallStateError,
    ClientClosedError,
    InvalidRequestError,
    LocalProtocolError,
    SDKError,
    StreamClosedError,
)

if TYPE_CHECKING:
    from ._models import Request, Response

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "CallStateError",
    "ClientClosedError",
    "ConnectError",
    "ConnectTimeout",
    "DeadlineExceeded",
    "InvalidRequestError",
    "LocalProtocolError",
    "PaginationError",
    "PoolTimeout",
    "ReadError",
    "ReadTimeout",
    "RedirectError",
    "RemoteProtocolError",
    "ResponseTooLargeError",
    "SDKError",
    "StreamClosedError",
    "TooManyRedirects",
    "WriteError",
    "WriteTimeout",
    "deadline_exceeded",
]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class APIError(SDKError):
    """A call to the API did not produce a successful response.

    ``attempts`` is the number of attempts the client made (0 when none was sent).
    ``message`` is the bare message; where ``names_request`` is set, ``str(error)``
    adds the request's method and redacted URL and the attempts, read when it is called
    (the client sets ``attempts`` after the error is made); the URL shows only what the
    request's ``headers.redaction`` allows (no user-info, no query value not allowlisted).
    """

    attempts: int
    request: Request | None
    #: Does ``str()`` name the request? Not for errors whose message already places it.
    names_request: ClassVar[bool] = False

    def __init__(self, message: str, *, request: Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.attempts = 0

    def __str__(self) -> str:
        return self.message + self._where()

    def _where(self) -> str:
        """The suffix that names the request and the attempts, empty without a request:
        ``" (GET https://host/v1/items?key=[redacted], 2 attempts)"``."""
        request = self.request
        if request is None or not self.names_request:
            return ""
        shown = f"{request.method} {request.headers.redaction.url(request.url)}"
        if self.attempts > 0:
            shown += ", " + _plural(self.attempts, "attempt")
        return f" ({shown})"


class ResponseTooLargeError(APIError):
    """The response body grew past ``max_response_size``; it is never retried."""

    names_request = True


class RedirectError(APIError):
    """The server redirected, and the redirect cannot be followed safely.

    The ``Location`` is not a valid http(s) URL, or a 307/308 (or 301/302 of a method
    other than POST) must resend a body that cannot be replayed. ``response`` is the
    3xx response; ``location`` its raw ``Location`` value (kept out of the message).
    """

    def __init__(self, message: str, *, response: Response, location: str | None) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code
        self.location = location


class TooManyRedirects(RedirectError):
    """The call was redirected more than ``max_redirects`` times (a loop, or a long chain).

    ``response`` is the last 3xx response; ``response.redirects`` the redirects followed.
    """


class PaginationError(APIError):
    """A page arrived, but the listing cannot go on from it safely.

    Its body is not what the paging strategy reads (not JSON, items not a list, a
    cursor missing or of the wrong type), its next link is not an http(s) URL of the
    same origin, or the next page would repeat one already fetched. ``response`` is the
    response of the page it is about.
    """

    def __init__(self, message: str, *, response: Response | None = None) -> None:
        super().__init__(message, request=response.request if response is not None else None)
        self.response = response


class APIConnectionError(APIError):
    """No usable response arrived: the connection failed, broke or timed out.

    ``request_sent`` says whether any byte of the request may have reached the server;
    a request that provably was not sent is always safe to retry. ``retryable`` is False
    for a failure that another attempt cannot change (a host name that does not exist).
    """

    #: Default for the class: can an error of this kind happen after bytes were written?
    may_follow_send: ClassVar[bool] = True
    names_request = True

    def __init__(
        self,
        message: str = "Connection error.",
        *,
        request: Request | None = None,
        request_sent: bool | None = None,
        retryable: bool = True,
    ) -> None:
        super().__init__(message, request=request)
        self.request_sent = self.may_follow_send if request_sent is None else request_sent
        self.retryable = retryable


class ConnectError(APIConnectionError):
    """The connection could not be opened (refused, unreachable, DNS or TLS failure)."""

    may_follow_send = False


class ReadError(APIConnectionError):
    """The connection broke while the response was being read."""


class WriteError(APIConnectionError):
    """The connection broke while the request was being written."""


class RemoteProtocolError(APIConnectionError):
    """The server broke the HTTP protocol (malformed or truncated response)."""


class APITimeoutError(APIConnectionError):
    """A timeout expired before a usable response arrived."""

    def __init__(
        self,
        message: str = "Request timed out.",
        *,
        request: Request | None = None,
        request_sent: bool | None = None,
        retryable: bool = True,
    ) -> None:
        super().__init__(message, request=request, request_sent=request_sent, retryable=retryable)


class ConnectTimeout(APITimeoutError):
    """Opening the connection took longer than ``Timeout.connect``."""

    may_follow_send = False


class ReadTimeout(APITimeoutError):
    """Waiting for response bytes took longer than ``Timeout.read``."""


class WriteTimeout(APITimeoutError):
    """Sending request bytes took longer than ``Timeout.write``."""


class PoolTimeout(APITimeoutError):
    """No pooled connection became free within ``Timeout.pool``; nothing was sent."""

    may_follow_send = False


class DeadlineExceeded(APITimeoutError):
    """The whole call ran out of ``Timeout.total``; no further attempt is made.

    Drivers build it with ``deadline_exceeded``, so it reads the same wherever the
    deadline passed (before an attempt, during one, or while a body is read).
    """


def deadline_exceeded(
    request: Request | None,
    total: float,
    *,
    attempts: int = 0,
    request_sent: bool | None = None,
) -> DeadlineExceeded:
    """The ``DeadlineExceeded`` for ``request``'s call, whose ``Timeout.total`` was
    ``total`` seconds, after ``attempts`` attempts. ``request_sent`` as for any
    ``APIConnectionError`` (None: may have been sent). Raises nothing."""
    error = DeadlineExceeded(
        f"the call's total timeout of {total} s ran out.",
        request=request,
        request_sent=request_sent,
    )
    error.attempts = attempts
    return error
