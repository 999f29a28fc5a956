"""Client lifecycle: garbage collection, ``os.fork()`` and moving between event loops.

- An unclosed client that made its own transport warns with ``ResourceWarning`` when
  collected, and does nothing else (no event loop, never raises); a closed one is quiet.
- After ``os.fork()`` the child's first request drops the inherited connections (sending
  nothing on them) and opens its own; the parent's pooled connection keeps working.
- An ``AsyncClient`` used under one ``anyio.run`` and then another (asyncio or trio)
  starts a fresh pool instead of failing with "Event loop is closed" or hanging.

The server answers every request with the client's port and the number of requests
seen on that connection, so a test can tell a reused connection from a new one, and
it records the connections a client closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import socket
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

from sdk_core import ClientClosedError, Limits, Request, Response
from sdk_transports import (
    AnyioTransport,
    AsyncClient,
    AsyncHttpcoreTransport,
    Client,
    HttpcoreTransport,
    MockTransport,
    SocketTransport,
)
from sdk_transports._lifecycle import close_socket_now, current_loop, loop_may_still_run

SECRET = "zQ-lifecycle-secret-key"


class PortServer:
    """HTTP/1.1 keep-alive server on 127.0.0.1 that reports which connection served."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.lock = threading.Condition()  # notified when a port joins closed_ports
        self.closed_ports: set[int] = set()
        self.extra_bytes: list[bytes] = []
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, (_, port) = self._listener.accept()
            except OSError:
                return
            with self.lock:
                self._socks.append(sock)
            threading.Thread(target=self._serve, args=(sock, port), daemon=True).start()

    def _serve(self, sock: socket.socket, port: int) -> None:
        buffer, count = b"", 0
        with contextlib.suppress(OSError), sock:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = sock.recv(65536)
                    if not data:
                        if buffer:
                            self.extra_bytes.append(buffer)
                        with self.lock:
                            self.closed_ports.add(port)
                            self.lock.notify_all()
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length, key = 0, None
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                    if name.strip().lower() == b"idempotency-key":
                        key = value.strip().decode()
                while len(buffer) < length:
                    buffer += sock.recv(65536)
                buffer = buffer[length:]
                count += 1
                body = json.dumps({"port": port, "n": count, "key": key}).encode()
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )

    def wait_closed(self, port: int, timeout: float = 5.0) -> bool:
        """Block until the client closed the connection from ``port``; False on timeout."""
        with self.lock:
            return self.lock.wait_for(lambda: port in self.closed_ports, timeout)

    def stop(self) -> None:
        self._listener.close()
        with self.lock:
            for sock in self._socks:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def server() -> Iterator[PortServer]:
    srv = PortServer()
    yield srv
    srv.stop()


@contextlib.contextmanager
def unraisable_exceptions() -> Iterator[list[Any]]:
    """Collect what ``__del__`` methods raised (Python prints and swallows those)."""
    seen: list[Any] = []
    previous = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        yield seen
    finally:
        sys.unraisablehook = previous


def collected_warnings(make: Callable[[], object]) -> list[warnings.WarningMessage]:
    """Build an object with ``make``, drop it, collect garbage; the ResourceWarnings."""
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        make()
        gc.collect()
    return [w for w in caught if "was never closed" in str(w.message)]


def ok(request: Request) -> Response:
    return Response(200, request=request)


# ResourceWarning on garbage collection --------------------------------------------------


def test_an_unclosed_client_warns_when_collected(server: PortServer) -> None:
    def make() -> None:
        client = Client(server.url, api_key=SECRET)
        client.get("/")

    (warning,) = collected_warnings(make)
    assert warning.category is ResourceWarning
    text = str(warning.message)
    assert text.startswith(f"Client(base_url='{server.url}/', api_key=set) was never closed")
    assert SECRET not in text


