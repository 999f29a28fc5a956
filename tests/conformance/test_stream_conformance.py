"""The streaming conformance scenarios (``sdk_transports.testing.stream_conformance``)
run against every transport this project ships that streams."""

from __future__ import annotations

from sdk_core import Limits
from sdk_transports import AnyioTransport, SocketTransport
from sdk_transports.testing.stream_conformance import (
    AsyncStreamConformance,
    SyncStreamConformance,
)


class TestSocketTransportStreams(SyncStreamConformance):
    def make_transport(self, *, limits: Limits) -> SocketTransport:
        return SocketTransport(limits=limits)


class TestAnyioTransportStreams(AsyncStreamConformance):
    def make_transport(self, *, limits: Limits) -> AnyioTransport:
        return AnyioTransport(limits=limits)
