"""One fault, one exception: each fault of the testing kit's ``FAULTS`` (FaultServer
scripts) and each fault set up here (dial, TLS, upload, size caps) gives the same
exception class and the same ``request_sent`` on SocketTransport and AnyioTransport
(asyncio and trio), used directly and through the clients."""

from __future__ import annotations

import contextlib
import functools
import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from _socket_users import (
    EMPTY,
    TIMEOUT,
    VIA,
    TLSMaterial,
    async_user,
    check_error,
    full_backlog,
    sync_user,
    tls_server,
)

from sdk_core import APIConnectionError, APIError, RemoteProtocolError, Timeout
from sdk_transports.testing import (
    FAULTS,
    FaultServer,
    ScenarioApp,
    ServerHandle,
    Step,
    hang,
    read_head,
    read_request,
    refused_url,
    reset,
    respond,
)

pytestmark = pytest.mark.timeout(30)

# -- one fault, one exception: the table ------------------------------------------------

Outcome = tuple[str, "bool | None"]  # the exception class name, its ``request_sent``

#: The server faults of the one fault table, each a FaultServer script per connection.
#: ``trickle_past_deadline`` is left out: only the call's total ends it, and a transport
#: used directly is not given one.
SCRIPTED = [name for name in FAULTS if name != "trickle_past_deadline"]

#: A body that decodes to 4 MiB, past the 1 MiB cap the ``gzip_bomb`` fault sets.
GZIP_BOMB = gzip.compress(b"\0" * (4 * 1024 * 1024))
#: Far more than loopback socket buffers hold while the peer reads nothing.
UPLOAD = b"u" * (16 * 1024 * 1024)

#: The faults this module adds to the table, each needing more than a server script
#: alone: a dial or TLS fault, the scenario app's slow head, an upload, a size cap.
#: ``OWN_SCRIPTS`` holds the FaultServer script of those that need one.
OWN_FAULTS: dict[str, Outcome] = {
    "refused": ("ConnectError", False),
    "connect_timeout": ("ConnectTimeout", False),
    "tls_unknown_ca": ("ConnectError", False),
    "tls_wrong_host": ("ConnectError", False),
    "reset_before_response": ("ReadError", True),
    "read_timeout_before_headers": ("ReadTimeout", True),
    "write_timeout": ("WriteTimeout", True),
    "reset_during_upload": ("WriteError", True),
    "too_large": ("ResponseTooLargeError", None),
    "gzip_bomb": ("ResponseTooLargeError", None),
}
OWN_SCRIPTS: dict[str, tuple[Step, ...]] = {
    "reset_before_response": (read_request(), reset()),
    "write_timeout": (hang(),),  # reads nothing, so the upload fills the socket buffers
    "reset_during_upload": (read_head(), reset()),
    "gzip_bomb": (read_request(), respond(body=GZIP_BOMB, headers=[("Content-Encoding", "gzip")])),
}
#: What every runner must see for each fault: the class name and ``request_sent``
#: (None: not an APIConnectionError).
EXPECTED: dict[str, Outcome] = {
    **{name: (FAULTS[name].expected.__name__, FAULTS[name].request_sent) for name in SCRIPTED},
    **OWN_FAULTS,
}


@dataclass(frozen=True)
class Setup:
    url: str  # base URL
    path: str
    timeout: Timeout
    kwargs: dict[str, Any]
    content: bytes = b""  # sent as a POST when not empty
    server: FaultServer | None = None
    scripts: tuple[tuple[Step, ...], ...] = ((),)  # one request on a new connection each

    @property
    def method(self) -> str:
        return "POST" if self.content else "GET"

    def attempts(self) -> Iterator[None]:
        """Before each request: script the connection it will open."""
        for steps in self.scripts:
            if self.server is not None:
                self.server.script(*steps)
            yield


