"""Polling helper with an explicit deadline, shared by devenv and the tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeoutError(AssertionError):
    """Raised when a condition did not hold before its deadline."""


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float,
    message: str | Callable[[], str],
    *,
    interval: float = 0.2,
    ignore: tuple[type[Exception], ...] = (),
) -> T:
    """Call `predicate` until it returns a truthy value and return that value.

    Exceptions of the types in `ignore` count as "not yet" (the last one is chained
    to the timeout error); any other exception propagates at once. `message` may be
    a callable, evaluated only on timeout, to describe the state at that moment.
    """
    deadline = time.monotonic() + timeout
    last_value: object = None
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
        except ignore as error:
            last_error = error
        else:
            if value:
                return value
            last_value = value
            last_error = None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            text = message() if callable(message) else message
            detail = f" (last error: {last_error!r})" if last_error else f" (last: {last_value!r})"
            raise WaitTimeoutError(f"timed out after {timeout:g}s: {text}{detail}") from last_error
        time.sleep(min(interval, remaining))
