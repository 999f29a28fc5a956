"""Paging strategies (cursor, next cursor, offset) and the walk's state (``CycleGuard``,
``PageWalk``)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from _paging_helpers import FIRST, page

from sdk_core import (
    APIError,
    CursorPaging,
    InvalidRequestError,
    LinkHeaderPaging,
    NextCursorPaging,
    OffsetPaging,
    Page,
    PageRequest,
    PaginationError,
    Response,
)
from sdk_core.lowlevel import CycleGuard, PageWalk

# -- PageRequest, Page, PaginationError -----------------------------------------------


def test_page_request_with_params_replaces_by_name() -> None:
    request = PageRequest("GET", "/items", {"limit": 10, "after": "a"})
    assert request.with_params({"after": "b"}) == PageRequest(
        "GET", "/items", {"limit": 10, "after": "b"}
    )
    assert request.params == {"limit": 10, "after": "a"}  # unchanged


def test_pagination_error_is_an_api_error_with_the_response() -> None:
    response = page([1])
    error = PaginationError("bad page", response=response)
    assert isinstance(error, APIError)
    assert error.response is response
    assert error.request is response.request
    assert error.attempts == 0
    bare = PaginationError("cycle")
    assert bare.response is None
    assert bare.request is None


# -- CursorPaging ---------------------------------------------------------------------


def test_cursor_paging_continues_after_the_last_item() -> None:
    response = page({"data": [{"id": "a"}, {"id": "b"}], "has_more": True})
    result = CursorPaging().parse_page(PageRequest("GET", "/items", {"limit": 2}), response)
    assert result == Page(
        [{"id": "a"}, {"id": "b"}],
        response,
        PageRequest("GET", "/items", {"limit": 2}),
        PageRequest("GET", "/items", {"limit": 2, "after": "b"}),
    )
    assert result.has_next


@pytest.mark.parametrize(
    "body",
    [
        {"data": [{"id": "a"}], "has_more": False},
        {"data": [], "has_more": True},  # an empty page ends it, whatever has_more says
        {"data": []},
    ],
)
def test_cursor_paging_ends(body: dict[str, Any]) -> None:
    result = CursorPaging().parse_page(FIRST, page(body))
    assert result.items == body["data"]
    assert result.next_request is None
    assert not result.has_next


def test_cursor_paging_stripe_style_nested_fields_and_int_cursors() -> None:
    paging = CursorPaging(
        items=("result", "rows"),
        has_more=("result", "more"),
        cursor_param="starting_after",
        cursor_from=("meta", "seq"),
    )
    body = {"result": {"rows": [{"meta": {"seq": 7}}], "more": True}}
    result = paging.parse_page(FIRST, page(body))
    assert result.next_request == PageRequest("GET", "/items", {"starting_after": 7})


def test_cursor_paging_without_has_more_runs_to_an_empty_page() -> None:
    paging = CursorPaging(has_more=None)
    result = paging.parse_page(FIRST, page({"data": [{"id": "x"}]}))
    assert result.next_request == PageRequest("GET", "/items", {"after": "x"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], r"'data' field is not a list \(missing\)"),
        ({"data": {"id": 1}}, r"not a list \(a JSON object\)"),
        ({"data": "x"}, r"not a list \(a JSON string\)"),
        ({"data": None}, r"not a list \(a JSON null\)"),
        ({"data": 3.5}, r"not a list \(a JSON number\)"),
        ({"data": True}, r"not a list \(a JSON boolean\)"),
        ({"data": [{"id": 1}]}, r"'has_more' field is not a boolean \(missing\)"),
        ({"data": [{"id": 1}], "has_more": "yes"}, r"not a boolean \(a JSON string\)"),
        ({"data": [{"id": 1}], "has_more": 1}, r"not a boolean \(a JSON number\)"),
        ({"data": [{"name": 1}], "has_more": True}, "no 'id' to continue from"),
        ({"data": [7], "has_more": True}, "no 'id' to continue from"),
        ({"data": [{"id": ""}], "has_more": True}, "no 'id'"),
        ({"data": [{"id": None}], "has_more": True}, "no 'id'"),
        ({"data": [{"id": True}], "has_more": True}, "no 'id'"),
        ({"data": [{"id": 1.5}], "has_more": True}, "no 'id'"),
        ({"data": [{"id": [1]}], "has_more": True}, "no 'id'"),
    ],
)
def test_cursor_paging_malformed_pages(body: Any, message: str) -> None:
    response = page(body)
    with pytest.raises(PaginationError, match=message) as caught:
        CursorPaging().parse_page(FIRST, response)
    assert caught.value.response is response


def test_a_body_that_is_not_json() -> None:
    with pytest.raises(PaginationError, match="not JSON"):
        CursorPaging().parse_page(FIRST, page(None, raw=b"<html>"))


@pytest.mark.parametrize("current", ["b", 5])
def test_cursor_paging_refuses_to_repeat_the_page(current: str | int) -> None:
    request = PageRequest("GET", "/items", {"after": current})
    cursor: str | int = "b" if current == "b" else 5
    body = {"data": [{"id": cursor}], "has_more": True}
    with pytest.raises(PaginationError, match="'after' is this page's"):
        CursorPaging().parse_page(request, page(body))


def test_a_string_param_and_an_int_cursor_that_read_the_same_are_the_same_page() -> None:
    request = PageRequest("GET", "/items", {"after": "5"})
    with pytest.raises(PaginationError, match="never end"):
        CursorPaging().parse_page(request, page({"data": [{"id": 5}], "has_more": True}))


# -- NextCursorPaging ----------------------------------------------------------------


def test_next_cursor_paging_follows_the_token() -> None:
    request = PageRequest("GET", "/items", {"limit": 2, "cursor": "t1"})
    result = NextCursorPaging().parse_page(request, page({"data": [1, 2], "next_cursor": "t2"}))
    assert result.items == [1, 2]
    assert result.next_request == PageRequest("GET", "/items", {"limit": 2, "cursor": "t2"})


def test_next_cursor_paging_follows_a_token_past_an_empty_page() -> None:
    result = NextCursorPaging().parse_page(FIRST, page({"data": [], "next_cursor": 9}))
    assert result.next_request == PageRequest("GET", "/items", {"cursor": 9})


@pytest.mark.parametrize(
    "body",
    [
        {"data": [1]},
        {"data": [1], "next_cursor": None},
        {"data": [1], "next_cursor": ""},
    ],
)
def test_next_cursor_paging_ends_without_a_token(body: dict[str, Any]) -> None:
    assert NextCursorPaging().parse_page(FIRST, page(body)).next_request is None


def test_next_cursor_paging_slack_style_nested_token() -> None:
    paging = NextCursorPaging(
        items="members", next_cursor=("response_metadata", "next_cursor"), cursor_param="cursor"
    )
    body = {"members": ["u1"], "response_metadata": {"next_cursor": "dXNlcjpVMEc5V0ZYTlo="}}
    result = paging.parse_page(FIRST, page(body))
    assert result.next_request == PageRequest("GET", "/items", {"cursor": "dXNlcjpVMEc5V0ZYTlo="})


def test_next_cursor_paging_anthropic_style_has_more() -> None:
    paging = NextCursorPaging(next_cursor="last_id", cursor_param="after_id", has_more="has_more")
    more = paging.parse_page(
        FIRST, page({"data": [{"id": "m2"}], "has_more": True, "last_id": "m2"})
    )
    assert more.next_request == PageRequest("GET", "/items", {"after_id": "m2"})
    done = paging.parse_page(
        FIRST, page({"data": [{"id": "m3"}], "has_more": False, "last_id": "m3"})
    )
    assert done.next_request is None
    with pytest.raises(PaginationError, match="'has_more' field is not a boolean"):
        paging.parse_page(FIRST, page({"data": [], "last_id": None}))


@pytest.mark.parametrize("token", [{"a": 1}, [1], True, 2.5])
def test_next_cursor_paging_refuses_a_token_of_the_wrong_type(token: Any) -> None:
    with pytest.raises(PaginationError, match="not a string or an integer"):
        NextCursorPaging().parse_page(FIRST, page({"data": [], "next_cursor": token}))


def test_next_cursor_paging_refuses_to_repeat_the_page() -> None:
    request = PageRequest("GET", "/items", {"cursor": "same"})
    with pytest.raises(PaginationError, match="'cursor' is this page's"):
        NextCursorPaging().parse_page(request, page({"data": [1], "next_cursor": "same"}))


def test_next_cursor_paging_needs_a_list() -> None:
    with pytest.raises(PaginationError, match="'data' field is not a list"):
        NextCursorPaging().parse_page(FIRST, page({"next_cursor": "x"}))


# -- OffsetPaging ---------------------------------------------------------------------


def test_offset_paging_moves_on_by_the_items_received() -> None:
    request = PageRequest("GET", "/items", {"offset": 20, "limit": 2})
    result = OffsetPaging().parse_page(request, page({"data": [1, 2], "total": 30}))
    assert result.next_request == PageRequest("GET", "/items", {"offset": 22, "limit": 2})


def test_offset_paging_starts_at_zero_and_reads_digit_strings() -> None:
    assert OffsetPaging().parse_page(FIRST, page({"data": [1, 2, 3]})).next_request == (
        PageRequest("GET", "/items", {"offset": 3})
    )
    request = PageRequest("GET", "/items", {"offset": "10", "limit": "2"})
    assert OffsetPaging().parse_page(request, page({"data": [1, 2]})).next_request == (
        PageRequest("GET", "/items", {"offset": 12, "limit": "2"})
    )


@pytest.mark.parametrize(
    ("params", "body"),
    [
        ({}, {"data": []}),  # empty
        ({"limit": 3}, {"data": [1, 2]}),  # short of the limit
        ({"offset": 8}, {"data": [1, 2], "total": 10}),  # reached the total
        ({"offset": 9}, {"data": [1, 2], "total": 10}),  # past it
    ],
)
def test_offset_paging_ends(params: dict[str, int], body: dict[str, Any]) -> None:
    request = PageRequest("GET", "/items", params)
    assert OffsetPaging().parse_page(request, page(body)).next_request is None


def test_offset_paging_without_a_total_field_or_with_a_null_one_goes_on() -> None:
    request = PageRequest("GET", "/items", {"limit": 2})
    for body in ({"data": [1, 2]}, {"data": [1, 2], "total": None}):
        assert OffsetPaging().parse_page(request, page(body)).has_next
    ignoring = OffsetPaging(total=None)
    assert ignoring.parse_page(request, page({"data": [1, 2], "total": 1})).has_next


def test_offset_paging_trusts_a_total_over_a_short_page() -> None:
    request = PageRequest("GET", "/items", {"offset": 0, "limit": 3})
    result = OffsetPaging().parse_page(request, page({"data": [1], "total": 10}))
    assert result.next_request == PageRequest("GET", "/items", {"offset": 1, "limit": 3})


def test_offset_paging_can_ask_past_a_short_page_until_an_empty_one() -> None:
    paging = OffsetPaging(short_page_ends=False)
    request = PageRequest("GET", "/items", {"offset": 0, "limit": 3})
    result = paging.parse_page(request, page({"data": [1, 2]}))
    assert result.next_request == PageRequest("GET", "/items", {"offset": 2, "limit": 3})
    assert paging.parse_page(request, page({"data": []})).next_request is None


def test_offset_paging_custom_names() -> None:
    paging = OffsetPaging(items="results", offset_param="skip", limit_param="top", total="count")
    request = PageRequest("GET", "/items", {"skip": 0, "top": 1})
    result = paging.parse_page(request, page({"results": ["a"], "count": 2}))
    assert result.next_request == PageRequest("GET", "/items", {"skip": 1, "top": 1})


@pytest.mark.parametrize("total", ["10", 10.0, True, [10]])
def test_offset_paging_refuses_a_total_that_is_not_an_integer(total: Any) -> None:
    with pytest.raises(PaginationError, match=r"'total' is a JSON .*, not an integer"):
        OffsetPaging().parse_page(FIRST, page({"data": [1], "total": total}))


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"offset": -1}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"offset": "\u0661"}, "offset"),  # a digit, but not ASCII
        ({"offset": 1.0}, "offset"),
        ({"offset": True}, "offset"),
        ({"limit": 0}, "limit"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_offset_paging_bad_params_are_the_callers_mistake(
    params: dict[str, Any], name: str
) -> None:
    request = PageRequest("GET", "/items", params)
    with pytest.raises(InvalidRequestError, match=f"'{name}' param must be an int"):
        OffsetPaging().parse_page(request, page({"data": [1]}))


# -- CycleGuard and PageWalk ----------------------------------------------------------


def requests(*cursors: str) -> list[PageRequest]:
    return [PageRequest("GET", "/items", {"after": cursor}) for cursor in cursors]


def test_cycle_guard_catches_cycles_of_any_length() -> None:
    for length in range(1, 12):
        for tail in range(4):
            walk = requests(*(f"t{i}" for i in range(tail)), *(f"c{i}" for i in range(length)))
            guard = CycleGuard(walk[0])
            steps = run_until_caught(guard, walk, tail, length)
            assert steps <= 3 * (tail + length) + 1, (tail, length, steps)


def run_until_caught(guard: CycleGuard, walk: list[PageRequest], tail: int, length: int) -> int:
    """Feed the guard the walk's requests until it raises; the number fed."""
    fed: list[int] = []
    with pytest.raises(PaginationError, match="cycle"):
        feed(guard, walk, tail, length, fed)
    return len(fed)


