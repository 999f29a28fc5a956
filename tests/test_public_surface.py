"""The names and defaults DESIGN.md pins as the public surface."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import pytest

import sdk_core
import sdk_transports
from sdk_core import NOT_GIVEN, Limits, RetryPolicy, Timeout

CORE_NAMES = [
    "Request",
    "Response",
    "Headers",
    "Timeout",
    "Limits",
    "RetryPolicy",
    "RetryBudget",
    "Call",
    "SendRequest",
    "Sleep",
    "Completed",
    "Failed",
    "SDKError",
    "InvalidRequestError",
    "APIError",
    "APIConnectionError",
    "ConnectError",
    "ReadError",
    "WriteError",
    "RemoteProtocolError",
    "APITimeoutError",
    "ConnectTimeout",
    "ReadTimeout",
    "WriteTimeout",
    "PoolTimeout",
    "DeadlineExceeded",
    "APIStatusError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "UnprocessableEntityError",
    "RateLimitError",
    "InternalServerError",
    "PaginationError",
    "CursorPaging",
    "NextCursorPaging",
    "OffsetPaging",
    "LinkHeaderPaging",
    "Page",
    "PageRequest",
    "Paging",
    "parse_link_header",
]
TRANSPORT_NAMES = [
    "Client",
    "AsyncClient",
    "HttpcoreTransport",
    "AsyncHttpcoreTransport",
    "SocketTransport",
    "AnyioTransport",
    "MockTransport",
    "Paginator",
    "AsyncPaginator",
]


@pytest.mark.parametrize("name", CORE_NAMES)
def test_core_names(name: str) -> None:
    assert name in sdk_core.__all__
    assert getattr(sdk_core, name).__module__.startswith("sdk_core")


@pytest.mark.parametrize("name", TRANSPORT_NAMES)
def test_transport_names(name: str) -> None:
    assert name in sdk_transports.__all__
    assert getattr(sdk_transports, name).__module__.startswith("sdk_transports")


def test_the_error_tree() -> None:
    s = sdk_core
    assert issubclass(s.InvalidRequestError, s.SDKError)
    assert issubclass(s.InvalidRequestError, ValueError)
    for name in ("ConnectError", "ReadError", "WriteError", "RemoteProtocolError"):
        assert issubclass(getattr(s, name), s.APIConnectionError)
    for name in (
        "ConnectTimeout",
        "ReadTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "DeadlineExceeded",
    ):
        assert issubclass(getattr(s, name), s.APITimeoutError)
    assert issubclass(s.APITimeoutError, s.APIConnectionError)
    assert issubclass(s.APIConnectionError, s.APIError)
    assert issubclass(s.APIStatusError, s.APIError)
    assert issubclass(s.PaginationError, s.APIError)
    assert issubclass(s.APIError, s.SDKError)


def test_defaults() -> None:
    assert Timeout() == Timeout(connect=5.0, read=60.0, write=60.0, pool=10.0, total=None)
    assert Timeout(10.0) == Timeout(connect=10.0, read=10.0, write=10.0, pool=10.0)
    assert Limits() == Limits(
        max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0
    )
    policy = RetryPolicy()
    assert (policy.max_retries, policy.initial_delay, policy.max_delay, policy.multiplier) == (
        2,
        0.5,
        8.0,
        2.0,
    )
    assert policy.jitter == "proportional"
    assert policy.retry_statuses == frozenset({408, 409, 429, 500, 502, 503, 504})
    assert policy.max_retry_after == 60.0


@pytest.mark.parametrize("cls", [sdk_transports.Client, sdk_transports.AsyncClient])
def test_client_signature(cls: type) -> None:
    params = inspect.signature(cls).parameters
    pinned = [
        "base_url",
        "api_key",
        "timeout",
        "max_retries",
        "retry",
        "limits",
        "default_headers",
        "transport",
    ]
    assert list(params)[: len(pinned)] == pinned
    assert params["max_retries"].default is NOT_GIVEN
    request = inspect.signature(cls.request).parameters
    assert list(request)[:3] == ["self", "method", "path"]
    for method in ("get", "post", "put", "patch", "delete", "stream", "with_options", "statistics"):
        assert callable(getattr(cls, method))
    assert list(inspect.signature(cls.paginate).parameters)[:4] == [
        "self",
        "method",
        "path",
        "paging",
    ]


@pytest.mark.parametrize("cls", [sdk_transports.Client, sdk_transports.AsyncClient])
def test_an_unknown_client_setting_is_a_type_error(cls: type) -> None:
    with pytest.raises(TypeError, match="no_such_setting"):
        cls("https://api.example.com", no_such_setting=1)


def test_a_blocking_program_never_loads_the_async_stacks() -> None:
    """``Client`` (requests and streams) imports no event loop, anyio or httpcore, and
    a plain-HTTP client no TLS (ssl, certifi), paging or SSE: they cost start-up time
    for programs that never use them."""
    program = textwrap.dedent(
        """
        import sys
        from sdk_core import Response
        from sdk_transports import Client, MockTransport

        transport = MockTransport(lambda request: Response(200, content=b"a\\nb"))
        with Client("http://api.test", transport=transport) as client:
            client.get("/")
            with client.stream("GET", "/") as response:
                list(response.iter_lines())
        Client("http://127.0.0.1:9").close()  # the default transport, never used
        heavy = ("anyio", "asyncio", "trio", "httpcore", "ssl", "certifi")
        lazy = ("sdk_core._paging", "sdk_core._sse", "sdk_core._observe")
        print(sorted(m for m in (*heavy, *lazy) if m in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
