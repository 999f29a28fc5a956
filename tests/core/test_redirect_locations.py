"""Where a redirect goes: which ``Location`` values are followed or refused, and which
credentials may follow a redirect to another origin."""

from __future__ import annotations

import random

import pytest
from _redirect_helpers import CREDENTIALS, METHODS, SECRET, STATUSES, URL, make_request, redirect
from hypothesis import given, settings
from hypothesis import strategies as st

from sdk_core import (
    APIError,
    Call,
    CallOptions,
    Completed,
    Failed,
    RedirectError,
    RedirectReason,
    Request,
    RetryDecision,
    RetryReason,
    SendRequest,
    redirect_request,
)
from sdk_core._redirect import CREDENTIAL_HEADERS


def has_credentials(request: Request, auth_header: str | None = None) -> set[str]:
    names = {*CREDENTIAL_HEADERS, *([auth_header] if auth_header else [])}
    return {name for name in request.headers if name.lower() in names}


# ---------------------------------------------------------------------------------------
# Credentials across origins


@pytest.mark.parametrize(
    "location",
    [
        "https://evil.example/steal",  # another host
        "https://api.example.com:8443/v1",  # another port
        "http://api.example.com/v1/things",  # https -> http on the same host
        "//cdn.example.net/file",  # scheme-relative, another host
        "HTTPS://EVIL.EXAMPLE/",  # case is not a way around it
    ],
)
@pytest.mark.parametrize("status", STATUSES)
def test_cross_origin_drops_every_credential(status: int, location: str) -> None:
    request = make_request("GET").with_headers({"Host": "api.example.com"})
    decision = redirect_request(request, redirect(status, location), auth_header="X-Service-Token")
    assert decision is not None
    new = decision.request
    assert new is not None
    assert decision.cross_origin
    assert has_credentials(new, "x-service-token") == set()
    assert "Host" not in new.headers  # the transport writes the new one
    assert new.headers["X-Trace"] == "t-1"  # only credentials go


def test_custom_auth_header_is_kept_without_the_option_and_on_the_same_origin() -> None:
    request = make_request("GET")
    other = redirect(302, "https://other.example/")
    decision = redirect_request(request, other)
    assert decision is not None
    assert decision.request is not None
    assert decision.request.headers["X-Service-Token"] == "custom-secret"
    same = redirect_request(request, redirect(302, "/x"), auth_header="X-Service-Token")
    assert same is not None
    assert same.request is not None
    assert same.request.headers["X-Service-Token"] == "custom-secret"


def test_https_to_http_never_carries_credentials() -> None:
    # The explicit rule: a downgrade to http on the very same host strips everything.
    request = Request(
        "GET",
        "https://api.example.com/v1/me",
        headers={**CREDENTIALS, "authorization": SECRET},
    )
    for status in STATUSES:
        decision = redirect_request(
            request,
            redirect(status, "http://api.example.com/v1/me"),
            auth_header="X-Service-Token",
        )
        assert decision is not None
        new = decision.request
        assert new is not None
        assert new.url.scheme == "http"
        assert new.url.host == request.url.host
        assert decision.cross_origin
        assert has_credentials(new, "X-Service-Token") == set()
        assert SECRET not in repr(new.headers.multi_items())


def test_the_call_strips_its_options_auth_header() -> None:
    request = Request("GET", URL, headers={"X-Service-Token": "custom", "Authorization": SECRET})
    options = CallOptions(auth_header="X-Service-Token")
    call = Call(request, options, now=0.0, rng=random.Random(0))
    call.next_event()
    call.receive_response(redirect(308, "https://elsewhere.example/a"), now=0.1)
    hop = call.next_event()
    assert isinstance(hop, SendRequest)
    assert has_credentials(hop.request, "X-Service-Token") == set()
    # Back on the first origin the credentials do not come back.
    call.receive_response(redirect(302, URL), now=0.2)
    back = call.next_event()
    assert isinstance(back, SendRequest)
    assert back.request.url.origin == request.url.origin
    assert has_credentials(back.request, "X-Service-Token") == set()


