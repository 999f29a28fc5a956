"""sdk_core is sans-I/O: none of its own files imports an I/O, clock or randomness module.

A fast complement to the import-linter contract in pyproject.toml: it reads the source
with ``ast``, so it also sees imports inside functions and behind ``if`` statements.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sdk_core

FORBIDDEN = frozenset(
    {
        "socket",
        "ssl",
        "select",
        "selectors",
        "asyncio",
        "anyio",
        "trio",
        "httpcore",
        "threading",
        "time",
        "random",
        "os",
        "logging",
        # Not in the brief's list, but the same rule: no I/O of any kind in the core.
        "sdk_transports",
        "subprocess",
        "multiprocessing",
        "concurrent",
        "signal",
        "urllib.request",
        "http.client",
        "pathlib",
        "shutil",
        "tempfile",
        "secrets",
        "uuid",
    }
)

PACKAGE = Path(sdk_core.__file__).resolve().parent
SOURCES = sorted(PACKAGE.glob("*.py"))


def imported_modules(source: str) -> set[str]:
    """Every absolute module a source file imports, at any depth, with its parents."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (getattr(node.func, "id", None) or getattr(node.func, "attr", None))
            in ("__import__", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        for name in names:
            parts = name.split(".")
            found.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return found


def test_sources_are_found() -> None:
    names = {path.name for path in SOURCES}
    assert {"__init__.py", "_call.py", "_retry.py", "_config.py", "_status.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_io_imports(path: Path) -> None:
    bad = imported_modules(path.read_text(encoding="utf-8")) & FORBIDDEN
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize(
    "source",
    [
        "import time",
        "import os.path",
        "from os import path",
        "from concurrent.futures import ThreadPoolExecutor",
        "import socket as s",
        "def f():\n    import random\n",
        "try:\n    import trio\nexcept ImportError:\n    pass\n",
        "if True:\n    from asyncio import sleep\n",
        "mod = __import__('ssl')",
        "import importlib\nmod = importlib.import_module('threading')",
    ],
)
def test_the_checker_catches_forbidden_imports(source: str) -> None:
    assert imported_modules(source) & FORBIDDEN


def test_the_checker_lets_pure_imports_through() -> None:
    source = (
        "import re\nfrom ._errors import SDKError\nfrom email.utils import parsedate_to_datetime"
    )
    assert imported_modules(source) == {
        "re",
        "email",
        "email.utils",
        "email.utils.parsedate_to_datetime",
    }


def test_public_names_are_exported_once() -> None:
    names = sdk_core.__all__
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(sdk_core, name), name
