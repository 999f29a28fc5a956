"""The async driver's default clock: the running loop's.

Hand-written, not generated: the blocking ``Client`` has no loop to read (it uses
``time.monotonic``).
"""

from __future__ import annotations

import sys
from asyncio import _get_running_loop as asyncio_running_loop

import anyio

__all__ = ["loop_time"]


def loop_time() -> float:
    """The running loop's clock, the one its deadlines use (``anyio.current_time()``):
    asyncio's ``loop.time()``, else trio's clock, read directly."""
    loop = asyncio_running_loop()
    if loop is not None:
        return loop.time()
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        return float(trio.current_time())
    return anyio.current_time()  # pragma: no cover - no other backend
