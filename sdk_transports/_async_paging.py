# unasync: sdk_transports/_paging.py
# unasync: async-only
"""``AsyncPaginator``: what ``AsyncClient.paginate`` returns, a short loop around
``sdk_core``'s ``Listing``. ``Paginator`` (sdk_transports/_paging.py) is generated from
this file by scripts/unasync.py.

Each page is one ``requester.request`` call, so retries, deadlines, redirects, typed
errors and redaction apply to every page as to any call. The paginator knows its client
only as an ``AsyncRequester``, so this module imports no client.
"""
# unasync-replace: "Cancellation propagates; the" -> "After an error the"
# unasync: sync-only
# """``Paginator``: what ``Client.paginate`` returns, a short loop around ``sdk_core``'s
# ``Listing``, generated from sdk_transports/_async_paging.py.
#
# Each page is one ``requester.request`` call, so retries, deadlines, redirects, typed
# errors and redaction apply to every page as to any call. The paginator knows its client
# only as a ``Requester``, so this module imports no client.
# """
# unasync: end

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from typing_extensions import Unpack

from sdk_core import URL, Page, Paging, Response
from sdk_core.lowlevel import Listing

from ._client_base import RequestKwargs

# unasync: sync-only
# # AsyncPaginator is still importable from here, where it lived before.
# from ._async_paging import AsyncPaginator as AsyncPaginator
# unasync: end

__all__ = ["AsyncPaginator", "AsyncRequester"]


class AsyncRequester(Protocol):
    """What a paginator fetches its pages with: ``AsyncClient``, or anything with its
    ``request``."""

    async def request(
        self, method: str, path: str, **kwargs: Unpack[RequestKwargs]
    ) -> Response: ...


class AsyncPaginator(AsyncIterator[Any]):
    """Iterates (``async for``) over the items of every page of a listing
    (``AsyncClient.paginate``).

    Pages are fetched as the items run out, the first on the first ``__anext__``. Each
    page's call raises as ``requester.request`` does; a page the strategy cannot read,
    a next page on another origin, or a cycle raises ``PaginationError``. After an error
    the position stays at the page that failed: iterating again fetches it again.
    ``max_pages`` ends the listing quietly after that many pages. The constructor
    raises ``InvalidRequestError`` for a bad path, params, ``max_pages`` or an
    ``idempotency_key`` (see ``sdk_core``'s ``Listing``), before anything is sent.
    """

    __slots__ = ("_args", "_index", "_page", "_pages")

    def __init__(
        self,
        requester: AsyncRequester,
        method: str,
        path: str,
        paging: Paging,
        *,
        base_url: URL | str,
        max_pages: int | None,
        kwargs: RequestKwargs,
    ) -> None:
        Listing(paging, method, path, kwargs, base_url=base_url, max_pages=max_pages)
        self._args = (requester, method, path, paging, base_url, max_pages, kwargs)
        self._pages: AsyncIterator[Page] | None = None
        self._page: list[Any] = []
        self._index = 0

    def pages(self) -> AsyncIterator[Page]:
        """A new walk through the listing from its first page, a ``Page`` at a time
        (``items``, ``response``, ``request``, ``next_request``)."""
        return _AsyncPages(*self._args)

    def __aiter__(self) -> AsyncPaginator:
        return self

    async def __anext__(self) -> Any:
        """The next item, fetching the next page when this one's are used up.
        Cancellation propagates; the position stays where it was."""
        while self._index >= len(self._page):
            if self._pages is None:
                self._pages = self.pages()
            self._page = (await anext(self._pages)).items
            self._index = 0
        self._index += 1
        return self._page[self._index - 1]


class _AsyncPages(AsyncIterator[Page]):
    """What ``AsyncPaginator.pages`` returns (a class, not a generator, so that one left
    unfinished needs no finalizer)."""

    __slots__ = ("_listing", "_requester")

    def __init__(
        self,
        requester: AsyncRequester,
        method: str,
        path: str,
        paging: Paging,
        base_url: URL | str,
        max_pages: int | None,
        kwargs: RequestKwargs,
    ) -> None:
        self._requester = requester
        self._listing = Listing(
            paging, method, path, kwargs, base_url=base_url, max_pages=max_pages
        )

    def __aiter__(self) -> _AsyncPages:
        return self

    async def __anext__(self) -> Page:
        """The next page. Cancellation propagates; the position stays where it was."""
        step = self._listing.next_call()
        if step is None:
            raise StopAsyncIteration
        request, kwargs = step
        response = await self._requester.request(request.method, request.path, **kwargs)
        return self._listing.receive_page(request, response)
