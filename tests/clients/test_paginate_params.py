"""``paginate(..., params=[(name, value), ...])``: every page keeps the caller's pairs,
repeated names and order included, and the paging strategy's own param (cursor, offset)
takes the place of one of the same name given by the caller instead of being added twice.

Each listing is served by a FaultServer on 127.0.0.1 that answers scripted pages and
records the request target of each; checked on Client and on AsyncClient under asyncio and
trio, through item iteration and through ``pages()``. Params that are not a mapping or a
list of pairs are refused by ``paginate`` itself, before anything is sent.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sdk_core import CursorPaging, InvalidRequestError, NextCursorPaging, OffsetPaging, Paging
from sdk_transports import AsyncClient, Client
from sdk_transports.testing import FaultServer, Step, read_request, respond


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


# (id, strategy, the caller's params, the bodies of the pages, the targets the server
# must see, one per page, and the items of the whole listing).
CASES: list[Any] = [
    pytest.param(
        CursorPaging(),
        [("tag", "x"), ("after", "start"), ("tag", "y"), ("limit", 2)],
        [
            {"data": [{"id": "a"}, {"id": "b"}], "has_more": True},
            {"data": [{"id": "c"}], "has_more": False},
        ],
        ["/items?tag=x&after=start&tag=y&limit=2", "/items?tag=x&after=b&tag=y&limit=2"],
        [{"id": "a"}, {"id": "b"}, {"id": "c"}],
        id="cursor-replaces-the-callers",
    ),
    pytest.param(
        CursorPaging(),
        [("after", "p"), ("tag", "x"), ("after", "q"), ("tag", "y")],
        [
            {"data": [{"id": "a"}], "has_more": True},
            {"data": [{"id": "b"}], "has_more": True},
            {"data": [], "has_more": False},
        ],
        [
            "/items?after=p&tag=x&after=q&tag=y",
            "/items?after=a&tag=x&tag=y",
            "/items?after=b&tag=x&tag=y",
        ],
        [{"id": "a"}, {"id": "b"}],
        id="cursor-given-twice-becomes-one",
    ),
    pytest.param(
        CursorPaging(),
        [("tag", "x"), ("tag", "y")],
        [
            {"data": [{"id": "a"}], "has_more": True},
            {"data": [{"id": "b"}], "has_more": False},
        ],
        ["/items?tag=x&tag=y", "/items?tag=x&tag=y&after=a"],
        [{"id": "a"}, {"id": "b"}],
        id="cursor-added-last",
    ),
    pytest.param(
        NextCursorPaging(),
        (("cursor", "c0"), ("f", ["1", "2"]), ("f", "3"), ("skip", None)),
        [{"data": [1], "next_cursor": "c1"}, {"data": [2], "next_cursor": None}],
        ["/items?cursor=c0&f=1&f=2&f=3", "/items?cursor=c1&f=1&f=2&f=3"],
        [1, 2],
        id="next-cursor-tuple-of-pairs",
    ),
    pytest.param(
        OffsetPaging(),
        [("f", "1"), ("limit", "2"), ("f", "2"), ("offset", 0)],
        [{"data": [1, 2], "total": 3}, {"data": [3], "total": 3}],
        ["/items?f=1&limit=2&f=2&offset=0", "/items?f=1&limit=2&f=2&offset=2"],
        [1, 2, 3],
        id="offset-replaces-the-callers",
    ),
    pytest.param(
        OffsetPaging(),
        {"f": ["1", "2"], "limit": 2},
        [{"data": [1, 2], "total": 3}, {"data": [3], "total": 3}],
        ["/items?f=1&f=2&limit=2", "/items?f=1&f=2&limit=2&offset=2"],
        [1, 2, 3],
        id="offset-mapping-with-a-list",
    ),
]
CASE_ARGS = "paging, params, bodies, targets, items"


def pages_script(bodies: list[Any]) -> list[Step]:
    """One keep-alive connection that answers each page's request with its body."""
    steps: list[Step] = []
    for page in bodies:
        steps += [read_request(), respond(200, body(page))]
    return steps


def targets_seen(server: FaultServer) -> list[str]:
    return [request.target for request in server.requests]


@pytest.mark.parametrize("walk", ["items", "pages"])
@pytest.mark.parametrize(CASE_ARGS, CASES)
def test_sync_pages_keep_the_callers_pairs(
    walk: str, paging: Paging, params: Any, bodies: list[Any], targets: list[str], items: list[Any]
) -> None:
    with FaultServer() as server, Client(server.url) as client:
        server.script(*pages_script(bodies))
        paginator = client.paginate("GET", "/items", paging, params=params)
        if walk == "items":
            assert list(paginator) == items
        else:
            pages = list(paginator.pages())
            assert [item for page in pages for item in page.items] == items
            assert pages[-1].next_request is None
        assert targets_seen(server) == targets
        assert server.connections == 1


@pytest.mark.anyio
@pytest.mark.parametrize("walk", ["items", "pages"])
@pytest.mark.parametrize(CASE_ARGS, CASES)
async def test_async_pages_keep_the_callers_pairs(
    anyio_backend: str,
    walk: str,
    paging: Paging,
    params: Any,
    bodies: list[Any],
    targets: list[str],
    items: list[Any],
) -> None:
    with FaultServer() as server:
        server.script(*pages_script(bodies))
        async with AsyncClient(server.url) as client:
            paginator = client.paginate("GET", "/items", paging, params=params)
            if walk == "items":
                assert [item async for item in paginator] == items
            else:
                pages = [page async for page in paginator.pages()]
                assert [item for page in pages for item in page.items] == items
                assert pages[-1].next_request is None
        assert targets_seen(server) == targets
        assert server.connections == 1


#: (id, params, the message of the refusal): each refused by paginate() itself.
BAD_PARAMS = [
    pytest.param("a=1", "mapping or a list", id="str"),
    pytest.param([("a", "1", "2")], "pairs", id="triple"),
    pytest.param(["ab"], "pairs", id="not-a-pair"),
    pytest.param([("a", object())], "'a'.*not object", id="bad-value"),
    pytest.param([(1, "x")], "name that is a int", id="bad-name"),
    pytest.param({"a": b"xy"}, "'a'.*bytes", id="mapping-bad-value"),
]


@pytest.mark.parametrize(("params", "message"), BAD_PARAMS)
def test_sync_bad_params_are_refused_before_anything_is_sent(params: Any, message: str) -> None:
    with FaultServer() as server, Client(server.url) as client:
        with pytest.raises(InvalidRequestError, match=message):
            client.paginate("GET", "/items", CursorPaging(), params=params)
        assert server.connections == 0


@pytest.mark.anyio
@pytest.mark.parametrize(("params", "message"), BAD_PARAMS)
async def test_async_bad_params_are_refused_before_anything_is_sent(
    anyio_backend: str, params: Any, message: str
) -> None:
    with FaultServer() as server:
        async with AsyncClient(server.url) as client:
            with pytest.raises(InvalidRequestError, match=message):
                client.paginate("GET", "/items", CursorPaging(), params=params)
        assert server.connections == 0
