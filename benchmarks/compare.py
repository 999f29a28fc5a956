"""Compare this tree's clients with another revision's, in alternating runs.

``python benchmarks/compare.py --base REV [--runs 3] [run.py options ...]`` exports
``REV`` with ``git archive`` into a temporary folder, then runs ``benchmarks/run.py``
from the base tree and from this tree in turn (base, head, base, head, ...), each run
writing its own ``results.json``. A machine that slows down for a while slows both sides
alike, which one run before and one after cannot promise.

For every row of this project's clients it prints, per table, the median over the runs
of the row's median (base and head), their quotient, and the same quotient after
dividing each run's figure by the mean of the peers measured in that run (httpx,
aiohttp, ...), which cancels what the machine did between runs. A quotient above 1 means
the head is slower. ``--fail-above 1.03`` exits 1 when a normalised quotient is larger.

Rows are matched by name; a row renamed between the two revisions is matched by its
position among this project's rows of the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["main"]


def _export(rev: str, into: Path) -> None:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


def _run(tree: Path, out: Path, extra: list[str]) -> None:
    env = dict(os.environ, PYTHONPATH=str(tree))
    command = [sys.executable, str(tree / "benchmarks" / "run.py"), "--out", str(out), *extra]
    print(f"== {tree}: {' '.join(command[2:])}", flush=True)
    subprocess.run(command, cwd=tree, env=env, check=False)


def _tables(path: Path) -> dict[str, dict[str, object]]:
    data = json.loads((path / "results.json").read_text())
    return {table["key"]: table for table in data["tables"]}


def _row_median(row: dict[str, object]) -> float | None:
    values = row.get("values") or []
    if row.get("error") or not values:
        return None
    return statistics.median(values)  # type: ignore[arg-type]


def _peer_mean(table: dict[str, object]) -> float | None:
    medians = [
        m
        for row in table["rows"]  # type: ignore[attr-defined]
        if not row.get("ours") and not row.get("floor")
        if (m := _row_median(row)) is not None
    ]
    return statistics.fmean(medians) if medians else None


def _ours(table: dict[str, object]) -> list[dict[str, object]]:
    return [row for row in table["rows"] if row.get("ours")]  # type: ignore[attr-defined]


def _figures(
    runs: list[dict[str, dict[str, object]]], key: str, name: str, index: int
) -> tuple[list[float], list[float]]:
    raw: list[float] = []
    normalised: list[float] = []
    for tables in runs:
        table = tables.get(key)
        if table is None:
            continue
        ours = _ours(table)
        row = next((r for r in ours if r["name"] == name), None)
        if row is None and index < len(ours):
            row = ours[index]
        median = None if row is None else _row_median(row)
        if median is None:
            continue
        raw.append(median)
        peers = _peer_mean(table)
        if peers:
            normalised.append(median / peers)
    return raw, normalised


def _quotient(head: list[float], base: list[float]) -> float | None:
    if not head or not base:
        return None
    return statistics.median(head) / statistics.median(base)


def report(
    base_runs: list[dict[str, dict[str, object]]], head_runs: list[dict[str, dict[str, object]]]
) -> list[tuple[str, str, float | None, float | None, float | None, float | None]]:
    """One line per (table, our row): base median, head median, quotient, normalised."""
    lines = []
    for key, table in head_runs[-1].items():
        for index, row in enumerate(_ours(table)):
            name = str(row["name"])
            head_raw, head_norm = _figures(head_runs, key, name, index)
            base_raw, base_norm = _figures(base_runs, key, name, index)
            lines.append(
                (
                    key,
                    name,
                    statistics.median(base_raw) if base_raw else None,
                    statistics.median(head_raw) if head_raw else None,
                    _quotient(head_raw, base_raw),
                    _quotient(head_norm, base_norm),
                )
            )
    return lines


def _fmt(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run both trees in turn, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the git revision to compare with")
    parser.add_argument("--runs", type=int, default=3, help="runs of each tree (default 3)")
    parser.add_argument("--fail-above", type=float, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="folder for the runs' output")
    args, extra = parser.parse_known_args(argv)
    if not 1 <= args.runs <= 20:
        parser.error("--runs takes 1 to 20")
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        work = args.keep or Path(tmp)
        base_tree = Path(tmp) / "base"
        base_tree.mkdir()
        _export(args.base, base_tree)
        base_runs, head_runs = [], []
        for i in range(args.runs):
            _run(base_tree, work / f"base-{i}", extra)
            base_runs.append(_tables(work / f"base-{i}"))
            _run(ROOT, work / f"head-{i}", extra)
            head_runs.append(_tables(work / f"head-{i}"))
    lines = report(base_runs, head_runs)
    print("\n| table | row | base | head | head/base | head/base, ÷ peers |")
    print("|---|---|---:|---:|---:|---:|")
    worst = 0.0
    for key, name, base, head, quotient, normalised in lines:
        print(
            f"| {key} | {name} | {_fmt(base, 2)} | {_fmt(head, 2)} "
            f"| {_fmt(quotient)} | {_fmt(normalised)} |"
        )
        if normalised is not None:
            worst = max(worst, normalised)
    if args.fail_above is not None and worst > args.fail_above:
        print(f"slowest normalised quotient {worst:.3f} > {args.fail_above}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
