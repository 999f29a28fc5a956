"""A connection that cannot be opened is a ``ConnectError`` that says why, on every
transport and loop; a name that does not exist is not retried; a connect timeout of 0
is a ``ConnectTimeout`` everywhere.

DNS answers are injected by replacing ``socket.getaddrinfo`` in this process (every
transport resolves through it: directly, through asyncio's ``loop.getaddrinfo`` or
through trio's resolver thread) for the reserved name ``api.example.test`` (RFC 2606),
so each ``getaddrinfo`` error code is tested without a network. One test uses the real
resolver for ``nonexistent.invalid``: a resolver answers NXDOMAIN for ``.invalid``
without asking anyone; where this machine's resolver gives another answer (it cannot
reach a server at all), that test injects NXDOMAIN and says so in its output.
"""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trio

from sdk_core import APIError, APITimeoutError, ConnectError, ConnectTimeout, Request, Timeout
from sdk_transports import (
    AnyioTransport,
    AsyncClient,
    AsyncHttpcoreTransport,
    Client,
    HttpcoreTransport,
    SocketTransport,
)
from sdk_transports._connect_errors import connect_error, reasons
from sdk_transports.testing import FaultServer, hang, read_request, refused_url, serve

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

FAKE_HOST = "api.example.test"
SYNC: dict[str, Callable[[], Any]] = {"socket": SocketTransport, "httpcore": HttpcoreTransport}
ASYNC: dict[str, Callable[[], Any]] = {
    "anyio": AnyioTransport,
    "httpcore": AsyncHttpcoreTransport,
}
TIMEOUT = Timeout(5.0)
#: getaddrinfo code -> (its message, whether another attempt may change the answer)
DNS_ANSWERS = {
    socket.EAI_NONAME: ("Name or service not known", False),
    socket.EAI_NODATA: ("No address associated with hostname", False),
    socket.EAI_FAIL: ("Non-recoverable failure in name resolution", False),
    socket.EAI_AGAIN: ("Temporary failure in name resolution", True),
}


async def no_sleep(_: float) -> None:
    return None


Resolve = Callable[[str, Callable[[], object]], None]


@pytest.fixture
def resolve(monkeypatch: pytest.MonkeyPatch) -> Resolve:
    """``resolve(host, answer)``: ``socket.getaddrinfo(host, ...)`` returns (or raises
    from) ``answer()``; other names resolve as before."""
    real = socket.getaddrinfo
    answers: dict[str, Callable[[], object]] = {}

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode("ascii") if isinstance(host, bytes) else host
        if name in answers:
            return answers[name]()
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers.__setitem__


def failing(code: int) -> Callable[[], object]:
    def answer() -> object:
        raise socket.gaierror(code, DNS_ANSWERS[code][0])

    return answer


# -- DNS: a permanent failure is not retried, a temporary one is -------------------------


@pytest.mark.parametrize("code", sorted(DNS_ANSWERS))
@pytest.mark.parametrize("kind", sorted(SYNC))
def test_sync_dns_failure(kind: str, code: int, resolve: Resolve) -> None:
    message, temporary = DNS_ANSWERS[code]
    resolve(FAKE_HOST, failing(code))
    with (
        Client(
            f"http://{FAKE_HOST}", transport=SYNC[kind](), max_retries=2, sleep=lambda _: None
        ) as client,
        pytest.raises(ConnectError) as caught,
    ):
        client.get("/")
    check_dns_error(caught.value, message, temporary)


@pytest.mark.anyio
@pytest.mark.parametrize("code", sorted(DNS_ANSWERS))
@pytest.mark.parametrize("kind", sorted(ASYNC))
async def test_async_dns_failure(kind: str, code: int, resolve: Resolve) -> None:
    message, temporary = DNS_ANSWERS[code]
    resolve(FAKE_HOST, failing(code))
    async with AsyncClient(
        f"http://{FAKE_HOST}", transport=ASYNC[kind](), max_retries=2, sleep=no_sleep
    ) as client:
        with pytest.raises(ConnectError) as caught:
            await client.get("/")
    check_dns_error(caught.value, message, temporary)


