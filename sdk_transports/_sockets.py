"""``SocketTransport``: HTTP/1.1 over blocking sockets, on the core's codec and pool.

Safe to share between threads: the pool's bookkeeping (``sdk_core`` ``PoolState``) runs
under one lock, and each request then owns its connection alone. After ``os.fork()`` the
child never uses the parent's connections: its first request closes its copies of them
(nothing is sent) and starts a fresh pool.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from sdk_core import (
    APIError,
    ConnectTimeout,
    Limits,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    Request,
    Response,
    Timeout,
    WriteError,
    WriteTimeout,
)
from sdk_core._config import wait_bound
from sdk_core._fastcodec import new_codec
from sdk_core._http11 import NEED_DATA
from sdk_core._pool import Lease, Outcome, PoolState
from sdk_core._reader import ResponseReader, StreamReader
from sdk_core._statistics import PoolStatistics

from ._connect_errors import connect_error, where
from ._lifecycle import closed_transport_error, current_pid, fork_lock
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE, STREAM_WINDOW, ResponseStream
from ._sockcheck import readable_probe, socket_timeout
from ._tls import CertTypes, LazySSLContext, VerifyTypes

__all__ = ["SocketTransport"]

_READ_SIZE = 64 * 1024


class _Connection:
    __slots__ = ("codec", "is_stale", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.codec = new_codec()
        #: An idle connection that is readable was closed by the server (or sent junk).
        self.is_stale = readable_probe(sock)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class SocketTransport:
    """A blocking transport: sockets, the core's HTTP/1.1 codec and its pool.

    TLS verifies by default (certifi's bundle); ``verify`` takes a CA path, False, or an
    ``ssl.SSLContext``; ``cert`` a client certificate. Raises the core's connection
    errors and ``ResponseTooLargeError`` past ``max_response_size`` decoded bytes.
    """

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        self._limits = limits or Limits()
        self._pool = PoolState(self._limits)
        self._lock = threading.Lock()
        self._pid = current_pid()
        self._connections: dict[int, _Connection] = {}
        self._waiting: dict[int, tuple[threading.Event, list[Lease]]] = {}
        self._ssl_context = LazySSLContext(verify, cert)
        self._max_response_size = max_response_size
        self._closed = False

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
        for conn in inherited:
            conn.close()  # the child's copy of the descriptor only: the parent's stays open

    def _apply(self, out: Outcome) -> None:
        """Carry out a bookkeeping outcome; called with the lock held."""
        for conn_id in out.close:
            conn = self._connections.pop(conn_id, None)
            if conn is not None:
                conn.close()
        for lease in out.wake:
            event, box = self._waiting.pop(lease.ticket)
            box.append(lease)
            event.set()

    def _acquire(self, request: Request, timeout: Timeout) -> Lease:
        with self._lock:
            if self._closed:
                raise closed_transport_error(request)
            out = self._pool.request(request.url.origin, time.monotonic())
            if out.close or out.wake:
                self._apply(out)
            if out.lease is not None:
                return out.lease
            event, box = threading.Event(), list[Lease]()
            self._waiting[out.ticket] = (event, box)
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
            if out.close or out.wake:
                self._apply(out)

    def _open(self, request: Request, timeout: Timeout) -> _Connection:
        """A new connection for ``request``. Raises ``ConnectTimeout`` (also for a
        connect timeout of 0: no time was allowed) or ``ConnectError``, saying why."""
        url = request.url
        if timeout.connect is not None and timeout.connect <= 0:
            # A zero timeout would make the socket non-blocking: EINPROGRESS, not a timeout.
            raise ConnectTimeout(
                f"connecting to {where(request)} took over {timeout.connect} s.", request=request
            )
        try:
            sock = socket.create_connection((url.host, url.port), timeout=timeout.connect)
        except TimeoutError:
            raise ConnectTimeout(
                f"connecting to {where(request)} took over {timeout.connect} s.",
                request=request,
            ) from None
        except OSError as exc:
            raise connect_error(exc, request) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if url.scheme == "https":
                sock = self._ssl_context.get().wrap_socket(sock, server_hostname=url.host)
        except TimeoutError:
            sock.close()
            raise ConnectTimeout(
                f"the TLS handshake with {where(request)} took over {timeout.connect} s.",
                request=request,
            ) from None
        except OSError as exc:  # ssl.SSLError is one: ssl is loaded by then
            sock.close()
            raise connect_error(exc, request) from exc
        return _Connection(sock)

    # -- one request ---------------------------------------------------------------

    def _checkout(self, request: Request, timeout: Timeout) -> tuple[Lease, _Connection]:
        """A lease and its connection: a live pooled one, or a new one opened here."""
        if self._pid != current_pid():
            self._check_pid()
        conn: _Connection | None = None
        while True:
            lease = self._acquire(request, timeout)
            conn = None if lease.is_new else self._connections.get(lease.connection)
            if conn is not None and conn.is_stale():
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

    def handle_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` once and read the whole response."""
        end = None if timeout.total is None else time.monotonic() + timeout.total
        lease, conn = self._checkout(request, timeout)
        reusable = False
        try:
            # ``end`` bounds every wait of the exchange, as the attempt's Timeout.total.
            write_error = self._send(conn, request, timeout, end)
            if write_error is None:
                response, reusable = self._read_response(conn, request, timeout, end)
            else:
                try:
                    response, _ = self._read_response(conn, request, timeout, end)
                except APIError:
                    raise write_error from write_error.__cause__
        finally:
            self._release(lease, reusable)
        return response

    def open_stream(self, request: Request, timeout: Timeout) -> tuple[Response, ResponseStream]:
        """Send ``request`` once and read the response head; the body follows as a stream
        that holds the connection until it ends or is closed."""
        end = None if timeout.total is None else time.monotonic() + timeout.total
        lease, conn = self._checkout(request, timeout)
        write_error: WriteError | None = None
        try:
            write_error = self._send(conn, request, timeout, end)
            reader = StreamReader(conn.codec, request, window=STREAM_WINDOW)
            _set_timeout(conn.sock, timeout.read)
            while (head := reader.head()) is NEED_DATA:
                reader.feed(self._recv(conn, request, timeout.read, end))
        except BaseException as exc:
            self._release(lease, reusable=False)
            if write_error is not None and isinstance(exc, APIError):
                raise write_error from exc
            raise
        return head, _SocketStream(self, lease, conn, reader, request, write_error is None)

    def _send(
        self, conn: _Connection, request: Request, timeout: Timeout, end: float | None
    ) -> WriteError | None:
        """Write ``request``. A broken connection is returned, not raised: a server may
        answer and close before reading the whole body (413 during a large upload), and
        that answer, when it arrived, is what the caller gets."""
        codec, sock = conn.codec, conn.sock
        content = request.content
        try:
            _set_timeout(sock, timeout.write if end is None else socket_timeout(timeout.write, end))
            if isinstance(content, bytes):
                sock.sendall(codec.encode_request(request, body=content))
            else:
                sock.sendall(codec.encode_request(request))
                for chunk in content:  # type: ignore[union-attr]
                    sock.sendall(codec.encode_chunk(chunk))
                sock.sendall(codec.encode_end())
        except (TimeoutError, BlockingIOError):  # BlockingIOError: a write timeout of 0
            message = "sending the request timed out."
            raise WriteTimeout(message, request=request) from None
        except OSError as exc:
            error = WriteError(f"{exc}", request=request)
            error.__cause__ = exc
            return error
        return None

    @staticmethod
    def _recv(
        conn: _Connection, request: Request, timeout: float | None, end: float | None = None
    ) -> bytes:
        if end is not None:  # each receive waits at most what is left of the attempt
            _set_timeout(conn.sock, socket_timeout(timeout, end))
        try:
            return conn.sock.recv(_READ_SIZE)
        except (TimeoutError, BlockingIOError):  # BlockingIOError: a read timeout of 0
            raise ReadTimeout(f"no data for {timeout} s.", request=request) from None
        except OSError as exc:
            raise ReadError(f"{exc}", request=request) from exc

    def _read_response(
        self, conn: _Connection, request: Request, timeout: Timeout, end: float | None
    ) -> tuple[Response, bool]:
        _set_timeout(conn.sock, timeout.read)
        reader = ResponseReader(conn.codec, request, max_size=self._max_response_size)
        while True:
            # A cycle starts with nothing buffered (a pooled connection ended its last
            # response exactly), so reading comes first.
            reader.feed(self._recv(conn, request, timeout.read, end))
            step = reader.step()
            if step is not NEED_DATA:
                return step

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
            for conn_id in self._pool.close_all():
                conn = self._connections.pop(conn_id, None)
                if conn is not None:
                    conn.close()
            for event, _ in self._waiting.values():
                event.set()
            self._waiting.clear()


def _set_timeout(sock: socket.socket, timeout: float | None) -> None:
    """``sock.settimeout(timeout)`` unless that is its timeout already: each call costs a
    system call (it sets the descriptor's blocking mode again), mostly to no effect."""
    if sock.gettimeout() != timeout:
        sock.settimeout(timeout)


class _SocketStream:
    """The body of a response from ``SocketTransport.open_stream``."""

    __slots__ = ("_conn", "_lease", "_may_reuse", "_reader", "_request", "_transport")

    def __init__(
        self,
        transport: SocketTransport,
        lease: Lease,
        conn: _Connection,
        reader: StreamReader,
        request: Request,
        may_reuse: bool,
    ) -> None:
        self._transport: SocketTransport | None = transport
        self._lease = lease
        self._conn = conn
        self._reader = reader
        self._request = request
        self._may_reuse = may_reuse

    def read_chunk(self, timeout: float | None) -> bytes:
        """The next decoded piece of the body, b"" at its end; ``timeout`` bounds this
        call. Raises ``ReadTimeout``, ``ReadError`` or ``RemoteProtocolError``, and
        then the connection is closed and released."""
        if self._transport is None:
            return b""
        reader, conn = self._reader, self._conn
        end = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                step = reader.body()
                if isinstance(step, bytes):
                    piece = step
                    break
                # ``timeout`` bounds the whole call, however many receives it takes.
                left = wait_bound(None, end, time.monotonic())
                if left is not None and left <= 0:
                    message = f"no data for {timeout} s."
                    raise ReadTimeout(message, request=self._request)
                _set_timeout(conn.sock, left)
                reader.feed(SocketTransport._recv(conn, self._request, timeout))
        except BaseException:
            self._finish(reusable=False)
            raise
        if not piece:
            self._finish(reusable=reader.reusable and self._may_reuse)
        return piece

    def _finish(self, *, reusable: bool) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport._release(self._lease, reusable)

    def close(self) -> None:
        """Release the connection; closed unless the body was read to its end."""
        self._finish(reusable=False)
