"""``ThreadedServer``: what every scripted test server here shares, written once.

It listens on an ephemeral 127.0.0.1 port, runs each accepted connection on its own
daemon thread (``serve_connection``, which a subclass writes), can wrap a connection in
TLS, counts the connections accepted and finished, and stops within a bounded time: it
sets ``stopping``, wakes blocked reads and writes, joins every thread and closes every
socket. ``FaultServer`` and ``PhaseServer`` are built on it.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from types import TracebackType
from typing import Any

from typing_extensions import Self

__all__ = ["HOST", "Slot", "Stopped", "ThreadedServer"]

HOST = "127.0.0.1"
_ACCEPT_POLL = 0.05  # how soon the accept loop notices a stop
_JOIN_TIMEOUT = 5.0


class Stopped(Exception):
    """The server is stopping, or the peer went away: end the connection."""


class Slot:
    """One accepted connection: its number (1-based) and its current socket (the TLS
    socket once ``ThreadedServer.start_tls`` wrapped it)."""

    __slots__ = ("number", "sock")

    def __init__(self, sock: socket.socket, number: int) -> None:
        self.sock = sock
        self.number = number


class ThreadedServer:
    """A 127.0.0.1 server, one thread per connection; use it as a context manager.

    A subclass implements ``serve_connection(slot, state)``, where ``state`` is what its
    ``accepted(number)`` returned under the server's lock (by default None). Raising
    ``Stopped`` or ``OSError`` from it ends the connection quietly.
    """

    #: Names the threads, and the error ``stop`` raises.
    kind = "ThreadedServer"

    def __init__(
        self, *, ssl_context: ssl.SSLContext | None = None, io_timeout: float = 10.0
    ) -> None:
        self.ssl_context = ssl_context
        self.io_timeout = io_timeout  # a backstop: stop() wakes blocked I/O long before
        self.join_timeout = _JOIN_TIMEOUT  # per thread, when stopping
        self.stopping = threading.Event()
        self._cond = threading.Condition()
        self._slots: set[Slot] = set()
        self._threads: list[threading.Thread] = []
        self._accepted = 0
        self._finished = 0
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self.port = 0

    # -- what tests read ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, or ``https://`` with an ssl context."""
        scheme = "http" if self.ssl_context is None else "https"
        return f"{scheme}://{HOST}:{self.port}"

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        with self._cond:
            return self._accepted

    @property
    def finished(self) -> int:
        """Connections whose handler ended and whose socket the server closed."""
        with self._cond:
            return self._finished

    def wait_finished(self, count: int, timeout: float = 5.0) -> bool:
        """Block until ``count`` connections were closed by the server; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._finished >= count, timeout)

    # -- what subclasses write ---------------------------------------------------------

    def accepted(self, number: int) -> Any:
        """Called under the lock for each accepted connection; returns its state."""
        return None

    def serve_connection(self, slot: Slot, state: Any) -> None:
        """Serve one connection (on its own thread)."""
        raise NotImplementedError

    def start_tls(self, slot: Slot) -> ssl.SSLSocket:
        """Wrap ``slot``'s socket in the server's TLS context and shake hands.

        Raises ``Stopped`` when the server is stopping, and ``ssl.SSLError`` (an OSError)
        when the handshake fails."""
        assert self.ssl_context is not None
        conn = self.ssl_context.wrap_socket(
            slot.sock, server_side=True, do_handshake_on_connect=False
        )
        with self._cond:  # the descriptor moved to ``conn``: stop() shuts that one
            if self.stopping.is_set():
                conn.close()
                raise Stopped
            slot.sock = conn
        conn.do_handshake()
        return conn

    def forget(self, slot: Slot) -> None:
        """Close ``slot``'s socket once, counting it as finished."""
        with self._cond:
            if slot not in self._slots:
                return
            self._slots.discard(slot)
            self._finished += 1
            self._cond.notify_all()
        slot.sock.close()
        self.on_finished(slot)

    def on_finished(self, slot: Slot) -> None:
        """Called after a connection's socket was closed."""

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> Self:
        """Bind 127.0.0.1 on an ephemeral port and start accepting."""
        if self._listener is not None:
            raise RuntimeError(f"{self.kind} already started.")
        listener = socket.create_server((HOST, 0))
        listener.settimeout(_ACCEPT_POLL)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"{self.kind}:{self.port}", daemon=True
        )
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Stop within a bounded time: wake waits, blocked reads and writes, join every
        thread, close every socket. Raises ``RuntimeError`` if a thread survives."""
        self.stopping.set()
        if self._acceptor is not None:
            self._acceptor.join(self.join_timeout)
        if self._listener is not None:
            self._listener.close()
        with self._cond:
            socks = [slot.sock for slot in self._slots]
            self._cond.notify_all()
        for sock in socks:  # wakes recv() and sendall() blocked in connection threads
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(self.join_timeout)
        with self._cond:
            slots = list(self._slots)
            self._slots.clear()
        for slot in slots:
            slot.sock.close()
        alive = [t.name for t in (self._acceptor, *self._threads) if t and t.is_alive()]
        if alive:
            raise RuntimeError(f"{self.kind} threads did not stop: {alive}")

    def __enter__(self) -> Self:
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
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(self.io_timeout)
            with self._cond:
                if self.stopping.is_set():
                    sock.close()
                    return
                self._accepted += 1
                slot = Slot(sock, self._accepted)
                state = self.accepted(slot.number)
                self._slots.add(slot)
                thread = threading.Thread(
                    target=self._run,
                    args=(slot, state),
                    name=f"{self.kind}:{self.port}#{slot.number}",
                    daemon=True,
                )
                self._threads.append(thread)
            thread.start()

    def _run(self, slot: Slot, state: Any) -> None:
        try:
            self.serve_connection(slot, state)
        except (Stopped, OSError):  # ssl.SSLError is an OSError
            pass
        finally:
            self.forget(slot)
