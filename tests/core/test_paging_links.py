"""The RFC 8288 Link header parser, and ``LinkHeaderPaging``, which follows its
``rel="next"`` links."""

from __future__ import annotations

import pytest
from _paging_helpers import FIRST, URL, page
from hypothesis import given
from hypothesis import strategies as st

from sdk_core import (
    Link,
    LinkHeaderPaging,
    PageRequest,
    PaginationError,
    Response,
    parse_link_header,
)

# -- the Link header parser -----------------------------------------------------------


def test_parse_link_header_rfc_8288_examples() -> None:
    assert parse_link_header(
        '<http://example.com/TheBook/chapter2>; rel="previous"; title="previous chapter"'
    ) == [
        Link(
            "http://example.com/TheBook/chapter2",
            (("rel", "previous"), ("title", "previous chapter")),
        )
    ]
    assert parse_link_header('</>; rel="http://example.net/foo"')[0].rel == (
        "http://example.net/foo",
    )
    assert parse_link_header('</terms>; rel="copyright"; anchor="#foo"')[0].params == (
        ("rel", "copyright"),
        ("anchor", "#foo"),
    )
    links = parse_link_header(
        "</TheBook/chapter2>; rel=\"previous\"; title*=UTF-8'de'letztes%20Kapitel, "
        "</TheBook/chapter4>; rel=\"next\"; title*=UTF-8'de'n%c3%a4chstes%20Kapitel"
    )
    assert [link.target for link in links] == ["/TheBook/chapter2", "/TheBook/chapter4"]
    assert links[1].params[1] == ("title*", "UTF-8'de'n%c3%a4chstes%20Kapitel")
    assert parse_link_header(
        '<http://example.org/>; rel="start http://example.net/relation/other"'
    )[0].rel == ("start", "http://example.net/relation/other")
    # rel need not be the first param; only the first rel counts.
    assert parse_link_header('</p2>; title="two"; rel="next"; rel="last"')[0].rel == ("next",)
    assert parse_link_header('</p2>; title="two"')[0].rel == ()


def test_parse_link_header_github_style() -> None:
    header = (
        '<https://api.github.com/repositories/1300192/issues?page=2>; rel="prev", '
        '<https://api.github.com/repositories/1300192/issues?page=4>; rel="next", '
        '<https://api.github.com/repositories/1300192/issues?page=515>; rel="last", '
        '<https://api.github.com/repositories/1300192/issues?page=1>; rel="first"'
    )
    rels = [(link.rel, link.target.rpartition("?")[2]) for link in parse_link_header(header)]
    assert rels == [
        (("prev",), "page=2"),
        (("next",), "page=4"),
        (("last",), "page=515"),
        (("first",), "page=1"),
    ]


def test_parse_link_header_details() -> None:
    # Commas and semicolons inside <> and quotes; escapes; BWS around "="; names folded;
    # a param without a value; the first rel wins; several header lines.
    links = parse_link_header(
        [
            '<https://a.test/x?ids=1,2;3>;REL = "Next  Last" ; title="a, \\"b\\"; c" ;flag;'
            " rel=prev",
            "<b>;rel=next",
        ]
    )
    assert links == [
        Link(
            "https://a.test/x?ids=1,2;3",
            (("rel", "Next  Last"), ("title", 'a, "b"; c'), ("flag", ""), ("rel", "prev")),
        ),
        Link("b", (("rel", "next"),)),
    ]
    assert links[0].rel == ("next", "last")
    assert Link("c").rel == ()


@pytest.mark.parametrize(
    ("header", "targets"),
    [
        ("", []),
        (" , ,", []),
        ("<a>, \t", ["a"]),
        ("junk, <a>; rel=next", ["a"]),  # an element without <...> is skipped
        ('junk "x, y" <z>, <a>', ["a"]),  # ...up to a comma outside quotes and <>
        ("junk <x, y>, <a>", ["a"]),
        ("junk <x, <a>", []),  # an unterminated < runs to the end
        ("<a>; rel=next, <b", ["a"]),  # a missing > ends the header
        ("<a> junk; rel=next, <b>", ["a", "b"]),  # junk drops the params, keeps the link
        ('<a>; title="unterminated, <b>', ["a"]),
        ("<a>; rel=next; =x; ;, <b>", ["a", "b"]),  # nameless params are dropped
        ('<a>; t="\\', ["a"]),  # a lone backslash at the end
        ("< a >", ["a"]),
    ],
)
def test_parse_link_header_is_lenient(header: str, targets: list[str]) -> None:
    assert [link.target for link in parse_link_header(header)] == targets


def test_parse_link_header_lenient_params() -> None:
    assert parse_link_header("<a> junk; rel=next")[0].params == ()
    assert parse_link_header("<a>; rel=next; =x; ;")[0].params == (("rel", "next"),)
    assert parse_link_header('<a>; t="\\')[0].params == (("t", "\\"),)


_TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
_tokens = st.text(alphabet=_TCHAR, min_size=1, max_size=8)
_targets = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="<>"),
    min_size=1,
    max_size=30,
)
_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("\té"),
    max_size=20,
)
_links = st.builds(Link, _targets, st.lists(st.tuples(_tokens, _values), max_size=4).map(tuple))


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_links(links: list[Link], *, tokens: bool) -> str:
    """A Link header value; parameter values as tokens when ``tokens`` and they are."""
    parts = []
    for link in links:
        params = "".join(
            f"; {name}={value if tokens and value and set(value) <= set(_TCHAR) else _quote(value)}"
            for name, value in link.params
        )
        parts.append(f"<{link.target}>{params}")
    return ", ".join(parts)


@given(st.lists(_links, max_size=5), st.booleans(), st.integers(min_value=0, max_value=5))
def test_link_lists_round_trip(links: list[Link], tokens: bool, cut: int) -> None:
    assert parse_link_header(format_links(links, tokens=tokens)) == links
    # Several header lines give the links of each, in order.
    cut = min(cut, len(links))
    lines = [format_links(links[:cut], tokens=tokens), format_links(links[cut:], tokens=tokens)]
    assert parse_link_header(lines) == links


@given(st.text(max_size=60))
def test_parse_link_header_never_raises(text: str) -> None:
    for link in parse_link_header(text):
        assert "<" not in link.target or ">" not in link.target


# -- LinkHeaderPaging -----------------------------------------------------------------


def test_link_paging_follows_rel_next() -> None:
    response = page(
        [1, 2],
        links=['<https://api.example.test/v1/items?page=1>; rel="prev first"'],
    )
    assert LinkHeaderPaging().parse_page(FIRST, response).next_request is None
    response = page(
        [1, 2],
        links=[
            '<https://api.example.test/v1/items?page=1>; rel="prev first", '
            '<https://api.example.test/v1/items?page=3&per_page=2>; rel="NEXT"'
        ],
    )
    request = PageRequest("GET", "/items", {"per_page": 2})
    result = LinkHeaderPaging().parse_page(request, response)
    assert result.items == [1, 2]
    assert result.next_request == PageRequest(
        "GET", "https://api.example.test/v1/items?page=3&per_page=2"
    )


@pytest.mark.parametrize(
    ("target", "resolved"),
    [
        ("?page=2", "https://api.example.test/v1/items?page=2"),
        ("items2", "https://api.example.test/v1/items2"),
        ("/v2/items?page=2", "https://api.example.test/v2/items?page=2"),
        ("//api.example.test/v1/items?p=2", "https://api.example.test/v1/items?p=2"),
        ("https://API.example.test:443/v1/items?p=2#frag", "https://api.example.test/v1/items?p=2"),
    ],
)
def test_link_paging_resolves_relative_targets(target: str, resolved: str) -> None:
    response = page([1], url=URL + "?page=1", links=[f"<{target}>; rel=next"])
    result = LinkHeaderPaging().parse_page(FIRST, response)
    assert result.next_request == PageRequest("GET", resolved)


def test_link_paging_reads_items_from_a_field() -> None:
    response = page({"items": [{"n": 1}]}, links=["</v1/items?page=2>; rel=next"])
    assert LinkHeaderPaging(items="items").parse_page(FIRST, response).items == [{"n": 1}]


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/v1/items?page=2",
        "http://api.example.test/v1/items?page=2",  # a scheme change is another origin
        "https://api.example.test:8443/v1/items?page=2",
    ],
)
def test_link_paging_refuses_another_origin(target: str) -> None:
    response = page([1], links=[f"<{target}>; rel=next"])
    with pytest.raises(PaginationError, match="another origin") as caught:
        LinkHeaderPaging().parse_page(FIRST, response)
    assert "page=2" not in str(caught.value)  # the query may hold a signed token


@pytest.mark.parametrize(
    "target",
    [
        "ftp://api.example.test/x",
        "javascript:alert(1)",
        "https://user:pw@api.example.test/x",
        "http://[::1",
    ],
)
def test_link_paging_refuses_a_link_that_is_not_http(target: str) -> None:
    response = page([1], links=[f"<{target}>; rel=next"])
    with pytest.raises(PaginationError, match="not a usable http") as caught:
        LinkHeaderPaging().parse_page(FIRST, response)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert "pw" not in str(caught.value)


def test_link_paging_refuses_a_link_to_the_same_page() -> None:
    response = page([1], url=URL + "?page=2", links=["<?page=2>; rel=next"])
    with pytest.raises(PaginationError, match="the page itself"):
        LinkHeaderPaging().parse_page(FIRST, response)


def test_link_paging_needs_a_list_and_a_request() -> None:
    with pytest.raises(PaginationError, match="The page's body is not a list"):
        LinkHeaderPaging().parse_page(FIRST, page({"data": [1]}))
    orphan = Response(200, headers={"Link": "</x>; rel=next"}, content=b"[]")
    with pytest.raises(PaginationError, match="no request to resolve"):
        LinkHeaderPaging().parse_page(FIRST, orphan)
    # Without a next link, no request is needed.
    assert LinkHeaderPaging().parse_page(FIRST, Response(200, content=b"[1]")).items == [1]
