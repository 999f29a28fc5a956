"""Redirects through Client and AsyncClient: MockTransport first, then real servers.

The real-server tests use pytest-httpbin's ``httpbin`` (and ``httpbin_secure``) and the
``ScenarioApp`` server of ``sdk_transports.testing`` as a second origin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import pytest_httpbin.certs

from sdk_core import (
    InvalidRequestError,
    NotFoundError,
    RedirectError,
    Request,
    Response,
    TooManyRedirects,
)
from sdk_transports import AsyncClient, Client, MockTransport
from sdk_transports.testing import ScenarioApp, ServerHandle

BASE = "https://api.example.test/v1"
SECRET = "sk-live-Zq8pX3TOPSECRET"
CREDENTIALS = ("authorization", "proxy-authorization", "cookie", "x-service-token")


class Router:
    """A MockTransport handler: ``routes`` maps a full URL to a response factory."""

    def __init__(self, routes: dict[str, Callable[[Request], Response]]) -> None:
        self.routes = routes
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        route = self.routes.get(str(request.url))
        return route(request) if route is not None else Response(404, content=b"{}")


def moved(location: str, status: int = 302) -> Callable[[Request], Response]:
    return lambda _: Response(status, headers={"Location": location})


def ok(request: Request) -> Response:
    return Response(200, content=b'{"ok": true}')


def sync_client(router: Router, **kwargs: Any) -> Client:
    return Client(BASE, transport=MockTransport(router), **kwargs)


def async_client(router: Router, **kwargs: Any) -> AsyncClient:
    return AsyncClient(BASE, transport=MockTransport(router), **kwargs)


def credentials(request: Request) -> list[str]:
    return [name for name in request.headers if name.lower() in CREDENTIALS]


def chain_router() -> Router:
    return Router(
        {
            f"{BASE}/a": moved("/v1/b", 301),
            f"{BASE}/b": moved("c", 308),
            f"{BASE}/c": ok,
        }
    )


# MockTransport: following -------------------------------------------------------------


def test_a_chain_is_followed_sync() -> None:
    router = chain_router()
    with sync_client(router, api_key=SECRET) as client:
        response = client.get("/a")
    assert response.status_code == 200
    assert (response.attempts, response.redirects) == (1, 2)
    assert [r.url.target for r in router.requests] == ["/v1/a", "/v1/b", "/v1/c"]
    assert all(r.headers["Authorization"] == f"Bearer {SECRET}" for r in router.requests)
    assert response.request is router.requests[-1]


@pytest.mark.anyio
async def test_a_chain_is_followed_async() -> None:
    router = chain_router()
    async with async_client(router, api_key=SECRET) as client:
        response = await client.get("/a")
    assert (response.status_code, response.attempts, response.redirects) == (200, 1, 2)
    assert [r.url.target for r in router.requests] == ["/v1/a", "/v1/b", "/v1/c"]


def see_other_router() -> Router:
    return Router(
        {
            f"{BASE}/orders": moved("/v1/orders/1", 303),
            f"{BASE}/orders/1": ok,
            f"{BASE}/upload": moved("/v1/upload-here", 307),
            f"{BASE}/upload-here": ok,
        }
    )


def check_see_other_and_temporary(router: Router) -> None:
    post, get, post_again, post_moved = router.requests
    assert (post.method, get.method) == ("POST", "GET")
    assert get.content == b""
    for name in ("Content-Length", "Content-Type", "Transfer-Encoding"):
        assert name not in get.headers
    assert (post_again.method, post_moved.method) == ("POST", "POST")
    assert post_moved.content == post_again.content == b'{"n":1}'
    assert post_moved.headers["Content-Type"] == "application/json"
    # The call's generated idempotency key travels with the redirected request.
    assert post_moved.headers["Idempotency-Key"] == post_again.headers["Idempotency-Key"]


def test_303_becomes_get_and_307_keeps_the_body_sync() -> None:
    router = see_other_router()
    with sync_client(router) as client:
        assert client.post("/orders", json={"n": 1}).redirects == 1
        assert client.post("/upload", json={"n": 1}).redirects == 1
    check_see_other_and_temporary(router)


@pytest.mark.anyio
async def test_303_becomes_get_and_307_keeps_the_body_async() -> None:
    router = see_other_router()
    async with async_client(router) as client:
        assert (await client.post("/orders", json={"n": 1})).redirects == 1
        assert (await client.post("/upload", json={"n": 1})).redirects == 1
    check_see_other_and_temporary(router)


def stream() -> Iterator[bytes]:
    yield b"chunk"


def test_307_with_a_one_shot_body_raises_sync() -> None:
    router = Router({f"{BASE}/upload": moved("/v1/elsewhere", 307)})
    with sync_client(router) as client, pytest.raises(RedirectError) as caught:
        client.put("/upload", content=stream())  # type: ignore[arg-type]
    error = caught.value
    assert type(error) is RedirectError
    assert (error.status_code, error.attempts, error.location) == (307, 1, "/v1/elsewhere")
    assert len(router.requests) == 1


@pytest.mark.anyio
async def test_307_with_a_one_shot_body_raises_async() -> None:
    router = Router({f"{BASE}/upload": moved("/v1/elsewhere", 308)})
    async with async_client(router) as client:
        with pytest.raises(RedirectError) as caught:
            await client.put("/upload", content=stream())  # type: ignore[arg-type]
    assert caught.value.status_code == 308
    assert len(router.requests) == 1


# MockTransport: credentials ------------------------------------------------------------


def cross_origin_router() -> Router:
    return Router(
        {
            f"{BASE}/me": moved("https://other.example.test/me", 307),
            "https://other.example.test/me": ok,
            f"{BASE}/insecure": moved("http://api.example.test/v1/insecure"),
            "http://api.example.test/v1/insecure": ok,
            f"{BASE}/same": moved("/v1/same-here"),
            f"{BASE}/same-here": ok,
        }
    )


CLIENT_CREDENTIALS: dict[str, Any] = {
    "api_key": SECRET,
    "auth_header": "X-Service-Token",
    "auth_scheme": None,
    "default_headers": {"Authorization": "Basic dXNlcjpwYXNz", "Cookie": "session=1"},
}


def check_cross_origin(router: Router) -> None:
    first, moved_away, insecure_first, downgraded, same_first, same_moved = router.requests
    for sent in (first, insecure_first, same_first, same_moved):
        assert sorted(credentials(sent)) == ["Authorization", "Cookie", "X-Service-Token"]
        assert sent.headers["X-Service-Token"] == SECRET
    for sent in (moved_away, downgraded):
        assert credentials(sent) == []
        assert SECRET not in repr(sent.headers.multi_items())
    assert downgraded.url.scheme == "http"


def test_credentials_do_not_cross_origins_sync() -> None:
    router = cross_origin_router()
    with sync_client(router, **CLIENT_CREDENTIALS) as client:
        for path in ("/me", "/insecure", "/same"):
            assert client.get(path).redirects == 1
    check_cross_origin(router)


@pytest.mark.anyio
async def test_credentials_do_not_cross_origins_async() -> None:
    router = cross_origin_router()
    async with async_client(router, **CLIENT_CREDENTIALS) as client:
        for path in ("/me", "/insecure", "/same"):
            assert (await client.get(path)).redirects == 1
    check_cross_origin(router)


# MockTransport: limits and options ------------------------------------------------------


def loop_router() -> Router:
    return Router({f"{BASE}/loop": moved("/v1/loop")})


def test_a_loop_raises_too_many_redirects_sync() -> None:
    router = loop_router()
    with sync_client(router, max_redirects=3) as client, pytest.raises(TooManyRedirects) as caught:
        client.get("/loop")
    error = caught.value
    assert (error.attempts, error.status_code, error.response.redirects) == (1, 302, 3)
    assert len(router.requests) == 4
    router = loop_router()
    with sync_client(router) as client, pytest.raises(TooManyRedirects):
        client.get("/loop")
    assert len(router.requests) == 6  # the default: 5 redirects


@pytest.mark.anyio
async def test_a_loop_raises_too_many_redirects_async() -> None:
    router = loop_router()
    async with async_client(router, max_redirects=1) as client:
        with pytest.raises(TooManyRedirects) as caught:
            await client.get("/loop")
    assert (caught.value.attempts, caught.value.response.redirects) == (1, 1)
    assert len(router.requests) == 2


@pytest.mark.parametrize(
    "options", [{"max_redirects": 0}, {"follow_redirects": False}], ids=["zero", "off"]
)
def test_following_can_be_turned_off_sync(options: dict[str, Any]) -> None:
    router = loop_router()
    with sync_client(router, **options) as client:
        response = client.get("/loop")
    assert (response.status_code, response.redirects, response.attempts) == (302, 0, 1)
    assert response.headers["Location"] == "/v1/loop"
    assert len(router.requests) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    "options", [{"max_redirects": 0}, {"follow_redirects": False}], ids=["zero", "off"]
)
async def test_following_can_be_turned_off_async(options: dict[str, Any]) -> None:
    router = loop_router()
    async with async_client(router, **options) as client:
        response = await client.get("/loop")
    assert (response.status_code, response.redirects) == (302, 0)
    assert len(router.requests) == 1


@pytest.mark.parametrize("value", [-1, True, 2.0, "3", None])
def test_max_redirects_is_checked(value: object) -> None:
    with pytest.raises(InvalidRequestError, match="max_redirects"):
        Client(BASE, max_redirects=value)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="max_redirects"):
        AsyncClient(BASE, max_redirects=value)  # type: ignore[arg-type]


def test_with_options_keeps_the_redirect_settings() -> None:
    router = loop_router()
    with sync_client(router, follow_redirects=False) as client:
        copy = client.with_options(max_retries=0)
        assert copy.get("/loop").status_code == 302


def test_an_invalid_location_raises_sync() -> None:
    router = Router({f"{BASE}/bad": moved("ftp://files.example.test/x")})
    with sync_client(router) as client, pytest.raises(RedirectError) as caught:
        client.get("/bad")
    assert type(caught.value) is RedirectError
    assert caught.value.location == "ftp://files.example.test/x"
    assert "not a valid http(s) URL" in str(caught.value)


@pytest.mark.anyio
async def test_an_invalid_location_raises_async() -> None:
    router = Router({f"{BASE}/bad": moved("http://exa mple.test/")})
    async with async_client(router) as client:
        with pytest.raises(RedirectError):
            await client.get("/bad")


def test_a_status_error_after_a_redirect_sync() -> None:
    router = Router({f"{BASE}/old": moved("/v1/missing")})
    with sync_client(router) as client, pytest.raises(NotFoundError) as caught:
        client.get("/old")
    assert (caught.value.attempts, caught.value.response.redirects) == (1, 1)


def test_redirects_are_logged_without_query_strings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sdk_transports")
    router = Router(
        {
            f"{BASE}/a?token=t0p": moved("https://other.example.test/b?sig=s3cret", 307),
            "https://other.example.test/b?sig=s3cret": ok,
            f"{BASE}/bad": moved("ftp://x/"),
        }
    )
    with sync_client(router, api_key=SECRET) as client:
        client.get("/a", params={"token": "t0p"})
        with pytest.raises(RedirectError):
            client.get("/bad")
    messages = [r.getMessage() for r in caplog.records if r.name == "sdk_transports"]
    # The attempt lines belong to log_attempt (its query redaction is tested elsewhere);
    # the redirect lines show no query at all.
    assert [m.split("?")[0].split(" attempt")[0] for m in messages] == [
        "HTTP GET https://api.example.test/v1/a",
        "307: GET https://other.example.test/b because the server redirected; "
        "the method and body are kept",
        "HTTP GET https://other.example.test/b",
        "200: not retrying because the response succeeded",
        "HTTP GET https://api.example.test/v1/bad",
        "302: not following because the Location header is not a valid http(s) URL",
    ]
    # The hop to the second URL is still attempt 1: a redirect is not an attempt.
    assert [m.rsplit(" ", 2)[1:] for m in messages if m.startswith("HTTP ")] == [
        ["attempt", "1"]
    ] * 3
    assert not [m for m in messages if "t0p" in m or "s3cret" in m or SECRET in m]


# httpbin (a server nobody here wrote) ---------------------------------------------------


def header(echoed: dict[str, Any], name: str) -> str | None:
    for key, value in echoed["headers"].items():
        if key.lower() == name.lower():
            return str(value)
    return None


@pytest.mark.integration
@pytest.mark.parametrize(
    ("path", "redirects"),
    [("/redirect/3", 3), ("/absolute-redirect/2", 2), ("/relative-redirect/2", 2)],
)
def test_httpbin_redirect_chains_sync(httpbin: Any, path: str, redirects: int) -> None:
    with Client(httpbin.url, api_key=SECRET) as client:
        response = client.get(path)
    assert response.status_code == 200
    assert (response.redirects, response.attempts) == (redirects, 1)
    assert response.json()["url"].endswith("/get")
    assert header(response.json(), "Authorization") == f"Bearer {SECRET}"  # same origin


@pytest.mark.integration
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "redirects"),
    [("/redirect/3", 3), ("/absolute-redirect/2", 2), ("/relative-redirect/2", 2)],
)
async def test_httpbin_redirect_chains_async(httpbin: Any, path: str, redirects: int) -> None:
    async with AsyncClient(httpbin.url) as client:
        response = await client.get(path)
    assert (response.status_code, response.redirects, response.attempts) == (200, redirects, 1)
    assert response.json()["url"].endswith("/get")


@pytest.mark.integration
def test_httpbin_redirect_to_307_and_303_sync(httpbin: Any) -> None:
    with Client(httpbin.url) as client:
        kept = client.post(
            "/redirect-to", params={"url": "/anything", "status_code": 307}, json={"a": 1}
        )
        became_get = client.post(
            "/redirect-to", params={"url": "/anything", "status_code": 303}, json={"a": 1}
        )
        with pytest.raises(TooManyRedirects) as caught:
            client.get("/redirect/6")
    assert kept.json()["method"] == "POST"
    assert kept.json()["json"] == {"a": 1}
    assert became_get.json()["method"] == "GET"
    assert became_get.json()["data"] == ""
    assert header(became_get.json(), "Content-Type") is None
    assert caught.value.response.redirects == 5
    assert caught.value.attempts == 1


@pytest.mark.integration
@pytest.mark.anyio
async def test_httpbin_redirect_to_307_and_303_async(httpbin: Any) -> None:
    async with AsyncClient(httpbin.url, max_redirects=2) as client:
        kept = await client.put(
            "/redirect-to", params={"url": "/anything", "status_code": 307}, json={"a": 1}
        )
        became_get = await client.post(
            "/redirect-to", params={"url": "/anything", "status_code": 303}, json={"a": 1}
        )
        with pytest.raises(TooManyRedirects):
            await client.get("/redirect/3")
    assert (kept.json()["method"], kept.json()["json"]) == ("PUT", {"a": 1})
    assert became_get.json()["method"] == "GET"


def redirect_to(target: str, status: int = 302) -> dict[str, Any]:
    return {"params": {"url": target, "status_code": status}}


def echoed_headers(response: Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.json()["headers"]}


@pytest.mark.integration
@pytest.mark.parametrize("status", [302, 307])
def test_credentials_do_not_reach_a_second_server_sync(
    httpbin: Any, transport_server: ServerHandle[ScenarioApp], status: int
) -> None:
    settings: dict[str, Any] = {
        "api_key": SECRET,
        "default_headers": {"Cookie": "session=1", "Proxy-Authorization": "Basic eA=="},
    }
    with Client(httpbin.url, **settings) as client:
        response = client.get("/redirect-to", **redirect_to(transport_server.url + "/echo", status))
        same = client.get("/redirect-to", **redirect_to("/headers", status))
    assert (response.status_code, response.redirects) == (200, 1)
    assert response.json()["path"] == "/echo"
    received = echoed_headers(response)
    assert not {"authorization", "cookie", "proxy-authorization"} & received.keys()
    assert SECRET not in str(response.json())
    # The same origin keeps them: the stripping is about the origin, not redirects.
    assert header(same.json(), "Authorization") == f"Bearer {SECRET}"


@pytest.mark.integration
@pytest.mark.anyio
async def test_credentials_do_not_reach_a_second_server_async(
    httpbin: Any, transport_server: ServerHandle[ScenarioApp]
) -> None:
    settings: dict[str, Any] = {"api_key": SECRET, "auth_header": "X-Service-Token"}
    async with AsyncClient(httpbin.url, **settings) as client:
        response = await client.get(
            "/redirect-to", **redirect_to(transport_server.url + "/echo", 308)
        )
    assert response.redirects == 1
    assert "x-service-token" not in echoed_headers(response)
    assert SECRET not in str(response.json())


@pytest.mark.integration
def test_https_to_http_drops_credentials(httpbin: Any, httpbin_secure: Any) -> None:
    # A real downgrade: httpbin over TLS redirects to httpbin over plain http.
    with Client(httpbin_secure.url, api_key=SECRET, verify=pytest_httpbin.certs.where()) as client:
        secure = client.get("/headers")
        response = client.get("/redirect-to", **redirect_to(httpbin.url + "/headers", 307))
    assert header(secure.json(), "Authorization") == f"Bearer {SECRET}"
    assert response.redirects == 1
    assert header(response.json(), "Authorization") is None
