"""``FaultServer``: a scriptable HTTP/1.1 server on 127.0.0.1 that misbehaves on cue.

Each accepted connection runs a *script*, a sequence of steps, on its own thread::

    with FaultServer() as server:
        server.script(read_request(), send(b"HTTP/1.1 200 OK\\r\\nContent-Length: 9\\r\\n\\r\\nab"))
        ...  # the first connection gets 2 of 9 body bytes, then EOF
        ...  # every later connection is served normally (keep-alive, 200 JSON)

Requests are parsed by h11 in the server role, so what the server saw is h11's reading
of the bytes, not ours. Responses are written byte for byte, so faults a real server
would never produce (a truncated body, 200 KiB of headers, a reply that is not HTTP)
are exact. When a script ends, its connection is closed (FIN); end it with
``serve_forever()`` to keep serving or ``hang()`` to hold it open.

Stopping (leaving the ``with`` block) is bounded: it interrupts ``stall`` and ``hang``,
wakes blocked reads and writes, joins every thread and closes every socket.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import socket
import struct
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType

import h11

__all__ = [
    "FaultServer",
    "RecordedRequest",
    "Step",
    "UnresponsiveListener",
    "close",
    "hang",
    "read_head",
    "read_request",
    "refused_url",
    "reset",
    "respond",
    "respond_chunked",
    "send",
    "serve",
    "serve_forever",
    "stall",
    "unresponsive_listener",
]

_HOST = "127.0.0.1"
_READ_SIZE = 64 * 1024
_ACCEPT_POLL = 0.05  # how soon the accept loop notices a stop
_IO_TIMEOUT = 10.0  # a backstop: stop() wakes blocked reads and writes long before
_JOIN_TIMEOUT = 5.0
_MAX_STALL = 60.0


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as h11 parsed it on the server side.

    ``headers`` are (lowercased name, value) pairs; ``connection`` is the 1-based number
    of the connection it arrived on; ``complete`` is False for a request read by
    ``read_head`` whose body was not read (``body`` is then empty).
    """

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    connection: int
    complete: bool = True

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        lowered = name.lower()
        return next((v for n, v in self.headers if n == lowered), None)


# -- one connection, server side --------------------------------------------------------


class _Stopped(Exception):
    """The server is stopping, or the peer went away: end the script."""


class _Peer:
    """One accepted connection: reads requests through h11, writes exact bytes."""

    def __init__(self, sock: socket.socket, server: FaultServer, number: int) -> None:
        self.sock = sock
        self.server = server
        self.number = number
        self.method = "GET"  # of the last request read (HEAD responses carry no body)
        self._h11 = h11.Connection(h11.SERVER)
        self._head: h11.Request | None = None  # the request being read
        self._body = bytearray()
        self._record_index: int | None = None  # where read_head recorded it

    def read(self, *, head_only: bool = False) -> RecordedRequest:
        """Read the next request (or only its head); raise ``_Stopped`` at EOF."""
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError:
                raise _Stopped from None
            if event is h11.NEED_DATA:
                self._h11.receive_data(self.recv())
            elif isinstance(event, h11.Request):
                self._head = event
                self._body.clear()
                self.method = event.method.decode("ascii")
                if head_only:
                    return self._record(complete=False)
            elif isinstance(event, h11.Data):
                self._body += event.data
            elif isinstance(event, h11.EndOfMessage):
                recorded = self._record(complete=True)
                self._next_cycle()
                return recorded
            else:  # ConnectionClosed (or PAUSED, which _next_cycle prevents)
                raise _Stopped

    def _record(self, *, complete: bool) -> RecordedRequest:
        head = self._head
        assert head is not None
        recorded = RecordedRequest(
            method=head.method.decode("ascii"),
            target=head.target.decode("ascii", "replace"),
            headers=tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in head.headers),
            body=bytes(self._body),
            connection=self.number,
            complete=complete,
        )
        with self.server._cond:
            if self._record_index is not None:  # read_head recorded it: complete it
                self.server._requests[self._record_index] = recorded
                self._record_index = None
            else:
                self.server._requests.append(recorded)
                if not complete:
                    self._record_index = len(self.server._requests) - 1
            self.server._cond.notify_all()
        return recorded

    def _next_cycle(self) -> None:
        # A fresh h11 connection per request: responses are written by hand, so h11's
        # own state never learns of them. Unread bytes carry over to the next request.
        trailing, closed = self._h11.trailing_data
        self._h11 = h11.Connection(h11.SERVER)
        if trailing:
            self._h11.receive_data(trailing)
        if closed:
            self._h11.receive_data(b"")
        self._head = None

    def recv(self) -> bytes:
        if self.server._stopping.is_set():
            raise _Stopped
        try:
            return self.sock.recv(_READ_SIZE)
        except OSError:
            raise _Stopped from None

    def send(self, data: bytes) -> None:
        if self.server._stopping.is_set():
            raise _Stopped
        try:
            self.sock.sendall(data)
        except OSError:
            raise _Stopped from None

    def wait(self, seconds: float | None) -> None:
        if self.server._stopping.wait(seconds):
            raise _Stopped

    def close(self, *, rst: bool) -> None:
        with contextlib.suppress(OSError):
            if rst:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                self.sock.shutdown(socket.SHUT_WR)
        self.server._forget(self.sock)


