"""How big a run is: the quick and full presets, overridable from the CLI and environment."""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ALL_SUITES", "BenchConfig", "parse_config"]

ALL_SUITES = ("sync", "async", "overhead", "retry", "memory", "coldstart", "profile")


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of every suite. ``*_requests`` are per client per round (per measurement)."""

    mode: str = "full"
    sync_requests: int = 2000
    sync_rounds: int = 9
    async_requests: int = 2560
    async_rounds: int = 5
    concurrency: tuple[int, ...] = (1, 64, 256)
    overhead_requests: int = 5000
    overhead_rounds: int = 11
    retry_requests: int = 1500
    retry_rounds: int = 9
    memory_counts: tuple[int, ...] = (1_000, 100_000)
    memory_async_count: int = 10_000
    idle_connections: int = 256
    cold_runs: int = 15
    profile_requests: int = 5000
    suites: tuple[str, ...] = ALL_SUITES
    out_dir: Path = field(default_factory=lambda: Path("docs/benchmarks"))
    nginx: str | None = None
    #: "same": this process and nginx share one CPU; "split": one each; "free": no pinning.
    cpu_mode: str = "same"

    def scaled(self, factor: float) -> BenchConfig:
        """The same run with every request count multiplied by ``factor`` (rounds kept)."""

        def scale(n: int, floor: int) -> int:
            return max(floor, int(n * factor))

        return dataclasses.replace(
            self,
            sync_requests=scale(self.sync_requests, 10),
            async_requests=scale(self.async_requests, max(self.concurrency)),
            overhead_requests=scale(self.overhead_requests, 10),
            retry_requests=max(100, scale(self.retry_requests, 100) // 100 * 100),
            profile_requests=scale(self.profile_requests, 100),
        )


QUICK = BenchConfig(
    mode="quick",
    sync_requests=500,
    sync_rounds=5,
    async_requests=1024,
    async_rounds=3,
    overhead_requests=2000,
    overhead_rounds=5,
    retry_requests=500,
    retry_rounds=5,
    memory_counts=(1_000, 10_000),
    memory_async_count=2_000,
    idle_connections=128,
    cold_runs=8,
    profile_requests=2000,
)

#: Environment variables that override a preset (a CLI flag wins over them).
_ENV_INTS = {
    "BENCH_SYNC_REQUESTS": "sync_requests",
    "BENCH_SYNC_ROUNDS": "sync_rounds",
    "BENCH_ASYNC_REQUESTS": "async_requests",
    "BENCH_ASYNC_ROUNDS": "async_rounds",
    "BENCH_OVERHEAD_REQUESTS": "overhead_requests",
    "BENCH_OVERHEAD_ROUNDS": "overhead_rounds",
    "BENCH_RETRY_REQUESTS": "retry_requests",
    "BENCH_RETRY_ROUNDS": "retry_rounds",
    "BENCH_MEMORY_ASYNC_COUNT": "memory_async_count",
    "BENCH_IDLE_CONNECTIONS": "idle_connections",
    "BENCH_COLD_RUNS": "cold_runs",
    "BENCH_PROFILE_REQUESTS": "profile_requests",
}


def _int_tuple(text: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in text.split(",") if part.strip())
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 1,64,256: {text!r}")
    return values


def _suites(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(set(names) - set(ALL_SUITES))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown suite(s) {unknown}; pick from {ALL_SUITES}")
    return names


def parse_config(argv: list[str] | None = None) -> BenchConfig:
    """The configuration from ``--quick``/``BENCH_QUICK=1``, ``BENCH_*`` variables and flags."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Benchmark sdk-core's clients against httpx, httpx2, aiohttp, urllib3, "
        "requests and raw-socket floors, on a private nginx on 127.0.0.1.",
        epilog="Environment: BENCH_QUICK=1, BENCH_SCALE, BENCH_SUITES, BENCH_CONCURRENCY, "
        "BENCH_MEMORY_COUNTS, BENCH_CPU_MODE, BENCH_OUT, NGINX, and "
        + ", ".join(sorted(_ENV_INTS))
        + ".",
    )
    parser.add_argument("--quick", action="store_true", help="a ~1-2 minute run")
    parser.add_argument("--scale", type=float, help="multiply every request count")
    parser.add_argument("--rounds", type=int, help="rounds for every timed suite")
    parser.add_argument("--suites", type=_suites, help=f"comma list from {','.join(ALL_SUITES)}")
    parser.add_argument("--skip", type=_suites, default=(), help="suites to leave out")
    parser.add_argument("--concurrency", type=_int_tuple, help="async concurrency levels")
    parser.add_argument("--memory-counts", type=_int_tuple, help="request counts, e.g. 1000,100000")
    parser.add_argument("--out", type=Path, help="output folder (default docs/benchmarks)")
    parser.add_argument("--nginx", help="the nginx binary to use (default: PATH, else apt-get)")
    parser.add_argument(
        "--cpu-mode",
        choices=("same", "split", "free"),
        help="pin this process and nginx to one shared CPU (same, the default: no cross-CPU "
        "wake-ups, stable numbers), to one CPU each (split), or not at all (free)",
    )
    args = parser.parse_args(argv)

    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    config = QUICK if quick else BenchConfig()
    changes: dict[str, object] = {}
    for var, name in _ENV_INTS.items():
        if os.environ.get(var):
            changes[name] = int(os.environ[var])
    if os.environ.get("BENCH_SUITES"):
        changes["suites"] = _suites(os.environ["BENCH_SUITES"])
    if os.environ.get("BENCH_CONCURRENCY"):
        changes["concurrency"] = _int_tuple(os.environ["BENCH_CONCURRENCY"])
    if os.environ.get("BENCH_MEMORY_COUNTS"):
        changes["memory_counts"] = _int_tuple(os.environ["BENCH_MEMORY_COUNTS"])
    if os.environ.get("BENCH_OUT"):
        changes["out_dir"] = Path(os.environ["BENCH_OUT"])
    if os.environ.get("NGINX"):
        changes["nginx"] = os.environ["NGINX"]
    if args.suites:
        changes["suites"] = args.suites
    if args.concurrency:
        changes["concurrency"] = args.concurrency
    if args.memory_counts:
        changes["memory_counts"] = args.memory_counts
    if args.out:
        changes["out_dir"] = args.out
    if args.nginx:
        changes["nginx"] = args.nginx
    if os.environ.get("BENCH_CPU_MODE"):
        changes["cpu_mode"] = os.environ["BENCH_CPU_MODE"]
    if args.cpu_mode:
        changes["cpu_mode"] = args.cpu_mode
    if args.rounds:
        changes.update(
            {
                f"{suite}_rounds": max(1, args.rounds)
                for suite in ("sync", "async", "overhead", "retry")
            }
        )
    config = dataclasses.replace(config, **changes)  # type: ignore[arg-type]
    if args.skip:
        config = dataclasses.replace(
            config, suites=tuple(s for s in config.suites if s not in args.skip)
        )
    scale = args.scale if args.scale is not None else float(os.environ.get("BENCH_SCALE") or 1)
    if scale != 1:
        config = config.scaled(scale)
    if config.async_requests < max(config.concurrency):
        config = dataclasses.replace(config, async_requests=max(config.concurrency))
    if config.retry_requests % 100:
        config = dataclasses.replace(
            config, retry_requests=max(100, config.retry_requests // 100 * 100)
        )
    return config
