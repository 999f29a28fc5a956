"""Configuration values: ``Timeout``, ``Limits``, ``RetryPolicy`` and ``RetryBudget``."""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Literal

from ._error_base import InvalidRequestError
from ._sentinel import NOT_GIVEN, NotGiven

__all__ = ["MAX_TIMEOUT", "Limits", "RetryBudget", "RetryPolicy", "Timeout", "wait_bound"]

#: The longest wait a ``Timeout`` phase or a retry delay holds, in seconds (about 11.6
#: days); a longer finite value is clamped to it. Every wait primitive the transports use
#: takes it: a blocking socket's timeout wraps around past 2**31 - 1 milliseconds (a
#: timeout of 4,294,967.8 s fires after 0.5 s), ``time.sleep`` and lock waits overflow
#: past about 9.2e9 s, and Windows' lock waits past 4,294,967 s.
MAX_TIMEOUT = 1_000_000.0


def _shown(value: float) -> str:
    """A refused (negative or NaN) ``value`` for a message: an int too long to print
    (its repr may pass the int-to-str limit) is described instead."""
    if isinstance(value, int) and value.bit_length() > 64:
        return "a negative int of over 64 bits"
    return repr(value)


def _check_seconds(name: str, value: float | None) -> float | None:
    """``value`` as the seconds of the ``Timeout`` field ``name`` (None: no limit)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds or None.")
    if value != value or value < 0:  # NaN or negative; an int is compared as it is, unconverted
        raise InvalidRequestError(f"{name} must be >= 0, got {_shown(value)}.")
    if value >= MAX_TIMEOUT:
        return None if value == math.inf else MAX_TIMEOUT
    return float(value)


@dataclass(frozen=True, slots=True, init=False)
class Timeout:
    """Per-phase timeouts in seconds (None means no limit) and a whole-call ``total``.

    ``Timeout(10.0)`` sets connect, read, write and pool to 10 s; keywords override it.
    ``total`` bounds every attempt and every backoff sleep of one call together.
    ``math.inf`` is no limit, as None is; a finite value over ``MAX_TIMEOUT`` (about
    11.6 days) is clamped to it. Raises ``InvalidRequestError`` (a ``ValueError``) for
    a negative or NaN value and ``TypeError`` for one that is not a number.
    """

    connect: float | None
    read: float | None
    write: float | None
    pool: float | None
    total: float | None

    def __init__(
        self,
        timeout: float | NotGiven | None = NOT_GIVEN,
        *,
        connect: float | NotGiven | None = NOT_GIVEN,
        read: float | NotGiven | None = NOT_GIVEN,
        write: float | NotGiven | None = NOT_GIVEN,
        pool: float | NotGiven | None = NOT_GIVEN,
        total: float | None = None,
    ) -> None:
        c: float | None
        r: float | None
        w: float | None
        p: float | None
        if timeout is NOT_GIVEN:
            c, r, w, p = 5.0, 60.0, 60.0, 10.0
        else:
            c = r = w = p = _check_seconds("Timeout", timeout)
        check, given, setter = _check_seconds, NOT_GIVEN, object.__setattr__
        setter(self, "connect", c if connect is given else check("Timeout.connect", connect))
        setter(self, "read", r if read is given else check("Timeout.read", read))
        setter(self, "write", w if write is given else check("Timeout.write", write))
        setter(self, "pool", p if pool is given else check("Timeout.pool", pool))
        setter(self, "total", None if total is None else check("Timeout.total", total))

    @classmethod
    def of(cls, value: Timeout | float | None) -> Timeout:
        """``value`` as a ``Timeout``: a Timeout as it is, a number of seconds for every
        phase, or None for no limit, as the clients' ``timeout=`` takes it. Raises
        ``InvalidRequestError`` naming ``timeout`` for anything else."""
        if isinstance(value, Timeout):
            return value
        try:
            return cls(value)
        except (TypeError, ValueError):
            pass
        given: object = value
        shown = _shown(given) if isinstance(given, int | float) else type(given).__name__
        raise InvalidRequestError(
            f"timeout must be a Timeout, a number of seconds >= 0 or None, not {shown}."
        )

    def capped(self, remaining: float | None) -> Timeout:
        """The timeouts of an attempt that must end within ``remaining`` seconds (None:
        these, as they are): each phase no longer than that, and ``total`` set to it,
        which a transport reads as the bound on the whole exchange."""
        if remaining is None:
            return self
        remaining = max(remaining, 0.0)

        def cap(value: float | None) -> float:
            return remaining if value is None else min(value, remaining)

        return Timeout(
            connect=cap(self.connect),
            read=cap(self.read),
            write=cap(self.write),
            pool=cap(self.pool),
            total=remaining,
        )


def wait_bound(timeout: float | None, end: float | None, now: float) -> float | None:
    """How long the next wait may take: ``timeout`` (None: unbounded), or what is left
    until ``end`` (a time on the clock ``now`` was read from) when that is less. Zero or
    less means ``end`` has passed. What ``Timeout.capped`` does for an attempt's phases,
    for each wait inside one."""
    if end is None:
        return timeout
    left = end - now
    return left if timeout is None or left < timeout else timeout


@dataclass(frozen=True, slots=True)
class Limits:
    """Connection pool bounds. ``keepalive_expiry`` is seconds an idle connection is kept;
    ``max_keepalive_connections=0`` closes every connection after its response."""

    max_connections: int | None = 100
    max_keepalive_connections: int | None = 20
    keepalive_expiry: float | None = 5.0

    def __post_init__(self) -> None:
        for name, least in (("max_connections", 1), ("max_keepalive_connections", 0)):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < least
            ):
                raise ValueError(f"Limits.{name} must be an int >= {least} or None.")
        if self.keepalive_expiry is not None and not self.keepalive_expiry >= 0:
            raise ValueError("Limits.keepalive_expiry must be >= 0 or None.")


DEFAULT_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how long to wait before another attempt.

    The wait before retry ``n`` (0-based) is ``initial_delay * multiplier**n`` capped at
    ``max_delay``, then jittered: ``"proportional"`` multiplies by U(0.75, 1), ``"full"``
    draws from U(0, d), ``"none"`` keeps it. A server hint (Retry-After, retry-after-ms)
    replaces the backoff; one longer than ``max_retry_after`` ends the retries. A delay
    over ``MAX_TIMEOUT`` is clamped to it.
    The decision itself is ``sdk_core.decide_retry`` (see ``_retry.py``).
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    multiplier: float = 2.0
    jitter: Literal["proportional", "full", "none"] = "proportional"
    retry_statuses: frozenset[int] = field(default=DEFAULT_RETRY_STATUSES)
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise TypeError("RetryPolicy.max_retries must be an int.")
        if self.max_retries < 0:
            raise ValueError("RetryPolicy.max_retries must be >= 0.")
        for name in ("initial_delay", "max_delay", "max_retry_after"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value < math.inf):
                raise ValueError(f"RetryPolicy.{name} must be a finite number >= 0.")
            if value > MAX_TIMEOUT:  # longer waits overflow the sleep functions
                object.__setattr__(self, name, MAX_TIMEOUT)
        if not (isinstance(self.multiplier, int | float) and 1 <= self.multiplier < math.inf):
            raise ValueError("RetryPolicy.multiplier must be a finite number >= 1.")
        if self.jitter not in ("proportional", "full", "none"):
            raise ValueError("RetryPolicy.jitter must be 'proportional', 'full' or 'none'.")
        object.__setattr__(self, "retry_statuses", frozenset(self.retry_statuses))

    def backoff(self, retry_index: int, rng_value: float) -> float:
        """The jittered wait before retry ``retry_index``, with ``rng_value`` in [0, 1)."""
        if self.initial_delay == 0:
            delay = 0.0
        else:
            try:
                delay = self.initial_delay * float(self.multiplier) ** max(retry_index, 0)
            except OverflowError:
                delay = math.inf
            delay = min(delay, self.max_delay)
        if not 0.0 <= rng_value <= 1.0:  # out of range or NaN from a faulty source
            rng_value = 1.0 if not rng_value < 0.0 else 0.0
        if self.jitter == "proportional":
            delay *= 0.75 + 0.25 * rng_value
        elif self.jitter == "full":
            delay *= rng_value
        return min(max(delay, 0.0), self.max_delay)


class RetryBudget:
    """A token bucket shared by a client's calls, as in botocore's standard retry mode.

    A retry takes ``retry_cost`` tokens (``timeout_cost`` after a timeout); a success
    gives back ``success_refund``, up to ``capacity``. An empty bucket means no retry.
    ``lock`` is any context manager (a ``threading.Lock`` from a threaded driver) held
    around each update; the core itself never creates one.
    """

    __slots__ = ("_lock", "_tokens", "capacity", "retry_cost", "success_refund", "timeout_cost")

    def __init__(
        self,
        capacity: int = 500,
        *,
        retry_cost: int = 5,
        timeout_cost: int = 10,
        success_refund: int = 1,
        lock: AbstractContextManager[object] | None = None,
    ) -> None:
        if capacity < 0 or retry_cost < 0 or timeout_cost < 0 or success_refund < 0:
            raise ValueError("RetryBudget amounts must be >= 0.")
        self.capacity = capacity
        self.retry_cost = retry_cost
        self.timeout_cost = timeout_cost
        self.success_refund = success_refund
        self._tokens = capacity
        self._lock: AbstractContextManager[object] = lock if lock is not None else nullcontext()

    @property
    def tokens(self) -> int:
        """Tokens left."""
        return self._tokens

    def try_acquire(self, *, after_timeout: bool = False) -> bool:
        """Take the cost of one retry; False (and nothing taken) when too few are left."""
        cost = self.timeout_cost if after_timeout else self.retry_cost
        with self._lock:
            if self._tokens < cost:
                return False
            self._tokens -= cost
            return True

    def record_success(self) -> None:
        """Give back ``success_refund`` tokens, never past ``capacity``."""
        # The usual case, a full bucket, skips the lock: at the moment of this read a
        # refund would change nothing, whatever other threads do next.
        if self._tokens >= self.capacity:
            return
        with self._lock:
            self._tokens = min(self.capacity, self._tokens + self.success_refund)

    def __repr__(self) -> str:
        return f"RetryBudget(tokens={self._tokens}/{self.capacity})"
