"""The report: a markdown file of tables, PNG plots, and the raw numbers as JSON."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
import subprocess
import sys
from collections import defaultdict
from importlib import metadata
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from .config import BenchConfig
from .results import Row, Table

__all__ = ["environment", "write_report"]

DASH = "\u2013"  # an en dash
TIMES = "\u00d7"  # a multiplication sign

OURS_COLOR = "#1f77b4"
#: Line colours of the scaling plot, the same client in the same colour on every loop.
SERIES_COLORS = {
    "sdk AsyncClient (AnyioTransport)": "#1f77b4",
    "sdk AsyncClient (AsyncHttpcoreTransport)": "#ff7f0e",
    "httpx.AsyncClient": "#2ca02c",
    "httpx2.AsyncClient": "#d62728",
    "aiohttp": "#9467bd",
}
PEER_COLOR = "#9a9a9a"
FLOOR_COLOR = "#d9d9d9"
PACKAGES = (
    "sdk-core",
    "httpx",
    "httpcore",
    "httpx2",
    "httpcore2",
    "aiohttp",
    "urllib3",
    "requests",
    "anyio",
    "trio",
    "h11",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_state() -> str:
    """The commit the numbers were measured at, and how many files differed from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not head:
        return "unknown"
    return f"{head}" + (f" with {len(changed)} changed files" if changed else "")


