"""What ``Client`` and ``AsyncClient`` share: configuration, request building, logging.

The two clients differ only in their few-line driver loops around ``sdk_core.Call``.
"""

from __future__ import annotations

import io
import logging
import platform
import random
import re
import sys
import threading
import time
import warnings
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import IO, TYPE_CHECKING, Any, Generic, TypeAlias, TypedDict, TypeVar

from typing_extensions import Self, Unpack

from sdk_core import (
    NOT_GIVEN,
    URL,
    APIError,
    Call,
    CallOptions,
    Headers,
    InvalidRequestError,
    Limits,
    NotGiven,
    QueryParamTypes,
    RandomSource,
    Request,
    RequestContent,
    Response,
    RetryBudget,
    RetryPolicy,
    Timeout,
    __version__,
    build_url,
)
from sdk_core._build import request_for
from sdk_core._decoding import supported_encodings
from sdk_core._redact import DEFAULT_REDACTION, Redaction
from sdk_core._redirect import RedirectDecision
from sdk_core._retry import RetryDecision
from sdk_core._statistics import PoolStatistics

from ._lifecycle import current_pid

if TYPE_CHECKING:
    from sdk_core._observe import AttemptRecord
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE

__all__ = [
    "AttemptHook",
    "BaseClient",
    "ClientConfig",
    "ClientOptions",
    "ClientSettings",
    "ContentTypes",
    "RequestKwargs",
    "Shared",
    "check_request_keywords",
    "check_settings",
    "logger",
]

logger = logging.getLogger("sdk_transports")

USER_AGENT = f"sdk-core/{__version__} Python/{platform.python_version()}"


#: What ``content=`` takes: bytes, str (sent as UTF-8), a binary file object (read in
#: pieces), an iterable of bytes, or (``AsyncClient`` only) an async iterable of bytes.
ContentTypes: TypeAlias = (
    "bytes | bytearray | memoryview | str | IO[bytes] | Iterable[bytes] | AsyncIterable[bytes]"
)


class RequestKwargs(TypedDict, total=False):
    """The keywords every request method takes besides method and path.

    ``params``: see ``sdk_core._url.QueryParamTypes``. ``headers`` replace the client's by
    name; a value of None removes one for this call. ``json`` or ``content`` (see
    ``ContentTypes``) is the body. ``timeout``: a ``Timeout``, seconds for every phase,
    or None for no limit; left out, the client's applies. ``max_retries``,
    ``follow_redirects`` and ``max_redirects``: left out or None, the client's apply.
    ``idempotency_key``: a non-empty str sent in the client's idempotency header.
    A keyword not listed here raises ``TypeError``; a bad value ``InvalidRequestError``,
    before anything is sent.
    """

    params: QueryParamTypes | None
    headers: Mapping[str, str | None] | None
    json: Any
    content: ContentTypes | None
    timeout: Timeout | float | None
    max_retries: int | None
    idempotency_key: str | None
    follow_redirects: bool | None
    max_redirects: int | None


class ClientOptions(TypedDict, total=False):
    """What ``with_options`` may change; what is left out stays as it is.

    ``timeout=None`` removes the limit, ``api_key=None`` the key; ``default_headers``
    merge by name (a value of None removes one); ``retry=None`` is the default policy.
    ``max_retries``, ``follow_redirects`` and ``max_redirects`` take no None (as in the
    client's settings; a call's None means "the client's"): leave them out instead.
    A keyword not listed here raises ``TypeError``; a bad value ``InvalidRequestError``.
    """

    base_url: str
    api_key: str | None
    timeout: Timeout | float | None
    max_retries: int
    retry: RetryPolicy | None
    default_headers: Mapping[str, str | None] | None
    follow_redirects: bool
    max_redirects: int


