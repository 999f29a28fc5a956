"""The transport conformance suite (``sdk_transports.testing.conformance``) run against
every transport this project ships: two blocking, two async (each on asyncio and trio).

A scenario a transport cannot pass is listed in its ``known_gaps`` with the reason; it
runs as a strict xfail, so the day it passes the run fails and the entry goes.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import ClassVar

from sdk_core import Limits
from sdk_transports import (
    AnyioTransport,
    AsyncHttpcoreTransport,
    HttpcoreTransport,
    SocketTransport,
)
from sdk_transports.testing.conformance import (
    AsyncTransportConformance,
    SyncTransportConformance,
)


class TestSocketTransport(SyncTransportConformance):
    def make_transport(self, *, limits: Limits) -> SocketTransport:
        return SocketTransport(limits=limits)


class TestHttpcoreTransport(SyncTransportConformance):
    def make_transport(self, *, limits: Limits) -> HttpcoreTransport:
        return HttpcoreTransport(limits=limits)


class TestAnyioTransport(AsyncTransportConformance):
    def make_transport(self, *, limits: Limits) -> AnyioTransport:
        return AnyioTransport(limits=limits)

    def make_tls_transport(self, *, limits: Limits, verify: ssl.SSLContext) -> AnyioTransport:
        return AnyioTransport(limits=limits, verify=verify)


class TestAsyncHttpcoreTransport(AsyncTransportConformance):
    known_gaps: ClassVar[Mapping[str, str]] = {
        "cancellation_frees_every_slot": (
            "httpcore 1.0.9 AsyncConnectionPool: a request cancelled after the pool "
            "assigned it a newly created connection, but before using it, leaves that "
            "connection in the pool as CONNECTING for good (not closed, idle, expired or "
            "available), so its slot never comes back (encode/httpcore#1093, also #830 "
            "and #658; fixes proposed in #1099 and #986)"
        ),
        "early_response_during_upload[asyncio]": (
            "httpcore reads on after a WriteError to get an early answer (encode/httpcore"
            "#723, #641), but on asyncio the failed write makes asyncio's transport close "
            "the socket and drop the unread 413, so the read raises ReadError; passes on "
            "trio"
        ),
    }

    def make_transport(self, *, limits: Limits) -> AsyncHttpcoreTransport:
        return AsyncHttpcoreTransport(limits=limits)

    def make_tls_transport(
        self, *, limits: Limits, verify: ssl.SSLContext
    ) -> AsyncHttpcoreTransport:
        return AsyncHttpcoreTransport(limits=limits, verify=verify)
