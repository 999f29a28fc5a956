"""Hypothesis over the public request API, against a raw socket server on 127.0.0.1.

Every call, with any mix of hostile values (CR/LF and NUL, lone surrogates, objects of
the wrong type, NaN and infinity, deep nesting, huge ints), either is sent or raises
``InvalidRequestError`` / ``TypeError`` before a byte reaches the server; never
another exception, and never a header line on the wire that the test did not ask for.
Runs on ``Client`` (SocketTransport) and ``AsyncClient`` (AnyioTransport, asyncio and
trio).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from _support.raw_server import RawConnection, RawServer, ok_response
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sdk_core import InvalidRequestError, Response, Timeout
from sdk_transports import AnyioTransport, AsyncClient, Client, SocketTransport

TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
REQUEST_LINE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [\x21-\x7e]+ HTTP/1\.1")
#: Header names the client itself may send.
CLIENT_HEADERS = {
    "host",
    "accept",
    "accept-encoding",
    "user-agent",
    "content-length",
    "transfer-encoding",
    "content-type",
    "idempotency-key",
    "authorization",
}
SENTINEL = "/__sentinel__"
EXAMPLES = 60


@dataclass
class Received:
    """What the server read, request by request, and the bytes it received in all."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    heads: list[bytes] = field(default_factory=list)
    total: int = 0


def _fill(conn: RawConnection, received: Received, buffer: bytes) -> bytes | None:
    data = conn._recv()
    if not data:
        return None
    with received.lock:
        received.total += len(data)
    return buffer + data


def _read_line(
    conn: RawConnection, received: Received, buffer: bytes
) -> tuple[bytes, bytes] | None:
    while b"\r\n" not in buffer:
        more = _fill(conn, received, buffer)
        if more is None:
            return None
        buffer = more
    line, _, rest = buffer.partition(b"\r\n")
    return line, rest


def _read_exact(
    conn: RawConnection, received: Received, buffer: bytes, size: int
) -> tuple[bytes, bytes] | None:
    while len(buffer) < size:
        more = _fill(conn, received, buffer)
        if more is None:
            return None
        buffer = more
    return buffer[:size], buffer[size:]


def serve(received: Received) -> Any:
    """Read requests (Content-Length or chunked bodies), answer each with 200."""

    def handler(conn: RawConnection) -> None:
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                more = _fill(conn, received, buffer)
                if more is None:
                    return
                buffer = more
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            fields = [line.lower() for line in head.split(b"\r\n")[1:]]
            lengths = [
                f.split(b":", 1)[1].strip() for f in fields if f.startswith(b"content-length:")
            ]
            if any(f.startswith(b"transfer-encoding:") for f in fields):
                while True:
                    step = _read_line(conn, received, buffer)
                    if step is None:
                        return
                    size_line, buffer = step
                    size = int(size_line.split(b";")[0], 16)
                    chunk = _read_exact(conn, received, buffer, size + 2)
                    if chunk is None:
                        return
                    buffer = chunk[1]
                    if size == 0:
                        break
            elif lengths:
                body = _read_exact(conn, received, buffer, int(lengths[0]))
                if body is None:
                    return
                buffer = body[1]
            with received.lock:
                received.heads.append(head)
            conn.send(ok_response())

    return handler


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[RawServer, Received]]:
    received = Received()
    with RawServer(serve(received)) as raw:
        yield raw, received


# ---------------------------------------------------------------------------------------
# strategies: the public request API, with hostile values mixed in