# -- steps ------------------------------------------------------------------------------


class Step:
    """One thing a connection does. Build steps with the functions below."""

    def run(self, peer: _Peer) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class _ReadRequest(Step):
    head_only: bool = False

    def run(self, peer: _Peer) -> None:
        peer.read(head_only=self.head_only)


@dataclass(frozen=True, slots=True)
class _Send(Step):
    data: bytes

    def run(self, peer: _Peer) -> None:
        peer.send(self.data)


@dataclass(frozen=True, slots=True)
class _Respond(Step):
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    close: bool

    def run(self, peer: _Peer) -> None:
        no_body_status = self.status in (204, 304) or self.status < 200
        headers = list(self.headers)
        names = {n.lower() for n, _ in headers}
        if self.status != 204 and self.status >= 200 and "content-length" not in names:
            headers.append(("Content-Length", str(len(self.body))))
        if self.body and not no_body_status and "content-type" not in names:
            headers.append(("Content-Type", "application/json"))
        if self.close:
            headers.append(("Connection", "close"))
        no_body = no_body_status or peer.method == "HEAD"
        peer.send(_head(self.status, headers) + (b"" if no_body else self.body))
        if self.close:
            peer.close(rst=False)
            raise _Stopped


@dataclass(frozen=True, slots=True)
class _RespondChunked(Step):
    chunks: tuple[bytes, ...]
    terminate: bool
    status: int
    headers: tuple[tuple[str, str], ...]

    def run(self, peer: _Peer) -> None:
        headers = [*self.headers, ("Transfer-Encoding", "chunked")]
        out = bytearray(_head(self.status, headers))
        for chunk in self.chunks:
            if chunk:
                out += b"%x\r\n%s\r\n" % (len(chunk), chunk)
        if self.terminate:
            out += b"0\r\n\r\n"
        peer.send(bytes(out))


@dataclass(frozen=True, slots=True)
class _Stall(Step):
    seconds: float

    def run(self, peer: _Peer) -> None:
        peer.wait(self.seconds)


@dataclass(frozen=True, slots=True)
class _Close(Step):
    rst: bool

    def run(self, peer: _Peer) -> None:
        peer.close(rst=self.rst)
        raise _Stopped


@dataclass(frozen=True, slots=True)
class _Hang(Step):
    def run(self, peer: _Peer) -> None:
        peer.wait(None)


@dataclass(frozen=True, slots=True)
class _Serve(Step):
    count: int | None  # None: until the client closes

    def run(self, peer: _Peer) -> None:
        served = 0
        while self.count is None or served < self.count:
            request = peer.read()
            served += 1
            wants_close = (request.header("connection") or "").lower() == "close"
            _Respond(200, _default_body(request), (), wants_close).run(peer)


