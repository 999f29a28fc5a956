"""Client and AsyncClient options on MockTransport: ``with_options``, the api key that
never shows, default and per-call headers and how a request is built."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from _mock_clients import (
    BASE,
    FakeClock,
    Script,
    async_client,
    attempts_of,
    error_response,
    never_called,
    ok,
    sync_client,
)

from sdk_core import (
    AuthenticationError,
    ClientClosedError,
    ConnectError,
    InternalServerError,
    InvalidRequestError,
    PoolStatistics,
    ReadTimeout,
    RetryPolicy,
)
from sdk_transports import AsyncClient, Client, MockTransport

SECRET = "sk-live-Zq8pX3TOPSECRET"


# with_options --------------------------------------------------------------------------


def test_with_options_shares_the_retry_budget_sync() -> None:
    no_wait = RetryPolicy(initial_delay=0.0)
    script = Script(error_response(503))
    client = sync_client(script, retry=no_wait)
    copy = client.with_options(max_retries=1000)
    # The bucket holds 500 tokens and a retry costs 5: exactly 100 retries.
    assert attempts_of(lambda: copy.get("/")) == 101
    assert attempts_of(lambda: client.get("/")) == 1  # the original sees the empty bucket
    # A separate client has its own budget.
    assert attempts_of(lambda: sync_client(script, retry=no_wait).get("/")) == 3


@pytest.mark.anyio
async def test_with_options_shares_the_retry_budget_async() -> None:
    script = Script(error_response(503))
    client = async_client(script, retry=RetryPolicy(initial_delay=0.0))
    with pytest.raises(InternalServerError) as caught:
        await client.with_options(max_retries=1000).get("/")
    assert caught.value.attempts == 101
    with pytest.raises(InternalServerError) as caught:
        await client.get("/")
    assert caught.value.attempts == 1


def test_retry_budget_costs_and_refunds_sync() -> None:
    # botocore's standard mode: 500 tokens, a retry costs 5, a timeout retry 10,
    # a success gives 1 back.
    script = Script(ReadTimeout)
    client = sync_client(script, retry=RetryPolicy(initial_delay=0.0), max_retries=1000)
    with pytest.raises(ReadTimeout) as caught:
        client.get("/")
    assert caught.value.attempts == 51  # 500 / 10 timeout retries
    script.outcomes = [ok()]
    for _ in range(5):  # five successes refund five tokens: one retry's worth
        client.get("/")
    script.outcomes = [error_response(503), ok()]
    assert client.get("/").attempts == 2
    script.outcomes = [error_response(503), ok()]
    assert attempts_of(lambda: client.get("/")) == 1  # 1 token left: no retry


def test_with_options_shares_the_transport_and_merges_headers_sync() -> None:
    script = Script(ok())
    transport = MockTransport(script)
    client = Client(
        BASE,
        api_key=SECRET,
        transport=transport,
        default_headers={"X-A": "1", "X-B": "2"},
    )
    copy = client.with_options(default_headers={"X-B": "3", "X-C": "4"}, timeout=3.0)
    copy.get("/one")
    client.get("/two")
    via_copy, via_original = script.requests
    assert (via_copy.headers["X-A"], via_copy.headers["X-B"], via_copy.headers["X-C"]) == (
        "1",
        "3",
        "4",
    )
    assert via_copy.headers["Authorization"] == f"Bearer {SECRET}"
    assert via_original.headers["X-B"] == "2"
    assert "X-C" not in via_original.headers
    assert copy.statistics() == client.statistics() == PoolStatistics()
    # Closing the copy leaves the shared transport open; closing the original closes it.
    copy.close()
    assert not transport.closed
    client.get("/three")
    client.close()
    assert transport.closed
    with pytest.raises(ClientClosedError):
        copy.get("/four")
    assert script.calls == 3


@pytest.mark.anyio
async def test_with_options_shares_the_transport_and_merges_headers_async() -> None:
    script = Script(ok())
    transport = MockTransport(script)
    client = AsyncClient(BASE, transport=transport, default_headers={"X-A": "1", "X-B": "2"})
    copy = client.with_options(default_headers={"X-B": "3"}, base_url="https://other.test/v2")
    await copy.get("/one")
    assert str(script.requests[0].url) == "https://other.test/v2/one"
    assert (script.requests[0].headers["X-A"], script.requests[0].headers["X-B"]) == ("1", "3")
    await copy.aclose()
    assert not transport.closed
    await client.aclose()
    assert transport.closed
    with pytest.raises(ClientClosedError):
        await copy.get("/two")


# api_key secrecy -----------------------------------------------------------------------


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text, text


def check_logs_without_secret(caplog: pytest.LogCaptureFixture) -> list[str]:
    records = [r for r in caplog.records if r.name.startswith("sdk_transports")]
    messages = [r.getMessage() for r in records]
    assert_no_secret(*messages, *(repr(r.args) for r in records))
    return messages


def test_api_key_is_sent_as_bearer_and_never_shown_sync(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sdk_transports")
    clock = FakeClock()
    script = Script(error_response(503), ReadTimeout, ok(), error_response(401))
    client = sync_client(script, clock, api_key=SECRET)
    assert client.get("/items", params={"q": "x"}).attempts == 3
    with pytest.raises(AuthenticationError) as caught:
        client.get("/me")
    assert all(r.headers["Authorization"] == f"Bearer {SECRET}" for r in script.requests)
    exc = caught.value
    assert exc.request is not None
    assert_no_secret(repr(client), str(exc), repr(exc), exc.message, repr(exc.request))
    assert_no_secret(repr(exc.request.headers), repr(exc.response))
    assert "api_key=set" in repr(client)
    messages = check_logs_without_secret(caplog)
    assert messages == [
        "HTTP GET https://api.example.test/v1/items?q=[redacted] attempt 1",
        f"503: retrying in {clock.sleeps[0]:.3f} s because the status is retryable",
        "HTTP GET https://api.example.test/v1/items?q=[redacted] attempt 2",
        f"ReadTimeout: retrying in {clock.sleeps[1]:.3f} s because the connection failed",
        "HTTP GET https://api.example.test/v1/items?q=[redacted] attempt 3",
        "200: not retrying because the response succeeded",
        "HTTP GET https://api.example.test/v1/me attempt 1",
        "401: not retrying because the status is not retryable",
    ]


@pytest.mark.anyio
async def test_api_key_is_sent_as_bearer_and_never_shown_async(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="sdk_transports")
    script = Script(ConnectError)
    async with async_client(script, api_key=SECRET) as client:
        with pytest.raises(ConnectError) as caught:
            await client.post("/items", json={"k": 1})
        assert_no_secret(repr(client), str(caught.value), repr(caught.value))
    assert script.requests[0].headers["Authorization"] == f"Bearer {SECRET}"
    messages = check_logs_without_secret(caplog)
    assert sum("attempt" in m for m in messages) == 3
    assert sum("retrying in" in m for m in messages) == 2
    assert messages[-1] == "ConnectError: not retrying because no retries are left"


def test_api_key_changes_with_options_and_bad_keys_are_not_echoed() -> None:
    script = Script(ok())
    client = sync_client(script, api_key=SECRET)
    client.with_options(api_key="sk-other").get("/")
    client.with_options(api_key=None).get("/")
    assert script.requests[0].headers["Authorization"] == "Bearer sk-other"
    assert "Authorization" not in script.requests[1].headers
    with pytest.raises(InvalidRequestError) as caught:
        Client(BASE, api_key=SECRET + "\r\nX-Injected: 1", transport=MockTransport(never_called))
    assert_no_secret(str(caught.value), repr(caught.value))


# headers and request building ----------------------------------------------------------


def test_default_headers_and_user_agent_sync() -> None:
    script = Script(ok())
    client = sync_client(script, default_headers={"X-Team": "core"})
    client.get("/a")
    client.get("/b", headers={"X-Team": "override", "X-Extra": "1"})
    first, second = script.requests
    assert first.headers["X-Team"] == "core"
    assert "sdk-core/" in first.headers["User-Agent"]
    assert first.headers["Accept"] == "application/json"
    assert "gzip" in first.headers["Accept-Encoding"]
    assert (second.headers["X-Team"], second.headers["X-Extra"]) == ("override", "1")
    assert second.headers.get_list("X-Team") == ["override"]
    sync_client(script, default_headers={"User-Agent": "my-sdk/2.0"}).get("/c")
    assert script.requests[-1].headers.get_list("User-Agent") == ["my-sdk/2.0"]


@pytest.mark.anyio
async def test_default_headers_and_user_agent_async() -> None:
    script = Script(ok())
    async with async_client(script, default_headers={"X-Team": "core"}) as client:
        await client.get("/a")
    assert script.requests[0].headers["X-Team"] == "core"
    assert "sdk-core/" in script.requests[0].headers["User-Agent"]


def test_params_json_and_content_building_sync() -> None:
    script = Script(ok())
    client = sync_client(script)
    client.get(
        "/search", params={"q": "a b", "tags": ["x", "y"], "flag": True, "skip": None, "n": 3}
    )
    client.post("/items", json={"name": "café", "n": [1, 2]})
    client.patch(
        "/items/1", json={"a": None}, headers={"Content-Type": "application/merge-patch+json"}
    )
    client.put("/blob", content=b"\x00raw bytes")
    search, created, patched, blob = script.requests
    assert search.url.target == "/v1/search?q=a+b&tags=x&tags=y&flag=true&n=3"
    assert search.content == b""
    assert created.content == '{"name":"café","n":[1,2]}'.encode()
    assert created.headers["Content-Type"] == "application/json"
    assert created.headers["Content-Length"] == str(len(created.content))
    assert patched.headers.get_list("Content-Type") == ["application/merge-patch+json"]
    assert patched.content == b'{"a":null}'
    assert blob.content == b"\x00raw bytes"
    assert blob.headers["Content-Length"] == "10"
    assert "Content-Type" not in blob.headers
    assert [r.method for r in script.requests] == ["GET", "POST", "PATCH", "PUT"]
    client.delete("/items/1")
    assert script.requests[-1].method == "DELETE"


@pytest.mark.anyio
async def test_params_json_and_content_building_async() -> None:
    script = Script(ok())
    async with async_client(script) as client:
        await client.get("/search", params={"q": "a b", "n": 3})
        await client.post("/items", json={"n": 1})
        await client.put("/blob", content=b"xyz")
    search, created, blob = script.requests
    assert search.url.target == "/v1/search?q=a+b&n=3"
    assert created.content == b'{"n":1}'
    assert created.headers["Content-Type"] == "application/json"
    assert blob.content == b"xyz"


BAD_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("/items", {"headers": {"X-Bad": "a\r\nInjected: 1"}}),
    ("/items", {"headers": {"X-Bad": "a\nb"}}),
    ("/items", {"headers": {"X-Bad": "a\x00b"}}),
    ("/items", {"headers": {"Bad Name": "v"}}),
    ("/items\r\nInjected: 1", {}),
    ("/items\x00", {}),
    ("/items", {"json": {"a": 1}, "content": b"x"}),
    ("/items", {"json": {"a": float("nan")}}),
]


@pytest.mark.parametrize(("path", "kwargs"), BAD_REQUESTS)
def test_invalid_requests_are_refused_before_sending_sync(
    path: str, kwargs: dict[str, Any]
) -> None:
    client = sync_client(never_called)
    with pytest.raises(InvalidRequestError) as caught:
        client.post(path, **kwargs)
    assert isinstance(caught.value, ValueError)


@pytest.mark.anyio
@pytest.mark.parametrize(("path", "kwargs"), BAD_REQUESTS)
async def test_invalid_requests_are_refused_before_sending_async(
    path: str, kwargs: dict[str, Any]
) -> None:
    async with async_client(never_called) as client:
        with pytest.raises(InvalidRequestError):
            await client.post(path, **kwargs)
