"""sdk_core: the pure, sans-I/O core of the SDK.

It builds requests, parses errors and decides retries; it never touches a socket, a
clock, a thread or a random source of its own. See ``sdk_transports`` for the clients.
The paging, Server-Sent Events, hook-record and decoding names load on first use.
For transport authors: ``wire_headers`` (a request's header lines, Host first),
``BodyDecoder`` / ``StreamDecoder`` (undo the Content-Encoding the client asked for), and
the submodule ``sdk_core.lowlevel`` (codecs, readers, pool books, wait bounds), loaded
on first use too.
"""

import importlib
from typing import TYPE_CHECKING, Any

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
    APITimeoutError,
    CallStateError,
    ClientClosedError,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    InvalidRequestError,
    LocalProtocolError,
    PaginationError,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    RedirectError,
    RemoteProtocolError,
    ResponseTooLargeError,
    SDKError,
    StreamClosedError,
    TooManyRedirects,
    WriteError,
    WriteTimeout,
    deadline_exceeded,
)
from ._headers import Headers, HeaderUpdates
from ._models import Request, RequestContent, Response
from ._redirect import RedirectDecision, RedirectReason, redirect_request
from ._retry import RandomSource, RetryDecision, RetryReason, decide_retry, parse_retry_after
from ._sentinel import NOT_GIVEN, NotGiven
from ._statistics import PoolStatistics
from ._status import (
    STATUS_ERRORS,
    STATUS_RULES,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StatusRule,
    UnprocessableEntityError,
    error_class_for,
    parse_error_body,
    status_advice,
    status_error,
)
from ._url import URL, QueryParamTypes, build_url
from ._version import __version__

if TYPE_CHECKING:
    from ._decoding import BodyDecoder, StreamDecoder, supported_encodings
    from ._observe import AttemptRecord
    from ._paging import (
        CursorPaging,
        FieldPath,
        Link,
        LinkHeaderPaging,
        NextCursorPaging,
        OffsetPaging,
        Page,
        PageRequest,
        Paging,
        parse_link_header,
    )
    from ._request_head import wire_headers
    from ._sse import ServerSentEvent

# Public name -> the private module that defines it, for the names loaded on first use.
_LAZY = {
    "AttemptRecord": "_observe",
    **dict.fromkeys(("BodyDecoder", "StreamDecoder", "supported_encodings"), "_decoding"),
    "wire_headers": "_request_head",
    **dict.fromkeys(
        (
            "CursorPaging",
            "FieldPath",
            "Link",
            "LinkHeaderPaging",
            "NextCursorPaging",
            "OffsetPaging",
            "Page",
            "PageRequest",
            "Paging",
            "parse_link_header",
        ),
        "_paging",
    ),
    "ServerSentEvent": "_sse",
}


def __getattr__(name: str) -> Any:
    if name == "lowlevel":  # a submodule: importing it makes it this package's attribute
        return importlib.import_module(f"{__name__}.lowlevel")
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module 'sdk_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, "lowlevel"})


__all__ = [
    "NOT_GIVEN",
    "STATUS_ERRORS",
    "STATUS_RULES",
    "TRANSITIONS",
    "URL",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AttemptRecord",
    "AuthenticationError",
    "BadRequestError",
    "BodyDecoder",
    "Call",
    "CallEvent",
    "CallInput",
    "CallOptions",
    "CallState",
    "CallStateError",
    "ClientClosedError",
    "Completed",
    "ConflictError",
    "ConnectError",
    "ConnectTimeout",
    "CursorPaging",
    "DeadlineExceeded",
    "Failed",
    "FieldPath",
    "HeaderUpdates",
    "Headers",
    "InternalServerError",
    "InvalidRequestError",
    "Limits",
    "Link",
    "LinkHeaderPaging",
    "LocalProtocolError",
    "NextCursorPaging",
    "NotFoundError",
    "NotGiven",
    "OffsetPaging",
    "Page",
    "PageRequest",
    "PaginationError",
    "Paging",
    "PermissionDeniedError",
    "PoolStatistics",
    "PoolTimeout",
    "QueryParamTypes",
    "RandomSource",
    "RateLimitError",
    "ReadError",
    "ReadTimeout",
    "RedirectDecision",
    "RedirectError",
    "RedirectReason",
    "RemoteProtocolError",
    "Request",
    "RequestContent",
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
    "StatusRule",
    "StreamClosedError",
    "StreamDecoder",
    "Timeout",
    "TooManyRedirects",
    "UnprocessableEntityError",
    "WriteError",
    "WriteTimeout",
    "__version__",
    "build_url",
    "deadline_exceeded",
    "decide_retry",
    "error_class_for",
    "parse_error_body",
    "parse_link_header",
    "parse_retry_after",
    "redirect_request",
    "status_advice",
    "status_error",
    "supported_encodings",
    "wire_headers",
]
