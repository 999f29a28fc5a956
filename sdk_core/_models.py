"""``Request`` and ``Response``: plain values that cross between the core and transports."""

from __future__ import annotations

import codecs
import json as _json
import re
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any, TypeAlias

from ._errors import InvalidRequestError
from ._headers import Headers, HeaderTypes
from ._url import URL

__all__ = ["Request", "RequestContent", "Response"]

RequestContent: TypeAlias = "bytes | Iterable[bytes] | AsyncIterable[bytes]"

_METHOD = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")  # \Z: "$" allows a final "\n"
# Registered as text codecs, but they encode host names and labels, not bodies.
_NOT_BODY_CODECS = frozenset({"idna", "punycode", "undefined"})
_CHARSET = re.compile(r"charset=\"?([\w.:-]+)", re.IGNORECASE)
#: Methods retried after they may have reached the server (DESIGN.md's retry rules).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Valid as they are: no pattern match and no upper() for these.
_USUAL_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


class Request:
    """An HTTP request ready to send.

    ``content`` is bytes (replayable, so retryable) or an iterable or async iterable of
    bytes (one-shot, never retried). Content of another type (str, a mapping, a
    number), a ``Content-Length`` header that disagrees with bytes content, a method
    that is not a token, or a header with CR/LF/NUL raise ``InvalidRequestError``.
    """

    __slots__ = ("content", "headers", "method", "url")

    method: str
    url: URL
    headers: Headers
    content: RequestContent

    def __init__(
        self,
        method: str,
        url: URL | str,
        *,
        headers: HeaderTypes | None = None,
        content: RequestContent = b"",
    ) -> None:
        if type(method) is not str or method not in _USUAL_METHODS:
            if type(method) is not str or not _METHOD.match(method):
                raise InvalidRequestError(f"Invalid HTTP method {method!r}.")
            method = method.upper()
        self.method = method
        self.url = url if isinstance(url, URL) else URL.parse(url)
        hdrs = headers if type(headers) is Headers else Headers(headers)  # immutable: shared
        if type(content) is bytes or isinstance(content, bytes | bytearray | memoryview):
            content = bytes(content)
            declared = hdrs._lower.get("content-length")
            if declared:
                if len(set(declared)) != 1 or declared[0] != str(len(content)):
                    raise InvalidRequestError(
                        f"Content-Length {', '.join(declared)!s} disagrees with the "
                        f"body's {len(content)} bytes."
                    )
            elif content or self.method in ("POST", "PUT", "PATCH"):
                hdrs = hdrs._appended((("Content-Length", str(len(content))),), hdrs._redaction)
        elif isinstance(content, str):
            raise InvalidRequestError("Request content must be bytes, not str; encode it first.")
        elif isinstance(content, Mapping) or not isinstance(content, Iterable | AsyncIterable):
            hint = " (json= sends a JSON body)" if isinstance(content, Mapping) else ""
            raise InvalidRequestError(
                "Request content must be bytes or an iterable or async iterable of bytes, "
                f"not {type(content).__name__}{hint}."
            )
        self.headers = hdrs
        self.content = content

    @property
    def replayable(self) -> bool:
        """True when the body can be sent again (bytes), so the request may be retried."""
        return isinstance(self.content, bytes)

    @property
    def is_idempotent(self) -> bool:
        """True for a method whose repetition has the effect of one request (RFC 9110)."""
        return self.method in IDEMPOTENT_METHODS

    def with_headers(self, headers: HeaderTypes) -> Request:
        """A copy whose headers are replaced by name with ``headers``."""
        new = Request.__new__(Request)
        new.method = self.method
        new.url = self.url
        new.headers = self.headers.merged(headers)
        new.content = self.content
        return new

    def __repr__(self) -> str:
        # The query's values show only when allowlisted (see ``Headers.redaction``).
        return f"<Request {self.method} {self.headers.redaction.url(self.url)}>"


class Response:
    """An HTTP response with its body read.

    ``attempts`` is set by the client to the number of attempts the call took;
    ``redirects`` to the number of redirects it followed to get here (0: none).
    ``json()`` raises ``ValueError`` (json.JSONDecodeError) for a body that is not JSON.
    """

    __slots__ = (
        "attempts",
        "content",
        "headers",
        "redirects",
        "request",
        "request_id_header",
        "status_code",
    )

    status_code: int
    headers: Headers
    content: bytes
    request: Request | None
    attempts: int
    redirects: int
    request_id_header: str

    def __init__(
        self,
        status_code: int,
        *,
        headers: HeaderTypes | None = None,
        content: bytes = b"",
        request: Request | None = None,
    ) -> None:
        if type(status_code) is not int or not 100 <= status_code <= 999:
            raise ValueError(f"Invalid status code {status_code!r}.")
        self.status_code = status_code
        hdrs = headers if type(headers) is Headers else Headers(headers)  # immutable: shared
        if request is not None and hdrs._redaction is None:
            redaction = request.headers._redaction
            if redaction is not None:  # shown under the policy of the client that sent it
                hdrs = hdrs.with_redaction(redaction)
        self.headers = hdrs
        self.content = bytes(content)
        self.request = request
        self.attempts = 1
        self.redirects = 0
        self.request_id_header = "x-request-id"

    @property
    def is_success(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status_code < 300

    @property
    def encoding(self) -> str:
        """The charset named by Content-Type when it is a text encoding for bodies, else
        utf-8 (an unknown name, or a codec such as idna or punycode that maps names)."""
        match = _CHARSET.search(self.headers.first("content-type") or "")
        if not match:
            return "utf-8"
        try:
            info = codecs.lookup(match.group(1))
        except LookupError:
            return "utf-8"
        if info.name in _NOT_BODY_CODECS or not getattr(info, "_is_text_encoding", True):
            return "utf-8"
        return match.group(1)

    @property
    def text(self) -> str:
        """The body decoded with ``encoding``; undecodable bytes are replaced."""
        try:
            return self.content.decode(self.encoding, errors="replace")
        except (LookupError, UnicodeError):  # unknown, or a codec like idna that cannot replace
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return _json.loads(self.content)

    @property
    def request_id(self) -> str | None:
        """The server's request id (``x-request-id`` unless the client names another)."""
        return self.headers.first(self.request_id_header)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"
