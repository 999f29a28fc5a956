"""Client.paginate and AsyncClient.paginate over MockTransport (sync, asyncio and trio).

A fake API serves listings in each paging style; every page is one client call, so the
tests also check that retries, errors and headers apply per page.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import anyio
import pytest

from sdk_core import (
    CursorPaging,
    InvalidRequestError,
    LinkHeaderPaging,
    NextCursorPaging,
    NotFoundError,
    OffsetPaging,
    Page,
    PageRequest,
    PaginationError,
    Paging,
    Request,
    Response,
)
from sdk_transports import AsyncClient, Client, MockTransport

BASE = "https://api.example.test/v1"
SECRET = "sk-paging-TOPSECRET"
ITEMS = [{"id": f"item_{i:02d}", "n": i} for i in range(7)]


def query(request: Request) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(request.url.target.partition("?")[2]).items()}


def reply(body: Any, *, headers: dict[str, str] | None = None, status: int = 200) -> Response:
    return Response(status, headers=headers, content=json.dumps(body).encode())


class FakeAPI:
    """Serves ITEMS in pages of ``limit`` (2 by default), in the style asked for, and
    records every request. ``fail`` maps a page's first item index to statuses to answer
    with first, one per attempt."""

    def __init__(self, style: str, fail: dict[int, list[int]] | None = None) -> None:
        self.style = style
        self.fail = fail or {}
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        q = query(request)
        limit = int(q.get("limit", 2))
        if self.style == "cursor":
            after = q.get("after")
            start = (
                next(i + 1 for i, item in enumerate(ITEMS) if item["id"] == after) if after else 0
            )
        elif self.style == "next_cursor":
            start = int(q.get("cursor", 0))
        else:  # offset, link
            start = int(q.get("offset", 0))
        if self.fail.get(start):
            return reply({"error": {"message": "try again"}}, status=self.fail[start].pop(0))
        chunk = ITEMS[start : start + limit]
        more = start + limit < len(ITEMS)
        if self.style == "cursor":
            return reply({"object": "list", "data": chunk, "has_more": more})
        if self.style == "next_cursor":
            return reply({"data": chunk, "next_cursor": str(start + limit) if more else None})
        if self.style == "offset":
            return reply({"data": chunk, "total": len(ITEMS)})
        headers = {}
        if more:
            headers["Link"] = (
                f'</v1/items?offset=0&limit={limit}>; rel="first", '
                f'</v1/items?offset={start + limit}&limit={limit}>; rel="next"'
            )
        return reply(chunk, headers=headers)


STYLES: list[tuple[str, Paging]] = [
    ("cursor", CursorPaging()),
    ("next_cursor", NextCursorPaging()),
    ("offset", OffsetPaging()),
    ("link", LinkHeaderPaging()),
]


def client_for(api: Callable[[Request], Response], **kwargs: Any) -> Client:
    sleeps: list[float] = []
    return Client(BASE, api_key=SECRET, transport=MockTransport(api), sleep=sleeps.append, **kwargs)


async def no_wait(seconds: float) -> None:
    await anyio.lowlevel.checkpoint()


def async_client_for(api: Callable[[Request], Any], **kwargs: Any) -> AsyncClient:
    return AsyncClient(BASE, api_key=SECRET, transport=MockTransport(api), sleep=no_wait, **kwargs)


# -- every style, both clients ----------------------------------------------------------


@pytest.mark.parametrize(("style", "paging"), STYLES, ids=[s for s, _ in STYLES])
def test_every_item_once_in_order(style: str, paging: Paging) -> None:
    api = FakeAPI(style)
    with client_for(api) as client:
        items = list(client.paginate("GET", "/items", paging, params={"limit": 2}))
    assert items == ITEMS
    assert len(api.requests) == 4
    for request in api.requests:  # the client's headers go with every page
        assert request.headers["authorization"] == f"Bearer {SECRET}"
        assert request.url.host == "api.example.test"


@pytest.mark.anyio
@pytest.mark.parametrize(("style", "paging"), STYLES, ids=[s for s, _ in STYLES])
async def test_every_item_once_in_order_async(style: str, paging: Paging) -> None:
    api = FakeAPI(style)
    async with async_client_for(api) as client:
        items = [
            item async for item in client.paginate("GET", "/items", paging, params={"limit": 2})
        ]
    assert items == ITEMS
    assert len(api.requests) == 4


def test_the_requests_sent_for_cursor_pages() -> None:
    api = FakeAPI("cursor")
    with client_for(api) as client:
        list(client.paginate("GET", "/items", CursorPaging(), params={"limit": 3}))
    assert [query(r) for r in api.requests] == [
        {"limit": "3"},
        {"limit": "3", "after": "item_02"},
        {"limit": "3", "after": "item_05"},
    ]


def test_link_pages_follow_the_server_links() -> None:
    api = FakeAPI("link")
    with client_for(api) as client:
        list(client.paginate("GET", "/items", LinkHeaderPaging(), params={"limit": 3}))
    assert [r.url.target for r in api.requests] == [
        "/v1/items?limit=3",
        "/v1/items?offset=3&limit=3",
        "/v1/items?offset=6&limit=3",
    ]


def test_pages_gives_whole_pages_and_starts_afresh() -> None:
    api = FakeAPI("cursor")
    with client_for(api) as client:
        paginator = client.paginate("GET", "/items", CursorPaging(), params={"limit": 3})
        assert api.requests == []  # nothing is sent before iterating
        assert next(paginator) == ITEMS[0]
        pages = list(paginator.pages())  # a new walk, from the first page
        assert next(paginator) == ITEMS[1]  # the items' walk went on where it was
    assert [p.items for p in pages] == [ITEMS[0:3], ITEMS[3:6], ITEMS[6:7]]
    assert all(isinstance(p, Page) for p in pages)
    assert pages[0].request == PageRequest("GET", "/items", {"limit": 3})
    assert pages[0].next_request == PageRequest("GET", "/items", {"limit": 3, "after": "item_02"})
    assert pages[-1].next_request is None
    assert pages[1].response.json()["has_more"] is True
    assert len(api.requests) == 1 + 3


@pytest.mark.anyio
async def test_pages_async() -> None:
    api = FakeAPI("offset")
    async with async_client_for(api) as client:
        paginator = client.paginate("GET", "/items", OffsetPaging(), params={"limit": 4})
        pages = [page async for page in paginator.pages()]
        assert aiter(paginator) is paginator
    assert [len(p.items) for p in pages] == [4, 3]
    assert pages[0].next_request == PageRequest("GET", "/items", {"limit": 4, "offset": 4})


def test_an_empty_listing() -> None:
    with client_for(lambda request: reply({"data": [], "has_more": False})) as client:
        assert list(client.paginate("GET", "/items", CursorPaging())) == []


def test_other_keywords_go_with_every_page() -> None:
    api = FakeAPI("next_cursor")
    with client_for(api) as client:
        list(
            client.paginate(
                "GET", "/items", NextCursorPaging(), headers={"X-Team": "core"}, timeout=3.0
            )
        )
    assert [r.headers.first("x-team") for r in api.requests] == ["core"] * 4


def test_a_post_listing_sends_its_body_with_every_page() -> None:
    seen: list[tuple[str, bytes, str | None]] = []

    def api(request: Request) -> Response:
        assert isinstance(request.content, bytes)
        seen.append((request.method, request.content, request.headers.first("idempotency-key")))
        cursor = query(request).get("cursor")
        return reply({"data": [cursor], "next_cursor": None if cursor else "c2"})

    with client_for(api) as client:
        items = list(client.paginate("POST", "/search", NextCursorPaging(), json={"q": "x"}))
    assert items == [None, "c2"]
    assert [(m, c) for m, c, _ in seen] == [("POST", b'{"q":"x"}')] * 2
    keys = [key for _, _, key in seen]
    assert all(keys)
    assert keys[0] != keys[1]  # each page is its own call, with its own key


# -- retries, errors and bounds ----------------------------------------------------------


def test_a_page_is_retried_as_any_call() -> None:
    api = FakeAPI("cursor", fail={2: [503, 500]})
    with client_for(api) as client:
        pages = list(client.paginate("GET", "/items", CursorPaging()).pages())
    assert [p.response.attempts for p in pages] == [1, 3, 1, 1]
    assert [item for p in pages for item in p.items] == ITEMS


@pytest.mark.anyio
async def test_a_page_is_retried_as_any_call_async() -> None:
    api = FakeAPI("link", fail={4: [429]})
    async with async_client_for(api) as client:
        pages = [p async for p in client.paginate("GET", "/items", LinkHeaderPaging()).pages()]
    assert [p.response.attempts for p in pages] == [1, 1, 2, 1]


def test_an_error_status_on_a_later_page_raises_and_keeps_the_position() -> None:
    api = FakeAPI("offset", fail={2: [404]})
    with client_for(api) as client:
        paginator = client.paginate("GET", "/items", OffsetPaging())
        assert [next(paginator), next(paginator)] == ITEMS[:2]
        with pytest.raises(NotFoundError) as caught:
            next(paginator)
        assert caught.value.attempts == 1
        assert SECRET not in repr(caught.value.request)
        assert list(paginator) == ITEMS[2:]  # iterating again fetches that page again


@pytest.mark.anyio
async def test_an_error_status_on_a_later_page_async() -> None:
    api = FakeAPI("cursor", fail={4: [404]})
    async with async_client_for(api) as client:
        paginator = client.paginate("GET", "/items", CursorPaging())
        got = [await anext(paginator) for _ in range(4)]
        with pytest.raises(NotFoundError):
            await anext(paginator)
        got += [item async for item in paginator]
    assert got == ITEMS


def test_max_pages_bounds_the_walk() -> None:
    api = FakeAPI("cursor")
    with client_for(api) as client:
        items = list(client.paginate("GET", "/items", CursorPaging(), max_pages=2))
        assert len(list(client.paginate("GET", "/items", CursorPaging(), max_pages=2).pages())) == 2
    assert items == ITEMS[:4]
    assert len(api.requests) == 4


@pytest.mark.anyio
async def test_max_pages_bounds_the_walk_async() -> None:
    api = FakeAPI("link")
    async with async_client_for(api) as client:
        items = [i async for i in client.paginate("GET", "/items", LinkHeaderPaging(), max_pages=3)]
    assert items == ITEMS[:6]
    assert len(api.requests) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_pages": 0}, "max_pages"),
        ({"max_pages": 2.5}, "max_pages"),
        ({"idempotency_key": "k1"}, "idempotency_key"),
        ({"path": "/items\r\nX: 1"}, "control character"),
    ],
)
@pytest.mark.parametrize("which", ["sync", "async"])
def test_bad_arguments_raise_at_once(kwargs: dict[str, Any], message: str, which: str) -> None:
    kwargs = dict(kwargs)
    path = kwargs.pop("path", "/items")
    api = FakeAPI("cursor")
    client: Client | AsyncClient = client_for(api) if which == "sync" else async_client_for(api)
    with pytest.raises(InvalidRequestError, match=message):
        client.paginate("GET", path, CursorPaging(), **kwargs)
    assert api.requests == []


def test_a_malformed_page_raises_pagination_error() -> None:
    with (
        client_for(lambda request: reply({"items": []})) as client,
        pytest.raises(PaginationError, match="'data' field is not a list") as caught,
    ):
        list(client.paginate("GET", "/items", CursorPaging()))
    assert caught.value.response is not None
    assert caught.value.response.status_code == 200
    assert caught.value.request is not None


def test_a_server_that_repeats_a_page_is_caught() -> None:
    # The cursor never moves: a stuck server would otherwise be paged forever.
    stuck = reply({"data": [{"id": "same"}], "has_more": True})
    with (
        client_for(lambda request: stuck) as client,
        pytest.raises(PaginationError, match="never end"),
    ):
        list(client.paginate("GET", "/items", CursorPaging()))


@pytest.mark.anyio
async def test_a_server_whose_pages_cycle_is_caught_async() -> None:
    sent: list[str] = []

    def api(request: Request) -> Response:
        cursor = query(request).get("cursor", "0")
        sent.append(cursor)
        following = {"0": "1", "1": "2", "2": "3", "3": "1"}[cursor]  # 1 -> 2 -> 3 -> 1
        return reply({"data": [cursor], "next_cursor": following})

    async with async_client_for(api) as client:
        with pytest.raises(PaginationError, match="cycle"):
            [i async for i in client.paginate("GET", "/items", NextCursorPaging())]
    assert len(sent) < 12


def test_a_next_link_to_another_origin_is_not_followed() -> None:
    sent: list[Request] = []

    def api(request: Request) -> Response:
        sent.append(request)
        return reply([1], headers={"Link": '<https://evil.example/steal>; rel="next"'})

    with (
        client_for(api) as client,
        pytest.raises(PaginationError, match="another origin") as caught,
    ):
        list(client.paginate("GET", "/items", LinkHeaderPaging()))
    assert len(sent) == 1
    assert SECRET not in str(caught.value)


def test_a_page_redirected_to_another_origin_does_not_take_the_key_along() -> None:
    sent: list[Request] = []

    def api(request: Request) -> Response:
        sent.append(request)
        if request.url.host == "api.example.test":
            return Response(302, headers={"Location": "https://cdn.example.test/items?p=1"})
        return reply([1], headers={"Link": '</items?p=2>; rel="next"'})

    with (
        client_for(api) as client,
        pytest.raises(PaginationError, match="another origin than the first"),
    ):
        list(client.paginate("GET", "/items", LinkHeaderPaging()))
    assert [r.url.host for r in sent] == ["api.example.test", "cdn.example.test"]
    assert "authorization" not in sent[1].headers  # the client's rule for the redirect


@pytest.mark.anyio
async def test_cancelling_a_page_keeps_the_position() -> None:
    """The second page's request is cancelled while the API holds it; iterating again
    asks for that page again and goes on from there."""
    slow = [True]
    held = anyio.Event()

    async def api(request: Request) -> Response:
        cursor = query(request).get("cursor")
        if cursor == "2" and slow[0]:
            held.set()
            await anyio.sleep_forever()
        return reply({"data": [cursor or "1"], "next_cursor": None if cursor else "2"})

    async def cancel_when_held(scope: anyio.CancelScope) -> None:
        await held.wait()
        scope.cancel()

    async with async_client_for(api) as client:
        paginator = client.paginate("GET", "/items", NextCursorPaging())
        assert await anext(paginator) == "1"
        with anyio.fail_after(10), anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel_when_held, scope)
                await anext(paginator)
        assert scope.cancelled_caught
        slow[0] = False
        assert [item async for item in paginator] == ["2"]
        assert client.statistics().in_use == 0


def test_with_options_copies_paginate_too() -> None:
    api = FakeAPI("cursor")
    with client_for(api) as client:
        copy = client.with_options(default_headers={"X-Copy": "1"})
        assert list(copy.paginate("GET", "/items", CursorPaging(), max_pages=1)) == ITEMS[:2]
    assert api.requests[0].headers["x-copy"] == "1"


def test_a_blocking_program_that_paginates_never_loads_the_async_stacks() -> None:
    program = textwrap.dedent(
        """
        import sys
        from sdk_core import CursorPaging, Response
        from sdk_transports import Client, MockTransport

        body = b'{"data": [{"id": "a"}], "has_more": false}'
        transport = MockTransport(lambda request: Response(200, content=body))
        with Client("http://api.test", transport=transport) as client:
            assert list(client.paginate("GET", "/items", CursorPaging())) == [{"id": "a"}]
        print(sorted(m for m in ("anyio", "asyncio", "trio", "httpcore") if m in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
