"""The cancel storm of the async conformance suite: many calls, one after another, each
cancelled at a point a seeded random source picks."""

from __future__ import annotations

import random
from collections import Counter

import anyio
import anyio.lowlevel
import pytest

from sdk_core import APIError, DeadlineExceeded, Request, Timeout
from sdk_transports import AsyncClient, AsyncTransport

from ._conformance_common import TIMEOUT, UPLOAD_SIZE
from ._socket_audit import open_sockets

__all__ = ["STORM_DELAY", "STORM_OUTCOMES", "cancel_storm", "need_proc_fds", "no_sleep"]


async def no_sleep(_: float) -> None:
    """A client's ``sleep=`` that does not wait."""
    return


#: What a call of ``cancel_storm`` may end with.
STORM_OUTCOMES = frozenset({"completed", "cancelled", "deadline"})
STORM_CHECKPOINTS = 40  # a call cancelled after up to this many checkpoints
#: or after up to this many seconds (a TLS exchange takes longer)
STORM_DELAY = {"http": 0.006, "https": 0.012}


def need_proc_fds() -> None:
    try:
        open_sockets()
    except OSError:
        pytest.skip("counting open sockets needs /proc/self/fd")


async def cancel_storm(
    transport: AsyncTransport,
    url: str,
    rng: random.Random,
    calls: int,
    max_delay: float,
    uploads: float = 1 / 16,
) -> Counter[str]:
    """Make ``calls`` calls one after another, each cancelled at a point ``rng`` picks:
    after a number of scheduler checkpoints, after up to ``max_delay`` seconds, or by
    the client's ``Timeout(total=...)``; the share ``uploads`` of them send
    ``UPLOAD_SIZE`` bytes (a transport may send those while reading). Closes
    ``transport``. Returns how the calls ended: ``STORM_OUTCOMES``, or the name of
    what else came out of one."""
    tally: Counter[str] = Counter()
    cancelled = anyio.get_cancelled_exc_class()
    client = AsyncClient(
        url, transport=transport, max_retries=0, idempotency_header=None, sleep=no_sleep
    )

    async def call(request: Request, scope: anyio.CancelScope) -> None:
        with scope:
            try:
                await transport.handle_async_request(request, TIMEOUT)
            except cancelled:
                tally["cancelled"] += 1
                raise
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # a cancellation wrapped in a group, say
                tally[type(exc).__name__] += 1
                return
            tally["completed"] += 1

    try:
        for number in range(calls):
            upload = rng.random() < uploads
            path = f"/storm/{number}"
            content = b"u" * UPLOAD_SIZE if upload else None
            how = rng.randrange(3)
            if how == 0:  # the client's own deadline
                total = rng.uniform(0.0002, max_delay)
                try:
                    await client.request(
                        "POST" if upload else "GET",
                        path,
                        content=content,
                        timeout=Timeout(5.0, total=total),
                    )
                except DeadlineExceeded:
                    tally["deadline"] += 1
                except APIError as exc:
                    tally[type(exc).__name__] += 1
                else:
                    tally["completed"] += 1
                continue
            request = (
                Request("POST", url + path, content=content)
                if content is not None
                else Request("GET", url + path)
            )
            scope = anyio.CancelScope()
            async with anyio.create_task_group() as tg:
                tg.start_soon(call, request, scope)
                if how == 1:
                    for _ in range(rng.randrange(STORM_CHECKPOINTS)):
                        await anyio.lowlevel.checkpoint()
                else:
                    await anyio.sleep(rng.uniform(0.0, max_delay))
                scope.cancel()
    finally:
        await client.aclose()  # closes the transport
    return tally
