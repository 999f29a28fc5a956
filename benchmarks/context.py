"""What every suite gets: the configuration, the progress printer and the nginx server."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from .config import BenchConfig
from .nginx import NginxServer
from .progress import Progress

__all__ = ["Context", "on_another_cpu"]


@dataclass
class Context:
    """The shared state of one run. ``notes`` collects remarks for the report."""

    config: BenchConfig
    progress: Progress
    server: NginxServer
    python: str = sys.executable
    notes: list[str] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def on_another_cpu(config: BenchConfig) -> Iterator[bool]:
    """Move this process off nginx's CPU for the block (the separate-CPU tables) and
    back after it. Yields False, moving nothing, unless the run pins both to one CPU
    (``--cpu-mode same``) and another CPU may be used."""
    if config.cpu_mode != "same" or not hasattr(os, "sched_setaffinity"):
        yield False
        return
    cpus = sorted(os.sched_getaffinity(0))
    others = [cpu for cpu in range(os.cpu_count() or 1) if cpu not in cpus]
    moved = False
    if len(cpus) == 1 and others:
        try:
            os.sched_setaffinity(0, {others[0]})
            moved = True
        except OSError:  # that CPU is not ours to use
            pass
    try:
        yield moved
    finally:
        if moved:
            os.sched_setaffinity(0, set(cpus))
