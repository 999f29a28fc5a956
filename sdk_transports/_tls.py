"""TLS contexts: verification on by default, against certifi's CA bundle.

``LazySSLContext`` makes a transport's context on its first TLS connection: a program
that only speaks plain HTTP never loads the ssl module, certifi or a CA bundle (about
30 ms of start-up). What it is given is checked when it is given.
"""

from __future__ import annotations

import os.path
import sys
import threading
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import ssl

__all__ = ["CertTypes", "LazySSLContext", "VerifyTypes", "make_ssl_context"]

VerifyTypes: TypeAlias = "bool | str | ssl.SSLContext"
CertTypes: TypeAlias = "str | tuple[str, str] | tuple[str, str, str] | None"


def _is_context(value: object) -> bool:
    ssl_module = sys.modules.get("ssl")  # a context exists only if ssl was imported
    return ssl_module is not None and isinstance(value, ssl_module.SSLContext)


class LazySSLContext:
    """A transport's SSL context, made on first use (safe from several threads).

    Raises ``TypeError`` at once for a ``verify`` or ``cert`` of the wrong type and
    ``FileNotFoundError`` for a CA path or certificate file that does not exist; what
    only reading the files can tell (``ssl.SSLError``) is raised by the first ``get``.
    """

    __slots__ = ("_cert", "_context", "_lock", "_verify")

    def __init__(self, verify: VerifyTypes = True, cert: CertTypes = None) -> None:
        if not (isinstance(verify, bool | str) or _is_context(verify)):
            raise TypeError(f"verify must be a bool, a CA path or an SSLContext, not {verify!r}.")
        paths = [verify] if isinstance(verify, str) else []
        if cert is not None:
            if not isinstance(cert, str | tuple) or (
                isinstance(cert, tuple) and not (2 <= len(cert) <= 3)
            ):
                raise TypeError("cert must be a path, (cert, key) or (cert, key, password).")
            paths += [cert] if isinstance(cert, str) else list(cert[:2])
        for path in paths:
            if not os.path.exists(path):
                raise FileNotFoundError(f"No such CA or certificate file: {path!r}.")
        self._verify = verify
        self._cert = cert
        self._context: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    def get(self) -> ssl.SSLContext:
        """The context; made (and kept) the first time."""
        context = self._context
        if context is None:
            with self._lock:
                if self._context is None:
                    self._context = make_ssl_context(self._verify, self._cert)
                context = self._context
        return context


def make_ssl_context(verify: VerifyTypes = True, cert: CertTypes = None) -> ssl.SSLContext:
    """An SSL context for ``verify``: True (certifi's bundle), a CA file or directory
    path, False (no verification at all), or a ready context (used as is).
    ``cert`` is a client certificate file, or (cert, key) or (cert, key, password).
    Raises ``OSError``/``ssl.SSLError`` for unreadable files.
    """
    import ssl

    import certifi

    if isinstance(verify, ssl.SSLContext):
        context = verify
    elif verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif isinstance(verify, str):
        if os.path.isdir(verify):
            context = ssl.create_default_context(capath=verify)
        else:
            context = ssl.create_default_context(cafile=verify)
    else:
        context = ssl.create_default_context(cafile=certifi.where())
    if cert is not None:
        if isinstance(cert, str):
            context.load_cert_chain(cert)
        elif len(cert) == 2:
            context.load_cert_chain(cert[0], cert[1])
        else:
            context.load_cert_chain(cert[0], cert[1], cert[2])
    return context
