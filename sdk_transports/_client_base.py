"""What ``Client`` and ``AsyncClient`` share beside their driver loops: the
configuration with what only the runtime knows, logging, fork handling and the state a
client shares with its ``with_options`` copies.

The pure part of the configuration (checking settings, ``with_options``, building each
call's request) is ``sdk_core``'s ``ClientConfig``; the names users import from here
(``RequestKwargs``, ``ClientSettings``, ``ClientOptions``, ``ContentTypes``) live there too.
"""

from __future__ import annotations

import logging
import platform
import random
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from typing_extensions import Required, Self, Unpack

from sdk_core import (
    APIError,
    Call,
    NotGiven,
    PoolStatistics,
    RandomSource,
    RedirectDecision,
    Request,
    Response,
    RetryBudget,
    RetryDecision,
    RetryPolicy,
    Timeout,
    __version__,
)
from sdk_core.lowlevel import (
    CLIENT_OPTION_KEYWORDS,
    REQUEST_KEYWORDS,
    AttemptHook,
    ClientOptions,
    ClientSettings,
    ContentTypes,
    RequestKwargs,
    check_bool,
    check_limits,
    check_settings,
    check_size,
    unexpected_keyword,
)
from sdk_core.lowlevel import ClientConfig as CoreClientConfig

from ._content import ASYNC_CONTENT, CONTENT_CHUNK, SYNC_CONTENT
from ._lifecycle import current_pid
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE

__all__ = [
    "CONTENT_CHUNK",
    "USER_AGENT",
    "AttemptHook",
    "BaseClient",
    "ClientConfig",
    "ClientOptions",
    "ClientSettings",
    "ContentTypes",
    "RequestKwargs",
    "Shared",
    "check_bool",
    "check_limits",
    "check_request_keywords",
    "check_settings",
    "check_size",
    "log_attempt",
    "log_decision",
    "logger",
    "observe",
    "unexpected_keyword",
]

logger = logging.getLogger("sdk_transports")

USER_AGENT = f"sdk-core/{__version__} Python/{platform.python_version()}"

#: The client methods whose callers a misspelt request keyword is reported to.
_ENTRY_METHODS = frozenset(
    {"request", "get", "post", "put", "patch", "delete", "stream", "paginate"}
)

_Config = TypeVar("_Config", bound="ClientConfig")


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
    if not REQUEST_KEYWORDS.issuperset(kwargs):
        raise unexpected_keyword(kwargs, REQUEST_KEYWORDS, _entry_point(), candidates)


class _CreateKwargs(ClientSettings, total=False):
    """What the clients pass to ``ClientConfig.create`` besides ``asynchronous``."""

    base_url: Required[str]
    api_key: str | None
    timeout: Timeout | float | None
    max_retries: int | NotGiven
    retry: RetryPolicy | None
    default_headers: Mapping[str, str | None] | None


class ClientConfig(CoreClientConfig):
    """``sdk_core``'s ``ClientConfig`` with what only the runtime gives: the Python
    version in the User-Agent, content files read in pieces, and the client method a
    misspelt call keyword came in by."""

    __slots__ = ()

    @classmethod
    def create(  # type: ignore[override]  # it fills in content, user_agent and caller
        cls: type[_Config], *, asynchronous: bool = False, **settings: Unpack[_CreateKwargs]
    ) -> _Config:
        """``sdk_core.ClientConfig.create`` for ``Client`` (or, ``asynchronous``,
        ``AsyncClient``). Raises ``InvalidRequestError`` for a bad value."""
        return super().create(
            content=ASYNC_CONTENT if asynchronous else SYNC_CONTENT,
            user_agent=USER_AGENT,
            caller=_entry_point,
            **settings,
        )


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
        from sdk_core.lowlevel import attempt_record  # loaded by the first hooked call

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
        if not CLIENT_OPTION_KEYWORDS.issuperset(options):
            raise unexpected_keyword(
                options, CLIENT_OPTION_KEYWORDS, f"{type(self).__name__}.with_options"
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
