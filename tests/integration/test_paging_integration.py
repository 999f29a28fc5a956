"""Link-header paging against pytest-httpbin: a real server nobody here wrote.

httpbin has no paged listing (``/links/{n}/{offset}`` serves HTML anchors, not a Link
header), but ``/response-headers`` answers with the headers its query asks for and
echoes them in a JSON body, where a repeated parameter becomes a list. So a page is
``/response-headers?item=a&item=b&Link=<next page>; rel="next"``: its items are the
body's ``item`` list, its next page the Link header httpbin sends back.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from sdk_core import LinkHeaderPaging, PaginationError
from sdk_transports import AsyncClient, Client

pytestmark = pytest.mark.integration

PAGES = [["a", "b"], ["c", "d"], ["e", "f"]]


def page_path(index: int, *, next_target: str | None = None) -> str:
    """The relative URL of page ``index``; its Link points at the next page, if any."""
    params: list[tuple[str, str]] = [("item", item) for item in PAGES[index]]
    if next_target is None and index + 1 < len(PAGES):
        next_target = page_path(index + 1)
    if next_target is not None:
        params.append(("Link", f'<{next_target}>; rel="next"; title="page, {index + 2}"'))
    return "/response-headers?" + urlencode(params)


PAGING = LinkHeaderPaging(items="item")


def test_link_pages_from_httpbin(httpbin: Any) -> None:
    with Client(httpbin.url, api_key="sk-httpbin-key") as client:
        paginator = client.paginate("GET", page_path(0), PAGING)
        pages = list(paginator.pages())
        items = list(paginator)
    assert items == [item for page in PAGES for item in page]
    assert [page.items for page in pages] == PAGES
    assert pages[1].request.path == httpbin.url + page_path(1)
    assert pages[-1].next_request is None


@pytest.mark.anyio
async def test_link_pages_from_httpbin_async(httpbin: Any) -> None:
    async with AsyncClient(httpbin.url) as client:
        items = [item async for item in client.paginate("GET", page_path(0), PAGING)]
    assert items == ["a", "b", "c", "d", "e", "f"]


def test_a_next_link_to_another_origin_from_httpbin(httpbin: Any) -> None:
    path = page_path(0, next_target="https://elsewhere.example/response-headers?item=x")
    with Client(httpbin.url) as client, pytest.raises(PaginationError, match="another origin"):
        list(client.paginate("GET", path, PAGING))
