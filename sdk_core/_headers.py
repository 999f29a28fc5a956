"""``Headers``: an immutable, case-insensitive, multi-valued header list.

Names and values are validated when the object is built, so a header that could
split a request (CR, LF or NUL) never reaches a transport.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any, TypeAlias, final

from ._error_base import InvalidRequestError
from ._redact import DEFAULT_REDACTION, SENSITIVE_HEADERS, Redaction

if TYPE_CHECKING:
    from ._fields import RequestFields, RequestHead
    from ._url import URL

__all__ = ["SENSITIVE_HEADERS", "HeaderTypes", "HeaderUpdates", "Headers"]

HeaderTypes: TypeAlias = "Headers | Mapping[str, str] | Iterable[tuple[str, str]]"
#: What ``Headers.merged`` takes: a value of None removes that name.
HeaderUpdates: TypeAlias = "Headers | Mapping[str, str | None] | Iterable[tuple[str, str | None]]"

# RFC 9110 token characters.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")  # \Z: "$" allows a final "\n"
# CR, LF and NUL split or truncate a request; other C0 controls (but tab) are refused too.
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _check_name(name: object) -> str:
    if type(name) is not str or not _TOKEN.match(name):
        raise InvalidRequestError(f"Invalid header name {name!r}.")
    return name


def _check_value(name: str, value: object) -> str:
    if type(value) is not str:
        raise InvalidRequestError(
            f"Header {name!r} must have a str value, not {type(value).__name__}."
        )
    if _BAD_VALUE.search(value):
        raise InvalidRequestError(f"Header {name!r} has a control character (CR, LF or NUL).")
    if not value.isascii() and not _is_latin1(value):
        # Raised outside the except block: its UnicodeEncodeError would quote the value.
        raise InvalidRequestError(f"Header {name!r} has characters that latin-1 cannot encode.")
    return value.strip(" \t")


def scan_fields(fields: str, lowered: str, key: str) -> list[str] | None:
    """The values of field ``key`` (lowercase) in a received header block, in order, or
    None when absent. ``fields`` holds the field lines, each after a CRLF and the last
    followed by one, as a validating parser accepted them (no folding, no bare CR or
    LF, names are tokens); ``lowered`` is ``fields.lower()``. Costs one C search per
    value plus one: no per-line work."""
    needle = "\r\n" + key + ":"
    at = lowered.find(needle)
    if at < 0 or ":" in key or "\n" in key:  # no received name holds either
        return None
    values = []
    while at >= 0:
        start = at + len(needle)
        end = lowered.find("\r\n", start)
        values.append(fields[start:end].strip(" \t"))
        at = lowered.find(needle, end)
    return values


def _validated(
    headers: HeaderUpdates, removed: set[str] | None
) -> tuple[tuple[tuple[str, str], ...], dict[str, list[str]]]:
    """The checked pairs of ``headers`` and their index by lowercase name. With a
    ``removed`` set, a None value adds its lowercase name there instead of a pair.
    Raises ``InvalidRequestError`` for anything but a mapping or (name, value) pairs."""
    pairs = headers.items() if isinstance(headers, Mapping) else _pairs(headers)
    items: list[tuple[str, str]] = []
    lower: dict[str, list[str]] = {}
    for name, value in pairs:
        checked_name = _check_name(name)
        if value is None and removed is not None:
            removed.add(checked_name.lower())
            continue
        checked = _check_value(checked_name, value)
        items.append((checked_name, checked))
        lower.setdefault(checked_name.lower(), []).append(checked)
    return tuple(items), lower


def _pairs(headers: object) -> list[tuple[object, object]]:
    if isinstance(headers, str | bytes) or not isinstance(headers, Iterable):
        raise InvalidRequestError(
            f"Headers must be a mapping or (name, value) pairs, not {type(headers).__name__}."
        )
    pairs = list(headers)
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise InvalidRequestError(
                f"Headers must be (name, value) pairs, not {type(pair).__name__}."
            )
    return pairs


def _is_latin1(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


@final
class Headers(Mapping[str, str]):
    """Immutable HTTP headers.

    Lookup ignores case; ``h["a"]`` joins repeated values with ``", "``;
    ``get_list`` returns them one by one; ``multi_items`` keeps every pair in order.
    Raises ``InvalidRequestError`` for a name that is not a token or a value with
    CR, LF, NUL or another control character.

    ``repr`` shows a value only when the header's ``redaction`` allows it (by default
    ``sdk_core._redact.DEFAULT_REDACTION``: an allowlist of known-safe names).

    Headers received by the fast codec are kept as their block of lines until something
    needs the whole list (iteration, ``len``, ``==``, ``multi_items``, ``repr``): a
    lookup by name (``[]``, ``in``, ``get``, ``first``, ``get_list``) meanwhile scans the
    block in C, so a response whose headers are read once or twice never pays for
    splitting every line.
    """

    __slots__ = (
        "_base",
        "_head",
        "_items",
        "_lower",
        "_pending",
        "_redaction",
        "_request_fields",
    )

    # Both unset (see ``__getattr__``) while ``_pending`` holds a received block.
    _items: tuple[tuple[str, str], ...]
    _lower: dict[str, list[str]]
    #: A received block not indexed yet: its field lines and the same lowercased.
    _pending: tuple[str, str] | None
    _redaction: Redaction | None
    #: These fields as a request head writes them: set by ``encode_request_head`` the
    #: first time it sends them (the headers never change, so neither does that).
    _request_fields: RequestFields | None
    #: The list these headers extend and what they add (``_appended``): their request
    #: fields derive from that list's, until ``encode_request_head`` sets them.
    _base: tuple[Headers, tuple[tuple[str, str], ...]] | None
    #: The last request head written with these fields, and what it was written for
    #: (method, URL, streamed): set and read by ``encode_request_head``.
    _head: tuple[str, URL, bool, RequestHead] | None

    def __init__(self, headers: HeaderTypes | None = None) -> None:
        self._redaction = None
        self._request_fields = None
        self._head = None
        self._base = None
        self._pending = None
        if headers is None:
            self._items = ()
            self._lower = {}
            return
        if isinstance(headers, Headers):
            self._items = headers._items
            self._lower = headers._lower
            self._redaction = headers._redaction
            self._request_fields = headers._request_fields
            self._head = headers._head
            self._base = headers._base
            return
        self._items, self._lower = _validated(headers, None)

    @classmethod
    def _trusted(
        cls, items: Iterable[tuple[str, str]], redaction: Redaction | None = None
    ) -> Headers:
        """Build from pairs already validated (or received from a peer)."""
        self = cls.__new__(cls)
        self._redaction = redaction
        self._request_fields = None
        self._head = None
        self._base = None
        self._pending = None
        self._items = tuple(items)
        lower: dict[str, list[str]] = {}
        for name, value in self._items:
            lower.setdefault(name.lower(), []).append(value)
        self._lower = lower
        return self

    def _appended(self, extra: tuple[tuple[str, str], ...], redaction: Redaction | None) -> Headers:
        """A copy with ``extra`` (validated pairs) after every field. The index is
        copied, not rebuilt, and ``encode_request_head`` derives the copy's request
        fields from this list's (see ``_base``)."""
        child = Headers.__new__(Headers)
        child._redaction = redaction
        child._head = None
        child._pending = None
        child._items = self._items + extra
        lower = self._lower.copy()
        for name, value in extra:
            key = name.lower()
            values = lower.get(key)
            lower[key] = [value] if values is None else [*values, value]  # a new list
        child._lower = lower
        child._request_fields = None
        child._base = (self, extra)
        return child

    @classmethod
    def _from_block(cls, fields: str, lowered: str) -> Headers:
        """Received headers kept as their block until the whole list is needed:
        ``fields`` and ``lowered`` as ``scan_fields`` takes them."""
        self = cls.__new__(cls)
        self._redaction = None
        self._request_fields = None
        self._head = None
        self._base = None
        self._pending = (fields, lowered)
        return self

    if not TYPE_CHECKING:  # pragma: no branch - mypy keeps checking names on Headers

        def __getattr__(self, name: str) -> Any:
            # Reached only for an unset slot: the index of a block not yet split.
            if name in ("_items", "_lower"):
                pending = self._pending
                if pending is not None:
                    self._index(pending[0])
                # Set now, by this thread or by another that indexed meanwhile (it
                # clears ``_pending`` last).
                return object.__getattribute__(self, name)
            raise AttributeError(name)

    def _index(self, fields: str) -> None:
        """Split the block of field lines into pairs and the index by name."""
        items: list[tuple[str, str]] = []
        lower: dict[str, list[str]] = {}
        for line in fields.split("\r\n")[1:-1]:
            name, _, value = line.partition(":")
            name = name.lower()
            value = value.strip(" \t")
            items.append((name, value))
            values = lower.get(name)
            if values is None:
                lower[name] = [value]
            else:
                values.append(value)
        self._items = tuple(items)
        self._lower = lower
        self._pending = None  # last: a concurrent reader sees the block or the index

    def _values(self, key: str) -> list[str] | None:
        """The values of ``key`` (lowercase), or None; the caller must not change them."""
        pending = self._pending
        if pending is None:
            return self._lower.get(key)
        return scan_fields(pending[0], pending[1], key)

    def __getitem__(self, name: str) -> str:
        values = self._values(name.lower()) if isinstance(name, str) else None
        if values is None:
            raise KeyError(name)
        return ", ".join(values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._values(name.lower()) is not None

    def get(self, name: str, default: Any = None) -> Any:
        """The joined values of ``name``, or ``default``."""
        values = self._values(name.lower()) if isinstance(name, str) else None
        return default if values is None else ", ".join(values)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for name, _ in self._items:
            key = name.lower()
            if key not in seen:
                seen.add(key)
                yield name

    def __len__(self) -> int:
        return len(self._lower)

    def get_list(self, name: str) -> list[str]:
        """Every value of ``name``, in order; empty when absent."""
        return list(self._values(name.lower()) or ())

    def first(self, name: str) -> str | None:
        """The first value of ``name``, or None."""
        values = self._values(name.lower())
        return values[0] if values else None

    def multi_items(self) -> list[tuple[str, str]]:
        """Every (name, value) pair in order, repeated names included."""
        return list(self._items)

    def raw(self) -> list[tuple[bytes, bytes]]:
        """The pairs encoded for the wire (latin-1)."""
        return [(n.encode("ascii"), v.encode("latin-1")) for n, v in self._items]

    def merged(self, other: HeaderUpdates | None) -> Headers:
        """A copy where every name present in ``other`` replaces this one's values; a
        name whose value is None is removed (nothing happens when it is absent)."""
        if other is None:
            return self
        removed: set[str] = set()
        if isinstance(other, Headers):
            items, lower, redaction = other._items, other._lower, other._redaction
        else:
            items, lower = _validated(other, removed)
            redaction = None
        if not items and not removed:
            return self
        redaction = self._redaction or redaction
        replaced: AbstractSet[str] = lower.keys() | removed if removed else lower.keys()
        if replaced.isdisjoint(self._lower):  # nothing replaced: appended
            return self._appended(items, redaction) if items else self
        kept = [(n, v) for n, v in self._items if n.lower() not in replaced]
        return Headers._trusted(kept + list(items), redaction)

    def with_default(self, name: str, value: str) -> Headers:
        """A copy with ``name: value`` added unless ``name`` is already present."""
        if name.lower() in self._lower:
            return self
        return self._appended(((_check_name(name), _check_value(name, value)),), self._redaction)

    def without(self, name: str) -> Headers:
        """A copy with every value of ``name`` removed."""
        key = name.lower()
        if key not in self._lower:
            return self
        return Headers._trusted(
            ((n, v) for n, v in self._items if n.lower() != key), self._redaction
        )

    @property
    def redaction(self) -> Redaction:
        """The policy that decides which values ``repr`` and log lines may show."""
        return self._redaction or DEFAULT_REDACTION

    def with_redaction(self, redaction: Redaction | None) -> Headers:
        """The same headers shown under ``redaction`` (None: the default policy)."""
        copy = Headers.__new__(Headers)
        pending = copy._pending = self._pending
        if pending is None:
            copy._items = self._items
            copy._lower = self._lower
        copy._redaction = redaction
        copy._request_fields = self._request_fields
        copy._head = self._head
        copy._base = self._base
        return copy

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._lower == other._lower
        if isinstance(other, Mapping | list | tuple):
            try:
                return self._lower == Headers(other)._lower
            except InvalidRequestError:
                return False
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self.redaction.headers(self._items)!r})"
