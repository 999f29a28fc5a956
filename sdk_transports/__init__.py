"""sdk_transports: the clients and the transports that drive ``sdk_core``.

Everything that touches the world lives here: sockets, TLS, anyio, httpcore, the
clock, sleeping and the environment.
"""

from ._anyio_transport import AnyioTransport
from ._async_client import AsyncClient
from ._client import Client
from ._httpcore import AsyncHttpcoreTransport, HttpcoreTransport
from ._mock import MockTransport
from ._protocols import AsyncTransport, Transport
from ._sockets import SocketTransport

__all__ = [
    "AnyioTransport",
    "AsyncClient",
    "AsyncHttpcoreTransport",
    "AsyncTransport",
    "Client",
    "HttpcoreTransport",
    "MockTransport",
    "SocketTransport",
    "Transport",
]