def feed(
    guard: CycleGuard, walk: list[PageRequest], tail: int, length: int, fed: list[int]
) -> None:
    for n in itertools.count(1):  # pragma: no branch - ends by raising
        fed.append(n)
        guard.check(_cycle(walk, tail, length, n))


def _cycle(walk: list[PageRequest], tail: int, length: int, n: int) -> PageRequest:
    """The n-th request of a walk with ``tail`` requests before a cycle of ``length``."""
    return walk[n] if n < tail + length else walk[tail + (n - tail) % length]


def test_cycle_guard_lets_a_walk_without_repeats_through() -> None:
    walk = requests(*(str(i) for i in range(1000)))
    guard = CycleGuard(walk[0])
    for request in walk[1:]:
        guard.check(request)


def walk_pages(walk: PageWalk, responses: dict[str, Response]) -> list[Page]:
    pages = []
    while (request := walk.next_request()) is not None:
        key = (
            str(request.params.get("after", ""))
            if not request.path.startswith("http")
            else request.path
        )
        pages.append(walk.receive_page(request, responses[key]))
    return pages


def test_page_walk_runs_to_the_end_and_counts() -> None:
    responses = {
        "": page({"data": [{"id": "a"}], "has_more": True}),
        "a": page({"data": [{"id": "b"}], "has_more": True}),
        "b": page({"data": [{"id": "c"}], "has_more": False}),
    }
    walk = PageWalk(CursorPaging(), FIRST, base_url="https://api.example.test/v1")
    pages = walk_pages(walk, responses)
    assert [p.items for p in pages] == [[{"id": "a"}], [{"id": "b"}], [{"id": "c"}]]
    assert walk.pages == 3
    assert walk.next_request() is None


