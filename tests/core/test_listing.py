"""Listing: a paginate call's walk and the keywords each page's request takes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sdk_core import CursorPaging, InvalidRequestError, PageRequest, PaginationError, Response
from sdk_core.lowlevel import Listing

BASE = "https://api.example.test/v1"


def page(request: PageRequest, body: Any) -> Response:
    return Response(200, content=json.dumps(body).encode())


def test_each_page_gets_the_call_keywords_and_the_strategy_params() -> None:
    listing = Listing(
        CursorPaging(),
        "GET",
        "/items",
        {"params": {"limit": 2}, "headers": {"x-a": "1"}, "timeout": 5.0},
        base_url=BASE,
    )
    step = listing.next_call()
    assert step is not None
    first, kwargs = step
    assert (first.method, first.path) == ("GET", "/items")
    assert kwargs == {"headers": {"x-a": "1"}, "timeout": 5.0, "params": {"limit": 2}}
    listing.receive_page(first, page(first, {"data": [{"id": "a"}], "has_more": True}))
    assert listing.pages == 1
    step = listing.next_call()
    assert step is not None
    second, kwargs = step
    assert kwargs["params"] == {"limit": 2, "after": "a"}
    listing.receive_page(second, page(second, {"data": [], "has_more": False}))
    assert listing.next_call() is None
    assert listing.pages == 2


def test_no_params_are_sent_as_none_and_the_callers_mapping_is_copied() -> None:
    assert Listing(CursorPaging(), "GET", "/items", {}, base_url=BASE).next_call() == (
        PageRequest("GET", "/items", {}),
        {"params": None},
    )
    params: dict[str, Any] = {"limit": 1}
    listing = Listing(CursorPaging(), "GET", "/items", {"params": params}, base_url=BASE)
    params["limit"] = 99
    step = listing.next_call()
    assert step is not None
    assert step[1]["params"] == {"limit": 1}


def test_params_given_as_pairs_keep_their_repeats() -> None:
    pairs = [("tag", "a"), ("tag", "b")]
    listing = Listing(CursorPaging(), "GET", "/items", {"params": pairs}, base_url=BASE)
    step = listing.next_call()
    assert step is not None
    assert step[1]["params"] == (("tag", "a"), ("tag", "b"))


def test_a_page_that_cannot_be_read_leaves_the_listing_where_it_was() -> None:
    listing = Listing(CursorPaging(), "GET", "/items", {}, base_url=BASE)
    step = listing.next_call()
    assert step is not None
    with pytest.raises(PaginationError):
        listing.receive_page(step[0], page(step[0], {"data": "not a list"}))
    assert listing.next_call() == step
    assert listing.pages == 0


def test_max_pages_ends_the_listing_quietly() -> None:
    listing = Listing(CursorPaging(), "GET", "/items", {}, base_url=BASE, max_pages=1)
    step = listing.next_call()
    assert step is not None
    listing.receive_page(step[0], page(step[0], {"data": [{"id": "a"}], "has_more": True}))
    assert listing.next_call() is None


@pytest.mark.parametrize(
    ("kwargs", "max_pages", "message"),
    [
        ({"idempotency_key": "k"}, None, "takes no idempotency_key"),
        ({}, 0, "max_pages"),
        ({"params": [("a",)]}, None, None),
    ],
)
def test_bad_keywords_raise_before_anything_is_sent(
    kwargs: dict[str, Any], max_pages: int | None, message: str | None
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        Listing(CursorPaging(), "GET", "/items", kwargs, base_url=BASE, max_pages=max_pages)


def test_an_idempotency_key_of_none_is_no_key() -> None:
    listing = Listing(CursorPaging(), "GET", "/x", {"idempotency_key": None}, base_url=BASE)
    step = listing.next_call()
    assert step is not None
    assert step[1] == {"idempotency_key": None, "params": None}
