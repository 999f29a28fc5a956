"""TLS failures are typed errors that say why, on every transport; verify=False stays local.

A real TLS server on 127.0.0.1 (``RawServer`` with an ssl context, certificates from
trustme) answers a fixed ``200 OK``. Each transport meets an untrusted CA, an expired
certificate and a certificate for another host: each is a ``ConnectError`` whose message
carries OpenSSL's reason. A trusted CA works.
"""

from __future__ import annotations

import datetime
import inspect
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from _support.raw_server import RawServer, keep_alive, ok_response

from sdk_core import ConnectError, Request, Timeout
from sdk_transports import (
    AnyioTransport,
    AsyncClient,
    AsyncHttpcoreTransport,
    Client,
    HttpcoreTransport,
    SocketTransport,
)

TIMEOUT = Timeout(5.0)
VERIFY_FAILED = "certificate verify failed"


@dataclass(frozen=True)
class Case:
    leaf: trustme.LeafCert
    verify: str  # the CA file the client trusts
    reasons: tuple[str, ...]  # one of them is in the message


@dataclass(frozen=True)
class Material:
    ca_file: str
    cases: dict[str, Case]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Material:
    directory: Path = tmp_path_factory.mktemp("tls")
    ca, stranger = trustme.CA(), trustme.CA()
    ca_file, stranger_file = str(directory / "ca.pem"), str(directory / "stranger.pem")
    ca.cert_pem.write_to_path(ca_file)
    stranger.cert_pem.write_to_path(stranger_file)
    past = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    return Material(
        ca_file,
        {
            "good": Case(ca.issue_cert("127.0.0.1", "localhost"), ca_file, ()),
            "untrusted_ca": Case(
                ca.issue_cert("127.0.0.1"), stranger_file, ("unable to get local issuer",)
            ),
            "expired": Case(
                ca.issue_cert(
                    "127.0.0.1", not_before=past - datetime.timedelta(days=30), not_after=past
                ),
                ca_file,
                ("expired",),
            ),
            "wrong_host": Case(
                ca.issue_cert("api.example.test"), ca_file, ("mismatch", "doesn't match")
            ),
        },
    )


