"""sdk_core.lowlevel: the core's extension API, for people who write a transport.

``sdk_core`` holds what an SDK author or an application uses; this module holds the
pure pieces a transport is built from, the same ones ``sdk_transports`` uses. Every
name loads its module on first use, so importing this module costs nothing until a
name is read (the codecs import h11, and httptools when it is installed).

HTTP/1.1 codecs
    ``new_codec`` (the fastest codec installed: ``FastClientCodec`` with httptools,
    ``ClientCodec`` otherwise) · ``ClientCodec`` (h11-based) · ``FastClientCodec``
    (llhttp heads, same answers) · ``HAS_HTTPTOOLS`` · the events ``ResponseHead``,
    ``BodyChunk``, ``ResponseEnd`` (``ResponseEvent`` is any of them) · ``NEED_DATA``,
    what ``next_event`` says until more bytes are fed, and its type ``NeedData`` ·
    ``MAX_HEADER_BYTES`` (the default bound on a response head) · ``body_item_bytes``
    (one piece of a request body as bytes) · ``check_http1_version`` (refuses a
    response that is not HTTP/1.x; for transports that parse heads another way).

Response readers (a codec's events to a ``Response`` or a stream)
    ``ResponseReader`` (a whole, decoded, bounded body) · ``StreamReader`` (a body
    read in bounded pieces) · ``BodyBuffer`` (a streamed body kept whole, within a
    size bound) · the piece readers ``TextReader``, ``LineReader``, ``LineDecoder``
    (text and lines across piece boundaries) and ``EventReader``, ``SSEDecoder``
    (Server-Sent Events) · ``MAX_ENCODINGS`` (how many chained Content-Encodings a
    response may have).

Connection pool
    ``PoolState`` (which request gets which connection, which to close; pure books) ·
    ``Lease`` (a connection handed to a request) · ``Outcome`` (what one step asks the
    driver to do) · ``Origin`` (scheme, host, port).

Waits
    ``wait_bound`` (how long the next wait may take, under a phase timeout and the
    call's deadline) · ``MAX_TIMEOUT`` (the longest wait any wait primitive is given) ·
    ``ReadDeadline`` (the bound of each read of a streamed body, and what a failed read
    raises).

Drivers
    ``request_for`` and ``build_request`` (a ``Request`` from a client's keywords) ·
    ``encode_json`` (a JSON body, as the clients encode it) · ``PageWalk`` (one walk
    through a paged listing) · ``CycleGuard`` (refuses a page already fetched) ·
    ``attempt_record`` (the ``AttemptRecord`` of one attempt, for hooks).

The clients' pure parts (what ``Client`` and ``AsyncClient`` are built from)
    ``ClientConfig`` (a client's settings checked once, derived by ``with_options``,
    applied to each call) · ``Listing`` (one ``paginate`` call's state) ·
    ``ContentAdapter`` (how ``content=`` is sent) · the keyword types ``RequestKwargs``,
    ``ClientSettings``, ``ClientOptions``, ``ContentTypes`` (``sdk_transports`` exports
    them too, beside the clients) and ``AttemptHook`` · the keyword sets
    ``REQUEST_KEYWORDS``, ``CALL_OPTION_KEYWORDS``, ``CLIENT_OPTION_KEYWORDS``,
    ``CLIENT_SETTING_KEYWORDS`` · ``check_settings`` and ``unexpected_keyword`` (the
    ``TypeError`` for a keyword a client does not take) · ``check_bool``, ``check_size``,
    ``check_limits`` (a setting's value, or ``InvalidRequestError`` naming it).

Redaction defaults (what a repr, message or log line may show)
    ``Redaction`` (a policy) · ``DEFAULT_REDACTION`` · ``REDACTED`` (what a hidden value
    reads as) · ``SENSITIVE_HEADERS`` · ``LOGGABLE_HEADERS`` · ``LOGGABLE_QUERY_PARAMS`` ·
    ``SECRET_WORDS``.

Names ``sdk_core`` exports (``Request``, ``PoolStatistics``, ``RetryDecision``,
``RedirectDecision``, ``BodyDecoder``, ``wire_headers``, the errors ...) are not repeated
here: import them from ``sdk_core``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._build import build_request as build_request
    from ._build import encode_json as encode_json
    from ._build import request_for as request_for
    from ._checks import check_bool as check_bool
    from ._checks import check_limits as check_limits
    from ._checks import check_size as check_size
    from ._client_config import ClientConfig as ClientConfig
    from ._config import MAX_TIMEOUT as MAX_TIMEOUT
    from ._config import wait_bound as wait_bound
    from ._content import ContentAdapter as ContentAdapter
    from ._content import ContentTypes as ContentTypes
    from ._decoding import MAX_ENCODINGS as MAX_ENCODINGS
    from ._fastcodec import HAS_HTTPTOOLS as HAS_HTTPTOOLS
    from ._fastcodec import FastClientCodec as FastClientCodec
    from ._fastcodec import new_codec as new_codec
    from ._http11 import MAX_HEADER_BYTES as MAX_HEADER_BYTES
    from ._http11 import NEED_DATA as NEED_DATA
    from ._http11 import BodyChunk as BodyChunk
    from ._http11 import ClientCodec as ClientCodec
    from ._http11 import NeedData as NeedData
    from ._http11 import ResponseEnd as ResponseEnd
    from ._http11 import ResponseEvent as ResponseEvent
    from ._http11 import ResponseHead as ResponseHead
    from ._http11 import body_item_bytes as body_item_bytes
    from ._http11 import check_http1_version as check_http1_version
    from ._lines import LineDecoder as LineDecoder
    from ._lines import LineReader as LineReader
    from ._lines import TextReader as TextReader
    from ._listing import Listing as Listing
    from ._observe import attempt_record as attempt_record
    from ._options import CALL_OPTION_KEYWORDS as CALL_OPTION_KEYWORDS
    from ._options import CLIENT_OPTION_KEYWORDS as CLIENT_OPTION_KEYWORDS
    from ._options import CLIENT_SETTING_KEYWORDS as CLIENT_SETTING_KEYWORDS
    from ._options import REQUEST_KEYWORDS as REQUEST_KEYWORDS
    from ._options import AttemptHook as AttemptHook
    from ._options import ClientOptions as ClientOptions
    from ._options import ClientSettings as ClientSettings
    from ._options import RequestKwargs as RequestKwargs
    from ._options import check_settings as check_settings
    from ._options import unexpected_keyword as unexpected_keyword
    from ._paging import CycleGuard as CycleGuard
    from ._paging import PageWalk as PageWalk
    from ._pool import Lease as Lease
    from ._pool import Origin as Origin
    from ._pool import Outcome as Outcome
    from ._pool import PoolState as PoolState
    from ._reader import BodyBuffer as BodyBuffer
    from ._reader import ResponseReader as ResponseReader
    from ._reader import StreamReader as StreamReader
    from ._redact import DEFAULT_REDACTION as DEFAULT_REDACTION
    from ._redact import LOGGABLE_HEADERS as LOGGABLE_HEADERS
    from ._redact import LOGGABLE_QUERY_PARAMS as LOGGABLE_QUERY_PARAMS
    from ._redact import REDACTED as REDACTED
    from ._redact import SECRET_WORDS as SECRET_WORDS
    from ._redact import SENSITIVE_HEADERS as SENSITIVE_HEADERS
    from ._redact import Redaction as Redaction
    from ._sse import EventReader as EventReader
    from ._sse import SSEDecoder as SSEDecoder
    from ._stream_deadline import ReadDeadline as ReadDeadline

#: Public name -> (the private module that defines it, its name there).
_HOMES: dict[str, tuple[str, str]] = {
    **{name: ("_build", name) for name in ("build_request", "encode_json", "request_for")},
    **{name: ("_checks", name) for name in ("check_bool", "check_limits", "check_size")},
    "ClientConfig": ("_client_config", "ClientConfig"),
    **{name: ("_config", name) for name in ("MAX_TIMEOUT", "wait_bound")},
    **{name: ("_content", name) for name in ("ContentAdapter", "ContentTypes")},
    "MAX_ENCODINGS": ("_decoding", "MAX_ENCODINGS"),
    **{name: ("_fastcodec", name) for name in ("HAS_HTTPTOOLS", "FastClientCodec", "new_codec")},
    **{
        name: ("_http11", name)
        for name in (
            "MAX_HEADER_BYTES",
            "NEED_DATA",
            "BodyChunk",
            "ClientCodec",
            "ResponseEnd",
            "ResponseEvent",
            "ResponseHead",
            "body_item_bytes",
            "check_http1_version",
        )
    },
    "NeedData": ("_http11", "NeedData"),
    **{name: ("_lines", name) for name in ("LineDecoder", "LineReader", "TextReader")},
    "Listing": ("_listing", "Listing"),
    "attempt_record": ("_observe", "attempt_record"),
    **{
        name: ("_options", name)
        for name in (
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
        )
    },
    **{name: ("_paging", name) for name in ("CycleGuard", "PageWalk")},
    **{name: ("_pool", name) for name in ("Lease", "Origin", "Outcome", "PoolState")},
    **{name: ("_reader", name) for name in ("BodyBuffer", "ResponseReader", "StreamReader")},
    **{
        name: ("_redact", name)
        for name in (
            "DEFAULT_REDACTION",
            "LOGGABLE_HEADERS",
            "LOGGABLE_QUERY_PARAMS",
            "REDACTED",
            "SECRET_WORDS",
            "SENSITIVE_HEADERS",
            "Redaction",
        )
    },
    **{name: ("_sse", name) for name in ("EventReader", "SSEDecoder")},
    "ReadDeadline": ("_stream_deadline", "ReadDeadline"),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sdk_core.lowlevel' has no attribute {name!r}")
    module, attribute = home
    value = getattr(importlib.import_module(f"sdk_core.{module}"), attribute)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


__all__ = [
    "CALL_OPTION_KEYWORDS",
    "CLIENT_OPTION_KEYWORDS",
    "CLIENT_SETTING_KEYWORDS",
    "DEFAULT_REDACTION",
    "HAS_HTTPTOOLS",
    "LOGGABLE_HEADERS",
    "LOGGABLE_QUERY_PARAMS",
    "MAX_ENCODINGS",
    "MAX_HEADER_BYTES",
    "MAX_TIMEOUT",
    "NEED_DATA",
    "REDACTED",
    "REQUEST_KEYWORDS",
    "SECRET_WORDS",
    "SENSITIVE_HEADERS",
    "AttemptHook",
    "BodyBuffer",
    "BodyChunk",
    "ClientCodec",
    "ClientConfig",
    "ClientOptions",
    "ClientSettings",
    "ContentAdapter",
    "ContentTypes",
    "CycleGuard",
    "EventReader",
    "FastClientCodec",
    "Lease",
    "LineDecoder",
    "LineReader",
    "Listing",
    "NeedData",
    "Origin",
    "Outcome",
    "PageWalk",
    "PoolState",
    "ReadDeadline",
    "Redaction",
    "RequestKwargs",
    "ResponseEnd",
    "ResponseEvent",
    "ResponseHead",
    "ResponseReader",
    "SSEDecoder",
    "StreamReader",
    "TextReader",
    "attempt_record",
    "body_item_bytes",
    "build_request",
    "check_bool",
    "check_http1_version",
    "check_limits",
    "check_settings",
    "check_size",
    "encode_json",
    "new_codec",
    "request_for",
    "unexpected_keyword",
    "wait_bound",
]
