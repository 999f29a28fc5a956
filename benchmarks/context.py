"""What every suite gets: the configuration, the progress printer and the nginx server."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from .config import BenchConfig
from .nginx import NginxServer
from .progress import Progress

__all__ = ["Context"]


@dataclass
class Context:
    """The shared state of one run. ``notes`` collects remarks for the report."""

    config: BenchConfig
    progress: Progress
    server: NginxServer
    python: str = sys.executable
    notes: list[str] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)
