"""What a caller may pass to build a request, and the typed error for everything else.

Query parameters, host names (IDNA 2008 with UTS #46), timeouts at their limits, JSON
bodies, request content and per-call header removal: each bad value raises
``InvalidRequestError`` (or ``TypeError`` for a value of the wrong kind given straight
to ``Timeout``) naming what is wrong, never echoing a value that may be secret.
``build_url`` gives the same URL from a parsed base as from the string.
"""

from __future__ import annotations

import enum
import math
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdk_core import (
    URL,
    Headers,
    InvalidRequestError,
    Request,
    RetryPolicy,
    Timeout,
    build_url,
)
from sdk_core.lowlevel import MAX_TIMEOUT, build_request, encode_json

BASE = "https://api.example.com"
SECRET = "zQsecret-value"


def query(params: Any) -> str:
    return build_url(BASE, "/p", params).target.partition("?")[2]


# ---------------------------------------------------------------------------------------
# params


class Color(str, enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("a", "1"), ("a", "2"), ("b", 3)], "a=1&a=2&b=3"),
        ((("a", "1"), ["b", "2"]), "a=1&b=2"),
        ([("tags", ["x", "y"]), ("n", None)], "tags=x&tags=y"),
        ({"flag": True, "off": False, "f": 0.25, "i": -7}, "flag=true&off=false&f=0.25&i=-7"),
        ({"color": Color.RED, "level": Level.HIGH}, "color=red&level=3"),
        ({Color.RED: "x"}, "red=x"),
        ({"e": "x y&z=ü/"}, "e=x+y%26z%3D%C3%BC%2F"),
        ({"filter": {"k": "v", "n": {"deep": 1}}}, "filter%5Bk%5D=v&filter%5Bn%5D%5Bdeep%5D=1"),
        ({"filter": {"ids": [1, 2], "none": None}}, "filter%5Bids%5D=1&filter%5Bids%5D=2"),
        ({"empty": {}, "list": []}, ""),
        ([], ""),
    ],
)
def test_params_accept_mappings_pairs_and_nested_mappings(params: Any, expected: str) -> None:
    assert query(params) == expected


