"""The one exponential backoff every retry site uses (shop writes, jobs, webhooks, HO downloads)."""

from __future__ import annotations

import random


def backoff_delay(
    attempt: int,
    *,
    base: float,
    factor: float = 2.0,
    cap: float | None = None,
    jitter: tuple[float, float] = (0.5, 1.5),
) -> float:
    """Seconds to wait before retry number ``attempt`` (1 for the first retry).

    ``base * factor ** (attempt - 1)``, capped at ``cap``, times a random factor drawn from
    ``jitter`` so that clients failing together do not retry together.
    """
    delay = base * factor ** max(0, attempt - 1)
    if cap is not None:
        delay = min(cap, delay)
    return delay * random.uniform(*jitter)
