"""What a transport is: it sends one request and returns its response, read whole.

A transport receives a core ``Request`` and the attempt's ``Timeout``, returns a core
``Response``, and raises only the core's ``APIConnectionError`` subclasses (or
``ResponseTooLargeError``) for faults, translated where its library's exceptions enter.
Retries, deadlines and error statuses are the client's business, not the transport's.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from sdk_core import Request, Response, Timeout
from sdk_core._statistics import PoolStatistics

__all__ = ["AsyncTransport", "PoolStatistics", "Transport"]

#: The default bound on a buffered response body, after decoding.
DEFAULT_MAX_RESPONSE_SIZE = 64 * 1024 * 1024


@runtime_checkable
class Transport(Protocol):
    """A blocking transport, safe to share between threads."""

    def handle_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` once and read its response within ``timeout``'s phases."""
        ...

    def statistics(self) -> PoolStatistics:
        """Connections in use, idle, and requests waiting for one."""
        ...

    def close(self) -> None:
        """Close every connection. Requests after this raise ``ConnectError``."""
        ...


@runtime_checkable
class AsyncTransport(Protocol):
    """A transport for ``AsyncClient``, on asyncio and trio."""

    async def handle_async_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` once and read its response within ``timeout``'s phases.

        On cancellation the connection is closed and released to the pool, and the
        cancellation propagates.
        """
        ...

    def statistics(self) -> PoolStatistics:
        """Connections in use, idle, and requests waiting for one."""
        ...

    async def aclose(self) -> None:
        """Close every connection."""
        ...
