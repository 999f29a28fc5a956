"""A small soak (``make soak`` at 250 calls per transport and loop, 1,500 in all).

Every transport (the project's own and the httpcore ones) on threads, asyncio and trio
goes through ``soak.proxy.FaultProxy`` (resets, stalls, truncations) in front of
hypercorn serving ``soak.app.SoakApp`` (5xx and 429 answers), and must keep the soak's
invariants: each call succeeds or raises an ``SDKError``; none outlives its deadline by
more than ``SLACK``; the pool ends with nothing in use or waiting; no POST's effect is
applied twice; RSS stays under ``RSS_BOUND``. The one documented exception, httpcore's
slot leaked on cancellation (httpcore#1093), is an xfail with the reason, never a pass.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from soak.driver import COMBOS, DEADLINE, SLACK, Combo, RunResult, run_soak

pytestmark = pytest.mark.integration

CALLS_PER_COMBO = 250


@pytest.fixture(scope="module")
def soak_results() -> dict[Combo, RunResult]:
    results = run_soak(CALLS_PER_COMBO, seed=7, cap=60.0)
    return {result.combo: result for result in results}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("combo", COMBOS, ids=lambda c: f"{c.transport}-{c.loop}")
def test_soak_invariants(soak_results: dict[Combo, RunResult], combo: Combo) -> None:
    result = soak_results[combo]
    assert result.calls == CALLS_PER_COMBO
    assert not result.unexpected, "\n".join(result.unexpected)
    assert result.max_duration <= DEADLINE + SLACK, result.max_duration
    assert result.server["calls_applied_twice"] == 0
    assert result.server["keys_applied_twice"] == 0
    assert result.server["posts_without_key_total"] == 0
    assert result.successes + sum(result.errors.values()) == result.calls
    assert result.failures == []
    if result.known_gap is not None:
        assert not combo.own, "the project's own transports have no known gaps"
        pytest.xfail(result.known_gap)
    assert result.stats is not None
    assert (result.stats.in_use, result.stats.waiting) == (0, 0)
    assert result.verdict == "PASS"
