"""The steps of a ``FaultServer`` script: what one connection reads, writes and waits for.

Each step is a frozen dataclass whose ``run`` acts on the connection (a ``Peer``); the
functions below (``read_request``, ``send``, ``respond``, ``stall``, ``reset``...) build
them and check their arguments, raising ``ValueError`` before any server runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol

from ._threaded import Stopped

__all__ = [
    "DEFAULT_SCRIPT",
    "Peer",
    "RecordedRequest",
    "Step",
    "close",
    "hang",
    "read_head",
    "read_request",
    "reset",
    "respond",
    "respond_chunked",
    "send",
    "serve",
    "serve_forever",
    "stall",
]

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


class Peer(Protocol):
    """The server side of one connection, as a step sees it."""

    @property
    def method(self) -> str:
        """The method of the last request read (a HEAD response carries no body)."""
        ...

    def read(self, *, head_only: bool = False) -> RecordedRequest:
        """Read the next request (or its head only); ``Stopped`` at EOF."""
        ...

    def send(self, data: bytes) -> None:
        """Write ``data``; ``Stopped`` when the server stops or the peer is gone."""
        ...

    def wait(self, seconds: float | None) -> None:
        """Wait ``seconds`` (None: until the server stops); ``Stopped`` on a stop."""
        ...

    def close(self, *, rst: bool) -> None:
        """Close the connection with FIN, or RST when ``rst``."""
        ...


class Step:
    """One thing a connection does. Build steps with the functions below."""

    def run(self, peer: Peer) -> None:
        """Do this step on ``peer``'s connection; raise ``Stopped`` to end the script."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class _ReadRequest(Step):
    head_only: bool = False

    def run(self, peer: Peer) -> None:
        peer.read(head_only=self.head_only)


@dataclass(frozen=True, slots=True)
class _Send(Step):
    data: bytes

    def run(self, peer: Peer) -> None:
        peer.send(self.data)


@dataclass(frozen=True, slots=True)
class _Respond(Step):
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    close: bool

    def run(self, peer: Peer) -> None:
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
            raise Stopped


@dataclass(frozen=True, slots=True)
class _RespondChunked(Step):
    chunks: tuple[bytes, ...]
    terminate: bool
    status: int
    headers: tuple[tuple[str, str], ...]

    def run(self, peer: Peer) -> None:
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

    def run(self, peer: Peer) -> None:
        peer.wait(self.seconds)


@dataclass(frozen=True, slots=True)
class _Close(Step):
    rst: bool

    def run(self, peer: Peer) -> None:
        peer.close(rst=self.rst)
        raise Stopped


@dataclass(frozen=True, slots=True)
class _Hang(Step):
    def run(self, peer: Peer) -> None:
        peer.wait(None)


@dataclass(frozen=True, slots=True)
class _Serve(Step):
    count: int | None  # None: until the client closes

    def run(self, peer: Peer) -> None:
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


DEFAULT_SCRIPT: tuple[Step, ...] = (_Serve(None),)
