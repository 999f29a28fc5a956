"""Paging: read one page of a listing and build the request for the next one.

A strategy (``CursorPaging``, ``NextCursorPaging``, ``OffsetPaging``,
``LinkHeaderPaging``, or any object with the ``Paging`` method) is a frozen value with
one method, ``parse_page``: given the ``PageRequest`` that fetched a page and its
``Response``, the ``Page``, whose ``next_request`` is None at the end. A page it cannot
read, or a next page that would repeat this one, raises ``PaginationError``.

``PageWalk`` is the loop's state, without the loop: the request to send next (None when
done or past ``max_pages``), the pages' origin, and a constant-memory cycle check. The
clients' ``paginate`` drive it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias
from urllib.parse import urljoin

from ._errors import InvalidRequestError, PaginationError
from ._models import Response
from ._url import URL, ParamTypes, QueryParamTypes, _encode_params, build_url

__all__ = [
    "CursorPaging",
    "CycleGuard",
    "FieldPath",
    "Link",
    "LinkHeaderPaging",
    "NextCursorPaging",
    "OffsetPaging",
    "Page",
    "PageRequest",
    "PageWalk",
    "Paging",
    "parse_link_header",
]

#: Where a value sits in a JSON body: a key, or a tuple of keys for a nested object
#: (``("response_metadata", "next_cursor")``).
FieldPath: TypeAlias = "str | tuple[str, ...]"

_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What fetches one page: ``client.request(method, path, params=params)``.

    ``path`` is relative to the client's ``base_url``, or an absolute URL (a Link target).
    ``params`` is a mapping, or (name, value) pairs in which a name may repeat, kept as a
    tuple of 2-tuples in their order; pairs outside ``params=``'s types raise
    ``InvalidRequestError``. Read a param with ``param``, whichever the form.
    """

    method: str
    path: str
    params: QueryParamTypes = field(default_factory=dict)

    def __post_init__(self) -> None:
        params = self.params
        if not isinstance(params, Mapping):
            _encode_params(params)  # raises for anything but pairs it can send
            object.__setattr__(self, "params", tuple((name, value) for name, value in params))

    def param(self, name: str) -> Any:
        """The value of param ``name``, None when it is not given. Among pairs, a name
        given more than once has the tuple of its values (a mapping holds a list)."""
        params = self.params
        if isinstance(params, Mapping):
            return params.get(name)
        values = tuple(value for key, value in params if key == name)
        return values[0] if len(values) == 1 else values or None

    def with_params(self, updates: ParamTypes) -> PageRequest:
        """A copy whose params are replaced by name with ``updates``. Among pairs, a name
        updated keeps the place of its first pair and loses the others, so a strategy's
        cursor takes the place of the caller's; a new name goes last."""
        params = self.params
        if isinstance(params, Mapping):
            return PageRequest(self.method, self.path, {**params, **updates})
        pairs: list[tuple[str, Any]] = []
        placed: set[str] = set()
        for name, value in params:
            if name not in updates:
                pairs.append((name, value))
            elif name not in placed:
                pairs.append((name, updates[name]))
                placed.add(name)
        pairs += [(name, value) for name, value in updates.items() if name not in placed]
        return PageRequest(self.method, self.path, pairs)


@dataclass(frozen=True, slots=True)
class Page:
    """One page: its ``items``, the ``response`` that carried them, the ``request`` that
    fetched it, and ``next_request`` (None: this is the last page)."""

    items: list[Any]
    response: Response
    request: PageRequest
    next_request: PageRequest | None

    @property
    def has_next(self) -> bool:
        """True when the listing goes on after this page."""
        return self.next_request is not None


class Paging(Protocol):
    """What a paging strategy provides: see the module docstring."""

    def parse_page(self, request: PageRequest, response: Response) -> Page:
        """The page ``response`` carries. Raises ``PaginationError``."""
        ...


def _label(path: FieldPath) -> str:
    return path if isinstance(path, str) else ".".join(path)


def _field(value: Any, path: FieldPath) -> Any:
    """The value at ``path`` in ``value``, or ``_MISSING``."""
    for key in (path,) if isinstance(path, str) else path:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _body(response: Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise PaginationError("The page's body is not JSON.", response=response) from None


def _items(body: Any, path: FieldPath | None, response: Response) -> list[Any]:
    items = body if path is None else _field(body, path)
    if not isinstance(items, list):
        where = "The page's body" if path is None else f"The page's {_label(path)!r} field"
        found = "missing" if items is _MISSING else f"a JSON {_json_type(items)}"
        raise PaginationError(f"{where} is not a list ({found}).", response=response)
    return items


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, dict) else "array"


