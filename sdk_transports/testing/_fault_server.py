"""``FaultServer``: a scriptable HTTP/1.1 server on 127.0.0.1 that misbehaves on cue.

Each accepted connection runs a *script*, a sequence of steps (``_fault_steps``), on
its own thread::

    with FaultServer() as server:
        server.script(read_request(), send(b"HTTP/1.1 200 OK\\r\\nContent-Length: 9\\r\\n\\r\\nab"))
        ...  # the first connection gets 2 of 9 body bytes, then EOF
        ...  # every later connection is served normally (keep-alive, 200 JSON)

Requests are parsed by h11 in the server role, so what the server saw is h11's reading
of the bytes, not ours. Responses are written byte for byte, so faults a real server
would never produce (a truncated body, 200 KiB of headers, a reply that is not HTTP)
are exact. When a script ends, its connection is closed (FIN); end it with
``serve_forever()`` to keep serving or ``hang()`` to hold it open. With
``ssl_context=`` every connection is TLS first.

Stopping (leaving the ``with`` block) is bounded: it interrupts ``stall`` and ``hang``,
wakes blocked reads and writes, joins every thread and closes every socket.
"""

from __future__ import annotations

import atexit
import contextlib
import socket
import ssl
import struct
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import h11

from ._fault_steps import (
    DEFAULT_SCRIPT,
    RecordedRequest,
    Step,
    close,
    hang,
    read_head,
    read_request,
    reset,
    respond,
    respond_chunked,
    send,
    serve,
    serve_forever,
    stall,
)
from ._threaded import HOST, Slot, Stopped, ThreadedServer

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

_READ_SIZE = 64 * 1024


class _Peer:
    """One accepted connection: reads requests through h11, writes exact bytes."""

    def __init__(self, slot: Slot, server: FaultServer) -> None:
        self.slot = slot
        self.server = server
        self.method = "GET"  # of the last request read (HEAD responses carry no body)
        self._h11 = h11.Connection(h11.SERVER)
        self._head: h11.Request | None = None  # the request being read
        self._body = bytearray()
        self._record_index: int | None = None  # where read_head recorded it

    def read(self, *, head_only: bool = False) -> RecordedRequest:
        """Read the next request (or only its head); raise ``Stopped`` at EOF."""
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError:
                raise Stopped from None
            if event is h11.NEED_DATA:
                self._h11.receive_data(self._recv())
            elif isinstance(event, h11.Request):
                self._head = event
                self._body.clear()
                self.method = event.method.decode("ascii")
                if head_only:
                    return self.server._record(self, complete=False)
            elif isinstance(event, h11.Data):
                self._body += event.data
            elif isinstance(event, h11.EndOfMessage):
                recorded = self.server._record(self, complete=True)
                self._next_cycle()
                return recorded
            else:  # ConnectionClosed (or PAUSED, which _next_cycle prevents)
                raise Stopped

    def recorded(self, *, complete: bool) -> RecordedRequest:
        head = self._head
        assert head is not None
        return RecordedRequest(
            method=head.method.decode("ascii"),
            target=head.target.decode("ascii", "replace"),
            headers=tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in head.headers),
            body=bytes(self._body),
            connection=self.slot.number,
            complete=complete,
        )

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

    def _recv(self) -> bytes:
        if self.server.stopping.is_set():
            raise Stopped
        try:
            return self.slot.sock.recv(_READ_SIZE)
        except OSError:
            raise Stopped from None

    def send(self, data: bytes) -> None:
        if self.server.stopping.is_set():
            raise Stopped
        try:
            self.slot.sock.sendall(data)
        except OSError:
            raise Stopped from None

    def wait(self, seconds: float | None) -> None:
        if self.server.stopping.wait(seconds):
            raise Stopped

    def close(self, *, rst: bool) -> None:
        with contextlib.suppress(OSError):
            if rst:
                linger = struct.pack("ii", 1, 0)
                self.slot.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            else:
                self.slot.sock.shutdown(socket.SHUT_WR)
        self.server.forget(self.slot)


class FaultServer(ThreadedServer):
    """A scriptable HTTP/1.1 server on 127.0.0.1 (an ephemeral port), one thread per
    connection. Use it as a context manager; ``script`` queues what the next accepted
    connection does; connections beyond the queue run ``default`` (``serve_forever()``).
    """

    kind = "FaultServer"

    def __init__(
        self,
        *,
        default: Sequence[Step] = DEFAULT_SCRIPT,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(ssl_context=ssl_context)
        self._default = tuple(default)
        self._scripts: deque[tuple[Step, ...]] = deque()
        self._requests: list[RecordedRequest] = []
        self._partial: dict[int, int] = {}  # connection -> index of its read_head record

    # -- what tests read ---------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests read so far, in order."""
        with self._cond:
            return list(self._requests)

    def script(self, *steps: Step) -> None:
        """Queue ``steps`` for the next accepted connection not yet given a script.
        Raises ``TypeError`` for anything that is not a step."""
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

    def wait_connections(self, count: int, timeout: float = 5.0) -> bool:
        """Block until ``count`` connections were accepted; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._accepted >= count, timeout)

    # -- connections -------------------------------------------------------------------

    def accepted(self, number: int) -> tuple[Step, ...]:
        self._cond.notify_all()  # wait_connections
        return self._scripts.popleft() if self._scripts else self._default

    def serve_connection(self, slot: Slot, state: tuple[Step, ...]) -> None:
        if self.ssl_context is not None:
            self.start_tls(slot)
        peer = _Peer(slot, self)
        for step in state:
            step.run(peer)

    def _record(self, peer: _Peer, *, complete: bool) -> RecordedRequest:
        recorded = peer.recorded(complete=complete)
        number = peer.slot.number
        with self._cond:
            index = self._partial.pop(number, None)
            if index is not None:  # read_head recorded it: complete it
                self._requests[index] = recorded
            else:
                self._requests.append(recorded)
                if not complete:
                    self._partial[number] = len(self._requests) - 1
            self._cond.notify_all()
        return recorded


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
            sock.bind((HOST, 0))
            atexit.register(sock.close)
            _reserved = sock
        return f"http://{HOST}:{_reserved.getsockname()[1]}"


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
        listener.bind((HOST, 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(3):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            fillers.append(filler)
            filler.setblocking(False)
            filler.connect_ex((HOST, port))
        try:
            socket.create_connection((HOST, port), timeout=probe_timeout).close()
        except TimeoutError:
            hangs = True
        except OSError:
            hangs = False
        else:
            hangs = False
        yield UnresponsiveListener(f"http://{HOST}:{port}", port, hangs)
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
