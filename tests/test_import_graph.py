"""The layering rules, read from the source with ``ast`` (every import counts: at module
level, inside a function, and under ``if TYPE_CHECKING:``):

- ``sdk_transports`` (``testing`` included) imports only public names of ``sdk_core``:
  ``sdk_core`` and ``sdk_core.lowlevel``, never a module or a name that starts with ``_``.
- ``sdk_transports.testing`` imports only public names of ``sdk_transports``; its own
  private modules (``testing/_fault_server.py`` ...) are its business.
- No import cycle among the modules of ``sdk_core`` and ``sdk_transports``: the modules
  form layers, and a module that needs a name from a module that imports it is a sign
  that one of them holds two jobs.

Each failure names the file, the line and the import.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sdk_core", "sdk_transports")


@dataclass(frozen=True)
class Import:
    """One imported module (and, for ``from m import a``, the name ``a``) at a line."""

    file: str
    line: int
    module: str
    name: str | None
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``, by dotted name."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted(root.joinpath(*package.split(".")).rglob("*.py")):
            found[module_name(root, path)] = path
    return found


def imports(root: Path, path: Path) -> Iterator[Import]:
    """Every import in the file at ``path``, wherever it is, with relative imports
    resolved; ``from m import a`` yields one ``Import`` per name."""
    name = module_name(root, path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    file = path.relative_to(root).as_posix()
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source, filename=file)):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        end = node.end_lineno or node.lineno
        text = " ".join(" ".join(lines[node.lineno - 1 : end]).split())
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(file, node.lineno, alias.name, None, text)
        else:
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                yield Import(file, node.lineno, module, alias.name, text)


def is_private(dotted: str) -> bool:
    """Does a part of ``dotted`` start with ``_`` (a dunder such as ``__version__`` is public)?"""
    return any(
        part.startswith("_") and not (part.startswith("__") and part.endswith("__"))
        for part in dotted.split(".")
    )


def private_imports(
    root: Path, importer: str, imported: str, allowed: str | None = None
) -> list[str]:
    """The imports by modules of package ``importer`` of a private module or a private
    name of package ``imported`` (a dotted path with a part that starts with ``_``).
    Modules of ``allowed`` (a subpackage of ``imported``) may be imported privately."""
    found = []
    for path in modules(root, (importer,)).values():
        for item in imports(root, path):
            target = item.module if item.name is None else f"{item.module}.{item.name}"
            if not (target == imported or target.startswith(imported + ".")):
                continue
            if allowed is not None and (target == allowed or target.startswith(allowed + ".")):
                continue
            if is_private(target) and str(item) not in found:
                found.append(str(item))  # once per statement, however many names it imports
    return found


def import_graph(root: Path) -> dict[str, dict[str, list[Import]]]:
    """Module -> the modules of the two packages it imports -> the imports doing so.
    ``from package import name`` is an edge to the submodule when ``name`` is one."""
    known = modules(root)
    graph: dict[str, dict[str, list[Import]]] = {name: {} for name in known}
    for name, path in known.items():
        for item in imports(root, path):
            targets = [item.module]
            if item.name is not None and f"{item.module}.{item.name}" in known:
                targets.append(f"{item.module}.{item.name}")
            for target in targets:
                if target in known and target != name:
                    graph[name].setdefault(target, []).append(item)
    return graph


def cycles(graph: dict[str, dict[str, list[Import]]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph[target])))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def describe(graph: dict[str, dict[str, list[Import]]], component: list[str]) -> str:
    members = set(component)
    lines = [" <-> ".join(component)]
    for module in component:
        for target, items in sorted(graph[module].items()):
            if target in members:
                lines += [f"    {item}" for item in dict.fromkeys(map(str, items))]
    return "\n".join(lines)


# -- the rules, on this tree ---------------------------------------------------------------


def test_the_transports_import_only_public_names_of_the_core() -> None:
    found = private_imports(ROOT, "sdk_transports", "sdk_core")
    assert not found, "import these from sdk_core or sdk_core.lowlevel:\n" + "\n".join(found)


def test_the_testing_package_imports_only_public_names_of_the_transports() -> None:
    found = private_imports(
        ROOT, "sdk_transports.testing", "sdk_transports", allowed="sdk_transports.testing"
    )
    assert not found, "import these from sdk_transports:\n" + "\n".join(found)


def test_there_is_no_import_cycle() -> None:
    graph = import_graph(ROOT)
    found = [describe(graph, component) for component in cycles(graph)]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_both_packages_are_scanned() -> None:
    known = modules(ROOT)
    assert {"sdk_core", "sdk_core._call", "sdk_core.lowlevel", "sdk_transports"} <= set(known)
    assert "sdk_transports.testing.conformance" in known


# -- the checker catches what it is meant to catch ----------------------------------------


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.mark.parametrize(
    "source",
    [
        "from sdk_core._pool import PoolState\n",
        "import sdk_core._pool\n",
        "from sdk_core import _pool\n",
        "from sdk_core.lowlevel import _HOMES\n",
        "def f():\n    from sdk_core._pool import PoolState\n",
        "if TYPE_CHECKING:\n    from sdk_core._pool import Lease, Outcome\n",
    ],
)
def test_a_private_core_import_is_found_wherever_it_is(tmp_path: Path, source: str) -> None:
    write_tree(
        tmp_path,
        {
            "sdk_core/__init__.py": "",
            "sdk_core/_pool.py": "",
            "sdk_core/lowlevel.py": "",
            "sdk_transports/__init__.py": "",
            "sdk_transports/_x.py": source,
        },
    )
    found = private_imports(tmp_path, "sdk_transports", "sdk_core")
    assert len(found) == 1
    assert found[0].startswith("sdk_transports/_x.py:")


def test_public_core_imports_pass(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "sdk_core/__init__.py": "",
            "sdk_transports/__init__.py": "from sdk_core import Request\n",
            "sdk_transports/_x.py": "from sdk_core.lowlevel import PoolState\nimport sdk_core\n",
        },
    )
    assert private_imports(tmp_path, "sdk_transports", "sdk_core") == []


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("from .._client import Client\n", True),
        ("from .. import _client\n", True),
        ("from sdk_transports._client import Client\n", True),
        ("def f():\n    import sdk_transports._client\n", True),
        ("from .. import Client\n", False),
        ("from sdk_transports import Client\n", False),
        ("from ._helper import helper\n", False),  # the testing package's own module
        ("from sdk_transports.testing._helper import helper\n", False),
    ],
)
def test_the_testing_rule(tmp_path: Path, source: str, bad: bool) -> None:
    write_tree(
        tmp_path,
        {
            "sdk_transports/__init__.py": "",
            "sdk_transports/_client.py": "",
            "sdk_transports/testing/__init__.py": "",
            "sdk_transports/testing/_helper.py": "",
            "sdk_transports/testing/suite.py": source,
        },
    )
    found = private_imports(
        tmp_path, "sdk_transports.testing", "sdk_transports", allowed="sdk_transports.testing"
    )
    if bad:
        assert len(found) == 1
        assert found[0].startswith("sdk_transports/testing/suite.py:")
    else:
        assert found == []


def test_a_cycle_through_a_function_or_type_checking_import_is_found(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "sdk_core/__init__.py": "",
            "sdk_core/_a.py": "from ._b import B\n",
            "sdk_core/_b.py": "def f():\n    from ._c import C\n",
            "sdk_core/_c.py": "if TYPE_CHECKING:\n    from . import _a\n",
            "sdk_core/_d.py": "from ._a import A\n",  # imports the cycle, is not in it
            "sdk_transports/__init__.py": "",
        },
    )
    graph = import_graph(tmp_path)
    found = cycles(graph)
    assert found == [["sdk_core._a", "sdk_core._b", "sdk_core._c"]]
    text = describe(graph, found[0])
    assert "sdk_core/_b.py:2: from ._c import C" in text
    assert "sdk_core/_c.py:2: from . import _a" in text


def test_layers_without_a_cycle_pass(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "sdk_core/__init__.py": "from ._a import A\nfrom ._b import B\n",
            "sdk_core/_a.py": "from ._b import B\n",
            "sdk_core/_b.py": "",
            "sdk_transports/__init__.py": "from sdk_core import A\n",
        },
    )
    assert cycles(import_graph(tmp_path)) == []
