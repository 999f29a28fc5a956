"""A response is assembled once: the call attaches its metadata and the redaction policy
in one step, and nothing changes a response's public attributes after that."""

from __future__ import annotations

import random

import pytest

from sdk_core import (
    Call,
    CallOptions,
    Completed,
    Failed,
    Headers,
    NotFoundError,
    Request,
    Response,
    RetryPolicy,
    SendRequest,
    Sleep,
)
from sdk_core.lowlevel import NEED_DATA, BodyBuffer, ClientCodec, Redaction, StreamReader

POLICY = Redaction().extended(sensitive_headers=["Server"])
PUBLIC = ("status_code", "headers", "content", "request", "attempts", "redirects")


def _request(policy: Redaction | None = POLICY) -> Request:
    headers = Headers({"Accept": "*/*"})
    return Request("GET", "https://a.test/p", headers=headers.with_redaction(policy))


def _sent(call: Call) -> Request:
    event = call.next_event()
    assert isinstance(event, SendRequest)
    return event.request


@pytest.mark.parametrize("name", [*PUBLIC, "request_id_header"])
def test_every_public_attribute_is_read_only(name: str) -> None:
    response = Response(200, content=b"x")
    before = getattr(response, name)
    with pytest.raises(AttributeError):
        setattr(response, name, before)
    assert getattr(response, name) == before


def test_a_response_outside_a_call_has_the_defaults() -> None:
    response = Response(204, headers={"X-Request-Id": "r1"})
    assert (response.attempts, response.redirects) == (1, 0)
    assert response.request_id_header == "x-request-id"
    assert response.request_id == "r1"
    assert response.request is None


def test_the_call_attaches_request_policy_and_metadata_in_one_step() -> None:
    request = _request()
    options = CallOptions(request_id_header="CF-Ray")
    call = Call(request, options, now=0.0, rng=random.Random(1))
    sent = _sent(call)
    bare = Response(200, headers={"Server": "s1", "CF-Ray": "ray-1"}, content=b"{}")
    call.receive_response(bare, now=0.0)
    done = call.next_event()
    assert isinstance(done, Completed)
    response = done.response
    assert response is bare  # a fresh response is completed as it is, not copied
    assert response.request is sent
    assert response.headers.redaction is POLICY
    assert "s1" not in repr(response.headers)
    assert (response.attempts, response.redirects) == (1, 0)
    assert response.request_id_header == "CF-Ray"
    assert response.request_id == "ray-1"


def test_a_response_keeps_the_request_its_transport_named() -> None:
    call = Call(_request(), now=0.0, rng=random.Random(1))
    _sent(call)
    other = _request(None)
    call.receive_response(Response(200, request=other), now=0.0)
    done = call.next_event()
    assert isinstance(done, Completed)
    assert done.response.request is other
    assert done.response.headers._redaction is None  # the policy of the request it names


def test_a_retried_call_numbers_each_response_with_its_attempt() -> None:
    policy = RetryPolicy(max_retries=2, initial_delay=0.5)
    call = Call(_request(), CallOptions(retry=policy), now=0.0, rng=random.Random(1))
    seen = []
    for status in (503, 503, 404):
        event = call.next_event()
        if isinstance(event, Sleep):
            event = call.next_event()
        assert isinstance(event, SendRequest)
        response = Response(status)
        call.receive_response(response, now=0.0)
        seen.append(response)
    failed = call.next_event()
    assert [r.attempts for r in seen] == [1, 2, 3]
    assert isinstance(failed, Failed)
    error = failed.error
    assert isinstance(error, NotFoundError)
    assert error.response is seen[-1]
    assert error.attempts == error.response.attempts == 3


def test_a_canned_response_reported_again_leaves_the_first_one_as_handed_over() -> None:
    canned = Response(200, headers={"X-Request-Id": "r1"}, content=b"ok")
    first = Call(_request(), now=0.0, rng=random.Random(1))
    first_sent = _sent(first)
    first.receive_response(canned, now=0.0)
    handed = first.next_event()
    assert isinstance(handed, Completed)
    assert handed.response is canned

    second = Call(
        _request(None), CallOptions(request_id_header="x-other"), now=0.0, rng=random.Random(1)
    )
    second_sent = _sent(second)
    second.receive_response(canned, now=0.0)
    again = second.next_event()
    assert isinstance(again, Completed)
    assert again.response is not canned
    assert again.response.content == b"ok"
    assert again.response.request_id_header == "x-other"
    assert again.response.request is first_sent  # the copy keeps what the first got
    # What the first call handed over did not change.
    assert canned.request is first_sent
    assert canned.request_id_header == "x-request-id"
    assert canned.request_id == "r1"
    assert second_sent is not first_sent


def test_headers_with_their_own_policy_keep_it() -> None:
    own = Headers({"Server": "s1"}).with_redaction(Redaction())
    response = Response(200, headers=own, request=_request())
    assert response.headers is own


def test_a_streamed_head_takes_the_policy_without_a_copy_and_its_body_is_filled_once() -> None:
    request = _request()
    codec = ClientCodec()
    codec.encode_request(request, body=b"")
    reader = StreamReader(codec, request, window=1024)
    codec.feed(b"HTTP/1.1 200 OK\r\nServer: s1\r\nContent-Length: 5\r\n\r\nhello")
    head = reader.head()
    assert head is not NEED_DATA
    assert isinstance(head, Response)
    assert head.headers.redaction is POLICY
    assert head.request is request
    assert head.content == b""
    kept = BodyBuffer(1024, request)
    while piece := reader.body():
        assert piece is not NEED_DATA
        assert isinstance(piece, bytes)
        kept.add(piece)
    head._fill(kept.content())
    assert head.content == b"hello"


def test_a_request_without_a_policy_leaves_received_headers_alone() -> None:
    request = _request(None)
    codec = ClientCodec()
    codec.encode_request(request, body=b"")
    reader = StreamReader(codec, request, window=1024)
    codec.feed(b"HTTP/1.1 204 No Content\r\n\r\n")
    head = reader.head()
    assert isinstance(head, Response)
    assert head.headers._redaction is None


def test_a_canned_response_reported_to_a_like_call_is_handed_over_unchanged() -> None:
    canned = Response(200, content=b"ok")
    requests = []
    for _ in range(2):
        call = Call(_request(), now=0.0, rng=random.Random(1))
        requests.append(_sent(call))
        call.receive_response(canned, now=0.0)
        done = call.next_event()
        assert isinstance(done, Completed)
        assert done.response is canned
    # It keeps the request it was first given: it names one request, and was handed over.
    assert canned.request is requests[0]
    assert (canned.attempts, canned.redirects, canned.request_id_header) == (1, 0, "x-request-id")