def test_a_closed_client_and_its_copies_do_not_warn(server: PortServer) -> None:
    def closed() -> None:
        with Client(server.url) as client:
            client.with_options(timeout=1.0).get("/")

    def copy_outlives_original() -> None:
        client = Client(server.url)
        copy = client.with_options(timeout=1.0)
        del client  # the pool lives on in the copy: no warning yet
        gc.collect()
        copy.get("/")

    assert collected_warnings(closed) == []
    assert len(collected_warnings(copy_outlives_original)) == 1  # nobody closed the pool


def test_a_client_given_its_transport_leaves_the_warning_to_the_owner() -> None:
    assert collected_warnings(lambda: Client("https://a.test", transport=MockTransport(ok))) == []


def test_del_never_raises_even_when_warnings_are_errors(server: PortServer) -> None:
    with unraisable_exceptions() as seen, warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        client = Client(server.url)  # no request: no socket of its own to warn about
        del client
        gc.collect()
    assert seen == []


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_an_unclosed_async_client_warns_without_touching_its_dead_loop(
    server: PortServer, backend: str
) -> None:
    holder: list[AsyncClient] = []

    async def use() -> None:
        client = AsyncClient(server.url, api_key=SECRET)
        await client.get("/")
        holder.append(client)

    anyio.run(use, backend=backend)  # the loop is closed when this returns
    with unraisable_exceptions() as seen:
        (warning,) = collected_warnings(holder.clear)
    assert str(warning.message).startswith("AsyncClient(")
    assert [u for u in seen if "loop" in str(u.exc_value).lower()] == []


# os.fork() -------------------------------------------------------------------------------


SYNC_TRANSPORTS: dict[str, Callable[[], Any]] = {
    "socket": lambda: SocketTransport(limits=Limits(max_connections=4)),
    "httpcore": lambda: HttpcoreTransport(limits=Limits(max_connections=4)),
    "default": lambda: None,
}