def server_context(leaf: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return context


Serve = Callable[[trustme.LeafCert], RawServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[RawServer] = []

    def start(leaf: trustme.LeafCert) -> RawServer:
        server = RawServer(keep_alive(ok_response(b"hello")), ssl_context=server_context(leaf))
        servers.append(server.__enter__())
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


FAILURES = ["untrusted_ca", "expired", "wrong_host"]


def check_message(error: ConnectError, case: Case) -> None:
    message = str(error)
    assert VERIFY_FAILED in message, message
    assert any(reason in message for reason in case.reasons), message
    assert error.request_sent is False


# sync transports ---------------------------------------------------------------------------


SYNC: dict[str, Any] = {"socket": SocketTransport, "httpcore": HttpcoreTransport}


@pytest.mark.parametrize("kind", sorted(SYNC))
@pytest.mark.parametrize("failure", FAILURES)
def test_sync_verification_failures_say_why(
    kind: str, failure: str, tls: Material, serve: Serve
) -> None:
    case = tls.cases[failure]
    server = serve(case.leaf)
    transport = SYNC[kind](verify=case.verify)
    try:
        with pytest.raises(ConnectError) as caught:
            transport.handle_request(Request("GET", server.url + "/"), TIMEOUT)
    finally:
        transport.close()
    check_message(caught.value, case)


@pytest.mark.parametrize("kind", sorted(SYNC))
def test_sync_trusted_ca_works(kind: str, tls: Material, serve: Serve) -> None:
    case = tls.cases["good"]
    server = serve(case.leaf)
    transport = SYNC[kind](verify=case.verify)
    try:
        for _ in range(2):
            response = transport.handle_request(Request("GET", server.url + "/"), TIMEOUT)
            assert (response.status_code, response.content) == (200, b"hello")
    finally:
        transport.close()
    assert server.connections == 1  # the verified connection is kept alive and reused


# async transports --------------------------------------------------------------------------


ASYNC: dict[str, Any] = {"anyio": AnyioTransport, "httpcore": AsyncHttpcoreTransport}


@pytest.mark.anyio
@pytest.mark.parametrize("kind", sorted(ASYNC))
@pytest.mark.parametrize("failure", FAILURES)
async def test_async_verification_failures_say_why(
    kind: str, failure: str, tls: Material, serve: Serve
) -> None:
    case = tls.cases[failure]
    server = serve(case.leaf)
    transport = ASYNC[kind](verify=case.verify)
    try:
        with pytest.raises(ConnectError) as caught:
            await transport.handle_async_request(Request("GET", server.url + "/"), TIMEOUT)
    finally:
        await transport.aclose()
    check_message(caught.value, case)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", sorted(ASYNC))
async def test_async_trusted_ca_works(kind: str, tls: Material, serve: Serve) -> None:
    case = tls.cases["good"]
    server = serve(case.leaf)
    transport = ASYNC[kind](verify=case.verify)
    try:
        for _ in range(2):
            response = await transport.handle_async_request(
                Request("GET", server.url + "/"), TIMEOUT
            )
            assert (response.status_code, response.content) == (200, b"hello")
    finally:
        await transport.aclose()
    assert server.connections == 1


# verify=False never leaks into a verifying client -----------------------------------------


@pytest.mark.parametrize("client_class", [Client, AsyncClient])
def test_with_options_cannot_change_verification(client_class: Any) -> None:
    parameters = inspect.signature(client_class.with_options).parameters
    assert "verify" not in parameters
    assert "cert" not in parameters
    assert "transport" not in parameters


@pytest.mark.parametrize("transport", [None, "httpcore"])
def test_an_unverified_connection_is_never_reused_by_a_verifying_client(
    transport: str | None, tls: Material, serve: Serve
) -> None:
    # The server's CA is unknown to certifi: only verify=False gets through.
    server = serve(tls.cases["untrusted_ca"].leaf)
    unverified = Client(
        server.url,
        max_retries=0,
        verify=False,
        transport=HttpcoreTransport(verify=False) if transport else None,
    )
    verifying = Client(
        server.url, max_retries=0, transport=HttpcoreTransport() if transport else None
    )
    with unverified, verifying:
        assert unverified.get("/").content == b"hello"
        assert server.connections == 1
        assert unverified.with_options(timeout=3.0).get("/").content == b"hello"
        assert server.connections == 1  # the copy shares the unverified pool: one connection
        with pytest.raises(ConnectError) as caught:
            verifying.get("/")
        assert VERIFY_FAILED in str(caught.value)
        assert server.connections == 2  # its own connection, which failed verification
        assert verifying.statistics().idle == 0
        with pytest.raises(ConnectError):
            verifying.with_options(timeout=3.0).get("/")
        assert server.connections == 3
        assert unverified.get("/").content == b"hello"
        assert server.connections == 3


@pytest.mark.anyio
async def test_an_unverified_connection_is_never_reused_by_a_verifying_async_client(
    tls: Material, serve: Serve
) -> None:
    server = serve(tls.cases["untrusted_ca"].leaf)
    unverified = AsyncClient(server.url, max_retries=0, verify=False)
    verifying = AsyncClient(server.url, max_retries=0)
    async with unverified, verifying:
        assert (await unverified.get("/")).content == b"hello"
        assert server.connections == 1
        with pytest.raises(ConnectError) as caught:
            await verifying.get("/")
        assert VERIFY_FAILED in str(caught.value)
        assert server.connections == 2
        assert verifying.statistics().idle == 0
        assert (await unverified.get("/")).content == b"hello"
        assert server.connections == 2


# start_tls on each async backend's plain stream -------------------------------------------


@pytest.mark.anyio
async def test_start_tls_over_each_async_backends_plain_stream(tls: Material, serve: Serve) -> None:
    """TLS started over a connected plain stream (asyncio's ``loop.start_tls`` on the
    protocol stream; ``_backends._tls.AsyncTLSStream`` over trio's socket): the tunnel
    shape, a stream inside a stream. A certificate that does not verify raises and
    closes the stream."""
    import anyio

    from sdk_transports._backends import backend_for
    from sdk_transports._lifecycle import current_loop
    from sdk_transports._tls import make_ssl_context

    good, bad = tls.cases["good"], tls.cases["untrusted_ca"]
    backend = backend_for(current_loop())
    for case in (good, bad):
        server = serve(case.leaf)
        host, port = server.url.split("://", 1)[1].rsplit(":", 1)
        stream = await backend.connect_tcp(host, int(port), 5.0)
        assert stream.get_extra_info("ssl_object") is None
        context = make_ssl_context(case.verify)
        if case is bad:
            with pytest.raises(ssl.SSLError, match=VERIFY_FAILED):
                await stream.start_tls(context, "127.0.0.1", 5.0)
            with pytest.raises(anyio.ClosedResourceError):
                await stream.send(b"x", 1.0)
            continue
        secure = await stream.start_tls(context, "127.0.0.1", 5.0)
        assert secure.get_extra_info("ssl_object") is not None
        await secure.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 5.0)
        data = b""
        for _ in range(50):
            chunk = await secure.receive(65536, 5.0)
            data += chunk
            if not chunk or data.endswith(b"hello"):
                break
        assert data.startswith(b"HTTP/1.1 200")
        assert data.endswith(b"hello")
        assert not secure.is_stale()
        await secure.aclose()
