# unasync: sdk_transports/_client.py
# unasync: async-only
"""``AsyncClient``: the async client, a short loop around ``sdk_core.Call``.

It waits through anyio, so the same code runs on asyncio and on trio. ``Client``
(sdk_transports/_client.py) is generated from this file by scripts/unasync.py: what only
one of them needs sits in ``# unasync:`` blocks, the rest is the same loop.
"""
# unasync: sync-only
# """``Client``: the blocking client, a short loop around ``sdk_core.Call``, generated
# from sdk_transports/_async_client.py."""
# unasync: end
# unasync-replace: anyio.sleep -> time.sleep
# unasync-replace: "clock or loop_time" -> "clock or time.monotonic"
# unasync-replace: "asynchronous=True" -> "asynchronous=False"
# unasync-replace: "RetryBudget()" -> "RetryBudget(lock=threading.Lock())"
# unasync-replace: "handle_async_request()." -> "handle_request(); see AsyncClient."
# unasync-replace: "\n        Cancellation releases the attempt's connection and propagates." -> ""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING, NoReturn

import anyio
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
    deadline_exceeded,
)

from ._async_sockets import AsyncSocketTransport
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
from ._loop_clock import loop_time
from ._protocols import DEFAULT_MAX_RESPONSE_SIZE, AsyncResponseStream, AsyncTransport
from ._streaming import AsyncStreamResponse, BufferedAsyncStream, read_whole_async
from ._tls import CertTypes, VerifyTypes

# unasync: sync-only
# import threading
# import time
# unasync: end

if TYPE_CHECKING:
    from sdk_core import Paging

    from ._async_paging import AsyncPaginator

__all__ = ["AsyncClient"]

AsyncSleeper = Callable[[float], Awaitable[object]]
#: How a call's driver makes one attempt: a transport's ``handle_async_request``, or a
#: streamed call's opener.
AsyncAttempt = Callable[[Request, Timeout], Awaitable[Response]]
AsyncOpener = Callable[[Request, Timeout], Awaitable[tuple[Response, AsyncResponseStream]]]


