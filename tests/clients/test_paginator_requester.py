"""The paginators need only a requester (an object with the client's ``request``), not
a client: a fake one drives them here, sync and async."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sdk_core import CursorPaging, InvalidRequestError, Response
from sdk_transports import AsyncPaginator, Paginator
from sdk_transports._async_paging import AsyncRequester
from sdk_transports._paging import Requester

BASE = "https://api.example.test/v1"
PAGES = {None: (["a", "b"], True), "b": (["c"], False)}


def answer(params: Any) -> Response:
    items, more = PAGES[(params or {}).get("after")]
    body = {"data": [{"id": item} for item in items], "has_more": more}
    return Response(200, content=json.dumps(body).encode())


class FakeRequester:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, path: str, **kwargs: Any) -> Response:
        self.calls.append((method, path, kwargs))
        return answer(kwargs.get("params"))


class AsyncFakeRequester:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    async def request(self, method: str, path: str, **kwargs: Any) -> Response:
        self.calls.append((method, path, kwargs))
        return answer(kwargs.get("params"))


def test_a_paginator_walks_with_any_requester() -> None:
    requester = FakeRequester()
    typed: Requester = requester
    items = Paginator(
        typed,
        "GET",
        "/items",
        CursorPaging(),
        base_url=BASE,
        max_pages=None,
        kwargs={"headers": {"x-a": "1"}},
    )
    assert requester.calls == []  # nothing is sent until iterated
    assert [item["id"] for item in items] == ["a", "b", "c"]
    assert requester.calls == [
        ("GET", "/items", {"headers": {"x-a": "1"}, "params": None}),
        ("GET", "/items", {"headers": {"x-a": "1"}, "params": {"after": "b"}}),
    ]


@pytest.mark.anyio
async def test_an_async_paginator_walks_with_any_requester() -> None:
    requester = AsyncFakeRequester()
    typed: AsyncRequester = requester
    items = AsyncPaginator(
        typed, "GET", "/items", CursorPaging(), base_url=BASE, max_pages=None, kwargs={}
    )
    assert [item["id"] async for item in items] == ["a", "b", "c"]
    pages = [page async for page in items.pages()]  # a new walk from the first page
    assert [len(page.items) for page in pages] == [2, 1]
    assert len(requester.calls) == 4


def test_bad_keywords_raise_when_the_paginator_is_made() -> None:
    with pytest.raises(InvalidRequestError, match="idempotency_key"):
        Paginator(
            FakeRequester(),
            "POST",
            "/items",
            CursorPaging(),
            base_url=BASE,
            max_pages=None,
            kwargs={"idempotency_key": "k"},
        )


def test_async_paginator_is_still_importable_from_paging() -> None:
    from sdk_transports import _paging

    assert _paging.AsyncPaginator is AsyncPaginator
