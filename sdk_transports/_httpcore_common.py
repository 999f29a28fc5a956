"""What both httpcore transports share: request conversion, exception mapping, stats,
response heads, and the check that keeps a connection with bytes past its response out
of the pool."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import Any, NoReturn

import h11
import httpcore

from sdk_core import (
    APIConnectionError,
    ConnectError,
    ConnectTimeout,
    Headers,
    InvalidRequestError,
    PoolStatistics,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    Timeout,
    WriteError,
    WriteTimeout,
    wire_headers,
)
from sdk_core.lowlevel import MAX_HEADER_BYTES, check_http1_version

from ._connect_errors import connect_error, where

__all__ = [
    "drop_if_bytes_past_response",
    "map_httpcore_exceptions",
    "pool_statistics",
    "to_httpcore_request",
]

# First match wins, so subclasses come before their bases.
_EXCEPTIONS: tuple[tuple[type[Exception], type[APIConnectionError]], ...] = (
    (httpcore.PoolTimeout, PoolTimeout),
    (httpcore.ConnectTimeout, ConnectTimeout),
    (httpcore.ReadTimeout, ReadTimeout),
    (httpcore.WriteTimeout, WriteTimeout),
    (httpcore.TimeoutException, ReadTimeout),
    (httpcore.ConnectError, ConnectError),
    (httpcore.ProxyError, ConnectError),
    (httpcore.ReadError, ReadError),
    (httpcore.WriteError, WriteError),
    (httpcore.RemoteProtocolError, RemoteProtocolError),
    (httpcore.NetworkError, ReadError),
)


def _detail(exc: BaseException) -> str:
    """The first message along ``exc``'s causes (and the exceptions httpcore made its own
    from); else the class of the innermost one (not ``exc``'s own: the error raised is of
    that kind already, and a traceback prints its class).

    On trio, httpcore wraps a failed TLS handshake as ``ConnectError(BrokenResourceError())``:
    both are empty, and the ``ssl.SSLError`` that says why is the BrokenResourceError's cause.
    """
    cause: BaseException | None = exc
    last = exc
    for _ in range(8):  # a chain is short; the bound guards against a cycle
        if cause is None:
            break
        if str(cause):
            return str(cause)
        last = cause
        args = cause.args
        made_from = args[0] if len(args) == 1 and isinstance(args[0], BaseException) else None
        cause = cause.__cause__ or cause.__context__ or made_from
    return type(last).__name__ if last is not exc else "httpcore gave no reason"


def _seconds(value: float | None) -> str:
    return "no limit" if value is None else f"{value} s"


#: The message of each timeout, from the request and the attempt's ``Timeout`` (the
#: other transports' wording); httpcore's own says only which cancel scope expired.
_TIMEOUT_MESSAGES: dict[type[APIConnectionError], Callable[[Request, Timeout], str]] = {
    PoolTimeout: lambda r, t: f"no connection became free within {_seconds(t.pool)}.",
    ConnectTimeout: lambda r, t: f"connecting to {where(r)} took over {_seconds(t.connect)}.",
    ReadTimeout: lambda r, t: f"no data for {_seconds(t.read)}.",
    WriteTimeout: lambda r, t: "sending the request timed out.",
}


def _raise_mapped(exc: Exception, request: Request, timeout: Timeout | None) -> NoReturn:
    if isinstance(exc, httpcore.LocalProtocolError | httpcore.UnsupportedProtocol):
        raise InvalidRequestError(f"The request cannot be sent: {exc}") from exc
    for source, target in _EXCEPTIONS:
        if isinstance(exc, source):
            if target is ConnectError:
                raise connect_error(exc, request) from exc
            message = _TIMEOUT_MESSAGES.get(target)
            if message is not None and timeout is not None:
                raise target(message(request, timeout), request=request) from exc
            raise target(_detail(exc), request=request) from exc
    raise exc


#: What ``map_httpcore_exceptions`` translates; anything else passes as it is.
_TRANSLATED = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
)


class map_httpcore_exceptions:  # a context manager, named for what its block does
    """Translate httpcore's exceptions into the core's error classes as they enter; a
    timeout's message names the phase's limit in ``timeout``, when given. A connection
    that could not be opened is ``connect_error``'s ``ConnectError`` (its cause, and not
    retryable when the host name does not exist)."""

    __slots__ = ("_request", "_timeout")

    def __init__(self, request: Request, timeout: Timeout | None = None) -> None:
        self._request = request
        self._timeout = timeout

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if isinstance(exc, _TRANSLATED):
            _raise_mapped(exc, self._request, self._timeout)


def to_httpcore_request(request: Request, timeout: Timeout, content: Any) -> httpcore.Request:
    """The httpcore form of ``request``: its wire header lines (Host, and chunked
    framing for a body of unknown length) and the phase timeouts."""
    url = request.url
    raw = wire_headers(request)
    return httpcore.Request(
        method=request.method.encode("ascii"),
        url=httpcore.URL(
            scheme=url.scheme.encode("ascii"),
            host=url.host.encode("ascii"),
            port=url.port,
            target=url.target.encode("ascii"),
        ),
        headers=raw,
        content=content,
        extensions={
            "timeout": {
                "connect": timeout.connect,
                "read": timeout.read,
                "write": timeout.write,
                "pool": timeout.pool,
            }
        },
    )


def response_headers(response: httpcore.Response, request: Request) -> Headers:
    """Headers of httpcore's ``response`` (already validated by h11).

    Raises ``RemoteProtocolError``, as the core's codec does, for a status line whose
    version is not HTTP/1.x (h11 reads any "HTTP/d.d"; HTTP/2, which httpcore reports for
    a real HTTP/2 connection, passes) and for a block over ``MAX_HEADER_BYTES``, which
    httpcore does not enforce on a block that arrives whole.
    """
    version = response.extensions.get("http_version", b"HTTP/1.1")
    if version != b"HTTP/2":
        try:
            check_http1_version(version.removeprefix(b"HTTP/"))
        except RemoteProtocolError as exc:
            never_reuse(response)  # its framing cannot be trusted
            exc.request = request
            raise
    raw = response.headers
    size = sum(len(n) + len(v) + 4 for n, v in raw)
    if size > MAX_HEADER_BYTES:
        raise RemoteProtocolError(
            f"the response header block is larger than {MAX_HEADER_BYTES} bytes.",
            request=request,
        )
    return Headers._trusted((n.decode("latin-1"), v.decode("latin-1")) for n, v in raw)


def pool_statistics(
    pool: httpcore.ConnectionPool | httpcore.AsyncConnectionPool,
) -> PoolStatistics:
    """in_use, idle and waiting for an httpcore pool."""
    connections: list[Any] = list(pool.connections)
    queued: list[Any] = list(pool._requests)
    idle = sum(1 for c in connections if c.is_idle())
    waiting = sum(1 for r in queued if r.is_queued())
    return PoolStatistics(in_use=len(connections) - idle, idle=idle, waiting=waiting)


def h11_state_of(raw: httpcore.Response) -> h11.Connection | None:
    """The h11 state machine of the HTTP/1.1 connection that ``raw`` came on, or None.

    The one place that reads httpcore internals (1.0.x, sync and async alike):
    ``raw.stream`` is the pool's ``PoolByteStream``; its ``_stream`` is the connection's
    ``HTTP11ConnectionByteStream``; its ``_connection`` is the ``HTTP11Connection``,
    whose ``_h11_state`` is the ``h11.Connection``. Any other shape gives None, and the
    caller then treats the connection as unsafe to reuse.
    """
    stream = getattr(raw.stream, "_stream", None)
    connection = getattr(stream, "_connection", None)
    state = getattr(connection, "_h11_state", None)
    return state if isinstance(state, h11.Connection) else None


def drop_if_bytes_past_response(raw: httpcore.Response) -> bool:
    """Call once ``raw``'s body was read to its end and before ``raw`` is closed: when
    bytes arrived past the response, make httpcore close its connection instead of
    pooling it. Returns True when the connection will not be reused.

    httpcore 1.0.9 pools a connection as soon as h11 reports both sides DONE, and h11's
    ``start_next_cycle()`` keeps what was received past the response (past its
    Content-Length, or after a HEAD, 204 or 304) in its buffer, so the next request on
    the connection would read those bytes as its response. h11 exposes them as
    ``trailing_data``. ``send_failed()`` (h11's public API) then puts our side in
    ERROR, and httpcore, finding the cycle not DONE when the response closes, closes
    the connection, the same path as a body that was not read to its end. Bytes that
    arrive later stay in the socket, where httpcore's idle-readable check drops the
    connection before reuse.

    If httpcore's internals no longer lead to the h11 state, nothing can be checked, so
    the connection is never reused: its socket is shut down (found through httpcore's
    documented ``network_stream`` extension), which httpcore's idle check sees as the
    peer's EOF. Keep-alive is then lost, which ``test_httpcore_keepalive_guard`` catches.
    """
    state = h11_state_of(raw)
    if state is not None:
        data, closed = state.trailing_data
        if not data and not closed:
            return False
    never_reuse(raw)
    return True


def never_reuse(raw: httpcore.Response) -> None:
    """Make httpcore close ``raw``'s connection when ``raw`` is closed, whatever was read:
    h11's ``send_failed()`` where the state is reachable, else a socket shutdown (see
    ``drop_if_bytes_past_response``)."""
    state = h11_state_of(raw)
    if state is not None:
        state.send_failed()
        return
    stream = raw.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    with contextlib.suppress(AttributeError, OSError):  # no socket, or already shut
        sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
