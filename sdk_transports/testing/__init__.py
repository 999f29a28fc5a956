"""Test helpers: a scriptable ASGI app and a real local server to run it on;
``FaultServer``, a byte-exact HTTP/1.1 fault server with its script steps; and
``FAULTS``, the one table of the faults the suites inflict (a ``Fault`` each: the
server's scripts and the exact exception every transport raises).

The transport conformance suite is the submodule ``sdk_transports.testing.conformance``
(it needs pytest, so it is not imported here).
"""

from ._fault_server import (
    FaultServer,
    RecordedRequest,
    Step,
    UnresponsiveListener,
    close,
    hang,
    read_head,
    read_request,
    refused_url,
    reset,
    respond,
    respond_chunked,
    send,
    serve,
    serve_forever,
    stall,
    unresponsive_listener,
)
from ._faults import FAULTS, Fault
from ._scenario_app import ScenarioApp
from ._server import ServerHandle, run_server

__all__ = [
    "FAULTS",
    "Fault",
    "FaultServer",
    "RecordedRequest",
    "ScenarioApp",
    "ServerHandle",
    "Step",
    "UnresponsiveListener",
    "close",
    "hang",
    "read_head",
    "read_request",
    "refused_url",
    "reset",
    "respond",
    "respond_chunked",
    "run_server",
    "send",
    "serve",
    "serve_forever",
    "stall",
    "unresponsive_listener",
]