def _has_more(body: Any, path: FieldPath, response: Response) -> bool:
    more = _field(body, path)
    if type(more) is not bool:
        found = "missing" if more is _MISSING else f"a JSON {_json_type(more)}"
        raise PaginationError(
            f"The page's {_label(path)!r} field is not a boolean ({found}).", response=response
        )
    return more


def _is_cursor(value: Any) -> bool:
    return (type(value) is str and value != "") or type(value) is int


def _repeats(request: PageRequest, param: str, cursor: str | int, response: Response) -> None:
    current = request.param(param)
    if current is not None and str(current) == str(cursor):
        raise PaginationError(
            f"The next page's {param!r} is this page's: the listing would never end.",
            response=response,
        )


@dataclass(frozen=True, slots=True)
class CursorPaging:
    """The next page starts after this page's last item (OpenAI's ``after``, Stripe's
    ``starting_after``): ``cursor_param`` is set to the last item's ``cursor_from``.

    The listing ends at a page with no items, or whose ``has_more`` is false (``has_more``
    None: only an empty page ends it). An item without a string or integer cursor, or a
    ``has_more`` that is not a boolean, raises ``PaginationError``.
    """

    items: FieldPath = "data"
    has_more: FieldPath | None = "has_more"
    cursor_param: str = "after"
    cursor_from: FieldPath = "id"

    def parse_page(self, request: PageRequest, response: Response) -> Page:
        """The page ``response`` carries. Raises ``PaginationError``."""
        body = _body(response)
        items = _items(body, self.items, response)
        if not items or (
            self.has_more is not None and not _has_more(body, self.has_more, response)
        ):
            return Page(items, response, request, None)
        cursor = _field(items[-1], self.cursor_from)
        if not _is_cursor(cursor):
            raise PaginationError(
                f"The page's last item has no {_label(self.cursor_from)!r} to continue from.",
                response=response,
            )
        _repeats(request, self.cursor_param, cursor, response)
        return Page(items, response, request, request.with_params({self.cursor_param: cursor}))


@dataclass(frozen=True, slots=True)
class NextCursorPaging:
    """The body names the next page's cursor (Slack's and Notion's ``next_cursor``,
    Anthropic's ``last_id`` with ``has_more``): ``cursor_param`` is set to it.

    The listing ends when the cursor is missing, null or empty, or when ``has_more``
    (None by default: not read) is false. A cursor that is neither a string nor an
    integer raises ``PaginationError``. A page with no items but a cursor goes on (a
    filtered scan may return empty pages).
    """

    items: FieldPath = "data"
    next_cursor: FieldPath = "next_cursor"
    cursor_param: str = "cursor"
    has_more: FieldPath | None = None

    def parse_page(self, request: PageRequest, response: Response) -> Page:
        """The page ``response`` carries. Raises ``PaginationError``."""
        body = _body(response)
        items = _items(body, self.items, response)
        if self.has_more is not None and not _has_more(body, self.has_more, response):
            return Page(items, response, request, None)
        cursor = _field(body, self.next_cursor)
        if cursor is _MISSING or cursor is None or cursor == "":
            return Page(items, response, request, None)
        if not _is_cursor(cursor):
            raise PaginationError(
                f"The page's {_label(self.next_cursor)!r} is a JSON {_json_type(cursor)}, "
                "not a string or an integer.",
                response=response,
            )
        _repeats(request, self.cursor_param, cursor, response)
        return Page(items, response, request, request.with_params({self.cursor_param: cursor}))


def _count_param(request: PageRequest, name: str, least: int) -> int | None:
    """The int value of a request's param (None when not set). Raises
    ``InvalidRequestError`` for one that is not an int >= ``least`` (or is given more
    than once)."""
    value = request.param(name)
    if value is None:
        return None
    if type(value) is str and value.isascii() and value.isdigit():
        value = int(value)
    if type(value) is not int or value < least:
        given = f" (it is given {len(value)} times)" if isinstance(value, list | tuple) else ""
        raise InvalidRequestError(f"The {name!r} param must be an int >= {least}{given}.")
    return value


