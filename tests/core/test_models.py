"""Headers (and CR, LF or NUL injected anywhere), and the configuration values: Timeout,
Limits, RetryPolicy."""

from __future__ import annotations

import codecs
import dataclasses
import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdk_core import (
    NOT_GIVEN,
    URL,
    Headers,
    InvalidRequestError,
    Limits,
    Request,
    Response,
    RetryPolicy,
    Timeout,
    build_url,
    status_error,
)
from sdk_core.lowlevel import MAX_TIMEOUT

BASE = "https://api.example.com"

# ---------------------------------------------------------------------------------------
# Headers


def test_lookup_ignores_case() -> None:
    h = Headers({"Content-Type": "application/json"})
    assert h["content-type"] == h["CONTENT-TYPE"] == "application/json"
    assert "content-TYPE" in h
    assert 42 not in h
    assert h.get("missing") is None
    assert h.first("CONTENT-type") == "application/json"
    assert h.first("missing") is None
    with pytest.raises(KeyError):
        h["missing"]


def test_multiple_values() -> None:
    h = Headers([("Set-Cookie", "a=1"), ("X-A", "1"), ("set-cookie", "b=2")])
    assert h["set-cookie"] == "a=1, b=2"
    assert h.get_list("SET-COOKIE") == ["a=1", "b=2"]
    assert h.get_list("missing") == []
    assert h.first("set-cookie") == "a=1"
    assert h.multi_items() == [("Set-Cookie", "a=1"), ("X-A", "1"), ("set-cookie", "b=2")]
    assert list(h) == ["Set-Cookie", "X-A"]
    assert len(h) == 2
    assert h.raw() == [(b"Set-Cookie", b"a=1"), (b"X-A", b"1"), (b"set-cookie", b"b=2")]


def test_headers_are_immutable() -> None:
    h = Headers({"a": "1"})
    with pytest.raises(TypeError):
        h["a"] = "2"  # type: ignore[index]
    with pytest.raises(TypeError):
        del h["a"]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        h.extra = 1  # type: ignore[attr-defined]
    h.get_list("a").append("2")
    h.multi_items().append(("b", "2"))
    assert h.multi_items() == [("a", "1")]
    with pytest.raises(TypeError):
        hash(h)


def test_headers_equality() -> None:
    h = Headers([("A", "1"), ("b", "2"), ("a", "3")])
    assert h == Headers([("a", "1"), ("a", "3"), ("B", "2")])
    assert h == [("a", "1"), ("B", "2"), ("A", "3")]
    assert h == (("a", "1"), ("a", "3"), ("b", "2"))
    assert h != [("a", "3"), ("a", "1"), ("b", "2")]  # order within a name matters
    assert Headers({"A": "1"}) == {"a": "1"}
    assert Headers({"A": "1"}) != {"a": "1", "b": "2"}
    assert Headers({"A": "1"}) != {"bad name": "1"}
    assert Headers({"A": "1"}) != {"A": "1\n"}
    assert Headers({"A": "1"}) != 1
    assert Headers() == {}
    assert Headers(Headers({"a": "1"})) == {"a": "1"}


def test_values_are_trimmed_and_tabs_allowed() -> None:
    h = Headers({"X-A": " \tspaced\tvalue \t"})
    assert h["x-a"] == "spaced\tvalue"
    assert Headers({"X-L": "café"})["x-l"] == "café"  # latin-1 is fine on the wire
    assert Headers({"X-L": "café"}).raw() == [(b"X-L", b"caf\xe9")]


@pytest.mark.parametrize(
    "pair",
    [
        ("", "v"),
        ("bad name", "v"),
        ("colon:", "v"),
        ("naïve", "v"),
        ("X-A\n", "v"),
        (b"X-A", "v"),
        (1, "v"),
        ("X-A", "\x01"),
        ("X-A", "\x7f"),
        ("X-A", "snow ☃"),
        ("X-A", b"bytes"),
        ("X-A", 1),
        ("X-A", None),
    ],
)
def test_invalid_headers(pair: tuple[object, object]) -> None:
    with pytest.raises(InvalidRequestError):
        Headers([pair])  # type: ignore[list-item]
    if pair[1] is None and pair[0] == "X-A":
        return  # merged() reads a None value as "remove this name"
    with pytest.raises(InvalidRequestError):
        Headers({"ok": "ok"}).merged([pair])  # type: ignore[list-item]


