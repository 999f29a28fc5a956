"""``SocketTransport``: our own HTTP/1.1 over blocking sockets, on the core's codec and
pool.

The blocking twin of ``_async_sockets.AsyncSocketTransport``: the exchange is
``_exchange.exchange``, generated from the async one, and this module is the pool
plumbing, hand-written because it differs (a lock instead of an event loop, fork
instead of loop changes, the attempt's ``Timeout.total`` enforced here) but in the same
order: check out (the pool decides, then the I/O happens), exchange, give back; a
bookkeeping outcome wakes its waiters first, then closes its connections. Safe to share
between threads: the pool's bookkeeping runs under one lock, each request then owns its
connection alone, and connections the pool drops are closed after the lock is released.
After ``os.fork()`` the child never uses the parent's connections: its first request
closes its copies of them (nothing is sent) and starts a fresh pool.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable

from sdk_core import (
    ConnectTimeout,
    Limits,
    PoolStatistics,
    PoolTimeout,
    Request,
    Response,
    Timeout,
)
from sdk_core.lowlevel import Lease, Outcome, PoolState, ResponseReader, StreamReader

from ._backends import NetworkBackend
from ._backends._sync import SyncBackend
from ._connect_errors import connect_error, where
from ._exchange import BodyStream, Connection, exchange
from ._lifecycle import closed_transport_error, current_pid, fork_lock
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE, STREAM_WINDOW, ResponseStream
from ._tls import CertTypes, LazySSLContext, VerifyTypes

__all__ = ["SocketTransport"]


def _until(seconds: float) -> tuple[Callable[[], float], float]:
    """The clock and the time on it ``seconds`` from now, for ``exchange``."""
    return time.monotonic, time.monotonic() + seconds


def _close(connections: list[Connection]) -> None:
    for conn in connections:
        conn.stream.close()


class SocketTransport:
    """A blocking transport: our own HTTP/1.1 over sockets, the core's codec and pool.

    TLS verifies by default (certifi's bundle); ``verify`` takes a CA path, False, or an
    ``ssl.SSLContext``; ``cert`` a client certificate. ``network_backend`` replaces the
    socket backend (a mock one in tests). Raises the core's connection errors and
    ``ResponseTooLargeError`` past ``max_response_size`` decoded bytes.
    """

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        network_backend: NetworkBackend | None = None,
    ) -> None:
        self._limits = limits or Limits()
        self._pool = PoolState(self._limits)
        self._lock = threading.Lock()
        self._pid = current_pid()
        self._connections: dict[int, Connection] = {}
        self._waiting: dict[int, tuple[threading.Event, list[Lease]]] = {}
        self._ssl_context = LazySSLContext(verify, cert)
        self._max_response_size = max_response_size
        self._closed = False
        self._backend: NetworkBackend = network_backend or SyncBackend()

    # -- pool plumbing -------------------------------------------------------------

    def _check_pid(self) -> None:
        """In a forked child: drop the inherited connections and start a fresh pool."""
        pid = current_pid()
        if pid == self._pid:
            return
        with fork_lock():
            if pid == self._pid:
                return  # another thread of the child did it
            # The parent's lock may have been held at fork time: never take it here.
            inherited = list(self._connections.values())
            self._lock = threading.Lock()
            self._pool = PoolState(self._limits)
            self._connections = {}
            self._waiting = {}
            self._pid = pid
        _close(inherited)  # the child's copy of the descriptor only: the parent's stays open

    def _apply(self, out: Outcome) -> list[Connection]:
        """Carry out a bookkeeping outcome, with the lock held: wake the waiters handed a
        lease first, then take the connections to close out of the books; the caller
        closes them once the lock is released."""
        for lease in out.wake:
            event, box = self._waiting.pop(lease.ticket)
            box.append(lease)
            event.set()
        closing = []
        for conn_id in out.close:
            conn = self._connections.pop(conn_id, None)
            if conn is not None:
                closing.append(conn)
        return closing

    def _acquire(self, request: Request, timeout: Timeout) -> Lease:
        closing: list[Connection] = []
        with self._lock:
            if self._closed:
                raise closed_transport_error(request)
            out = self._pool.request(request.url.origin, time.monotonic())
            if out.close or out.wake:
                closing = self._apply(out)
            lease = out.lease
            if lease is None:
                event, box = threading.Event(), list[Lease]()
                self._waiting[out.ticket] = (event, box)
        if closing:
            _close(closing)
        if lease is not None:
            return lease
        try:
            event.wait(timeout.pool)
        except BaseException:  # interrupted while waiting: give back a lease handed over
            with self._lock:
                self._pool.cancel(out.ticket)
                self._waiting.pop(out.ticket, None)
                handed = box[0] if box else None
            if handed is not None:
                self._release(handed, reusable=True)
            raise
        with self._lock:
            if box:
                return box[0]
            self._pool.cancel(out.ticket)
            self._waiting.pop(out.ticket, None)
            if self._closed:
                raise closed_transport_error(request)
        raise PoolTimeout(f"no connection became free within {timeout.pool} s.", request=request)

    def _release(self, lease: Lease, reusable: bool) -> None:
        with self._lock:
            out = self._pool.release(lease, reusable=reusable, now=time.monotonic())
            if not (out.close or out.wake):
                return
            closing = self._apply(out)
        _close(closing)

    def _open(self, request: Request, timeout: Timeout) -> Connection:
        """A new connection for ``request``. Raises ``ConnectTimeout`` (also for a
        connect timeout of 0: no time was allowed) or ``ConnectError``, saying why."""
        url = request.url
        if timeout.connect is not None and timeout.connect <= 0:
            # A zero timeout would make the socket non-blocking: EINPROGRESS, not a timeout.
            raise ConnectTimeout(
                f"connecting to {where(request)} took over {timeout.connect} s.", request=request
            )
        try:
            stream = self._backend.connect_tcp(url.host, url.port, timeout.connect)
        except TimeoutError:
            raise ConnectTimeout(
                f"connecting to {where(request)} took over {timeout.connect} s.",
                request=request,
            ) from None
        except OSError as exc:
            raise connect_error(exc, request) from exc
        if url.scheme == "https":
            try:
                stream = stream.start_tls(self._ssl_context.get(), url.host, timeout.connect)
            except BaseException as exc:
                stream.close()  # already closed if start_tls failed, not if the context did
                if isinstance(exc, TimeoutError):
                    raise ConnectTimeout(
                        f"the TLS handshake with {where(request)} took over {timeout.connect} s.",
                        request=request,
                    ) from None
                if isinstance(exc, OSError):  # ssl.SSLError is one: ssl is loaded by then
                    raise connect_error(exc, request) from exc
                raise
        return Connection(stream)

    def _checkout(self, request: Request, timeout: Timeout) -> tuple[Lease, Connection]:
        """A lease and its connection: a live pooled one, or a new one opened here."""
        if self._pid != current_pid():
            self._check_pid()
        conn: Connection | None = None
        while True:
            lease = self._acquire(request, timeout)
            conn = None if lease.is_new else self._connections.get(lease.connection)
            if conn is not None and conn.stream.is_stale():
                self._release(lease, reusable=False)  # closed by the server while idle
                continue
            break
        if conn is None:
            try:
                conn = self._open(request, timeout)
            except BaseException:
                self._release(lease, reusable=False)
                raise
            with self._lock:
                self._connections[lease.connection] = conn
                self._pool.opened(lease.connection)
        return lease, conn

    # -- one request ---------------------------------------------------------------

    def handle_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` once and read the whole response."""
        # ``until`` bounds every wait of the exchange, as the attempt's Timeout.total.
        until = None if timeout.total is None else _until(timeout.total)
        lease, conn = self._checkout(request, timeout)
        reusable = False
        try:
            reader = ResponseReader(conn.codec, request, max_size=self._max_response_size)
            (response, reusable), sent = exchange(
                conn, request, timeout, reader.step, reader.feed, until
            )
            reusable = reusable and sent
        finally:
            self._release(lease, reusable)
        return response

    def open_stream(self, request: Request, timeout: Timeout) -> tuple[Response, ResponseStream]:
        """Send ``request`` once and read the response head; the body follows as a stream
        that holds the connection until it ends or is closed."""
        until = None if timeout.total is None else _until(timeout.total)
        lease, conn = self._checkout(request, timeout)
        try:
            reader = StreamReader(conn.codec, request, window=STREAM_WINDOW)
            head, sent = exchange(conn, request, timeout, reader.head, reader.feed, until)
        except BaseException:
            self._release(lease, reusable=False)
            raise
        give_back = functools.partial(self._release, lease)
        return head, BodyStream(conn.stream, reader, request, sent, give_back, time.monotonic)

    def statistics(self) -> PoolStatistics:
        """Connections in use, idle, and requests waiting for one."""
        self._check_pid()
        with self._lock:
            return self._pool.statistics()

    def close(self) -> None:
        """Close every connection; later requests raise ``ConnectError``."""
        self._check_pid()
        with self._lock:
            self._closed = True
            closing = [self._connections.pop(conn_id, None) for conn_id in self._pool.close_all()]
            for event, _ in self._waiting.values():
                event.set()
            self._waiting.clear()
        _close([conn for conn in closing if conn is not None])