def load_average() -> str:
    """The 1-minute load average, or "n/a"."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return "n/a"


def environment(nginx_version: str, load_at_start: str) -> dict[str, str]:
    """What the numbers were measured on."""
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "platform": platform.platform(),
        "cpu": f"{_cpu_model()}, {os.cpu_count()} cores",
        "nginx": nginx_version,
        "packages": ", ".join(versions),
        "commit": _git_state(),
        "load": f"{load_at_start} at the start, {load_average()} at the end (1-minute load "
        "average: other processes on the machine share its cores)",
    }


def _fmt(value: float, decimals: int) -> str:
    if math.isnan(value):
        return DASH
    return f"{value:,.{decimals}f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value:.2f}{TIMES}"


def _anchor(table: Table, row: Row) -> str:
    text = f"error-{table.key}-{row.name}".lower()
    return "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in text)


def _table_markdown(table: Table) -> list[str]:
    peers = [name for name in table.ratio_to if table.row(name) is not None]
    has_spread = any(len(row.values) > 1 for row in table.rows)
    has_notes = any(row.note for row in table.rows)
    header = ["client", f"median {table.unit}"]
    if has_spread:
        header.append(f"min {DASH} max")
    header += [f"÷ {name}" for name in peers]
    if has_notes:
        header.append("note")
    lines = [f"### {table.title}", ""]
    if table.note:
        lines += [table.note, ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1 - has_notes)) + "|")
    if has_notes:
        lines[-1] = lines[-1] + "---|"
    for row in table.rows:
        name = f"**{row.name}**" if row.ours else row.name
        if row.error is not None:
            cells = [name, f"[error](#{_anchor(table, row)})"]
            cells += [DASH] * (len(header) - 2 - has_notes)
        else:
            cells = [name, _fmt(row.median, table.decimals)]
            if has_spread:
                cells.append(
                    f"{_fmt(row.low, table.decimals)} {DASH} {_fmt(row.high, table.decimals)}"
                )
            cells += [_ratio(table.ratio(row, peer)) for peer in peers]
        if has_notes:
            cells.append(row.note)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def _summary(tables: list[Table]) -> list[str]:
    lines = [
        "## Summary",
        "",
        "Medians; `÷ peer` is this project's time divided by the peer's (below 1: faster).",
        "",
        "| measurement | this project | median | ÷ httpx | ÷ httpx2 | ÷ best other peer |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for table in tables:
        if table.key.startswith(("memory", "coldstart")) or not table.ratio_to:
            continue
        httpx_peer = next((p for p in table.ratio_to if p.startswith("httpx.")), None)
        if httpx_peer is None:
            httpx_peer = next((p for p in table.ratio_to if p.startswith("httpx")), None)
        httpx2_peer = next((p for p in table.ratio_to if p.startswith("httpx2")), None)
        others = [
            row
            for row in table.rows
            if not row.ours and not row.floor and row.ok and not row.name.startswith("httpx")
        ]
        best = min(others, key=lambda row: row.median) if others else None
        for row in table.rows:
            if not row.ours:
                continue
            if row.error is not None:
                value = f"[error](#{_anchor(table, row)})"
            else:
                value = f"{_fmt(row.median, table.decimals)} {table.unit}"
            cells = [
                table.title,
                row.name,
                value,
                _ratio(table.ratio(row, httpx_peer)) if httpx_peer else DASH,
                _ratio(table.ratio(row, httpx2_peer)) if httpx2_peer else DASH,
                f"{_ratio(table.ratio(row, best.name))} {best.name}" if best else DASH,
            ]
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def _plot_figure(path: Path, tables: list[Table]) -> None:
    heights = [0.42 * max(2, len(t.rows)) + 1.1 for t in tables]
    fig, axes = plt.subplots(
        len(tables),
        1,
        figsize=(10, sum(heights)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, table in zip(axes[:, 0], tables, strict=True):
        rows = [row for row in table.rows if row.ok]
        failed = [row for row in table.rows if not row.ok]
        names = [row.name for row in rows][::-1]
        medians = [row.median for row in rows][::-1]
        lows = [row.median - row.low for row in rows][::-1]
        highs = [row.high - row.median for row in rows][::-1]
        colors = [
            OURS_COLOR if row.ours else FLOOR_COLOR if row.floor else PEER_COLOR for row in rows
        ][::-1]
        positions = range(len(rows))
        ax.barh(
            positions,
            medians,
            color=colors,
            xerr=[lows, highs] if any(len(r.values) > 1 for r in rows) else None,
            error_kw={"ecolor": "#333333", "capsize": 3, "linewidth": 1},
            edgecolor="#555555",
            linewidth=0.5,
        )
        ax.set_yticks(list(positions))
        ax.set_yticklabels(names, fontsize=9)
        for label, row in zip(ax.get_yticklabels(), rows[::-1], strict=True):
            if row.ours:
                label.set_fontweight("bold")
        top = max([row.high for row in rows], default=1.0)
        for pos, row in zip(positions, rows[::-1], strict=True):
            ax.text(
                row.high + top * 0.01,
                pos,
                _fmt(row.median, table.decimals),
                va="center",
                fontsize=8,
            )
        ax.set_xlim(0, top * 1.15 if top > 0 else 1)
        title = table.title
        if failed:
            title += f"  (errors: {', '.join(row.name for row in failed)})"
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_xlabel(f"{table.unit} (median, whiskers min to max; lower is better)", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_scaling(path: Path, tables: list[Table]) -> bool:
    by_backend: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    ours: set[str] = set()
    for table in tables:
        parts = table.key.split("-")
        if parts[0] != "async" or len(parts) != 3:  # not the split-CPU tables
            continue
        _, backend, c = parts
        for row in table.rows:
            if row.ok:
                by_backend[backend][row.name].append((int(c), row.median))
                if row.ours:
                    ours.add(row.name)
    if not by_backend:
        return False
    fig, axes = plt.subplots(1, len(by_backend), figsize=(6 * len(by_backend), 4.5), squeeze=False)
    for ax, (backend, series) in zip(axes[0], by_backend.items(), strict=True):
        for name, points in series.items():
            points.sort()
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            style = "-o" if name in ours else "--s"
            ax.plot(
                xs,
                ys,
                style,
                label=name,
                color=SERIES_COLORS.get(name, "#8c564b"),
                linewidth=2 if name in ours else 1,
                markersize=4,
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sorted({x for pts in series.values() for x, _ in pts}))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel("concurrent tasks (one shared client)")
        ax.set_ylabel("µs/request (median, log scale)")
        ax.set_title(f"Async scaling on {backend}", fontsize=10, loc="left")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _config_line(config: BenchConfig) -> str:
    skip = {"out_dir", "nginx", "suites"}
    fields = [
        f"{f.name}={getattr(config, f.name)}"
        for f in dataclasses.fields(config)
        if f.name not in skip
    ]
    return ", ".join(fields)


def write_report(
    out: Path,
    tables: list[Table],
    config: BenchConfig,
    env: dict[str, str],
    profiles: dict[str, str],
    failures: dict[str, str],
    notes: list[str],
    command: str,
) -> list[Path]:
    """Write results.md, results.json and the PNGs into ``out``; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    figures: dict[str, list[Table]] = defaultdict(list)
    for table in tables:
        if table.figure:
            figures[table.figure].append(table)
    for name, group in figures.items():
        _plot_figure(out / name, group)
        written.append(out / name)
    scaling = out / "async-scaling.png"
    if _plot_scaling(scaling, tables):
        written.append(scaling)

    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{command}` ({config.mode} run) on {env['date']}. Regenerate with "
        "`make bench` (full, under ~10 minutes on 2 cores) or `make bench-quick` (~2 minutes).",
        "",
        f"- Machine: {env['cpu']}; {env['platform']}",
        f"- Python: {env['python']}; nginx {env['nginx']}",
        f"- Code: commit {env['commit']} (the working tree as it was during the run)",
        f"- Load: {env['load']}",
        f"- Packages: {env['packages']}",
        f"- Sizes: {_config_line(config)}",
        *[f"- {note}" for note in notes],
        "",
        "Method: a private nginx on 127.0.0.1 (one worker, keep-alive, access log off) "
        "serves `/json` (101 bytes), `/64k` (65,536 bytes) and `/flaky` (503 then 200 on "
        "a connection). Clients run in interleaved rounds: each client one timed batch per "
        "round, the order rotated every round, connections opened and warmed before the "
        "first round. Tables give the median over rounds of the time per request and the "
        "min to max over rounds; `÷ peer` columns divide the median by that peer's median "
        "(below 1: faster than the peer). Numbers from a shared 2-core VM are noisy: "
        "compare within a table, not across runs. By default this process and nginx share one "
        "pinned CPU: on this VM a wake-up across CPUs adds about 45 µs to every round trip, "
        "at random, which would swamp the differences between clients; pinned, each request "
        "costs the client's CPU time plus nginx's (the raw floors show the latter). "
        "**Bold**: this project.",
        "",
    ]
    lines += _summary(tables)
    sections = [
        ("sync-", "1. Sync, sequential keep-alive"),
        ("async-asyncio", "2a. Async on asyncio"),
        ("async-trio", "2b. Async on trio"),
        ("overhead", "3. SDK overhead without network"),
        ("retry", "4. The cost of a retry"),
        ("memory", "5. Memory"),
        ("coldstart", "6. Cold start"),
    ]
    for prefix, heading in sections:
        group = [t for t in tables if t.key.startswith(prefix)]
        if not group:
            continue
        lines += [f"## {heading}", ""]
        shown: set[str] = set()
        for table in group:
            lines += _table_markdown(table)
            last_of_figure = table is [t for t in group if t.figure == table.figure][-1]
            if table.figure and last_of_figure and table.figure not in shown:
                shown.add(table.figure)
                lines += [f"![{heading}]({table.figure})", ""]
        if prefix == "async-trio" and scaling in written:
            lines += ["![Async scaling](async-scaling.png)", ""]
    if profiles:
        lines += [
            "## Profiles of this project's clients",
            "",
            "pyinstrument while the clients talk to the same nginx; sampling every 20 µs "
            "(which slows the code 3 to 4-fold) or 100 µs as each title says. Full "
            "call trees: `profile-sync-socket.txt`, `profile-async64-anyio.txt`, "
            "`profile-async64-httpcore.txt`.",
            "",
        ]
        for text in profiles.values():
            lines += [text, ""]
    errors = [(t, r) for t in tables for r in t.rows if r.error is not None]
    if errors or failures:
        lines += ["## Errors", ""]
        for table, row in errors:
            lines += [
                f'<a id="{_anchor(table, row)}"></a>',
                f"### {table.title}: {row.name}",
                "",
                "```text",
                row.error.rstrip() if row.error else "",
                "```",
                "",
            ]
        for suite, text in failures.items():
            lines += [f"### Suite `{suite}` failed", "", "```text", text.rstrip(), "```", ""]
    (out / "results.md").write_text("\n".join(lines).rstrip() + "\n")
    written.append(out / "results.md")

    raw = {
        "environment": env,
        "config": {
            f.name: str(getattr(config, f.name))
            if isinstance(getattr(config, f.name), Path)
            else getattr(config, f.name)
            for f in dataclasses.fields(config)
        },
        "tables": [
            {
                "key": t.key,
                "title": t.title,
                "unit": t.unit,
                "rows": [dataclasses.asdict(r) for r in t.rows],
            }
            for t in tables
        ],
        "failures": failures,
    }
    (out / "results.json").write_text(json.dumps(raw, indent=1, ensure_ascii=False) + "\n")
    written.append(out / "results.json")
    return written
