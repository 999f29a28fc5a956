"""``MockTransport``: answer requests with a function, for tests of code built on a client."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from sdk_core import PoolStatistics, Request, Response, Timeout

__all__ = ["MockHandler", "MockTransport"]

MockHandler: TypeAlias = Callable[[Request], "Response | Awaitable[Response]"]


class MockTransport:
    """Calls ``handler(request)`` for every attempt and returns its ``Response``.

    A sync handler serves ``Client`` and ``AsyncClient``; an async handler serves
    ``AsyncClient`` only (``Client`` raises ``TypeError``). A handler may raise a core
    connection error (``ConnectError``, ``ReadTimeout``, ...) to stage a fault.
    """

    def __init__(self, handler: MockHandler) -> None:
        self.handler = handler
        self.closed = False

    def _finish(self, response: Response) -> Response:
        # The response goes to the call as the handler made it: the call gives it the
        # request (when it names none) with the rest of its metadata.
        if not isinstance(response, Response):
            raise TypeError(f"MockTransport handler returned {type(response).__name__}.")
        return response

    def handle_request(self, request: Request, timeout: Timeout) -> Response:
        """Answer with the handler's response."""
        result = self.handler(request)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError("An async MockTransport handler needs AsyncClient.")
        return self._finish(result)

    async def handle_async_request(self, request: Request, timeout: Timeout) -> Response:
        """Answer with the handler's response, awaiting it when the handler is async."""
        result = self.handler(request)
        if inspect.isawaitable(result):
            result = await result
        return self._finish(result)

    def statistics(self) -> PoolStatistics:
        """Always empty: a mock holds no connections."""
        return PoolStatistics()

    def close(self) -> None:
        """Mark the transport closed."""
        self.closed = True

    async def aclose(self) -> None:
        """Mark the transport closed."""
        self.closed = True
