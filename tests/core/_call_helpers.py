"""What the Call tests share: the URL, error builders and the hypothesis strategies for
responses and errors."""

from __future__ import annotations

from hypothesis import strategies as st

from sdk_core import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    CallState,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    ResponseTooLargeError,
    WriteError,
    WriteTimeout,
)

URL = "https://api.example.com/v1/things"
S = CallState

ERROR_CLASSES: list[type[APIError]] = [
    APIConnectionError,
    ConnectError,
    ReadError,
    WriteError,
    RemoteProtocolError,
    APITimeoutError,
    ConnectTimeout,
    ReadTimeout,
    WriteTimeout,
    PoolTimeout,
    DeadlineExceeded,
    ResponseTooLargeError,
    APIError,
]


def make_error(cls: type[APIError], request_sent: bool | None = None) -> APIError:
    if issubclass(cls, APIConnectionError):
        return cls("boom", request_sent=request_sent)
    return cls("boom")


# ---------------------------------------------------------------------------------------
# Strategies

STATUSES = st.one_of(
    st.sampled_from([200, 201, 204, 301, 304, 400, 401, 403, 404, 408, 409, 422, 429])
    | st.sampled_from([500, 502, 503, 504]),
    st.integers(100, 599),
)
HINTS = st.sampled_from(
    [
        *("0", "1", "0.25", "3", "61", "120", "garbage", "-1", "nan", "1e35", "", "9" * 40),
        "Wed, 21 Oct 2015 07:28:00 GMT",
    ]
)
RESPONSE_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "retry-after": HINTS,
        "retry-after-ms": st.sampled_from(["0", "250", "abc", "99999999"]),
        "x-should-retry": st.sampled_from(["true", "false", "maybe"]),
        "x-request-id": st.just("req_123"),
    },
)


# ---------------------------------------------------------------------------------------
# Reaching every state through the public API only


class Clock:
    """A fake monotonic clock: it moves only when a test says so."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def tick(self, seconds: float = 0.01) -> float:
        self.now += seconds
        return self.now
