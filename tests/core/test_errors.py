"""The error tree, the status table and the parsing of error bodies."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sdk_core
from sdk_core import (
    STATUS_ERRORS,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    Call,
    CallOptions,
    CallStateError,
    Completed,
    ConflictError,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    Failed,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PoolTimeout,
    RateLimitError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    Response,
    ResponseTooLargeError,
    SDKError,
    SendRequest,
    Sleep,
    UnprocessableEntityError,
    WriteError,
    WriteTimeout,
    error_class_for,
    parse_error_body,
    status_error,
)

URL = "https://api.example.com/v1/things"

SPECIFIC = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

#: A bound on str(error): the server's message is cut to a few hundred characters.
MAX_STR = 700
#: A bound on the raw text kept on an error.
MAX_BODY = 4096


def expected_class(status: int) -> type[APIStatusError]:
    if status in SPECIFIC:
        return SPECIFIC[status]
    return InternalServerError if status >= 500 else APIStatusError


# ---------------------------------------------------------------------------------------
# The tree


#: (class, its parent) exactly as DESIGN.md draws the tree.
TREE = [
    (SDKError, Exception),
    (InvalidRequestError, SDKError),
    (APIError, SDKError),
    (APIConnectionError, APIError),
    (ConnectError, APIConnectionError),
    (ReadError, APIConnectionError),
    (WriteError, APIConnectionError),
    (RemoteProtocolError, APIConnectionError),
    (APITimeoutError, APIConnectionError),
    (ConnectTimeout, APITimeoutError),
    (ReadTimeout, APITimeoutError),
    (WriteTimeout, APITimeoutError),
    (PoolTimeout, APITimeoutError),
    (DeadlineExceeded, APITimeoutError),
    (APIStatusError, APIError),
    (BadRequestError, APIStatusError),
    (AuthenticationError, APIStatusError),
    (PermissionDeniedError, APIStatusError),
    (NotFoundError, APIStatusError),
    (ConflictError, APIStatusError),
    (UnprocessableEntityError, APIStatusError),
    (RateLimitError, APIStatusError),
    (InternalServerError, APIStatusError),
]


@pytest.mark.parametrize(("cls", "parent"), TREE, ids=lambda c: c.__name__)
def test_the_tree_of_design_md(cls: type[BaseException], parent: type[BaseException]) -> None:
    assert cls.__bases__[0] is parent
    assert cls.__name__ in sdk_core.__all__
    assert getattr(sdk_core, cls.__name__) is cls


def test_branches_do_not_overlap() -> None:
    connection = [c for c, _ in TREE if issubclass(c, APIConnectionError)]
    status = [c for c, _ in TREE if issubclass(c, APIStatusError)]
    assert not set(connection) & set(status)
    for cls in (*connection, *status):
        assert not issubclass(cls, InvalidRequestError)
    assert not issubclass(InvalidRequestError, APIError)


def test_invalid_request_error_is_a_value_error() -> None:
    assert issubclass(InvalidRequestError, ValueError)
    with pytest.raises(ValueError, match="method"):
        Request("GE T", URL)


def test_extra_errors_sit_where_they_belong() -> None:
    assert issubclass(CallStateError, SDKError)
    assert issubclass(CallStateError, RuntimeError)
    assert not issubclass(CallStateError, APIError)
    assert issubclass(ResponseTooLargeError, APIError)
    assert not issubclass(ResponseTooLargeError, APIConnectionError | APIStatusError)


@pytest.mark.parametrize(
    ("cls", "sent"),
    [
        (APIConnectionError, True),
        (ConnectError, False),
        (ReadError, True),
        (WriteError, True),
        (RemoteProtocolError, True),
        (APITimeoutError, True),
        (ConnectTimeout, False),
        (ReadTimeout, True),
        (WriteTimeout, True),
        (PoolTimeout, False),
        (DeadlineExceeded, True),
    ],
)
def test_request_sent_defaults(cls: type[APIConnectionError], sent: bool) -> None:
    error = cls()
    assert error.request_sent is sent
    assert cls(request_sent=not sent).request_sent is (not sent)
    assert error.attempts == 0
    assert error.request is None
    assert str(error)  # a default message
    request = Request("GET", URL)
    assert cls("m", request=request).request is request


def test_api_error_basics() -> None:
    error = APIError("went wrong")
    assert error.message == "went wrong"
    assert str(error) == "went wrong"
    assert error.attempts == 0
    assert error.request is None


# ---------------------------------------------------------------------------------------
# The status table


def test_the_table_holds_exactly_the_specific_codes() -> None:
    assert STATUS_ERRORS == SPECIFIC


def test_every_status_from_400_to_599_maps_to_its_class() -> None:
    for status in range(400, 600):
        cls = expected_class(status)
        assert error_class_for(status) is cls, status
        error = status_error(Response(status))
        assert type(error) is cls, status
        assert error.status_code == status


def test_statuses_outside_the_error_range() -> None:
    assert error_class_for(600) is InternalServerError
    assert error_class_for(999) is InternalServerError
    # A status the caller rejects anyway (say a 3xx it did not follow) is a plain error.
    assert type(status_error(Response(302))) is APIStatusError
    assert str(status_error(Response(302))) == "Error code: 302 - Found"
    assert str(status_error(Response(599))) == "Error code: 599 - Error. The server failed."


@pytest.mark.parametrize("status", sorted({*SPECIFIC, 405, 418, 500, 503, 504, 599}))
def test_a_failed_call_raises_the_class_of_its_status(status: int) -> None:
    options = CallOptions(max_retries=0)
    call = Call(Request("GET", URL), options, now=0.0, rng=random.Random(0))
    call.next_event()
    call.receive_response(Response(status), now=0.0)
    event = call.next_event()
    assert isinstance(event, Failed)
    assert type(event.error) is expected_class(status)
    assert event.error.attempts == 1


# ---------------------------------------------------------------------------------------
# Error bodies


def body_error(
    content: bytes | str, content_type: str | None = None, status: int = 400
) -> APIStatusError:
    raw = content.encode() if isinstance(content, str) else content
    headers = {"content-type": content_type} if content_type else None
    return status_error(Response(status, headers=headers, content=raw))


def test_error_object_body() -> None:
    body = {"error": {"message": "Bad thing", "type": "invalid_request", "code": "bad_param"}}
    error = body_error(json.dumps(body), "application/json")
    assert type(error) is BadRequestError
    assert error.body == body
    assert error.message == str(error)
    assert (error.code, error.type) == ("bad_param", "invalid_request")
    assert str(error) == "Error code: 400 - Bad thing (type=invalid_request, code=bad_param)"


@pytest.mark.parametrize(
    ("body", "message", "type_", "code"),
    [
        ({"error": {"detail": "d"}}, "d", None, None),
        ({"error": {"message": "m", "detail": "d"}}, "m", None, None),
        ({"error": {"message": "", "detail": "d"}}, "d", None, None),
        ({"error": {"code": 123, "type": None}}, None, None, "123"),
        ({"error": {"message": {"nested": 1}}}, None, None, None),
        ({"error": {"message": ["a"], "code": ["x"]}}, None, None, None),
        ({"error": "plain words", "type": "t", "code": "c"}, "plain words", "t", "c"),
        ({"error": None, "message": "top", "code": 7}, "top", None, "7"),
        ({"error": 5, "message": "top"}, "top", None, None),
        ({"message": "m", "type": "t"}, "m", "t", None),
        ({"title": "Only a title"}, "Only a title", None, None),
        ({"detail": "Only detail", "title": "T"}, "Only detail", None, None),
        ({}, None, None, None),
        ({"unrelated": True}, None, None, None),
    ],
)
def test_json_object_bodies(
    body: dict[str, object], message: str | None, type_: str | None, code: str | None
) -> None:
    parsed = parse_error_body(Response(400, content=json.dumps(body).encode()))
    assert parsed.body == body
    assert (parsed.message, parsed.type, parsed.code) == (message, type_, code)


def test_problem_details() -> None:
    problem = {
        "type": "https://example.com/probs/out-of-credit",
        "title": "You do not have enough credit.",
        "detail": "Your current balance is 30, but that costs 50.",
        "instance": "/account/12345/msgs/abc",
        "status": 403,
    }
    error = body_error(json.dumps(problem), "application/problem+json; charset=utf-8", 403)
    assert type(error) is PermissionDeniedError
    assert error.body == problem
    assert error.message.startswith("Error code: 403 - Your current balance is 30")
    assert error.type == "https://example.com/probs/out-of-credit"
    # Without "detail", the title speaks; the content type alone marks a problem.
    only_type = {"type": "about:blank", "code": "x"}
    parsed = parse_error_body(
        Response(
            404,
            headers={"Content-Type": "Application/Problem+JSON"},
            content=json.dumps(only_type).encode(),
        )
    )
    assert (parsed.message, parsed.type, parsed.code) == (None, "about:blank", "x")
    # The content type alone makes "detail" the message, with no "title" in sight.
    detail_only = {"type": "about:blank", "detail": "Account 7 is closed."}
    problem = body_error(json.dumps(detail_only), "application/problem+json", 410)
    assert "Account 7 is closed." in str(problem)
    plain = parse_error_body(Response(410, content=json.dumps(detail_only).encode()))
    assert plain.message is None  # the same body as plain JSON says nothing known
    titled = body_error(json.dumps({"title": "Not here", "type": "about:blank"}), None, 404)
    assert "Not here" in str(titled)
    assert titled.type == "about:blank"


@pytest.mark.parametrize(
    ("content", "body", "message"),
    [
        (b"[1, 2]", [1, 2], None),
        (b'["a"]', ["a"], None),
        (b'"just a string"', "just a string", "just a string"),
        (b"42", 42, "42"),
        (b"true", True, "True"),
        (b"null", "null", "null"),
        (b"Bad Gateway\n", "Bad Gateway\n", "Bad Gateway"),
        (b"<html><body>nginx</body></html>", "<html><body>nginx</body></html>", None),
        (b'{"error": {"message": "cut', '{"error": {"message": "cut', None),
        (b"\xff\xfe not utf-8", "\ufffd\ufffd not utf-8", None),
    ],
)
def test_bodies_that_are_not_json_objects(
    content: bytes, body: object, message: str | None
) -> None:
    parsed = parse_error_body(Response(500, content=content))
    assert parsed.body == body
    # Raw text is its own message, stripped.
    expected = message if message is not None or not isinstance(body, str) else body
    assert parsed.message == expected
    assert parsed.type is None
    assert parsed.code is None
    error = status_error(Response(500, content=content))
    assert type(error) is InternalServerError
    assert error.body == body
    if isinstance(body, str):
        assert body.split()[0] in str(error)


@pytest.mark.parametrize("content", [b"", b"   ", b"\r\n\t"])
def test_empty_bodies(content: bytes) -> None:
    parsed = parse_error_body(Response(404, content=content))
    assert (parsed.body, parsed.message, parsed.type, parsed.code) == (None, None, None, None)
    assert status_error(Response(404, content=content)).message == "Error code: 404 - Not Found"


def test_a_deeply_nested_body_is_kept_as_text() -> None:
    content = b"[" * 200_000
    error = status_error(Response(502, content=content))
    assert type(error) is InternalServerError
    assert error.body == "[" * MAX_BODY


@pytest.mark.parametrize(
    "content",
    [
        b"x" * (10 * 1024 * 1024),
        b'{"error": {"message": "' + b"a" * (10 * 1024 * 1024) + b'"}}',
        b"\xe2\x82\xac" * (4 * 1024 * 1024),  # multi-byte characters
        b" " * (10 * 1024 * 1024) + b"late",
    ],
    ids=["text", "json", "utf-8", "late text"],
)
def test_a_10_mb_body(content: bytes) -> None:
    error = status_error(Response(503, content=content))
    assert type(error) is InternalServerError
    assert isinstance(error.body, str)
    assert len(error.body) <= MAX_BODY
    assert len(str(error)) <= MAX_STR


def test_a_json_body_just_under_the_parse_limit_is_parsed() -> None:
    message = "m" * (1024 * 1024 - 100)
    content = json.dumps({"error": {"message": message}}).encode()
    assert len(content) <= 1 << 20
    error = status_error(Response(400, content=content))
    assert error.body == {"error": {"message": message}}
    assert len(str(error)) <= MAX_STR
    assert str(error).endswith("...")


@pytest.mark.parametrize(
    ("charset", "content", "expected"),
    [
        ("latin-1", "café".encode("latin-1"), "café"),
        ('"iso-8859-1"', "café".encode("latin-1"), "café"),
        ("utf-16", "oops".encode("utf-16"), "oops"),
        ("no-such-charset", b"caf\xc3\xa9", "café"),
        ("idna", b"caf\xc3\xa9 \xff", "café \ufffd"),  # a codec that cannot replace
        ("punycode", b"caf\xc3\xa9", "café"),
        ("undefined", b"caf\xc3\xa9", "café"),  # a codec that always raises
        ("rot13", b"abc", "abc"),  # not a bytes-to-text codec
        ("base64", b"abc", "abc"),
    ],
)
def test_charsets(charset: str, content: bytes, expected: str) -> None:
    response = Response(
        500, headers={"Content-Type": f"text/plain; charset={charset}"}, content=content
    )
    assert response.text == expected
    error = status_error(response)
    assert error.body == expected
    assert type(error) is InternalServerError


def test_json_in_other_unicode_encodings_is_parsed() -> None:
    body = {"error": {"message": "ü"}}
    for encoding in ("utf-16", "utf-32", "utf-8-sig"):
        parsed = parse_error_body(Response(400, content=json.dumps(body).encode(encoding)))
        assert parsed.body == body
        assert parsed.message == "ü"


CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/json",
        "application/problem+json",
        "text/plain; charset=utf-8",
        "text/html; charset=latin-1",
        "text/plain; charset=idna",
        "text/plain; charset=undefined",
        "text/plain; charset=utf-16",
        "text/plain; charset=bogus",
    ]
)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["error", "message", "detail", "title", "type", "code", "x"]),
            children,
            max_size=5,
        )
    ),
    max_leaves=15,
)


@settings(max_examples=400, deadline=None)
@given(
    status=st.integers(400, 599),
    content=st.one_of(
        st.binary(max_size=300),
        JSONISH.map(lambda v: json.dumps(v).encode()),
        JSONISH.map(lambda v: json.dumps(v).encode()[:-1]),  # truncated
    ),
    content_type=CONTENT_TYPES,
    request_id=st.none() | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E)),
)
def test_any_error_body_gives_a_typed_bounded_error(
    status: int, content: bytes, content_type: str | None, request_id: str | None
) -> None:
    headers = {}
    if content_type:
        headers["content-type"] = content_type
    if request_id:
        headers["x-request-id"] = request_id
    response = Response(status, headers=headers, content=content)
    parsed = parse_error_body(response)
    error = status_error(response, retry_after=1.0)
    assert type(error) is expected_class(status)
    assert repr(error.body) == repr(parsed.body)  # repr: JSON may hold NaN
    assert error.response is response
    assert error.retry_after == 1.0
    assert error.request_id == (request_id or None)
    assert len(str(error)) <= MAX_STR
    assert str(error).startswith(f"Error code: {status} - ")
    assert "\n" not in str(error)
    for value in (error.code, error.type):
        assert value is None or isinstance(value, str)
    if isinstance(parsed.body, str):
        assert len(parsed.body) <= MAX_BODY
    assert isinstance(response.text, str)


# ---------------------------------------------------------------------------------------
# request_id and attempts


def test_request_id_from_x_request_id() -> None:
    response = Response(404, headers={"X-Request-ID": "req_abc"})
    assert response.request_id == "req_abc"
    error = status_error(response)
    assert error.request_id == "req_abc"
    assert error.message == "Error code: 404 - Not Found (request_id=req_abc)"
    assert status_error(Response(404)).request_id is None


def _run(status: int, options: CallOptions, headers: dict[str, str]) -> Completed | Failed:
    call = Call(Request("GET", URL), options, now=0.0, rng=random.Random(0))
    call.next_event()
    call.receive_response(Response(status, headers=headers), now=0.0)
    event = call.next_event()
    assert isinstance(event, Completed | Failed)
    return event


def test_request_id_from_a_configured_header() -> None:
    headers = {"cf-ray": "ray-1", "x-request-id": "req-1"}
    options = CallOptions(max_retries=0, request_id_header="CF-Ray")
    failed = _run(500, options, headers)
    assert isinstance(failed, Failed)
    assert isinstance(failed.error, APIStatusError)
    assert failed.error.request_id == "ray-1"
    assert "request_id=ray-1" in str(failed.error)
    done = _run(200, options, headers)
    assert isinstance(done, Completed)
    assert done.response.request_id == "ray-1"
    default = _run(200, CallOptions(), headers)
    assert isinstance(default, Completed)
    assert default.response.request_id == "req-1"
    missing = _run(422, CallOptions(request_id_header="x-trace"), headers)
    assert isinstance(missing, Failed)
    assert isinstance(missing.error, UnprocessableEntityError)
    assert missing.error.request_id is None


def test_status_error_attributes() -> None:
    request = Request("GET", URL)
    response = Response(
        429,
        headers={"x-request-id": "r"},
        content=b'{"error": {"message": "slow down", "type": "rate", "code": "too_many"}}',
        request=request,
    )
    error = status_error(response, retry_after=3.0)
    assert isinstance(error, RateLimitError)
    assert error.status_code == 429
    assert error.response is response
    assert error.request is request
    assert error.body == {"error": {"message": "slow down", "type": "rate", "code": "too_many"}}
    assert (error.code, error.type, error.request_id, error.retry_after) == (
        "too_many",
        "rate",
        "r",
        3.0,
    )
    assert error.message == str(error).partition(". Rate limited")[0]
    assert error.attempts == 0


def test_long_and_multiline_messages_are_shortened() -> None:
    message = "line one\nline two\r\n" + "word " * 200
    error = body_error(json.dumps({"error": {"message": message, "type": "t" * 500}}))
    text = str(error)
    assert "\n" not in text
    assert "line one line two" in text
    assert len(text) <= MAX_STR
    assert text.endswith(" (type=" + "t" * 80 + ")")


@pytest.mark.parametrize(
    "outcomes",
    [
        [Response(503), Response(503), Response(503)],
        [ReadError(), ConnectError(), ReadError()],
        [Response(404)],
        [ReadError(), Response(400)],
        [DeadlineExceeded()],
        [ResponseTooLargeError("big")],
        [Response(503), ReadTimeout(), Response(500)],
    ],
)
def test_attempts_on_every_failed_error(outcomes: list[Response | APIError]) -> None:
    call = Call(Request("GET", URL), now=0.0, rng=random.Random(0))
    now = 0.0
    for outcome in outcomes:
        event = call.next_event()
        while isinstance(event, Sleep):
            now += event.seconds
            event = call.next_event()
        assert isinstance(event, SendRequest)
        if isinstance(outcome, Response):
            call.receive_response(outcome, now=now)
        else:
            call.receive_error(outcome, now=now)
    failed = call.next_event()
    assert isinstance(failed, Failed)
    assert failed.error.attempts == len(outcomes)
    assert failed.error.request is call.request
