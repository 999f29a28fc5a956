"""The ``ConnectError`` every transport raises when a connection cannot be opened: its
message says why (the OS's, the resolver's or OpenSSL's reason, dug out of the wrappers
anyio and httpcore put around it), and ``retryable`` is False when the name does not
exist, which another attempt would only be told again.
"""

from __future__ import annotations

import socket
import sys

from sdk_core import ConnectError, Request

__all__ = ["connect_error", "reasons", "where"]

#: ``getaddrinfo`` answers that say the name does not exist (or never will resolve):
#: permanent. ``EAI_AGAIN`` (the resolver could not answer now) is not among them.
_PERMANENT_DNS = frozenset(
    code
    for code in (
        socket.EAI_NONAME,
        getattr(socket, "EAI_NODATA", None),  # glibc: the name has no address
        socket.EAI_FAIL,
    )
    if code is not None
)
_MAX_DEPTH = 8  # a chain of wrappers is short; the bound guards against a cycle


def where(request: Request) -> str:
    """``host:port`` of ``request``'s URL (an IPv6 host in brackets)."""
    url = request.url
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{host}:{url.port}"


def _wrapped(error: BaseException) -> BaseException | None:
    """What ``error`` wraps when it has nothing of its own to say: its cause, or the
    exception it was made from (httpcore's ``ConnectError(exc)``, whose cause its pool
    drops with ``raise ... from None``). An ``OSError`` with an errno says something."""
    if isinstance(error, OSError) and error.errno is not None:
        return None
    if error.__cause__ is not None:
        return error.__cause__
    args = error.args
    return args[0] if len(args) == 1 and isinstance(args[0], BaseException) else None


def reasons(exc: BaseException) -> list[BaseException]:
    """The errors that say why ``exc`` happened: ``exc`` itself, or, for a wrapper with
    nothing of its own to say, what it wraps. Wrappers are exception groups (each of
    their errors counts), an ``OSError`` without an errno that has a cause (anyio's
    "All connection attempts failed"), and any other exception with a cause or made
    from an exception (httpcore's ``ConnectError``, anyio's ``BrokenResourceError``
    around an ``ssl.SSLError``)."""
    found: list[BaseException] = []
    pending: list[tuple[BaseException, int]] = [(exc, 0)]
    while pending:
        error, depth = pending.pop(0)
        members = getattr(error, "exceptions", None)
        inner = _wrapped(error) if depth < _MAX_DEPTH else None
        if depth < _MAX_DEPTH and isinstance(members, tuple) and members:
            pending.extend((member, depth + 1) for member in members)
        elif inner is not None:
            pending.append((inner, depth + 1))
        else:
            found.append(error)
    return found


def _is_tls(error: BaseException) -> bool:
    ssl_module = sys.modules.get("ssl")  # an SSLError exists only if ssl was imported
    return ssl_module is not None and isinstance(error, ssl_module.SSLError)


def connect_error(exc: BaseException, request: Request) -> ConnectError:
    """The ``ConnectError`` for ``exc``, raised while opening ``request``'s connection:
    "connecting to host:port failed: <reason>" (every distinct reason, when several
    addresses failed) or "TLS with host:port failed: <OpenSSL's reason>";
    not retryable when the resolver said the name does not exist."""
    found = reasons(exc)
    text = "; ".join(dict.fromkeys(str(error) or type(error).__name__ for error in found))
    permanent = all(
        isinstance(error, socket.gaierror) and error.errno in _PERMANENT_DNS for error in found
    )
    if any(_is_tls(error) for error in found):
        message = f"TLS with {where(request)} failed: {text}"
    else:
        message = f"connecting to {where(request)} failed: {text}"
    return ConnectError(message, request=request, retryable=not permanent)
