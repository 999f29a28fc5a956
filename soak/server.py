"""The soak's server process: hypercorn serving ``SoakApp``, behind ``FaultProxy``.

``python -m soak.server --seed N`` prints one JSON line ``{"proxy": url, "direct": url}``
and serves until its stdin closes (or ``--max-seconds`` pass), then stops both and
exits. ``GET {direct}/__soak/stats?run=NAME`` reports the app's and the proxy's counters.
"""

from __future__ import annotations

import argparse
import json
import select
import sys
import time
from typing import Any

from sdk_transports.testing import run_server

from .app import SoakApp
from .proxy import FaultProxy, FaultRates


class _StatsApp(SoakApp):
    """``SoakApp`` whose stats also carry the proxy's fault counters."""

    proxy: FaultProxy | None = None

    def _stats(self, run: str) -> dict[str, int]:
        stats = super()._stats(run)
        if self.proxy is not None:
            stats.update({f"proxy_{k}": v for k, v in self.proxy.snapshot().items()})
        return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soak.server")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--status-rate", type=float, default=0.1)
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    args = parser.parse_args(argv)
    app = _StatsApp(seed=args.seed, status_rate=args.status_rate)
    with run_server(app) as server:
        proxy = FaultProxy(("127.0.0.1", server.port), seed=args.seed + 1, rates=FaultRates())
        app.proxy = proxy.start()
        try:
            info: dict[str, Any] = {"proxy": proxy.url, "direct": server.url}
            print(json.dumps(info), flush=True)
            end = time.monotonic() + args.max_seconds
            while time.monotonic() < end:
                ready, _, _ = select.select([sys.stdin], [], [], 1.0)
                if ready and not sys.stdin.readline():
                    break  # stdin closed: the driver is done
        finally:
            proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
