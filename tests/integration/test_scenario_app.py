"""ScenarioApp and run_server, exercised over real sockets with the stdlib client."""

from __future__ import annotations

import email.utils
import http.client
import json
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import anyio
import pytest

from sdk_transports.testing import ScenarioApp, ServerHandle, run_server

pytestmark = pytest.mark.integration

Server = ServerHandle[ScenarioApp]


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    server: Server,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def _reset(scenario_server: Server) -> None:
    assert call(scenario_server, "/reset", method="POST").json() == {"ok": True}


def test_fixture_serves_on_loopback(scenario_server: Server) -> None:
    assert scenario_server.url == f"http://127.0.0.1:{scenario_server.port}"
    with urllib.request.urlopen(scenario_server.url + "/echo", timeout=10) as response:
        assert response.status == 200


# /status ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error_type"),
    [(400, "invalid_request_error"), (429, "rate_limit_error"), (503, "server_error")],
)
def test_status_error_body(scenario_server: Server, code: int, error_type: str) -> None:
    reply = call(scenario_server, f"/status/{code}")
    assert reply.status == code
    assert reply.headers["content-type"] == "application/json"
    assert re.fullmatch(r"req_\w+", reply.headers["x-request-id"])
    error = reply.json()["error"]
    assert error["type"] == error_type
    assert isinstance(error["message"], str)
    assert isinstance(error["code"], str)
    assert call(scenario_server, f"/status/{code}?body=error").json() == reply.json()


def test_status_problem_body(scenario_server: Server) -> None:
    reply = call(scenario_server, "/status/409?body=problem")
    assert reply.status == 409
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["status"] == 409
    assert problem["title"] == "Conflict"  # http.HTTPStatus phrases (some vary by Python)
    assert problem["type"]
    assert problem["detail"]
    assert reply.headers["x-request-id"].startswith("req_")


def test_status_text_body(scenario_server: Server) -> None:
    reply = call(scenario_server, "/status/502?body=text")
    assert reply.status == 502
    assert reply.headers["content-type"].startswith("text/plain")
    assert reply.body
    with pytest.raises(json.JSONDecodeError):
        reply.json()


def test_status_empty_body(scenario_server: Server) -> None:
    reply = call(scenario_server, "/status/500?body=empty")
    assert reply.status == 500
    assert reply.body == b""
    assert reply.headers["content-length"] == "0"
    assert reply.headers["x-request-id"].startswith("req_")
    assert call(scenario_server, "/status/204").body == b""


def test_status_huge_body(scenario_server: Server) -> None:
    reply = call(scenario_server, "/status/500?body=huge")
    assert reply.status == 500
    assert len(reply.body) == 1024 * 1024
    assert int(reply.headers["content-length"]) == len(reply.body)
    with pytest.raises(json.JSONDecodeError):
        reply.json()


@pytest.mark.parametrize("path", ["/status/abc", "/status/99", "/status/200?body=nope"])
def test_status_rejects_bad_parameters(scenario_server: Server, path: str) -> None:
    reply = call(scenario_server, path)
    assert reply.status == 400
    assert reply.json()["error"]["code"] == "bad_scenario_parameter"


def test_request_ids_are_sequential_after_reset(scenario_server: Server) -> None:
    ids = [call(scenario_server, "/status/500").headers["x-request-id"] for _ in range(3)]
    assert ids == ["req_1", "req_2", "req_3"]


# keyed routes --------------------------------------------------------------------------


def test_flaky_fails_n_times_then_succeeds(scenario_server: Server) -> None:
    replies = [call(scenario_server, "/flaky/a?fail=2") for _ in range(3)]
    assert [r.status for r in replies] == [503, 503, 200]
    assert replies[0].json()["error"]["type"] == "server_error"
    assert replies[2].json() == {"ok": True, "attempt": 3}


def test_flaky_status_and_zero_failures(scenario_server: Server) -> None:
    assert call(scenario_server, "/flaky/s?fail=1&status=500").status == 500
    assert call(scenario_server, "/flaky/z?fail=0").json() == {"ok": True, "attempt": 1}


def test_counters_are_per_key(scenario_server: Server) -> None:
    assert call(scenario_server, "/flaky/one").status == 503
    assert call(scenario_server, "/flaky/one").status == 200
    assert call(scenario_server, "/flaky/two").status == 503
    assert call(scenario_server, "/retry-after/one").status == 429
    assert call(scenario_server, "/flaky/two").json() == {"ok": True, "attempt": 2}


