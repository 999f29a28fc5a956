"""``HttpcoreTransport`` and ``AsyncHttpcoreTransport``: httpcore's pools behind the
transport protocols (streaming included), with every httpcore exception translated where
it enters.

A pool is only used in the process and on the event loop that made it: after
``os.fork()`` (sync) or under another event loop (async) the transport closes the old
pool's sockets at once, sending nothing and awaiting nothing, and makes a new pool.

The layout: ``_async_httpcore.py`` holds the async transport and its response stream,
``_sync_httpcore.py`` is generated from it (``scripts/unasync.py``), and what the two
sides do differently is written by hand, a small piece each, in ``_httpcore_sides.py``
(where the pool belongs, request bodies, shielded closes) and ``_httpcore_backends.py``
(the network backends and the bound of an exchange); this module is where the package
imports them from.
"""

from __future__ import annotations

from ._async_httpcore import AsyncHttpcoreResponseStream, AsyncHttpcoreTransport
from ._sync_httpcore import HttpcoreResponseStream, HttpcoreTransport

__all__ = [
    "AsyncHttpcoreResponseStream",
    "AsyncHttpcoreTransport",
    "HttpcoreResponseStream",
    "HttpcoreTransport",
]
