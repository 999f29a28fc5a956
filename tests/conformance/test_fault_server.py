"""``FaultServer`` and its steps, seen from a plain socket client: what it reads (through
h11), the exact bytes it writes, and a stop that is bounded and leaves nothing behind."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from sdk_core import APIConnectionError
from sdk_transports.testing import (
    FAULTS,
    FaultServer,
    close,
    hang,
    read_head,
    read_request,
    refused_url,
    reset,
    respond,
    respond_chunked,
    send,
    serve,
    stall,
    unresponsive_listener,
)

pytestmark = pytest.mark.timeout(30)


def _connect(server: FaultServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def _read_all(sock: socket.socket) -> bytes:
    """Everything until EOF."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("FaultServer")]


def test_requests_are_parsed_by_h11() -> None:
    with FaultServer() as server:
        server.script(read_request(), read_request(), respond(201, b"{}"))
        with _connect(server) as sock:
            sock.sendall(
                b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX-One: 1\r\n\r\nabc"
                b"PUT /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"2\r\nde\r\n1\r\nf\r\n0\r\n\r\n"
            )
            assert sock.recv(65536).startswith(b"HTTP/1.1 201 Created\r\n")
        first, second = server.requests
    assert (first.method, first.target, first.body) == ("POST", "/a?x=1", b"abc")
    assert first.header("X-ONE") == "1"
    assert ("host", "h") in first.headers
    assert (second.method, second.target, second.body) == ("PUT", "/b", b"def")
    assert first.connection == second.connection == 1
    assert first.complete
    assert second.complete