def test_retry_after_seconds(scenario_server: Server) -> None:
    first = call(scenario_server, "/retry-after/k?seconds=2")
    assert first.status == 429
    assert first.headers["retry-after"] == "2"
    assert first.headers["retry-after-ms"] is None
    assert first.json()["error"]["type"] == "rate_limit_error"
    second = call(scenario_server, "/retry-after/k?seconds=2")
    assert second.status == 200
    assert second.json() == {"ok": True, "attempt": 2}


def test_retry_after_ms(scenario_server: Server) -> None:
    first = call(scenario_server, "/retry-after/k?ms=1500")
    assert first.status == 429
    assert first.headers["retry-after-ms"] == "1500"
    assert first.headers["retry-after"] is None
    assert call(scenario_server, "/retry-after/k?ms=1500").status == 200


def test_retry_after_http_date(scenario_server: Server) -> None:
    first = call(scenario_server, "/retry-after/k?date=1&seconds=30")
    assert first.status == 429
    when = email.utils.parsedate_to_datetime(first.headers["retry-after"])
    ahead = (when - datetime.now(timezone.utc)).total_seconds()
    assert 25 <= ahead <= 31
    assert call(scenario_server, "/retry-after/k?date=1&seconds=30").status == 200


@pytest.mark.parametrize(("value", "status"), [("true", 400), ("false", 503)])
def test_should_retry(scenario_server: Server, value: str, status: int) -> None:
    first = call(scenario_server, f"/should-retry/k?value={value}&status={status}")
    assert first.status == status
    assert first.headers["x-should-retry"] == value
    assert "error" in first.json()
    second = call(scenario_server, f"/should-retry/k?value={value}&status={status}")
    assert second.status == 200
    assert second.headers["x-should-retry"] is None


def test_should_retry_defaults(scenario_server: Server) -> None:
    first = call(scenario_server, "/should-retry/d")
    assert (first.status, first.headers["x-should-retry"]) == (400, "true")


def test_log_records_keyed_requests(scenario_server: Server) -> None:
    call(scenario_server, "/flaky/k", method="POST", headers={"Idempotency-Key": "ik-1"})
    call(scenario_server, "/flaky/k", method="PUT", headers={"X-Custom": "yes"})
    call(scenario_server, "/flaky/other")
    log = call(scenario_server, "/log/k").json()
    assert [entry["method"] for entry in log] == ["POST", "PUT"]
    assert [entry["idempotency_key"] for entry in log] == ["ik-1", None]
    assert log[0]["headers"]["idempotency-key"] == "ik-1"
    assert log[1]["headers"]["x-custom"] == "yes"
    assert call(scenario_server, "/log/never-used").json() == []


def test_log_spans_keyed_routes(scenario_server: Server) -> None:
    call(scenario_server, "/retry-after/k")
    call(scenario_server, "/should-retry/k")
    paths = [entry["path"] for entry in call(scenario_server, "/log/k").json()]
    assert paths == ["/retry-after/k", "/should-retry/k"]


def test_reset_clears_counters_and_logs(scenario_server: Server) -> None:
    assert call(scenario_server, "/flaky/r").status == 503
    assert call(scenario_server, "/reset").status == 200
    assert call(scenario_server, "/log/r").json() == []
    assert call(scenario_server, "/flaky/r").status == 503


# slow routes ---------------------------------------------------------------------------


def test_slow_headers_delays_the_response(scenario_server: Server) -> None:
    delay = 0.3
    started = time.monotonic()
    reply = call(scenario_server, f"/slow-headers?delay={delay}")
    assert time.monotonic() - started >= delay * 0.8
    assert reply.status == 200
    assert reply.json()["ok"] is True


def test_slow_body_sends_headers_before_the_delay(scenario_server: Server) -> None:
    delay = 0.3
    conn = http.client.HTTPConnection("127.0.0.1", scenario_server.port, timeout=10)
    try:
        conn.request("GET", f"/slow-body?delay={delay}")
        response = conn.getresponse()  # returns once the status line and headers are in
        headers_at = time.monotonic()
        length = int(response.headers["content-length"])
        first = response.read(1)
        body = first + response.read()
        body_at = time.monotonic()
    finally:
        conn.close()
    assert response.status == 200
    assert len(body) == length
    assert json.loads(body)["ok"] is True
    # If the headers had waited for the delay, the body would follow at once.
    assert body_at - headers_at >= delay * 0.8


