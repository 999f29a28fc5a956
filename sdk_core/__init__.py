"""sdk_core: the pure, sans-I/O core of the SDK.

It builds requests, parses errors and decides retries; it never touches a socket, a
clock, a thread or a random source of its own. See ``sdk_transports`` for the clients.
"""

from ._call import (
    TRANSITIONS,
    Call,
    CallEvent,
    CallInput,
    CallOptions,
    CallState,
    Completed,
    Failed,
    SendRequest,
    Sleep,
)
from ._config import Limits, RetryBudget, RetryPolicy, Timeout
from ._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CallStateError,
    ConflictError,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PoolTimeout,
    RateLimitError,
    ReadError,
    ReadTimeout,
    RedirectError,
    RemoteProtocolError,
    ResponseTooLargeError,
    SDKError,
    StreamClosedError,
    TooManyRedirects,
    UnprocessableEntityError,
    WriteError,
    WriteTimeout,
)
from ._headers import Headers
from ._models import Request, Response
from ._observe import AttemptRecord
from ._redirect import RedirectDecision, RedirectReason, redirect_request
from ._retry import RandomSource, RetryDecision, RetryReason, decide_retry, parse_retry_after
from ._sentinel import NOT_GIVEN, NotGiven
from ._sse import ServerSentEvent
from ._statistics import PoolStatistics
from ._status import STATUS_ERRORS, error_class_for, parse_error_body, status_error
from ._url import URL, build_url
from ._version import __version__

__all__ = [
    "NOT_GIVEN",
    "STATUS_ERRORS",
    "TRANSITIONS",
    "URL",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AttemptRecord",
    "AuthenticationError",
    "BadRequestError",
    "Call",
    "CallEvent",
    "CallInput",
    "CallOptions",
    "CallState",
    "CallStateError",
    "Completed",
    "ConflictError",
    "ConnectError",
    "ConnectTimeout",
    "DeadlineExceeded",
    "Failed",
    "Headers",
    "InternalServerError",
    "InvalidRequestError",
    "Limits",
    "NotFoundError",
    "NotGiven",
    "PermissionDeniedError",
    "PoolStatistics",
    "PoolTimeout",
    "RandomSource",
    "RateLimitError",
    "ReadError",
    "ReadTimeout",
    "RedirectDecision",
    "RedirectError",
    "RedirectReason",
    "RemoteProtocolError",
    "Request",
    "Response",
    "ResponseTooLargeError",
    "RetryBudget",
    "RetryDecision",
    "RetryPolicy",
    "RetryReason",
    "SDKError",
    "SendRequest",
    "ServerSentEvent",
    "Sleep",
    "StreamClosedError",
    "Timeout",
    "TooManyRedirects",
    "UnprocessableEntityError",
    "WriteError",
    "WriteTimeout",
    "__version__",
    "build_url",
    "decide_retry",
    "error_class_for",
    "parse_error_body",
    "parse_retry_after",
    "redirect_request",
    "status_error",
]
