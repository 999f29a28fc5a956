"""What the SocketTransport / AnyioTransport suites share: a user that sends through the
transport directly or through a client (``via``), byte-exact routes, a gate that holds
responses, a refused port, a full backlog, and a TLS server."""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from _support.raw_server import RawServer, keep_alive, ok_response

from sdk_core import APIError, PoolStatistics, Request, Response, Timeout
from sdk_transports import AnyioTransport, AsyncClient, Client, SocketTransport

#: Generous enough never to fire on a loaded machine, short enough to end a hang.
TIMEOUT = Timeout(5.0)
VIA = ["transport", "client"]
EMPTY = PoolStatistics(in_use=0, idle=0, waiting=0)


@dataclass(frozen=True)
class TLSMaterial:
    ca_file: str
    good: ssl.SSLContext  # a server certificate for 127.0.0.1 and localhost
    wrong_host: ssl.SSLContext  # a server certificate for wrong.example only


# -- one way to send, four ways to get there --------------------------------------------


class SyncUser:
    """A SocketTransport used directly or through a Client (no retries)."""

    def __init__(self, base_url: str, via: str, **transport_kwargs: Any) -> None:
        self.base_url = base_url
        self.transport = SocketTransport(**transport_kwargs)
        self.client = (
            Client(base_url, transport=self.transport, max_retries=0) if via == "client" else None
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        timeout: Timeout = TIMEOUT,
        content: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Response:
        if self.client is not None:
            return self.client.request(
                method, path, timeout=timeout, content=content or None, headers=headers
            )
        request = Request(method, self.base_url + path, content=content, headers=headers)
        return self.transport.handle_request(request, timeout)

    def statistics(self) -> PoolStatistics:
        if self.client is not None:
            assert self.client.statistics() == self.transport.statistics()
        return self.transport.statistics()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        self.transport.close()


class AsyncUser:
    """An AnyioTransport used directly or through an AsyncClient (no retries)."""

    def __init__(self, base_url: str, via: str, **transport_kwargs: Any) -> None:
        self.base_url = base_url
        self.transport = AnyioTransport(**transport_kwargs)
        self.client = (
            AsyncClient(base_url, transport=self.transport, max_retries=0)
            if via == "client"
            else None
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        timeout: Timeout = TIMEOUT,
        content: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Response:
        if self.client is not None:
            return await self.client.request(
                method, path, timeout=timeout, content=content or None, headers=headers
            )
        request = Request(method, self.base_url + path, content=content, headers=headers)
        return await self.transport.handle_async_request(request, timeout)

    def statistics(self) -> PoolStatistics:
        if self.client is not None:
            assert self.client.statistics() == self.transport.statistics()
        return self.transport.statistics()

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        await self.transport.aclose()


@contextlib.contextmanager
def sync_user(base_url: str, via: str, **transport_kwargs: Any) -> Iterator[SyncUser]:
    user = SyncUser(base_url, via, **transport_kwargs)
    try:
        yield user
    finally:
        user.close()


@contextlib.asynccontextmanager
async def async_user(base_url: str, via: str, **transport_kwargs: Any) -> AsyncIterator[AsyncUser]:
    user = AsyncUser(base_url, via, **transport_kwargs)
    try:
        yield user
    finally:
        await user.aclose()


def check_error(exc: BaseException, via: str) -> None:
    """What every error from these transports has in common.

    Used directly, the codec's and decoder's errors (RemoteProtocolError,
    ResponseTooLargeError) carry no ``request``; the client's ``Call`` fills it in.
    """
    assert isinstance(exc, APIError)
    if via == "client":
        assert exc.request is not None
        assert exc.attempts == 1  # max_retries=0


# -- byte-exact responses ---------------------------------------------------------------

GZIP_TEXT = b"hello, gzip! " * 500


@contextlib.contextmanager
def full_backlog() -> Iterator[str]:
    """A listener whose accept queue is full, so a new connect never completes.

    Linux drops the SYN of a connection the full queue cannot take; the client's SYN
    retransmits come after 1 s, past the connect timeouts used here. A probe confirms
    this on the running kernel, or the test is skipped.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(3):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except TimeoutError:
            pass
        else:
            pytest.skip("this kernel completes connects to a full backlog")
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


# -- TLS --------------------------------------------------------------------------------


@contextlib.contextmanager
def tls_server(context: ssl.SSLContext) -> Iterator[RawServer]:
    with RawServer(keep_alive(ok_response(b"secure")), ssl_context=context) as server:
        yield server
