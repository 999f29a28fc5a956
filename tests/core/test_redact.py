"""Redaction by allowlist: what reprs, error messages and log lines may show.

Pure: no network, no async. The client-level tests (every repr, error chain and log line
of real calls) are in ``tests/transports/test_secrets.py``.
"""

from __future__ import annotations

import random
import string
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk_core import (
    URL,
    Call,
    CallOptions,
    Headers,
    InvalidRequestError,
    Request,
    Response,
    status_error,
)
from sdk_core._redact import (
    DEFAULT_REDACTION,
    LOGGABLE_HEADERS,
    LOGGABLE_QUERY_PARAMS,
    REDACTED,
    SENSITIVE_HEADERS,
    Redaction,
)

SECRET = "zQs3cr3t-t0k3n-value"
CUSTOM = Redaction().extended(
    loggable_headers=["X-Tenant"], loggable_query_params=["Tenant"], sensitive_headers=["Server"]
)


def test_the_default_lists_hold_lower_case_names() -> None:
    for names in (LOGGABLE_HEADERS, LOGGABLE_QUERY_PARAMS, SENSITIVE_HEADERS):
        assert all(name == name.lower() for name in names)
    assert not LOGGABLE_HEADERS & SENSITIVE_HEADERS
    assert Redaction() == DEFAULT_REDACTION


def test_names_are_case_insensitive_and_sensitive_wins() -> None:
    policy = Redaction(
        loggable_headers=["Content-Type", "X-Both"], sensitive_headers=["x-both", "AUTHORIZATION"]
    )
    assert policy.loggable_headers == frozenset({"content-type", "x-both"})
    assert policy.shows_header("CONTENT-TYPE")
    assert not policy.shows_header("X-Both")
    assert not policy.shows_header("Accept")  # not in this policy's allowlist
    assert policy.header_value("x-both", "v") == REDACTED
    assert CUSTOM.shows_header("x-tenant")
    assert not CUSTOM.shows_header("server")
    assert DEFAULT_REDACTION.shows_header("server")


@pytest.mark.parametrize("bad", ["x-a", b"x-a", 3, ["ok", 1]])
def test_a_name_list_must_be_an_iterable_of_str(bad: object) -> None:
    with pytest.raises(TypeError, match="loggable_headers"):
        Redaction(loggable_headers=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sensitive_headers"):
        DEFAULT_REDACTION.extended(sensitive_headers=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://a.test/p", "https://a.test/p"),
        ("https://a.test/p?", "https://a.test/p?"),
        ("https://a.test/p?page=2&token=x", "https://a.test/p?page=2&token=[redacted]"),
        ("https://a.test/p?PAGE=2;sig=x", "https://a.test/p?PAGE=2;sig=[redacted]"),
        ("https://a.test/p?a=1&&b", "https://a.test/p?a=[redacted]&&[redacted]"),
        ("https://a.test/p?limit&x=1=2", "https://a.test/p?limit&x=[redacted]"),
        ("https://a.test/p?api%2Dversion=1", "https://a.test/p?api%2Dversion=1"),
        ("https://a.test/p#frag", "https://a.test/p#[redacted]"),
        ("https://a.test/p#", "https://a.test/p#"),
        ("https://u:pw@a.test/p", "https://[redacted]@a.test/p"),
        ("https://u:p@w@a.test", "https://[redacted]@a.test"),
        ("/relative?sig=x", "/relative?sig=[redacted]"),
        ("mailto:someone@a.test", "mailto:someone@a.test"),
    ],
)
def test_urls_show_only_allowlisted_query_values(url: str, shown: str) -> None:
    assert DEFAULT_REDACTION.url(url) == shown


def test_a_url_object_is_redacted_in_repr_but_not_in_str() -> None:
    url = URL.parse(f"https://a.test/v1?sig={SECRET}&page=1")
    assert str(url) == f"https://a.test/v1?sig={SECRET}&page=1"  # what is sent
    assert repr(url) == "URL('https://a.test/v1?sig=[redacted]&page=1')"
    assert CUSTOM.url(URL.parse("https://a.test/?tenant=t&x=y")) == (
        "https://a.test/?tenant=t&x=[redacted]"
    )


@given(
    st.text(string.ascii_letters + string.digits + "-._~", min_size=8, max_size=30),
    st.sampled_from(["token", "sig", "api_key", "code", "X"]),
    st.sampled_from(["?", "?page=1&", "?a=b;"]),
)
def test_a_query_secret_never_shows(secret: str, name: str, prefix: str) -> None:
    url = f"https://a.test/p{prefix}{name}={quote(secret)}#{secret}"
    assert secret not in DEFAULT_REDACTION.url(url).replace("https://a.test/p", "")


def test_headers_repr_uses_the_allowlist() -> None:
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("X-Custom", SECRET),
            ("Authorization", f"Bearer {SECRET}"),
            ("Location", f"https://cdn.test/f?sig={SECRET}&page=2"),
        ]
    )
    assert repr(headers) == (
        "Headers([('Content-Type', 'application/json'), ('X-Custom', '[redacted]'), "
        "('Authorization', '[redacted]'), ('Location', 'https://cdn.test/f?sig=[redacted]&page=2')])"
    )
    assert headers.redaction is DEFAULT_REDACTION


def test_a_policy_follows_the_headers_through_every_copy() -> None:
    headers = Headers({"X-Tenant": "acme", "Server": "s1"}).with_redaction(CUSTOM)
    assert headers.redaction is CUSTOM
    assert headers == Headers({"x-tenant": "acme", "server": "s1"})  # equality ignores it
    copies = [
        Headers(headers),
        headers.merged({"A": "1"}),
        headers.merged(None),
        headers.with_default("B", "2"),
        headers.without("Server"),
        headers.without("missing"),
        Headers({"A": "1"}).merged(headers),  # the incoming policy when self has none
    ]
    for copy in copies:
        assert copy.redaction is CUSTOM
        assert "'acme'" in repr(copy)
    assert "s1" not in repr(headers)
    assert headers.with_redaction(None).redaction is DEFAULT_REDACTION
    assert "'s1'" in repr(headers.with_redaction(None))