@contextlib.contextmanager
def fault_setup(
    name: str, scenario: ServerHandle[ScenarioApp], tls: TLSMaterial
) -> Iterator[Setup]:
    if name in FAULTS or name in OWN_SCRIPTS:
        if name in FAULTS:
            scripts, timeout = FAULTS[name].scripts, FAULTS[name].timeout
        else:
            scripts = (OWN_SCRIPTS[name],)
            timeout = Timeout(5.0, write=0.2) if name == "write_timeout" else TIMEOUT
        kwargs = {"max_response_size": 1024 * 1024} if name == "gzip_bomb" else {}
        content = UPLOAD if name in ("write_timeout", "reset_during_upload") else b""
        with FaultServer() as server:
            yield Setup(server.url, "/", timeout, kwargs, content, server, scripts)
    elif name == "refused":
        yield Setup(refused_url(), "/", TIMEOUT, {})
    elif name == "connect_timeout":
        with full_backlog() as url:
            yield Setup(url, "/", Timeout(5.0, connect=0.2), {})
    elif name == "tls_unknown_ca":
        with tls_server(tls.good) as server:
            yield Setup(server.url, "/", TIMEOUT, {})
    elif name == "tls_wrong_host":
        with tls_server(tls.wrong_host) as server:
            yield Setup(server.url, "/", TIMEOUT, {"verify": tls.ca_file})
    elif name == "read_timeout_before_headers":
        yield Setup(scenario.url, "/slow-headers?delay=1", Timeout(5.0, read=0.2), {})
    else:
        assert name == "too_large"
        yield Setup(scenario.url, "/status/200?body=huge", TIMEOUT, {"max_response_size": 1000})


def _outcome(exc: BaseException) -> Outcome:
    return type(exc).__name__, getattr(exc, "request_sent", None)


def _sync_fault(setup: Setup, via: str) -> list[Outcome]:
    outcomes = []
    with sync_user(setup.url, via, **setup.kwargs) as user:
        for _ in setup.attempts():
            with pytest.raises(APIError) as info:
                user.request(setup.method, setup.path, timeout=setup.timeout, content=setup.content)
            check_error(info.value, via)
            assert user.statistics() == EMPTY
            outcomes.append(_outcome(info.value))
    return outcomes


async def _async_fault(setup: Setup, via: str) -> list[Outcome]:
    outcomes = []
    async with async_user(setup.url, via, **setup.kwargs) as user:
        for _ in setup.attempts():
            with pytest.raises(APIError) as info:
                await user.request(
                    setup.method, setup.path, timeout=setup.timeout, content=setup.content
                )
            check_error(info.value, via)
            assert user.statistics() == EMPTY
            outcomes.append(_outcome(info.value))
    return outcomes


RUNNERS: dict[str, Callable[[Setup], list[Outcome]]] = {
    f"{loop}/{via}": (
        functools.partial(_sync_fault, via=via)
        if loop == "sync"
        else lambda setup, loop=loop, via=via: anyio.run(
            functools.partial(_async_fault, setup, via), backend=loop
        )
    )
    for loop in ("sync", "asyncio", "trio")
    for via in VIA
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_same_fault_same_exception_everywhere(
    name: str, scenario: ServerHandle[ScenarioApp], tls: TLSMaterial
) -> None:
    requests = len(FAULTS[name].scripts) if name in FAULTS else 1
    table: dict[str, list[Outcome]] = {}
    for runner_name, runner in RUNNERS.items():
        with fault_setup(name, scenario, tls) as setup:
            table[runner_name] = runner(setup)
            if setup.server is not None:  # each script was taken by one connection
                assert setup.server.connections == requests
    assert table == dict.fromkeys(RUNNERS, [EXPECTED[name]] * requests)


def test_fault_classes_are_in_the_error_tree() -> None:
    import sdk_core

    for expected, request_sent in EXPECTED.values():
        cls = getattr(sdk_core, expected)
        assert issubclass(cls, APIError)
        assert issubclass(cls, APIConnectionError) == (request_sent is not None)
    assert issubclass(RemoteProtocolError, APIConnectionError)
    assert set(OWN_FAULTS).isdisjoint(FAULTS)  # one name, one fault
