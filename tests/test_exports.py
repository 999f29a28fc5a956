"""Every public name is exported once, from the namespace that is its home (after trio's
``_tests/test_exports.py``).

The public namespaces are ``sdk_core`` (what SDK authors and applications use),
``sdk_core.lowlevel`` (what transport authors build on), ``sdk_transports`` (the clients
and transports) and ``sdk_transports.testing`` (test helpers). The rules:

- ``__all__`` lists exactly the module's public names: no duplicate, each resolves (the
  lazy ones load), and every other attribute without a leading ``_`` is a module or a
  typing helper (``TYPE_CHECKING``, ``Any``, ``annotations``).
- One object, one public name: an object (class, function, constant) appears in one
  ``__all__`` of one namespace, under one name. ``sdk_core.lowlevel`` does not repeat what
  ``sdk_core`` exports, and no namespace re-exports another's object. The exceptions are
  listed in ``DELIBERATE``, each with the reason; the test fails when one is no longer
  needed, so the list stays true.
- A public name is not reused for a different object in another namespace.
- The home of a class or function is its namespace's package (``sdk_core`` objects are
  defined in ``sdk_core``, and so on): nothing third-party is re-exported.
- Public classes and functions have a docstring of their own (a dataclass's generated
  signature does not count).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import subprocess
import sys
import textwrap
import types
from typing import Any

import pytest

NAMESPACES = ("sdk_core", "sdk_core.lowlevel", "sdk_transports", "sdk_transports.testing")

#: Objects deliberately public in more than one place: {the qualified names: why}.
DELIBERATE: dict[frozenset[str], str] = {
    frozenset({"sdk_transports.AnyioTransport", "sdk_transports.AsyncSocketTransport"}): (
        "AnyioTransport is the documented name of the async transport; it stays importable"
    ),
    **{
        frozenset({f"sdk_core.lowlevel.{name}", f"sdk_transports.{name}"}): (
            "the types of the clients' keywords: defined by the core, which checks those "
            "keywords, and exported beside the clients, where DESIGN.md pins them"
        )
        for name in ("ClientOptions", "ClientSettings", "ContentTypes", "RequestKwargs")
    },
}

#: Attributes without a leading "_" that are not public names.
HELPERS = frozenset({"TYPE_CHECKING", "Any", "annotations"})

#: Values that compare by value.
SCALARS = (int, float, complex, str, bytes, bool, type(None))


def namespace(name: str) -> types.ModuleType:
    return importlib.import_module(name)


def exported() -> list[tuple[str, str, Any]]:
    """(namespace, name, object) for every name in every public ``__all__``."""
    return [
        (ns, name, getattr(namespace(ns), name))
        for ns in NAMESPACES
        for name in namespace(ns).__all__
    ]


@pytest.mark.parametrize("ns", NAMESPACES)
def test_all_lists_exactly_the_public_names(ns: str) -> None:
    module = namespace(ns)
    names = list(module.__all__)
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
    for name in names:
        getattr(module, name)  # resolves; a lazy name loads now
    unlisted = sorted(
        name
        for name in dir(module)
        if not name.startswith("_")
        and name not in names
        and name not in HELPERS
        and not isinstance(getattr(module, name), types.ModuleType)
    )
    assert unlisted == [], f"{ns}: public but not in __all__"


def test_each_object_is_exported_once() -> None:
    places: dict[tuple[int, str], list[str]] = {}
    for ns, name, value in exported():
        # An equal int or str under another name may be the same object by interning.
        key = (id(value), name if isinstance(value, SCALARS) else "")
        places.setdefault(key, []).append(f"{ns}.{name}")
    repeated = {frozenset(found) for found in places.values() if len(found) > 1}
    assert repeated - set(DELIBERATE) == set(), "exported more than once"
    assert set(DELIBERATE) - repeated == set(), "DELIBERATE lists what is no longer repeated"


def test_a_name_means_one_object() -> None:
    where: dict[str, list[str]] = {}
    for ns, name, _ in exported():
        where.setdefault(name, []).append(ns)
    reused = {name: found for name, found in where.items() if len(found) > 1}
    allowed = {name.rsplit(".", 1)[1] for names in DELIBERATE for name in names}
    assert {name: found for name, found in reused.items() if name not in allowed} == {}


def test_classes_and_functions_live_in_their_package() -> None:
    foreign = []
    for ns, name, value in exported():
        if inspect.isclass(value) or inspect.isfunction(value):
            package = ns.split(".")[0]
            if value.__module__.split(".")[0] != package and not any(
                f"{ns}.{name}" in names for names in DELIBERATE
            ):
                foreign.append(f"{ns}.{name} is defined in {value.__module__}")
    assert foreign == []


def has_docstring(value: Any) -> bool:
    doc = value.__dict__.get("__doc__") if inspect.isclass(value) else value.__doc__
    if not doc or not doc.strip():
        return False
    # A dataclass without a docstring gets its signature as one.
    return not (inspect.isclass(value) and doc.startswith(f"{value.__name__}("))


def test_public_classes_and_functions_have_docstrings() -> None:
    missing = [
        f"{ns}.{name}"
        for ns, name, value in exported()
        if (inspect.isclass(value) or inspect.isfunction(value)) and not has_docstring(value)
    ]
    assert missing == []


def test_the_checks_catch_what_they_are_meant_to() -> None:
    @dataclasses.dataclass
    class Plain:
        x: int

    class Documented:
        """Says what it is."""

    class Inherits(Documented):
        pass

    assert not has_docstring(Plain)
    assert not has_docstring(Inherits)
    assert has_docstring(Documented)
    assert not has_docstring(lambda: None)


def test_importing_the_core_does_not_load_the_low_level_pieces() -> None:
    """``import sdk_core`` does not import ``lowlevel``; ``lowlevel`` imports neither
    h11 nor httptools nor a reader until one of its names is read."""
    program = textwrap.dedent(
        """
        import sys
        import sdk_core
        print("sdk_core.lowlevel" in sys.modules)
        import sdk_core.lowlevel
        heavy = ("h11", "httptools", "sdk_core._http11", "sdk_core._pool", "sdk_core._paging")
        print(sorted(m for m in heavy if m in sys.modules))
        sdk_core.lowlevel.PoolState
        print(sorted(m for m in heavy if m in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split("\n")[:3] == ["False", "[]", "['sdk_core._pool']"]
