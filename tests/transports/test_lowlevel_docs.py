"""The low-level API example and the fault-table example of docs/transports.md, run as
they are written there.

``TinyTransport`` (the "The low-level API" section: a blocking transport on
``sdk_core.lowlevel``'s codec, reader and pool books) serves ``Client`` against
``FaultServer``: keep-alive on one connection, a gzip body decoded, the pool settled,
a refused port as ``ConnectError``, and a streamed body refused before anything is sent.
The section's ``FAULTS`` test then runs with ``MyTransport = TinyTransport`` over every
transport fault of the table.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import pytest

from sdk_core import ConnectError, InvalidRequestError
from sdk_transports import Client
from sdk_transports.testing import FaultServer, read_request, refused_url, respond

DOCS = Path(__file__).parents[2] / "docs" / "transports.md"


def _section(title: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(title)
    return text[start : text.index("\n## ", start + len(title))]


def _blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    (code,) = _blocks(_section("## The low-level API"))
    namespace: dict[str, Any] = {"__name__": "transports_md_lowlevel"}
    exec(compile(code, str(DOCS), "exec"), namespace)  # the docs' own code
    return namespace


def test_the_tiny_transport_keeps_its_connection_alive(example: dict[str, Any]) -> None:
    transport = example["TinyTransport"]()
    with FaultServer() as server, Client(server.url, transport=transport) as client:
        assert [client.get(f"/{n}").status_code for n in range(3)] == [200, 200, 200]
        assert server.connections == 1
        assert [r.target for r in server.requests] == ["/0", "/1", "/2"]
        stats = transport.statistics()
        assert (stats.in_use, stats.idle, stats.waiting) == (0, 1, 0)


def test_the_tiny_transport_hands_over_a_decoded_body(example: dict[str, Any]) -> None:
    body = gzip.compress(b'{"a": 1}')
    with FaultServer() as server:
        server.script(read_request(), respond(200, body, [("Content-Encoding", "gzip")]))
        with Client(server.url, transport=example["TinyTransport"]()) as client:
            assert client.get("/").json() == {"a": 1}


def test_the_tiny_transport_raises_the_cores_errors(example: dict[str, Any]) -> None:
    transport = example["TinyTransport"]()
    with Client(refused_url(), transport=transport, max_retries=0) as client:
        with pytest.raises(ConnectError):
            client.get("/")
        assert transport.statistics().in_use == 0
    with FaultServer() as server, Client(server.url, transport=transport) as client:
        with pytest.raises(InvalidRequestError):
            client.post("/", content=iter([b"a"]))
        assert server.connections == 0  # refused before anything was sent


def test_the_fault_table_example_runs(example: dict[str, Any]) -> None:
    (code,) = [b for b in _blocks(DOCS.read_text(encoding="utf-8")) if "FAULTS[name]" in b]
    namespace: dict[str, Any] = {"__name__": "transports_md_faults"}
    namespace["MyTransport"] = example["TinyTransport"]
    exec(compile(code, str(DOCS), "exec"), namespace)
    names = namespace["TRANSPORT_FAULTS"]
    assert "closed_before_response" in names
    assert "trickle_past_deadline" not in names
    test = namespace["test_each_fault_raises_its_exact_error"]
    for name in names:
        test(name)
