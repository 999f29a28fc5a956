"""scripts/unasync.py: the sync twins are generated from marked async sources."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "unasync.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_script", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


unasync = _load()


def convert(source: str) -> str:
    """The unformatted sync text of ``source``, without the generated header."""
    text: str = unasync.unasync_text(textwrap.dedent(source), "src.py")
    header = unasync.HEADER.format(source="src.py")
    assert text.startswith(header)
    return text[len(header) :]


def test_the_default_table_rewrites_keywords_and_names() -> None:
    out = convert(
        """\
        class AsyncPool(AbstractAsyncContextManager["AsyncPool"]):
            async def __aenter__(self) -> AsyncPool:
                return self

            async def __aexit__(self, *exc: object) -> None:
                await self.aclose()

            async def aclose(self) -> None:
                async with self._lock:
                    async for item in self.aiter_items():
                        await item.aread()

            def __aiter__(self) -> AsyncIterator[bytes]:
                return self

            async def __anext__(self) -> bytes:
                raise StopAsyncIteration
        """
    )
    assert out == textwrap.dedent(
        """\
        class Pool(AbstractContextManager["Pool"]):
            def __enter__(self) -> Pool:
                return self

            def __exit__(self, *exc: object) -> None:
                self.close()

            def close(self) -> None:
                with self._lock:
                    for item in self.iter_items():
                        item.read()

            def __iter__(self) -> Iterator[bytes]:
                return self

            def __next__(self) -> bytes:
                raise StopIteration
        """
    )


def test_names_are_replaced_on_word_boundaries_only() -> None:
    out = convert(
        """\
        x = my_aclose + aclosed + aclose_all + self.aclose + aread_more
        y = BufferedAsyncStream, AsyncioThing, Asyncfoo, sdk.AsyncClient, _AsyncPool
        z = handle_async_request, read_whole_async, _async_client, asynchronous, awaited
        """
    )
    assert out == (
        "x = my_aclose + aclosed + aclose_all + self.close + aread_more\n"
        "y = BufferedStream, AsyncioThing, Asyncfoo, sdk.Client, _Pool\n"
        "z = handle_request, read_whole, _client, asynchronous, awaited\n"
    )


def test_prose_keeps_its_words_and_code_spans_are_rewritten() -> None:
    out = convert(
        '''\
        def f() -> None:
            """An async iterable; ``await client.aclose()`` or ``async with AsyncClient()``.

            Call `await x.get()`; AsyncClient's aclose() is awaited.
            """
            message = "an async body; await it"  # an async comment: `await g()`
            return f"{AsyncClient} async"
        '''
    )
    assert '"""An async iterable; ``client.close()`` or ``with Client()``.' in out
    assert "Call `x.get()`; Client's close() is awaited." in out
    assert 'message = "an async body; await it"  # an async comment: `g()`' in out
    assert 'return f"{Client} async"' in out


def test_per_file_replacements_and_blocks() -> None:
    out = convert(
        """\
        # unasync-replace: open_stream_async -> open_stream
        # unasync-replace: anyio.sleep -> time.sleep
        # unasync-replace: "asynchronous=True" -> "asynchronous=False"
        # unasync-replace: "Cancelled: released." -> ""
        async def run() -> None:
            \"\"\"Run it. Cancelled: released.\"\"\"
            await anyio.sleep(1)
            await open_stream_async(asynchronous=True)
            anyio.sleeper()
            # unasync: async-only
            with anyio.CancelScope(shield=True):
                await done()
            # unasync: sync-only
            # done()
            # unasync: end
        """
    )
    assert out == textwrap.dedent(
        """\
        def run() -> None:
            \"\"\"Run it. \"\"\"
            time.sleep(1)
            open_stream(asynchronous=False)
            anyio.sleeper()
            done()
        """
    )


def test_pytest_marks_of_async_tests_are_dropped() -> None:
    out = convert(
        """\
        @pytest.mark.anyio
        async def test_it() -> None:
            await check()
        """
    )
    assert out == "def test_it() -> None:\n    check()\n"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("# unasync: end\n", "outside a block"),
        ("# unasync: async-only\nx = 1\n", "has no '# unasync: end'"),
        ("# unasync: sync-only\nx = 1\n# unasync: end\n", "must be a comment"),
        ("# unasync-replace: just words\n", "expected 'old -> new'"),
        ('# unasync-replace: "" -> x\n', "is empty"),
        ('x = """unclosed\n', "cannot tokenize"),
    ],
)
def test_bad_directives_name_the_problem(source: str, message: str) -> None:
    with pytest.raises(unasync.UnasyncError, match=message):
        unasync.unasync_text(source, "src.py")


def test_the_marker_must_be_a_comment_near_the_top() -> None:
    assert unasync.find_target("# unasync: pkg/_sync.py\n") == "pkg/_sync.py"
    assert unasync.find_target('"""\n# unasync: pkg/_sync.py\n"""\n') is None
    assert unasync.find_target("    # unasync: pkg/_sync.py\n") is None
    assert unasync.find_target("\n" * 10 + "# unasync: pkg/_sync.py\n") is None


SOURCE = '''\
# unasync: pkg/_sync.py
"""The async twin."""

from __future__ import annotations

import anyio

from ._base import AsyncTransport, Transport


async def fetch(transport: AsyncTransport) -> None:
    """Fetch with ``await transport.aclose()``."""
    await anyio.sleep(0)
    await transport.aclose()
'''


