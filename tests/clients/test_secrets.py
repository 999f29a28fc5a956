"""Secrets never show: not in a repr, a str, an exception message (or its chain) or a log line.

A secret is a random token placed as the api key, in a custom auth header, in a header
the user marked sensitive, or as a sensitive query parameter. Calls run through
``MockTransport`` (success, 4xx echoing the secret, 5xx with retries, connection errors)
and through every real transport against a local server and a closed port; everything a
user can see is collected and searched for the secret. Redaction is by allowlist
(``sdk_core._redact``), so the unit tests at the end pin what is shown and what is not.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import string
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdk_core import (
    APIError,
    AttemptRecord,
    CallOptions,
    ConnectError,
    Headers,
    InvalidRequestError,
    Limits,
    ReadError,
    ReadTimeout,
    Request,
    Response,
    RetryPolicy,
    Timeout,
    status_error,
)
from sdk_core.lowlevel import DEFAULT_REDACTION, Redaction
from sdk_transports import (
    AnyioTransport,
    AsyncClient,
    AsyncHttpcoreTransport,
    Client,
    HttpcoreTransport,
    MockTransport,
    SocketTransport,
)
from sdk_transports.testing import ScenarioApp, ServerHandle

BASE = "https://api.example.test/v1"
SENSITIVE = "X-Tenant-Token"

# Tokens long enough that finding one by chance in unrelated text is impossible.
TOKENS = st.text(string.ascii_letters + string.digits + "-._~", min_size=16, max_size=40).map(
    lambda body: "zQ" + body
)


# what a user can see -------------------------------------------------------------------


class LogCapture(logging.Handler):
    """Every record of every logger, formatted as a log file would show it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def capture_logs() -> Iterator[LogCapture]:
    handler = LogCapture()
    root = logging.getLogger()
    ours = logging.getLogger("sdk_transports")
    levels = (root.level, ours.level)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    ours.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        ours.setLevel(levels[1])


