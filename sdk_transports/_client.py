"""``Client``: the blocking client, a short loop around ``sdk_core.Call``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING

from typing_extensions import Self, Unpack

from sdk_core import (
    NOT_GIVEN,
    APIError,
    Call,
    CallOptions,
    Completed,
    Limits,
    NotGiven,
    RandomSource,
    Request,
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
    ClientSettings,
    RequestKwargs,
    check_limits,
    check_request_keywords,
    check_settings,
    check_size,
    log_attempt,
    logger,
    observe,
)
from ._lifecycle import closed_client_error, current_pid
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE, ResponseStream, Transport
from ._sockets import SocketTransport
from ._streaming import BufferedStream, StreamResponse, read_whole
from ._tls import CertTypes, VerifyTypes

if TYPE_CHECKING:
    from sdk_core import Paging

    from ._paging import Paginator

__all__ = ["Client"]

#: How a call's driver makes one attempt: a transport's ``handle_request``, or a
#: streamed call's opener.
Attempt = Callable[[Request, Timeout], Response]


class Client(BaseClient[Transport, Callable[[float], object]]):
    """A blocking API client with pooling, timeouts, retries and typed errors.

    Safe to share between threads. ``with_options`` returns a client that shares this
    one's pool and retry budget. Every request method raises ``InvalidRequestError``
    before sending for a bad request (``TypeError`` for a keyword it does not take,
    naming the closest one), an ``APIStatusError`` subclass for an error status, or an
    ``APIConnectionError`` subclass when no usable response arrived; each ``APIError``
    carries ``attempts``. The keywords are those of ``RequestKwargs``.

    Redirects (301, 302, 303, 307, 308) are followed up to ``max_redirects`` times
    (``follow_redirects=False`` or 0 returns the 3xx); one that cannot be followed
    raises ``RedirectError``, a chain that is too long ``TooManyRedirects``.

    Secrets stay out of reprs, error messages and log lines: header values show only
    for allowlisted names, query values only for allowlisted parameters.
    ``loggable_headers`` and ``loggable_query_params`` extend those allowlists;
    ``sensitive_headers`` are never shown (the auth header always is one). An unclosed
    client that made its own transport warns with ``ResourceWarning`` when collected.

    The keyword-only ``settings`` are those of ``ClientSettings`` (auth header and
    scheme, request-id and idempotency headers, redirects, redaction allowlists).

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
        default_headers: Mapping[str, str | None] | None = None,
        transport: Transport | None = None,
        *,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        rng: RandomSource | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], object] | None = None,
        **settings: Unpack[ClientSettings],
    ) -> None:
        check_settings(self, settings)
        check_limits(limits)
        check_size("max_response_size", max_response_size)
        config = ClientConfig.create(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            asynchronous=False,
            **settings,
        )
        owns_transport = transport is None
        if transport is None:
            transport = SocketTransport(
                limits=limits, verify=verify, cert=cert, max_response_size=max_response_size
            )
        elif not callable(getattr(transport, "handle_request", None)):
            raise TypeError("Client needs a transport with handle_request(); see AsyncClient.")
        self._setup(
            config,
            transport,
            owns_transport=owns_transport,
            budget=RetryBudget(lock=threading.Lock()),
            rng=rng,
            clock=clock or time.monotonic,
            sleep=sleep or time.sleep,
            max_response_size=max_response_size,
        )

    def request(self, method: str, path: str, **kwargs: Unpack[RequestKwargs]) -> Response:
        """Make one API call (with its retries) and return the successful response."""
        request, options = self._config.prepare(method, path, kwargs)
        return self._drive(request, options, self._shared.transport.handle_request)[0]

    def _drive(
        self, request: Request, options: CallOptions, attempt: Attempt
    ) -> tuple[Response, float | None]:
        """Run ``request``'s call, each attempt made by ``attempt``; the response it
        completed with and the call's deadline (None: no ``Timeout.total``)."""
        shared = self._shared
        if shared.closed:
            raise closed_client_error(self)
        if shared.pid != current_pid():  # in a forked child (the transport resets its pool)
            shared.after_fork()
        clock = shared.clock
        call = Call(request, options, now=clock(), rng=shared.rng, budget=shared.budget)
        debug = logger.isEnabledFor(logging.DEBUG)
        hooks = self._config.hooks
        sent = 0.0
        while True:
            event = call.next_event()
            if isinstance(event, SendRequest):
                if debug or hooks:
                    sent = clock()
                    if debug:
                        log_attempt(event.request, call.attempts)
                try:
                    response = attempt(event.request, event.timeout)
                except APIError as exc:
                    call.receive_error(exc, now=clock())
                    result: Response | APIError = exc
                else:
                    call.receive_response(response, now=clock(), wall_time=shared.wall_clock())
                    result = response
                if debug or hooks:
                    observe(debug, hooks, event.request, call, result, clock() - sent)
            elif isinstance(event, Sleep):
                shared.sleep(event.seconds)
            elif isinstance(event, Completed):
                return event.response, call.deadline
            else:
                raise event.error

    def stream(self, method: str, path: str, **kwargs: Unpack[RequestKwargs]) -> StreamResponse:
        """Make one API call (with its retries) and return the successful response as
        soon as its head arrives; read the body from the ``StreamResponse``, in a
        ``with`` block, which gives the connection back.

        Retries, redirects and error statuses work as for ``request`` (an error body is
        read whole, within ``max_response_size``, to build the error). A transport
        without ``open_stream`` reads the body whole and hands it over in pieces.
        ``Timeout(total=...)`` bounds the body's reads too.
        """
        request, options = self._config.prepare(method, path, kwargs)
        shared = self._shared
        transport = shared.transport
        opener: Callable[[Request, Timeout], tuple[Response, ResponseStream]] | None
        opener = getattr(transport, "open_stream", None)
        held: list[ResponseStream] = []  # the body of the last 2xx head, unread

        def attempt(request: Request, timeout: Timeout) -> Response:
            while held:  # a 2xx the call did not accept (x-should-retry): dropped
                held.pop().close()
            head: Response
            body: ResponseStream
            if opener is not None:
                head, body = opener(request, timeout)
            else:
                head = transport.handle_request(request, timeout)
                body = BufferedStream(head.content)
            if not head.is_success:  # the call needs the body: an error, or a redirect
                max_size = shared.max_response_size
                return read_whole(head, body, max_size=max_size, timeout=timeout.read)
            held.append(body)
            return head

        try:
            response, deadline = self._drive(request, options, attempt)
        except BaseException:
            while held:  # failed or interrupted between a head and the hand-over
                held.pop().close()
            raise
        return StreamResponse(
            response,
            held.pop() if held else BufferedStream(response.content),
            read_timeout=options.timeout.read,
            deadline=deadline,
            clock=shared.clock,
            max_size=shared.max_response_size,
            total=options.timeout.total,
        )

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

    def paginate(
        self,
        method: str,
        path: str,
        paging: Paging,
        *,
        max_pages: int | None = None,
        **kwargs: Unpack[RequestKwargs],
    ) -> Paginator:
        """The items of every page of a listing, read with ``paging`` (``CursorPaging``,
        ``NextCursorPaging``, ``OffsetPaging``, ``LinkHeaderPaging``); ``.pages()`` gives
        whole pages. Each page is one ``request`` call. Nothing is sent until iterated;
        see ``sdk_transports._paging.Paginator``. Raises ``InvalidRequestError`` (and
        ``TypeError`` for an unknown keyword) here."""
        check_request_keywords(kwargs, "max_pages")
        from ._paging import Paginator  # loaded by the first paginate call

        return Paginator(self, method, path, paging, max_pages=max_pages, kwargs=kwargs)
