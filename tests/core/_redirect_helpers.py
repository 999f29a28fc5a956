"""What the redirect tests share: the request, the redirect responses and the credential
headers."""

from __future__ import annotations

from collections.abc import Iterator

from sdk_core import Request, Response
from sdk_core._redirect import REDIRECT_STATUSES

URL = "https://api.example.com/v1/things?page=2"
SECRET = "Bearer sk-live-TOPSECRET"
STATUSES = sorted(REDIRECT_STATUSES)
METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
CREDENTIALS = {
    "Authorization": SECRET,
    "Proxy-Authorization": "Basic cHJveHk6cGFzcw==",
    "Cookie": "session=abc",
    "X-Api-Key": "k-1",
    "Api-Key": "k-2",
    "X-Service-Token": "custom-secret",
}


def chunks() -> Iterator[bytes]:
    yield b'{"a": 1}'


def make_request(method: str = "GET", *, replayable: bool = True, url: str = URL) -> Request:
    headers = {**CREDENTIALS, "Content-Type": "application/json", "X-Trace": "t-1"}
    if replayable:
        return Request(method, url, headers=headers, content=b'{"a": 1}')
    headers["Transfer-Encoding"] = "chunked"
    return Request(method, url, headers=headers, content=chunks())


def redirect(status: int, location: str | None) -> Response:
    return Response(status, headers={} if location is None else {"Location": location})
