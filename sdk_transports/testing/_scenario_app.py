"""A scriptable ASGI 3 application that plays back HTTP failure scenarios.

The app is pure ASGI: it needs no framework, only a server (see ``run_server``).
Delays use ``anyio.sleep`` so the app runs under asyncio and trio workers alike.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import anyio

__all__ = ["ASGIApp", "Message", "Receive", "ScenarioApp", "Scope", "Send"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Headers = list[tuple[bytes, bytes]]

_JSON = "application/json"
_PROBLEM_JSON = "application/problem+json"
_TEXT = "text/plain; charset=utf-8"
_HUGE_SIZE = 1024 * 1024
_HUGE_CHUNK = 64 * 1024
_SLOW_BODY = b'{"ok": true, "route": "slow-body", "padding": "' + b"." * 64 + b'"}'
_DEFAULT_DELAY = 1.0

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "unprocessable_entity_error",
    429: "rate_limit_error",
}


class _BadRequest(Exception):
    """A query parameter could not be used; the app answers 400."""


class _Disconnected(Exception):
    """The client went away before the request body was complete."""


@dataclass
class _Request:
    method: str
    path: str
    query_string: str
    query: dict[str, str]
    headers: Headers
    body: bytes

    def header(self, name: bytes) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None

    def header_dict(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for key, value in self.headers:
            name, text = key.decode("latin-1"), value.decode("latin-1")
            merged[name] = f"{merged[name]}, {text}" if name in merged else text
        return merged


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str | None = _JSON
    headers: Headers = field(default_factory=list)


@dataclass
class _State:
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)
    logs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sequence: int = 0


def _json(status: int, payload: Any, headers: Headers | None = None) -> _Response:
    return _Response(status, json.dumps(payload).encode(), _JSON, headers or [])


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown Status"


def _error_type(status: int) -> str:
    if status >= 500:
        return "server_error"
    return _ERROR_TYPES.get(status, "api_error")


def _error_code(status: int) -> str:
    try:
        return HTTPStatus(status).name.lower()
    except ValueError:
        return f"status_{status}"


def _error(
    status: int, message: str, *, code: str | None = None, headers: Headers | None = None
) -> _Response:
    error = {"message": message, "type": _error_type(status), "code": code or _error_code(status)}
    return _json(status, {"error": error}, headers)


def _status_param(request: _Request, default: int) -> int:
    raw = request.query.get("status")
    return default if raw is None else _status_code(raw)


def _status_code(raw: str) -> int:
    try:
        status = int(raw)
    except ValueError:
        raise _BadRequest(f"status must be an integer, got {raw!r}") from None
    if not 200 <= status <= 599:
        raise _BadRequest(f"status must be within 200..599, got {status}")
    return status


def _number(request: _Request, name: str, default: float) -> float:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise _BadRequest(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise _BadRequest(f"{name} must be a finite number >= 0, got {raw!r}")
    return value


def _integer(request: _Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise _BadRequest(f"{name} must be an integer >= 0, got {raw!r}")
    return int(raw)


def _header_value(request: _Request, name: str, default: str) -> bytes:
    raw = request.query.get(name, default)
    if not raw.isprintable() or not raw.isascii():
        raise _BadRequest(f"{name} must be printable ASCII")
    return raw.encode("ascii")


def _has_body(status: int) -> bool:
    return status not in (204, 304)


class ScenarioApp:
    """ASGI 3 app whose routes script failures, retries and slow responses.

    State (attempt counters, request logs, the ``x-request-id`` sequence) lives on the
    instance; ``/reset`` clears it. Bad query parameters are answered with 400,
    unknown paths with 404; the app itself raises nothing for HTTP requests.
    """

    def __init__(self) -> None:
        self._state = _State()

    def reset(self) -> None:
        """Clear attempt counters, request logs and the request-id sequence."""
        self._state = _State()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope.

        Raises:
            ValueError: for a scope type other than ``http``, ``lifespan`` or ``websocket``.
        """
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)
        elif kind == "websocket":
            await _refuse_websocket(receive, send)
        else:
            raise ValueError(f"unsupported ASGI scope type {kind!r}")

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            request = await _read_request(scope, receive)
        except _Disconnected:
            return
        self._state.sequence += 1
        request_id = f"req_{self._state.sequence}".encode("ascii")
        parts = request.path.strip("/").split("/")
        try:
            await self._dispatch(request, parts, request_id, send)
        except _BadRequest as exc:
            await _send(send, _error(400, str(exc), code="bad_scenario_parameter"), request_id)

    async def _dispatch(
        self, request: _Request, parts: list[str], request_id: bytes, send: Send
    ) -> None:
        route, args = parts[0], parts[1:]
        if route == "slow-body" and not args:
            await _slow_body(request, request_id, send)
            return
        if route == "sse" and not args:
            await _sse(request, request_id, send)
            return
        if route == "slow-headers" and not args:
            await anyio.sleep(_number(request, "delay", _DEFAULT_DELAY))
            await _send(send, _json(200, {"ok": True, "route": "slow-headers"}), request_id)
            return
        await _send(send, self._route(request, route, args), request_id)

    def _route(self, request: _Request, route: str, args: list[str]) -> _Response:
        if route == "status" and len(args) == 1:
            return _status_route(request, args[0])
        if route in ("flaky", "retry-after", "should-retry") and len(args) == 1 and args[0]:
            return self._keyed(request, route, args[0])
        if route == "echo" and not args:
            return _echo(request)
        if route == "log" and len(args) == 1:
            return _json(200, self._state.logs.get(args[0], []))
        if route == "reset" and not args:
            self.reset()
            return _json(200, {"ok": True})
        return _error(404, f"no scenario route for {request.path}", code="route_not_found")

    def _keyed(self, request: _Request, route: str, key: str) -> _Response:
        # Parameters are checked before the attempt is counted, so a 400 costs nothing.
        if route == "flaky":
            failures, status = _integer(request, "fail", 1), _status_param(request, 503)
            headers: Headers = []
        elif route == "retry-after":
            failures, status, headers = 1, 429, _retry_after_headers(request)
        else:
            failures, status = 1, _status_param(request, 400)
            headers = [(b"x-should-retry", _header_value(request, "value", "true"))]
        attempt = self._record(request, route, key)
        if attempt > failures:
            return _json(200, {"ok": True, "attempt": attempt})
        message = f"{route} scenario: attempt {attempt} of {failures} failing"
        return _error(status, message, code=route.replace("-", "_"), headers=headers)

    def _record(self, request: _Request, route: str, key: str) -> int:
        self._state.logs.setdefault(key, []).append(
            {
                "method": request.method,
                "path": request.path,
                "idempotency_key": request.header(b"idempotency-key"),
                "headers": request.header_dict(),
            }
        )
        attempt = self._state.attempts.get((route, key), 0) + 1
        self._state.attempts[(route, key)] = attempt
        return attempt