def test_a_list_of_pairs_keeps_order_and_repeats() -> None:
    url = build_url(BASE + "/v1?base=1", "items", [("z", "1"), ("a", "2"), ("z", "3")])
    assert url.target == "/v1/items?base=1&z=1&a=2&z=3"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"a": b"xy"}, "'a' must be a str, int, float, bool or None.*not bytes"),
        ({"a": bytearray(b"x")}, "not bytearray"),
        ({"a": object()}, "not object"),
        ({"a": [["x", "y"]]}, "'a' holds a list inside a list"),
        ({"a": [("x", "y")]}, "'a' holds a tuple inside a list"),
        ({"a": [{"k": "v"}]}, "'a' holds a dict inside a list"),
        ({"a": math.nan}, "'a' is NaN or infinite"),
        ({"a": math.inf}, "'a' is NaN or infinite"),
        ({"a": [1, -math.inf]}, "'a' is NaN or infinite"),
        ({"f": {"k": math.nan}}, r"'f\[k\]' is NaN"),
        ({1: "v"}, "params has a name that is a int"),
        ({"f": {b"k": "v"}}, "'f' has a name that is a bytes"),
        ("a=1", "params must be a mapping or a list of .name, value. pairs, not str"),
        (b"a=1", "not bytes"),
        (5, "not int"),
        ([("a", "1", "2")], r"must hold \(name, value\) pairs, not tuple"),
        (["ab"], "pairs, not str"),
        ([("a",)], "pairs, not tuple"),
    ],
)
def test_params_outside_the_documented_types_are_refused(params: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        build_url(BASE, "/p", params)


def test_a_refused_param_is_named_but_its_value_never_shown() -> None:
    values: list[Any] = [SECRET.encode(), [[SECRET]], {SECRET.encode()}]
    for value in values:
        with pytest.raises(InvalidRequestError) as caught:
            build_url(BASE, "/p", {"token": value})
        assert "'token'" in str(caught.value)
        assert "zQ" not in str(caught.value)


def test_an_int_too_long_for_str_is_refused() -> None:
    limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    if limit:  # Python 3.11+ refuses to print ints past the limit
        with pytest.raises(InvalidRequestError, match="'n' is an int with too many digits"):
            build_url(BASE, "/p", {"n": 10 ** (limit + 1)})
    assert query({"n": 10**40}) == "n=1" + "0" * 40


def test_nesting_past_the_limit_and_a_mapping_holding_itself_are_refused() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(40):
        node["k"] = node = {}
    with pytest.raises(InvalidRequestError, match="nests mappings over 32 deep"):
        build_url(BASE, "/p", {"d": deep})
    looped: dict[str, Any] = {}
    looped["self"] = looped
    with pytest.raises(InvalidRequestError, match="nests mappings"):
        build_url(BASE, "/p", {"l": looped})
    shallow: dict[str, Any] = {"v": 1}
    for _ in range(30):
        shallow = {"k": shallow}
    assert query({"s": shallow}).endswith("%5Bv%5D=1")
    assert query({"[" * 40: "x"}) == "%5B" * 40 + "=x"  # brackets in a name are not depth


@pytest.mark.parametrize(
    "params",
    [{"a": "x\ud800"}, {"a\udfff": "x"}, {"a": ["ok", "\ud83d"]}, [("k", "\udc80")]],
)
def test_a_lone_surrogate_in_a_param_is_refused(params: Any) -> None:
    with pytest.raises(InvalidRequestError, match="lone surrogate"):
        build_url(BASE, "/p", params)


@pytest.mark.parametrize("path", ["/a\ud800", "/a?q=\udfff", "x\udc00y"])
def test_a_lone_surrogate_in_a_path_or_url_is_refused(path: str) -> None:
    with pytest.raises(InvalidRequestError, match="lone surrogate"):
        build_url(BASE, path)
    with pytest.raises(InvalidRequestError, match="lone surrogate"):
        build_url(URL.parse(BASE), path)
    with pytest.raises(InvalidRequestError, match="lone surrogate"):
        URL.parse(BASE + "/" + path.lstrip("/"))


SCALARS = (
    st.text(max_size=8)
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=6), SCALARS | st.lists(SCALARS, max_size=3))))
def test_pairs_round_trip_through_parse_qsl(pairs: list[tuple[str, Any]]) -> None:
    encoded = query(pairs)  # st.text() draws no lone surrogate
    expected = []
    for name, value in pairs:
        for item in value if isinstance(value, list) else [value]:
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            expected.append((name, repr(item) if isinstance(item, float) else text))
    assert parse_qsl(encoded, keep_blank_values=True) == expected
    assert not set(encoded) & set("\r\n #")


# ---------------------------------------------------------------------------------------
# Host names: IDNA 2008 with UTS #46


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("faß.de", "xn--fa-hia.de"),
        ("FAß.DE", "xn--fa-hia.de"),
        ("βόλος.com", "xn--nxasmm1c.com"),
        ("ΒΌΛΟς.Com", "xn--nxasmm1c.com"),
        ("BÜCHER.Example", "xn--bcher-kva.example"),
        ("Königsgäßchen.de", "xn--knigsgchen-b4a3dun.de"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("example。com", "example.com"),  # an ideographic full stop is a dot
        ("xn--fa-hia.de", "xn--fa-hia.de"),  # already punycode: ASCII, kept as it is
        ("XN--FA-HIA.DE", "xn--fa-hia.de"),
        ("api.example.com", "api.example.com"),
    ],
)
def test_hosts_are_encoded_with_idna_2008_and_uts46(host: str, expected: str) -> None:
    url = URL.parse(f"https://{host}:8443/x")
    assert url.host == expected
    assert url.host_header == f"{expected}:8443"
    assert build_url(f"https://{host}/v1", "x").host == expected


def test_ipv6_hosts_are_left_alone() -> None:
    assert URL.parse("http://[2001:DB8::1]:8080/").host == "2001:db8::1"