def _tree(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "_async.py").write_text(SOURCE)
    (tmp_path / "pkg" / "plain.py").write_text("async def keep() -> None:\n    await x()\n")
    return tmp_path


def test_main_writes_a_formatted_target_and_check_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path)
    assert unasync.main(["--root", str(root)]) == 0
    assert "wrote pkg/_sync.py from pkg/_async.py" in capsys.readouterr().out
    assert (root / "pkg" / "_sync.py").read_text() == (
        "# Generated from pkg/_async.py by scripts/unasync.py: do not edit this file.\n"
        "# Edit the source and run `make sync` (`make sync-check` fails when this is stale).\n"
        '"""The async twin."""\n'
        "\n"
        "from __future__ import annotations\n"
        "\n"
        "import anyio\n"
        "\n"
        "from ._base import Transport\n"
        "\n"
        "\n"
        "def fetch(transport: Transport) -> None:\n"
        '    """Fetch with ``transport.close()``."""\n'
        "    anyio.sleep(0)\n"  # no replacement declared: left for the type check to catch
        "    transport.close()\n"
    )
    assert unasync.main(["--root", str(root), "--check"]) == 0


def test_a_file_without_a_marker_is_left_alone(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    unasync.main(["--root", str(root)])
    assert (root / "pkg" / "plain.py").read_text() == "async def keep() -> None:\n    await x()\n"
    assert sorted(p.name for p in (root / "pkg").iterdir()) == ["_async.py", "_sync.py", "plain.py"]


def test_check_names_a_stale_target_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path)
    unasync.main(["--root", str(root)])
    target = root / "pkg" / "_sync.py"
    edited = target.read_text().replace("transport.close()\n", "transport.close()  # hand edit\n")
    target.write_text(edited)
    capsys.readouterr()
    assert unasync.main(["--root", str(root), "--check", "--diff"]) == 1
    captured = capsys.readouterr()
    assert "pkg/_sync.py" in captured.err
    assert "+    transport.close()\n" in captured.out
    assert target.read_text() == edited


def test_check_names_a_missing_target_and_an_orphan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path)
    (root / "pkg" / "old.py").write_text(
        "# Generated from pkg/gone.py by scripts/unasync.py: do not edit this file.\n"
    )
    assert unasync.main(["--root", str(root), "--check"]) == 1
    err = capsys.readouterr().err
    assert "pkg/_sync.py (missing)" in err
    assert "pkg/old.py says it is generated, but no source names it" in err
    assert not (root / "pkg" / "_sync.py").exists()


def test_a_bad_source_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.py").write_text("# unasync: b.py\n# unasync: end\n")
    assert unasync.main(["--root", str(tmp_path)]) == 2
    assert "outside a block" in capsys.readouterr().err


def test_a_marker_naming_its_own_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("# unasync: a.py\n")
    assert unasync.main(["--root", str(tmp_path), "--check"]) == 2


def test_the_committed_generated_files_are_current() -> None:
    assert unasync.main(["--check"]) == 0


def test_sync_only_lines_are_kept_as_written() -> None:
    out = convert(
        """\
        import anyio
        # unasync: sync-only
        # from ._async_paging import AsyncPaginator as AsyncPaginator
        #
        # import time
        # unasync: end
        """
    )
    assert out == (
        "import anyio\nfrom ._async_paging import AsyncPaginator as AsyncPaginator\n\nimport time\n"
    )


def test_what_a_source_replacement_writes_is_not_rewritten_again() -> None:
    out = convert(
        """\
        # unasync-replace: "handle_async_request()." -> "handle_request(); see AsyncClient."
        # unasync-replace: AsyncFoo -> AsyncBar
        message = "AsyncClient needs handle_async_request()."
        x = AsyncFoo
        """
    )
    assert out == 'message = "Client needs handle_request(); see AsyncClient."\nx = AsyncBar\n'


def test_awaitable_types_become_what_they_give() -> None:
    out = convert(
        """\
        Opener = Callable[[Request], Awaitable[tuple[Response, dict[str, int]]]]
        Sleep = Callable[[float], Awaitable[object]]
        """
    )
    assert out == (
        "Opener = Callable[[Request], tuple[Response, dict[str, int]]]\n"
        "Sleep = Callable[[float], object]\n"
    )


def test_f_strings_are_prose_on_every_python() -> None:
    out = convert(
        """\
        x = f"{AsyncClient} async {{aclose}}" + f'''{f"{AsyncX}"}'''
        await z.aclose()  # await it
        """
    )
    assert out == ("x = f\"{Client} async {{close}}\" + f'''{f\"{X}\"}'''\nz.close()  # await it\n")


def test_async_inside_a_name_is_not_a_twin_rule() -> None:
    out = convert("has_async_body = is_async_call_async()\nx = handle_async_request\n")
    assert out == "has_async_body = is_async_call()\nx = handle_request\n"


def test_a_suffix_that_would_leave_a_keyword_is_refused_unless_declared() -> None:
    with pytest.raises(unasync.UnasyncError, match="'is_async' would become the keyword 'is'"):
        convert("is_async = True\n")
    kept = convert("# unasync-replace: is_async -> is_async\nis_async = True\n")
    assert kept.strip().endswith("is_async = True")


def test_the_article_in_prose_follows_the_renamed_word() -> None:
    out = convert('"""An AsyncClient, an AsyncStream and an AsyncIterator."""\n')
    assert out == '"""A Client, a Stream and an Iterator."""\n'
