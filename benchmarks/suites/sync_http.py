"""Suite 1: sequential keep-alive GETs of /json and /64k, one connection per client."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

import httpx
import httpx2
import requests
import urllib3

from sdk_core import Limits
from sdk_transports import Client, HttpcoreTransport, SocketTransport

from ..context import Context, on_another_cpu
from ..measure import SyncBench, failing_batch, run_rounds
from ..nginx import JSON_BODY, KIB64_BODY
from ..results import Table

__all__ = ["RawSocketClient", "run"]

PEERS = ["httpx.Client", "httpx2.Client", "urllib3.PoolManager", "raw socket (floor)"]
#: The clients of the separate-CPU table: ours, the fastest peers, and the floor.
_SPLIT = (
    "sdk Client (SocketTransport)",
    "httpx.Client",
    "urllib3.PoolManager",
    "raw socket (floor)",
)
_LIMITS = Limits(max_connections=10, max_keepalive_connections=10, keepalive_expiry=600.0)


class RawSocketClient:
    """The floor: pre-encoded request bytes on one TCP_NODELAY socket, framed by hand."""

    def __init__(self, port: int, path: str) -> None:
        self._request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=10.0)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get(self) -> bytes:
        """Send the request and return the body (the response must carry Content-Length)."""
        sock = self._sock
        sock.sendall(self._request)
        data = sock.recv(262144)
        end = data.find(b"\r\n\r\n")
        for _ in range(64):  # a head is a few hundred bytes: a handful of reads at most
            if end >= 0:
                break
            chunk = sock.recv(262144)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            data += chunk
            end = data.find(b"\r\n\r\n")
        if not data.startswith(b"HTTP/1.1 200 "):
            raise ConnectionError(f"unexpected response {data[:40]!r}")
        head = data[:end].lower()
        start = head.index(b"\r\ncontent-length:") + 17
        stop = head.find(b"\r\n", start)
        length = int(head[start : stop if stop >= 0 else len(head)])
        body = [data[end + 4 :]]
        missing = length - len(body[0])
        while missing > 0:  # each read shrinks it or raises: bounded by the length
            chunk = sock.recv(min(missing, 262144))
            if not chunk:
                raise ConnectionError("the server closed the connection mid-body")
            body.append(chunk)
            missing -= len(chunk)
        return b"".join(body)

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()


def _loop(get: Callable[[], object]) -> Callable[[int], int]:
    def batch(n: int) -> int:
        for _ in range(n):
            get()
        return n

    return batch


def _benches(ctx: Context, path: str, stack: contextlib.ExitStack) -> list[SyncBench]:
    server = ctx.server
    base, url = server.base_url, server.url(path)
    expected = JSON_BODY if path == "/json" else KIB64_BODY

    def check(body: bytes, name: str) -> None:
        if body != expected:
            raise AssertionError(f"{name} got {len(body)} bytes, not the {len(expected)} expected")

    sdk_socket = stack.enter_context(Client(base, transport=SocketTransport(limits=_LIMITS)))
    sdk_httpcore = stack.enter_context(Client(base, transport=HttpcoreTransport(limits=_LIMITS)))
    hx = stack.enter_context(httpx.Client(limits=httpx.Limits(keepalive_expiry=600.0)))
    hx2 = stack.enter_context(httpx2.Client(limits=httpx2.Limits(keepalive_expiry=600.0)))
    pool = urllib3.PoolManager(maxsize=10, retries=False)
    stack.callback(pool.clear)
    session = stack.enter_context(requests.Session())
    raw = RawSocketClient(server.port, path)
    stack.callback(raw.close)

    getters: list[tuple[str, Callable[[], bytes], bool, bool]] = [
        ("sdk Client (SocketTransport)", lambda: sdk_socket.get(path).content, True, False),
        ("sdk Client (HttpcoreTransport)", lambda: sdk_httpcore.get(path).content, True, False),
        ("httpx.Client", lambda: hx.get(url).content, False, False),
        ("httpx2.Client", lambda: hx2.get(url).content, False, False),
        ("urllib3.PoolManager", lambda: pool.request("GET", url).data, False, False),
        ("requests.Session", lambda: session.get(url).content, False, False),
        ("raw socket (floor)", raw.get, False, True),
    ]
    benches = []
    for name, get, ours, floor in getters:
        batch = _loop(get)
        try:
            for _ in range(3):  # warm up: the connection is opened and every path taken once
                check(get(), name)
        except Exception as exc:
            batch = failing_batch(exc)
        benches.append(SyncBench(name, batch, ours=ours, floor=floor))
    return benches


def run(ctx: Context) -> list[Table]:
    """One table per path."""
    cfg = ctx.config
    tables = []
    for path in ("/json", "/64k"):
        with contextlib.ExitStack() as stack:
            benches = _benches(ctx, path, stack)
            rows = run_rounds(
                benches, cfg.sync_requests, cfg.sync_rounds, ctx.progress, "sync", f"GET {path}"
            )
        tables.append(
            Table(
                key=f"sync-{path.strip('/')}",
                title=f"Sync, sequential keep-alive GET {path}",
                unit="µs/request",
                rows=rows,
                ratio_to=PEERS,
                figure="sync.png",
                note=f"{cfg.sync_requests} requests per client per round, {cfg.sync_rounds} "
                "rounds; one keep-alive connection each; the body read in full.",
            )
        )
        ctx.progress.info("sync", f"GET {path} done")
    with on_another_cpu(cfg) as moved:
        if moved:  # else no separate-CPU table
            tables.append(_split(ctx))
    return tables


def _split(ctx: Context) -> Table:
    """GET /json once more with this process on another CPU than nginx: every request
    then waits for a wake-up across CPUs, as a client on a real network waits for the
    server, and that wait is the same for every client."""
    cfg = ctx.config
    label = "GET /json, separate CPUs"
    with contextlib.ExitStack() as stack:
        benches = [b for b in _benches(ctx, "/json", stack) if b.name in _SPLIT]
        rows = run_rounds(benches, cfg.sync_requests, cfg.sync_rounds, ctx.progress, "sync", label)
    ctx.progress.info("sync", f"{label} done")
    return Table(
        key="sync-json-split",
        title="Sync, sequential keep-alive GET /json, client and nginx on separate CPUs",
        unit="µs/request",
        rows=rows,
        ratio_to=[p for p in PEERS if p in _SPLIT],
        note=f"{cfg.sync_requests} requests per client per round, {cfg.sync_rounds} rounds; "
        "this process moved to another CPU than nginx for this table only (cross-CPU "
        "wake-ups add noise).",
    )