def _head(status: int, headers: Iterable[tuple[str, str]]) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {status} {reason}".encode("latin-1")]
    lines += [f"{n}: {v}".encode("latin-1") for n, v in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _default_body(request: RecordedRequest) -> bytes:
    body = {
        "ok": True,
        "method": request.method,
        "target": request.target,
        "body_bytes": len(request.body),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def read_request() -> Step:
    """Read one whole request (head and body); recorded in ``FaultServer.requests``.
    EOF or a malformed request ends the script."""
    return _ReadRequest()


def read_head() -> Step:
    """Read only the next request's head (recorded with ``complete=False``); its body
    stays unread, as a server that answers early (413) leaves it."""
    return _ReadRequest(head_only=True)


def send(data: bytes) -> Step:
    """Write exactly ``data``."""
    return _Send(bytes(data))


def respond(
    status: int = 200,
    body: bytes = b'{"ok":true}',
    headers: Sequence[tuple[str, str]] = (),
    *,
    close: bool = False,
) -> Step:
    """A proper HTTP/1.1 response with Content-Length (no body for HEAD, 1xx, 204, 304).

    ``close`` adds ``Connection: close`` and then closes the connection (FIN; the kernel
    adds an RST when request bytes are left unread, as after ``read_head``).
    """
    return _Respond(status, bytes(body), tuple(headers), close)


def respond_chunked(
    chunks: Iterable[bytes],
    *,
    terminate: bool = True,
    status: int = 200,
    headers: Sequence[tuple[str, str]] = (),
) -> Step:
    """A chunked response; ``terminate=False`` leaves out the last chunk, so the body is
    incomplete (follow with ``close()`` for EOF inside a chunked body)."""
    return _RespondChunked(tuple(bytes(c) for c in chunks), terminate, status, tuple(headers))


def stall(seconds: float) -> Step:
    """Do nothing for ``seconds`` (at most 60); a stopping server interrupts it."""
    if not (isinstance(seconds, int | float) and 0 <= seconds <= _MAX_STALL):
        raise ValueError(f"stall() takes 0 to {_MAX_STALL} seconds, not {seconds!r}.")
    return _Stall(float(seconds))


def close() -> Step:
    """Close the connection with FIN (after what was written) and end the script."""
    return _Close(rst=False)


def reset() -> Step:
    """Close the connection with RST (``SO_LINGER`` 0) and end the script."""
    return _Close(rst=True)


def hang() -> Step:
    """Never answer, and read nothing more, until the server stops."""
    return _Hang()


def serve(count: int = 1) -> Step:
    """Serve ``count`` requests normally (keep-alive, 200 JSON), then go on.
    ``script(serve(1), close())`` is a keep-alive connection the server closes when idle."""
    if count < 1:
        raise ValueError("serve() needs a count of at least 1.")
    return _Serve(count)


def serve_forever() -> Step:
    """The default script: serve requests (keep-alive, 200 JSON) until the client closes.

    The body is ``{"ok":true,"method":...,"target":...,"body_bytes":...}``; a request
    with ``Connection: close`` is answered and then closed.
    """
    return _Serve(None)


_DEFAULT_SCRIPT: tuple[Step, ...] = (_Serve(None),)


# -- the server -------------------------------------------------------------------------


class FaultServer:
    """A scriptable HTTP/1.1 server on 127.0.0.1 (an ephemeral port), one thread per
    connection. Use it as a context manager; ``script`` queues what the next accepted
    connection does; connections beyond the queue run ``default`` (``serve_forever()``).
    """

    def __init__(self, *, default: Sequence[Step] = _DEFAULT_SCRIPT) -> None:
        self._default = tuple(default)
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._scripts: deque[tuple[Step, ...]] = deque()
        self._requests: list[RecordedRequest] = []
        self._accepted = 0
        self._finished = 0
        self._socks: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self.port = 0

    # -- what tests read ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{_HOST}:{self.port}"

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        with self._cond:
            return self._accepted

    @property
    def finished(self) -> int:
        """Connections whose script ended and whose socket the server closed."""
        with self._cond:
            return self._finished

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests read so far, in order."""
        with self._cond:
            return list(self._requests)

    def script(self, *steps: Step) -> None:
        """Queue ``steps`` for the next accepted connection not yet given a script."""
        for step in steps:
            if not isinstance(step, Step):
                raise TypeError(f"Not a FaultServer step: {step!r}")
        with self._cond:
            self._scripts.append(tuple(steps))

    def wait_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Block until ``count`` requests (heads included) were read; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._requests) >= count, timeout)

    def wait_request(self, target: str, timeout: float = 5.0) -> RecordedRequest | None:
        """Block until a request for ``target`` was read (its head is enough); None on
        timeout."""

        def find() -> RecordedRequest | None:
            return next((r for r in self._requests if r.target == target), None)

        with self._cond:
            return self._cond.wait_for(find, timeout)

    def wait_finished(self, count: int, timeout: float = 5.0) -> bool:
        """Block until ``count`` connections were closed by the server; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._finished >= count, timeout)

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> FaultServer:
        """Bind 127.0.0.1 on an ephemeral port and start accepting."""
        if self._listener is not None:
            raise RuntimeError("FaultServer already started.")
        listener = socket.create_server((_HOST, 0))
        listener.settimeout(_ACCEPT_POLL)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"FaultServer:{self.port}", daemon=True
        )
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Stop within a bounded time: interrupt stalls and hangs, wake blocked I/O, join
        every thread, close every socket. Raises ``RuntimeError`` if a thread survives."""
        self._stopping.set()
        if self._acceptor is not None:
            self._acceptor.join(_JOIN_TIMEOUT)
        if self._listener is not None:
            self._listener.close()
        with self._cond:
            socks = list(self._socks)
            self._cond.notify_all()
        for sock in socks:  # wakes recv() and sendall() blocked in connection threads
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(_JOIN_TIMEOUT)
        with self._cond:
            socks = list(self._socks)
            self._socks.clear()
        for sock in socks:
            sock.close()
        alive = [t.name for t in (self._acceptor, *self._threads) if t and t.is_alive()]
        if alive:
            raise RuntimeError(f"FaultServer threads did not stop: {alive}")

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- threads -----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(_IO_TIMEOUT)
            with self._cond:
                if self._stopping.is_set():
                    sock.close()
                    return
                self._accepted += 1
                number = self._accepted
                steps = self._scripts.popleft() if self._scripts else self._default
                self._socks.add(sock)
                thread = threading.Thread(
                    target=self._run,
                    args=(_Peer(sock, self, number), steps),
                    name=f"FaultServer:{self.port}#{number}",
                    daemon=True,
                )
                self._threads.append(thread)
            thread.start()

    def _run(self, peer: _Peer, steps: tuple[Step, ...]) -> None:
        with contextlib.suppress(_Stopped):
            for step in steps:
                step.run(peer)
        self._forget(peer.sock)

    def _forget(self, sock: socket.socket) -> None:
        """Close ``sock`` once, counting it as finished."""
        with self._cond:
            if sock not in self._socks:
                return
            self._socks.discard(sock)
            self._finished += 1
            self._cond.notify_all()
        sock.close()


# -- connecting to nothing --------------------------------------------------------------

_reserved: socket.socket | None = None
_reserved_lock = threading.Lock()


def refused_url() -> str:
    """The URL of a 127.0.0.1 port that refuses connections.

    The port is bound but never listens, and stays reserved (by one socket held until
    the process exits) so nothing else can start listening there.
    """
    global _reserved
    with _reserved_lock:
        if _reserved is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((_HOST, 0))
            atexit.register(sock.close)
            _reserved = sock
        return f"http://{_HOST}:{_reserved.getsockname()[1]}"


@dataclass(frozen=True, slots=True)
class UnresponsiveListener:
    """A listener that never completes a connect; ``connect_hangs`` is False when the
    running kernel completes it after all (then a connect-timeout test must skip)."""

    url: str
    port: int
    connect_hangs: bool


@contextlib.contextmanager
def unresponsive_listener(probe_timeout: float = 0.2) -> Iterator[UnresponsiveListener]:
    """A 127.0.0.1 listener whose accept queue is full, so a new connect never completes.

    Linux drops the SYN of a connection the full queue cannot take, and the client's
    first SYN retransmit comes after 1 s, past a short connect timeout. A probe connect
    (``probe_timeout`` seconds) checks this on the running kernel: see ``connect_hangs``.
    Nothing ever calls ``accept``; everything is closed on exit.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind((_HOST, 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(3):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            fillers.append(filler)
            filler.setblocking(False)
            filler.connect_ex((_HOST, port))
        try:
            socket.create_connection((_HOST, port), timeout=probe_timeout).close()
        except TimeoutError:
            hangs = True
        except OSError:
            hangs = False
        else:
            hangs = False
        yield UnresponsiveListener(f"http://{_HOST}:{port}", port, hangs)
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
