"""Building a ``Request`` from what a caller passes to ``client.request``."""

from __future__ import annotations

import json as _json
from typing import Any

from ._errors import InvalidRequestError
from ._headers import Headers, HeaderTypes
from ._models import Request, RequestContent
from ._url import URL, ParamTypes, build_url

__all__ = ["build_request", "encode_json", "request_for"]

_NO_JSON = object()


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON. Raises ``InvalidRequestError`` for a value JSON cannot hold."""
    try:
        return _json.dumps(
            value, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"The json body cannot be encoded: {exc}.") from None


def build_request(
    method: str,
    base_url: URL | str,
    path: str,
    *,
    params: ParamTypes | None = None,
    headers: HeaderTypes | None = None,
    json: Any = _NO_JSON,
    content: RequestContent | None = None,
    default_headers: Headers | None = None,
) -> Request:
    """The request for ``method path`` under ``base_url``.

    ``headers`` replace ``default_headers`` by name. ``json`` is encoded with a JSON
    Content-Type unless the caller set one. Raises ``InvalidRequestError`` for a bad
    method, URL, header or body, or when both ``json`` and ``content`` are given.
    """
    url = build_url(base_url, path, params)
    return request_for(
        method, url, headers=headers, json=json, content=content, default_headers=default_headers
    )


def request_for(
    method: str,
    url: URL,
    *,
    headers: HeaderTypes | None = None,
    json: Any = _NO_JSON,
    content: RequestContent | None = None,
    default_headers: Headers | None = None,
) -> Request:
    """``build_request`` for a URL already built."""
    merged = (Headers() if default_headers is None else default_headers).merged(headers)
    if json is not _NO_JSON:
        if content is not None:
            raise InvalidRequestError("Pass either json or content, not both.")
        content = encode_json(json)
        merged = merged.with_default("Content-Type", "application/json")
    return Request(method, url, headers=merged, content=b"" if content is None else content)
