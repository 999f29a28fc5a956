"""What the async streams raise, in anyio's terms: every async backend reports a closed
or broken connection with anyio's exceptions, so the connection code catches one tuple.

TLS is no longer anyio's ``TLSStream``: asyncio uses ``loop.start_tls`` and trio
``_tls.AsyncTLSStream``, both with the backend's own timeouts.
"""

from __future__ import annotations

import anyio

__all__ = ["STREAM_ERRORS"]

#: What an async stream raises when the connection broke or was closed under it
#: (``ssl.SSLError`` is an ``OSError``).
STREAM_ERRORS = (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError)
