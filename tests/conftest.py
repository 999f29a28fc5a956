"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import sys

import pytest

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
