"""Suite 6: cold start, ``python -c "import ...; first request"`` as whole processes.

hyperfine runs them when it is installed or apt-get can install it; otherwise a Python
loop of subprocess runs, interleaved. Byte-code is cached in a private
``PYTHONPYCACHEPREFIX`` (warmed by the first runs), so every library loads from .pyc
as an installed one would, whatever PYTHONDONTWRITEBYTECODE says.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

from ..apt import AptError, ensure_binary
from ..context import Context
from ..results import Row, Table

__all__ = ["run"]

_ROOT = Path(__file__).resolve().parents[2]


def _programs(url: str, base: str) -> list[tuple[str, str, bool]]:
    return [
        ("python -c pass", "pass", False),
        ("import sdk_transports", "import sdk_transports", True),
        ("import httpx", "import httpx", False),
        ("import httpx2", "import httpx2", False),
        (
            "sdk Client (HttpcoreTransport): first GET",
            f"from sdk_transports import Client\nwith Client({base!r}) as c: c.get('/json')",
            True,
        ),
        (
            "sdk Client (SocketTransport): first GET",
            "from sdk_transports import Client, SocketTransport\n"
            f"with Client({base!r}, transport=SocketTransport()) as c: c.get('/json')",
            True,
        ),
        ("httpx: first GET", f"import httpx\nwith httpx.Client() as c: c.get({url!r})", False),
        ("httpx2: first GET", f"import httpx2\nwith httpx2.Client() as c: c.get({url!r})", False),
        ("requests: first GET", f"import requests\nrequests.get({url!r})", False),
        (
            "urllib3: first GET",
            f"import urllib3\nurllib3.PoolManager().request('GET', {url!r})",
            False,
        ),
    ]


def _env(cache: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def _hyperfine(
    ctx: Context, binary: str, programs: list[tuple[str, str, bool]], cache: str
) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="sdk-bench-hyperfine-") as tmp:
        out = Path(tmp) / "result.json"
        args = [binary, "-N", "--style", "none", "--warmup", "3"]
        args += ["--runs", str(ctx.config.cold_runs), "--export-json", str(out)]
        for name, code, _ in programs:
            args += ["--command-name", name, f"{shlex.quote(ctx.python)} -c {shlex.quote(code)}"]
        ctx.progress.step(
            "coldstart", f"hyperfine: {len(programs)} programs x {ctx.config.cold_runs} runs"
        )
        subprocess.run(
            args, cwd=_ROOT, env=_env(cache), check=True, capture_output=True, timeout=900
        )
        data = json.loads(out.read_text())
    return {item["command"]: [t * 1000 for t in item["times"]] for item in data["results"]}


def _python_loop(
    ctx: Context, programs: list[tuple[str, str, bool]], cache: str
) -> dict[str, list[float]]:
    env = _env(cache)
    times: dict[str, list[float]] = {name: [] for name, _, _ in programs}
    runs = ctx.config.cold_runs
    for run_index in range(runs + 3):  # the first three warm the byte-code cache
        ctx.progress.step("coldstart", f"run {run_index + 1}/{runs + 3}")
        shift = run_index % len(programs)
        for name, code, _ in programs[shift:] + programs[:shift]:
            start = time.perf_counter()
            subprocess.run(
                [ctx.python, "-c", code],
                cwd=_ROOT,
                env=env,
                check=True,
                timeout=60,
                stdout=subprocess.DEVNULL,
            )
            if run_index >= 3:
                times[name].append((time.perf_counter() - start) * 1000)
    return times


def run(ctx: Context) -> list[Table]:
    """One table: milliseconds per whole process."""
    programs = _programs(ctx.server.url("/json"), ctx.server.base_url)
    tool = "a Python loop of subprocess runs"
    with tempfile.TemporaryDirectory(prefix="sdk-bench-pycache-") as cache:
        try:
            binary = ensure_binary(
                "hyperfine", "hyperfine", log=lambda m: ctx.progress.info("coldstart", m)
            )
        except AptError as exc:
            ctx.progress.info("coldstart", f"no hyperfine ({exc}); using a Python loop")
            times = _python_loop(ctx, programs, cache)
        else:
            times = _hyperfine(ctx, binary, programs, cache)
            tool = "hyperfine -N --warmup 3"
    rows = [Row(name, times.get(name, []), ours=ours) for name, _, ours in programs]
    ctx.progress.info("coldstart", "done")
    note = f"{ctx.config.cold_runs} runs each with {tool}; byte-code cached."
    imports = [row for row in rows if not row.name.endswith("first GET")]
    firsts = [row for row in rows if row.name.endswith("first GET")]
    return [
        Table(
            key="coldstart-import",
            title='Cold start: `python -c "import ..."` as a whole process',
            unit="ms/process",
            rows=imports,
            ratio_to=["import httpx", "import httpx2", "python -c pass"],
            figure="coldstart.png",
            note=note,
        ),
        Table(
            key="coldstart-first",
            title="Cold start: import, one GET /json to nginx, exit",
            unit="ms/process",
            rows=firsts,
            ratio_to=["httpx: first GET", "httpx2: first GET", "urllib3: first GET"],
            figure="coldstart.png",
            note=note,
        ),
    ]
