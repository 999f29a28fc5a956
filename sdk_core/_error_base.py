"""The root of the error tree and the errors that blame this side of the connection.

None of these carries a request or a response, so every module (the models, headers
and URL parsing included) imports them from here without importing the models back.
``_errors`` re-exports them beside the rest of the tree.
"""

from __future__ import annotations

__all__ = [
    "CallStateError",
    "ClientClosedError",
    "InvalidRequestError",
    "LocalProtocolError",
    "SDKError",
    "StreamClosedError",
]


class SDKError(Exception):
    """Base class of every error this package raises."""


class InvalidRequestError(SDKError, ValueError):
    """The caller built a request that cannot be sent; raised before sending."""


class LocalProtocolError(SDKError, RuntimeError):
    """A driver broke a rule of the sans-I/O core (fed a codec after EOF, fed a ``Call``
    an input its state does not take): a bug in the code driving the core, never the
    peer's fault, and never retried."""


class CallStateError(LocalProtocolError):
    """A driver fed a ``Call`` an input its current state does not accept."""


class ClientClosedError(SDKError, RuntimeError):
    """A request was made on a client (or a transport) after it was closed.

    The caller's mistake, never retried, and not an ``APIConnectionError``: a retry loop
    that treats connection errors as transient must not spin on a closed client.
    """


class StreamClosedError(SDKError, RuntimeError):
    """A streamed response body was read a second time, or after it was closed."""