def _retry_after_headers(request: _Request) -> Headers:
    headers: Headers = []
    if request.query.get("date") == "1":
        ahead = _number(request, "seconds", 1.0)
        headers.append((b"retry-after", formatdate(time.time() + ahead, usegmt=True).encode()))
    elif "seconds" in request.query or "ms" not in request.query:
        headers.append((b"retry-after", _header_value(request, "seconds", "1")))
    if "ms" in request.query:
        headers.append((b"retry-after-ms", _header_value(request, "ms", "")))
    return headers


def _status_route(request: _Request, raw_code: str) -> _Response:
    status = _status_code(raw_code)
    kind = request.query.get("body", "error")
    if kind == "error":
        response = _error(status, f"scenario status {status} {_phrase(status)}")
    elif kind == "problem":
        problem = {
            "type": f"https://example.com/problems/status-{status}",
            "title": _phrase(status),
            "status": status,
            "detail": f"scenario problem for status {status}",
            "instance": request.path,
        }
        response = _Response(status, json.dumps(problem).encode(), _PROBLEM_JSON)
    elif kind == "text":
        text = f"Scenario says {_phrase(status)} ({status}) in plain text.\n"
        response = _Response(status, text.encode(), _TEXT)
    elif kind == "empty":
        response = _Response(status, b"", None)
    elif kind == "huge":
        line = b"not json: this scenario body is deliberately huge " + b"x" * 77 + b"\n"
        body = (line * (_HUGE_SIZE // len(line) + 1))[:_HUGE_SIZE]
        response = _Response(status, body, _TEXT)
    else:
        raise _BadRequest(f"body must be error|problem|text|empty|huge, got {kind!r}")
    if not _has_body(status):
        response.body, response.content_type = b"", None
    return response


def _echo(request: _Request) -> _Response:
    payload = {
        "method": request.method,
        "path": request.path,
        "query": request.query_string,
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.headers],
        "body": request.body.decode("utf-8", errors="replace"),
    }
    return _json(200, payload)


async def _read_request(scope: Scope, receive: Receive) -> _Request:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunks.append(bytes(message.get("body", b"")))
        if not message.get("more_body", False):
            break
    query_string = bytes(scope.get("query_string", b"")).decode("latin-1")
    return _Request(
        method=str(scope["method"]),
        path=str(scope["path"]),
        query_string=query_string,
        query=dict(parse_qsl(query_string, keep_blank_values=True)),
        headers=[(bytes(k).lower(), bytes(v)) for k, v in scope.get("headers", [])],
        body=b"".join(chunks),
    )


def _start(response: _Response, request_id: bytes, length: int) -> Message:
    headers: Headers = [(b"x-request-id", request_id)]
    if response.content_type is not None:
        headers.append((b"content-type", response.content_type.encode("ascii")))
    if _has_body(response.status):
        headers.append((b"content-length", str(length).encode("ascii")))
    headers.extend(response.headers)
    return {"type": "http.response.start", "status": response.status, "headers": headers}


async def _send(send: Send, response: _Response, request_id: bytes) -> None:
    await send(_start(response, request_id, len(response.body)))
    body = response.body
    for offset in range(0, len(body), _HUGE_CHUNK):
        chunk = body[offset : offset + _HUGE_CHUNK]
        more = offset + _HUGE_CHUNK < len(body)
        await send({"type": "http.response.body", "body": chunk, "more_body": more})
    if not body:
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _slow_body(request: _Request, request_id: bytes, send: Send) -> None:
    delay = _number(request, "delay", _DEFAULT_DELAY)
    response = _Response(200, _SLOW_BODY)
    half = len(_SLOW_BODY) // 2
    await send(_start(response, request_id, len(_SLOW_BODY)))
    await send({"type": "http.response.body", "body": _SLOW_BODY[:half], "more_body": True})
    await anyio.sleep(delay)
    await send({"type": "http.response.body", "body": _SLOW_BODY[half:], "more_body": False})


async def _sse(request: _Request, request_id: bytes, send: Send) -> None:
    """``/sse?count=N&delay=S``: ``text/event-stream`` of N events (chunked, one write
    per event, ``delay`` seconds apart): event ``tick`` with JSON data ``{"n": i}`` and
    id ``i``, a comment line first and a two-line ``data`` in the last event."""
    count = min(_integer(request, "count", 3), 10_000)
    delay = _number(request, "delay", 0.0)
    headers: Headers = [
        (b"x-request-id", request_id),
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-cache"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b": stream opened\n\n", "more_body": True})
    for i in range(count):
        if i and delay:
            await anyio.sleep(delay)
        data = b'data: {"n": %d}\n' % i
        if i == count - 1:
            data += b"data: last\n"
        event = b"event: tick\nid: %d\n" % i + data + b"\n"
        await send({"type": "http.response.body", "body": event, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _refuse_websocket(receive: Receive, send: Send) -> None:
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": 1008})
