"""The streaming conformance scenarios (``sdk_transports.testing.stream_conformance``)
run against HttpcoreTransport and AsyncHttpcoreTransport (asyncio and trio)."""

from __future__ import annotations

from sdk_core import Limits
from sdk_transports import AsyncHttpcoreTransport, HttpcoreTransport
from sdk_transports.testing.stream_conformance import (
    AsyncStreamConformance,
    SyncStreamConformance,
)


class TestHttpcoreTransportStreams(SyncStreamConformance):
    def make_transport(self, *, limits: Limits) -> HttpcoreTransport:
        return HttpcoreTransport(limits=limits)


class TestAsyncHttpcoreTransportStreams(AsyncStreamConformance):
    def make_transport(self, *, limits: Limits) -> AsyncHttpcoreTransport:
        return AsyncHttpcoreTransport(limits=limits)
