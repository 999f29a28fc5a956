"""``Paginator`` and ``AsyncPaginator``: what ``Client.paginate`` and
``AsyncClient.paginate`` return, two short loops around ``sdk_core``'s ``PageWalk``.

Each page is one ``client.request``, so retries, deadlines, redirects, typed errors and
redaction apply to every page as to any call. Nothing here imports an event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from sdk_core import InvalidRequestError, Page, PageRequest, Paging, Response
from sdk_core._paging import PageWalk

from ._client_base import RequestKwargs

if TYPE_CHECKING:
    from ._async_client import AsyncClient
    from ._client import Client

__all__ = ["AsyncPaginator", "Paginator"]


def _start(
    client: Client | AsyncClient,
    method: str,
    path: str,
    paging: Paging,
    max_pages: int | None,
    kwargs: RequestKwargs,
) -> tuple[PageWalk, RequestKwargs]:
    """The walk's state and the keywords every page's request takes besides params.

    ``params`` go to every page as given (a mapping, or pairs whose names may repeat);
    the strategy's own param replaces one of the same name. Raises
    ``InvalidRequestError`` for a bad path, params or ``max_pages``, and for an
    ``idempotency_key`` (one key would make every page a replay of the first).
    """
    if kwargs.get("idempotency_key") is not None:
        raise InvalidRequestError(
            "paginate() takes no idempotency_key: each page is its own request."
        )
    rest: RequestKwargs = {**kwargs}
    params = rest.pop("params", None)
    if params is None:
        params = {}
    elif isinstance(params, Mapping):
        params = dict(params)  # the caller's mapping may change while the walk goes on
    first = PageRequest(method, path, params)
    walk = PageWalk(paging, first, base_url=client._config.base_url, max_pages=max_pages)
    return walk, rest


def _call_kwargs(request: PageRequest, rest: RequestKwargs) -> RequestKwargs:
    return {**rest, "params": request.params or None}


class Paginator(Iterator[Any]):
    """An iterator over the items of every page of a listing (``Client.paginate``).

    Pages are fetched as the items run out, the first on the first ``next()``. Each
    page's call raises as ``Client.request`` does; a page the strategy cannot read, a
    next page on another origin, or a cycle raises ``PaginationError``. After an error
    the position stays at the page that failed: iterating again fetches it again.
    ``max_pages`` ends the listing quietly after that many pages.
    """

    __slots__ = ("_args", "_index", "_page", "_pages")

    def __init__(
        self,
        client: Client,
        method: str,
        path: str,
        paging: Paging,
        *,
        max_pages: int | None,
        kwargs: RequestKwargs,
    ) -> None:
        _start(client, method, path, paging, max_pages, kwargs)  # raise early
        self._args = (client, method, path, paging, max_pages, kwargs)
        self._pages: Iterator[Page] | None = None
        self._page: list[Any] = []
        self._index = 0

    def pages(self) -> Iterator[Page]:
        """A new walk through the listing from its first page, a ``Page`` at a time
        (``items``, ``response``, ``request``, ``next_request``)."""
        return _Pages(*self._args)

    def __iter__(self) -> Paginator:
        return self

    def __next__(self) -> Any:
        while self._index >= len(self._page):
            if self._pages is None:
                self._pages = self.pages()
            self._page = next(self._pages).items
            self._index = 0
        self._index += 1
        return self._page[self._index - 1]


class _Pages(Iterator[Page]):
    """What ``Paginator.pages`` returns."""

    __slots__ = ("_client", "_rest", "_walk")

    def __init__(
        self,
        client: Client,
        method: str,
        path: str,
        paging: Paging,
        max_pages: int | None,
        kwargs: RequestKwargs,
    ) -> None:
        self._client = client
        self._walk, self._rest = _start(client, method, path, paging, max_pages, kwargs)

    def __iter__(self) -> _Pages:
        return self

    def __next__(self) -> Page:
        request = self._walk.next_request()
        if request is None:
            raise StopIteration
        response: Response = self._client.request(
            request.method, request.path, **_call_kwargs(request, self._rest)
        )
        return self._walk.receive_page(request, response)


class AsyncPaginator(AsyncIterator[Any]):
    """An async iterator over the items of every page of a listing
    (``AsyncClient.paginate``), on asyncio and trio.

    It behaves as ``Paginator`` does. When the task is cancelled while a page is being
    fetched, the cancellation propagates and the position stays at that page.
    """

    __slots__ = ("_args", "_index", "_page", "_pages")

    def __init__(
        self,
        client: AsyncClient,
        method: str,
        path: str,
        paging: Paging,
        *,
        max_pages: int | None,
        kwargs: RequestKwargs,
    ) -> None:
        _start(client, method, path, paging, max_pages, kwargs)  # raise early
        self._args = (client, method, path, paging, max_pages, kwargs)
        self._pages: AsyncIterator[Page] | None = None
        self._page: list[Any] = []
        self._index = 0

    def pages(self) -> AsyncIterator[Page]:
        """A new walk through the listing from its first page, a ``Page`` at a time."""
        return _AsyncPages(*self._args)

    def __aiter__(self) -> AsyncPaginator:
        return self

    async def __anext__(self) -> Any:
        """The next item, fetching the next page when this one's are used up.
        Cancellation propagates; the position stays where it was."""
        while self._index >= len(self._page):
            if self._pages is None:
                self._pages = self.pages()
            self._page = (await self._pages.__anext__()).items
            self._index = 0
        self._index += 1
        return self._page[self._index - 1]


class _AsyncPages(AsyncIterator[Page]):
    """What ``AsyncPaginator.pages`` returns (a class, not an async generator, so that
    one left unfinished needs no finalizer on either event loop)."""

    __slots__ = ("_client", "_rest", "_walk")

    def __init__(
        self,
        client: AsyncClient,
        method: str,
        path: str,
        paging: Paging,
        max_pages: int | None,
        kwargs: RequestKwargs,
    ) -> None:
        self._client = client
        self._walk, self._rest = _start(client, method, path, paging, max_pages, kwargs)

    def __aiter__(self) -> _AsyncPages:
        return self

    async def __anext__(self) -> Page:
        """The next page. Cancellation propagates; the position stays where it was."""
        request = self._walk.next_request()
        if request is None:
            raise StopAsyncIteration
        response: Response = await self._client.request(
            request.method, request.path, **_call_kwargs(request, self._rest)
        )
        return self._walk.receive_page(request, response)
