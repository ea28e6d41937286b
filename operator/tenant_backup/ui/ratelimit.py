"""A per-user limit on creations: at most `limit` in any `window` seconds (sliding)."""

from collections import deque
from collections.abc import Callable
from time import monotonic


class RateLimiter:
    """Counts each user's recent creations; refuses once they reach the limit."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = monotonic) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._recent: dict[str, deque[float]] = {}

    def allow(self, user: str) -> bool:
        """Count one creation by `user` if under the limit; whether it may go ahead."""
        now = self._clock()
        recent = self._recent.setdefault(user, deque())
        while recent and now - recent[0] >= self._window:
            recent.popleft()
        if len(recent) >= self._limit:
            return False
        recent.append(now)
        return True

    def retry_after(self, user: str) -> int:
        """Whole seconds until `user` may create again (0: now)."""
        recent = self._recent.get(user)
        if not recent or len(recent) < self._limit:
            return 0
        return max(0, int(recent[0] + self._window - self._clock()) + 1)
