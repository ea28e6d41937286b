"""Telegram's flood limits as the runner keeps them: its own calls to one chat paced, and one
budget of time per run for waiting out HTTP 429 (`retry_after`) beyond that.

The Bot API FAQ ("My bot is hitting limits, how do I avoid this?") asks bots to send at most
about one message per second to one chat and at most 20 messages per minute to one group;
python-telegram-bot's wiki (Avoiding flood limits) adds that the group limit applies to
channels too. The exact limits are not published and change, so 429s still happen (another
Job posting to the same chat shares its budget): they are waited out as long as the run's
budget lasts.
"""

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ChatLimits:
    """At most one call every `interval` seconds, and at most `burst` calls in any
    `window` seconds."""

    interval: float
    burst: int
    window: float


PRIVATE_CHAT = ChatLimits(interval=1.0, burst=60, window=60.0)
GROUP_CHAT = ChatLimits(interval=1.0, burst=20, window=60.0)  # groups, supergroups, channels


def chat_limits(chat_type: str) -> ChatLimits:
    """The limits for a chat of getChat's `type`; a group's where unsure."""
    return PRIVATE_CHAT if chat_type == "private" else GROUP_CHAT


class Pacer:
    """Spaces the calls to one chat by its limits; `mark` each call when its reply arrives
    (the server counted it by then)."""

    def __init__(
        self, limits: ChatLimits = GROUP_CHAT, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._replies: deque[float] = deque()

    def delay(self) -> float:
        """Seconds to wait before the next call."""
        if not self._replies:
            return 0.0
        now = self._clock()
        ready = self._replies[-1] + self.limits.interval
        if len(self._replies) >= self.limits.burst:
            ready = max(ready, self._replies[-self.limits.burst] + self.limits.window)
        return max(0.0, ready - now)

    def mark(self) -> None:
        """Note a call answered now."""
        self._replies.append(self._clock())
        while len(self._replies) > self.limits.burst:
            self._replies.popleft()


class WaitBudget:
    """The seconds one run may spend waiting out HTTP 429 replies, all calls together."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self.spent = 0.0

    def take(self, retry_after: float) -> bool:
        """Spend `retry_after` seconds if that many are left."""
        if self.spent + retry_after > self.seconds:
            return False
        self.spent += retry_after
        return True

    def describe(self) -> str:
        """What was spent of what, for a failure's message."""
        return f"{math.ceil(self.spent)} of the run's {self.seconds} s for rate-limit waits spent"
