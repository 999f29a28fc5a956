"""The default header allowlist shows the response headers users debug with (rate limits,
retry hints, request ids, caching) and never a credential, under a prefix or not.

Pure: no network, no async.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sdk_core import Headers, Request, Response
from sdk_core._redact import (
    DEFAULT_REDACTION,
    LOGGABLE_HEADERS,
    REDACTED,
    SECRET_WORDS,
    SENSITIVE_HEADERS,
    Redaction,
)

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
