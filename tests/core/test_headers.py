"""Headers: a block received by the fast codec stays a block of lines until the whole
list is needed; every lookup answers as the indexed headers do, before and after
indexing (copy, pickle, threads included)."""

from __future__ import annotations

import copy
import pickle
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdk_core import Headers
from sdk_core._headers import scan_fields
from sdk_core.lowlevel import DEFAULT_REDACTION

TOKEN = st.text(alphabet="abcXYZ-_!#019", min_size=1, max_size=6)
# Field values as a validating parser leaves them: no CR, LF or NUL; may carry spaces,
# tabs and latin-1 characters, whose lowercase keeps the length.
VALUE = st.text(alphabet=st.sampled_from("ab Z\t:,;\xe9\xc0\xdf\xff=1"), max_size=8).map(
    lambda v: v.strip(" \t")
)
PAIRS = st.lists(st.tuples(TOKEN, VALUE), max_size=8)
NAMES = st.one_of(TOKEN, st.sampled_from(["a:b", "a\r\nb", "", " a", "A", "x-Y"]))


def block(pairs: list[tuple[str, str]], pad: str = " ") -> Headers:
    fields = "".join(f"\r\n{name}:{pad}{value}{pad}" for name, value in pairs) + "\r\n"
    return Headers._from_block(fields, fields.lower())


def indexed(pairs: list[tuple[str, str]]) -> Headers:
    return Headers._trusted([(name.lower(), value) for name, value in pairs])


def is_block(headers: Headers) -> bool:
    return headers._pending is not None


def item(headers: Headers, name: str) -> str | None:
    try:
        return headers[name]
    except KeyError:
        return None


def lookups(headers: Headers, name: str) -> tuple[object, ...]:
    return (
        headers.get(name),
        headers.get(name, "absent"),
        headers.first(name),
        headers.get_list(name),
        name in headers,
        item(headers, name),
    )


@settings(max_examples=300)
@given(PAIRS, NAMES, st.sampled_from(["", " ", "\t", " \t "]))
def test_lookups_on_the_block_answer_as_on_the_index(
    pairs: list[tuple[str, str]], name: str, pad: str
) -> None:
    received = block(pairs, pad)
    expected = indexed(pairs)
    before = lookups(received, name)
    assert is_block(received)  # lookups by name leave the block unsplit
    assert before == lookups(expected, name)
    assert received.multi_items() == expected.multi_items()  # splits it
    assert not is_block(received)
    assert lookups(received, name) == before
    assert received == expected
    assert len(received) == len(expected)
    assert list(received) == list(expected)


def test_missing_names_raise_key_error() -> None:
    received = block([("a", "1")])
    with pytest.raises(KeyError):
        received["b"]
    with pytest.raises(KeyError):
        received[1]  # type: ignore[index]
    assert received.get(1) is None  # type: ignore[arg-type]
    assert 1 not in received  # type: ignore[comparison-overlap]


def test_a_name_holding_a_colon_or_line_break_matches_nothing() -> None:
    received = block([("a", "b:c"), ("x", "y")])
    for name in ("a:b", "a: b", "a\r\nx", "b\r\nx"):
        assert received.first(name) is None
        assert scan_fields(received._pending[0], received._pending[1], name) is None  # type: ignore[index]


def test_other_attributes_are_not_conjured() -> None:
    received = block([("a", "1")])
    with pytest.raises(AttributeError):
        received.nonexistent  # type: ignore[attr-defined]  # noqa: B018
    plain = Headers({"a": "1"})
    with pytest.raises(AttributeError):
        plain.nonexistent  # type: ignore[attr-defined]  # noqa: B018


def test_redaction_copies_keep_the_block_and_show_values_by_policy() -> None:
    received = block([("Authorization", "Bearer sk-secret"), ("Content-Type", "a/b")])
    shown = received.with_redaction(DEFAULT_REDACTION.extended(sensitive_headers=["content-type"]))
    assert is_block(shown)
    assert shown.first("authorization") == "Bearer sk-secret"
    text = repr(shown)
    assert "sk-secret" not in text
    assert "a/b" not in text
    assert is_block(received)  # the copy indexed itself, not the original
    assert Headers(received) == received  # the copy constructor indexes the source


def test_copies_and_pickles_carry_the_same_headers() -> None:
    received = block([("a", "1"), ("a", "2"), ("b", "3")])
    for twin in (copy.copy(received), copy.deepcopy(received)):
        assert twin.get_list("a") == ["1", "2"]
        assert twin == received
    restored = pickle.loads(pickle.dumps(block([("a", "1")])))
    assert restored.multi_items() == [("a", "1")]


def test_a_reader_that_missed_the_slots_while_another_indexed_gets_the_index() -> None:
    received = block([("a", "1")])
    assert received.multi_items() == [("a", "1")]  # indexed: the slots are set
    # What a thread sees that found the slot unset just before another thread set it.
    assert received.__getattr__("_items") == (("a", "1"),)  # type: ignore[attr-defined]
    assert received.__getattr__("_lower") == {"a": ["1"]}  # type: ignore[attr-defined]


def test_threads_indexing_at_once_all_see_the_same_list() -> None:
    pairs = [(f"n{i}", str(i)) for i in range(200)]
    for _ in range(20):
        received = block(pairs)
        seen: list[list[tuple[str, str]]] = []
        start = threading.Barrier(4)

        def index(
            headers: Headers = received,
            start: threading.Barrier = start,
            seen: list[list[tuple[str, str]]] = seen,
        ) -> None:
            start.wait()
            seen.append(headers.multi_items())

        threads = [threading.Thread(target=index) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert seen == [pairs] * 4
