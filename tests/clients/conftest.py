"""Fixtures the client tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _support.raw_server import RawServer, keep_alive, ok_response


@pytest.fixture
def raw() -> Iterator[RawServer]:
    """A raw server that answers 200 to everything and counts what it accepted."""
    with RawServer(keep_alive(ok_response())) as server:
        yield server
