"""``make bench``: start a private nginx, run the suites, write docs/benchmarks/.

``python benchmarks/run.py [--quick] [--suites sync,async,...]``; ``--help`` for the rest.
nginx is stopped on every exit: success, an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.apt import AptError
from benchmarks.config import BenchConfig, parse_config
from benchmarks.context import Context
from benchmarks.nginx import NginxServer
from benchmarks.progress import Progress
from benchmarks.report import environment, load_average, write_report
from benchmarks.results import Table

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _suite(name: str) -> Callable[[Context], list[Table]]:
    # Imported late: a suite's peers (aiohttp, matplotlib, ...) load only when it runs.
    if name == "sync":
        from benchmarks.suites import sync_http

        return sync_http.run
    if name == "async":
        from benchmarks.suites import async_http

        return async_http.run
    if name == "overhead":
        from benchmarks.suites import overhead

        return overhead.run
    if name == "retry":
        from benchmarks.suites import retry

        return retry.run
    if name == "memory":
        from benchmarks.suites import memory

        return memory.run
    if name == "coldstart":
        from benchmarks.suites import coldstart

        return coldstart.run
    if name == "profile":
        from benchmarks.suites import profile

        return profile.run
    raise ValueError(name)


def _raise_fd_limit(wanted: int = 16384) -> None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, ValueError, OSError):
        pass


def _pin(mode: str) -> tuple[str, Callable[[], None]]:
    """Pin for ``mode``; returns a description and what to call once nginx has started."""
    if mode == "free" or not hasattr(os, "sched_setaffinity"):
        return "no CPU pinning", lambda: None
    cpus = sorted(os.sched_getaffinity(0))
    if mode == "same" or len(cpus) < 2:
        os.sched_setaffinity(0, {cpus[-1]})
        return f"this process and nginx pinned to CPU {cpus[-1]}", lambda: None
    os.sched_setaffinity(0, {cpus[-1]})  # nginx inherits this CPU when it starts

    def after_start() -> None:
        os.sched_setaffinity(0, {cpus[0]})

    return f"nginx pinned to CPU {cpus[-1]}, this process to CPU {cpus[0]}", after_start


def _run(config: BenchConfig, progress: Progress, command: str) -> int:
    os.chdir(ROOT)
    out = config.out_dir if config.out_dir.is_absolute() else ROOT / config.out_dir
    progress.info("bench", f"{config.mode} run of {', '.join(config.suites)} -> {out}")
    tables: list[Table] = []
    failures: dict[str, str] = {}
    load_at_start = load_average()
    server = NginxServer(config.nginx, log=lambda m: progress.info("nginx", str(m)))
    pinning, after_start = _pin(config.cpu_mode)
    try:
        try:
            server.start()
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            progress.info("nginx", f"could not start nginx: {exc}")
            return 2
        after_start()
        progress.info("nginx", f"nginx {server.version} on {server.base_url}; {pinning}")
        ctx = Context(config, progress, server)
        ctx.notes.append(f"CPU: {pinning} (`--cpu-mode {config.cpu_mode}`).")
        for name in config.suites:
            progress.info(name, "starting")
            try:
                tables += _suite(name)(ctx)
            except Exception:
                failures[name] = traceback.format_exc()
                progress.info(name, "FAILED:\n" + failures[name])
        env = environment(server.version, load_at_start)
    finally:
        server.stop()
        progress.info("nginx", "stopped")
    written = write_report(out, tables, config, env, ctx.profiles, failures, ctx.notes, command)
    for path in written:
        progress.info(
            "bench", f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
        )
    ours_failed = [
        f"{table.title}: {row.name}"
        for table in tables
        for row in table.rows
        if row.ours and row.error is not None
    ]
    for item in ours_failed:
        progress.info("bench", f"this project's client errored: {item} (see results.md)")
    progress.info("bench", f"finished in {progress.elapsed():.0f} s")
    return 1 if failures or ours_failed else 0


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run, and return the exit status."""
    config = parse_config(argv)
    progress = Progress()
    # Ctrl-C raises KeyboardInterrupt even where SIGINT came in ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _interrupt)
    _raise_fd_limit()
    command = "python benchmarks/run.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    try:
        return _run(config, progress, command.strip())
    except KeyboardInterrupt:
        progress.info("bench", "interrupted; nginx stopped, no report written")
        return 130
    except AptError as exc:
        progress.info("bench", f"cannot run: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