def check_dns_error(error: ConnectError, message: str, temporary: bool) -> None:
    text = str(error)
    assert text.startswith(f"connecting to {FAKE_HOST}:80 failed: "), text
    assert message in text, text
    assert error.retryable is temporary
    assert error.request_sent is False
    assert error.attempts == (3 if temporary else 1)


@pytest.fixture
def invalid_name(resolve: Resolve) -> str:
    """``nonexistent.invalid`` (RFC 2606), answered NXDOMAIN by an injected resolver: a
    test never asks the machine's resolver, which may send the query off this host."""
    resolve("nonexistent.invalid", failing(socket.EAI_NONAME))
    return "nonexistent.invalid"


@pytest.mark.parametrize("kind", sorted(SYNC))
def test_sync_unknown_host_is_not_retried(kind: str, invalid_name: str) -> None:
    with (
        Client(
            f"http://{invalid_name}", transport=SYNC[kind](), max_retries=2, sleep=lambda _: None
        ) as client,
        pytest.raises(ConnectError) as caught,
    ):
        client.get("/")
    assert (caught.value.attempts, caught.value.retryable) == (1, False), caught.value


@pytest.mark.anyio
@pytest.mark.parametrize("kind", sorted(ASYNC))
async def test_async_unknown_host_is_not_retried(kind: str, invalid_name: str) -> None:
    async with AsyncClient(
        f"http://{invalid_name}", transport=ASYNC[kind](), max_retries=2, sleep=no_sleep
    ) as client:
        with pytest.raises(ConnectError) as caught:
            await client.get("/")
    assert (caught.value.attempts, caught.value.retryable) == (1, False), caught.value


# -- the message says why ---------------------------------------------------------------


def check_refused(error: BaseException, url: str) -> None:
    assert type(error) is ConnectError, error
    host_port = url.split("://", 1)[1]
    text = str(error)
    assert text.startswith(f"connecting to {host_port} failed: "), text
    assert f"[Errno {errno.ECONNREFUSED}]" in text, text
    assert "All connection attempts failed" not in text, text
    assert error.retryable is True


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("kind", sorted(SYNC))
def test_sync_refused_says_so(kind: str, scheme: str) -> None:
    url = refused_url().replace("http", scheme, 1)
    transport = SYNC[kind]()
    try:
        with pytest.raises(ConnectError) as caught:
            transport.handle_request(Request("GET", url + "/"), TIMEOUT)
    finally:
        transport.close()
    check_refused(caught.value, url)


@pytest.mark.anyio
@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("kind", sorted(ASYNC))
async def test_async_refused_says_so(kind: str, scheme: str) -> None:
    url = refused_url().replace("http", scheme, 1)
    transport = ASYNC[kind]()
    try:
        with pytest.raises(ConnectError) as caught:
            await transport.handle_async_request(Request("GET", url + "/"), TIMEOUT)
    finally:
        await transport.aclose()
    check_refused(caught.value, url)


