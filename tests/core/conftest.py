"""tests/core is pure: no network, no sleeping. These guards make a slip fail loudly."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest


def _forbidden(what: str) -> Callable[..., None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"tests/core must not {what}; sdk_core is sans-I/O.")

    return refuse


@pytest.fixture(autouse=True)
def _no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", _forbidden("sleep"))
    monkeypatch.setattr(socket, "socket", _forbidden("open a socket"))
    monkeypatch.setattr(socket, "create_connection", _forbidden("connect"))
    monkeypatch.setattr(socket, "getaddrinfo", _forbidden("resolve names"))
