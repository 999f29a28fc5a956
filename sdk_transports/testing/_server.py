"""Run an ASGI app on a real hypercorn server in a background thread.

Usage, as a context manager (preferred)::

    with run_server(ScenarioApp()) as server:
        urllib.request.urlopen(server.url + "/echo")

or explicitly, e.g. from a pytest fixture::

    server = run_server(app).start()
    try:
        ...
    finally:
        server.stop()

hypercorn is imported by ``start()`` only, so ``sdk_transports`` imports without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from ._scenario_app import ASGIApp

if TYPE_CHECKING:
    from hypercorn.config import Config

__all__ = ["ServerHandle", "run_server"]

AppT = TypeVar("AppT", bound=ASGIApp)

_logger = logging.getLogger("sdk_transports.testing.server")
_PROBE_INTERVAL = 0.01
_FORCED_STOP_TIMEOUT = 5.0


def run_server(
    app: AppT,
    *,
    host: str = "127.0.0.1",
    startup_timeout: float = 10.0,
    graceful_timeout: float = 1.0,
) -> ServerHandle[AppT]:
    """Return a not yet started ``ServerHandle`` serving ``app`` on ``host``.

    Enter it with ``with`` (or call ``start()``) to serve on an OS-chosen port.
    Nothing is raised here; see ``ServerHandle.start`` and ``ServerHandle.stop``.
    """
    return ServerHandle(
        app, host=host, startup_timeout=startup_timeout, graceful_timeout=graceful_timeout
    )


@dataclass
class _Runtime:
    """One serving run: the socket, the thread and what the thread reports back."""

    sock: socket.socket
    port: int
    thread: threading.Thread | None = None
    loop_ready: threading.Event = field(default_factory=threading.Event)
    loop: asyncio.AbstractEventLoop | None = None
    shutdown: asyncio.Event | None = None
    task: asyncio.Task[Any] | None = None
    failure: BaseException | None = None
    cancelled: bool = False

    def call_in_loop(self, callback: Callable[[], object]) -> None:
        """Schedule ``callback()`` on the server loop; a finished loop is ignored."""
        if self.loop is None or self.thread is None or not self.thread.is_alive():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed since the check
            self.loop.call_soon_threadsafe(callback)


class ServerHandle(Generic[AppT]):
    """A hypercorn server for one ASGI app, on its own thread and asyncio loop.

    The listening socket is bound to ``(host, 0)`` before hypercorn starts, so the
    port is known without races. A handle can be started again after ``stop()``; the
    new run gets a new port. Call ``start``/``stop`` from one thread at a time.
    """

    #: ``stop()`` cancels the server task if it still runs this many seconds after
    #: ``graceful_timeout``: on Python >= 3.12 hypercorn's shutdown also waits for
    #: in-flight requests to finish.
    force_stop_margin: float = 1.0

    def __init__(
        self,
        app: AppT,
        *,
        host: str = "127.0.0.1",
        startup_timeout: float = 10.0,
        graceful_timeout: float = 1.0,
    ) -> None:
        self.app = app
        self.host = host
        self.startup_timeout = startup_timeout
        self.graceful_timeout = graceful_timeout
        self._runtime: _Runtime | None = None
        self._forced = False

    @property
    def forced_stop(self) -> bool:
        """Whether the last ``stop()`` had to cancel the server task (it still ran
        ``force_stop_margin`` seconds after ``graceful_timeout``)."""
        return self._forced

    @property
    def running(self) -> bool:
        """Whether ``start()`` succeeded and ``stop()`` has not been called since."""
        return self._runtime is not None

    @property
    def port(self) -> int:
        """The bound TCP port. Raises RuntimeError if the server is not running."""
        return self._require_runtime().port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``. Raises RuntimeError if not running."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> ServerHandle[AppT]:
        """Start serving and wait until the server accepts connections; return ``self``.

        Raises:
            RuntimeError: if already running, or if the server thread fails on startup.
            TimeoutError: if the server does not accept connections within
                ``startup_timeout`` seconds (the server is torn down first).
            ImportError: if hypercorn is not installed.
            OSError: if the socket cannot be bound.
        """
        if self._runtime is not None:
            raise RuntimeError(f"server already running on {self.url}")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.bind((self.host, 0))
            # Accepted connections inherit this; without it every response that
            # hypercorn writes in two pieces waits on Nagle and a delayed ACK (~40 ms).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            runtime = _Runtime(sock=sock, port=int(sock.getsockname()[1]))
            config = _hypercorn_config(runtime, self.graceful_timeout)
        except BaseException:
            sock.close()
            raise
        runtime.thread = threading.Thread(
            target=_thread_main,
            args=(self.app, config, runtime),
            name=f"sdk-test-server:{runtime.port}",
            daemon=True,
        )
        runtime.thread.start()
        try:
            self._wait_until_serving(runtime)
        except BaseException:
            _shutdown(runtime, self.graceful_timeout + self.force_stop_margin)
            raise
        self._runtime = runtime
        return self

    def stop(self) -> None:
        """Shut the server down gracefully and join its thread; a no-op if not running.

        In-flight requests get ``graceful_timeout`` seconds, then they are cancelled;
        should the server still run ``force_stop_margin`` seconds later (Python >= 3.12
        with a request in flight), its task is cancelled, which also ends it cleanly.

        Raises:
            RuntimeError: if the server thread does not end (the thread and socket are
                then left behind), or if the server failed while serving.
        """
        runtime, self._runtime = self._runtime, None
        if runtime is None:
            return
        _shutdown(runtime, self.graceful_timeout + self.force_stop_margin)
        self._forced = runtime.cancelled
        if runtime.failure is not None and not runtime.cancelled:
            raise RuntimeError("the test server failed while serving") from runtime.failure

    def __enter__(self) -> ServerHandle[AppT]:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._runtime is not None else "stopped"
        return f"<ServerHandle {type(self.app).__name__} {where}>"

    def _require_runtime(self) -> _Runtime:
        if self._runtime is None:
            raise RuntimeError("the server is not running; call start() or use `with`")
        return self._runtime

    def _wait_until_serving(self, runtime: _Runtime) -> None:
        assert runtime.thread is not None
        deadline = time.monotonic() + self.startup_timeout
        while not _accepts_connections(self.host, runtime.port):
            if not runtime.thread.is_alive():
                raise RuntimeError("the test server stopped during startup") from runtime.failure
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"the test server did not accept connections within "
                    f"{self.startup_timeout} s on {self.host}:{runtime.port}"
                )
            time.sleep(_PROBE_INTERVAL)


def _hypercorn_config(runtime: _Runtime, graceful_timeout: float) -> Config:
    from hypercorn.config import Config, Sockets

    class _PreboundConfig(Config):
        # hypercorn binds the addresses in ``bind`` here; handing it the socket that
        # start() already bound keeps the port race-free and the socket's ownership
        # unambiguous (``fd://N`` would wrap the same fd in a second socket object).
        def create_sockets(self) -> Sockets:
            return Sockets(secure_sockets=[], insecure_sockets=[runtime.sock], quic_sockets=[])

    config = _PreboundConfig()
    config.bind = []  # never used for binding; see create_sockets
    config.accesslog = None
    config.errorlog = _logger  # startup chatter is INFO; app errors still surface
    config.graceful_timeout = graceful_timeout
    return config


def _thread_main(app: ASGIApp, config: Config, runtime: _Runtime) -> None:
    try:
        asyncio.run(_serve(app, config, runtime))
    except BaseException as exc:  # reported by start()/stop(), never lost
        runtime.failure = exc
    finally:
        runtime.loop_ready.set()


async def _serve(app: ASGIApp, config: Config, runtime: _Runtime) -> None:
    from hypercorn.asyncio import serve

    runtime.loop = asyncio.get_running_loop()
    runtime.loop.set_exception_handler(_quiet_cancellations)
    runtime.shutdown = asyncio.Event()
    runtime.task = asyncio.current_task()
    runtime.loop_ready.set()
    # hypercorn types apps with TypedDict scopes; ASGIApp uses plain mappings.
    await serve(cast(Any, app), config, shutdown_trigger=runtime.shutdown.wait, mode="asgi")


def _quiet_cancellations(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # On Python < 3.12 asyncio's stream callback reports connection tasks that the
    # graceful shutdown cancelled as errors; everything else is reported as usual.
    if not isinstance(context.get("exception"), asyncio.CancelledError):
        loop.default_exception_handler(context)


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _shutdown(runtime: _Runtime, force_after: float) -> None:
    """Stop the loop of ``runtime``, cancelling it after ``force_after`` s; close the socket.

    Raises:
        RuntimeError: if the thread is still alive after graceful and forced shutdown.
    """
    thread = runtime.thread
    if thread is not None:
        runtime.loop_ready.wait(timeout=5.0)
        shutdown = runtime.shutdown
        if shutdown is not None:
            runtime.call_in_loop(shutdown.set)
        thread.join(force_after)
        if thread.is_alive() and runtime.task is not None:
            runtime.cancelled = True
            runtime.call_in_loop(runtime.task.cancel)
            thread.join(_FORCED_STOP_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"the test server thread {thread.name} did not stop")
    runtime.sock.close()  # hypercorn closed it already; this covers failed startups