@pytest.mark.parametrize("kind", sorted(ASYNC))
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_trio_out_of_descriptors_says_so(
    kind: str, scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On trio (anyio's ``connect_tcp`` for AnyioTransport, ``trio.open_tcp_stream`` for
    AsyncHttpcoreTransport) a socket that cannot be made (EMFILE) was reported as "All
    connection attempts failed"."""

    def no_descriptors(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EMFILE, "Too many open files")

    async def call() -> BaseException:
        transport = ASYNC[kind]()
        monkeypatch.setattr(trio.socket, "socket", no_descriptors)
        # trio.open_tcp_stream (httpcore's trio backend) holds its own reference.
        monkeypatch.setattr(trio._highlevel_open_tcp_stream, "socket", no_descriptors)
        try:
            await transport.handle_async_request(
                Request("GET", f"{scheme}://127.0.0.1:9/"), TIMEOUT
            )
        except APIError as exc:
            return exc
        finally:
            monkeypatch.undo()
            await transport.aclose()
        raise AssertionError("the request was sent")

    error = trio.run(call)
    assert type(error) is ConnectError, error
    assert str(error).startswith("connecting to 127.0.0.1:9 failed: [Errno 24] Too many"), error


def test_wrapped_reasons_are_dug_out() -> None:
    """The shapes anyio and httpcore wrap a reason in."""
    request = Request("GET", "https://api.example.test/")
    emfile = OSError(errno.EMFILE, "Too many open files")
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    anyio_one = OSError("All connection attempts failed")
    anyio_one.__cause__ = emfile
    anyio_many = OSError("All connection attempts failed")
    anyio_many.__cause__ = ExceptionGroup("multiple connection attempts failed", [emfile, refused])
    dropped = RuntimeError(anyio_many)  # httpcore's ConnectError(exc), raised "from None"
    assert reasons(anyio_one) == [emfile]
    assert reasons(dropped) == [emfile, refused]
    message = str(connect_error(dropped, request))
    assert message.startswith(
        "connecting to api.example.test:443 failed: "
        "[Errno 24] Too many open files; [Errno 111] Connection refused"
    ), message
    nxdomain = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert connect_error(nxdomain, request).retryable is False
    assert connect_error(ExceptionGroup("x", [nxdomain, refused]), request).retryable is True


# -- a connect timeout of 0 --------------------------------------------------------------


@pytest.fixture
def hanging_server() -> Iterator[FaultServer]:
    """Serves one request per connection; the second request on it gets no answer."""
    with FaultServer(default=(serve(1), read_request(), hang())) as server:
        yield server


@pytest.mark.parametrize("kind", sorted(SYNC))
def test_sync_zero_timeout(kind: str, hanging_server: FaultServer) -> None:
    transport = SYNC[kind]()
    url = hanging_server.url + "/"
    try:
        with pytest.raises(APIError) as fresh:
            transport.handle_request(Request("GET", url), Timeout(0))
        assert type(fresh.value) is ConnectTimeout, fresh.value
        transport.handle_request(Request("GET", url), TIMEOUT)  # a pooled connection
        with pytest.raises(APIError) as pooled:
            transport.handle_request(Request("GET", url), Timeout(0))
        assert isinstance(pooled.value, APITimeoutError), pooled.value
    finally:
        transport.close()
    with (
        Client(
            hanging_server.url, transport=SYNC[kind](), max_retries=1, sleep=lambda _: None
        ) as client,
        pytest.raises(APIError) as through_client,
    ):
        client.get("/", timeout=0)
    assert type(through_client.value) is ConnectTimeout, through_client.value
    assert through_client.value.attempts == 2


@pytest.mark.anyio
@pytest.mark.parametrize("kind", sorted(ASYNC))
async def test_async_zero_timeout(kind: str, hanging_server: FaultServer) -> None:
    transport = ASYNC[kind]()
    url = hanging_server.url + "/"
    try:
        with pytest.raises(APIError) as fresh:
            await transport.handle_async_request(Request("GET", url), Timeout(0))
        assert type(fresh.value) is ConnectTimeout, fresh.value
        await transport.handle_async_request(Request("GET", url), TIMEOUT)
        with pytest.raises(APIError) as pooled:
            await transport.handle_async_request(Request("GET", url), Timeout(0))
        assert isinstance(pooled.value, APITimeoutError), pooled.value
    finally:
        await transport.aclose()
    async with AsyncClient(
        hanging_server.url, transport=ASYNC[kind](), max_retries=1, sleep=no_sleep
    ) as client:
        with pytest.raises(APIError) as through_client:
            await client.get("/", timeout=0)
    assert type(through_client.value) is ConnectTimeout, through_client.value
    assert through_client.value.attempts == 2