@dataclass(frozen=True, slots=True)
class OffsetPaging:
    """The next page starts ``len(items)`` further on: ``offset_param`` (0 when not
    given) grows by the number of items this page had.

    The listing ends at a page with no items, or when the offset reaches the body's
    ``total`` (when it has one; ``total=None``: not read). Without a total, a page
    shorter than the request's ``limit_param`` also ends it, which saves asking for an
    empty page; ``short_page_ends=False`` asks anyway, for an API that may return short
    pages before the end (filtered or permission-trimmed listings). A total is trusted
    over a short page. An ``offset``/``limit`` param that is not a non-negative int is
    the caller's mistake (``InvalidRequestError``); a ``total`` that is not an integer
    raises ``PaginationError``.
    """

    items: FieldPath = "data"
    offset_param: str = "offset"
    limit_param: str = "limit"
    total: FieldPath | None = "total"
    short_page_ends: bool = True

    def parse_page(self, request: PageRequest, response: Response) -> Page:
        """The page ``response`` carries. Raises ``PaginationError`` or
        ``InvalidRequestError`` (see the class)."""
        offset = _count_param(request, self.offset_param, 0) or 0
        limit = _count_param(request, self.limit_param, 1)
        body = _body(response)
        items = _items(body, self.items, response)
        following = offset + len(items)
        total = None
        if self.total is not None:
            total = _field(body, self.total)
            if total is _MISSING:
                total = None
            elif total is not None and type(total) is not int:
                raise PaginationError(
                    f"The page's {_label(self.total)!r} is a JSON {_json_type(total)}, "
                    "not an integer.",
                    response=response,
                )
        if (
            not items
            or (total is not None and following >= total)
            or (total is None and self.short_page_ends and limit is not None and len(items) < limit)
        ):
            return Page(items, response, request, None)
        return Page(items, response, request, request.with_params({self.offset_param: following}))


