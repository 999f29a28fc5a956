"""``StreamResponse`` and ``AsyncStreamResponse``: a response handed over before its body
is read, with the body read in decoded pieces, as text, as lines or as Server-Sent Events.

A streamed response holds its pooled connection until the body is read to its end or the
response is closed; use it as a context manager (``with client.stream(...) as response``).
Every read is bounded: by the read timeout for the wait, by the call's ``Timeout.total``
deadline for the whole call (``DeadlineExceeded`` past it), by ``STREAM_WINDOW`` for one
piece, and by ``max_response_size`` for ``read()``, which keeps the whole body (also as
the head's ``content``). The stream response is the one owner of the call's deadline
once the head is handed over (the core's ``ReadDeadline``); on ``AsyncClient`` it is a
hard bound, a cancel scope around each read the deadline bounds.

The ``iter_*`` and ``aiter_*`` methods return a ``BodyIterator`` or ``AsyncBodyIterator``:
plain iterator objects, not generators, so one left unfinished holds nothing and needs no
finalizer on any event loop; closing it (``contextlib.closing``/``aclosing``) or the
response ends it.

The layout: ``_async_streaming.py`` holds the async classes, ``_sync_streaming.py`` is
generated from it (``scripts/unasync.py``), ``_stream_base.py`` holds what both share;
this module is where the clients and the package import them from.
"""

from __future__ import annotations

from ._async_streaming import AsyncBodyIterator, AsyncStreamResponse, read_whole_async
from ._async_streaming import AsyncBufferedStream as BufferedAsyncStream
from ._stream_base import PieceReader
from ._sync_streaming import BodyIterator, BufferedStream, StreamResponse, read_whole

__all__ = [
    "AsyncBodyIterator",
    "AsyncStreamResponse",
    "BodyIterator",
    "BufferedAsyncStream",
    "BufferedStream",
    "PieceReader",
    "StreamResponse",
    "read_whole",
    "read_whole_async",
]
