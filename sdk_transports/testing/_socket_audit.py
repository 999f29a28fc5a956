"""What the conformance kit's cancellation scenarios measure: the process's open
sockets (from ``/proc/self/fd``), with the garbage collector held off, and certificates
for a TLS server on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import gc
import os
import ssl
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import anyio.lowlevel

__all__ = ["SocketAudit", "audit_sockets", "open_sockets", "sockets_left", "tls_contexts"]

_FD_DIR = "/proc/self/fd"


def open_sockets() -> frozenset[str]:
    """The open sockets of this process, as ``"<fd> socket:[<inode>]"`` entries.

    Raises ``OSError`` where ``/proc/self/fd`` does not exist (not Linux).
    """
    found = set()
    for name in os.listdir(_FD_DIR):
        with contextlib.suppress(OSError):  # closed since listdir
            target = os.readlink(f"{_FD_DIR}/{name}")
            if target.startswith("socket:"):
                found.add(f"{name} {target}")
    return frozenset(found)


@dataclass
class SocketAudit:
    """The sockets open when the audit began, and the ``ResourceWarning``s since."""

    baseline: frozenset[str]
    warnings: list[warnings.WarningMessage] = field(default_factory=list)

    def opened(self) -> frozenset[str]:
        """Sockets opened since the audit began and still open."""
        return open_sockets() - self.baseline

    def unclosed(self) -> list[str]:
        """The ``ResourceWarning``s raised since (an object closed by its finalizer)."""
        return [str(w.message) for w in self.warnings if issubclass(w.category, ResourceWarning)]


@contextlib.contextmanager
def audit_sockets() -> Iterator[SocketAudit]:
    """Collect garbage, then hold the collector off and record ``ResourceWarning``s
    until the block ends: a socket that only the collector would close stays open,
    where ``SocketAudit.opened`` sees it."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            audit = SocketAudit(open_sockets())
            audit.warnings = caught
            yield audit
    finally:
        if enabled:
            gc.enable()


def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for 127.0.0.1 from a fresh trustme CA, and a
    client context that trusts that CA. Needs trustme."""
    import trustme

    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


async def sockets_left(audit: SocketAudit) -> frozenset[str]:
    """The sockets opened during ``audit`` still open, once the event loop had a few
    turns to run the closes it was handed (asyncio closes a transport's socket on its
    next iteration)."""
    left = audit.opened()
    for _ in range(20):
        if not left:
            break
        await anyio.lowlevel.checkpoint()
        left = audit.opened()
    return left
