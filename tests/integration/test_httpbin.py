"""The clients against pytest-httpbin's ``httpbin`` fixture: a server nobody here wrote.

httpbin runs in a thread, so the async tests (asyncio and trio) use it as well.
"""

from __future__ import annotations

import importlib.util
import logging
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_httpbin.certs

from sdk_core import (
    APIStatusError,
    ConnectError,
    InternalServerError,
    NotFoundError,
    ReadTimeout,
    Timeout,
)
from sdk_transports import AsyncClient, Client, HttpcoreTransport, SocketTransport

pytestmark = pytest.mark.integration

SECRET = "sk-httpbin-key"


class Sleeps:
    """An injected sleep that records the waits and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.calls.append(seconds)


def header(echoed: dict[str, Any], name: str) -> str | None:
    """A header httpbin echoed back, looked up without regard to case."""
    for key, value in echoed["headers"].items():
        if key.lower() == name.lower():
            return str(value)
    return None


def test_get_params_are_echoed(httpbin: Any) -> None:
    with Client(httpbin.url) as client:
        response = client.get("/get", params={"q": "a b", "tags": ["x", "y"], "flag": True})
    assert response.status_code == 200
    assert response.json()["args"] == {"q": "a b", "tags": ["x", "y"], "flag": "true"}
    assert response.attempts == 1


@pytest.mark.anyio
async def test_get_params_are_echoed_async(httpbin: Any) -> None:
    async with AsyncClient(httpbin.url) as client:
        response = await client.get("/get", params={"q": "a b", "n": 3})
    assert response.json()["args"] == {"q": "a b", "n": "3"}


def test_post_json_is_echoed_with_its_content_type(httpbin: Any) -> None:
    payload = {"name": "café", "items": [1, 2, 3], "nested": {"ok": True}}
    with Client(httpbin.url) as client:
        echoed = client.post("/post", json=payload).json()
    assert echoed["json"] == payload
    assert header(echoed, "Content-Type") == "application/json"


@pytest.mark.anyio
async def test_post_json_is_echoed_with_its_content_type_async(httpbin: Any) -> None:
    async with AsyncClient(httpbin.url) as client:
        echoed = (await client.post("/post", json={"a": [1, None]})).json()
    assert echoed["json"] == {"a": [1, None]}
    assert header(echoed, "Content-Type") == "application/json"


def test_headers_sent(httpbin: Any) -> None:
    with Client(httpbin.url, api_key=SECRET, default_headers={"X-Team": "core"}) as client:
        plain = client.get("/headers").json()
        posted = client.post("/anything", json={}).json()
    assert "sdk-core/" in (header(plain, "User-Agent") or "")
    assert header(plain, "Authorization") == f"Bearer {SECRET}"
    assert header(plain, "X-Team") == "core"
    assert header(plain, "Idempotency-Key") is None  # a GET carries no key
    key = header(posted, "Idempotency-Key")
    assert key is not None
    assert len(key) == 36


@pytest.mark.anyio
async def test_headers_sent_async(httpbin: Any) -> None:
    async with AsyncClient(httpbin.url, api_key=SECRET) as client:
        plain = (await client.get("/headers")).json()
        posted = (await client.post("/anything", json={})).json()
    assert "sdk-core/" in (header(plain, "User-Agent") or "")
    assert header(plain, "Authorization") == f"Bearer {SECRET}"
    assert header(posted, "Idempotency-Key") is not None


def test_status_418_raises_api_status_error(httpbin: Any) -> None:
    with Client(httpbin.url) as client, pytest.raises(APIStatusError) as caught:
        client.get("/status/418")
    assert type(caught.value) is APIStatusError
    assert caught.value.status_code == 418
    assert caught.value.attempts == 1
    assert isinstance(caught.value.body, str)
    assert "teapot" in caught.value.body


def test_status_404_raises_not_found(httpbin: Any) -> None:
    with Client(httpbin.url) as client, pytest.raises(NotFoundError) as caught:
        client.get("/status/404")
    assert caught.value.status_code == 404
    assert caught.value.attempts == 1


@pytest.mark.anyio
async def test_status_errors_async(httpbin: Any) -> None:
    async with AsyncClient(httpbin.url) as client:
        with pytest.raises(APIStatusError) as teapot:
            await client.get("/status/418")
        with pytest.raises(NotFoundError):
            await client.get("/status/404")
    assert teapot.value.status_code == 418


def test_status_503_is_retried_max_retries_times(httpbin: Any) -> None:
    sleeps = Sleeps()
    client = Client(httpbin.url, max_retries=2, sleep=sleeps)
    with client, pytest.raises(InternalServerError) as caught:
        client.get("/status/503")
    assert caught.value.status_code == 503
    assert caught.value.attempts == 3
    assert len(sleeps.calls) == 2


@pytest.mark.anyio
async def test_status_503_is_retried_max_retries_times_async(httpbin: Any) -> None:
    sleeps = Sleeps()
    async with AsyncClient(httpbin.url, max_retries=2, sleep=sleeps.asleep) as client:
        with pytest.raises(InternalServerError) as caught:
            await client.get("/status/503")
    assert caught.value.attempts == 3
    assert len(sleeps.calls) == 2


@pytest.mark.parametrize(
    ("path", "flag", "encoding"),
    [("/gzip", "gzipped", "gzip"), ("/deflate", "deflated", "deflate")],
)
def test_compressed_responses_are_decoded(
    httpbin: Any, path: str, flag: str, encoding: str
) -> None:
    with Client(httpbin.url) as client:
        response = client.get(path)
    assert response.headers["Content-Encoding"] == encoding
    body = response.json()
    assert body[flag] is True
    assert "gzip" in (header(body, "Accept-Encoding") or "")


@pytest.mark.anyio
@pytest.mark.parametrize(("path", "flag"), [("/gzip", "gzipped"), ("/deflate", "deflated")])
async def test_compressed_responses_are_decoded_async(httpbin: Any, path: str, flag: str) -> None:
    async with AsyncClient(httpbin.url) as client:
        response = await client.get(path)
    assert response.json()[flag] is True


@pytest.fixture
def drained(httpbin: Any) -> Iterator[Any]:
    """httpbin, waited on after the test until it has finished every queued request.

    pytest-httpbin serves one request at a time, so a /delay request the client gave up
    on would otherwise hold up the tests that follow.
    """
    yield httpbin
    with urllib.request.urlopen(httpbin.url + "/get", timeout=10) as reply:
        assert reply.status == 200


def test_delay_past_the_read_timeout_raises_read_timeout(drained: Any) -> None:
    httpbin = drained
    client = Client(httpbin.url, timeout=Timeout(5.0, read=0.3), max_retries=0)
    with client, pytest.raises(ReadTimeout) as caught:
        client.get("/delay/1")
    assert caught.value.attempts == 1


@pytest.mark.anyio
async def test_delay_past_the_read_timeout_raises_read_timeout_async(drained: Any) -> None:
    httpbin = drained
    async with AsyncClient(httpbin.url, timeout=Timeout(5.0, read=0.3), max_retries=0) as client:
        with pytest.raises(ReadTimeout) as caught:
            await client.get("/delay/1")
    assert caught.value.attempts == 1


def test_brotli_is_decoded_when_a_brotli_package_is_installed(httpbin: Any) -> None:
    if (
        importlib.util.find_spec("brotli") is None
        and importlib.util.find_spec("brotlicffi") is None
    ):
        pytest.skip("neither brotli nor brotlicffi is installed")
    with Client(httpbin.url) as client:
        echoed = client.get("/headers").json()
        response = client.get("/brotli")
    assert "br" in (header(echoed, "Accept-Encoding") or "")
    assert response.json()["brotli"] is True


# TLS and logging -------------------------------------------------------------------------


def test_tls_with_the_servers_ca_and_verification_failure(httpbin_secure: Any) -> None:
    with Client(httpbin_secure.url, verify=pytest_httpbin.certs.where()) as client:
        assert client.get("/get").json()["url"].startswith("https://127.0.0.1:")
    client = Client(httpbin_secure.url, max_retries=0)  # certifi does not know this CA
    with client, pytest.raises(ConnectError) as caught:
        client.get("/get")
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert caught.value.attempts == 1


@pytest.mark.anyio
async def test_tls_with_the_servers_ca_async(httpbin_secure: Any) -> None:
    async with AsyncClient(httpbin_secure.url, verify=pytest_httpbin.certs.where()) as client:
        assert (await client.get("/get")).status_code == 200
    async with AsyncClient(httpbin_secure.url, max_retries=0) as client:
        with pytest.raises(ConnectError):
            await client.get("/get")


@pytest.mark.parametrize("transport", [HttpcoreTransport, SocketTransport])
def test_api_key_is_in_no_log_record_of_any_logger(
    httpbin: Any, caplog: pytest.LogCaptureFixture, transport: Any
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: httpcore's trace lines included
    with Client(
        httpbin.url, api_key=SECRET, max_retries=1, sleep=Sleeps(), transport=transport()
    ) as client:
        assert header(client.get("/headers").json(), "Authorization") == f"Bearer {SECRET}"
        with pytest.raises(InternalServerError):
            client.post("/status/500", json={"a": 1})
    names = {record.name for record in caplog.records}
    assert "sdk_transports" in names
    if transport is HttpcoreTransport:
        assert "httpcore.http11" in names
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    assert any("retrying in" in record.getMessage() for record in caplog.records)