class Opaque:
    """An object of no type the API takes."""


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def nested_mapping(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


# Valid values first: a call made only of them is sent.
VISIBLE = st.characters(blacklist_categories=("Cs", "Cc"))
LATIN1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_categories=["Cc"])
SCALARS = (
    st.text(VISIBLE, max_size=8)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
)
PARAM_VALUES = st.recursive(
    SCALARS | st.lists(SCALARS, max_size=3),
    lambda inner: st.dictionaries(st.text(VISIBLE, max_size=4), inner, max_size=2),
    max_leaves=4,
)
PARAMS = st.dictionaries(st.text(VISIBLE, max_size=6), PARAM_VALUES, max_size=3) | st.lists(
    st.tuples(st.text(VISIBLE, max_size=6), SCALARS | st.lists(SCALARS, max_size=2)), max_size=3
)
HEADERS = st.dictionaries(
    st.from_regex(r"X-F-[A-Za-z0-9-]{1,8}", fullmatch=True) | st.sampled_from(["User-Agent"]),
    st.text(LATIN1, max_size=10) | st.none(),
    max_size=3,
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
CONTENT = (
    st.binary(max_size=64) | st.text(max_size=16) | st.lists(st.binary(max_size=8), max_size=3)
)
VALID: dict[str, st.SearchStrategy[Any]] = {
    "params": PARAMS,
    "headers": HEADERS,
    "json": JSON,
    "content": CONTENT,
    "timeout": st.sampled_from(
        [None, 5.0, 30, math.inf, 1e300, 10**400, Timeout(5.0, total=math.inf)]
    ),
    "max_retries": st.sampled_from([None, 0, 1, 10**30]),
    "idempotency_key": st.from_regex(r"[A-Za-z0-9-]{1,16}", fullmatch=True),
    "follow_redirects": st.sampled_from([None, True, False]),
}
METHODS = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get"])
PATHS = st.text(VISIBLE, max_size=16)

# Hostile values: one of them, put in place of a valid one, makes the call refused.
HOSTILE_TEXT = ["\r\nX-Evil: 1", "a\nb", "a\rb", "nul\x00", "lone \ud800", "\udfff"]
HOSTILE: dict[str, list[Any]] = {
    "method": ["G T", "GET\r\n", "", 5, None, "\ud800", "GET\r\nX-Evil: 1"],
    "path": [*(f"/x{t}" for t in HOSTILE_TEXT), "http://☃.com/x", "http://😇/", 5, b"/b"],
    "params": [
        *({"a": t} for t in HOSTILE_TEXT[4:]),
        {"a": b"bytes"},
        {"a": Opaque()},
        {"a": math.nan},
        [("a", math.inf)],
        {"a": -math.inf},
        {"a": 10**5000},
        {"a": [["x"]]},
        {"a": [{"b": 1}]},
        {"deep": nested_mapping(40)},
        {1: "x"},
        "a=1",
        b"a=1",
        5,
        [("a",)],
        [("a", 1, 2)],
    ],
    "headers": [
        *({"X-F-A": t} for t in HOSTILE_TEXT),
        {"X-F-Evil\r\nX-Evil": "1"},
        {"X-F bad": "1"},
        {"": "1"},
        {"X-F:colon": "1"},
        {"X-F-\ud800": "1"},
        {"X-F-A": "☃"},
        {"X-F-A": 5},
        {"X-F-A": b"bytes"},
        {"X-F-A": Opaque()},
        "X-F-A: 1",
        5,
        [("X-F-A",)],
        [("X-F-A", "1", "2")],
    ],
    "json": [math.nan, math.inf, Opaque(), "\ud800", {"k\udfff": 1}, nested(5000), {1j: 1}],
    "content": [5, 1.5, {"a": 1}, Opaque(), "\ud800", bytes],
    "timeout": [-1, -math.inf, math.nan, "5", b"5", True, [1], Opaque()],
    "max_retries": [-1, "2", True, 1.5, Opaque()],
    "idempotency_key": ["", "  ", *HOSTILE_TEXT, "☃", 5, b"key"],
    "follow_redirects": ["no", 0, 1, "", Opaque()],
    "parms": [{"a": 1}],  # a misspelt keyword
    "jsn": [{"a": 1}],
}


@st.composite
def calls(draw: st.DrawFn) -> tuple[Any, Any, dict[str, Any], bool]:
    """A valid call (method, path, keywords, streamed or not), and in about half of
    them one value replaced by a hostile one."""
    method: Any = draw(METHODS)
    path: Any = draw(PATHS)
    names = draw(st.sets(st.sampled_from(sorted(VALID)), max_size=4))
    if "json" in names:
        names.discard("content")  # the two together are refused
    kwargs = {name: draw(VALID[name]) for name in sorted(names)}
    if draw(st.booleans()):
        target = draw(st.sampled_from(sorted(HOSTILE)))
        value = draw(st.sampled_from(HOSTILE[target]))
        if target == "method":
            method = value
        elif target == "path":
            path = value
        else:
            kwargs[target] = value
    return method, path, kwargs, draw(st.booleans())


CALLS = calls()


def sent_names(kwargs: dict[str, Any]) -> set[str]:
    headers = kwargs.get("headers") or {}
    return {name.lower() for name in headers if isinstance(name, str)}


def check_wire(head: bytes, kwargs: dict[str, Any]) -> None:
    """Every line is a request line or ``name: value`` with a token name, and no
    name appears that neither the test nor the client sends."""
    request_line, *lines = head.split(b"\r\n")
    assert REQUEST_LINE.fullmatch(request_line), request_line
    allowed = CLIENT_HEADERS | sent_names(kwargs)
    for line in lines:
        name, colon, value = line.partition(b":")
        assert colon, line
        assert TOKEN.fullmatch(name), line
        assert not re.search(rb"[\x00\r\n]", value), line
        assert name.decode("ascii").lower() in allowed, line


def new_heads(received: Received, start: int) -> list[bytes]:
    with received.lock:
        return received.heads[start:]


def outcome_of(call: Any) -> BaseException | Response:
    try:
        return call()  # type: ignore[no-any-return]
    except (InvalidRequestError, TypeError) as exc:
        return exc


def check(
    received: Received,
    before: tuple[int, int],
    result: BaseException | Response,
    kwargs: dict[str, Any],
    sentinel: Any,
) -> None:
    heads_before, bytes_before = before
    event("sent" if isinstance(result, Response) else f"refused: {type(result).__name__}")
    if isinstance(result, Response):
        assert result.status_code == 200
        heads = new_heads(received, heads_before)
        assert len(heads) == 1
        check_wire(heads[0], kwargs)
        return
    # Refused: nothing was sent. The next request on the same client is the only one
    # the server reads, and it brings exactly its own bytes.
    sentinel()
    heads = new_heads(received, heads_before)
    assert len(heads) == 1
    assert heads[0].split(b" ")[1] == SENTINEL.encode()
    with received.lock:
        assert received.total - bytes_before == len(heads[0]) + 4  # the head and its CRLF CRLF


def snapshot(received: Received) -> tuple[int, int]:
    with received.lock:
        return len(received.heads), received.total


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(call=CALLS)
def test_client_sends_or_refuses_before_any_byte(
    server: tuple[RawServer, Received], call: tuple[Any, Any, dict[str, Any], bool]
) -> None:
    raw, received = server
    method, path, kwargs, streamed = call
    with Client(raw.url, transport=SocketTransport(), api_key="sk-fuzz") as client:
        before = snapshot(received)

        def send() -> Response:
            if streamed:
                with client.stream(method, path, **kwargs) as response:
                    response.read()
                    return response.response
            return client.request(method, path, **kwargs)

        result = outcome_of(send)
        check(received, before, result, kwargs, lambda: client.get(SENTINEL))


@FUZZ
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@given(call=CALLS)
def test_async_client_sends_or_refuses_before_any_byte(
    server: tuple[RawServer, Received], backend: str, call: tuple[Any, Any, dict[str, Any], bool]
) -> None:
    raw, received = server
    method, path, kwargs, streamed = call

    async def main() -> None:
        async with AsyncClient(raw.url, transport=AnyioTransport(), api_key="sk-fuzz") as client:
            before = snapshot(received)
            try:
                if streamed:
                    async with client.stream(method, path, **kwargs) as response:
                        await response.aread()
                    result: BaseException | Response = response.response
                else:
                    result = await client.request(method, path, **kwargs)
            except (InvalidRequestError, TypeError) as exc:
                result = exc
            if isinstance(result, Response):
                check(received, before, result, kwargs, None)
            else:
                await client.get(SENTINEL)
                check(received, before, result, kwargs, lambda: None)

    anyio.run(main, backend=backend)
