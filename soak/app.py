"""``SoakApp``: a small ASGI app that records the effect of every POST by its key.

Routes (``{id}`` is any path segment):

- ``POST /items``: applies the body's effect once per ``Idempotency-Key`` (the first
  application wins; a repeated key returns the stored result, not applied again). Every
  application is counted per key and per ``call`` (the driver's id of the logical call),
  so a client that sent two keys for one call shows up as a call applied twice.
- ``GET|PUT|DELETE /items/{id}``: read, replace, remove (all idempotent, always 2xx).
- ``GET /__soak/stats?run=NAME``: the counters for calls whose id starts with NAME.

About ``status_rate`` of the ``/items`` requests get 500, 502, 503 or 429 (with
``Retry-After: 0`` or ``retry-after-ms``) instead, decided before anything is applied.
Decisions come from a seeded ``random.Random``; hypercorn runs the app on one event
loop, so no lock is needed.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl

from sdk_transports.testing._scenario_app import Receive, Scope, Send

__all__ = ["SoakApp"]

_FAULT_STATUSES = (500, 502, 503, 429, 429)


class SoakApp:
    """The soak's own ASGI 3 app; see the module docstring."""

    def __init__(self, *, seed: int, status_rate: float = 0.1) -> None:
        self._rng = random.Random(seed)
        self._status_rate = status_rate
        self.stored: dict[str, bytes] = {}  # idempotency key -> stored response body
        self.applied_per_key: Counter[str] = Counter()
        self.applied_per_call: Counter[str] = Counter()
        self.items: dict[str, Any] = {}
        self.requests = 0
        self.status_faults = 0
        self.posts_without_key = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        method: str = scope["method"]
        path: str = scope["path"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if path == "/__soak/stats":
            query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
            await _reply(send, 200, self._stats(query.get("run", "")))
            return
        self.requests += 1
        if self._rng.random() < self._status_rate:
            self.status_faults += 1
            await self._status_fault(send)
            return
        if method == "POST" and path == "/items":
            await _reply(send, 201, self._apply(headers.get("idempotency-key"), bytes(body)))
        elif path.startswith("/items/") and method in ("GET", "PUT", "DELETE"):
            item = path[len("/items/") :]
            if method == "PUT":
                self.items[item] = json.loads(body or b"null")
            elif method == "DELETE":
                self.items.pop(item, None)
            await _reply(send, 200, {"id": item, "value": self.items.get(item)})
        else:
            await _reply(send, 404, {"error": {"type": "not_found_error", "message": path}})

    def _apply(self, key: str | None, body: bytes) -> bytes:
        if key is not None and key in self.stored:
            return self.stored[key]  # a replay: the stored result, not applied again
        payload = json.loads(body or b"{}")
        call = str(payload.get("call", ""))
        self.applied_per_call[call] += 1
        if key is None:
            self.posts_without_key += 1
        else:
            self.applied_per_key[key] += 1
        result = json.dumps({"call": call, "applied": self.applied_per_call[call]}).encode()
        if key is not None:
            self.stored[key] = result
        return result

    async def _status_fault(self, send: Send) -> None:
        status = self._rng.choice(_FAULT_STATUSES)
        headers: list[tuple[bytes, bytes]] = []
        if status == 429:
            if self._rng.random() < 0.5:
                headers.append((b"retry-after", b"0"))
            else:
                headers.append((b"retry-after-ms", str(self._rng.randint(1, 20)).encode()))
        kind = "rate_limit_error" if status == 429 else "api_error"
        await _reply(send, status, {"error": {"type": kind, "message": "injected"}}, headers)

    def _stats(self, run: str) -> dict[str, int]:
        calls = {c: n for c, n in self.applied_per_call.items() if c.startswith(run)}
        keys = [k for k in self.stored if self.stored[k].startswith(b'{"call": "' + run.encode())]
        return {
            "posts_applied": sum(calls.values()),
            "calls_applied_twice": sum(1 for n in calls.values() if n > 1),
            "keys_applied_twice": sum(1 for k in keys if self.applied_per_key[k] > 1),
            "keys": len(keys),
            "requests_total": self.requests,
            "status_faults_total": self.status_faults,
            "posts_without_key_total": self.posts_without_key,
        }


async def _reply(
    send: Send,
    status: int,
    payload: bytes | dict[str, Any],
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