ORIGINS = [
    "https://api.example.com",
    "https://api.example.com:8443",
    "http://api.example.com",
    "https://evil.example",
    "http://127.0.0.1:8080",
]
CREDENTIAL_NAMES = st.sampled_from([*CREDENTIAL_HEADERS, "X-Service-Token", "Host"])


@st.composite
def case_variants(draw: st.DrawFn, names: st.SearchStrategy[str]) -> str:
    name = draw(names)
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.upper() if flip else c.lower() for c, flip in zip(name, flips, strict=True))


LOCATIONS = st.one_of(
    st.builds(
        lambda origin, path: origin + path,
        st.sampled_from(ORIGINS),
        st.sampled_from(["", "/", "/a", "/a/b?x=1", "/%7Euser#frag"]),
    ),
    st.sampled_from(["/relative", "relative", "../up", "?q=1", "//evil.example/x", "#top"]),
)


@settings(max_examples=300, deadline=None)
@given(
    start=st.sampled_from(ORIGINS),
    status=st.sampled_from(STATUSES),
    method=st.sampled_from(METHODS),
    names=st.lists(case_variants(CREDENTIAL_NAMES), max_size=8),
    auth_header=st.sampled_from([None, "X-Service-Token", "x-service-token"]),
    locations=st.lists(LOCATIONS, min_size=1, max_size=6),
)
def test_a_cross_origin_redirect_never_carries_a_credential(
    start: str,
    status: int,
    method: str,
    names: list[str],
    auth_header: str | None,
    locations: list[str],
) -> None:
    headers = [(name, f"secret-{i}") for i, name in enumerate(names)] + [("X-Other", "o")]
    request = Request(method, start + "/v1/start", headers=headers, content=b"body")
    options = CallOptions(auth_header=auth_header, max_redirects=len(locations))
    call = Call(request, options, now=0.0, rng=random.Random(0))
    first = call.next_event()
    assert isinstance(first, SendRequest)
    origin = first.request.url.origin
    crossed = False
    for location in locations:
        # The pure function on its own, for this hop.
        decision = redirect_request(
            call.request, redirect(status, location), auth_header=auth_header
        )
        assert decision is not None
        assert decision.request is not None
        assert decision.cross_origin == (decision.request.url.origin != call.request.url.origin)
        if decision.cross_origin:
            assert has_credentials(decision.request, auth_header) == set()
        # The call, over the whole chain.
        call.receive_response(redirect(status, location), now=0.0)
        hop = call.next_event()
        assert isinstance(hop, SendRequest)
        crossed = crossed or hop.request.url.origin != origin
        if crossed:
            credentials = {*CREDENTIAL_HEADERS, "host"} | (
                {auth_header.lower()} if auth_header else set()
            )
            sent = hop.request.headers.multi_items()
            assert [(n, v) for n, v in sent if n.lower() in credentials] == []
            assert ("X-Other", "o") in sent
        else:
            assert hop.request.headers.get_list("X-Other") == ["o"]
            for name, value in headers:  # nothing is dropped on the same origin
                assert value in hop.request.headers.get_list(name)
        origin = hop.request.url.origin
    assert call.attempts == 1
    assert call.redirects == len(locations)