def test_requests_and_responses_carry_the_policy() -> None:
    headers = Headers({"X-Tenant": "acme"}).with_redaction(CUSTOM)
    request = Request("POST", "https://a.test/p?tenant=t&key=k", headers=headers, content=b"x")
    assert request.headers.redaction is CUSTOM  # Content-Length was added on the way
    assert repr(request) == "<Request POST https://a.test/p?tenant=t&key=[redacted]>"
    assert repr(Request("GET", "https://a.test/p?tenant=t")) == (
        "<Request GET https://a.test/p?tenant=[redacted]>"
    )
    response = Response(200, headers={"Server": "s1"}, request=request)
    assert response.headers.redaction is CUSTOM
    assert "s1" not in repr(response.headers)
    own = Headers({"Server": "s1"}).with_redaction(DEFAULT_REDACTION)
    assert Response(200, headers=own, request=request).headers.redaction is DEFAULT_REDACTION
    plain = Request("GET", "https://a.test/")
    assert Response(200, request=plain).headers._redaction is None


def test_a_call_gives_a_bare_response_the_requests_policy() -> None:
    headers = Headers({"X-Tenant": "acme"}).with_redaction(CUSTOM)
    request = Request("GET", "https://a.test/", headers=headers)
    call = Call(request, CallOptions(), now=0.0, rng=random.Random(1))
    call.next_event()
    response = Response(200, headers={"Server": "s1"})  # a transport that set no request
    call.receive_response(response, now=0.0)
    assert response.headers.redaction is CUSTOM
    plain = Call(Request("GET", "https://a.test/"), now=0.0, rng=random.Random(1))
    plain.next_event()
    bare = Response(200)
    plain.receive_response(bare, now=0.0)
    assert bare.headers._redaction is None


def test_secrets_lists_hidden_values_and_their_tokens() -> None:
    found = DEFAULT_REDACTION.secrets(
        [
            ("Authorization", f"Bearer {SECRET}"),
            ("Cookie", "a=cookie-value-1; b=x"),
            ("Accept", "application/json-long-enough"),
        ],
        "/p?sig=sig-value-123&page=123456789&flag-secret-value&t=a%20b%20c%20d%20e#frag",
    )
    assert found[0] == f"Bearer {SECRET}"  # longest first
    assert SECRET in found
    assert "cookie-value-1" in found
    assert "sig-value-123" in found
    assert "flag-secret-value" in found  # a bare parameter is a value too
    assert "a b c d e" in found
    assert "a%20b%20c%20d%20e" in found
    assert "123456789" not in found  # page is allowlisted
    assert "application/json-long-enough" not in found
    assert "x" not in found
    assert "Bearer" not in found
    text = f"echo Bearer {SECRET} and sig-value-123"
    assert DEFAULT_REDACTION.scrub(text, found) == "echo [redacted] and [redacted]"
    assert DEFAULT_REDACTION.scrub("nothing here", found) == "nothing here"


def test_a_status_error_message_is_scrubbed_of_what_the_request_hid() -> None:
    request = Request(
        "GET", f"https://a.test/p?token={SECRET}", headers={"X-Api-Key": "zQ-header-key"}
    )
    body = f'{{"error": {{"message": "bad {SECRET} / zQ-header-key", "code": "{SECRET}"}}}}'
    error = status_error(Response(403, content=body.encode(), request=request))
    assert error.message == "Error code: 403 - bad [redacted] / [redacted] (code=[redacted])"
    assert str(error).endswith(" (GET https://a.test/p?token=[redacted])")
    assert error.code == SECRET  # the parsed fields keep the server's data
    no_request = status_error(Response(403, content=body.encode()))
    assert SECRET in str(no_request)  # nothing known to hide


def test_a_request_id_header_marked_sensitive_is_left_out_of_the_message() -> None:
    policy = DEFAULT_REDACTION.extended(sensitive_headers=["X-Request-Id"])
    request = Request("GET", "https://a.test/", headers=Headers().with_redaction(policy))
    response = Response(500, headers={"X-Request-Id": "req-123"}, request=request)
    assert "req-123" not in str(status_error(response))
    shown = Response(500, headers={"X-Request-Id": "req-123"})
    assert "request_id=req-123" in str(status_error(shown))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"https://user:{SECRET}/", "the port is not a number"),
        ("https://a.test:99999/", "the port is not a number"),
        (f"https://[::1/{SECRET}", "IPv6"),
        (f"https://a\uff03{SECRET}.test/", "characters a URL cannot hold"),
        (f"https://user:{SECRET}@a.test/", "credentials"),
        ("ftp://a.test/", "got 'ftp'"),
        (f"{SECRET}:{SECRET}@a.test", "got another"),
        ("a.test/path", "got none"),
    ],
)
def test_url_errors_quote_no_credential(url: str, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message) as caught:
        URL.parse(url)
    error = caught.value
    assert error.__context__ is None
    assert error.__cause__ is None
    assert SECRET not in str(error)


def test_a_header_value_is_not_quoted_by_its_error_or_its_context() -> None:
    with pytest.raises(InvalidRequestError, match="latin-1") as caught:
        Headers({"X-Key": SECRET + "\u2603"})
    assert caught.value.__context__ is None
    assert SECRET not in str(caught.value)
    assert Headers({"X-Name": "caf\u00e9"})["x-name"] == "caf\u00e9"  # latin-1 is fine
