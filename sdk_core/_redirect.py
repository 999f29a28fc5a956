"""The redirect decision: a pure function of the request, the 3xx response and the count.

``redirect_request`` says whether a response is a redirect to follow and builds the
request that follows it; every answer carries a ``RedirectReason``. ``Call`` turns a
refusal into ``RedirectError`` (``TooManyRedirects`` past ``max_redirects``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final
from urllib.parse import urljoin

from ._errors import RedirectError, TooManyRedirects
from ._models import Request, Response
from ._url import URL

__all__ = [
    "CREDENTIAL_HEADERS",
    "REDIRECT_STATUSES",
    "RedirectDecision",
    "RedirectReason",
    "redirect_error",
    "redirect_request",
]

#: The statuses followed when they carry a Location header.
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
#: Dropped, with the client's own auth header, when a redirect changes scheme, host or port.
CREDENTIAL_HEADERS: Final = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
)
#: The headers that describe a body, dropped with it when a redirect becomes a GET.
_BODY_HEADERS: Final = ("content-length", "content-type", "transfer-encoding")


class RedirectReason(enum.Enum):
    """Why a redirect was followed, or why it could not be."""

    FOLLOWED = "the server redirected; the method and body are kept"
    FOLLOWED_AS_GET = "the server redirected (303, or 301/302 after POST); sent as GET, no body"
    TOO_MANY_REDIRECTS = "the call was redirected more than max_redirects times"
    INVALID_LOCATION = "the Location header is not a valid http(s) URL"
    BODY_NOT_REPLAYABLE = "the redirect must resend a body that cannot be replayed"


@dataclass(frozen=True, slots=True)
class RedirectDecision:
    """Follow with ``request``, or (``request`` None) stop with ``redirect_error``.

    ``location`` is the raw Location value; ``cross_origin`` says whether scheme, host or
    port changed (so credentials were dropped); ``message`` explains a refusal.
    """

    reason: RedirectReason
    location: str
    request: Request | None = None
    cross_origin: bool = False
    message: str = ""

    @property
    def follow(self) -> bool:
        """True when the redirect is followed with ``request``."""
        return self.request is not None


def _where(request: Request) -> str:
    # No query string: it may hold a token.
    url = request.url
    return f"{url.scheme}://{url.host_header}{url.target.partition('?')[0]}"


def redirect_request(
    request: Request,
    response: Response,
    *,
    redirects: int = 0,
    max_redirects: int = 5,
    auth_header: str | None = None,
) -> RedirectDecision | None:
    """Decide how ``request``, answered by ``response``, is redirected.

    None when there is nothing to follow: a status other than 301, 302, 303, 307, 308,
    no Location header, or ``max_redirects`` <= 0 (following is off). ``redirects`` is
    how many were followed before this one. A relative Location is resolved against
    the request URL. 303, and 301/302 after POST, become GET (HEAD stays HEAD) without
    a body; otherwise method and body are kept, which needs a replayable body. When
    scheme, host or port change, ``CREDENTIAL_HEADERS``, ``auth_header`` and any Host
    header are dropped. Never raises.
    """
    if response.status_code not in REDIRECT_STATUSES or max_redirects <= 0:
        return None
    location = response.headers.first("location")
    if location is None:
        return None
    status = response.status_code
    intro = f"Cannot follow the {status} redirect from {_where(request)}"
    if redirects >= max_redirects:
        return RedirectDecision(
            RedirectReason.TOO_MANY_REDIRECTS,
            location,
            message=f"{intro}: the call was already redirected {redirects} times "
            f"(max_redirects={max_redirects}).",
        )
    try:
        if not location.strip():
            raise ValueError("the Location header is empty")
        url = URL.parse(urljoin(str(request.url), location.strip()))
    except ValueError as exc:  # InvalidRequestError is a ValueError; so is urljoin's
        # The Location itself stays out of the message (it may carry a token).
        return RedirectDecision(
            RedirectReason.INVALID_LOCATION,
            location,
            message=f"{intro}: the Location header is not a valid http(s) URL ({exc}).",
        )
    method = request.method
    headers = request.headers
    content = request.content
    if status == 303 or (status in (301, 302) and method == "POST"):
        reason = RedirectReason.FOLLOWED_AS_GET
        method = "HEAD" if method == "HEAD" else "GET"
        content = b""
        for name in _BODY_HEADERS:
            headers = headers.without(name)
    elif not request.replayable:
        return RedirectDecision(
            RedirectReason.BODY_NOT_REPLAYABLE,
            location,
            message=f"{intro}: it must resend the {method} body, which is a one-shot "
            "stream; pass the body as bytes to allow it.",
        )
    else:
        reason = RedirectReason.FOLLOWED
    cross_origin = url.origin != request.url.origin
    if cross_origin:
        for name in (*CREDENTIAL_HEADERS, "host"):
            headers = headers.without(name)
        if auth_header is not None:
            headers = headers.without(auth_header)
    return RedirectDecision(
        reason,
        location,
        request=Request(method, url, headers=headers, content=content),
        cross_origin=cross_origin,
    )


def redirect_error(decision: RedirectDecision, response: Response) -> RedirectError:
    """The error for a redirect that is not followed: ``TooManyRedirects`` past the limit."""
    cls = (
        TooManyRedirects if decision.reason is RedirectReason.TOO_MANY_REDIRECTS else RedirectError
    )
    return cls(decision.message, response=response, location=decision.location)
