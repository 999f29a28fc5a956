"""Fixtures for tests that talk to a real server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sdk_transports.testing import ScenarioApp, ServerHandle, run_server


@pytest.fixture(scope="session")
def scenario_server() -> Iterator[ServerHandle[ScenarioApp]]:
    """A ``ScenarioApp`` served by hypercorn for the whole session.

    State is shared between tests: use unique keys, or POST ``/reset`` first.
    """
    with run_server(ScenarioApp()) as server:
        yield server
