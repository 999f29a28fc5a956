"""Fixtures the transport tests share: a ScenarioApp per module, TLS material, byte-exact
routes and a gate."""

from __future__ import annotations

import gzip
import ssl
from collections.abc import Iterator

import pytest
import trustme
from _socket_users import GZIP_TEXT, TLSMaterial
from _support.raw_server import RawConnection, RawServer, ok_response

from sdk_transports.testing import ScenarioApp, ServerHandle, run_server

# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scenario() -> Iterator[ServerHandle[ScenarioApp]]:
    """A ``ScenarioApp`` on hypercorn for this module (stateless routes only)."""
    with run_server(ScenarioApp()) as server:
        yield server


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    def server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        return context

    return TLSMaterial(
        ca_file=str(ca_file),
        good=server_context(ca.issue_cert("127.0.0.1", "localhost")),
        wrong_host=server_context(ca.issue_cert("wrong.example")),
    )


NO_BODY_LENGTH = b"Content-Length: 1000\r\n"


def _routes(conn: RawConnection) -> None:
    """Keep-alive; answers by request line: HEAD, /204, /304 (all declaring a length
    they do not send), /gzip, /sized/N; anything else is ``200 ok``."""
    while (request := conn.read_request()) is not None:
        line = request.split(b"\r\n", 1)[0]
        method, target, _ = line.split(b" ")
        if method == b"HEAD":
            conn.send(b"HTTP/1.1 200 OK\r\n" + NO_BODY_LENGTH + b"\r\n")
        elif target == b"/204":
            conn.send(b"HTTP/1.1 204 No Content\r\n" + NO_BODY_LENGTH + b"\r\n")
        elif target == b"/304":
            conn.send(b"HTTP/1.1 304 Not Modified\r\n" + NO_BODY_LENGTH + b"\r\n")
        elif target == b"/gzip":
            conn.send(ok_response(gzip.compress(GZIP_TEXT), headers=b"Content-Encoding: gzip\r\n"))
        elif target.startswith(b"/sized/"):
            conn.send(ok_response(b"x" * int(target.rsplit(b"/", 1)[1])))
        else:
            conn.send(ok_response(b"after"))


@pytest.fixture
def routes() -> Iterator[RawServer]:
    with RawServer(_routes) as server:
        yield server
