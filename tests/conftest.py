"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sdk_transports.testing import ScenarioApp, ServerHandle

#: ``SDK_TESTS_WITHOUT_HTTPTOOLS=1`` hides httptools, as a plain ``pip install`` (without
#: the ``fast`` extra) lacks it: every transport then reads responses with the h11 codec.
#: Set before anything imports sdk_core (this conftest is loaded first).
WITHOUT_HTTPTOOLS = os.environ.get("SDK_TESTS_WITHOUT_HTTPTOOLS") == "1"
if WITHOUT_HTTPTOOLS:
    sys.modules["httptools"] = None  # type: ignore[assignment]  # import raises ImportError


def pytest_report_header() -> str:
    return "codec: h11 (httptools hidden)" if WITHOUT_HTTPTOOLS else "codec: as installed"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every ``@pytest.mark.anyio`` test on asyncio and on trio."""
    return str(request.param)


@pytest.fixture(scope="session")
def scenario_server() -> Iterator[ServerHandle[ScenarioApp]]:
    """A ``ScenarioApp`` served by hypercorn for the whole session (started when a test
    first asks for it). State is shared between tests: use unique keys, or POST
    ``/reset`` first."""
    from sdk_transports.testing import ScenarioApp, run_server  # after the httptools switch

    with run_server(ScenarioApp()) as server:
        yield server


@pytest.fixture(scope="session")
def transport_server(scenario_server: ServerHandle[ScenarioApp]) -> ServerHandle[ScenarioApp]:
    """The same server, by the name the transport tests use."""
    return scenario_server


@pytest.fixture
def closed_port_url() -> str:
    """The URL of a 127.0.0.1 port that was just bound and closed: nothing listens there."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"