class ClientSettings(TypedDict, total=False):
    """The keyword-only settings ``Client`` and ``AsyncClient`` share (defaults shown).

    ``auth_header`` ("Authorization") and ``auth_scheme`` ("Bearer") say how
    ``api_key`` is sent; ``request_id_header`` ("x-request-id") names the server's request
    id; ``idempotency_header`` ("Idempotency-Key", None turns keys off);
    ``follow_redirects`` (True) and ``max_redirects`` (5); ``loggable_headers``,
    ``loggable_query_params`` and ``sensitive_headers`` (empty) adjust what reprs, errors
    and logs may show; ``hooks`` (none) are called with an ``AttemptRecord`` after every
    attempt, in the calling thread or task (an exception from one ends the call).
    """

    auth_header: str
    auth_scheme: str | None
    request_id_header: str
    idempotency_header: str | None
    follow_redirects: bool
    max_redirects: int
    loggable_headers: Iterable[str]
    loggable_query_params: Iterable[str]
    sensitive_headers: Iterable[str]
    hooks: Iterable[AttemptHook]


#: What ``hooks`` holds: functions called with each attempt's ``AttemptRecord``.
AttemptHook = Callable[["AttemptRecord"], object]


_URL_CACHE_SIZE = 256

_REQUEST_KEYWORDS = RequestKwargs.__optional_keys__
_OPTION_KEYWORDS = frozenset(
    {"timeout", "max_retries", "idempotency_key", "follow_redirects", "max_redirects"}
)
_CLIENT_OPTIONS = ClientOptions.__optional_keys__
_CLIENT_SETTINGS = ClientSettings.__optional_keys__
#: The client methods whose callers a misspelt request keyword is reported to.
_ENTRY_METHODS = frozenset(
    {"request", "get", "post", "put", "patch", "delete", "stream", "paginate"}
)
#: How much of a file ``content`` is read at a time.
CONTENT_CHUNK = 65536
# Visible latin-1 characters, spaces and tabs: what an idempotency key may hold.
_HEADER_TEXT = re.compile(r"[\t\x20-\x7e\x80-\xff]+")


