"""Redirects: the pure decision (``redirect_request``) and how ``Call`` follows it."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdk_core import (
    TRANSITIONS,
    APIError,
    Call,
    CallInput,
    CallOptions,
    CallState,
    CallStateError,
    Completed,
    DeadlineExceeded,
    Failed,
    NotFoundError,
    RedirectDecision,
    RedirectError,
    RedirectReason,
    Request,
    Response,
    RetryBudget,
    RetryDecision,
    RetryPolicy,
    RetryReason,
    SendRequest,
    Sleep,
    Timeout,
    TooManyRedirects,
    redirect_request,
)
from sdk_core._redirect import CREDENTIAL_HEADERS, REDIRECT_STATUSES

URL = "https://api.example.com/v1/things?page=2"
SECRET = "Bearer sk-live-TOPSECRET"
STATUSES = sorted(REDIRECT_STATUSES)
METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
BODY_HEADERS = ("Content-Length", "Content-Type", "Transfer-Encoding")
CREDENTIALS = {
    "Authorization": SECRET,
    "Proxy-Authorization": "Basic cHJveHk6cGFzcw==",
    "Cookie": "session=abc",
    "X-Api-Key": "k-1",
    "Api-Key": "k-2",
    "X-Service-Token": "custom-secret",
}


def chunks() -> Iterator[bytes]:
    yield b'{"a": 1}'


def make_request(method: str = "GET", *, replayable: bool = True, url: str = URL) -> Request:
    headers = {**CREDENTIALS, "Content-Type": "application/json", "X-Trace": "t-1"}
    if replayable:
        return Request(method, url, headers=headers, content=b'{"a": 1}')
    headers["Transfer-Encoding"] = "chunked"
    return Request(method, url, headers=headers, content=chunks())


def redirect(status: int, location: str | None) -> Response:
    return Response(status, headers={} if location is None else {"Location": location})


def has_credentials(request: Request, auth_header: str | None = None) -> set[str]:
    names = {*CREDENTIAL_HEADERS, *([auth_header] if auth_header else [])}
    return {name for name in request.headers if name.lower() in names}


# ---------------------------------------------------------------------------------------
# The decision: every status x method x replayable body


@pytest.mark.parametrize("replayable", [True, False], ids=["bytes", "stream"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("status", STATUSES)
def test_status_method_body_matrix(status: int, method: str, replayable: bool) -> None:
    request = make_request(method, replayable=replayable)
    decision = redirect_request(request, redirect(status, "/v2/things"))
    assert decision is not None
    assert decision.location == "/v2/things"
    assert not decision.cross_origin
    as_get = status == 303 or (status in (301, 302) and method == "POST")
    if as_get:
        assert decision.reason is RedirectReason.FOLLOWED_AS_GET
        new = decision.request
        assert new is not None
        assert new.method == ("HEAD" if method == "HEAD" else "GET")
        assert new.content == b""
        for name in BODY_HEADERS:
            assert name not in new.headers
    elif replayable:
        assert decision.reason is RedirectReason.FOLLOWED
        new = decision.request
        assert new is not None
        assert new.method == method
        assert new.content == request.content
        assert new.headers == request.headers
    else:
        assert decision.reason is RedirectReason.BODY_NOT_REPLAYABLE
        assert decision.request is None
        assert not decision.follow
        assert method in decision.message
        return
    assert decision.follow
    assert str(new.url) == "https://api.example.com/v2/things"
    # Same origin: every credential and the other headers stay.
    for name, value in CREDENTIALS.items():
        assert new.headers[name] == value
    assert new.headers["X-Trace"] == "t-1"


@pytest.mark.parametrize("replayable", [True, False], ids=["bytes", "stream"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("status", STATUSES)
def test_the_call_follows_the_matrix(status: int, method: str, replayable: bool) -> None:
    options = CallOptions(retry=RetryPolicy(max_retries=0))
    call = Call(make_request(method, replayable=replayable), options, now=0.0, rng=random.Random(0))
    first = call.next_event()
    assert isinstance(first, SendRequest)
    response = redirect(status, "https://api.example.com/elsewhere")
    call.receive_response(response, now=0.1)
    (decision,) = call.decisions
    assert isinstance(decision, RedirectDecision)
    if decision.follow:
        assert call.state is CallState.READY_TO_SEND
        hop = call.next_event()
        assert isinstance(hop, SendRequest)
        assert hop.request is decision.request
        assert hop.request.url.target == "/elsewhere"
        assert call.request is hop.request
        assert call.attempts == 1
        assert call.redirects == 1
        final = Response(200)
        call.receive_response(final, now=0.2)
        done = call.next_event()
        assert isinstance(done, Completed)
        assert done.response is final
        assert final.redirects == 1
        assert final.attempts == 1
        assert final.request is hop.request
    else:
        assert call.state is CallState.FAILING
        failed = call.next_event()
        assert isinstance(failed, Failed)
        error = failed.error
        assert type(error) is RedirectError
        assert error.response is response
        assert error.status_code == status
        assert error.location == "https://api.example.com/elsewhere"
        assert error.attempts == 1
        assert error.request is first.request
        assert "one-shot stream" in str(error)
        assert call.redirects == 0


def test_303_after_head_stays_head() -> None:
    decision = redirect_request(Request("HEAD", URL), redirect(303, "/x"))
    assert decision is not None
    assert decision.request is not None
    assert decision.request.method == "HEAD"


def test_307_post_keeps_body_and_idempotency_key() -> None:
    request = Request("POST", URL, headers={"Idempotency-Key": "k-9"}, content=b"payload")
    decision = redirect_request(request, redirect(307, "/v1/other"))
    assert decision is not None
    new = decision.request
    assert new is not None
    assert (new.method, new.content) == ("POST", b"payload")
    assert new.headers["Content-Length"] == "7"
    assert new.headers["Idempotency-Key"] == "k-9"


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


# ---------------------------------------------------------------------------------------
# Limits, loops, attempts, retries and the deadline


@pytest.mark.parametrize("max_redirects", [1, 2, 5])
def test_a_loop_ends_at_max_redirects(max_redirects: int) -> None:
    options = CallOptions(max_redirects=max_redirects)
    call = Call(Request("GET", URL), options, now=0.0, rng=random.Random(0))
    sends = 0
    last: Response | None = None
    while True:
        event = call.next_event()
        if isinstance(event, SendRequest):
            sends += 1
            last = redirect(302, str(event.request.url))  # redirect to itself
            call.receive_response(last, now=0.0)
        else:
            break
    assert isinstance(event, Failed)
    error = event.error
    assert isinstance(error, TooManyRedirects)
    assert isinstance(error, RedirectError)
    assert error.response is last
    assert error.response.redirects == max_redirects
    assert error.attempts == 1
    assert sends == max_redirects + 1
    assert call.redirects == max_redirects
    assert f"max_redirects={max_redirects}" in str(error)
    reasons = [d.reason for d in call.decisions]
    assert reasons == [RedirectReason.FOLLOWED] * max_redirects + [
        RedirectReason.TOO_MANY_REDIRECTS
    ]


def test_the_default_limit_is_five() -> None:
    assert CallOptions().max_redirects == 5
    request = Request("GET", URL)
    assert redirect_request(request, redirect(302, "/x"), redirects=4) is not None
    decision = redirect_request(request, redirect(302, "/x"), redirects=5)
    assert decision is not None
    assert decision.reason is RedirectReason.TOO_MANY_REDIRECTS


def test_the_limit_comes_before_the_location() -> None:
    decision = redirect_request(
        Request("GET", URL), redirect(302, "ftp://x/"), redirects=2, max_redirects=2
    )
    assert decision is not None
    assert decision.reason is RedirectReason.TOO_MANY_REDIRECTS


def test_a_chain_within_the_limit_completes() -> None:
    call = Call(Request("GET", URL), CallOptions(max_redirects=3), now=0.0, rng=random.Random(0))
    urls = []
    for location in ("/1", "/2", "https://other.example/3"):
        event = call.next_event()
        assert isinstance(event, SendRequest)
        urls.append(str(event.request.url))
        call.receive_response(redirect(301, location), now=0.0)
    event = call.next_event()
    assert isinstance(event, SendRequest)
    urls.append(str(event.request.url))
    final = Response(200, content=b"{}")
    call.receive_response(final, now=0.0)
    done = call.next_event()
    assert isinstance(done, Completed)
    assert urls == [
        URL,
        "https://api.example.com/1",
        "https://api.example.com/2",
        "https://other.example/3",
    ]
    assert (final.redirects, final.attempts, call.redirects, call.attempts) == (3, 1, 3, 1)


def test_redirects_are_not_retries_and_leave_the_budget_alone() -> None:
    # max_retries=0 still follows redirects; a retry after a redirect resends the new URL.
    budget = RetryBudget(capacity=20)
    options = CallOptions(retry=RetryPolicy(max_retries=1, initial_delay=0.0))
    call = Call(Request("GET", URL), options, now=0.0, rng=random.Random(0), budget=budget)
    sent = []
    script = [redirect(302, "/moved"), Response(503), redirect(307, "/final"), Response(200)]
    for response in script:
        event = call.next_event()
        while isinstance(event, Sleep):
            event = call.next_event()
        assert isinstance(event, SendRequest)
        sent.append((event.request.url.target, call.attempts))
        call.receive_response(response, now=0.0)
        if response.status_code < 300:
            break
    done = call.next_event()
    assert isinstance(done, Completed)
    assert sent == [("/v1/things?page=2", 1), ("/moved", 1), ("/moved", 2), ("/final", 2)]
    assert (done.response.attempts, done.response.redirects) == (2, 2)
    # One retry (5 tokens) and one success (1 back): redirects took nothing.
    assert budget.tokens == 20 - 5 + 1
    kinds = [type(d).__name__ for d in call.decisions]
    assert kinds == ["RedirectDecision", "RetryDecision", "RedirectDecision", "RetryDecision"]


def test_zero_retries_still_follows() -> None:
    options = CallOptions(max_retries=0)
    call = Call(Request("POST", URL, content=b"x"), options, now=0.0, rng=random.Random(0))
    call.next_event()
    call.receive_response(redirect(303, "/result"), now=0.0)
    hop = call.next_event()
    assert isinstance(hop, SendRequest)
    assert (hop.request.method, hop.request.content) == ("GET", b"")
    call.receive_response(Response(200), now=0.0)
    assert isinstance(call.next_event(), Completed)


def test_an_error_after_a_redirect_carries_the_count() -> None:
    call = Call(Request("GET", URL), now=0.0, rng=random.Random(0))
    call.next_event()
    call.receive_response(redirect(302, "/gone"), now=0.0)
    call.next_event()
    missing = Response(404)
    call.receive_response(missing, now=0.0)
    failed = call.next_event()
    assert isinstance(failed, Failed)
    assert isinstance(failed.error, NotFoundError)
    assert failed.error.attempts == 1
    assert failed.error.response.redirects == 1
    assert failed.error.request is not None
    assert failed.error.request.url.target == "/gone"


def test_the_deadline_bounds_redirects() -> None:
    options = CallOptions(timeout=Timeout(5.0, total=1.0))
    call = Call(Request("GET", URL), options, now=10.0, rng=random.Random(0))
    call.next_event()
    call.receive_response(redirect(302, "/a"), now=10.4)
    hop = call.next_event()
    assert isinstance(hop, SendRequest)
    assert hop.timeout.read is not None
    assert hop.timeout.read == pytest.approx(0.6)
    call.receive_response(redirect(302, "/b"), now=11.0)
    failed = call.next_event()
    assert isinstance(failed, Failed)
    assert isinstance(failed.error, DeadlineExceeded)
    assert failed.error.attempts == 1
    assert failed.error.request is not None
    assert failed.error.request.url.target == "/b"
    assert call.state is CallState.DONE


def test_a_redirect_obeys_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    key = (CallState.AWAITING_OUTCOME, CallInput.RECEIVE_RESPONSE)
    monkeypatch.setitem(TRANSITIONS, key, TRANSITIONS[key] - {CallState.READY_TO_SEND})
    call = Call(Request("GET", URL), now=0.0, rng=random.Random(0))
    call.next_event()
    with pytest.raises(CallStateError):
        call.receive_response(redirect(302, "/x"), now=0.0)
    assert call.state is CallState.ERROR


def test_the_error_classes() -> None:
    assert issubclass(TooManyRedirects, RedirectError)
    assert issubclass(RedirectError, APIError)
    response = redirect(302, "/x")
    error = TooManyRedirects("too many", response=response, location="/x")
    assert (error.response, error.status_code, error.location) == (response, 302, "/x")
    assert error.attempts == 0
