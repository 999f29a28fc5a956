"""What the retry tests share: a counting random source, ``decide`` (``decide_retry`` with
defaults), headers by keyword, and the error lists."""

from __future__ import annotations

import random

from sdk_core import APIError, Request, Response, RetryDecision, RetryPolicy, decide_retry

URL = "https://api.example.com/v1/things"
GET = Request("GET", URL)


class CountingRandom:
    """A RandomSource that returns a fixed value and counts the draws."""

    def __init__(self, value: float = 0.5) -> None:
        self.value = value
        self.draws = 0

    def random(self) -> float:
        self.draws += 1
        return self.value

    def getrandbits(self, k: int, /) -> int:
        self.draws += 1
        return 0


def decide(
    outcome: Response | APIError,
    request: Request = GET,
    *,
    policy: RetryPolicy | None = None,
    attempt: int = 1,
    rng: CountingRandom | random.Random | None = None,
    **kwargs: object,
) -> RetryDecision:
    return decide_retry(
        policy or RetryPolicy(),
        request,
        outcome,
        attempt=attempt,
        rng=rng or random.Random(0),
        **kwargs,  # type: ignore[arg-type]
    )
