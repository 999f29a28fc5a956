"""URL parsing and building: base_url + path + params, validated before sending."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias
from urllib.parse import SplitResult, quote, quote_plus, urlsplit

from ._error_base import InvalidRequestError
from ._redact import DEFAULT_REDACTION

__all__ = ["URL", "ParamTypes", "QueryParamTypes", "build_url"]

_Scalar: TypeAlias = "str | int | float | bool | None"
_ParamValue: TypeAlias = "_Scalar | Sequence[_Scalar] | Mapping[str, _ParamValue]"
#: Query parameters as a mapping.
ParamTypes: TypeAlias = "Mapping[str, _ParamValue]"
#: What ``params=`` takes: a mapping, or a list or tuple of (name, value) pairs (a name
#: may repeat). Values: str, int, float (finite), bool (sent as true/false), None (left
#: out), a list or tuple of those (one pair each), or a mapping of them, sent with its
#: keys in brackets: ``{"filter": {"k": "v"}}`` is ``filter[k]=v``.
QueryParamTypes: TypeAlias = "ParamTypes | Sequence[tuple[str, _ParamValue]]"

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
        target = _target(parts.path, parts.query)
        if target is None:
            raise InvalidRequestError(f"URL {_SURROGATE}.")
        return cls(scheme, host, port, target)


def _target(path: str, query: str) -> str | None:
    """``path`` and ``query`` percent-encoded as a request target, or None when either
    has a lone surrogate (the error is raised by the caller, with no context quoting it)."""
    try:
        path = quote(path, safe=_PATH_SAFE) or "/"
        return path + "?" + quote(query, safe=_QUERY_SAFE) if query else path
    except UnicodeEncodeError:
        return None


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
        import idna  # loaded by the first international name

        try:
            # IDNA 2008 with UTS #46 mapping, as browsers, httpx and urllib3 resolve
            # names (IDNA 2003, Python's "idna" codec, maps "faß.de" to "fass.de").
            return idna.encode(host, uts46=True).decode("ascii")
        except UnicodeError:  # idna.IDNAError is one
            pass
        # Raised out here: no __context__ quoting the host.
        raise InvalidRequestError("URL host is not a valid international domain name.")
    return host


_SURROGATE = "has a lone surrogate, which UTF-8 cannot encode"
# Nested mappings deeper than this are refused (and a mapping that holds itself).
_MAX_PARAM_DEPTH = 32


def _quoted(text: str, name: str) -> str:
    """``text`` form-encoded as ``urlencode`` does."""
    if text.isalnum() and text.isascii():
        return text
    try:
        return quote_plus(text, safe="")
    except UnicodeEncodeError:
        problem = f"Query parameter {name!r} {_SURROGATE}."
    raise InvalidRequestError(problem)


def _param_text(value: object, name: str) -> str | None:
    """The text of one query value, or None for None (left out). Raises
    ``InvalidRequestError`` naming the parameter, never quoting its value."""
    if type(value) is str:
        return value
    if value is None:
        return None
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):  # an enum of str, say: its value, not its str()
        return str.__str__(value)
    if isinstance(value, int):
        try:
            return int.__repr__(value)
        except ValueError:  # past sys.get_int_max_str_digits()
            problem = "is an int with too many digits to send"
    elif isinstance(value, float):
        if math.isfinite(value):
            return float.__repr__(value)
        problem = "is NaN or infinite; only finite floats can be sent"
    elif isinstance(value, list | tuple | Mapping):
        problem = f"holds a {type(value).__name__} inside a list, which has no query form"
    else:
        problem = (
            "must be a str, int, float, bool or None, or a list, tuple or mapping of "
            f"them, not {type(value).__name__}"
        )
    raise InvalidRequestError(f"Query parameter {name!r} {problem}.")


def _add_param(
    parts: list[str], name: object, value: object, prefix: str | None = None, depth: int = 0
) -> None:
    """Append the pairs of parameter ``name`` (under ``prefix``, the name of the mapping
    ``depth`` levels down that holds it): one, none for None, one per item of a list,
    or a mapping's, their names in brackets."""
    if type(name) is not str:
        if not isinstance(name, str):
            where = "params" if prefix is None else f"Query parameter {prefix!r}"
            raise InvalidRequestError(
                f"{where} has a name that is a {type(name).__name__}, not a str."
            )
        name = str.__str__(name)
    if prefix is not None:
        name = f"{prefix}[{name}]"
    if type(value) is not str and isinstance(value, list | tuple):
        key = _quoted(name, name)
        for item in value:
            text = _param_text(item, name)
            if text is not None:
                parts.append(f"{key}={_quoted(text, name)}")
    elif type(value) is not str and isinstance(value, Mapping):
        if depth >= _MAX_PARAM_DEPTH:
            raise InvalidRequestError(
                f"Query parameter {name!r} nests mappings over {_MAX_PARAM_DEPTH} deep."
            )
        for sub_name, sub_value in value.items():
            _add_param(parts, sub_name, sub_value, name, depth + 1)
    else:
        text = _param_text(value, name)
        if text is not None:
            parts.append(f"{_quoted(name, name)}={_quoted(text, name)}")


def _encode_params(params: QueryParamTypes) -> str:
    """The query string of ``params`` (see ``QueryParamTypes``), form-encoded as
    ``urlencode`` does. Raises ``InvalidRequestError`` for anything else, naming the
    parameter and never quoting its value (it may be a secret)."""
    pairs: Iterable[object]
    if isinstance(params, Mapping):
        pairs = params.items()
    elif isinstance(params, list | tuple):
        pairs = params
    else:
        raise InvalidRequestError(
            "params must be a mapping or a list of (name, value) pairs, "
            f"not {type(params).__name__}."
        )
    parts: list[str] = []
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise InvalidRequestError(
                f"params must hold (name, value) pairs, not {type(pair).__name__}."
            )
        _add_param(parts, pair[0], pair[1])
    return "&".join(parts)


def build_url(base_url: str | URL, path: str, params: QueryParamTypes | None = None) -> URL:
    """Join ``path`` (relative to ``base_url``'s path, or absolute) and add ``params``
    (see ``QueryParamTypes``).

    Raises ``InvalidRequestError`` for a control character or a lone surrogate, an
    unusable scheme or host, or a parameter outside ``QueryParamTypes``.
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
        quoted = _target(rel_path, query)
        if quoted is None:
            raise InvalidRequestError(f"Path {_SURROGATE}.")
        url = URL(base.scheme, base.host, base.port, quoted)
    return _with_params(url, params)


def _with_params(url: URL, params: QueryParamTypes | None) -> URL:
    if params is not None:
        encoded = _encode_params(params)
        if encoded:
            joiner = "&" if "?" in url.target else "?"
            return URL(url.scheme, url.host, url.port, url.target + joiner + encoded)
    return url
