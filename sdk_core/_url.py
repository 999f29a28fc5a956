"""URL parsing and building: base_url + path + params, validated before sending."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias
from urllib.parse import SplitResult, quote, urlencode, urlsplit

from ._errors import InvalidRequestError
from ._redact import DEFAULT_REDACTION

__all__ = ["URL", "ParamTypes", "build_url"]

_Scalar: TypeAlias = "str | int | float | bool | None"
ParamTypes: TypeAlias = "Mapping[str, _Scalar | Sequence[_Scalar]]"

_DEFAULT_PORTS = {"http": 80, "https": 443}
_KNOWN_SCHEMES = frozenset({"ftp", "ftps", "sftp", "ws", "wss", "file", "unix", "http+unix"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters left as they are in a path; everything else is percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"
# A path made only of these needs no quoting and has no query (the common case).
_ALREADY_SAFE = re.compile(r"[A-Za-z0-9/:@!$&'()*+,;=\-._~%]*\Z")


@dataclass(frozen=True, slots=True)
class URL:
    """An absolute http or https URL, split into what a transport needs."""

    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent in the request line

    @property
    def origin(self) -> tuple[str, str, int]:
        """(scheme, host, port): the key of a connection pool."""
        return (self.scheme, self.host, self.port)

    @property
    def host_header(self) -> str:
        """The Host header value: the port is left out when it is the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if _DEFAULT_PORTS[self.scheme] == self.port:
            return host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.target}"

    def __repr__(self) -> str:
        # str() is the URL itself (it is sent); repr() hides query values not allowlisted.
        return f"URL({DEFAULT_REDACTION.url(self)!r})"

    @classmethod
    def parse(cls, url: str) -> URL:
        """Parse an absolute URL. Raises ``InvalidRequestError`` when it is unusable."""
        if type(url) is not str:
            raise InvalidRequestError(f"URL must be a str, not {type(url).__name__}.")
        if _CONTROL.search(url):
            raise InvalidRequestError("URL contains a control character (CR, LF, NUL, ...).")
        problem = None
        try:
            parts = urlsplit(url.strip(" "))
            port = parts.port
        except ValueError as exc:
            problem = _malformed(exc)
        if problem is not None:  # raised out here: no __context__ quoting the URL
            raise InvalidRequestError(f"Malformed URL: {problem}.")
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            # Only a well-known scheme is echoed: "key:secret" parses as scheme "key".
            shown = (
                repr(scheme) if scheme in _KNOWN_SCHEMES else "none" if not scheme else "another"
            )
            raise InvalidRequestError(f"URL scheme must be http or https, got {shown}.")
        if parts.username is not None or parts.password is not None:
            # Credentials in a URL end up in logs and reprs; they have their own options.
            raise InvalidRequestError(
                "URL contains credentials (user-info); pass api_key or headers instead."
            )
        host = _host(parts)
        if port is None:
            port = _DEFAULT_PORTS[scheme]
        elif port == 0:
            raise InvalidRequestError("URL port must be between 1 and 65535.")
        path = quote(parts.path, safe=_PATH_SAFE) or "/"
        target = path + ("?" + quote(parts.query, safe=_QUERY_SAFE) if parts.query else "")
        return cls(scheme, host, port, target)


def _malformed(exc: ValueError) -> str:
    # urlsplit's messages can quote the netloc or the port, where a password may sit.
    text = str(exc)
    if "Port" in text or "port" in text:
        return "the port is not a number from 1 to 65535"
    if "IPv6" in text:
        return "the IPv6 host is not in valid brackets"
    return "the host has characters a URL cannot hold"


def _host(parts: SplitResult) -> str:
    host = parts.hostname
    if not host:
        raise InvalidRequestError("URL has no host.")
    if " " in host:
        raise InvalidRequestError("URL host contains a space.")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidRequestError("URL host is not a valid international name.") from None
    return host


def _encode_params(params: ParamTypes) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is None:
                continue
            if isinstance(item, bool):
                pairs.append((key, "true" if item else "false"))
            else:
                pairs.append((key, str(item)))
    return urlencode(pairs)


def build_url(base_url: str | URL, path: str, params: ParamTypes | None = None) -> URL:
    """Join ``path`` (relative to ``base_url``'s path, or absolute) and add ``params``.

    Raises ``InvalidRequestError`` for a control character, an unusable scheme or host.
    """
    if type(path) is not str:
        raise InvalidRequestError(f"Path must be a str, not {type(path).__name__}.")
    if (
        isinstance(base_url, URL)
        and "://" not in path  # so not absolute
        and _ALREADY_SAFE.match(path)  # so no control character either
        and "?" not in base_url.target
    ):
        base_path = base_url.target
        target = base_path.rstrip("/") + "/" + path.lstrip("/") if path else base_path
        return _with_params(URL(base_url.scheme, base_url.host, base_url.port, target), params)
    if _CONTROL.search(path):
        raise InvalidRequestError("Path contains a control character (CR, LF, NUL, ...).")
    absolute = path[:8].lower().startswith(("http://", "https://"))
    if absolute:
        url = URL.parse(path)
    else:
        base = base_url if isinstance(base_url, URL) else URL.parse(base_url)
        base_path, _, base_query = base.target.partition("?")
        joined = base_path.rstrip("/") + "/" + path.lstrip("/") if path else base_path
        rel_path, _, rel_query = joined.partition("?")
        query = "&".join(q for q in (base_query, rel_query) if q)
        target = quote(rel_path, safe=_PATH_SAFE) + (
            "?" + quote(query, safe=_QUERY_SAFE) if query else ""
        )
        url = URL(base.scheme, base.host, base.port, target)
    return _with_params(url, params)


def _with_params(url: URL, params: ParamTypes | None) -> URL:
    if params:
        encoded = _encode_params(params)
        if encoded:
            joiner = "&" if "?" in url.target else "?"
            return URL(url.scheme, url.host, url.port, url.target + joiner + encoded)
    return url
