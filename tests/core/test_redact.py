"""Redaction by allowlist: what reprs, error messages and log lines may show.

The default header allowlist shows the response headers users debug with (rate limits,
retry hints, request ids, caching) and never a credential, under a prefix or not.

Pure: no network, no async. The client-level tests (every repr, error chain and log line
of real calls) are in ``tests/clients/test_secrets.py``.
"""

from __future__ import annotations

import random
import string
from urllib.parse import quote

import pytest
from hypothesis import assume, given
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
from sdk_core.lowlevel import (
    DEFAULT_REDACTION,
    LOGGABLE_HEADERS,
    LOGGABLE_QUERY_PARAMS,
    REDACTED,
    SECRET_WORDS,
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


# -- The default header allowlist: debugging headers shown, credentials never ------------
SHOWN = [
    # rate limits: OpenAI, GitHub, Anthropic, Azure, RFC 9331 and its earlier drafts
    ("x-ratelimit-limit-requests", "500"),
    ("x-ratelimit-remaining-requests", "499"),
    ("x-ratelimit-remaining-tokens", "149984"),
    ("x-ratelimit-reset-tokens", "6ms"),
    ("X-RateLimit-Reset", "1372700873"),
    ("x-ratelimit-used", "1"),
    ("x-rate-limit-remaining", "14"),
    ("anthropic-ratelimit-requests-remaining", "49"),
    ("anthropic-ratelimit-input-tokens-limit", "40000"),
    ("anthropic-ratelimit-tokens-reset", "2024-05-01T00:00:00Z"),
    ("x-ms-ratelimit-remaining-subscription-reads", "11999"),
    ("RateLimit", '"default";r=50;t=30'),
    ("RateLimit-Policy", '"default";q=100;w=60'),
    ("RateLimit-Limit", "100"),
    ("RateLimit-Remaining", "50"),
    ("RateLimit-Reset", "30"),
    # retry hints
    ("Retry-After", "3"),
    ("retry-after-ms", "250"),
    ("x-should-retry", "false"),
    # the body and caching
    ("Content-Type", "application/json"),
    ("Content-Length", "12"),
    ("Content-Encoding", "gzip"),
    ("Date", "Tue, 01 Dec 2026 00:00:00 GMT"),
    ("Server", "nginx"),
    ("Via", "1.1 varnish"),
    ("Age", "12"),
    ("Cache-Control", "no-store"),
    ("ETag", '"abc"'),
    ("Last-Modified", "Tue, 01 Dec 2026 00:00:00 GMT"),
    ("Vary", "Accept-Encoding"),
    # request ids and timings
    ("x-request-id", "req_1"),
    ("request-id", "req_2"),
    ("x-amzn-requestid", "amzn-1"),
    ("x-amz-request-id", "amz-1"),
    ("x-github-request-id", "gh-1"),
    ("cf-ray", "ray-1"),
    ("openai-processing-ms", "87"),
    ("openai-version", "2020-10-01"),
]

HIDDEN = [
    ("Set-Cookie", "session=zQ-s3cr3t-value"),
    ("Cookie", "session=zQ-s3cr3t-value"),
    ("Authorization", "Bearer zQ-s3cr3t-value"),
    ("Proxy-Authorization", "Basic zQ-s3cr3t-value"),
    ("X-Api-Key", "zQ-s3cr3t-value"),
    ("api-key", "zQ-s3cr3t-value"),
    # under an allowed prefix, a name that names a secret
    ("x-ratelimit-token", "zQ-s3cr3t-value"),
    ("x-ratelimit-api-key", "zQ-s3cr3t-value"),
    ("x-ratelimit-apikey", "zQ-s3cr3t-value"),
    ("x-ratelimit-secret", "zQ-s3cr3t-value"),
    ("x-ratelimit-auth", "zQ-s3cr3t-value"),
    ("x-ratelimit-authorization", "zQ-s3cr3t-value"),
    ("anthropic-ratelimit-session-id", "zQ-s3cr3t-value"),
    ("ratelimit-signature", "zQ-s3cr3t-value"),
    ("x-ratelimit-cookie", "zQ-s3cr3t-value"),
    ("x-rate-limit-access_token", "zQ-s3cr3t-value"),
    ("x-ms-ratelimit-password", "zQ-s3cr3t-value"),
    ("x-ratelimit-credential", "zQ-s3cr3t-value"),
    # not allowlisted at all
    ("X-Custom", "zQ-s3cr3t-value"),
    ("Server-Timing", "db;dur=53"),
    ("X-Amz-Security-Token", "zQ-s3cr3t-value"),
    ("x-ratelimitx", "zQ-s3cr3t-value"),  # a prefix is matched with its final "-"
]


@pytest.mark.parametrize(("name", "value"), SHOWN)
def test_a_non_secret_response_header_shows(name: str, value: str) -> None:
    assert DEFAULT_REDACTION.shows_header(name)
    response = Response(429, headers={name: value}, request=Request("GET", "https://a.test/"))
    assert repr(response.headers) == f"Headers([({name!r}, {value!r})])"


@pytest.mark.parametrize(("name", "value"), HIDDEN)
def test_a_credential_stays_hidden(name: str, value: str) -> None:
    assert not DEFAULT_REDACTION.shows_header(name)
    assert repr(Headers({name: value})) == f"Headers([({name!r}, {REDACTED!r})])"
    assert value in DEFAULT_REDACTION.secrets([(name, value)], "/")  # scrubbed from messages


def test_the_sensitive_names_are_never_shown_even_when_listed() -> None:
    everything = DEFAULT_REDACTION.extended(loggable_headers=SENSITIVE_HEADERS)
    for name in SENSITIVE_HEADERS:
        assert not everything.shows_header(name)


def test_a_name_listed_whole_is_shown_as_listed() -> None:
    # idempotency-key holds "key" but is listed whole: keys are not credentials.
    assert "idempotency-key" in LOGGABLE_HEADERS
    assert DEFAULT_REDACTION.shows_header("Idempotency-Key")
    custom = DEFAULT_REDACTION.extended(loggable_headers=["x-ratelimit-api-key"])
    assert custom.shows_header("x-ratelimit-api-key")


def test_a_user_prefix_and_a_sensitive_prefix() -> None:
    policy = DEFAULT_REDACTION.extended(
        loggable_headers=["X-Acme-*"], sensitive_headers=["x-ratelimit-internal-*"]
    )
    assert policy.shows_header("x-acme-quota")
    assert not policy.shows_header("x-acme-session")  # a secret word under the prefix
    assert not policy.shows_header("x-ratelimit-internal-shard")  # hidden by prefix
    assert policy.shows_header("x-ratelimit-remaining")
    assert not DEFAULT_REDACTION.shows_header("x-acme-quota")
    assert policy == DEFAULT_REDACTION.extended(loggable_headers=["x-acme-*"]).extended(
        sensitive_headers=["X-RATELIMIT-INTERNAL-*"]
    )


@pytest.mark.parametrize("field", ["loggable_headers", "sensitive_headers"])
def test_a_bare_star_is_refused(field: str) -> None:
    with pytest.raises(TypeError, match=f"{field} cannot hold '\\*' alone"):
        Redaction(**{field: frozenset({"*"})})


@given(
    st.sampled_from(sorted(n[:-1] for n in LOGGABLE_HEADERS if n.endswith("*"))),
    st.sampled_from(SECRET_WORDS),
    st.text("abcdefghijklmnopqrstuvwxyz", max_size=6),
    st.text("abcdefghijklmnopqrstuvwxyz", max_size=6),
    st.sampled_from(["-", "_"]),
)
def test_no_secret_word_shows_under_a_prefix(
    prefix: str, word: str, before: str, after: str, sep: str
) -> None:
    part = f"{before}{word}{after}"
    assume(part != "tokens")  # the one exempt part: a count, shown by design (tested above)
    name = f"{prefix}remaining{sep}{part}"
    assert not DEFAULT_REDACTION.shows_header(name)
    assert not DEFAULT_REDACTION.shows_header(name.upper())
