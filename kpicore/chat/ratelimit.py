"""``[chat] rate_limit``: at most so many ``/kpi`` commands per user per minute."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` commands per user in any ``per`` seconds."""

    def __init__(self, limit: int, per: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.per, self.clock = limit, per, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, user: str) -> float:
        """0 when ``user`` may go ahead now (and counts it); else the seconds until they may."""
        now = self.clock()
        with self._lock:
            seen = self._seen.setdefault(user, deque())
            while seen and seen[0] <= now - self.per:
                seen.popleft()
            if len(seen) >= self.limit:
                return max(0.1, seen[0] + self.per - now)
            seen.append(now)
            return 0.0
