"""SocketTransport and AnyioTransport on real sockets: responses without a body (HEAD, 204,
304), Content-Encoding, and the size bounds; directly and through the clients, on
threads, asyncio and trio."""

from __future__ import annotations

import pytest
from _socket_users import EMPTY, GZIP_TEXT, VIA, async_user, check_error, sync_user
from _support.raw_server import RawServer

from sdk_core import PoolStatistics, ResponseTooLargeError

pytestmark = pytest.mark.timeout(30)

# -- responses without a body, encodings, size bounds -----------------------------------

NO_BODY_CALLS = [("HEAD", "/"), ("GET", "/204"), ("GET", "/304")]


@pytest.mark.parametrize("via", VIA)
def test_sync_no_body_responses_leave_the_connection_reusable(routes: RawServer, via: str) -> None:
    with sync_user(routes.url, via) as user:
        for method, path in NO_BODY_CALLS:
            response = user.request(method, path)
            assert response.content == b""
            assert response.headers["content-length"] == "1000"
            assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
        assert user.request("GET", "/next").content == b"after"
        assert routes.connections == 1


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_no_body_responses_leave_the_connection_reusable(
    routes: RawServer, via: str
) -> None:
    async with async_user(routes.url, via) as user:
        for method, path in NO_BODY_CALLS:
            response = await user.request(method, path)
            assert response.content == b""
            assert response.headers["content-length"] == "1000"
            assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)
        assert (await user.request("GET", "/next")).content == b"after"
        assert routes.connections == 1


@pytest.mark.parametrize("via", VIA)
def test_sync_gzip_body_is_decoded(routes: RawServer, via: str) -> None:
    with sync_user(routes.url, via) as user:
        response = user.request("GET", "/gzip")
        assert response.content == GZIP_TEXT
        assert response.headers["content-encoding"] == "gzip"
        assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_gzip_body_is_decoded(routes: RawServer, via: str) -> None:
    async with async_user(routes.url, via) as user:
        response = await user.request("GET", "/gzip")
        assert response.content == GZIP_TEXT
        assert user.statistics() == PoolStatistics(in_use=0, idle=1, waiting=0)


def test_client_advertises_gzip(routes: RawServer) -> None:
    with sync_user(routes.url, "client") as user:
        user.request("GET", "/")
    assert b"gzip" in routes.requests[0].lower().split(b"accept-encoding:")[1].split(b"\r\n")[0]


@pytest.mark.parametrize("via", VIA)
def test_sync_max_response_size(routes: RawServer, via: str) -> None:
    with sync_user(routes.url, via, max_response_size=1000) as user:
        assert len(user.request("GET", "/sized/1000").content) == 1000  # exactly the bound
        with pytest.raises(ResponseTooLargeError) as info:
            user.request("GET", "/sized/1001")
        check_error(info.value, via)
        assert user.statistics() == EMPTY  # the rest of the body was never read: dropped
        assert user.request("GET", "/sized/10").content == b"x" * 10
        assert routes.connections == 2


@pytest.mark.anyio
@pytest.mark.parametrize("via", VIA)
async def test_async_max_response_size(routes: RawServer, via: str) -> None:
    async with async_user(routes.url, via, max_response_size=1000) as user:
        assert len((await user.request("GET", "/sized/1000")).content) == 1000
        with pytest.raises(ResponseTooLargeError) as info:
            await user.request("GET", "/sized/1001")
        check_error(info.value, via)
        assert user.statistics() == EMPTY
        assert (await user.request("GET", "/sized/10")).content == b"x" * 10
        assert routes.connections == 2
