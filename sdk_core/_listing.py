"""``Listing``: one ``paginate`` call's state, without the loop that fetches the pages.

The paginators of both clients drive it::

    while (step := listing.next_call()) is not None:
        request, kwargs = step
        page = listing.receive_page(request, client.request(request.method, request.path, **kwargs))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._error_base import InvalidRequestError
from ._models import Response
from ._paging import Page, PageRequest, PageWalk, Paging
from ._url import URL

__all__ = ["Listing"]


class Listing:
    """The walk through a listing and the keywords every page's request takes.

    ``kwargs`` are a paginate call's request keywords. Their ``params`` go to every page
    as given (a mapping, copied so later changes to it do not move the walk, or pairs
    whose names may repeat); the strategy's own param replaces one of the same name.
    Raises ``InvalidRequestError`` for a bad path, params or ``max_pages``, and for an
    ``idempotency_key`` (one key would make every page a replay of the first).
    """

    __slots__ = ("_rest", "_walk")

    def __init__(
        self,
        paging: Paging,
        method: str,
        path: str,
        kwargs: Mapping[str, Any],
        *,
        base_url: URL | str,
        max_pages: int | None = None,
    ) -> None:
        if kwargs.get("idempotency_key") is not None:
            raise InvalidRequestError(
                "paginate() takes no idempotency_key: each page is its own request."
            )
        rest = dict(kwargs)
        params = rest.pop("params", None)
        if params is None:
            params = {}
        elif isinstance(params, Mapping):
            params = dict(params)
        first = PageRequest(method, path, params)
        self._walk = PageWalk(paging, first, base_url=base_url, max_pages=max_pages)
        self._rest = rest

    @property
    def pages(self) -> int:
        """The number of pages received so far."""
        return self._walk.pages

    def next_call(self) -> tuple[PageRequest, dict[str, Any]] | None:
        """The next page's request and the keywords to send it with (``params`` None when
        it has none); None when the listing ended or ``max_pages`` pages were received.
        Until ``receive_page`` succeeds, the same request again."""
        request = self._walk.next_request()
        if request is None:
            return None
        return request, {**self._rest, "params": request.params or None}

    def receive_page(self, request: PageRequest, response: Response) -> Page:
        """The page ``response`` carries; the listing moves on. Raises
        ``PaginationError`` (and stays where it was) as ``PageWalk.receive_page`` does."""
        return self._walk.receive_page(request, response)
