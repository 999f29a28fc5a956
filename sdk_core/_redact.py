"""``Redaction``: what a repr, an error message or a log line may show.

Redaction works by allowlist, as Azure's logging policy does: a header's value is shown
only when its name is known to be safe (``LOGGABLE_HEADERS``), a query parameter's
value only when its name is (``LOGGABLE_QUERY_PARAMS``); everything else is shown as
``[redacted]``. A name marked sensitive is never shown, even when allowlisted. Values
held by a URL (``Location``) keep only allowlisted query values, and lose their
user-info and fragment.

A header name ending in ``*`` is a prefix: ``x-ratelimit-*`` allows every name that
starts with ``x-ratelimit-``, except a name with a part (between ``-`` or ``_``) that
holds a word of ``SECRET_WORDS`` ("token", "key", "auth", ...): under a prefix,
``x-ratelimit-remaining-tokens`` shows and ``x-ratelimit-api-key`` does not (the part
``tokens``, the unit of a token rate limit, is the one exception). A name listed whole
is shown as listed. In ``sensitive_headers`` a prefix hides every name under it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote_plus

__all__ = [
    "DEFAULT_REDACTION",
    "LOGGABLE_HEADERS",
    "LOGGABLE_QUERY_PARAMS",
    "REDACTED",
    "SECRET_WORDS",
    "SENSITIVE_HEADERS",
    "Redaction",
]

REDACTED: Final = "[redacted]"

#: Header names whose values a repr or a log line may show (compared in lower case); a
#: name ending in "*" is a prefix. Response headers that carry no secret are here so that
#: logs keep what users debug with: rate limits, retry hints, request ids, caching.
LOGGABLE_HEADERS: Final = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "anthropic-ratelimit-*",
        "cache-control",
        "cf-ray",
        "connection",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expires",
        "host",
        "idempotency-key",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-unmodified-since",
        "keep-alive",
        "last-modified",
        "location",
        "openai-processing-ms",
        "openai-version",
        "pragma",
        "ratelimit",  # RFC 9331 draft: RateLimit, RateLimit-Policy
        "ratelimit-*",  # and the earlier RateLimit-Limit, -Remaining, -Reset
        "request-id",
        "retry-after",
        "retry-after-ms",
        "server",
        "traceparent",
        "transfer-encoding",
        "user-agent",
        "vary",
        "via",
        "x-amz-cf-id",
        "x-amz-request-id",
        "x-amzn-requestid",
        "x-amzn-trace-id",
        "x-github-request-id",
        "x-ms-client-request-id",
        "x-ms-ratelimit-*",
        "x-ms-request-id",
        "x-rate-limit-*",
        "x-ratelimit-*",
        "x-request-id",
        "x-should-retry",
    }
)

#: Words that keep a header hidden when only a prefix allows its name (see the module's
#: docstring); a name listed whole, or in ``sensitive_headers``, is not searched.
SECRET_WORDS: Final = (
    "auth",
    "cookie",
    "credential",
    "key",
    "password",
    "secret",
    "session",
    "signature",
    "token",
)

#: Query parameter names whose values a repr or a log line may show.
LOGGABLE_QUERY_PARAMS: Final = frozenset(
    {"api-version", "limit", "offset", "order", "page", "page_size", "per_page", "sort"}
)

#: Header names never shown, whatever the allowlist says.
SENSITIVE_HEADERS: Final = frozenset(
    {
        "api-key",
        "authorization",
        "cookie",
        "proxy-authorization",
        "set-cookie",
        "x-api-key",
    }
)

# Headers whose value is a URL: shown with its query redacted like a request's.
_URL_HEADERS = frozenset({"location", "content-location"})
_QUERY_SPLIT = re.compile(r"([&;])")
_NAME_PARTS = re.compile(r"[-_]")
_SECRET_WORD = re.compile("|".join(SECRET_WORDS))
# Name parts a word of SECRET_WORDS is in without naming a secret: a token rate limit's
# unit (x-ratelimit-remaining-tokens, anthropic-ratelimit-input-tokens-limit).
_NOT_SECRET_PARTS = frozenset({"tokens"})
_TOKEN = re.compile(r"[^\s,;=]+")
#: Values shorter than this are not scrubbed from text (they would mangle it).
MIN_SCRUB_LENGTH: Final = 8


def _names(field: str, value: object) -> frozenset[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"{field} must be an iterable of header or parameter names (str).")
    names = list(value)
    if not all(isinstance(name, str) for name in names):
        raise TypeError(f"{field} must hold only str names.")
    if "*" in names:
        raise TypeError(f"{field} cannot hold '*' alone: a prefix goes before the '*'.")
    return frozenset(name.lower() for name in names)


def _prefixes(names: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(name[:-1] for name in names if name.endswith("*")))


def _names_a_secret(name: str) -> bool:
    """True when a part of header ``name`` holds a word of ``SECRET_WORDS``."""
    return any(
        _SECRET_WORD.search(part)
        for part in _NAME_PARTS.split(name)
        if part not in _NOT_SECRET_PARTS
    )


@dataclass(frozen=True, slots=True)
class Redaction:
    """Which header and query parameter values may be shown; names are case-insensitive.

    ``sensitive_headers`` wins over ``loggable_headers``. A header name ending in ``*``
    is a prefix (see the module's docstring). Raises ``TypeError`` for a field that is
    not an iterable of str (a bare str is refused), or that holds ``*`` alone.
    """

    loggable_headers: frozenset[str] = LOGGABLE_HEADERS
    loggable_query_params: frozenset[str] = LOGGABLE_QUERY_PARAMS
    sensitive_headers: frozenset[str] = SENSITIVE_HEADERS
    _shown_prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _hidden_prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("loggable_headers", "loggable_query_params", "sensitive_headers"):
            object.__setattr__(self, name, _names(name, getattr(self, name)))
        object.__setattr__(self, "_shown_prefixes", _prefixes(self.loggable_headers))
        object.__setattr__(self, "_hidden_prefixes", _prefixes(self.sensitive_headers))

    def extended(
        self,
        *,
        loggable_headers: Iterable[str] = (),
        loggable_query_params: Iterable[str] = (),
        sensitive_headers: Iterable[str] = (),
    ) -> Redaction:
        """A policy that also shows these names, and never shows ``sensitive_headers``."""
        return Redaction(
            self.loggable_headers | _names("loggable_headers", loggable_headers),
            self.loggable_query_params | _names("loggable_query_params", loggable_query_params),
            self.sensitive_headers | _names("sensitive_headers", sensitive_headers),
        )

    def shows_header(self, name: str) -> bool:
        """True when the value of header ``name`` may be shown."""
        key = name.lower()
        if key in self.sensitive_headers or key.startswith(self._hidden_prefixes):
            return False
        if key in self.loggable_headers:
            return True
        return key.startswith(self._shown_prefixes) and not _names_a_secret(key)

    def header_value(self, name: str, value: str) -> str:
        """``value`` as it may be shown for header ``name``."""
        if not self.shows_header(name):
            return REDACTED
        if name.lower() in _URL_HEADERS:
            return self.url(value)
        return value

    def headers(self, items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The (name, value) pairs as they may be shown."""
        return [(name, self.header_value(name, value)) for name, value in items]

    def url(self, url: object) -> str:
        """``str(url)`` with the values of query parameters not allowlisted, the
        user-info and the fragment replaced by ``[redacted]``."""
        text = str(url)
        text, hashmark, fragment = text.partition("#")
        head, question, query = text.partition("?")
        scheme, sep, rest = head.partition("://")
        if sep:
            authority, slash, path = rest.partition("/")
            if "@" in authority:
                authority = REDACTED + "@" + authority.rpartition("@")[2]
            head = scheme + sep + authority + slash + path
        shown = head
        if question:
            shown += "?" + "".join(self._query_part(part) for part in _QUERY_SPLIT.split(query))
        if hashmark:
            shown += "#" + (REDACTED if fragment else "")
        return shown

    def _query_part(self, part: str) -> str:
        if part in ("", "&", ";"):
            return part
        name, equals, _ = part.partition("=")
        allowed = unquote_plus(name).lower() in self.loggable_query_params
        if equals:
            return part if allowed else name + "=" + REDACTED
        return part if allowed else REDACTED

    def secrets(self, headers: Iterable[tuple[str, str]], target: str) -> list[str]:
        """Values this policy hides in ``headers`` and in the query of ``target``, each
        also split into tokens ("Bearer KEY" gives "KEY"), longest first; values shorter
        than ``MIN_SCRUB_LENGTH`` are left out."""
        found: set[str] = set()
        for name, value in headers:
            if not self.shows_header(name):
                found.add(value)
                found.update(_TOKEN.findall(value))
        query = target.partition("?")[2].partition("#")[0]
        for part in _QUERY_SPLIT.split(query):
            name, equals, value = part.partition("=")
            if unquote_plus(name).lower() in self.loggable_query_params:
                continue
            value = value if equals else name
            found.update((value, unquote_plus(value)))
        return sorted((s for s in found if len(s) >= MIN_SCRUB_LENGTH), key=len, reverse=True)

    def scrub(self, text: str, secrets: Iterable[str]) -> str:
        """``text`` with every occurrence of each of ``secrets`` replaced by ``[redacted]``."""
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


#: The policy used where no client configured another.
DEFAULT_REDACTION: Final = Redaction()
