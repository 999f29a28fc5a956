"""What the paging tests share: a page built from a JSON body, and the first request."""

from __future__ import annotations

import json
from typing import Any

from sdk_core import PageRequest, Request, Response

URL = "https://api.example.test/v1/items"


def page(
    body: Any,
    *,
    url: str = URL,
    links: list[str] | None = None,
    raw: bytes | None = None,
) -> Response:
    headers = [("Link", value) for value in links or []]
    content = raw if raw is not None else json.dumps(body).encode()
    return Response(200, headers=headers, content=content, request=Request("GET", url))


FIRST = PageRequest("GET", "/items")
