"""TLS contexts: verification on by default, against certifi's CA bundle."""

from __future__ import annotations

import ssl
from typing import TypeAlias

import certifi

__all__ = ["CertTypes", "VerifyTypes", "make_ssl_context"]

VerifyTypes: TypeAlias = "bool | str | ssl.SSLContext"
CertTypes: TypeAlias = "str | tuple[str, str] | tuple[str, str, str] | None"


def make_ssl_context(verify: VerifyTypes = True, cert: CertTypes = None) -> ssl.SSLContext:
    """An SSL context for ``verify``: True (certifi's bundle), a CA file or directory
    path, False (no verification at all), or a ready context (used as is).
    ``cert`` is a client certificate file, or (cert, key) or (cert, key, password).
    Raises ``OSError``/``ssl.SSLError`` for unreadable files.
    """
    if isinstance(verify, ssl.SSLContext):
        context = verify
    elif verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif isinstance(verify, str):
        import os.path

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