def test_default_script_keeps_alive_and_answers_json() -> None:
    with FaultServer() as server, _connect(server) as sock:
        sock.sendall(b"GET /one HTTP/1.1\r\nHost: h\r\n\r\nHEAD /two HTTP/1.1\r\nHost: h\r\n\r\n")
        body = b'{"ok":true,"method":"GET","target":"/one","body_bytes":0}'
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/json\r\n\r\n"
        head_body = b'{"ok":true,"method":"HEAD","target":"/two","body_bytes":0}'
        expected = head % len(body) + body + head % len(head_body)  # HEAD: no body
        data = b""
        while len(data) < len(expected):
            data += sock.recv(65536)
        assert data == expected
        sock.sendall(b"GET /three HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        last = _read_all(sock)
        assert b"Connection: close\r\n" in last
        assert last.endswith(b'"target":"/three","body_bytes":0}')
        assert server.connections == 1
        assert [r.target for r in server.requests] == ["/one", "/two", "/three"]


def test_steps_write_exact_bytes_then_close() -> None:
    with FaultServer() as server:
        server.script(
            read_request(),
            respond_chunked([b"ab", b"", b"cde"], headers=[("X-A", "1")]),
            send(b"raw"),
            respond_chunked([b"z"], terminate=False, status=202),
        )
        with _connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            assert _read_all(sock) == (
                b"HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
                b"raw"
                b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n"
            )  # then EOF: the script ended
        assert server.wait_finished(1)


def test_respond_close_and_no_body_statuses() -> None:
    with FaultServer() as server:
        server.script(read_request(), respond(204), respond(404, b"nope", close=True))
        with _connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            assert _read_all(sock) == (
                b"HTTP/1.1 204 No Content\r\n\r\n"
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nContent-Type: application/json"
                b"\r\nConnection: close\r\n\r\nnope"
            )


def test_serve_then_close_is_a_stale_keep_alive_connection() -> None:
    with FaultServer() as server:
        server.script(serve(1), close())
        with _connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            data = _read_all(sock)
            assert data.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"Connection: close" not in data  # keep-alive advertised, then FIN


def test_read_head_leaves_the_body_unread() -> None:
    with FaultServer() as server:
        server.script(read_head(), respond(413, b"{}", close=True))
        with _connect(server) as sock:
            sock.sendall(b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\nxx")
            assert sock.recv(65536).startswith(b"HTTP/1.1 413 ")
        (request,) = server.requests
    assert (request.method, request.target, request.complete) == ("POST", "/up", False)


def test_reset_sends_rst() -> None:
    with FaultServer() as server:
        server.script(read_request(), reset())
        with _connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            with pytest.raises(ConnectionResetError):
                sock.recv(65536)


def test_stop_interrupts_stalls_and_hangs_and_leaves_nothing() -> None:
    # stop() raises when a thread outlives its join: a stall(60) it failed to cut short
    # would fail here, with no clock needed.
    before = len(_server_threads())
    socks: list[socket.socket] = []
    with FaultServer() as server:
        server.script(read_request(), stall(60))
        server.script(hang())
        for _ in range(3):  # the third one is blocked reading in the default script
            socks.append(_connect(server))
        socks[0].sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert server.wait_requests(1)
        assert server.wait_connections(3)
        assert len(_server_threads()) == before + 4  # the acceptor and three connections
    assert len(_server_threads()) == before
    for sock in socks:
        assert _read_all(sock) == b""  # the server side is closed
        sock.close()
    assert server.finished == 3


def test_script_and_steps_reject_bad_input() -> None:
    server = FaultServer()
    with pytest.raises(TypeError):
        server.script(b"not a step")  # type: ignore[arg-type]
    for seconds in (-1, 61, float("nan")):
        with pytest.raises(ValueError, match="stall"):
            stall(seconds)
    with pytest.raises(ValueError, match="serve"):
        serve(0)


def test_refused_url_refuses() -> None:
    url = refused_url()
    assert url == refused_url()  # one reserved port per process
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_unresponsive_listener_never_completes_a_connect() -> None:
    with unresponsive_listener() as listener:
        if not listener.connect_hangs:
            pytest.skip("this kernel completes connects to a full accept queue")
        with pytest.raises(TimeoutError):
            socket.create_connection(("127.0.0.1", listener.port), timeout=0.2)
        assert listener.url == f"http://127.0.0.1:{listener.port}"


def test_stop_raises_when_a_connection_thread_survives() -> None:
    class Stubborn(FaultServer):
        kind = "Stubborn"

        def serve_connection(self, slot: object, state: object) -> None:
            release.wait(10)  # ignores the stop

    release = threading.Event()
    server = Stubborn().start()
    try:
        _connect(server).close()
        assert server.wait_connections(1)
        server.join_timeout = 0.1
        with pytest.raises(RuntimeError, match="Stubborn threads did not stop"):
            server.stop()
    finally:
        release.set()
        for thread in threading.enumerate():
            if thread.name.startswith("Stubborn"):
                thread.join(5)


def test_tls_connections_are_served_and_recorded() -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with FaultServer(ssl_context=server_context) as server:
        assert server.url == f"https://127.0.0.1:{server.port}"
        with client_context.wrap_socket(_connect(server), server_hostname="127.0.0.1") as sock:
            sock.sendall(b"GET /tls HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            assert _read_all(sock).endswith(b'"target":"/tls","body_bytes":0}')
        assert [r.target for r in server.requests] == ["/tls"]
        with _connect(server) as plain:  # a client that does not speak TLS: the server
            plain.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")  # ends the connection
            try:
                answer = _read_all(plain)
            except ConnectionResetError:  # it closed with the request unread
                answer = b""
            assert answer == b""
        assert server.wait_finished(2)
    assert len(server.requests) == 1


def test_the_fault_table_names_classes_of_the_error_tree() -> None:
    for name, fault in FAULTS.items():
        assert issubclass(fault.expected, APIConnectionError), name
        assert fault.scripts, name
        assert fault.script == fault.scripts[0]
        for steps in fault.scripts:
            assert steps[0] == read_request(), f"{name}: every fault reads the request first"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("closed_before_response", b""),
        ("eof_in_content_length_body", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
        ("not_http", b"SSH-2.0-OpenSSH_9.6\r\nthis is not http\r\n\r\n"),
    ],
)
def test_a_fault_of_the_table_writes_its_exact_bytes_then_eof(name: str, expected: bytes) -> None:
    with FaultServer() as server:
        server.script(*FAULTS[name].script)
        with _connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            assert _read_all(sock) == expected
        assert server.wait_finished(1)