# -- RFC 8288 Link header ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    """One link-value of a Link header: its ``target`` (the URI reference between ``<``
    and ``>``, unresolved) and its ``params`` in order, names lowercased, values
    unquoted."""

    target: str
    params: tuple[tuple[str, str], ...] = ()

    @property
    def rel(self) -> tuple[str, ...]:
        """The relation types, lowercased, of the first ``rel`` param (RFC 8288 ignores
        later ones); empty when there is none."""
        for name, value in self.params:
            if name == "rel":
                return tuple(value.lower().split())
        return ()


_OWS = " \t"


def _skip_ows(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _OWS:
        pos += 1
    return pos


def _skip_element(text: str, pos: int) -> int:
    """The position of the comma that ends the current link-value (or the end), with
    commas inside ``<...>`` and quoted strings left alone."""
    while pos < len(text):
        char = text[pos]
        if char == ",":
            return pos
        if char == "<":
            end = text.find(">", pos + 1)
            pos = len(text) if end < 0 else end + 1
        elif char == '"':
            pos = _quoted(text, pos)[1]
        else:
            pos += 1
    return pos


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """The value of the quoted-string opening at ``pos`` and the position after it (an
    unterminated one runs to the end)."""
    out: list[str] = []
    pos += 1
    while pos < len(text):
        char = text[pos]
        if char == '"':
            return "".join(out), pos + 1
        if char == "\\" and pos + 1 < len(text):
            pos += 1
            char = text[pos]
        out.append(char)
        pos += 1
    return "".join(out), pos


def _token(text: str, pos: int, stops: str) -> tuple[str, int]:
    start = pos
    while pos < len(text) and text[pos] not in stops:
        pos += 1
    return text[start:pos], pos


def _parse_params(text: str, pos: int) -> tuple[list[tuple[str, str]], int]:
    params: list[tuple[str, str]] = []
    while True:
        pos = _skip_ows(text, pos)
        if pos >= len(text) or text[pos] != ";":
            return params, _skip_element(text, pos)
        name, pos = _token(text, _skip_ows(text, pos + 1), ";,=" + _OWS)
        pos = _skip_ows(text, pos)
        value = ""
        if pos < len(text) and text[pos] == "=":
            pos = _skip_ows(text, pos + 1)
            if pos < len(text) and text[pos] == '"':
                value, pos = _quoted(text, pos)
            else:
                value, pos = _token(text, pos, ";," + _OWS)
        if name:
            params.append((name.lower(), value))


def parse_link_header(values: str | Iterable[str]) -> list[Link]:
    """The links of one Link header value, or of several (RFC 8288, section 3).

    Commas and semicolons inside ``<...>`` and quoted strings are kept; quoted-pairs are
    unescaped. A link-value that does not start with ``<`` is skipped, as is one whose
    ``>`` is missing; parameters after a malformed one are dropped. Never raises.
    """
    links: list[Link] = []
    for text in (values,) if isinstance(values, str) else values:
        pos = 0
        while pos < len(text):
            pos = _skip_ows(text, pos)
            if pos >= len(text):
                break
            if text[pos] == ",":
                pos += 1
                continue
            if text[pos] != "<":
                pos = _skip_element(text, pos)
                continue
            end = text.find(">", pos + 1)
            if end < 0:
                break
            target = text[pos + 1 : end].strip()
            params, pos = _parse_params(text, end + 1)
            links.append(Link(target, tuple(params)))
    return links


def _origin(url: URL) -> str:
    return f"{url.scheme}://{url.host_header}"


@dataclass(frozen=True, slots=True)
class LinkHeaderPaging:
    """The next page is the ``rel="next"`` target of the Link header (GitHub's style).

    ``items`` None takes the body itself, which must be a list. A relative target is
    resolved against the URL the page came from. The next link must be an http(s) URL
    of that URL's origin: credentials go with the request, so a link to another origin
    raises ``PaginationError`` (as does a link back to the same page).
    """

    items: FieldPath | None = None

    def parse_page(self, request: PageRequest, response: Response) -> Page:
        """The page ``response`` carries. Raises ``PaginationError``."""
        items = _items(_body(response), self.items, response)
        links = parse_link_header(response.headers.get_list("link"))
        target = next((link.target for link in links if "next" in link.rel), None)
        if target is None:
            return Page(items, response, request, None)
        if response.request is None:
            raise PaginationError(
                "The page's response has no request to resolve its next link against.",
                response=response,
            )
        base = response.request.url
        try:
            url = URL.parse(urljoin(str(base), target))
        except ValueError:  # InvalidRequestError, or urljoin's own (a broken IPv6 host)
            raise PaginationError(
                "The page's next link is not a usable http(s) URL.", response=response
            ) from None
        if url.origin != base.origin:
            raise PaginationError(
                f"The page's next link leads to another origin ({_origin(url)}, the page came "
                f"from {_origin(base)}); credentials go with the request, so it is not followed.",
                response=response,
            )
        if url == base:
            raise PaginationError(
                "The page's next link is the page itself: the listing would never end.",
                response=response,
            )
        return Page(items, response, request, PageRequest(request.method, str(url)))


# -- the loop's state -------------------------------------------------------------------


class CycleGuard:
    """Brent's cycle detection over a walk's requests, in constant memory.

    ``check`` raises ``PaginationError`` when a request equals one saved earlier; the
    saved request moves forward at powers of two, so a cycle of any length is caught
    within about twice its length plus the pages before it.
    """

    __slots__ = ("_power", "_saved", "_steps")

    def __init__(self, first: PageRequest) -> None:
        self._saved = first
        self._power = 1
        self._steps = 0

    def check(self, request: PageRequest, *, response: Response | None = None) -> None:
        """Take the next request of the walk (named by ``response``'s page). Raises
        ``PaginationError`` on a cycle."""
        if request == self._saved:
            raise PaginationError(
                "The listing's pages form a cycle: a next page repeats an earlier one's request.",
                response=response,
            )
        self._steps += 1
        if self._steps == self._power:
            self._saved = request
            self._power *= 2
            self._steps = 0


def _is_absolute(path: str) -> bool:
    return path[:8].lower().startswith(("http://", "https://"))


class PageWalk:
    """The state of one walk through a listing; the client's loop is::

        while (request := walk.next_request()) is not None:
            yield walk.receive_page(request, client.request(request.method, ...))

    ``base_url`` is the client's, so the walk knows the origin its first request goes
    to: a next request for an absolute URL of another origin raises ``PaginationError``.
    ``max_pages`` (None: no bound) ends the walk quietly after that many pages; one that
    is not an int >= 1 raises ``InvalidRequestError``, as does a first request whose path
    or params cannot be sent.
    """

    __slots__ = ("_count", "_guard", "_max_pages", "_next", "_origin", "_paging")

    def __init__(
        self,
        paging: Paging,
        first: PageRequest,
        *,
        base_url: URL | str,
        max_pages: int | None = None,
    ) -> None:
        if max_pages is not None and (type(max_pages) is not int or max_pages < 1):
            raise InvalidRequestError("max_pages must be None or an int >= 1.")
        self._paging = paging
        self._origin = build_url(base_url, first.path, first.params).origin
        self._next: PageRequest | None = first
        self._guard = CycleGuard(first)
        self._max_pages = max_pages
        self._count = 0

    @property
    def pages(self) -> int:
        """The number of pages received so far."""
        return self._count

    def next_request(self) -> PageRequest | None:
        """The request for the next page; None when the listing ended or ``max_pages``
        pages were received. Until ``receive_page`` succeeds, the same one again."""
        if self._max_pages is not None and self._count >= self._max_pages:
            return None
        return self._next

    def receive_page(self, request: PageRequest, response: Response) -> Page:
        """Read the page ``response`` carries and move on. Raises ``PaginationError``
        (and leaves the walk where it was) for a page the strategy cannot read, a next
        page on another origin, or a cycle."""
        page = self._paging.parse_page(request, response)
        following = page.next_request
        if following is not None:
            if _is_absolute(following.path) and URL.parse(following.path).origin != self._origin:
                raise PaginationError(
                    "The next page is on another origin than the first; credentials go with "
                    "the request, so it is not followed.",
                    response=response,
                )
            self._guard.check(following, response=response)
        self._next = following
        self._count += 1
        return page
