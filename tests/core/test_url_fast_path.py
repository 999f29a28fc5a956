"""build_url's fast path (a parsed base and a path needing no quoting) agrees with the
general path for every input."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sdk_core import URL, InvalidRequestError, build_url

BASES = ["https://api.example.com", "https://api.example.com/", "http://h:8080/v1/", "http://h/a/b"]
PATHS = st.text(alphabet="abz09/:@!$&'()*+,;=-._~%?# é\t", max_size=30)


@given(
    st.sampled_from(BASES), PATHS, st.none() | st.dictionaries(st.sampled_from("ab"), st.integers())
)
def test_parsed_and_unparsed_bases_give_the_same_url(base: str, path: str, params) -> None:  # type: ignore[no-untyped-def]
    try:
        expected = build_url(base, path, params)
    except InvalidRequestError:
        expected = None
    try:
        fast = build_url(URL.parse(base), path, params)
    except InvalidRequestError:
        fast = None
    assert fast == expected


def test_an_absolute_path_with_a_parsed_base_replaces_it() -> None:
    url = build_url(URL.parse("https://api.example.com/v1"), "http://other.example/x")
    assert str(url) == "http://other.example/x"
