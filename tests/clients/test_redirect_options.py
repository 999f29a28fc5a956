"""``follow_redirects`` and ``max_redirects`` per call and through ``with_options``."""

from __future__ import annotations

from typing import Any

import pytest

from sdk_core import InvalidRequestError, Request, Response, TooManyRedirects
from sdk_transports import AsyncClient, Client, MockTransport

BASE = "https://api.example.test"


class Chain:
    """``/r/N`` redirects to ``/r/N-1``; ``/r/0`` answers 200."""

    def __init__(self) -> None:
        self.targets: list[str] = []

    def __call__(self, request: Request) -> Response:
        path = request.url.target
        self.targets.append(path)
        n = int(path.rsplit("/", 1)[1])
        if n == 0:
            return Response(200, content=b'{"ok": true}')
        return Response(302, headers={"Location": f"/r/{n - 1}"})


def _client(chain: Chain, **kwargs: Any) -> Client:
    return Client(BASE, transport=MockTransport(chain), **kwargs)


def _async_client(chain: Chain, **kwargs: Any) -> AsyncClient:
    return AsyncClient(BASE, transport=MockTransport(chain), **kwargs)


# -- sync -------------------------------------------------------------------------------


def test_per_call_follow_redirects_false_returns_the_3xx() -> None:
    chain = Chain()
    with _client(chain) as client:
        response = client.get("/r/2", follow_redirects=False)
        assert response.status_code == 302
        assert chain.targets == ["/r/2"]
        assert client.get("/r/2").status_code == 200  # the client's default is unchanged


def test_per_call_follow_redirects_true_overrides_the_client() -> None:
    chain = Chain()
    with _client(chain, follow_redirects=False) as client:
        assert client.get("/r/1").status_code == 302
        assert client.request("GET", "/r/1", follow_redirects=True).status_code == 200


def test_per_call_max_redirects() -> None:
    chain = Chain()
    with _client(chain) as client:
        with pytest.raises(TooManyRedirects):
            client.get("/r/3", max_redirects=2)
        assert client.get("/r/3", max_redirects=3).status_code == 200
        assert client.get("/r/3", max_redirects=0).status_code == 302
        with pytest.raises(TooManyRedirects):
            client.get("/r/6")  # default 5
        assert client.get("/r/6", max_redirects=6).status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_every_method_takes_the_options(method: str) -> None:
    chain = Chain()
    with _client(chain) as client:
        response = getattr(client, method)("/r/1", follow_redirects=False)
        assert response.status_code == 302


def test_with_options() -> None:
    chain = Chain()
    with _client(chain) as client:
        no_follow = client.with_options(follow_redirects=False)
        assert no_follow.get("/r/1").status_code == 302
        assert no_follow.get("/r/1", follow_redirects=True).status_code == 200
        short = client.with_options(max_redirects=1)
        with pytest.raises(TooManyRedirects):
            short.get("/r/2")
        assert short.get("/r/2", max_redirects=2).status_code == 200
        assert client.get("/r/5").status_code == 200  # the original is unchanged
        # a copy of a copy keeps what it does not override
        assert no_follow.with_options(max_redirects=3).get("/r/1").status_code == 302


@pytest.mark.parametrize("bad", [-1, True, 1.5, "3"])
def test_bad_max_redirects_is_rejected_before_sending(bad: Any) -> None:
    chain = Chain()
    with _client(chain) as client:
        with pytest.raises(InvalidRequestError):
            client.get("/r/0", max_redirects=bad)
        with pytest.raises(InvalidRequestError):
            client.with_options(max_redirects=bad)
    assert chain.targets == []


# -- async ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_per_call_options() -> None:
    chain = Chain()
    async with _async_client(chain) as client:
        assert (await client.get("/r/2", follow_redirects=False)).status_code == 302
        assert (await client.get("/r/2")).status_code == 200
        with pytest.raises(TooManyRedirects):
            await client.request("GET", "/r/3", max_redirects=2)
        assert (await client.post("/r/1", max_redirects=0)).status_code == 302
        with pytest.raises(InvalidRequestError):
            await client.get("/r/0", max_redirects=-1)


@pytest.mark.anyio
async def test_async_with_options() -> None:
    chain = Chain()
    async with _async_client(chain, follow_redirects=False) as client:
        assert (await client.get("/r/1")).status_code == 302
        follow = client.with_options(follow_redirects=True, max_redirects=2)
        assert (await follow.get("/r/2")).status_code == 200
        with pytest.raises(TooManyRedirects):
            await follow.get("/r/3")
        assert (await follow.get("/r/1", follow_redirects=False)).status_code == 302
