"""In-process wake-ups: due keys are called once, the earliest wake-up wins, and the first
caller's context is the one they run in."""

import contextvars
import queue
import time
from datetime import UTC, datetime, timedelta

from tenant_backup.core.waker import Waker

CALLER = contextvars.ContextVar[str]("caller")
TIMEOUT = 10.0


def test_a_key_is_woken_once_at_its_earliest_time_in_the_first_callers_context() -> None:
    woken: queue.Queue[tuple[str, str, float]] = queue.Queue()
    waker: Waker[str] = Waker(lambda key: woken.put((key, CALLER.get("none"), time.time())))
    CALLER.set("handler")
    soon = datetime.now(UTC) + timedelta(seconds=0.3)
    waker.at("b", soon + timedelta(hours=1))
    waker.at("b", soon)  # earlier: replaces the later one
    waker.at("b", soon + timedelta(hours=2))  # later than the pending one: ignored
    CALLER.set("another handler")
    waker.soon("a")
    first = woken.get(timeout=TIMEOUT)
    second = woken.get(timeout=TIMEOUT)
    # Every wake-up runs in the first caller's context: none holds its caller's objects.
    assert (first[0], first[1]) == ("a", "handler")
    assert (second[0], second[1]) == ("b", "handler")
    assert second[2] >= soon.timestamp()
    time.sleep(0.5)
    assert woken.empty(), "a key was woken twice"


def test_a_sweep_wakes_every_key_named_each_period_in_the_first_callers_context() -> None:
    woken: queue.Queue[tuple[str, str]] = queue.Queue()
    waker: Waker[str] = Waker(lambda key: woken.put((key, CALLER.get("none"))))
    named = ["a", "b"]
    CALLER.set("handler")
    waker.sweep(0.2, lambda: list(named))
    CALLER.set("later")
    waker.sweep(0.01, lambda: ["c"])  # started already: ignored
    assert {woken.get(timeout=TIMEOUT) for _ in range(2)} == {("a", "handler"), ("b", "handler")}
    named[:] = ["b"]
    time.sleep(0.5)  # past any round that began before
    while not woken.empty():
        woken.get()
    time.sleep(0.5)
    later = set()
    while not woken.empty():
        later.add(woken.get())
    assert later == {("b", "handler")}
