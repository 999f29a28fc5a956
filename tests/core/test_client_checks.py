"""The checks behind a client's settings and calls, in the core: each value check
returns the value or raises ``InvalidRequestError`` naming the setting; a keyword that
does not exist is a ``TypeError`` naming the closest one; ``content=`` becomes a body
through a ``ContentAdapter`` (which never reads a file itself).
"""

from __future__ import annotations

import io
from collections.abc import AsyncGenerator

import pytest
from _config_doubles import ASYNC, SYNC, Bridged, FakeFile, Pieces

from sdk_core import InvalidRequestError, Limits, RetryPolicy
from sdk_core._checks import (
    check_auth_scheme,
    check_base_url,
    check_header_name,
    check_idempotency_key,
    check_retry_policy,
)
from sdk_core.lowlevel import (
    CALL_OPTION_KEYWORDS,
    CLIENT_OPTION_KEYWORDS,
    CLIENT_SETTING_KEYWORDS,
    REQUEST_KEYWORDS,
    ClientOptions,
    ContentAdapter,
    RequestKwargs,
    check_bool,
    check_limits,
    check_settings,
    check_size,
    unexpected_keyword,
)

BASE = "https://api.example.com/v1"


async def _agen() -> AsyncGenerator[bytes, None]:
    yield b"x"


# ---------------------------------------------------------------------------------------
# value checks


@pytest.mark.parametrize("value", [True, False])
def test_check_bool_returns_a_bool(value: bool) -> None:
    assert check_bool("flag", value) is value


@pytest.mark.parametrize("value", [1, 0, None, "yes"])
def test_check_bool_refuses_anything_else(value: object) -> None:
    with pytest.raises(
        InvalidRequestError, match=f"flag must be True or False, not {type(value).__name__}"
    ):
        check_bool("flag", value)


def test_check_size_returns_an_int_at_or_above_its_least() -> None:
    assert check_size("n", 0) == 0
    assert check_size("n", 3, least=3) == 3


@pytest.mark.parametrize(("value", "least"), [(True, 0), (1.0, 0), ("1", 0), (-1, 0), (2, 3)])
def test_check_size_refuses_a_bool_a_non_int_and_a_small_int(value: object, least: int) -> None:
    with pytest.raises(InvalidRequestError, match=f"n must be an int >= {least}"):
        check_size("n", value, least)


def test_check_base_url() -> None:
    assert check_base_url(BASE) == BASE
    for value in ("", None, b"https://x"):
        with pytest.raises(InvalidRequestError, match="base_url must be a non-empty str"):
            check_base_url(value)


def test_check_idempotency_key() -> None:
    assert check_idempotency_key("key-1 \tä") == "key-1 \tä"
    for blank in ("", " \t", 5, None):
        with pytest.raises(InvalidRequestError, match="non-empty str"):
            check_idempotency_key(blank)
    for bad in ("a\r\nb", "a\x00", "a\x7f", "snow\u2603"):
        with pytest.raises(InvalidRequestError, match="a header cannot hold"):
            check_idempotency_key(bad)


def test_check_header_name() -> None:
    check_header_name("h", "X-Name", optional=False)
    check_header_name("h", None, optional=True)
    with pytest.raises(InvalidRequestError, match=r"h must be a header name \(a str\)"):
        check_header_name("h", None, optional=False)
    with pytest.raises(InvalidRequestError, match=r"h must be a header name \(a str or None\)"):
        check_header_name("h", "bad name", optional=True)


def test_check_auth_scheme() -> None:
    check_auth_scheme(None)
    check_auth_scheme("Token")
    for bad in ("", "a\nb", 3):
        with pytest.raises(InvalidRequestError, match="auth_scheme must be"):
            check_auth_scheme(bad)


def test_check_retry_policy() -> None:
    assert check_retry_policy(None) == RetryPolicy()
    policy = RetryPolicy(max_retries=7)
    assert check_retry_policy(policy) is policy
    with pytest.raises(InvalidRequestError, match="retry must be a RetryPolicy or None, not int"):
        check_retry_policy(3)


def test_check_limits() -> None:
    check_limits(None)
    check_limits(Limits())
    with pytest.raises(InvalidRequestError, match="limits must be a Limits or None, not dict"):
        check_limits({})


# ---------------------------------------------------------------------------------------
# keywords


def test_the_keyword_sets_follow_the_typed_dicts() -> None:
    assert RequestKwargs.__optional_keys__ == REQUEST_KEYWORDS
    assert CALL_OPTION_KEYWORDS < REQUEST_KEYWORDS
    assert ClientOptions.__optional_keys__ == CLIENT_OPTION_KEYWORDS
    assert {"auth_header", "hooks", "sensitive_headers"} < CLIENT_SETTING_KEYWORDS


def test_unexpected_keyword_names_the_closest_known_one() -> None:
    error = unexpected_keyword({"json": 1, "hedaers": 2}, REQUEST_KEYWORDS, "Client.get")
    assert str(error) == (
        "Client.get() got an unexpected keyword argument 'hedaers'; did you mean 'headers'?"
    )
    error = unexpected_keyword(["zzz"], REQUEST_KEYWORDS, "request")
    assert str(error) == "request() got an unexpected keyword argument 'zzz'"
    error = unexpected_keyword(["max_page"], REQUEST_KEYWORDS, "paginate", ["max_pages"])
    assert str(error).endswith("did you mean 'max_pages'?")


class Settled:
    def __init__(self, base_url: str, *, transport: object = None, **settings: object) -> None:
        check_settings(self, settings)


def test_check_settings_names_a_parameter_or_a_setting() -> None:
    Settled("x", auth_header="X-Key", hooks=())
    message = (
        r"^Settled\(\) got an unexpected keyword argument 'transprt'; did you mean 'transport'"
    )
    with pytest.raises(TypeError, match=message):
        Settled("x", transprt=1)
    with pytest.raises(TypeError, match="did you mean 'auth_scheme'"):
        Settled("x", auth_schem="Token")


# ---------------------------------------------------------------------------------------
# content


def test_content_bytes_and_str_go_as_they_are() -> None:
    for adapter in (SYNC, ASYNC):
        assert adapter.body(b"raw") == b"raw"
        assert adapter.body("text") == "text"
        copied = adapter.body(bytearray(b"ba"))
        assert copied == b"ba"
        assert type(copied) is bytes
        assert adapter.body(memoryview(b"mv")) == b"mv"


def test_sync_content_reads_a_file_through_read_file_and_keeps_an_iterable() -> None:
    file = FakeFile()
    body = SYNC.body(file)
    assert isinstance(body, Pieces)
    assert body.file is file
    pieces = [b"a", b"b"]
    assert SYNC.body(pieces) is pieces


def test_sync_content_refuses_an_async_iterable() -> None:
    stream = _agen()
    with pytest.raises(InvalidRequestError, match="use AsyncClient"):
        SYNC.body(stream)
    stream.aclose().close()


def test_async_content_bridges_files_and_sync_iterables_and_keeps_async_ones() -> None:
    stream = _agen()
    assert ASYNC.body(stream) is stream
    stream.aclose().close()
    file = FakeFile()
    bridged = ASYNC.body(file)
    assert isinstance(bridged, Bridged)
    assert isinstance(bridged.iterable, Pieces)
    assert bridged.iterable.file is file
    pieces = (b"a",)
    bridged = ASYNC.body(pieces)
    assert isinstance(bridged, Bridged)
    assert bridged.iterable is pieces


@pytest.mark.parametrize("adapter", [SYNC, ASYNC])
def test_content_refuses_a_text_file(adapter: ContentAdapter) -> None:
    with pytest.raises(InvalidRequestError, match=r"binary mode \('rb'\)"):
        adapter.body(io.StringIO("text"))


@pytest.mark.parametrize(
    ("adapter", "kinds"), [(SYNC, "bytes,"), (ASYNC, "bytes or an async iterable of bytes,")]
)
def test_content_refuses_other_kinds_and_points_a_mapping_to_json(
    adapter: ContentAdapter, kinds: str
) -> None:
    with pytest.raises(InvalidRequestError, match=f"iterable of {kinds} not int.$"):
        adapter.body(5)
    with pytest.raises(InvalidRequestError, match=r"not dict \(json= sends a JSON body\)"):
        adapter.body({"a": 1})