def test_merged_replaces_by_name() -> None:
    h = Headers([("Accept", "a"), ("X-A", "1"), ("x-a", "2")])
    merged = h.merged({"X-A": "3", "New": "n"})
    assert merged.multi_items() == [("Accept", "a"), ("X-A", "3"), ("New", "n")]
    assert h.get_list("x-a") == ["1", "2"]  # the original is untouched
    assert h.merged(None) is h
    assert h.merged({}) is h
    assert h.merged(Headers()) is h
    assert h.merged([("ACCEPT", "b"), ("accept", "c")]).get_list("accept") == ["b", "c"]


def test_with_default_and_without() -> None:
    h = Headers({"Accept": "a"})
    assert h.with_default("accept", "b") is h
    added = h.with_default("User-Agent", "sdk/1")
    assert added.multi_items() == [("Accept", "a"), ("User-Agent", "sdk/1")]
    with pytest.raises(InvalidRequestError):
        h.with_default("Bad Name", "x")
    with pytest.raises(InvalidRequestError):
        h.with_default("X-Ok", "a\r\nInjected: 1")
    both = Headers([("A", "1"), ("b", "2"), ("a", "3")])
    assert both.without("A").multi_items() == [("b", "2")]
    assert both.without("missing") is both


def test_repr_redacts_secrets() -> None:
    h = Headers(
        {
            "Authorization": "Bearer sk-secret",
            "Proxy-Authorization": "Basic c2VjcmV0",
            "Cookie": "session=secret",
            "X-API-Key": "secret-key",
            "Accept": "application/json",
        }
    )
    text = repr(h)
    assert "secret" not in text
    assert "c2VjcmV0" not in text
    assert text.count("[redacted]") == 4
    assert "application/json" in text
    assert "Authorization" in text


# ---------------------------------------------------------------------------------------
# Injection: CR, LF or NUL anywhere


BAD = st.sampled_from(["\r", "\n", "\x00", "\r\n", "\n\n"])
TOKENS = st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}", fullmatch=True)
VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
PATHS = st.from_regex(r"(/[A-Za-z0-9._~-]{0,8}){1,4}(\?[a-z]=[0-9])?", fullmatch=True)


def inject(data: st.DataObject, text: str) -> str:
    at = data.draw(st.integers(0, len(text)), label="at")
    return text[:at] + data.draw(BAD, label="bad") + text[at:]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), method=TOKENS)
def test_control_characters_in_a_method(data: st.DataObject, method: str) -> None:
    assert Request(method, BASE).method == method.upper()
    with pytest.raises(InvalidRequestError):
        Request(inject(data, method), BASE)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), name=TOKENS, value=VALUES)
def test_control_characters_in_a_header_name(data: st.DataObject, name: str, value: str) -> None:
    bad = inject(data, name)
    with pytest.raises(InvalidRequestError):
        Headers({bad: value})
    with pytest.raises(InvalidRequestError):
        Request("GET", BASE, headers=[(bad, value)])
    with pytest.raises(InvalidRequestError):
        Headers().with_default(bad, value)
    with pytest.raises(InvalidRequestError):
        Request("GET", BASE).with_headers({bad: value})


@settings(max_examples=200, deadline=None)
@given(data=st.data(), name=TOKENS, value=VALUES)
def test_control_characters_in_a_header_value(data: st.DataObject, name: str, value: str) -> None:
    assert Headers({name: value})[name] == value.strip(" \t")
    bad = inject(data, value)
    with pytest.raises(InvalidRequestError):
        Headers({name: bad})
    with pytest.raises(InvalidRequestError):
        Request("POST", BASE, headers={name: bad})
    with pytest.raises(InvalidRequestError):
        Headers().with_default(name, bad)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), path=PATHS)
def test_control_characters_in_a_url_or_path(data: st.DataObject, path: str) -> None:
    url = BASE + path
    assert str(URL.parse(url)).startswith(BASE)
    bad_url = inject(data, url)
    with pytest.raises(InvalidRequestError):
        URL.parse(bad_url)
    with pytest.raises(InvalidRequestError):
        Request("GET", bad_url)
    with pytest.raises(InvalidRequestError):
        build_url(bad_url, "/x")
    with pytest.raises(InvalidRequestError):
        build_url(BASE, inject(data, path))
    with pytest.raises(InvalidRequestError):
        build_url(BASE, inject(data, url))  # an absolute URL given as the path


