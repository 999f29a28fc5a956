"""Building a ``Request`` from what a caller passes to ``client.request``."""

from __future__ import annotations

import json as _json
from typing import Any

from ._error_base import InvalidRequestError
from ._headers import Headers, HeaderUpdates
from ._models import Request, RequestContent
from ._url import URL, QueryParamTypes, build_url

__all__ = ["build_request", "encode_json", "request_for"]

_NO_JSON = object()


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON. Raises ``InvalidRequestError`` for a value JSON cannot hold
    (NaN, a lone surrogate, an object of another type, a cycle, or nesting deeper than
    the interpreter's recursion limit allows)."""
    try:
        return _json.dumps(
            value, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    except (TypeError, ValueError) as exc:
        problem = str(exc)
    except RecursionError:
        problem = "it is nested too deeply"
    raise InvalidRequestError(f"The json body cannot be encoded: {problem}.")


def build_request(
    method: str,
    base_url: URL | str,
    path: str,
    *,
    params: QueryParamTypes | None = None,
    headers: HeaderUpdates | None = None,
    json: Any = _NO_JSON,
    content: RequestContent | str | None = None,
    default_headers: Headers | None = None,
) -> Request:
    """The request for ``method path`` under ``base_url``.

    ``headers`` replace ``default_headers`` by name (a value of None removes one).
    ``json`` is encoded with a JSON Content-Type unless the caller set one; str
    ``content`` is sent as UTF-8. Raises ``InvalidRequestError`` for a bad method, URL,
    header or body, or when both ``json`` and ``content`` are given.
    """
    url = build_url(base_url, path, params)
    return request_for(
        method, url, headers=headers, json=json, content=content, default_headers=default_headers
    )


def request_for(
    method: str,
    url: URL,
    *,
    headers: HeaderUpdates | None = None,
    json: Any = _NO_JSON,
    content: RequestContent | str | None = None,
    default_headers: Headers | None = None,
) -> Request:
    """``build_request`` for a URL already built."""
    merged = (Headers() if default_headers is None else default_headers).merged(headers)
    if json is not _NO_JSON:
        if content is not None:
            raise InvalidRequestError("Pass either json or content, not both.")
        content = encode_json(json)
        merged = merged.with_default("Content-Type", "application/json")
    elif isinstance(content, str):
        content = _utf8(content)
    return Request(method, url, headers=merged, content=b"" if content is None else content)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    raise InvalidRequestError("The content str has a lone surrogate, which UTF-8 cannot encode.")