# ---------------------------------------------------------------------------------------
# Locations


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/v2/items", "https://api.example.com/v2/items"),
        ("items", "https://api.example.com/v1/items"),
        ("../v0/", "https://api.example.com/v0/"),
        ("?page=3", "https://api.example.com/v1/things?page=3"),
        ("", None),
        ("#section", "https://api.example.com/v1/things?page=2"),
        ("/a b/ü", "https://api.example.com/a%20b/%C3%BC"),
        ("https://api.example.com:443/same", "https://api.example.com/same"),
        ("https://other.example:8443/x?y=1#z", "https://other.example:8443/x?y=1"),
        ("//cdn.example.net/f", "https://cdn.example.net/f"),
        ("http://127.0.0.1:9/x", "http://127.0.0.1:9/x"),
        ("  /padded  ", "https://api.example.com/padded"),
    ],
)
def test_locations_are_resolved_against_the_request_url(
    location: str, expected: str | None
) -> None:
    decision = redirect_request(Request("GET", URL), redirect(302, location))
    assert decision is not None
    if expected is None:  # an empty Location is not a place to go
        assert decision.reason is RedirectReason.INVALID_LOCATION
        return
    assert decision.request is not None
    assert str(decision.request.url) == expected


@pytest.mark.parametrize(
    "location",
    [
        "",
        "   ",
        "ftp://files.example/x",
        "javascript:alert(1)",
        "mailto:someone@example.com",
        "file:///etc/passwd",
        "http://",
        "https://[::1/x",
        "http://exa mple.com/",
        "http://example.com:99999/",
        "http://example.com:0/",
        "https://user:sk-live-TOPSECRET@evil.example/",
        "data:text/plain,hi",
    ],
)
def test_an_invalid_location_is_a_typed_error(location: str) -> None:
    decision = redirect_request(Request("GET", URL), redirect(301, location))
    assert decision is not None
    assert decision.reason is RedirectReason.INVALID_LOCATION
    assert not decision.follow
    call = Call(Request("GET", URL), now=0.0, rng=random.Random(0))
    call.next_event()
    response = redirect(301, location)
    call.receive_response(response, now=0.1)
    failed = call.next_event()
    assert isinstance(failed, Failed)
    error = failed.error
    assert type(error) is RedirectError
    assert isinstance(error, APIError)
    assert error.response is response
    assert error.location == location.strip()
    assert error.attempts == 1
    assert "not a valid http(s) URL" in str(error)
    assert "TOPSECRET" not in str(error)
    assert "page=2" not in str(error)  # the request's query stays out of the message


@pytest.mark.parametrize("status", [300, 304, 305, 306, 399, 200, 201, 404, 500])
def test_other_statuses_are_not_redirects(status: int) -> None:
    assert redirect_request(Request("GET", URL), redirect(status, "/x")) is None


@pytest.mark.parametrize("status", STATUSES)
def test_a_redirect_without_location_is_returned(status: int) -> None:
    assert redirect_request(Request("GET", URL), redirect(status, None)) is None
    call = Call(Request("GET", URL), now=0.0, rng=random.Random(0))
    call.next_event()
    call.receive_response(redirect(status, None), now=0.1)
    done = call.next_event()
    assert isinstance(done, Completed)
    assert done.response.status_code == status
    assert done.response.redirects == 0


@pytest.mark.parametrize(
    "options",
    [
        CallOptions(max_redirects=0),
        CallOptions(follow_redirects=False),
        CallOptions(max_redirects=-1),
    ],
    ids=["max_redirects=0", "follow_redirects=False", "negative"],
)
@pytest.mark.parametrize("status", STATUSES)
def test_following_can_be_turned_off(options: CallOptions, status: int) -> None:
    if options.follow_redirects:
        pure = redirect_request(
            Request("GET", URL), redirect(status, "/x"), max_redirects=options.max_redirects
        )
        assert pure is None
    call = Call(Request("GET", URL), options, now=0.0, rng=random.Random(0))
    call.next_event()
    response = redirect(status, "/x")
    call.receive_response(response, now=0.1)
    done = call.next_event()
    assert isinstance(done, Completed)  # as before redirects: a 3xx is below 400
    assert done.response is response
    assert (done.response.attempts, done.response.redirects) == (1, 0)
    (decision,) = call.decisions
    assert isinstance(decision, RetryDecision)
    assert decision.reason is RetryReason.SUCCEEDED