def test_params_are_encoded_not_injected() -> None:
    url = build_url(BASE, "/x", {"q": "a\r\nHost: evil", "k\n": "v"})
    assert "\r" not in url.target
    assert "\n" not in url.target
    assert url.target == "/x?q=a%0D%0AHost%3A+evil&k%0A=v"


# ---------------------------------------------------------------------------------------
# Timeout, Limits, RetryPolicy


def test_timeout_defaults() -> None:
    t = Timeout()
    assert (t.connect, t.read, t.write, t.pool, t.total) == (5.0, 60.0, 60.0, 10.0, None)


def test_one_timeout_sets_every_phase() -> None:
    t = Timeout(10.0)
    assert (t.connect, t.read, t.write, t.pool, t.total) == (10.0, 10.0, 10.0, 10.0, None)
    assert Timeout(10) == t
    assert isinstance(Timeout(10).read, float)
    off = Timeout(None)
    assert (off.connect, off.read, off.write, off.pool, off.total) == (None,) * 5


def test_timeout_keywords_override() -> None:
    t = Timeout(10.0, read=30.0, pool=None, total=60)
    assert (t.connect, t.read, t.write, t.pool, t.total) == (10.0, 30.0, 10.0, None, 60.0)
    t = Timeout(connect=1.0)
    assert (t.connect, t.read, t.write, t.pool) == (1.0, 60.0, 60.0, 10.0)
    assert Timeout(NOT_GIVEN, read=2.0) == Timeout(read=2.0)


@pytest.mark.parametrize("bad", [-1, -0.001, math.nan, -math.inf])
def test_timeout_rejects_negative_and_nan(bad: float) -> None:
    for kwargs in ({"connect": bad}, {"read": bad}, {"write": bad}, {"pool": bad}, {"total": bad}):
        with pytest.raises(ValueError, match=">= 0"):
            Timeout(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        Timeout(bad)


@pytest.mark.parametrize("bad", ["1", True, [1], b"1"])
def test_timeout_rejects_non_numbers(bad: object) -> None:
    with pytest.raises(TypeError, match="number of seconds"):
        Timeout(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="number of seconds"):
        Timeout(total=bad)  # type: ignore[arg-type]


def test_timeout_is_frozen_and_comparable() -> None:
    t = Timeout(1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.read = 2.0  # type: ignore[misc]
    assert t == Timeout(connect=1, read=1, write=1, pool=1)
    assert t != Timeout(1.0, total=1.0)
    assert "read=1.0" in repr(t)


def test_timeout_capped() -> None:
    t = Timeout(connect=5.0, read=60.0, write=None, pool=0.5, total=30.0)
    assert t.capped(None) is t
    capped = t.capped(3.0)
    assert (capped.connect, capped.read, capped.write, capped.pool, capped.total) == (
        3.0,
        3.0,
        3.0,
        0.5,
        3.0,
    )
    gone = t.capped(-2.0)
    assert (gone.connect, gone.read, gone.write, gone.pool, gone.total) == (0.0,) * 5
    assert Timeout(None).capped(1.5) == Timeout(1.5, total=1.5)


@settings(max_examples=200, deadline=None)
@given(
    phases=st.lists(st.none() | st.floats(0, 1e9), min_size=4, max_size=4),
    remaining=st.floats(-1e9, 1e9),
)
def test_capped_never_exceeds_what_is_left(phases: list[float | None], remaining: float) -> None:
    connect, read, write, pool = phases
    t = Timeout(connect=connect, read=read, write=write, pool=pool)
    capped = t.capped(remaining)
    after_phases = (capped.connect, capped.read, capped.write, capped.pool)
    for before, after in zip(phases, after_phases, strict=True):
        assert after is not None
        assert 0 <= after <= max(remaining, 0.0)
        assert before is None or after <= before
    assert capped.total == min(max(remaining, 0.0), MAX_TIMEOUT)  # longer waits are clamped


def test_limits() -> None:
    limits = Limits()
    assert (limits.max_connections, limits.max_keepalive_connections, limits.keepalive_expiry) == (
        100,
        20,
        5.0,
    )
    assert Limits(None, None, None).max_connections is None
    assert Limits(max_keepalive_connections=0).max_keepalive_connections == 0  # no keep-alive
    assert (
        Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=0).keepalive_expiry
        == 0
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.max_connections = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_connections": 0},
        {"max_connections": -1},
        {"max_connections": 1.5},
        {"max_connections": "10"},
        {"max_keepalive_connections": -1},
        {"max_connections": True},
        {"max_keepalive_connections": False},
        {"max_keepalive_connections": 2.0},
        {"keepalive_expiry": -1},
        {"keepalive_expiry": math.nan},
    ],
)
def test_limits_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="Limits"):
        Limits(**kwargs)  # type: ignore[arg-type]