def unexpected_keyword(
    given: Iterable[str], known: Iterable[str], where: str, candidates: Iterable[str] = ()
) -> TypeError:
    """The ``TypeError`` Python raises for an unknown keyword, naming the closest known
    one (from ``known`` and ``candidates``) when there is one."""
    import difflib  # loaded by the first misspelt keyword

    known = frozenset(known)
    name = next(key for key in given if key not in known)
    close = difflib.get_close_matches(name, sorted(known.union(candidates)), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return TypeError(f"{where}() got an unexpected keyword argument {name!r}{hint}")


def _entry_point() -> str:
    """The client method a request came in by, e.g. ``Client.get``: the outermost of
    the ``_ENTRY_METHODS`` frames of one client on the stack. Read only to word an
    error."""
    frame = sys._getframe(1)
    found = None
    while frame is not None:
        owner = frame.f_locals.get("self") if frame.f_code.co_name in _ENTRY_METHODS else None
        if isinstance(owner, BaseClient):
            found = f"{type(owner).__name__}.{frame.f_code.co_name}"
        elif found is not None:
            break
        frame = frame.f_back  # type: ignore[assignment]
    return found or "request"


def check_request_keywords(kwargs: Mapping[str, object], *candidates: str) -> None:
    """Raise ``TypeError`` for a keyword ``RequestKwargs`` does not have, naming the
    client method it was passed to. ``candidates``: the method's other keywords."""
    if not _REQUEST_KEYWORDS.issuperset(kwargs):
        raise unexpected_keyword(kwargs, _REQUEST_KEYWORDS, _entry_point(), candidates)


def check_settings(client: object, settings: Mapping[str, object]) -> None:
    """Raise ``TypeError`` for a keyword of ``type(client)()`` that is neither one of
    its parameters nor one of ``ClientSettings``."""
    if not _CLIENT_SETTINGS.issuperset(settings):
        import inspect

        parameters = inspect.signature(type(client).__init__).parameters
        raise unexpected_keyword(
            settings, _CLIENT_SETTINGS, type(client).__name__, list(parameters)[1:]
        )


def check_bool(name: str, value: object) -> bool:
    """``value``, which must be a bool. Raises ``InvalidRequestError`` naming ``name``."""
    if value is True or value is False:
        return value
    raise InvalidRequestError(f"{name} must be True or False, not {type(value).__name__}.")


def check_size(name: str, value: object, least: int = 0) -> int:
    """``value``, which must be an int >= ``least``. Raises ``InvalidRequestError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidRequestError(f"{name} must be an int >= {least}.")
    return value


def _check_key(key: object) -> str:
    if type(key) is not str or not key.strip(" \t"):
        raise InvalidRequestError("idempotency_key must be a non-empty str.")
    if not _HEADER_TEXT.fullmatch(key):
        raise InvalidRequestError(
            "idempotency_key has a character a header cannot hold (CR, LF, NUL, another "
            "control character, or one outside latin-1)."
        )
    return key


def _check_header_name(setting: str, name: object, *, optional: bool) -> None:
    if name is None and optional:
        return
    try:
        Headers([(name, "")])  # type: ignore[list-item]
    except InvalidRequestError:
        shown = "a str or None" if optional else "a str"
        raise InvalidRequestError(f"{setting} must be a header name ({shown}).") from None


def _check_scheme(scheme: object) -> None:
    if scheme is not None and (type(scheme) is not str or not _HEADER_TEXT.fullmatch(scheme)):
        raise InvalidRequestError("auth_scheme must be a non-empty str of header text, or None.")


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Everything a client applies to each call; ``with_options`` derives a new one."""

    base_url: URL
    headers: Headers
    options: CallOptions
    auth_header: str | None
    auth_scheme: str | None
    has_api_key: bool
    hooks: tuple[AttemptHook, ...] = ()
    #: For ``AsyncClient``: sync iterables and files are sent through an async iterator.
    asynchronous: bool = False
    #: URLs built from ``base_url`` and a path without params: a path is usually one of a
    #: few, and a URL is immutable. Emptied when it grows past ``_URL_CACHE_SIZE``.
    urls: dict[str, URL] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def create(
        cls,
        *,
        base_url: str,
        api_key: str | None,
        timeout: Timeout | float | None,
        max_retries: int | NotGiven,
        retry: RetryPolicy | None,
        default_headers: Mapping[str, str | None] | None,
        asynchronous: bool = False,
        auth_header: str = "Authorization",
        auth_scheme: str | None = "Bearer",
        request_id_header: str = "x-request-id",
        idempotency_header: str | None = "Idempotency-Key",
        follow_redirects: bool = True,
        max_redirects: int = 5,
        loggable_headers: Iterable[str] = (),
        loggable_query_params: Iterable[str] = (),
        sensitive_headers: Iterable[str] = (),
        hooks: Iterable[AttemptHook] = (),
    ) -> ClientConfig:
        """Validate and combine a client's settings. Raises ``InvalidRequestError``."""
        if not isinstance(base_url, str) or not base_url:
            raise InvalidRequestError("base_url must be a non-empty str.")
        _check_header_name("auth_header", auth_header, optional=True)
        _check_scheme(auth_scheme)
        _check_header_name("request_id_header", request_id_header, optional=False)
        _check_header_name("idempotency_header", idempotency_header, optional=True)
        given: object = hooks
        if isinstance(given, str | bytes) or not isinstance(given, Iterable):
            raise InvalidRequestError("hooks must be an iterable of callables.")
        hooks = tuple(hooks)
        if not all(callable(hook) for hook in hooks):
            raise InvalidRequestError("hooks must be callables taking an AttemptRecord.")
        redaction = _redaction(
            loggable_headers=loggable_headers,
            loggable_query_params=loggable_query_params,
            sensitive_headers=sensitive_headers,
            auth_header=auth_header,
            shown_headers=(request_id_header, idempotency_header),
        )
        headers = (
            Headers(
                {
                    "Accept": "application/json",
                    "Accept-Encoding": ", ".join(supported_encodings()),
                    "User-Agent": USER_AGENT,
                }
            )
            .with_redaction(redaction)
            .merged(default_headers)
        )
        config = cls(
            base_url=URL.parse(base_url),
            headers=headers,
            options=CallOptions(
                retry=_check_policy(retry),
                timeout=Timeout.of(timeout),
                max_retries=None if max_retries is NOT_GIVEN else _check_retries(max_retries),
                idempotency_header=idempotency_header,
                request_id_header=request_id_header,
                follow_redirects=check_bool("follow_redirects", follow_redirects),
                max_redirects=_check_redirects(max_redirects),
                auth_header=auth_header,
            ),
            auth_header=auth_header,
            auth_scheme=auth_scheme,
            has_api_key=False,
            hooks=hooks,
            asynchronous=asynchronous,
        )
        return config.with_api_key(api_key, auth_scheme)

    def with_api_key(self, api_key: str | None, auth_scheme: str | None = "Bearer") -> ClientConfig:
        """A copy that sends ``api_key`` in the auth header (None removes it)."""
        if self.auth_header is None:
            return self
        headers = self.headers.without(self.auth_header)
        if api_key is None:
            return replace(self, headers=headers, has_api_key=False)
        if not isinstance(api_key, str) or not api_key:
            raise InvalidRequestError("api_key must be a non-empty str.")
        value = f"{auth_scheme} {api_key}" if auth_scheme else api_key
        try:
            headers = headers.merged({self.auth_header: value})
        except InvalidRequestError:
            # Never echo the key: say what is wrong without it.
            raise InvalidRequestError(
                "api_key contains a character a header cannot hold."
            ) from None
        return replace(self, headers=headers, has_api_key=True)

    def derive(self, options: ClientOptions) -> ClientConfig:
        """The settings of ``with_options``: given values replace, headers merge.
        Raises ``InvalidRequestError`` for a bad value."""
        changes: dict[str, Any] = {}
        for name, check in _OPTION_CHECKS:
            value = options.get(name, NOT_GIVEN)
            if value is not NOT_GIVEN:
                changes[name] = check(value)
        config = self
        if changes:
            config = replace(config, options=replace(self.options, **changes))
        base_url = options.get("base_url", NOT_GIVEN)
        if base_url is not NOT_GIVEN:
            if not isinstance(base_url, str) or not base_url:
                raise InvalidRequestError("base_url must be a non-empty str.")
            config = replace(config, base_url=URL.parse(base_url))
        default_headers = options.get("default_headers", NOT_GIVEN)
        if default_headers is not NOT_GIVEN:
            config = replace(config, headers=config.headers.merged(default_headers))
        api_key = options.get("api_key", NOT_GIVEN)
        if api_key is not NOT_GIVEN:
            config = config.with_api_key(api_key, self.auth_scheme)
        return config

    def prepare(
        self,
        method: str,
        path: str,
        kwargs: RequestKwargs,
    ) -> tuple[Request, CallOptions]:
        """The request and call options for one call. Raises ``InvalidRequestError`` for
        a bad value and ``TypeError`` for a keyword ``RequestKwargs`` does not have,
        before anything is sent."""
        url = self.urls.get(path) if type(path) is str else None  # built without params
        if not kwargs:  # the usual call: a method and a path
            if url is None:
                url = self._url(path, None)
            return request_for(method, url, default_headers=self.headers), self.options
        if not _REQUEST_KEYWORDS.issuperset(kwargs):
            raise unexpected_keyword(kwargs, _REQUEST_KEYWORDS, _entry_point())
        json = kwargs.get("json")
        params = kwargs.get("params")
        if url is None or params is not None:
            url = self._url(path, params)
        content = kwargs.get("content")
        if content is not None and type(content) is not bytes:
            content = (async_content if self.asynchronous else sync_content)(content)
        request = request_for(
            method,
            url,
            headers=kwargs.get("headers"),
            content=content,
            default_headers=self.headers,
            **({"json": json} if json is not None else {}),
        )
        if _OPTION_KEYWORDS.isdisjoint(kwargs):
            return request, self.options
        return request, self._call_options(kwargs)

    def _call_options(self, kwargs: RequestKwargs) -> CallOptions:
        """The client's call options with a call's ``_OPTION_KEYWORDS`` applied: None
        (and NOT_GIVEN) keep the client's, but for ``timeout``, where None is no limit."""
        changes: dict[str, Any] = {}
        value: Any = kwargs.get("timeout", NOT_GIVEN)
        if value is not NOT_GIVEN:
            changes["timeout"] = Timeout.of(value)
        value = kwargs.get("idempotency_key")
        if value is not None and value is not NOT_GIVEN:
            changes["idempotency_key"] = _check_key(value)
        value = kwargs.get("max_retries")
        if value is not None and value is not NOT_GIVEN:
            changes["max_retries"] = _check_retries(value)
        value = kwargs.get("follow_redirects")
        if value is not None and value is not NOT_GIVEN:
            changes["follow_redirects"] = check_bool("follow_redirects", value)
        value = kwargs.get("max_redirects")
        if value is not None and value is not NOT_GIVEN:
            changes["max_redirects"] = _check_redirects(value)
        return replace(self.options, **changes) if changes else self.options

    def _url(self, path: str, params: QueryParamTypes | None) -> URL:
        """``path`` (and ``params``) under ``base_url``; kept in ``urls`` without params."""
        url = build_url(self.base_url, path, params)
        if params is None:
            urls = self.urls
            if len(urls) >= _URL_CACHE_SIZE:
                urls.clear()
            urls[path] = url
        return url

    def describe(self) -> str:
        """A repr body that shows no secret."""
        base_url = self.headers.redaction.url(self.base_url)
        return f"base_url={base_url!r}, api_key={'set' if self.has_api_key else None}"


def _redaction(
    *,
    loggable_headers: Iterable[str],
    loggable_query_params: Iterable[str],
    sensitive_headers: Iterable[str],
    auth_header: str | None,
    shown_headers: Iterable[str | None],
) -> Redaction | None:
    """The client's redaction policy, or None when it is the default one.

    The auth header is always sensitive; the request-id and idempotency headers the
    client is told to use are shown (unless marked sensitive).
    """
    try:
        policy = DEFAULT_REDACTION.extended(
            loggable_headers=loggable_headers,
            loggable_query_params=loggable_query_params,
            sensitive_headers=sensitive_headers,
        ).extended(
            loggable_headers=[name for name in shown_headers if name],
            sensitive_headers=[auth_header] if auth_header else [],
        )
    except TypeError as exc:
        raise InvalidRequestError(str(exc)) from None
    return None if policy == DEFAULT_REDACTION else policy


def _check_retries(value: object) -> int:
    return check_size("max_retries", value)


def _check_redirects(value: object) -> int:
    return check_size("max_redirects", value)


def _check_follow(value: object) -> bool:
    return check_bool("follow_redirects", value)


def _check_policy(value: object) -> RetryPolicy:
    if value is None:
        return RetryPolicy()
    if not isinstance(value, RetryPolicy):
        raise InvalidRequestError(
            f"retry must be a RetryPolicy or None, not {type(value).__name__}."
        )
    return value


#: The ``CallOptions`` fields ``with_options`` sets, and their checks.
_OPTION_CHECKS: tuple[tuple[str, Callable[[Any], object]], ...] = (
    ("timeout", Timeout.of),
    ("retry", _check_policy),
    ("max_retries", _check_retries),
    ("follow_redirects", _check_follow),
    ("max_redirects", _check_redirects),
)


def check_limits(limits: object) -> None:
    """Raise ``InvalidRequestError`` unless ``limits`` is a ``Limits`` or None."""
    if limits is not None and not isinstance(limits, Limits):
        raise InvalidRequestError(f"limits must be a Limits or None, not {type(limits).__name__}.")


class _FileChunks(Iterator[bytes]):
    """A binary file's content, read ``CONTENT_CHUNK`` bytes at a time."""

    __slots__ = ("_file",)

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file

    def __next__(self) -> bytes:
        chunk = self._file.read(CONTENT_CHUNK)
        if chunk is None:  # a non-blocking file with nothing ready: not its end
            raise InvalidRequestError(
                "The content file is non-blocking and had no data ready; pass a blocking "
                "file, bytes or an iterable of bytes."
            )
        if not chunk:
            raise StopIteration
        # A piece that is not bytes (a file that reads str) is left to the transport's
        # check of every body item, which ends the request with a typed WriteError.
        return chunk


class _AsyncChunks(AsyncIterator[bytes]):
    """A sync iterable of bytes (or a binary file, read in pieces) as an async iterator,
    for ``AsyncClient``: each step runs one step of the iterable (one read of the file)
    in the calling task, without waiting on anything."""

    __slots__ = ("_iterable", "_iterator")

    def __init__(self, iterable: Iterable[bytes]) -> None:
        self._iterable = iterable
        self._iterator: Iterator[bytes] | None = None

    async def __anext__(self) -> bytes:
        iterator = self._iterator
        if iterator is None:
            iterator = self._iterator = iter(self._iterable)
        try:
            return next(iterator)
        except StopIteration:
            raise StopAsyncIteration from None


def _file_of(content: object) -> IO[bytes] | None:
    """``content`` when it is a file object (it has ``read``), else None. Raises
    ``InvalidRequestError`` for one in text mode."""
    if not callable(getattr(content, "read", None)):
        return None
    if isinstance(content, io.TextIOBase):
        raise InvalidRequestError("A content file must be opened in binary mode ('rb').")
    return content  # type: ignore[return-value]


def _refused_content(content: object, kinds: str) -> InvalidRequestError:
    hint = " (json= sends a JSON body)" if isinstance(content, Mapping) else ""
    return InvalidRequestError(
        f"content must be bytes, str, a binary file or an iterable of bytes{kinds}, "
        f"not {type(content).__name__}{hint}."
    )


def sync_content(content: object) -> RequestContent | str:
    """What ``Client`` sends for ``content`` (see ``ContentTypes``): a file becomes an
    iterator of its pieces. Raises ``InvalidRequestError`` for an async iterable (it
    needs ``AsyncClient``) and for anything else outside ``ContentTypes``."""
    if isinstance(content, bytes | str):
        return content
    if isinstance(content, bytearray | memoryview):
        return bytes(content)
    file = _file_of(content)
    if file is not None:
        return _FileChunks(file)
    if isinstance(content, Iterable) and not isinstance(content, Mapping):
        return content
    if isinstance(content, AsyncIterable):
        raise InvalidRequestError(
            "Client cannot send an async iterable as content; use AsyncClient, or pass "
            "bytes or an iterable of bytes."
        )
    raise _refused_content(content, "")


def async_content(content: object) -> RequestContent | str:
    """What ``AsyncClient`` sends for ``content`` (see ``ContentTypes``): an async
    iterable as it is; a sync iterable or a file through ``_AsyncChunks``, so a
    transport only ever sees bytes or an async iterable. Raises
    ``InvalidRequestError`` for anything else."""
    if isinstance(content, bytes | str):
        return content
    if isinstance(content, bytearray | memoryview):
        return bytes(content)
    if isinstance(content, AsyncIterable):
        return content
    file = _file_of(content)
    if file is not None:
        return _AsyncChunks(_FileChunks(file))
    if isinstance(content, Iterable) and not isinstance(content, Mapping):
        return _AsyncChunks(content)
    raise _refused_content(content, " or an async iterable of bytes")


def observe(
    debug: bool,
    hooks: tuple[AttemptHook, ...],
    request: Request,
    call: Call,
    result: Response | APIError,
    elapsed: float,
) -> None:
    """After an attempt: log what the call decided (``debug``), and hand each hook the
    attempt's record (secrets left out). A hook's exception propagates."""
    decision = call.decisions[-1]
    if debug:
        outcome = str(result.status_code) if isinstance(result, Response) else type(result).__name__
        log_decision(decision, outcome)
    if hooks:
        from sdk_core._observe import attempt_record  # loaded by the first hooked call

        record = attempt_record(
            request, call.attempts, result, decision, call.state, elapsed=elapsed
        )
        for hook in hooks:
            hook(record)


def log_attempt(request: Request, attempt: int) -> None:
    """DEBUG: an attempt is about to be sent. The URL's query shows only the values of
    allowlisted parameters (the request's ``headers.redaction``); no header is logged."""
    url = request.headers.redaction.url(request.url)
    logger.debug("HTTP %s %s attempt %d", request.method, url, attempt)


def log_decision(decision: RetryDecision | RedirectDecision, outcome: str) -> None:
    """DEBUG: what came back and what the call decided."""
    if isinstance(decision, RedirectDecision):
        if decision.request is None:
            logger.debug("%s: not following because %s", outcome, decision.reason.value)
        else:
            url = decision.request.url
            logger.debug(
                "%s: %s %s://%s%s because %s",
                outcome,
                decision.request.method,
                url.scheme,
                url.host_header,
                url.target.partition("?")[0],
                decision.reason.value,
            )
    elif decision.retry:
        logger.debug(
            "%s: retrying in %.3f s because %s", outcome, decision.delay, decision.reason.value
        )
    else:
        logger.debug("%s: not retrying because %s", outcome, decision.reason.value)


TransportT = TypeVar("TransportT")
SleepT = TypeVar("SleepT")


class Shared(Generic[TransportT, SleepT]):
    """What a client and its ``with_options`` copies share: the pool and the budget.

    When the last of them is garbage-collected while the pool they made was never
    closed, ``__del__`` warns with ``ResourceWarning``; it does nothing else (no close,
    no event loop, never raises).
    """

    __slots__ = (
        "budget",
        "clock",
        "closed",
        "label",
        "max_response_size",
        "owns_rng",
        "owns_transport",
        "pid",
        "rng",
        "sleep",
        "transport",
        "wall_clock",
    )

    def __init__(
        self,
        transport: TransportT,
        *,
        budget: RetryBudget,
        rng: RandomSource,
        clock: Callable[[], float],
        sleep: SleepT,
        owns_transport: bool = False,
        owns_rng: bool = False,
        label: str = "client",
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        self.transport = transport
        self.max_response_size = max_response_size
        self.budget = budget
        self.rng = rng
        self.clock = clock
        self.wall_clock = time.time
        self.sleep = sleep
        self.closed = False
        self.owns_transport = owns_transport
        self.owns_rng = owns_rng
        self.label = label
        self.pid = current_pid()

    def after_fork(self) -> None:
        """In a forked child (sync clients): a random source of its own, so parent and
        child never draw the same idempotency keys, and a budget whose lock no thread
        of the parent can hold. The transport resets its own pool."""
        self.pid = current_pid()
        if self.owns_rng:
            self.rng = random.Random()
        budget = self.budget
        self.budget = RetryBudget(
            budget.capacity,
            retry_cost=budget.retry_cost,
            timeout_cost=budget.timeout_cost,
            success_refund=budget.success_refund,
            lock=threading.Lock(),
        )

    def __del__(self) -> None:
        try:
            if self.owns_transport and not self.closed:
                warnings.warn(
                    f"{self.label} was never closed; call close()/aclose() or use it as a "
                    "context manager to release its connections.",
                    ResourceWarning,
                    stacklevel=1,
                    source=self,
                )
        except Exception:  # never raise from __del__ (a warning filter may say "error")
            pass


class BaseClient(Generic[TransportT, SleepT]):
    """The parts of ``Client`` and ``AsyncClient`` that do not wait."""

    _config: ClientConfig
    _shared: Shared[TransportT, SleepT]
    _owner: bool = True

    def _setup(
        self,
        config: ClientConfig,
        transport: TransportT,
        *,
        owns_transport: bool,
        budget: RetryBudget,
        rng: RandomSource | None,
        clock: Callable[[], float],
        sleep: SleepT,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        """Attach the settings and the state this client will share with its copies.

        ``max_response_size`` bounds what reading a streamed body whole may hold.
        """
        self._config = config
        self._shared = Shared(
            transport,
            budget=budget,
            rng=rng if rng is not None else random.Random(),
            owns_rng=rng is None,
            owns_transport=owns_transport,
            label=f"{type(self).__name__}({config.describe()})",
            clock=clock,
            sleep=sleep,
            max_response_size=max_response_size,
        )

    def with_options(self, **options: Unpack[ClientOptions]) -> Self:
        """A client with these settings changed (see ``ClientOptions``) that shares this
        one's pool and budget.

        ``default_headers`` merge into the current ones by name. Closing the copy does
        not close the pool; closing the original does. Raises ``InvalidRequestError``
        for a bad value and ``TypeError`` for an unknown keyword.
        """
        if not _CLIENT_OPTIONS.issuperset(options):
            raise unexpected_keyword(
                options, _CLIENT_OPTIONS, f"{type(self).__name__}.with_options"
            )
        config = self._config.derive(options)
        copy = object.__new__(type(self))
        copy._config = config
        copy._shared = self._shared
        copy._owner = False
        return copy

    def statistics(self) -> PoolStatistics:
        """The pool's connections in use, idle, and requests waiting for one."""
        return self._shared.transport.statistics()  # type: ignore[attr-defined, no-any-return]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._config.describe()})"
