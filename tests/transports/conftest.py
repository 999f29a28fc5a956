"""Fixtures for transport tests that need a real server on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from sdk_transports.testing import ScenarioApp, ServerHandle, run_server


@pytest.fixture(scope="session")
def transport_server() -> Iterator[ServerHandle[ScenarioApp]]:
    """A ``ScenarioApp`` served by hypercorn for the transport tests."""
    with run_server(ScenarioApp()) as server:
        yield server


@pytest.fixture
def closed_port_url() -> str:
    """The URL of a 127.0.0.1 port that was just bound and closed: nothing listens there."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"