def test_retry_policy_defaults() -> None:
    policy = RetryPolicy()
    assert (
        policy.max_retries,
        policy.initial_delay,
        policy.max_delay,
        policy.multiplier,
        policy.jitter,
        policy.max_retry_after,
    ) == (2, 0.5, 8.0, 2.0, "proportional", 60.0)
    assert policy.retry_statuses == frozenset({408, 409, 429, 500, 502, 503, 504})
    assert RetryPolicy(retry_statuses={500}).retry_statuses == frozenset({500})  # type: ignore[arg-type]
    assert isinstance(RetryPolicy(retry_statuses=[500]).retry_statuses, frozenset)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_retries": True}, TypeError),
        ({"max_retries": 1.0}, TypeError),
        ({"max_retries": "2"}, TypeError),
        ({"max_retries": -1}, ValueError),
        ({"initial_delay": -0.1}, ValueError),
        ({"initial_delay": math.inf}, ValueError),
        ({"initial_delay": math.nan}, ValueError),
        ({"initial_delay": "1"}, ValueError),
        ({"max_delay": -1}, ValueError),
        ({"max_delay": math.inf}, ValueError),
        ({"max_retry_after": math.nan}, ValueError),
        ({"max_retry_after": -1}, ValueError),
        ({"multiplier": 0.5}, ValueError),
        ({"multiplier": 0}, ValueError),
        ({"multiplier": math.inf}, ValueError),
        ({"multiplier": math.nan}, ValueError),
        ({"multiplier": "2"}, ValueError),
        ({"jitter": "random"}, ValueError),
        ({"jitter": None}, ValueError),
    ],
)
def test_retry_policy_validation(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error, match="RetryPolicy"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_not_given() -> None:
    assert repr(NOT_GIVEN) == "NOT_GIVEN"
    assert not NOT_GIVEN


CONSTRUCTORS: list[Callable[[], object]] = [Timeout, Limits, RetryPolicy]


@pytest.mark.parametrize("make", CONSTRUCTORS, ids=lambda c: c.__name__)
def test_config_values_are_slotted(make: Callable[[], object]) -> None:
    assert not hasattr(make(), "__dict__")


def test_headers_lookup_by_a_non_str_is_a_key_error() -> None:
    headers = Headers({"A": "1"})
    assert headers.get(1) is None  # type: ignore[call-overload]
    with pytest.raises(KeyError):
        headers[1]  # type: ignore[index]


@pytest.mark.parametrize("path", ["HTTP://other.example/x", "Https://other.example/x"])
def test_an_absolute_url_in_any_case_replaces_the_base(path: str) -> None:
    assert build_url("https://api.example.com/v1", path).host == "other.example"


@pytest.mark.parametrize(
    "url", ["https://user:secret@api.example.com/", "https://user@api.example.com/"]
)
def test_credentials_in_a_url_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        URL.parse(url)
    assert "secret" not in str(caught.value)


def _raising_codec(name: str) -> codecs.CodecInfo | None:
    if name != "sdk_test_raising":
        return None

    def decode(data: bytes, errors: str = "strict") -> tuple[str, int]:
        raise UnicodeError("this codec never decodes")

    def encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
        raise UnicodeError("this codec never encodes")

    return codecs.CodecInfo(encode, decode, name="sdk_test_raising")


def test_a_registered_codec_that_raises_falls_back_to_utf8() -> None:
    codecs.register(_raising_codec)
    try:
        response = Response(
            500,
            headers={"Content-Type": "text/plain; charset=sdk_test_raising"},
            content="café".encode(),
        )
        assert response.text == "café"
        assert status_error(response).body == "café"
    finally:
        codecs.unregister(_raising_codec)
