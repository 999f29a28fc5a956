"""The keywords a client, its ``with_options`` and its calls take, and the
``TypeError`` for one they do not."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from ._config import RetryPolicy, Timeout
from ._content import ContentTypes
from ._url import QueryParamTypes

if TYPE_CHECKING:
    from ._observe import AttemptRecord

__all__ = [
    "CALL_OPTION_KEYWORDS",
    "CLIENT_OPTION_KEYWORDS",
    "CLIENT_SETTING_KEYWORDS",
    "REQUEST_KEYWORDS",
    "AttemptHook",
    "ClientOptions",
    "ClientSettings",
    "RequestKwargs",
    "check_settings",
    "unexpected_keyword",
]


class RequestKwargs(TypedDict, total=False):
    """The keywords every request method takes besides method and path.

    ``params``: see ``sdk_core.QueryParamTypes``. ``headers`` replace the client's by
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

REQUEST_KEYWORDS = RequestKwargs.__optional_keys__
#: The request keywords that change the call's ``CallOptions`` rather than its request.
CALL_OPTION_KEYWORDS = frozenset(
    {"timeout", "max_retries", "idempotency_key", "follow_redirects", "max_redirects"}
)
CLIENT_OPTION_KEYWORDS = ClientOptions.__optional_keys__
CLIENT_SETTING_KEYWORDS = ClientSettings.__optional_keys__


def unexpected_keyword(
    given: Iterable[str], known: Iterable[str], where: str, candidates: Iterable[str] = ()
) -> TypeError:
    """The ``TypeError`` Python raises for the first keyword of ``given`` not in
    ``known`` (one must be missing), naming the closest of ``known`` and ``candidates``
    when there is one. ``where`` names the callable, as in ``Client.get``."""
    import difflib  # loaded by the first misspelt keyword

    known = frozenset(known)
    name = next(key for key in given if key not in known)
    close = difflib.get_close_matches(name, sorted(known.union(candidates)), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return TypeError(f"{where}() got an unexpected keyword argument {name!r}{hint}")


def check_settings(client: object, settings: Mapping[str, object]) -> None:
    """Raise ``TypeError`` for a keyword of ``type(client)()`` that is neither one of
    its parameters nor one of ``ClientSettings``."""
    if not CLIENT_SETTING_KEYWORDS.issuperset(settings):
        import inspect  # loaded by the first misspelt setting

        parameters = inspect.signature(type(client).__init__).parameters
        raise unexpected_keyword(
            settings, CLIENT_SETTING_KEYWORDS, type(client).__name__, list(parameters)[1:]
        )
