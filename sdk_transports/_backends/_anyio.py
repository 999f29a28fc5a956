"""anyio streams behind the seam: TLS on asyncio and trio (anyio's ``TLSStream`` over
a plain anyio socket stream, or over another stream for a tunnel).

``AnyioStream`` bounds each wait with its own ``anyio.fail_after``; plain TCP never
comes here, so only TLS connections pay for a cancel scope per wait.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from anyio.streams.tls import TLSAttribute, TLSStream

from .._lifecycle import close_socket_now
from .._sockcheck import readable_probe

if TYPE_CHECKING:
    import ssl

    from ._base import AsyncNetworkStream

__all__ = ["STREAM_ERRORS", "AnyioStream", "connect_tls", "wrap_tls"]

#: What an async stream raises when the connection broke or was closed under it
#: (``ssl.SSLError`` is an ``OSError``).
STREAM_ERRORS = (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError)


def _never_stale() -> bool:
    return True  # no socket to poll: the connection is never reused


class AnyioStream:
    """An anyio ``ByteStream`` as an ``AsyncNetworkStream``."""

    __slots__ = ("_probe", "_sock", "_stream")

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self._stream = stream
        self._sock: Any = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)
        self._probe = _never_stale if self._sock is None else readable_probe(self._sock)

    async def send(self, data: bytes, timeout: float | None) -> None:
        if timeout is None:
            await self._stream.send(data)
            return
        with anyio.fail_after(timeout):
            await self._stream.send(data)

    async def receive(self, max_bytes: int, timeout: float | None) -> bytes:
        try:
            if timeout is None:
                return await self._stream.receive(max_bytes)
            with anyio.fail_after(timeout):
                return await self._stream.receive(max_bytes)
        except anyio.EndOfStream:
            return b""

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> AsyncNetworkStream:
        return await wrap_tls(self._stream, ssl_context, server_hostname, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    def close_now(self) -> None:
        close_socket_now(self._sock)

    def is_stale(self) -> bool:
        return self._probe()

    def get_extra_info(self, name: str) -> Any:
        if name == "socket":
            return self._sock
        if name == "ssl_object":
            return self._stream.extra(TLSAttribute.ssl_object, None)
        return None


async def wrap_tls(
    stream: anyio.abc.ByteStream,
    ssl_context: ssl.SSLContext,
    server_hostname: str | None,
    timeout: float | None,
) -> AnyioStream:
    """TLS over ``stream``, the handshake within ``timeout`` (``TimeoutError``). On
    failure or cancellation ``stream`` is closed at once and the error propagates."""
    try:
        with anyio.fail_after(timeout):
            tls = await TLSStream.wrap(
                stream,
                server_side=False,
                hostname=server_hostname,
                ssl_context=ssl_context,
                standard_compatible=False,
            )
    except BaseException:
        await anyio.aclose_forcefully(stream)
        raise
    return AnyioStream(tls)


async def connect_tls(
    host: str,
    port: int,
    timeout: float | None,
    ssl_context: ssl.SSLContext,
    server_hostname: str | None,
) -> AnyioStream:
    """A TLS connection on anyio's TCP stream (its Happy Eyeballs), dial and handshake
    within ``timeout``. Raises ``OSError``/``ssl.SSLError`` or ``TimeoutError``; on
    failure or cancellation no socket is left open."""
    with anyio.fail_after(timeout):
        tcp = await anyio.connect_tcp(host, port)
        return await wrap_tls(tcp, ssl_context, server_hostname, None)
