"""What ``Client`` and ``AsyncClient`` share: configuration, request building, logging.

The two clients differ only in their few-line driver loops around ``sdk_core.Call``.
"""

from __future__ import annotations

import logging
import platform
import random
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar

from typing_extensions import Self

from sdk_core import (
    NOT_GIVEN,
    URL,
    APIError,
    Call,
    CallOptions,
    Headers,
    InvalidRequestError,
    NotGiven,
    RandomSource,
    Request,
    Response,
    RetryBudget,
    RetryPolicy,
    Timeout,
    __version__,
)
from sdk_core._build import request_for
from sdk_core._decoding import supported_encodings
from sdk_core._redact import DEFAULT_REDACTION, Redaction
from sdk_core._redirect import RedirectDecision
from sdk_core._retry import RetryDecision
from sdk_core._statistics import PoolStatistics
from sdk_core._url import ParamTypes, build_url

from ._lifecycle import current_pid

if TYPE_CHECKING:
    from sdk_core._observe import AttemptRecord
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE

__all__ = [
    "AttemptHook",
    "BaseClient",
    "ClientConfig",
    "ClientSettings",
    "RequestKwargs",
    "Shared",
    "logger",
]

logger = logging.getLogger("sdk_transports")

USER_AGENT = f"sdk-core/{__version__} Python/{platform.python_version()}"


class RequestKwargs(TypedDict, total=False):
    """The keywords every request method takes besides method and path."""

    params: ParamTypes | None
    headers: Mapping[str, str] | None
    json: Any
    content: bytes | None
    timeout: Timeout | float | None
    max_retries: int | None
    idempotency_key: str | None
    follow_redirects: bool | None
    max_redirects: int | None


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


def as_timeout(value: Timeout | float | None) -> Timeout:
    """A ``Timeout`` from a Timeout, a number of seconds for every phase, or None (none)."""
    if isinstance(value, Timeout):
        return value
    return Timeout(value)


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
        default_headers: Mapping[str, str] | None,
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
                retry=retry if retry is not None else RetryPolicy(),
                timeout=as_timeout(timeout),
                max_retries=None if max_retries is NOT_GIVEN else _check_retries(max_retries),
                idempotency_header=idempotency_header,
                request_id_header=request_id_header,
                follow_redirects=bool(follow_redirects),
                max_redirects=_check_redirects(max_redirects),
                auth_header=auth_header,
            ),
            auth_header=auth_header,
            auth_scheme=auth_scheme,
            has_api_key=False,
            hooks=hooks,
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

    def derive(
        self,
        *,
        base_url: str | NotGiven,
        timeout: Timeout | float | NotGiven | None,
        max_retries: int | NotGiven,
        retry: RetryPolicy | NotGiven,
        default_headers: Mapping[str, str] | NotGiven | None,
        follow_redirects: bool | NotGiven = NOT_GIVEN,
        max_redirects: int | NotGiven = NOT_GIVEN,
    ) -> ClientConfig:
        """The settings of ``with_options``: given values replace, headers merge."""
        options = self.options
        if follow_redirects is not NOT_GIVEN:
            options = replace(options, follow_redirects=bool(follow_redirects))
        if max_redirects is not NOT_GIVEN:
            options = replace(options, max_redirects=_check_redirects(max_redirects))
        if timeout is not NOT_GIVEN:
            options = replace(options, timeout=as_timeout(timeout))
        if retry is not NOT_GIVEN:
            options = replace(options, retry=retry)
        if max_retries is not NOT_GIVEN:
            options = replace(options, max_retries=_check_retries(max_retries))
        return replace(
            self,
            base_url=self.base_url if base_url is NOT_GIVEN else URL.parse(base_url),
            headers=self.headers
            if default_headers is NOT_GIVEN
            else self.headers.merged(default_headers),
            options=options,
        )

    def prepare(
        self,
        method: str,
        path: str,
        kwargs: RequestKwargs,
    ) -> tuple[Request, CallOptions]:
        """The request and call options for one call. Raises ``InvalidRequestError``."""
        url = self.urls.get(path) if type(path) is str else None  # built without params
        if not kwargs:  # the usual call: a method and a path
            if url is None:
                url = self._url(path, None)
            return request_for(method, url, default_headers=self.headers), self.options
        json = kwargs.get("json")
        params = kwargs.get("params")
        if url is None or params is not None:
            url = self._url(path, params)
        request = request_for(
            method,
            url,
            headers=kwargs.get("headers"),
            content=kwargs.get("content"),
            default_headers=self.headers,
            **({"json": json} if json is not None else {}),
        )
        options = self.options
        timeout = kwargs.get("timeout")
        max_retries = kwargs.get("max_retries")
        key = kwargs.get("idempotency_key")
        if timeout is not None or max_retries is not None or key is not None:
            options = replace(
                options,
                timeout=options.timeout if timeout is None else as_timeout(timeout),
                max_retries=options.max_retries
                if max_retries is None
                else _check_retries(max_retries),
                idempotency_key=key,
            )
        follow = kwargs.get("follow_redirects")
        max_redirects = kwargs.get("max_redirects")
        if follow is not None or max_redirects is not None:
            options = replace(
                options,
                follow_redirects=options.follow_redirects if follow is None else bool(follow),
                max_redirects=options.max_redirects
                if max_redirects is None
                else _check_redirects(max_redirects),
            )
        return request, options

    def _url(self, path: str, params: ParamTypes | None) -> URL:
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


def _check_retries(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequestError("max_retries must be an int >= 0.")
    return value


def _check_redirects(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequestError("max_redirects must be an int >= 0.")
    return value


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

    def with_options(
        self,
        *,
        base_url: str | NotGiven = NOT_GIVEN,
        api_key: str | NotGiven | None = NOT_GIVEN,
        timeout: Timeout | float | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | NotGiven | None = NOT_GIVEN,
        follow_redirects: bool | NotGiven = NOT_GIVEN,
        max_redirects: int | NotGiven = NOT_GIVEN,
    ) -> Self:
        """A client with these settings changed that shares this one's pool and budget.

        ``default_headers`` merge into the current ones by name. Closing the copy does
        not close the pool; closing the original does. Raises ``InvalidRequestError``.
        """
        config = self._config.derive(
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            follow_redirects=follow_redirects,
            max_redirects=max_redirects,
        )
        if api_key is not NOT_GIVEN:
            config = config.with_api_key(api_key, self._config.auth_scheme)
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
