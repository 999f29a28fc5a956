"""Suite 4: what one retry costs (503, then 200 with zero delay).

Without network: ``Client``/``AsyncClient`` on a MockTransport that alternates 503 and 200,
and the pure ``Call`` loop. Over nginx: ``/flaky`` answers 503 to odd and 200 to even
requests on a connection, against urllib3's and requests' own status retries.

The client's retry budget (500 tokens, 5 per retry, 1 back per success) stops retrying
after 125 back-to-back retried calls, by design; so each client here makes at most 100
calls and the clients are made before the timing starts. The "200" rows are made the
same way, so the difference is the retry alone.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable

import anyio
import requests
import requests.adapters
import urllib3

from sdk_core import (
    Call,
    CallOptions,
    Completed,
    Limits,
    Request,
    Response,
    RetryPolicy,
    SendRequest,
)
from sdk_transports import AsyncClient, Client, MockTransport, SocketTransport

from ..context import Context
from ..measure import AsyncBench, SyncBench, arun_rounds, run_rounds
from ..nginx import JSON_BODY
from ..results import Row, Table

__all__ = ["run"]

CHUNK = 100
BASE = "http://api.test"
_POLICY = RetryPolicy(initial_delay=0.0)
_JSON = {"content-type": "application/json"}
_OK = "200"
_RETRY = "503 → 200"


def _alternating(ok: Response, busy: Response, retry: bool) -> Callable[[Request], Response]:
    state = [False]

    def handler(request: Request) -> Response:
        if not retry:
            return ok
        state[0] = not state[0]
        return busy if state[0] else ok

    return handler


def _call_loop(retry: bool) -> Callable[[int], int]:
    request = Request("GET", BASE + "/json")
    ok = Response(200, headers=_JSON, content=JSON_BODY)
    busy = Response(503, headers=_JSON, content=b'{"error":{"message":"busy"}}')
    options = CallOptions(retry=_POLICY)
    rng = random.Random(0)  # one for every call, as a client's calls share the client's

    def batch(n: int) -> int:
        for _ in range(n):
            call = Call(request, options, now=0.0, rng=rng)
            assert isinstance(call.next_event(), SendRequest)
            if retry:
                call.receive_response(busy, now=0.0)
                assert isinstance(call.next_event(), SendRequest)
            call.receive_response(ok, now=0.0)
            assert isinstance(call.next_event(), Completed)
        return n

    return batch


class _SyncClients:
    """Makes ``n / CHUNK`` fresh clients before each timed batch; the batch uses them."""

    def __init__(self, make: Callable[[], Client], path: str, attempts: int) -> None:
        self._make = make
        self._path = path
        self._attempts = attempts
        self._clients: list[Client] = []

    def prepare(self, n: int) -> None:
        self.close()
        for _ in range(-(-n // CHUNK)):
            client = self._make()
            response = client.get(self._path)  # warm: connects, keeps the 503/200 parity
            if response.attempts != self._attempts:
                raise AssertionError(f"{response.attempts} attempts, not {self._attempts}")
            self._clients.append(client)

    def batch(self, n: int) -> int:
        path, done = self._path, 0
        for client in self._clients:
            for _ in range(min(CHUNK, n - done)):
                client.get(path)
                done += 1
        return done

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients = []


class _AsyncClients:
    """``_SyncClients`` for ``AsyncClient`` on a MockTransport."""

    def __init__(self, retry: bool) -> None:
        self._retry = retry
        self._clients: list[AsyncClient] = []
        self._ok = Response(200, headers=_JSON, content=JSON_BODY)
        self._busy = Response(503, headers=_JSON, content=b'{"error":{"message":"busy"}}')

    async def prepare(self, n: int) -> None:
        await self.aclose()
        for _ in range(-(-n // CHUNK)):
            transport = MockTransport(_alternating(self._ok, self._busy, self._retry))
            self._clients.append(AsyncClient(BASE, transport=transport, retry=_POLICY))

    async def batch(self, n: int) -> int:
        done = 0
        for client in self._clients:
            for _ in range(min(CHUNK, n - done)):
                await client.get("/json")
                done += 1
        return done

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
        self._clients = []


def _mock_client(retry: bool) -> Callable[[], Client]:
    ok = Response(200, headers=_JSON, content=JSON_BODY)
    busy = Response(503, headers=_JSON, content=b'{"error":{"message":"busy"}}')

    def make() -> Client:
        return Client(BASE, transport=MockTransport(_alternating(ok, busy, retry)), retry=_POLICY)

    return make


def _urllib3_get(pool: urllib3.PoolManager, url: str) -> Callable[[], bytes]:
    def get() -> bytes:
        return pool.request("GET", url).data

    return get


def _requests_get(session: requests.Session, url: str) -> Callable[[], bytes]:
    def get() -> bytes:
        return session.get(url).content

    return get


def _paired_cost(ok: Row, retried: Row, name: str, ours: bool) -> Row:
    """Per-round differences (the rows were measured in the same rounds)."""
    row = Row(name, ours=ours, error=ok.error or retried.error)
    row.values = [b - a for a, b in zip(ok.values, retried.values, strict=False)]
    return row


async def _mock_rows(ctx: Context) -> list[Row]:
    cfg = ctx.config
    sync_sets = {
        (name, retry): _SyncClients(_mock_client(retry), "/json", 2 if retry else 1)
        for name in ("sdk Client (MockTransport)",)
        for retry in (False, True)
    }
    async_sets = {retry: _AsyncClients(retry) for retry in (False, True)}
    sync = [
        SyncBench(f"{name}, {_RETRY if retry else _OK}", s.batch, True, prepare=s.prepare)
        for (name, retry), s in sync_sets.items()
    ]
    sync += [
        SyncBench(f"sdk_core.Call loop, {_OK}", _call_loop(False), True),
        SyncBench(f"sdk_core.Call loop, {_RETRY}", _call_loop(True), True),
    ]
    asyncs = [
        AsyncBench(
            f"sdk AsyncClient (MockTransport), {_RETRY if retry else _OK}",
            s.batch,
            True,
            prepare=s.prepare,
        )
        for retry, s in async_sets.items()
    ]
    rows: dict[str, Row] = {}
    try:
        for round_index in range(cfg.retry_rounds):
            label = f"no network, round {round_index + 1}/{cfg.retry_rounds}"
            got = run_rounds(sync, cfg.retry_requests, 1, ctx.progress, "retry", label)
            got += await arun_rounds(asyncs, cfg.retry_requests, 1, ctx.progress, "retry", label)
            for row in got:
                kept = rows.setdefault(row.name, Row(row.name, ours=True))
                kept.values += row.values
                kept.error = kept.error or row.error
            sync = [*sync[1:], sync[0]]
            asyncs = [*asyncs[1:], asyncs[0]]
    finally:
        for s in sync_sets.values():
            s.close()
        for a in async_sets.values():
            await a.aclose()
    order = [
        "sdk Client (MockTransport)",
        "sdk AsyncClient (MockTransport)",
        "sdk_core.Call loop",
    ]
    return [rows[f"{name}, {kind}"] for name in order for kind in (_OK, _RETRY)]


def _nginx_rows(ctx: Context) -> list[Row]:
    cfg = ctx.config
    server = ctx.server
    limits = Limits(max_connections=4, max_keepalive_connections=4, keepalive_expiry=600.0)

    def make() -> Client:
        return Client(server.base_url, transport=SocketTransport(limits=limits), retry=_POLICY)

    def peer_batch(get: Callable[[], object]) -> Callable[[int], int]:
        def batch(n: int) -> int:
            for _ in range(n):
                get()
            return n

        return batch

    sdk_ok = _SyncClients(make, "/json", 1)
    sdk_retry = _SyncClients(make, "/flaky", 2)
    retries = urllib3.Retry(total=2, status_forcelist=[503], backoff_factor=0)
    with contextlib.ExitStack() as stack:
        stack.callback(sdk_ok.close)
        stack.callback(sdk_retry.close)
        pools: dict[str, tuple[Callable[[], bytes], Callable[[], bytes]]] = {}
        for kind, path in ((_OK, "/json"), (_RETRY, "/flaky")):
            pool = urllib3.PoolManager(maxsize=4, retries=retries)
            stack.callback(pool.clear)
            session = stack.enter_context(requests.Session())
            session.mount("http://", requests.adapters.HTTPAdapter(max_retries=retries))
            url = server.url(path)
            pools[kind] = (_urllib3_get(pool, url), _requests_get(session, url))
            for get in pools[kind]:
                if get() != JSON_BODY:  # warm, and keep the 503/200 parity on the connection
                    raise AssertionError(f"{path}: unexpected body")
        benches = [
            SyncBench(
                f"sdk Client (SocketTransport), {_OK}", sdk_ok.batch, True, False, sdk_ok.prepare
            ),
            SyncBench(
                f"sdk Client (SocketTransport), {_RETRY}",
                sdk_retry.batch,
                True,
                False,
                sdk_retry.prepare,
            ),
        ]
        for kind in (_OK, _RETRY):
            benches.append(SyncBench(f"urllib3 Retry, {kind}", peer_batch(pools[kind][0])))
            benches.append(SyncBench(f"requests Retry, {kind}", peer_batch(pools[kind][1])))
        rows = run_rounds(
            benches, cfg.retry_requests, cfg.retry_rounds, ctx.progress, "retry", "over nginx"
        )
    by_name = {row.name: row for row in rows}
    order = ["sdk Client (SocketTransport)", "urllib3 Retry", "requests Retry"]
    return [by_name[f"{name}, {kind}"] for name in order for kind in (_OK, _RETRY)]


def run(ctx: Context) -> list[Table]:
    """The measured calls, with and without a retry, and the cost of the retry."""
    cfg = ctx.config
    mock_rows = anyio.run(_mock_rows, ctx, backend="asyncio")
    ctx.progress.info("retry", "no-network part done")
    nginx_rows = _nginx_rows(ctx)
    ctx.progress.info("retry", "nginx part done")
    costs = [
        _paired_cost(ok, retried, ok.name.rsplit(",", 1)[0] + suffix, ours)
        for (ok, retried), suffix, ours in zip(
            zip(mock_rows[::2], mock_rows[1::2], strict=True),
            [" (no network)"] * 3,
            [True] * 3,
            strict=True,
        )
    ]
    costs += [
        _paired_cost(ok, retried, ok.name.rsplit(",", 1)[0] + " (nginx)", ok.ours)
        for ok, retried in zip(nginx_rows[::2], nginx_rows[1::2], strict=True)
    ]
    note = (
        f"{cfg.retry_requests} calls per row per round, {cfg.retry_rounds} rounds; "
        f"RetryPolicy(initial_delay=0); each client makes at most {CHUNK} calls (the retry "
        "budget), made before the timing."
    )
    return [
        Table(
            key="retry-mock",
            title="Calls with and without one retry, no network",
            unit="µs/call",
            rows=mock_rows,
            figure="retry.png",
            note=note,
            decimals=2,
        ),
        Table(
            key="retry-nginx",
            title="Calls with and without one retry, over nginx (/flaky: 503 then 200)",
            unit="µs/call",
            rows=nginx_rows,
            figure="retry.png",
            note=note + " urllib3 and requests use `Retry(total=2, status_forcelist=[503], "
            "backoff_factor=0)`.",
        ),
        Table(
            key="retry-cost-mock",
            title="Cost of one retry, no network (503 → 200 minus 200, paired by round)",
            unit="µs/retry",
            rows=costs[:3],
            figure="retry.png",
            note="The difference between the rows of the first table, per round.",
            decimals=2,
        ),
        Table(
            key="retry-cost-nginx",
            title="Cost of one retry over nginx (503 → 200 minus 200, paired by round)",
            unit="µs/retry",
            rows=costs[3:],
            ratio_to=["urllib3 Retry (nginx)", "requests Retry (nginx)"],
            figure="retry.png",
            note="The difference between the rows of the second table, per round: one more "
            "round trip to nginx, the retry decision and reading the 503.",
            decimals=1,
        ),
    ]
