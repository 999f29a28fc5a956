"""What the bad-input and accepted-input tests share: the network transports they run on,
by name (sync and async), and two recording transports (the requests, the timeouts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sdk_core import PoolStatistics, Request, Response, Timeout
from sdk_transports import (
    AnyioTransport,
    AsyncHttpcoreTransport,
    HttpcoreTransport,
    MockTransport,
    SocketTransport,
)

SYNC_TRANSPORTS: dict[str, Callable[[], Any]] = {
    "SocketTransport": SocketTransport,
    "HttpcoreTransport": HttpcoreTransport,
}
ASYNC_TRANSPORTS: dict[str, Callable[[], Any]] = {
    "AnyioTransport": AnyioTransport,
    "AsyncHttpcoreTransport": AsyncHttpcoreTransport,
}


def recorder() -> tuple[MockTransport, list[Request]]:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(200, content=b"{}")

    return MockTransport(handler), seen


class TimeoutRecorder:
    """A transport that records the timeout of every attempt."""

    def __init__(self) -> None:
        self.timeouts: list[Timeout] = []

    def handle_request(self, request: Request, timeout: Timeout) -> Response:
        self.timeouts.append(timeout)
        return Response(200, request=request)

    async def handle_async_request(self, request: Request, timeout: Timeout) -> Response:
        return self.handle_request(request, timeout)

    def statistics(self) -> PoolStatistics:
        return PoolStatistics()

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass
