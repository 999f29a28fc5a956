"""A client's configuration in the core: settings checked once (``ClientConfig.create``),
changed by ``derive`` (``with_options``), and applied to each call (``prepare``).

Every bad value raises ``InvalidRequestError`` (a keyword that does not exist
``TypeError``) naming what is wrong, before a request exists; none echoes an API key.
No I/O: a "file" here is an object with ``read`` that is never read.
"""

from __future__ import annotations

from typing import Any

import pytest
from _config_doubles import ASYNC, SYNC, Bridged, FakeFile, Pieces
from hypothesis import given
from hypothesis import strategies as st

from sdk_core import (
    NOT_GIVEN,
    URL,
    CallOptions,
    Headers,
    InvalidRequestError,
    RetryPolicy,
    Timeout,
    supported_encodings,
)
from sdk_core._client_config import DEFAULT_USER_AGENT, URL_CACHE_SIZE
from sdk_core.lowlevel import (
    CALL_OPTION_KEYWORDS,
    DEFAULT_REDACTION,
    ClientConfig,
    ClientOptions,
    RequestKwargs,
)

BASE = "https://api.example.com/v1"
SECRET = "sk-zQsecret"


def make(**settings: Any) -> ClientConfig:
    settings.setdefault("base_url", BASE)
    settings.setdefault("content", SYNC)
    return ClientConfig.create(**settings)


# ---------------------------------------------------------------------------------------
# create


def test_create_with_defaults() -> None:
    config = make()
    assert config.base_url == URL.parse(BASE)
    assert config.headers["Accept"] == "application/json"
    assert config.headers["Accept-Encoding"] == ", ".join(supported_encodings())
    assert config.headers["User-Agent"] == DEFAULT_USER_AGENT
    assert "Authorization" not in config.headers
    assert config.headers.redaction is DEFAULT_REDACTION
    assert config.options == CallOptions(auth_header="Authorization")
    assert config.options.max_retries is None
    assert (config.has_api_key, config.hooks, config.content) == (False, (), SYNC)
    assert config.caller() == "request"
    assert config.describe() == f"base_url={BASE!r}, api_key=None"


def test_create_with_every_setting() -> None:
    hook = print
    policy = RetryPolicy(max_retries=4)
    config = make(
        api_key=SECRET,
        timeout=3.0,
        max_retries=1,
        retry=policy,
        default_headers={"X-App": "a", "Accept": None},
        user_agent="mine/1",
        caller=lambda: "Mine.get",
        auth_header="X-Key",
        auth_scheme=None,
        request_id_header="X-Trace",
        idempotency_header=None,
        follow_redirects=False,
        max_redirects=0,
        loggable_headers=["X-App"],
        loggable_query_params=["page"],
        sensitive_headers=["X-Private"],
        hooks=[hook],
        content=ASYNC,
    )
    assert config.headers["X-Key"] == SECRET  # no scheme: the key as it is
    assert "Accept" not in config.headers
    assert config.headers["User-Agent"] == "mine/1"
    assert config.options == CallOptions(
        retry=policy,
        timeout=Timeout(3.0),
        max_retries=1,
        idempotency_header=None,
        request_id_header="X-Trace",
        follow_redirects=False,
        max_redirects=0,
        auth_header="X-Key",
    )
    assert (config.hooks, config.caller(), config.content) == ((hook,), "Mine.get", ASYNC)
    redaction = config.headers.redaction
    assert redaction.shows_header("X-App")
    assert redaction.shows_header("X-Trace")
    assert not redaction.shows_header("X-Key")
    assert not redaction.shows_header("X-Private")
    assert config.describe() == f"base_url={BASE!r}, api_key=set"
    assert SECRET not in repr(config.headers)


def test_the_auth_header_is_sensitive_even_when_listed_as_loggable() -> None:
    config = make(api_key=SECRET, loggable_headers=["Authorization"])
    assert not config.headers.redaction.shows_header("Authorization")
    assert config.headers["Authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"base_url": ""}, "base_url must be a non-empty str"),
        ({"base_url": None}, "base_url must be a non-empty str"),
        ({"auth_header": "bad header"}, "auth_header must be a header name"),
        ({"auth_scheme": "a\nb"}, "auth_scheme must be"),
        ({"request_id_header": None}, r"request_id_header must be a header name \(a str\)"),
        ({"idempotency_header": ""}, "idempotency_header must be a header name"),
        ({"hooks": "print"}, "hooks must be an iterable of callables"),
        ({"hooks": 5}, "hooks must be an iterable of callables"),
        ({"hooks": [print, 5]}, "hooks must be callables"),
        ({"loggable_headers": "X-App"}, "loggable_headers"),
        ({"retry": 2}, "retry must be a RetryPolicy"),
        ({"timeout": -1}, "timeout must be a Timeout, a number of seconds >= 0 or None"),
        ({"max_retries": -1}, "max_retries must be an int >= 0"),
        ({"max_retries": None}, "max_retries must be an int >= 0"),
        ({"follow_redirects": 1}, "follow_redirects must be True or False"),
        ({"max_redirects": 1.5}, "max_redirects must be an int >= 0"),
        ({"default_headers": {"X": "a\nb"}}, "X"),
        ({"api_key": ""}, "api_key must be a non-empty str"),
        ({"api_key": 5}, "api_key must be a non-empty str"),
    ],
)
def test_create_refuses_a_bad_setting(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        make(**settings)


@given(st.text(), st.sampled_from("\r\n\x00"), st.text())
def test_a_key_a_header_cannot_hold_is_refused_without_echoing_it(
    head: str, bad: str, tail: str
) -> None:
    key = f"{head}{bad}{tail}"
    with pytest.raises(InvalidRequestError) as caught:
        make(api_key=key)
    assert str(caught.value) == "api_key contains a character a header cannot hold."
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_without_an_auth_header_the_key_is_not_sent() -> None:
    config = make(auth_header=None, api_key=SECRET)
    assert not config.has_api_key
    assert SECRET not in str(config.headers.multi_items())
    assert config.with_api_key("other") is config


def test_with_api_key_replaces_and_removes_the_key() -> None:
    config = make(api_key=SECRET)
    other = config.with_api_key("sk-other", "Token")
    assert other.headers.get_list("Authorization") == ["Token sk-other"]
    removed = other.with_api_key(None)
    assert "Authorization" not in removed.headers
    assert not removed.has_api_key
    assert config.headers["Authorization"] == f"Bearer {SECRET}"  # unchanged


def test_a_subclass_keeps_its_type_through_every_copy() -> None:
    class Mine(ClientConfig):
        __slots__ = ()

    config = Mine.create(base_url=BASE, content=SYNC, api_key=SECRET)
    assert type(config) is Mine
    assert type(config.with_api_key(None)) is Mine
    assert type(config.derive({"max_retries": 1, "base_url": "http://b"})) is Mine


# ---------------------------------------------------------------------------------------
# derive (with_options)


def test_derive_with_nothing_is_the_same_config() -> None:
    config = make()
    assert config.derive({}) is config


def test_derive_replaces_options_and_merges_headers() -> None:
    config = make(api_key=SECRET, default_headers={"X-A": "1", "X-B": "2"}, max_retries=3)
    policy = RetryPolicy(max_retries=9)
    options: ClientOptions = {
        "base_url": "http://other.test/v2",
        "api_key": "sk-new",
        "timeout": None,
        "max_retries": 0,
        "retry": policy,
        "default_headers": {"X-A": None, "X-C": "3"},
        "follow_redirects": False,
        "max_redirects": 2,
    }
    derived = config.derive(options)
    assert derived.base_url == URL.parse("http://other.test/v2")
    assert derived.headers["Authorization"] == "Bearer sk-new"
    assert "X-A" not in derived.headers
    assert (derived.headers["X-B"], derived.headers["X-C"]) == ("2", "3")
    assert derived.options == CallOptions(
        retry=policy,
        timeout=Timeout(None),
        max_retries=0,
        follow_redirects=False,
        max_redirects=2,
        auth_header="Authorization",
    )
    assert config.options.max_retries == 3  # the original is untouched
    assert derived.derive({"api_key": None}).has_api_key is False
    assert derived.derive({"retry": None}).options.retry == RetryPolicy()


def test_derive_keeps_the_auth_scheme() -> None:
    config = make(auth_scheme="Token")
    assert config.derive({"api_key": SECRET}).headers["Authorization"] == f"Token {SECRET}"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"base_url": ""}, "base_url must be a non-empty str"),
        ({"timeout": "5"}, "timeout"),
        ({"max_retries": None}, "max_retries must be an int >= 0"),
        ({"retry": "default"}, "retry must be a RetryPolicy"),
        ({"follow_redirects": None}, "follow_redirects must be True or False"),
        ({"max_redirects": -1}, "max_redirects must be an int >= 0"),
        ({"api_key": ""}, "api_key must be a non-empty str"),
    ],
)
def test_derive_refuses_a_bad_option(options: Any, message: str) -> None:
    with pytest.raises((InvalidRequestError, TypeError), match=message):
        make().derive(options)


# ---------------------------------------------------------------------------------------
# prepare


def test_prepare_a_plain_call_builds_and_caches_the_url() -> None:
    config = make()
    request, options = config.prepare("GET", "/items", {})
    assert str(request.url) == f"{BASE}/items"
    assert request.method == "GET"
    assert request.content == b""
    assert request.headers == config.headers
    assert options is config.options
    assert config.urls["/items"] is request.url
    again, _ = config.prepare("GET", "/items", {})
    assert again.url is request.url


def test_prepare_with_params_does_not_cache_the_url() -> None:
    config = make()
    request, options = config.prepare("GET", "/items", {"params": {"page": 2}})
    assert request.url.target.endswith("/items?page=2")
    assert "/items" not in config.urls
    assert options is config.options
    cached, _ = config.prepare("GET", "/items", {})
    with_params, _ = config.prepare("GET", "/items", {"params": [("a", "1")]})
    assert with_params.url.target.endswith("/items?a=1")
    assert cached.url.target.endswith("/items")


def test_prepare_with_a_cached_path_and_other_keywords_reuses_the_url() -> None:
    config = make()
    first, _ = config.prepare("GET", "/items", {})
    request, _ = config.prepare("GET", "/items", {"headers": {"X-One": "1"}})
    assert request.url is first.url
    assert request.headers["X-One"] == "1"


def test_the_url_cache_is_emptied_when_it_is_full() -> None:
    config = make()
    for n in range(URL_CACHE_SIZE):
        config.prepare("GET", f"/p{n}", {})
    assert len(config.urls) == URL_CACHE_SIZE
    config.prepare("GET", "/one-more", {})
    assert list(config.urls) == ["/one-more"]


def test_prepare_refuses_a_path_that_is_not_a_str() -> None:
    with pytest.raises(InvalidRequestError):
        make().prepare("GET", b"/items", {})  # type: ignore[arg-type]


def test_prepare_names_the_caller_of_a_misspelt_keyword() -> None:
    config = make(caller=lambda: "Client.post")
    with pytest.raises(TypeError, match=r"^Client.post\(\) got .* 'jsn'; did you mean 'json'\?$"):
        config.prepare("POST", "/items", {"jsn": {}})  # type: ignore[typeddict-unknown-key]


def test_prepare_a_json_body() -> None:
    request, _ = make().prepare("POST", "/items", {"json": {"a": [1, "é"]}})
    assert request.content == '{"a":[1,"é"]}'.encode()
    assert request.headers["Content-Type"] == "application/json"
    request, _ = make().prepare(
        "POST", "/items", {"json": [], "headers": {"Content-Type": "application/x+json"}}
    )
    assert request.headers["Content-Type"] == "application/x+json"


def test_prepare_json_none_is_no_body() -> None:
    request, _ = make().prepare("POST", "/items", {"json": None})
    assert request.content == b""
    assert "Content-Type" not in request.headers


def test_prepare_content_goes_through_the_adapter() -> None:
    config = make()
    assert config.prepare("PUT", "/f", {"content": b"raw"})[0].content == b"raw"
    assert config.prepare("PUT", "/f", {"content": "é"})[0].content == "é".encode()
    file = FakeFile()
    body = config.prepare("PUT", "/f", {"content": file})[0].content  # type: ignore[typeddict-item]
    assert isinstance(body, Pieces)
    assert body.file is file
    body = make(content=ASYNC).prepare("PUT", "/f", {"content": [b"a"]})[0].content
    assert isinstance(body, Bridged)
    with pytest.raises(InvalidRequestError, match="not int"):
        config.prepare("PUT", "/f", {"content": 5})  # type: ignore[typeddict-item]


def test_prepare_refuses_json_and_content_together() -> None:
    with pytest.raises(InvalidRequestError, match="either json or content"):
        make().prepare("POST", "/items", {"json": {}, "content": b"x"})


def test_prepare_per_call_headers_replace_and_remove() -> None:
    config = make(api_key=SECRET)
    request, _ = config.prepare("GET", "/x", {"headers": {"Authorization": None, "X-A": "1"}})
    assert "Authorization" not in request.headers
    assert request.headers["X-A"] == "1"
    assert request.headers.redaction is config.headers.redaction


def test_prepare_call_options() -> None:
    config = make(max_retries=3, timeout=Timeout(7.0))
    kwargs: RequestKwargs = {
        "timeout": 1.5,
        "max_retries": 0,
        "idempotency_key": "key-1",
        "follow_redirects": False,
        "max_redirects": 9,
    }
    _, options = config.prepare("POST", "/x", kwargs)
    assert options == CallOptions(
        timeout=Timeout(1.5),
        max_retries=0,
        idempotency_key="key-1",
        follow_redirects=False,
        max_redirects=9,
        auth_header="Authorization",
    )
    assert config.options.max_retries == 3


def test_prepare_none_keeps_the_clients_option_but_timeout_none_is_no_limit() -> None:
    config = make(max_retries=3, timeout=Timeout(7.0))
    kwargs: RequestKwargs = {
        "max_retries": None,
        "idempotency_key": None,
        "follow_redirects": None,
        "max_redirects": None,
    }
    assert config.prepare("GET", "/x", kwargs)[1] is config.options
    _, options = config.prepare("GET", "/x", {"timeout": None})
    assert options.timeout == Timeout(None)
    assert options.max_retries == 3


def test_call_options_treat_not_given_as_left_out() -> None:
    config = make(max_retries=3)
    kwargs: Any = dict.fromkeys(CALL_OPTION_KEYWORDS, NOT_GIVEN)
    assert config.call_options(kwargs) is config.options


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": -1.0}, "timeout must be a Timeout"),
        ({"max_retries": -1}, "max_retries must be an int >= 0"),
        ({"max_retries": True}, "max_retries must be an int >= 0"),
        ({"idempotency_key": ""}, "idempotency_key must be a non-empty str"),
        ({"idempotency_key": "a\r\nb"}, "a header cannot hold"),
        ({"follow_redirects": "yes"}, "follow_redirects must be True or False, not str"),
        ({"max_redirects": -2}, "max_redirects must be an int >= 0"),
        ({"headers": {"X": "a\r\nb"}}, "X"),
        ({"params": {"a": object()}}, "a"),
    ],
)
def test_prepare_refuses_a_bad_call_value(kwargs: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        make().prepare("GET", "/x", kwargs)


def test_describe_hides_the_query_values_of_the_base_url() -> None:
    config = make(base_url=f"{BASE}?token={SECRET}")
    assert SECRET not in config.describe()


def test_headers_are_a_value() -> None:
    config = make()
    assert isinstance(config.headers, Headers)
    assert config == make()
    assert config is not make()