def test_page_walk_max_pages_ends_quietly() -> None:
    responses = {
        "": page({"data": [{"id": "a"}], "has_more": True}),
        "a": page({"data": [{"id": "b"}], "has_more": True}),
    }
    walk = PageWalk(CursorPaging(), FIRST, base_url="https://api.example.test/v1", max_pages=2)
    assert len(walk_pages(walk, responses)) == 2
    assert walk.next_request() is None


@pytest.mark.parametrize("max_pages", [0, -1, True, 1.5, "2"])
def test_page_walk_refuses_a_bad_max_pages(max_pages: Any) -> None:
    with pytest.raises(InvalidRequestError, match="max_pages"):
        PageWalk(CursorPaging(), FIRST, base_url="https://api.example.test", max_pages=max_pages)


def test_page_walk_stays_put_after_an_error() -> None:
    walk = PageWalk(CursorPaging(), FIRST, base_url="https://api.example.test/v1")
    with pytest.raises(PaginationError):
        walk.receive_page(FIRST, page({"nope": 1}))
    assert walk.next_request() == FIRST
    assert walk.pages == 0


def test_page_walk_catches_a_longer_cycle() -> None:
    responses = {
        "": page({"data": [{"id": "a"}], "has_more": True}),
        "a": page({"data": [{"id": "b"}], "has_more": True}),
        "b": page({"data": [{"id": "a"}], "has_more": True}),  # back to a
    }
    walk = PageWalk(CursorPaging(), FIRST, base_url="https://api.example.test/v1")
    with pytest.raises(PaginationError, match="cycle") as caught:
        walk_pages(walk, responses)
    assert walk.pages < 10
    assert caught.value.response is responses["b"]


