"""``Request`` and ``Response``: plain values that cross between the core and transports."""

from __future__ import annotations

import codecs
import json as _json
import re
from collections.abc import AsyncIterable, Iterable, Mapping
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeAlias

from ._error_base import InvalidRequestError
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

    Every attribute is read-only. ``request`` is the request that got the response,
    ``attempts`` the attempts the call took (1 outside a call), ``redirects`` the
    redirects it followed to get here (0: none), and ``request_id`` the value of
    ``request_id_header`` (``x-request-id`` unless the client names another). The call
    sets them in one step, ``_taken_by_call``, when the response is reported to it and
    before anyone else sees it. Headers that carry no redaction policy are shown under
    that of ``request``'s headers (the client that sent it).

    An invalid status code raises ``ValueError``; ``json()`` raises ``ValueError``
    (json.JSONDecodeError) for a body that is not JSON.
    """

    __slots__ = ("_call", "_content", "_headers", "_request", "_status_code")

    _status_code: int
    _headers: Headers
    _content: bytes
    _request: Request | None
    # (attempts, redirects, request_id_header) once a call took the response, else None.
    _call: tuple[int, int, str] | None

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
        self._status_code = status_code
        hdrs = headers if type(headers) is Headers else Headers(headers)  # immutable: shared
        self._headers = hdrs if request is None else _shown_for(hdrs, request, owned=False)
        self._content = bytes(content)
        self._request = request
        self._call = None

    @classmethod
    def _received(
        cls, status_code: int, headers: Headers, content: bytes, request: Request
    ) -> Response:
        """A response a reader assembled from a codec's events: the codec checked the
        status and made ``headers`` for this response alone, so they take ``request``'s
        redaction policy without a copy."""
        self = cls.__new__(cls)
        self._status_code = status_code
        self._headers = _shown_for(headers, request, owned=True)
        self._content = content
        self._request = request
        self._call = None
        return self

    def _taken_by_call(
        self, request: Request, attempts: int, redirects: int, request_id_header: str
    ) -> Response:
        """This response with the call's metadata, for the call whose latest request is
        ``request``: the one place it is attached. A response without a request gets
        ``request``, and its redaction policy. A response a call took already (a canned
        response a handler returns again) is not changed: it is returned as it is when
        the metadata is the same, else copied."""
        meta = (attempts, redirects, request_id_header)
        taken = self._call
        if taken is None:
            if self._request is None:
                self._request = request
                self._headers = _shown_for(self._headers, request, owned=False)
            self._call = meta
            return self
        if taken == meta:
            return self
        copy = Response.__new__(Response)
        copy._status_code = self._status_code
        copy._headers = self._headers
        copy._content = self._content
        copy._request = self._request
        copy._call = meta
        return copy

    def _fill(self, content: bytes) -> None:
        """Keep the body of a streamed response, read after its head was handed over
        (``StreamResponse.read``, ``read_whole``): the one write to a response's
        attributes after it was made."""
        self._content = content

    if TYPE_CHECKING:

        @property
        def status_code(self) -> int:
            """The status code."""

        @property
        def headers(self) -> Headers:
            """The response headers."""

        @property
        def content(self) -> bytes:
            """The body, its Content-Encoding undone."""

        @property
        def request(self) -> Request | None:
            """The request that got this response (after redirects, the last one)."""

    else:  # the same read-only views, each read one C call (see docs/performance.md)
        status_code = property(attrgetter("_status_code"), doc="The status code.")
        headers = property(attrgetter("_headers"), doc="The response headers.")
        content = property(attrgetter("_content"), doc="The body, its Content-Encoding undone.")
        request = property(
            attrgetter("_request"),
            doc="The request that got this response (after redirects, the last one).",
        )

    @property
    def attempts(self) -> int:
        """The attempts the call took to get this response (1 outside a call)."""
        call = self._call
        return 1 if call is None else call[0]

    @property
    def redirects(self) -> int:
        """The redirects the call followed to get here (0: none)."""
        call = self._call
        return 0 if call is None else call[1]

    @property
    def request_id_header(self) -> str:
        """The header ``request_id`` reads (the client's ``request_id_header``)."""
        call = self._call
        return "x-request-id" if call is None else call[2]

    @property
    def is_success(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self._status_code < 300

    @property
    def encoding(self) -> str:
        """The charset named by Content-Type when it is a text encoding for bodies, else
        utf-8 (an unknown name, or a codec such as idna or punycode that maps names)."""
        match = _CHARSET.search(self._headers.first("content-type") or "")
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
            return self._content.decode(self.encoding, errors="replace")
        except (LookupError, UnicodeError):  # unknown, or a codec like idna that cannot replace
            return self._content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return _json.loads(self._content)

    @property
    def request_id(self) -> str | None:
        """The server's request id (``x-request-id`` unless the client names another)."""
        call = self._call
        return self._headers.first("x-request-id" if call is None else call[2])

    def __repr__(self) -> str:
        return f"<Response [{self._status_code}]>"


def _shown_for(headers: Headers, request: Request, *, owned: bool) -> Headers:
    """``headers`` shown under ``request``'s redaction policy when they carry none of
    their own: the one rule for a response's policy. ``owned`` headers (made for one
    response by a codec) take it in place; others are shared, so they are copied."""
    redaction = request.headers._redaction
    if redaction is None or headers._redaction is not None:
        return headers
    if owned:
        headers._redaction = redaction
        return headers
    return headers.with_redaction(redaction)