class AsyncClient(BaseClient[AsyncTransport, AsyncSleeper]):
    # unasync: async-only
    """An async API client for asyncio and trio, with the surface of ``Client``.

    Request methods raise as ``Client``'s do. ``Timeout(total=...)`` is enforced as a
    hard bound: an attempt still running at the deadline is cancelled and the call
    raises ``DeadlineExceeded``. When the calling task is cancelled, the attempt's
    connection is released and the cancellation propagates; no retry follows.

    ``content`` may also be an async iterable of bytes; a sync iterable or a binary
    file is read in the calling task as the body goes out, one step (one read of 64
    KiB) at a time, so the transport is only ever handed bytes or an async iterable.

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

    ``rng``, ``clock`` and ``sleep`` replace the random source, the clock (default:
    ``anyio.current_time``) and the sleep function, for tests that must not wait.
    """

    # unasync: sync-only
    # """A blocking API client with pooling, timeouts, retries and typed errors.
    #
    # Safe to share between threads. ``with_options`` returns a client that shares this
    # one's pool and retry budget. Every request method raises ``InvalidRequestError``
    # before sending for a bad request (``TypeError`` for a keyword it does not take,
    # naming the closest one), an ``APIStatusError`` subclass for an error status, or an
    # ``APIConnectionError`` subclass when no usable response arrived; each ``APIError``
    # carries ``attempts``. The keywords are those of ``RequestKwargs``.
    # ``Timeout(total=...)`` caps each attempt's timeouts (the transport bounds the whole
    # exchange by what is left) and every sleep between attempts.
    #
    # Redirects (301, 302, 303, 307, 308) are followed up to ``max_redirects`` times
    # (``follow_redirects=False`` or 0 returns the 3xx); one that cannot be followed
    # raises ``RedirectError``, a chain that is too long ``TooManyRedirects``.
    #
    # Secrets stay out of reprs, error messages and log lines: header values show only
    # for allowlisted names, query values only for allowlisted parameters.
    # ``loggable_headers`` and ``loggable_query_params`` extend those allowlists;
    # ``sensitive_headers`` are never shown (the auth header always is one). An unclosed
    # client that made its own transport warns with ``ResourceWarning`` when collected.
    #
    # The keyword-only ``settings`` are those of ``ClientSettings`` (auth header and
    # scheme, request-id and idempotency headers, redirects, redaction allowlists).
    #
    # ``rng``, ``clock`` and ``sleep`` replace the random source, the monotonic clock
    # and the sleep function, for tests that must not wait.
    # """
    # unasync: end

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: Timeout | float | None = Timeout(),  # noqa: B008 - immutable
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        limits: Limits | None = None,
        default_headers: Mapping[str, str | None] | None = None,
        transport: AsyncTransport | None = None,
        *,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        rng: RandomSource | None = None,
        clock: Callable[[], float] | None = None,
        sleep: AsyncSleeper | None = None,
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
            asynchronous=True,
            **settings,
        )
        owns_transport = transport is None
        if transport is None:
            transport = AsyncSocketTransport(
                limits=limits, verify=verify, cert=cert, max_response_size=max_response_size
            )
        elif not callable(getattr(transport, "handle_async_request", None)):
            raise TypeError("AsyncClient needs a transport with handle_async_request().")
        self._setup(
            config,
            transport,
            owns_transport=owns_transport,
            budget=RetryBudget(),
            rng=rng,
            clock=clock or loop_time,
            sleep=sleep or anyio.sleep,
            max_response_size=max_response_size,
        )

    async def request(self, method: str, path: str, **kwargs: Unpack[RequestKwargs]) -> Response:
        """Make one API call (with its retries) and return the successful response.
        Cancellation releases the attempt's connection and propagates."""
        request, options = self._config.prepare(method, path, kwargs)
        attempt = self._shared.transport.handle_async_request
        response, _ = await self._drive(request, options, attempt)
        return response

    async def _drive(
        self, request: Request, options: CallOptions, attempt: AsyncAttempt
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
        # unasync: async-only
        deadline, total = call.deadline, options.timeout.total
        # unasync: end
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
                    # unasync: async-only
                    if deadline is None or total is None:
                        response = await attempt(event.request, event.timeout)
                    else:  # this driver's one owner of the deadline: the attempt is cut at it
                        with anyio.move_on_after(max(deadline - clock(), 0.0)) as scope:
                            response = await attempt(event.request, event.timeout)
                        if scope.cancelled_caught:
                            raise deadline_exceeded(event.request, total)
                    # unasync: sync-only
                    # response = attempt(event.request, event.timeout)
                    # unasync: end
                except APIError as exc:
                    call.receive_error(exc, now=clock())
                    result: Response | APIError = exc
                else:
                    call.receive_response(response, now=clock(), wall_time=shared.wall_clock())
                    result = response
                if debug or hooks:
                    observe(debug, hooks, event.request, call, result, clock() - sent)
            elif isinstance(event, Sleep):
                await shared.sleep(event.seconds)
            elif isinstance(event, Completed):
                return event.response, call.deadline
            else:
                raise event.error

    def stream(
        self, method: str, path: str, **kwargs: Unpack[RequestKwargs]
    ) -> AbstractAsyncContextManager[AsyncStreamResponse]:
        """Make one API call (with its retries) on entering ``async with
        client.stream(...) as response``, which gives the successful response as soon as
        its head arrives; the end of the block closes it and gives the connection back.
        Read the body with ``aiter_bytes``, ``aiter_text``, ``aiter_lines``,
        ``aiter_events`` or ``aread``.

        Retries, redirects and error statuses work as for ``request`` (an error body is
        read whole, within ``max_response_size``, to build the error), and are raised
        by the ``async with``. ``Timeout(total=...)`` bounds the body's reads too. A
        transport without ``open_async_stream`` reads the body whole and hands it over
        in pieces. A bad request raises ``InvalidRequestError`` (``TypeError`` for an
        unknown keyword) here, before the block.
        Cancellation releases the attempt's connection and propagates."""
        request, options = self._config.prepare(method, path, kwargs)
        return _StreamCall(self, request, options)

    async def _open_stream(self, request: Request, options: CallOptions) -> AsyncStreamResponse:
        """Run a streamed call: the 2xx response whose body is still to be read."""
        shared = self._shared
        transport = shared.transport
        opener: AsyncOpener | None = getattr(transport, "open_async_stream", None)
        clock = shared.clock
        held: list[AsyncResponseStream] = []  # the body of the last 2xx head, unread

        async def attempt(request: Request, timeout: Timeout) -> Response:
            total = timeout.total  # what is left of the call's: it bounds the error body too
            until = None if total is None else clock() + total
            while held:  # a 2xx the call did not accept (x-should-retry): dropped
                await held.pop().aclose()
            head: Response
            body: AsyncResponseStream
            if opener is not None:
                head, body = await opener(request, timeout)
            else:
                head = await transport.handle_async_request(request, timeout)
                body = BufferedAsyncStream(head.content)
            if not head.is_success:  # the call needs the body: an error, or a redirect
                max_size = shared.max_response_size
                return await read_whole_async(
                    head, body, max_size=max_size, timeout=timeout.read, until=until, clock=clock
                )
            held.append(body)
            return head

        try:
            response, deadline = await self._drive(request, options, attempt)
        except BaseException:
            while held:  # failed or interrupted between a head and the hand-over
                await held.pop().aclose()
            raise
        return AsyncStreamResponse(
            response,
            held.pop() if held else BufferedAsyncStream(response.content),
            read_timeout=options.timeout.read,
            deadline=deadline,
            clock=shared.clock,
            max_size=shared.max_response_size,
            total=options.timeout.total,
        )

    async def get(self, path: str, **kwargs: Unpack[RequestKwargs]) -> Response:
        """``await request("GET", path, ...)``."""
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Unpack[RequestKwargs]) -> Response:
        """``await request("POST", path, ...)``."""
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Unpack[RequestKwargs]) -> Response:
        """``await request("PUT", path, ...)``."""
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Unpack[RequestKwargs]) -> Response:
        """``await request("PATCH", path, ...)``."""
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Unpack[RequestKwargs]) -> Response:
        """``await request("DELETE", path, ...)``."""
        return await self.request("DELETE", path, **kwargs)

    async def aclose(self) -> None:
        """Close the pool and the transport, also one passed in (the original client
        only; copies made by ``with_options`` leave that to the original)."""
        if self._owner and not self._shared.closed:
            self._shared.closed = True
            # unasync: async-only
            with anyio.CancelScope(shield=True):  # a cancelled task still closes the pool
                await self._shared.transport.aclose()
            # unasync: sync-only
            # self._shared.transport.close()
            # unasync: end

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def paginate(
        self,
        method: str,
        path: str,
        paging: Paging,
        *,
        max_pages: int | None = None,
        **kwargs: Unpack[RequestKwargs],
    ) -> AsyncPaginator:
        """The items of every page of a listing, read with ``paging`` (``CursorPaging``,
        ``NextCursorPaging``, ``OffsetPaging``, ``LinkHeaderPaging``; iterate with
        ``async for``); ``.pages()`` gives whole pages. Each page is one ``request``
        call, so it behaves as one. Nothing is sent until iterated; see
        ``AsyncPaginator``. Raises ``InvalidRequestError`` (and ``TypeError`` for an
        unknown keyword) here."""
        check_request_keywords(kwargs, "max_pages")
        from ._async_paging import AsyncPaginator  # loaded by the first paginate call

        return AsyncPaginator(
            self,
            method,
            path,
            paging,
            base_url=self._config.base_url,
            max_pages=max_pages,
            kwargs=kwargs,
        )


class _StreamCall(AbstractAsyncContextManager[AsyncStreamResponse]):
    """What ``AsyncClient.stream`` returns: entering ``async with`` makes the call, the
    end of the block closes the response. Used any other way, it raises an error that
    says so."""

    __slots__ = ("_call", "_client", "_response")

    def __init__(self, client: AsyncClient, request: Request, options: CallOptions) -> None:
        self._client = client
        self._call: tuple[Request, CallOptions] | None = (request, options)
        self._response: AsyncStreamResponse | None = None

    async def __aenter__(self) -> AsyncStreamResponse:
        call = self._call
        if call is None:
            raise RuntimeError("A client.stream(...) call can be entered only once.")
        self._call = None
        self._response = await self._client._open_stream(*call)
        return self._response

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._response is not None:
            await self._response.aclose()

    def __getattr__(self, name: str) -> NoReturn:
        raise AttributeError(
            f"client.stream(...) has no {name!r}: it makes the call when entered, as in "
            "``async with client.stream(...) as response``; read the response there."
        )