@pytest.mark.parametrize(
    "host", ["☃.com", "😇", "😇.example", "xn--ü.example", "ü..example", "-ü.com", "\ud800.com"]
)
def test_invalid_international_names_are_refused(host: str) -> None:
    with pytest.raises(InvalidRequestError, match="not a valid international domain name") as e:
        URL.parse(f"https://{host}/x")
    assert e.value.__context__ is None  # idna's message, which quotes the name, is dropped


# ---------------------------------------------------------------------------------------
# Timeout and RetryPolicy at their limits


def test_infinity_is_no_limit_for_every_phase_and_the_total() -> None:
    assert Timeout(math.inf) == Timeout(None)
    t = Timeout(5.0, read=math.inf, total=math.inf)
    assert (t.connect, t.read, t.write, t.pool, t.total) == (5.0, None, 5.0, 5.0, None)


@pytest.mark.parametrize("huge", [MAX_TIMEOUT, 1e300, 10**400, sys.float_info.max, 4294967.8])
def test_a_huge_finite_timeout_is_clamped(huge: float) -> None:
    t = Timeout(huge, total=huge)
    assert (t.connect, t.read, t.write, t.pool, t.total) == (MAX_TIMEOUT,) * 5
    assert Timeout(connect=huge).connect == MAX_TIMEOUT
    assert Timeout(MAX_TIMEOUT - 1).read == MAX_TIMEOUT - 1


@pytest.mark.parametrize(
    "bad",
    [-1, -(10**400), -(10**5000), -math.inf, math.nan],
    ids=["-1", "-1e400", "-1e5000", "-inf", "nan"],
)
def test_a_negative_or_nan_timeout_is_an_invalid_request(bad: float) -> None:
    with pytest.raises(InvalidRequestError, match=r"^Timeout must be >= 0"):
        Timeout(bad)
    with pytest.raises(InvalidRequestError, match=r"^Timeout\.read must be >= 0"):
        Timeout(read=bad)
    with pytest.raises(ValueError, match=r"^Timeout\.total must be >= 0"):
        Timeout(total=bad)


def test_a_timeout_that_is_not_a_number_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"^Timeout must be a number of seconds"):
        Timeout("5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^Timeout\.pool must be a number of seconds"):
        Timeout(pool=b"5")  # type: ignore[arg-type]


def test_retry_delays_past_the_longest_wait_are_clamped() -> None:
    policy = RetryPolicy(initial_delay=10**400, max_delay=1e300, max_retry_after=1e12)
    assert (policy.initial_delay, policy.max_delay, policy.max_retry_after) == (MAX_TIMEOUT,) * 3
    assert policy.backoff(5, 1.0) == MAX_TIMEOUT
    assert RetryPolicy(max_delay=MAX_TIMEOUT).max_delay == MAX_TIMEOUT


# ---------------------------------------------------------------------------------------
# Bodies


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def test_json_nested_deeper_than_the_recursion_limit_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="nested too deeply") as caught:
        encode_json(nested(sys.getrecursionlimit() + 100))
    assert caught.value.__context__ is None
    with pytest.raises(InvalidRequestError, match="nested too deeply"):
        build_request("POST", BASE, "/x", json={"a": nested(5000)})
    assert encode_json(nested(3)) == b"[[[[]]]]"


@pytest.mark.parametrize("value", ["\ud800", {"k\udfff": 1}, [1, "a\udc00"]])
def test_json_with_a_lone_surrogate_is_refused(value: object) -> None:
    with pytest.raises(InvalidRequestError, match="cannot be encoded"):
        encode_json(value)


def test_str_content_is_sent_as_utf8() -> None:
    request = build_request("POST", BASE, "/x", content="héllo ☃")
    assert request.content == "héllo ☃".encode()
    assert request.headers["content-length"] == str(len("héllo ☃".encode()))
    assert "content-type" not in request.headers
    with pytest.raises(InvalidRequestError, match="lone surrogate"):
        build_request("POST", BASE, "/x", content="a\ud800")


