"""``PageRequest`` params given as (name, value) pairs: kept in order with repeated names,
read with ``param``, and updated by the strategies so that their cursor or offset takes
the place of one of the same name rather than joining it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk_core import (
    CursorPaging,
    InvalidRequestError,
    NextCursorPaging,
    OffsetPaging,
    PageRequest,
    PaginationError,
    Request,
    Response,
)
from sdk_core.lowlevel import PageWalk

URL = "https://api.example.test/v1/items"


def page(body: Any) -> Response:
    return Response(200, content=json.dumps(body).encode(), request=Request("GET", URL))


def test_pairs_are_kept_as_a_tuple_in_their_order() -> None:
    request = PageRequest("GET", "/items", [("a", "1"), ["b", 2], ("a", "3")])  # type: ignore[list-item]
    assert request.params == (("a", "1"), ("b", 2), ("a", "3"))
    assert request == PageRequest("GET", "/items", (("a", "1"), ("b", 2), ("a", "3")))


def test_param_reads_either_form() -> None:
    pairs = PageRequest("GET", "/items", [("a", "1"), ("b", 2), ("a", "3")])
    assert pairs.param("b") == 2
    assert pairs.param("a") == ("1", "3")  # given twice
    assert pairs.param("c") is None
    mapping = PageRequest("GET", "/items", {"a": ["1", "3"], "b": 2})
    assert mapping.param("a") == ["1", "3"]
    assert mapping.param("b") == 2
    assert mapping.param("c") is None


def test_with_params_on_pairs_replaces_in_place_and_appends_new_names() -> None:
    request = PageRequest("GET", "/items", [("after", "p"), ("t", "x"), ("after", "q"), ("t", "y")])
    updated = request.with_params({"after": "z", "limit": 5})
    assert updated.params == (("after", "z"), ("t", "x"), ("t", "y"), ("limit", 5))
    assert request.params == (("after", "p"), ("t", "x"), ("after", "q"), ("t", "y"))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("a=1", "mapping or a list"),
        ([("a", "1", "2")], "pairs"),
        (["ab"], "pairs"),
        (None, "not NoneType"),
        ([("a", object())], "'a'.*not object"),
    ],
    ids=["str", "triple", "not-a-pair", "None", "bad-value"],
)
def test_params_that_cannot_be_sent_are_refused(params: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        PageRequest("GET", "/items", params)


def test_cursor_paging_takes_the_place_of_the_callers_cursor() -> None:
    request = PageRequest("GET", "/items", [("t", "x"), ("after", "a0"), ("t", "y")])
    result = CursorPaging().parse_page(request, page({"data": [{"id": "a1"}], "has_more": True}))
    assert result.next_request is not None
    assert result.next_request.params == (("t", "x"), ("after", "a1"), ("t", "y"))


def test_a_cursor_that_does_not_move_is_a_cycle_among_pairs_too() -> None:
    request = PageRequest("GET", "/items", [("t", "x"), ("cursor", "c1")])
    with pytest.raises(PaginationError, match="never end"):
        NextCursorPaging().parse_page(request, page({"data": [1], "next_cursor": "c1"}))


def test_a_cursor_given_twice_is_not_taken_for_a_cycle() -> None:
    request = PageRequest("GET", "/items", [("cursor", "c1"), ("cursor", "c2")])
    result = NextCursorPaging().parse_page(request, page({"data": [1], "next_cursor": "c1"}))
    assert result.next_request is not None
    assert result.next_request.params == (("cursor", "c1"),)


def test_offset_paging_reads_and_replaces_pairs() -> None:
    request = PageRequest("GET", "/items", [("f", "1"), ("offset", "4"), ("limit", "2")])
    result = OffsetPaging().parse_page(request, page({"data": [1, 2], "total": 9}))
    assert result.next_request is not None
    assert result.next_request.params == (("f", "1"), ("offset", 6), ("limit", "2"))


@pytest.mark.parametrize(
    "params",
    [[("limit", 2), ("limit", 3)], {"limit": [2, 3]}],
    ids=["pairs", "mapping-list"],
)
def test_offset_paging_refuses_a_count_given_twice(params: Any) -> None:
    request = PageRequest("GET", "/items", params)
    with pytest.raises(InvalidRequestError, match=r"'limit' param must be an int >= 1 .*2 times"):
        OffsetPaging().parse_page(request, page({"data": [1]}))


def test_the_walk_refuses_a_first_request_it_cannot_send() -> None:
    with pytest.raises(InvalidRequestError, match=r"'a'.*bytes"):
        PageWalk(CursorPaging(), PageRequest("GET", "/items", {"a": b"x"}), base_url=URL)
    walk = PageWalk(CursorPaging(), PageRequest("GET", "/items", [("a", "1")]), base_url=URL)
    assert walk.next_request() == PageRequest("GET", "/items", (("a", "1"),))


_NAMES = st.sampled_from(["a", "b", "after", "offset"])
_PAIRS = st.lists(st.tuples(_NAMES, st.text(max_size=3)), max_size=8)
_UPDATES = st.dictionaries(_NAMES, st.integers(0, 9), max_size=3)


@given(_PAIRS, _UPDATES)
def test_with_params_on_pairs_sets_each_updated_name_once(
    pairs: list[tuple[str, str]], updates: dict[str, int]
) -> None:
    updated = PageRequest("GET", "/items", pairs).with_params(updates)
    params = updated.params
    assert isinstance(params, tuple)
    for name, value in updates.items():
        assert updated.param(name) == value  # once: a name given twice reads as a tuple
    kept = [(name, value) for name, value in pairs if name not in updates]
    assert [pair for pair in params if pair[0] not in updates] == kept
    # an updated name sits where it first was among the pairs, or after them all
    firsts = list(dict.fromkeys(name for name, _ in pairs if name in updates))
    placed = [name for name, _ in params if name in updates]
    assert placed == firsts + [name for name in updates if name not in firsts]
