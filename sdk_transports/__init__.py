"""sdk_transports: the clients and the transports that drive ``sdk_core``.

Everything that touches the world lives here: sockets, TLS, anyio, httpcore, the
clock, sleeping and the environment. Names load on first use, so a program that only
uses ``Client`` never imports anyio, asyncio, trio or httpcore.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._async_client import AsyncClient
    from ._async_sockets import AnyioTransport, AsyncSocketTransport
    from ._client import Client
    from ._client_base import ClientOptions, ClientSettings, ContentTypes, RequestKwargs
    from ._httpcore import AsyncHttpcoreTransport, HttpcoreTransport
    from ._mock import MockTransport
    from ._paging import AsyncPaginator, Paginator
    from ._protocols import (
        STREAM_WINDOW,
        AsyncStreamingTransport,
        AsyncTransport,
        StreamingTransport,
        Transport,
    )
    from ._sockets import SocketTransport
    from ._streaming import AsyncBodyIterator, AsyncStreamResponse, BodyIterator, StreamResponse

__all__ = [
    "STREAM_WINDOW",
    "AnyioTransport",
    "AsyncBodyIterator",
    "AsyncClient",
    "AsyncHttpcoreTransport",
    "AsyncPaginator",
    "AsyncSocketTransport",
    "AsyncStreamResponse",
    "AsyncStreamingTransport",
    "AsyncTransport",
    "BodyIterator",
    "Client",
    "ClientOptions",
    "ClientSettings",
    "ContentTypes",
    "HttpcoreTransport",
    "MockTransport",
    "Paginator",
    "RequestKwargs",
    "SocketTransport",
    "StreamResponse",
    "StreamingTransport",
    "Transport",
]

# Public name -> the private module that defines it.
_HOMES = {
    "StreamingTransport": "_protocols",
    "STREAM_WINDOW": "_protocols",
    "AsyncStreamingTransport": "_protocols",
    "AnyioTransport": "_async_sockets",
    "AsyncBodyIterator": "_streaming",
    "AsyncClient": "_async_client",
    "AsyncHttpcoreTransport": "_httpcore",
    "AsyncPaginator": "_paging",
    "AsyncSocketTransport": "_async_sockets",
    "AsyncStreamResponse": "_streaming",
    "AsyncTransport": "_protocols",
    "BodyIterator": "_streaming",
    "Client": "_client",
    "ClientOptions": "_client_base",
    "ClientSettings": "_client_base",
    "ContentTypes": "_client_base",
    "HttpcoreTransport": "_httpcore",
    "MockTransport": "_mock",
    "Paginator": "_paging",
    "RequestKwargs": "_client_base",
    "SocketTransport": "_sockets",
    "StreamResponse": "_streaming",
    "Transport": "_protocols",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sdk_transports' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