def _run_child(body: Callable[[], int]) -> int:
    """Fork; the child runs ``body`` and exits with its status. Returns that status."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process
        status = 99
        try:
            signal.alarm(20)  # never hang the parent's waitpid
            status = body()
        except BaseException:
            status = 98
        finally:
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()")
@pytest.mark.parametrize("name", list(SYNC_TRANSPORTS))
def test_a_forked_child_opens_its_own_connections(server: PortServer, name: str) -> None:
    client = Client(server.url, transport=SYNC_TRANSPORTS[name](), max_retries=0, timeout=5.0)
    first = client.get("/").json()
    assert first["n"] == 1
    assert client.statistics().idle == 1

    def child() -> int:
        before = client.statistics()  # resets the inherited pool, sends nothing
        answer = client.get("/").json()
        if before.idle != 0 or answer["port"] == first["port"] or answer["n"] != 1:
            return 1
        again = client.get("/").json()  # the child's own connection is pooled and reused
        client.close()
        return 0 if (again["port"], again["n"]) == (answer["port"], 2) else 2

    assert _run_child(child) == 0
    second = client.get("/").json()
    assert (second["port"], second["n"]) == (first["port"], 2)  # still the same connection
    assert server.extra_bytes == []
    client.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()")
def test_a_forked_child_draws_its_own_idempotency_keys(server: PortServer) -> None:
    client = Client(server.url, transport=SocketTransport(), timeout=5.0)
    client.post("/", json={})
    read_end, write_end = os.pipe()

    def child() -> int:
        os.close(read_end)
        key = client.post("/", json={}).json()["key"]
        os.write(write_end, key.encode())
        return 0

    assert _run_child(child) == 0
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child_key = pipe.read().decode()
    parent_key = client.post("/", json={}).json()["key"]
    assert child_key
    assert child_key != parent_key  # without a reseed the child repeats the parent's next
    client.close()


def test_after_fork_keeps_a_random_source_the_caller_passed() -> None:
    class Source:
        def random(self) -> float:
            return 0.5

        def getrandbits(self, k: int) -> int:
            return 1

    rng = Source()
    client = Client("https://a.test", transport=MockTransport(ok), rng=rng)
    own = Client("https://a.test", transport=MockTransport(ok))
    for c in (client, own):
        c._shared.pid = -1  # as if this process were a forked child
        budget = c._shared.budget
        c.get("/")
        assert c._shared.pid == os.getpid()
        assert c._shared.budget is not budget
    assert client._shared.rng is rng


# moving an AsyncClient between event loops --------------------------------------------


ASYNC_TRANSPORTS: dict[str, Callable[[], Any]] = {
    "anyio": lambda: AnyioTransport(limits=Limits(max_connections=4)),
    "httpcore": lambda: AsyncHttpcoreTransport(limits=Limits(max_connections=4)),
    "default": lambda: None,
}
MOVES = [("asyncio", "asyncio"), ("asyncio", "trio"), ("trio", "asyncio"), ("trio", "trio")]


def _get(client: AsyncClient, times: int = 1) -> Callable[[], Any]:
    async def get() -> Any:
        answers = []
        with anyio.fail_after(5):  # a hang is a failure, not a stuck test run
            for _ in range(times):
                response = await client.get("/")
                answers.append({**response.json(), "idle": client.statistics().idle})
        return answers if times > 1 else answers[0]

    return get


@pytest.mark.parametrize("name", list(ASYNC_TRANSPORTS))
@pytest.mark.parametrize(("first", "second"), MOVES)
def test_an_async_client_moved_to_another_loop_starts_a_fresh_pool(
    server: PortServer, name: str, first: str, second: str
) -> None:
    client = AsyncClient(server.url, transport=ASYNC_TRANSPORTS[name](), max_retries=0)
    one, again = anyio.run(_get(client, 2), backend=first)
    assert (one["n"], one["idle"]) == (1, 1)
    assert (again["port"], again["n"]) == (one["port"], 2)  # the same loop reuses it
    two, three = anyio.run(_get(client, 2), backend=second)
    assert (two["n"], two["idle"]) == (1, 1)  # a new connection, pooled on the new loop
    assert two["port"] != one["port"]
    assert server.wait_closed(one["port"])  # the old one was closed, not leaked
    assert (three["port"], three["n"]) == (two["port"], 2)

    async def close() -> None:
        await client.aclose()

    anyio.run(close, backend=first)  # closing under yet another loop works too
    assert server.wait_closed(two["port"])
    assert server.extra_bytes == []


@pytest.mark.parametrize("name", ["anyio", "httpcore"])
def test_aclose_under_a_new_loop_closes_the_dead_loops_connections(
    server: PortServer, name: str
) -> None:
    client = AsyncClient(server.url, transport=ASYNC_TRANSPORTS[name]())
    one = anyio.run(_get(client))

    async def close() -> None:
        await client.aclose()
        with pytest.raises(ClientClosedError):
            await client.get("/")

    anyio.run(close)
    assert server.wait_closed(one["port"])


def test_current_loop_identifies_the_run() -> None:
    async def token() -> object:
        assert current_loop() is current_loop()
        return current_loop()

    runs = [anyio.run(token), anyio.run(token), anyio.run(token, backend="trio")]
    assert len({id(run) for run in runs}) == 3
    assert isinstance(runs[0], asyncio.AbstractEventLoop)
    with pytest.raises(RuntimeError):
        current_loop()  # no event loop here


def test_loop_may_still_run_only_for_a_running_asyncio_loop() -> None:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    thread = threading.Thread(target=lambda: (loop.call_soon(started.set), loop.run_forever()))
    thread.start()
    started.wait(5)
    try:
        assert loop_may_still_run(loop)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    assert not loop_may_still_run(loop)  # stopped
    loop.close()
    assert not loop_may_still_run(loop)
    assert not loop_may_still_run(object())


def test_close_socket_now_unwraps_and_never_raises() -> None:
    a, b = socket.socketpair()

    class Wrapper:  # like asyncio's TransportSocket
        def __init__(self, sock: socket.socket) -> None:
            self._sock = sock

    close_socket_now(Wrapper(a))
    assert a.fileno() == -1
    close_socket_now(Wrapper(a))  # twice is fine
    close_socket_now(b)
    assert b.fileno() == -1
    for junk in (None, object(), Wrapper(None)):  # type: ignore[arg-type]
        close_socket_now(junk)
