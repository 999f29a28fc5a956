"""What ``Client`` and ``AsyncClient`` share: configuration, request building, logging.

The two clients differ only in their few-line driver loops around ``sdk_core.Call``.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, TypedDict, TypeVar

from typing_extensions import Self

from sdk_core import (
    NOT_GIVEN,
    URL,
    CallOptions,
    Headers,
    InvalidRequestError,
    NotGiven,
    RandomSource,
    Request,
    RetryBudget,
    RetryPolicy,
    Timeout,
    __version__,
)
from sdk_core._build import build_request
from sdk_core._decoding import supported_encodings
from sdk_core._retry import RetryDecision
from sdk_core._statistics import PoolStatistics
from sdk_core._url import ParamTypes

__all__ = ["BaseClient", "ClientConfig", "RequestKwargs", "Shared", "logger"]

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
        auth_header: str,
        auth_scheme: str | None,
        request_id_header: str,
        idempotency_header: str | None,
    ) -> ClientConfig:
        """Validate and combine a client's settings. Raises ``InvalidRequestError``."""
        if not isinstance(base_url, str) or not base_url:
            raise InvalidRequestError("base_url must be a non-empty str.")
        headers = Headers(
            {
                "Accept": "application/json",
                "Accept-Encoding": ", ".join(supported_encodings()),
                "User-Agent": USER_AGENT,
            }
        ).merged(default_headers)
        config = cls(
            base_url=URL.parse(base_url),
            headers=headers,
            options=CallOptions(
                retry=retry if retry is not None else RetryPolicy(),
                timeout=as_timeout(timeout),
                max_retries=None if max_retries is NOT_GIVEN else _check_retries(max_retries),
                idempotency_header=idempotency_header,
                request_id_header=request_id_header,
            ),
            auth_header=auth_header,
            auth_scheme=auth_scheme,
            has_api_key=False,
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
    ) -> ClientConfig:
        """The settings of ``with_options``: given values replace, headers merge."""
        options = self.options
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
        json = kwargs.get("json")
        request = build_request(
            method,
            self.base_url,
            path,
            params=kwargs.get("params"),
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
        return request, options

    def describe(self) -> str:
        """A repr body that shows no secret."""
        return f"base_url={str(self.base_url)!r}, api_key={'set' if self.has_api_key else None}"


def _check_retries(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequestError("max_retries must be an int >= 0.")
    return value


def log_attempt(request: Request, attempt: int) -> None:
    """DEBUG: an attempt is about to be sent (no query string, no headers)."""
    url = request.url
    path = url.target.partition("?")[0]
    logger.debug(
        "HTTP %s %s://%s%s attempt %d", request.method, url.scheme, url.host_header, path, attempt
    )


def log_decision(decision: RetryDecision, outcome: str) -> None:
    """DEBUG: what came back and what the call decided."""
    if decision.retry:
        logger.debug(
            "%s: retrying in %.3f s because %s", outcome, decision.delay, decision.reason.value
        )
    else:
        logger.debug("%s: not retrying because %s", outcome, decision.reason.value)


TransportT = TypeVar("TransportT")
SleepT = TypeVar("SleepT")


class Shared(Generic[TransportT, SleepT]):
    """What a client and its ``with_options`` copies share: the pool and the budget."""

    __slots__ = ("budget", "clock", "closed", "rng", "sleep", "transport", "wall_clock")

    def __init__(
        self,
        transport: TransportT,
        *,
        budget: RetryBudget,
        rng: RandomSource,
        clock: Callable[[], float],
        sleep: SleepT,
    ) -> None:
        self.transport = transport
        self.budget = budget
        self.rng = rng
        self.clock = clock
        self.wall_clock = time.time
        self.sleep = sleep
        self.closed = False


class BaseClient(Generic[TransportT, SleepT]):
    """The parts of ``Client`` and ``AsyncClient`` that do not wait."""

    _config: ClientConfig
    _shared: Shared[TransportT, SleepT]
    _owner: bool = True

    def with_options(
        self,
        *,
        base_url: str | NotGiven = NOT_GIVEN,
        api_key: str | NotGiven | None = NOT_GIVEN,
        timeout: Timeout | float | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | NotGiven | None = NOT_GIVEN,
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
