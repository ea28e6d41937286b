"""Tries with exponential backoff, for deliveries that may fail transiently."""

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A notification was not accepted; `retryable` if trying again may help. The message
    must be safe to show: no credentials, no secret URLs."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def with_retries(
    send: Callable[[], str],
    attempts: int,
    backoff_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """`send()`'s result, trying up to `attempts` times while it raises a retryable
    DeliveryError, waiting `backoff_seconds` then twice as long each time. The last error is
    raised, its message saying how many tries were made."""
    for attempt in range(1, attempts + 1):
        try:
            return send()
        except DeliveryError as error:
            if not error.retryable or attempt == attempts:
                raise DeliveryError(
                    f"{error} (try {attempt} of {attempts})", retryable=error.retryable
                ) from error
            wait = backoff_seconds * 2 ** (attempt - 1)
            log.info("try %d of %d failed (%s); next in %gs", attempt, attempts, error, wait)
            sleep(wait)
    raise AssertionError("unreachable: attempts >= 1")
