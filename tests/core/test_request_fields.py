"""Headers made by appending (``with_default``, a ``merged`` that replaces nothing, the
Content-Length a ``Request`` adds) derive their request fields from the list they
extend; the result is always what encoding the whole list gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdk_core import Headers, InvalidRequestError, Request
from sdk_core._fields import encode_fields
from sdk_core._request_head import encode_request_head, fields_of

NAMES = st.sampled_from(
    ["Accept", "X-Key", "Host", "Content-Length", "Transfer-Encoding", "Connection", "x-key"]
)
VALUES = st.sampled_from(["1", "12", "a", "chunked", "close", "keep-alive", "1, 1", "x y"])
PAIRS = st.lists(st.tuples(NAMES, VALUES), max_size=4)


def whole(headers: Headers) -> object:
    try:
        return encode_fields(tuple(headers.multi_items()))
    except InvalidRequestError as exc:
        return str(exc)


def derived(headers: Headers) -> object:
    try:
        return fields_of(headers)
    except InvalidRequestError as exc:
        return str(exc)


STEPS = st.lists(
    st.tuples(st.sampled_from(["default", "merged", "appended"]), PAIRS), min_size=1, max_size=4
)


@settings(max_examples=500)
@given(PAIRS, STEPS, st.booleans())
def test_appended_lists_derive_what_the_whole_list_encodes(
    base: list[tuple[str, str]],
    steps: list[tuple[str, list[tuple[str, str]]]],
    encode_base_first: bool,
) -> None:
    headers = Headers(base)
    if encode_base_first:
        derived(headers)  # the base's fields are known before the appends
    made = [headers]
    for how, pairs in steps:
        if how == "default" and pairs:
            headers = headers.with_default(*pairs[0])
        elif how == "merged":
            headers = headers.merged(pairs)
        else:  # any validated pairs, repeated framing fields included
            headers = headers._appended(tuple(Headers(pairs).multi_items()), None)
        made.append(headers)
    assert derived(headers) == whole(headers)
    for each in made:  # every list on the way keeps fields for its own items
        assert derived(each) == whole(each)


def test_a_long_chain_of_appends_is_encoded_without_recursion() -> None:
    headers = Headers({"Accept": "*/*"})
    for index in range(2000):
        headers = headers.with_default(f"X-{index}", str(index))
    fields = fields_of(headers)
    assert fields == encode_fields(tuple(headers.multi_items()))
    assert fields.lines.count("\r\n") == 2001


def test_appending_leaves_the_original_list_and_its_index_alone() -> None:
    base = Headers([("A", "1")])
    child = base.merged({"B": "2"}).with_default("a", "3")  # "a" is present: unchanged
    assert child.multi_items() == [("A", "1"), ("B", "2")]
    grown = base._appended((("a", "2"),), None)
    assert grown.get_list("a") == ["1", "2"]
    assert base.get_list("a") == ["1"]
    assert base.multi_items() == [("A", "1")]


def test_a_request_body_length_extends_the_client_headers_fields() -> None:
    client_headers = Headers({"Accept": "application/json", "User-Agent": "t"})
    request = Request("POST", "http://a.test/x", headers=client_headers, content=b"{}")
    keyed = request.with_headers({"Idempotency-Key": "k-1"})
    head = encode_request_head(keyed, streamed=False)
    assert head.data == (
        b"POST /x HTTP/1.1\r\nHost: a.test\r\nAccept: application/json\r\nUser-Agent: t\r\n"
        b"Content-Length: 2\r\nIdempotency-Key: k-1\r\n\r\n"
    )
    assert head.length == 2
    assert client_headers._request_fields is not None  # encoded once, for every request
    assert keyed.headers._base is None  # derived: the chain is let go
