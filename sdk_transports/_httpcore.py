"""``HttpcoreTransport`` and ``AsyncHttpcoreTransport``: httpcore's pools behind the
transport protocols, with every httpcore exception translated where it enters."""

from __future__ import annotations

import anyio
import httpcore

from sdk_core import Limits, Request, Response, Timeout
from sdk_core._decoding import BodyDecoder
from sdk_core._statistics import PoolStatistics

from ._httpcore_common import (
    closed_error,
    map_httpcore_exceptions,
    pool_statistics,
    response_headers,
    to_httpcore_request,
)
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE
from ._tls import CertTypes, VerifyTypes, make_ssl_context

__all__ = ["AsyncHttpcoreTransport", "HttpcoreTransport"]


def _pool_options(limits: Limits, verify: VerifyTypes, cert: CertTypes) -> dict[str, object]:
    return {
        "ssl_context": make_ssl_context(verify, cert),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }


class HttpcoreTransport:
    """A blocking transport over ``httpcore.ConnectionPool``; safe to share between threads.

    Raises the core's connection errors (``ConnectError``, ``ReadTimeout``, ...) and
    ``ResponseTooLargeError`` past ``max_response_size`` bytes of decoded body.
    """

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        options = _pool_options(limits or Limits(), verify, cert)
        self._pool = httpcore.ConnectionPool(**options)  # type: ignore[arg-type]
        self._max_response_size = max_response_size
        self._closed = False

    def handle_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` once and read the whole response."""
        if self._closed:
            raise closed_error(request)
        with map_httpcore_exceptions(request):
            raw = self._pool.handle_request(to_httpcore_request(request, timeout, request.content))
            try:
                headers = response_headers(raw.headers, request)
                decoder = BodyDecoder(
                    headers.first("content-encoding"), max_size=self._max_response_size
                )
                body = bytearray()
                for chunk in raw.stream:  # type: ignore[union-attr]
                    body += decoder.feed(chunk)
                body += decoder.flush()
            finally:
                raw.close()
        return Response(raw.status, headers=headers, content=bytes(body), request=request)

    def statistics(self) -> PoolStatistics:
        """Connections in use, idle, and requests waiting for one."""
        return pool_statistics(self._pool)

    def close(self) -> None:
        """Close every pooled connection."""
        self._closed = True
        self._pool.close()


class AsyncHttpcoreTransport:
    """An async transport over ``httpcore.AsyncConnectionPool``, on asyncio and trio.

    Raises as ``HttpcoreTransport`` does. On cancellation the response is closed
    (shielded), its connection released, and the cancellation propagates.
    """

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        options = _pool_options(limits or Limits(), verify, cert)
        self._pool = httpcore.AsyncConnectionPool(**options)  # type: ignore[arg-type]
        self._max_response_size = max_response_size
        self._closed = False

    async def handle_async_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` once and read the whole response."""
        if self._closed:
            raise closed_error(request)
        with map_httpcore_exceptions(request):
            raw = await self._pool.handle_async_request(
                to_httpcore_request(request, timeout, request.content)
            )
            try:
                headers = response_headers(raw.headers, request)
                decoder = BodyDecoder(
                    headers.first("content-encoding"), max_size=self._max_response_size
                )
                body = bytearray()
                async for chunk in raw.stream:  # type: ignore[union-attr]
                    body += decoder.feed(chunk)
                body += decoder.flush()
            finally:
                with anyio.CancelScope(shield=True):
                    await raw.aclose()
        return Response(raw.status, headers=headers, content=bytes(body), request=request)

    def statistics(self) -> PoolStatistics:
        """Connections in use, idle, and requests waiting for one."""
        return pool_statistics(self._pool)

    async def aclose(self) -> None:
        """Close every pooled connection (shielded from cancellation)."""
        self._closed = True
        with anyio.CancelScope(shield=True):
            await self._pool.aclose()