async def chunks() -> AsyncIterator[bytes]:
    yield b"x"


def test_request_content_kinds() -> None:
    generator: Iterator[bytes] = iter([b"a"])
    assert Request("POST", BASE, content=generator).content is generator
    asynchronous = chunks()
    assert Request("POST", BASE, content=asynchronous).content is asynchronous
    assert Request("POST", BASE, content=memoryview(b"ab")).content == b"ab"
    for bad, message in [
        (5, "not int"),
        (None, "not NoneType"),
        ({"a": 1}, r"not dict \(json= sends a JSON body\)"),
        (object(), "not object"),
    ]:
        with pytest.raises(InvalidRequestError, match=message):
            Request("POST", BASE, content=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="not str"):
        Request("POST", BASE, content="text")  # type: ignore[arg-type]
    asynchronous.aclose().close()  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# Per-call header removal


def test_a_none_value_removes_a_header() -> None:
    defaults = Headers({"User-Agent": "sdk/1", "Accept": "a", "X-Keep": "k"})
    merged = defaults.merged({"user-agent": None, "X-New": "n"})
    assert merged.multi_items() == [("Accept", "a"), ("X-Keep", "k"), ("X-New", "n")]
    assert defaults.merged({"X-Absent": None}) is defaults  # removing what is not there
    assert defaults.merged([("X-Absent", None), ("X-New", "n")]).multi_items() == [
        *defaults.multi_items(),
        ("X-New", "n"),
    ]
    assert defaults.merged([("Accept", None), ("Accept", "b")]).get_list("accept") == ["b"]
    assert defaults.merged({"Accept": None, "X-Keep": None}).multi_items() == [
        ("User-Agent", "sdk/1")
    ]
    with pytest.raises(InvalidRequestError, match="Invalid header name"):
        defaults.merged({"bad name": None})
    with pytest.raises(InvalidRequestError, match="must have a str value, not NoneType"):
        Headers({"User-Agent": None})  # type: ignore[arg-type]


def test_build_request_removes_a_default_header_given_none() -> None:
    defaults = Headers({"User-Agent": "sdk/1", "Accept": "a"})
    request = build_request(
        "GET", BASE, "/x", headers={"User-Agent": None}, default_headers=defaults
    )
    assert request.headers.multi_items() == [("Accept", "a")]
    head_url = urlsplit(str(request.url))
    assert head_url.path == "/x"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ("X-A: 1", "mapping or .name, value. pairs, not str"),
        (b"X-A: 1", "not bytes"),
        (5, "not int"),
        ([("X-A",)], r"\(name, value\) pairs, not tuple"),
        ([("X-A", "1", "2")], "pairs, not tuple"),
        (["ab"], "pairs, not str"),
    ],
)
def test_headers_that_are_not_pairs_are_refused(headers: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        Headers(headers)
    with pytest.raises(InvalidRequestError, match=message):
        Headers({"X-B": "1"}).merged(headers)
    assert Headers([["X-A", "1"], ("X-B", "2")]).multi_items() == [("X-A", "1"), ("X-B", "2")]


def test_timeout_of_takes_what_the_clients_timeout_keyword_takes() -> None:
    given = Timeout(3.0, total=9.0)
    assert Timeout.of(given) is given
    assert Timeout.of(2.5) == Timeout(2.5)
    assert Timeout.of(None) == Timeout(None)
    assert Timeout.of(math.inf) == Timeout(None)


@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        (-1, "-1"),
        (math.nan, "nan"),
        (-(10**5000), "a negative int of over 64 bits"),
        ("5", "str"),
        (True, "True"),
        (object(), "object"),
    ],
    ids=["negative", "nan", "huge-negative", "str", "bool", "object"],
)
def test_timeout_of_names_the_timeout_keyword(bad: object, shown: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        Timeout.of(bad)  # type: ignore[arg-type]
    assert str(caught.value) == (
        f"timeout must be a Timeout, a number of seconds >= 0 or None, not {shown}."
    )


# -- build_url: a parsed base (the fast path) gives what the string gives ----------------
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
