"""``Client``: the blocking client, a short loop around ``sdk_core.Call``."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType

from typing_extensions import Self, Unpack

from sdk_core import (
    NOT_GIVEN,
    APIError,
    Call,
    Completed,
    ConnectError,
    Limits,
    NotGiven,
    RandomSource,
    Response,
    RetryBudget,
    RetryPolicy,
    SendRequest,
    Sleep,
    Timeout,
)

from ._client_base import (
    BaseClient,
    ClientConfig,
    RequestKwargs,
    Shared,
    log_attempt,
    log_decision,
    logger,
)
from ._httpcore import HttpcoreTransport
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE, Transport
from ._tls import CertTypes, VerifyTypes

__all__ = ["Client"]


class Client(BaseClient[Transport, Callable[[float], object]]):
    """A blocking API client with pooling, timeouts, retries and typed errors.

    Safe to share between threads. ``with_options`` returns a client that shares this
    one's pool and retry budget. Every request method raises ``InvalidRequestError``
    before sending for a bad request, an ``APIStatusError`` subclass for an error
    status, or an ``APIConnectionError`` subclass when no usable response arrived;
    each ``APIError`` carries ``attempts``.

    ``rng``, ``clock`` and ``sleep`` replace the random source, the monotonic clock
    and the sleep function, for tests that must not wait.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: Timeout | float | None = Timeout(),  # noqa: B008 - immutable
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        limits: Limits | None = None,
        default_headers: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        *,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        auth_header: str = "Authorization",
        auth_scheme: str | None = "Bearer",
        request_id_header: str = "x-request-id",
        idempotency_header: str | None = "Idempotency-Key",
        rng: RandomSource | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self._config = ClientConfig.create(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            auth_header=auth_header,
            auth_scheme=auth_scheme,
            request_id_header=request_id_header,
            idempotency_header=idempotency_header,
        )
        if transport is None:
            transport = HttpcoreTransport(
                limits=limits, verify=verify, cert=cert, max_response_size=max_response_size
            )
        elif not callable(getattr(transport, "handle_request", None)):
            raise TypeError("Client needs a transport with handle_request(); see AsyncClient.")
        self._shared = Shared(
            transport,
            budget=RetryBudget(lock=threading.Lock()),
            rng=rng if rng is not None else random.Random(),
            clock=clock or time.monotonic,
            sleep=sleep or time.sleep,
        )

    def request(self, method: str, path: str, **kwargs: Unpack[RequestKwargs]) -> Response:
        """Make one API call (with its retries) and return the successful response."""
        request, options = self._config.prepare(method, path, kwargs)
        shared = self._shared
        if shared.closed:
            raise ConnectError("ConnectError: the client is closed.", request=request)
        clock, transport = shared.clock, shared.transport
        call = Call(request, options, now=clock(), rng=shared.rng, budget=shared.budget)
        debug = logger.isEnabledFor(logging.DEBUG)
        while True:
            event = call.next_event()
            if isinstance(event, SendRequest):
                if debug:
                    log_attempt(event.request, call.attempts)
                try:
                    response = transport.handle_request(event.request, event.timeout)
                except APIError as exc:
                    call.receive_error(exc, now=clock())
                    outcome = type(exc).__name__
                else:
                    call.receive_response(response, now=clock(), wall_time=shared.wall_clock())
                    outcome = str(response.status_code)
                if debug:
                    log_decision(call.decisions[-1], outcome)
            elif isinstance(event, Sleep):
                shared.sleep(event.seconds)
            elif isinstance(event, Completed):
                return event.response
            else:
                raise event.error

    def get(self, path: str, **kwargs: Unpack[RequestKwargs]) -> Response:
        """``request("GET", path, ...)``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Unpack[RequestKwargs]) -> Response:
        """``request("POST", path, ...)``."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Unpack[RequestKwargs]) -> Response:
        """``request("PUT", path, ...)``."""
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Unpack[RequestKwargs]) -> Response:
        """``request("PATCH", path, ...)``."""
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Unpack[RequestKwargs]) -> Response:
        """``request("DELETE", path, ...)``."""
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        """Close the pool and the transport, also one passed in (the original client
        only; copies made by ``with_options`` leave that to the original)."""
        if self._owner and not self._shared.closed:
            self._shared.closed = True
            self._shared.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