@pytest.mark.parametrize("path", ["/slow-headers?delay=-1", "/slow-body?delay=inf"])
def test_slow_routes_reject_bad_delays(scenario_server: Server, path: str) -> None:
    assert call(scenario_server, path).status == 400


# /echo and unknown routes -------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_echo_any_method(scenario_server: Server, method: str) -> None:
    assert call(scenario_server, "/echo", method=method).json()["method"] == method


def test_echo_reflects_the_request(scenario_server: Server) -> None:
    body = '{"text": "héllo"}' + " " * 200_000  # arrives in several ASGI body chunks
    reply = call(
        scenario_server,
        "/echo?a=1&b=two",
        method="POST",
        body=body.encode(),
        headers={"X-Custom": "v1", "Content-Type": "application/json"},
    )
    echoed = reply.json()
    assert reply.status == 200
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/echo"
    assert echoed["query"] == "a=1&b=two"
    assert ["x-custom", "v1"] in echoed["headers"]
    assert ["content-type", "application/json"] in echoed["headers"]
    assert echoed["body"] == body


def test_unknown_route_is_404_json(scenario_server: Server) -> None:
    for path in ["/nope", "/flaky", "/flaky/a/b", "/"]:
        reply = call(scenario_server, path)
        assert reply.status == 404, path
        assert reply.json()["error"]["type"] == "not_found_error"


def test_urllib_sees_error_statuses(scenario_server: Server) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(scenario_server.url + "/status/418", timeout=10)
    with caught.value as error:
        assert error.code == 418
        assert json.loads(error.read())["error"]["code"] == "im_a_teapot"


# run_server lifecycle -----------------------------------------------------------------


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def _port_is_free(port: int) -> bool:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
    try:
        probe.bind(("127.0.0.1", port))
        probe.listen()
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _open_fds() -> int:
    """How many file descriptors this process holds (0 where /proc is missing)."""
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


def test_stop_releases_port_and_thread() -> None:
    threads_before, fds_before = set(threading.enumerate()), _open_fds()
    server = run_server(ScenarioApp())
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
    server.start()
    port = server.port
    assert server.url == f"http://127.0.0.1:{port}"
    assert call(server, "/echo").status == 200
    assert not _port_is_free(port)
    server.stop()
    assert not server.running
    assert _refuses_connections(port)
    assert _port_is_free(port)
    assert set(threading.enumerate()) <= threads_before
    assert _open_fds() <= fds_before
    server.stop()  # idempotent


def test_context_manager_and_restart() -> None:
    app = ScenarioApp()
    with run_server(app) as server:
        assert call(server, "/flaky/x").status == 503
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
    assert not server.running
    with server:  # a stopped handle can serve again, on a fresh port, same app state
        assert call(server, "/flaky/x").json() == {"ok": True, "attempt": 2}


def test_stop_closes_idle_keep_alive_connections() -> None:
    server = run_server(ScenarioApp(), graceful_timeout=0.5).start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/echo")
        response = conn.getresponse()
        response.read()  # the connection now idles in keep-alive
        assert not response.will_close
        server.stop()
        # stop() cancels a server that outlives graceful_timeout + force_stop_margin;
        # an idle connection must not push it there.
        assert not server.forced_stop
        assert conn.sock is not None
        assert conn.sock.recv(1) == b""  # the server closed its end
    finally:
        conn.close()
    assert not server.running


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def _failing_startup(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "refused on purpose"})


def test_start_reports_a_failed_startup() -> None:
    threads_before, fds_before = set(threading.enumerate()), _open_fds()
    server = run_server(_failing_startup)
    with pytest.raises(RuntimeError, match="during startup") as caught:
        server.start()
    assert "refused on purpose" in str(caught.value.__cause__)
    assert not server.running
    assert set(threading.enumerate()) <= threads_before
    assert _open_fds() <= fds_before  # the bound socket is closed too


async def _never_starts(scope: Scope, receive: Receive, send: Send) -> None:
    await anyio.sleep(3600)  # hangs in lifespan startup, so nothing ever listens


def test_start_times_out_and_cleans_up() -> None:
    threads_before, fds_before = set(threading.enumerate()), _open_fds()
    server = run_server(_never_starts, startup_timeout=0.2, graceful_timeout=0.0)
    server.force_stop_margin = 0.2  # the hung startup needs the forced stop
    with pytest.raises(TimeoutError, match="did not accept connections"):
        server.start()
    assert not server.running
    assert set(threading.enumerate()) <= threads_before
    assert _open_fds() <= fds_before