class _Jump:
    """A strategy whose next page is an absolute URL (as a custom one might build)."""

    def __init__(self, target: str) -> None:
        self.target = target

    def parse_page(self, request: PageRequest, response: Response) -> Page:
        return Page([1], response, request, PageRequest("GET", self.target))


def test_page_walk_keeps_to_the_first_requests_origin() -> None:
    base = "https://api.example.test/v1"
    walk = PageWalk(_Jump("https://API.example.test/v1/next"), FIRST, base_url=base)
    assert walk.receive_page(FIRST, page([1])).next_request is not None
    for target in ("https://cdn.example.test/v1/next", "http://api.example.test/v1/next"):
        walk = PageWalk(_Jump(target), FIRST, base_url=base)
        with pytest.raises(PaginationError, match="another origin than the first"):
            walk.receive_page(FIRST, page([1]))


def test_page_walk_a_link_page_redirected_to_another_origin_cannot_take_the_key_along() -> None:
    # The first page was redirected to cdn.example.test (the client dropped the auth
    # header for that hop); its next link is same-origin with the page, not with the
    # first request, which is where the credentials belong.
    redirected = page([1], url="https://cdn.example.test/items", links=["</items?p=2>; rel=next"])
    walk = PageWalk(LinkHeaderPaging(), FIRST, base_url="https://api.example.test/v1")
    with pytest.raises(PaginationError, match="another origin than the first"):
        walk.receive_page(FIRST, redirected)


def test_page_walk_with_an_absolute_first_path() -> None:
    first = PageRequest("GET", "https://other.example.test/list")
    response = page([1], url="https://other.example.test/list", links=["</list?p=2>; rel=next"])
    walk = PageWalk(LinkHeaderPaging(), first, base_url="https://api.example.test/v1")
    assert walk.receive_page(first, response).next_request == PageRequest(
        "GET", "https://other.example.test/list?p=2"
    )
