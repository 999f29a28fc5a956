"""sdk_transports: the clients and the transports that drive ``sdk_core``.

Everything that touches the world lives here: sockets, TLS, anyio, httpcore, the
clock, sleeping and the environment.
"""

from ._async_client import AsyncClient
from ._client import Client
from ._httpcore import AsyncHttpcoreTransport, HttpcoreTransport
from ._mock import MockTransport
from ._protocols import AsyncTransport, Transport

__all__ = [
    "AsyncClient",
    "AsyncHttpcoreTransport",
    "AsyncTransport",
    "Client",
    "HttpcoreTransport",
    "MockTransport",
    "Transport",
]
