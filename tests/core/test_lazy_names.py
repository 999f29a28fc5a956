"""The names ``sdk_core`` loads on first use are listed, importable and the same
objects as in their modules; an unknown name is an AttributeError."""

from __future__ import annotations

import pytest

import sdk_core
from sdk_core import _observe, _paging, _sse


def test_lazy_names_resolve_to_their_modules() -> None:
    assert sdk_core.ServerSentEvent is _sse.ServerSentEvent
    assert sdk_core.CursorPaging is _paging.CursorPaging
    assert sdk_core.AttemptRecord is _observe.AttemptRecord
    names = dir(sdk_core)
    assert {"ServerSentEvent", "Paging", "AttemptRecord", "Call"} <= set(names)
    assert set(sdk_core.__all__) <= set(names)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchName"):
        sdk_core.NoSuchName  # noqa: B018
