"""``FaultProxy``: a threaded TCP proxy on 127.0.0.1 that injects faults.

Every accepted connection gets an upstream connection and two pump threads. Each chunk
read from either side draws (from one seeded ``random.Random``) whether to misbehave:

- client to server: ``request_reset``: an RST to the client, the chunk is dropped;
- server to client: ``reset`` (RST via ``SO_LINGER`` 0 instead of the response),
  ``truncate`` (part of the chunk, then RST or FIN at random) or ``stall`` (wait a
  random time in ``stall_range`` before forwarding).

Every loop is bounded: sockets carry a timeout, stalls wait on the stop event, and
``stop()`` wakes every pump and joins every thread with a timeout.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass

__all__ = ["FaultProxy", "FaultRates"]

_HOST = "127.0.0.1"
_CHUNK = 64 * 1024
_POLL = 0.25  # how soon a blocked pump or the accept loop notices a stop
_IDLE_LIMIT = 120.0  # a connection idle this long is dropped (a backstop)
_JOIN_TIMEOUT = 5.0


@dataclass(frozen=True)
class FaultRates:
    """Per-chunk probabilities of each fault; ``stall_range`` in seconds."""

    request_reset: float = 0.01
    reset: float = 0.03
    truncate: float = 0.03
    stall: float = 0.03
    stall_range: tuple[float, float] = (0.2, 1.6)


class _Link:
    """One proxied connection: the client socket, the upstream socket, two pumps."""

    def __init__(self, proxy: FaultProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.dead = threading.Event()
        self._lock = threading.Lock()
        self._open_pumps = 2
        self._rst = False

    def kill(self, *, rst: bool) -> None:
        """End both directions; the client gets an RST when ``rst`` (sockets close
        once both pumps have stopped, so no thread reads a closed descriptor)."""
        with self._lock:
            if self.dead.is_set():
                return
            self._rst = rst
            self.dead.set()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)  # wakes a blocked recv, sends nothing

    def pump_done(self) -> None:
        with self._lock:
            self._open_pumps -= 1
            last = self._open_pumps == 0
        if not last:
            return
        with contextlib.suppress(OSError):
            if self._rst:
                self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.client.close()
        self.upstream.close()


class FaultProxy:
    """Forward 127.0.0.1:<port> to ``upstream``, injecting faults (see the module doc)."""

    def __init__(
        self, upstream: tuple[str, int], *, seed: int, rates: FaultRates | None = None
    ) -> None:
        self.upstream = upstream
        self.rates = rates or FaultRates()
        self.counters: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._threads_lock = threading.Lock()
        self._links: set[_Link] = set()
        self._listener: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{_HOST}:{self.port}"

    def start(self) -> FaultProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((_HOST, 0))
        listener.listen(256)
        listener.settimeout(_POLL)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        self._spawn(self._accept_loop, "soak-proxy-accept")
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._threads_lock:
            links = list(self._links)
        for link in links:
            link.kill(rst=False)
        deadline_threads = list(self._threads)
        for thread in deadline_threads:
            thread.join(_JOIN_TIMEOUT)
        if self._listener is not None:
            self._listener.close()
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            raise RuntimeError(f"proxy threads did not stop: {alive[:5]}")

    def snapshot(self) -> dict[str, int]:
        with self._rng_lock:
            return dict(self.counters)

    # -- internals ---------------------------------------------------------------------

    def _spawn(self, target: object, name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)  # type: ignore[arg-type]
        with self._threads_lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _draw(self) -> float:
        with self._rng_lock:
            return self._rng.random()

    def _uniform(self, low: float, high: float) -> float:
        with self._rng_lock:
            return self._rng.uniform(low, high)

    def _count(self, name: str) -> None:
        with self._rng_lock:
            self.counters[name] += 1

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5.0)
            except OSError:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                self._count("upstream_connect_failed")
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.settimeout(_POLL)
            self._count("connections")
            link = _Link(self, client, upstream)
            with self._threads_lock:
                self._links.add(link)
            self._spawn(self._pump, "soak-proxy-c2s", link, True)
            self._spawn(self._pump, "soak-proxy-s2c", link, False)

    def _pump(self, link: _Link, to_server: bool) -> None:
        source, target = (link.client, link.upstream) if to_server else (link.upstream, link.client)
        idle = 0.0
        try:
            while not link.dead.is_set() and not self._stopping.is_set():
                try:
                    chunk = source.recv(_CHUNK)
                except TimeoutError:
                    idle += _POLL
                    if idle >= _IDLE_LIMIT:
                        link.kill(rst=False)
                    continue
                except OSError:
                    link.kill(rst=True)
                    return
                idle = 0.0
                if not chunk:  # EOF: pass the FIN on
                    with contextlib.suppress(OSError):
                        target.shutdown(socket.SHUT_WR)
                    if not to_server:  # the server is done: so is the link
                        link.kill(rst=False)
                    return
                if not self._forward(link, target, chunk, to_server):
                    return
        finally:
            link.pump_done()
            with self._threads_lock:
                self._links.discard(link)

    def _forward(self, link: _Link, target: socket.socket, chunk: bytes, to_server: bool) -> bool:
        rates = self.rates
        draw = self._draw()
        if to_server:
            if draw < rates.request_reset:
                self._count("request_reset")
                link.kill(rst=True)
                return False
        else:
            if draw < rates.reset:
                self._count("reset")
                link.kill(rst=True)
                return False
            draw -= rates.reset
            if draw < rates.truncate and len(chunk) > 1:
                rst = self._draw() < 0.5
                self._count("truncate_rst" if rst else "truncate_fin")
                with self._rng_lock:
                    cut = self._rng.randint(1, len(chunk) - 1)
                with contextlib.suppress(OSError):
                    target.sendall(chunk[:cut])
                    if not rst:
                        target.shutdown(socket.SHUT_WR)
                link.kill(rst=rst)
                return False
            draw -= rates.truncate
            if draw < rates.stall:
                self._count("stall")
                if self._stopping.wait(self._uniform(*rates.stall_range)):
                    return False
        try:
            target.sendall(chunk)
        except OSError:
            link.kill(rst=True)
            return False
        return True
