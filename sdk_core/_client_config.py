"""A client's configuration: its settings checked and combined once (``create``), changed
by ``with_options`` (``derive``), and applied to each call (``prepare``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ._build import request_for
from ._call import CallOptions
from ._checks import (
    check_auth_scheme,
    check_base_url,
    check_bool,
    check_header_name,
    check_idempotency_key,
    check_retry_policy,
    check_size,
)
from ._config import RetryPolicy, Timeout
from ._content import ContentAdapter
from ._decoding import supported_encodings
from ._error_base import InvalidRequestError
from ._headers import Headers
from ._models import Request
from ._options import (
    CALL_OPTION_KEYWORDS,
    REQUEST_KEYWORDS,
    AttemptHook,
    ClientOptions,
    RequestKwargs,
    unexpected_keyword,
)
from ._redact import DEFAULT_REDACTION, Redaction
from ._sentinel import NOT_GIVEN, NotGiven
from ._url import URL, QueryParamTypes, build_url
from ._version import __version__

__all__ = ["DEFAULT_USER_AGENT", "ClientConfig"]

#: The User-Agent sent when the caller names none (``sdk_transports`` adds the Python
#: version, which the core does not read).
DEFAULT_USER_AGENT = f"sdk-core/{__version__}"

#: How many URLs built from a path without params a config keeps.
URL_CACHE_SIZE = 256

_Config = TypeVar("_Config", bound="ClientConfig")


def _request_method() -> str:
    return "request"


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Everything a client applies to each call; ``with_options`` derives a new one.

    ``content`` turns a call's ``content=`` into a body; ``caller`` names the method a
    misspelt call keyword was passed to, for its ``TypeError``.
    """

    base_url: URL
    headers: Headers
    options: CallOptions
    auth_header: str | None
    auth_scheme: str | None
    has_api_key: bool
    content: ContentAdapter
    hooks: tuple[AttemptHook, ...] = ()
    caller: Callable[[], str] = field(default=_request_method, repr=False, compare=False)
    #: URLs built from ``base_url`` and a path without params: a path is usually one of a
    #: few, and a URL is immutable. Emptied when it grows past ``URL_CACHE_SIZE``.
    urls: dict[str, URL] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def create(
        cls: type[_Config],
        *,
        base_url: str,
        content: ContentAdapter,
        api_key: str | None = None,
        timeout: Timeout | float | None = Timeout(),  # noqa: B008 - immutable
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        default_headers: Mapping[str, str | None] | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        caller: Callable[[], str] = _request_method,
        auth_header: str | None = "Authorization",
        auth_scheme: str | None = "Bearer",
        request_id_header: str = "x-request-id",
        idempotency_header: str | None = "Idempotency-Key",
        follow_redirects: bool = True,
        max_redirects: int = 5,
        loggable_headers: Iterable[str] = (),
        loggable_query_params: Iterable[str] = (),
        sensitive_headers: Iterable[str] = (),
        hooks: Iterable[AttemptHook] = (),
    ) -> _Config:
        """Check and combine a client's settings (see ``ClientSettings``). Raises
        ``InvalidRequestError`` for a bad value."""
        check_base_url(base_url)
        check_header_name("auth_header", auth_header, optional=True)
        check_auth_scheme(auth_scheme)
        check_header_name("request_id_header", request_id_header, optional=False)
        check_header_name("idempotency_header", idempotency_header, optional=True)
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
                    "User-Agent": user_agent,
                }
            )
            .with_redaction(redaction)
            .merged(default_headers)
        )
        config = cls(
            base_url=URL.parse(base_url),
            headers=headers,
            options=CallOptions(
                retry=check_retry_policy(retry),
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
            content=content,
            hooks=hooks,
            caller=caller,
        )
        return config.with_api_key(api_key, auth_scheme)

    def with_api_key(
        self: _Config, api_key: str | None, auth_scheme: str | None = "Bearer"
    ) -> _Config:
        """A copy that sends ``api_key`` in the auth header (None removes it). Raises
        ``InvalidRequestError``, without the key in its message, for a bad key."""
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

    def derive(self: _Config, options: ClientOptions) -> _Config:
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
            config = replace(config, base_url=URL.parse(check_base_url(base_url)))
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
        if not REQUEST_KEYWORDS.issuperset(kwargs):
            raise unexpected_keyword(kwargs, REQUEST_KEYWORDS, self.caller())
        json = kwargs.get("json")
        params = kwargs.get("params")
        if url is None or params is not None:
            url = self._url(path, params)
        content = kwargs.get("content")
        if content is not None and type(content) is not bytes:
            content = self.content.body(content)
        request = request_for(
            method,
            url,
            headers=kwargs.get("headers"),
            content=content,
            default_headers=self.headers,
            **({"json": json} if json is not None else {}),
        )
        if CALL_OPTION_KEYWORDS.isdisjoint(kwargs):
            return request, self.options
        return request, self.call_options(kwargs)

    def call_options(self, kwargs: RequestKwargs) -> CallOptions:
        """The client's call options with a call's ``CALL_OPTION_KEYWORDS`` applied: None
        (and NOT_GIVEN) keep the client's, but for ``timeout``, where None is no limit.
        Raises ``InvalidRequestError`` for a bad value."""
        changes: dict[str, Any] = {}
        value: Any = kwargs.get("timeout", NOT_GIVEN)
        if value is not NOT_GIVEN:
            changes["timeout"] = Timeout.of(value)
        value = kwargs.get("idempotency_key")
        if value is not None and value is not NOT_GIVEN:
            changes["idempotency_key"] = check_idempotency_key(value)
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
            if len(urls) >= URL_CACHE_SIZE:
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


#: The ``CallOptions`` fields ``with_options`` sets, and their checks.
_OPTION_CHECKS: tuple[tuple[str, Callable[[Any], object]], ...] = (
    ("timeout", Timeout.of),
    ("retry", check_retry_policy),
    ("max_retries", _check_retries),
    ("follow_redirects", _check_follow),
    ("max_redirects", _check_redirects),
)