def chain(error: BaseException) -> Iterator[BaseException]:
    """The error and every exception in its __cause__ / __context__ chain."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


def error_texts(error: BaseException) -> list[str]:
    texts = ["".join(traceback.format_exception(error))]
    for exc in chain(error):
        texts += [str(exc), repr(exc)]
        texts += [repr(getattr(exc, name, None)) for name in ("message", "request", "response")]
        request = getattr(exc, "request", None)
        if request is not None:
            texts += [str(request), repr(request.headers), repr(request.url)]
        response = getattr(exc, "response", None)
        if response is not None:
            texts += [str(response), repr(response.headers)]
    return texts


def response_texts(response: Response) -> list[str]:
    texts = [repr(response), str(response), repr(response.headers), str(response.headers)]
    if response.request is not None:
        request = response.request
        texts += [repr(request), str(request), repr(request.headers), repr(request.url)]
    return texts


def client_texts(client: Client | AsyncClient) -> list[str]:
    copy = client.with_options(timeout=3.0, default_headers={"X-Copy": "1"})
    config = client._config
    return [
        repr(client),
        str(client),
        repr(copy),
        repr(config),
        repr(config.headers),
        repr(config.options),
        repr(config.options.timeout),
        repr(config.base_url),
    ]


def forms(secret: str) -> list[str]:
    return sorted({secret, quote(secret, safe=""), quote_plus(secret)})


def assert_hidden(secret: str, texts: list[str]) -> None:
    for text in texts:
        for form in forms(secret):
            assert form not in text, text


# the hypothesis test through MockTransport -------------------------------------------


PLACES = ("api_key", "custom_auth_header", "sensitive_header", "query", "path_query", "base_url")
QUERY_NAMES = ("token", "api_key", "sig", "access_token", "password")


@dataclass
class Setup:
    place: str
    secret: str
    query_name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    request_kwargs: dict[str, Any] = field(default_factory=dict)
    path: str = "/items"
    base_url: str = BASE

    @classmethod
    def build(cls, place: str, secret: str, query_name: str) -> Setup:
        setup = cls(place, secret, query_name)
        if place == "api_key":
            setup.kwargs["api_key"] = secret
        elif place == "custom_auth_header":
            setup.kwargs.update(api_key=secret, auth_header="X-Api-Key", auth_scheme=None)
        elif place == "sensitive_header":
            # x-request-id is allowlisted: marking it sensitive must still hide it.
            setup.kwargs["sensitive_headers"] = [SENSITIVE, "x-request-id"]
            setup.kwargs["default_headers"] = {SENSITIVE: secret}
            setup.request_kwargs["headers"] = {"X-Request-Id": secret}
        elif place == "query":
            setup.request_kwargs["params"] = {query_name: secret, "page": 2}
        elif place == "path_query":
            setup.path = f"/items?{query_name}={secret}&limit=5"
        else:
            setup.base_url = f"{BASE}?{query_name}={secret}"
        return setup


OUTCOMES = st.sampled_from(
    [
        *("ok", "ok_location", "400", "401", "403", "404", "422", "429", "500", "503"),
        *("connect", "read_timeout", "read_error", "redirect"),
    ]
)


class Server:
    """Plays ``script`` back; every error body, and headers that are not allowlisted,
    echo the secret (as a server quoting a refused key would)."""

    def __init__(self, script: list[str], secret: str, *, request_id: bool = False) -> None:
        self.script = list(script)
        self.secret = secret
        self.request_id = request_id  # echo it as X-Request-Id (marked sensitive) too
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        outcome = self.script.pop(0) if self.script else "ok"
        echo = {"X-Echo": self.secret, "Set-Cookie": f"session={self.secret}"}
        if outcome == "ok":
            return Response(200, headers=echo, content=b'{"ok": true}', request=request)
        if outcome == "ok_location":
            location = f"https://files.example.test/f?sig={self.secret}&api-version=1#{self.secret}"
            return Response(201, headers={"Location": location}, request=request)
        if outcome == "redirect":  # followed: the next request carries the secret too
            location = f"{BASE}/moved?sig={self.secret}&page=1"
            return Response(307, headers={"Location": location, **echo}, request=request)
        if outcome == "connect":
            raise ConnectError("[Errno 111] Connection refused")
        if outcome == "read_timeout":
            raise ReadTimeout("no data for 1.0 s.")
        if outcome == "read_error":
            try:
                raise ConnectionResetError(104, "Connection reset by peer")
            except OSError as exc:
                raise ReadError(f"{exc}") from exc
        status = int(outcome)
        body = {
            "error": {
                "message": f"Incorrect API key provided: {self.secret}",
                "type": "invalid_request_error",
                "code": self.secret,
            }
        }
        headers = {**echo, "Retry-After": "0"}
        if self.request_id:
            headers["X-Request-Id"] = self.secret
        headers["Content-Type"] = "application/json"
        return Response(status, headers=headers, content=json.dumps(body).encode(), request=request)


def record_texts(records: list[AttemptRecord], server: Server) -> list[str]:
    """Every attempt's hook payload, as a hook could store or export it: one record per
    request the server saw."""
    assert len(records) == len(server.requests)
    texts = [repr(record) for record in records]
    for record in records:
        texts += [str(value) for value in dataclasses.astuple(record)]
    return texts


def collect_sync(setup: Setup, script: list[str], retries: int, calls: int) -> list[str]:
    server = Server(script, setup.secret, request_id=setup.place == "sensitive_header")
    texts: list[str] = []
    records: list[AttemptRecord] = []
    with (
        capture_logs() as logs,
        Client(
            setup.base_url,
            transport=MockTransport(server),
            max_retries=retries,
            sleep=lambda _: None,
            hooks=[records.append],
            **setup.kwargs,
        ) as client,
    ):
        texts += client_texts(client)
        for index in range(calls):
            target = client if index % 2 == 0 else client.with_options(max_retries=retries)
            try:
                response = target.get(setup.path, **setup.request_kwargs)
            except APIError as exc:
                texts += error_texts(exc)
            else:
                texts += response_texts(response)
        texts += [repr(request) for request in server.requests]
        texts += [repr(request.headers) for request in server.requests]
    texts += logs.lines
    return texts + record_texts(records, server)


def collect_async(setup: Setup, script: list[str], retries: int, calls: int) -> list[str]:
    server = Server(script, setup.secret, request_id=setup.place == "sensitive_header")
    texts: list[str] = []
    records: list[AttemptRecord] = []

    async def main() -> None:
        async def no_sleep(_: float) -> None:
            pass

        async with AsyncClient(
            setup.base_url,
            transport=MockTransport(server),
            max_retries=retries,
            sleep=no_sleep,
            hooks=[records.append],
            **setup.kwargs,
        ) as client:
            texts.extend(client_texts(client))
            for _ in range(calls):
                try:
                    response = await client.get(setup.path, **setup.request_kwargs)
                except APIError as exc:
                    texts.extend(error_texts(exc))
                else:
                    texts.extend(response_texts(response))

    with capture_logs() as logs:
        anyio.run(main)
    texts += record_texts(records, server)
    return texts + logs.lines + [repr(request) for request in server.requests]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    place=st.sampled_from(PLACES),
    secret=TOKENS,
    query_name=st.sampled_from(QUERY_NAMES),
    script=st.lists(OUTCOMES, max_size=8),
    retries=st.integers(0, 3),
    calls=st.integers(1, 4),
    use_async=st.booleans(),
)
def test_a_secret_shows_nowhere(
    place: str,
    secret: str,
    query_name: str,
    script: list[str],
    retries: int,
    calls: int,
    use_async: bool,
) -> None:
    setup = Setup.build(place, secret, query_name)
    collect = collect_async if use_async else collect_sync
    texts = collect(setup, script, retries, calls)
    assert any("[redacted]" in text for text in texts)
    assert_hidden(secret, texts)


def test_the_secret_is_really_sent() -> None:
    # The hypothesis test would pass vacuously if the secret never left the client.
    secret = "zQ" + "s3cr3t-token-value"
    for place in PLACES:
        setup = Setup.build(place, secret, "sig")
        server = Server([], secret)
        with Client(setup.base_url, transport=MockTransport(server), **setup.kwargs) as client:
            client.get(setup.path, **setup.request_kwargs)
        (request,) = server.requests
        wire = str(request.url) + "".join(v for _, v in request.headers.multi_items())
        assert secret in wire, place


# real transports: a local server and a closed port -------------------------------------


SYNC_TRANSPORTS: list[Callable[[], Any]] = [
    lambda: SocketTransport(limits=Limits(max_connections=2)),
    lambda: HttpcoreTransport(limits=Limits(max_connections=2)),
]
ASYNC_TRANSPORTS: list[Callable[[], Any]] = [
    lambda: AnyioTransport(limits=Limits(max_connections=2)),
    lambda: AsyncHttpcoreTransport(limits=Limits(max_connections=2)),
]
REAL_SECRET = "zQ-real-transport-secret-9f8e7d"


def real_kwargs() -> dict[str, Any]:
    return {
        "api_key": REAL_SECRET,
        "max_retries": 1,
        "timeout": Timeout(2.0),
        "default_headers": {SENSITIVE: REAL_SECRET},
        "sensitive_headers": [SENSITIVE],
    }


@pytest.mark.parametrize("make", SYNC_TRANSPORTS, ids=["socket", "httpcore"])
def test_real_sync_transports_show_no_secret(
    make: Callable[[], Any], transport_server: ServerHandle[ScenarioApp], closed_port_url: str
) -> None:
    texts: list[str] = []
    params = {"token": REAL_SECRET}
    with capture_logs() as logs:
        for url, paths in ((transport_server.url, ("/echo", "/status/500", "/status/401")),):
            with Client(url, transport=make(), sleep=lambda _: None, **real_kwargs()) as client:
                texts += client_texts(client)
                for path in paths:
                    try:
                        texts += response_texts(client.get(path, params=params))
                    except APIError as exc:
                        texts += error_texts(exc)
        with Client(closed_port_url, transport=make(), sleep=lambda _: None, **real_kwargs()) as c:
            with pytest.raises(ConnectError) as caught:
                c.get("/x", params=params)
            texts += error_texts(caught.value)
    texts += logs.lines
    assert any(" GET " in line and "token=[redacted]" in line for line in logs.lines)
    assert_hidden(REAL_SECRET, texts)


@pytest.mark.anyio
@pytest.mark.parametrize("make", ASYNC_TRANSPORTS, ids=["anyio", "httpcore"])
async def test_real_async_transports_show_no_secret(
    make: Callable[[], Any], transport_server: ServerHandle[ScenarioApp], closed_port_url: str
) -> None:
    texts: list[str] = []
    params = {"sig": REAL_SECRET}

    async def no_sleep(_: float) -> None:
        pass

    with capture_logs() as logs:
        async with AsyncClient(
            transport_server.url, transport=make(), sleep=no_sleep, **real_kwargs()
        ) as client:
            texts += client_texts(client)
            for path in ("/echo", "/status/503", "/status/403"):
                try:
                    texts += response_texts(await client.get(path, params=params))
                except APIError as exc:
                    texts += error_texts(exc)
        async with AsyncClient(
            closed_port_url, transport=make(), sleep=no_sleep, **real_kwargs()
        ) as client:
            with pytest.raises(ConnectError) as caught:
                await client.get("/x", params=params)
            texts += error_texts(caught.value)
    texts += logs.lines
    assert_hidden(REAL_SECRET, texts)


# errors raised before sending -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://user:{s}@api.example.test/",
        "https://user:{s}/",  # no "@": urlsplit reads the password as a port
        "https://{s}:x@api.example.test:99999/",
        "https://api.example.test\uff03{s}/",
        "{s}:{s}",
    ],
)
def test_bad_urls_do_not_echo_credentials(url: str) -> None:
    secret = "zQ" + "UrlPassword123456"
    with pytest.raises(InvalidRequestError) as caught:
        Client(url.format(s=secret), transport=MockTransport(lambda r: Response(200)))
    assert_hidden(secret, error_texts(caught.value))


def test_bad_header_values_do_not_echo_the_value() -> None:
    secret = "zQ" + "HeaderSecret123456"
    client = Client(BASE, transport=MockTransport(lambda r: Response(200)))
    for bad in (secret + "\r\nX-Injected: 1", secret + "\u2603", secret.encode()):
        with pytest.raises(InvalidRequestError) as caught:
            client.get("/", headers={"X-Secret": bad})  # type: ignore[dict-item]
        assert_hidden(secret, error_texts(caught.value))
    with pytest.raises(InvalidRequestError) as caught:
        Client(BASE, api_key=secret + "\n", transport=MockTransport(lambda r: Response(200)))
    assert_hidden(secret, error_texts(caught.value))


# the allowlist and the user's extensions ------------------------------------------------


def test_headers_repr_shows_only_allowlisted_values() -> None:
    headers = Headers(
        {
            "Content-Type": "application/json",
            "User-Agent": "ua/1",
            "Retry-After": "3",
            "X-Request-Id": "req-1",
            "Idempotency-Key": "key-1",
            "X-Custom": "custom-value",
            "Authorization": "Bearer tok",
            "X-Amz-Security-Token": "amz-token",
        }
    )
    text = repr(headers)
    for shown in ("application/json", "ua/1", "'3'", "req-1", "key-1"):
        assert shown in text
    for hidden in ("custom-value", "tok", "amz-token"):
        assert hidden not in text
    assert text.count("[redacted]") == 3
    assert "X-Custom" in text  # names are shown, values are not


def test_location_is_shown_with_its_query_redacted() -> None:
    headers = Headers({"Location": "https://u:pw@cdn.test/f?sig=abc&api-version=2#frag"})
    assert repr(headers) == (
        "Headers([('Location', 'https://[redacted]@cdn.test/f?sig=[redacted]"
        "&api-version=2#[redacted]')])"
    )


def test_client_extends_the_allowlists_and_marks_headers_sensitive() -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(200, headers={"X-Ratelimit-Remaining": "9", "Server": "s1"})

    client = Client(
        f"{BASE}?tenant=acme&key=k3y",
        transport=MockTransport(handler),
        default_headers={"X-Tenant": "acme", "Server-Timing": "t"},
        loggable_headers=["X-Tenant", "x-ratelimit-remaining"],
        loggable_query_params=["Tenant"],
        sensitive_headers=["server", "user-agent"],
    )
    with client:
        response = client.get("/items", params={"cursor": "c1", "page": 3})
    (request,) = seen
    shown = repr(request.headers)
    assert "'acme'" in shown
    assert "sdk-core" not in shown  # User-Agent is allowlisted, but marked sensitive
    assert "Server-Timing', '[redacted]'" in shown
    assert repr(request) == (
        "<Request GET https://api.example.test/v1/items?tenant=acme&key=[redacted]"
        "&cursor=[redacted]&page=3>"
    )
    assert "'9'" in repr(response.headers)
    assert "s1" not in repr(response.headers)
    assert "tenant=acme&key=[redacted]" in repr(client)
    assert "tenant=acme" in repr(client.with_options(timeout=1.0))


def test_the_default_client_uses_the_default_policy() -> None:
    client = Client(BASE, api_key="zQ-k", transport=MockTransport(lambda r: Response(200)))
    assert client._config.headers._redaction is None
    custom = Client(
        BASE,
        transport=MockTransport(lambda r: Response(200)),
        request_id_header="X-Amzn-RequestId",
        idempotency_header="X-Idem",
    )
    policy = custom._config.headers.redaction
    assert policy.shows_header("x-amzn-requestid")
    assert policy.shows_header("X-Idem")
    weird = Client(
        BASE, transport=MockTransport(lambda r: Response(200)), auth_header="X-Request-Id"
    )
    assert not weird._config.headers.redaction.shows_header("x-request-id")


@pytest.mark.parametrize("keyword", ["loggable_headers", "loggable_query_params"])
def test_a_bare_string_is_refused(keyword: str) -> None:
    with pytest.raises(InvalidRequestError, match=keyword):
        Client(BASE, transport=MockTransport(lambda r: Response(200)), **{keyword: "x-a"})


def test_status_error_message_hides_what_the_request_hid() -> None:
    request = Request(
        "GET",
        "https://api.example.test/items?sig=zQsignature123&page=1",
        headers={"Authorization": "Bearer zQbearer-token-1", "Accept": "application/json"},
    )
    body = b'{"error": {"message": "bad zQbearer-token-1 for zQsignature123", "code": "c"}}'
    response = Response(401, content=body, request=request)
    error = status_error(response)
    assert "zQ" not in str(error)
    assert error.message == "Error code: 401 - bad [redacted] for [redacted] (code=c)"
    assert str(error).endswith(" (GET https://api.example.test/items?sig=[redacted]&page=1)")
    assert error.body["error"]["message"].startswith("bad zQbearer")  # the data is kept


def test_reprs_of_plain_values_hold_nothing_secret() -> None:
    assert "zQ" not in repr(CallOptions(idempotency_key="k", timeout=Timeout(1.0)))
    assert repr(RetryPolicy()).startswith("RetryPolicy(")
    assert Redaction() == DEFAULT_REDACTION
