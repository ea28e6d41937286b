"""In-process wake-ups: due keys are called once, the earliest wake-up wins, and the first
caller's context is the one they run in; a key waits for a free worker, first ones ahead."""

import contextvars
import queue
import threading
import time
from datetime import UTC, datetime, timedelta

from tenant_backup.core.waker import WORKERS, Waker

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


def test_keys_wait_in_order_for_a_free_worker_and_first_ones_go_ahead() -> None:
    released = {f"busy{n}": threading.Event() for n in range(WORKERS)}
    woken: queue.Queue[str] = queue.Queue()

    def wake(key: str) -> None:
        woken.put(key)
        if key in released:
            released[key].wait(TIMEOUT)

    waker: Waker[str] = Waker(wake)
    for key in released:
        waker.soon(key)
    assert {woken.get(timeout=TIMEOUT) for _ in released} == set(released)  # all workers held
    for key in ("a", "b", "c"):
        waker.soon(key)
    waker.first("slot-1")
    waker.first("slot-2")
    waker.first("a")  # pending already: moved ahead, still woken once
    time.sleep(0.2)
    assert woken.empty(), "a key ran with no worker free"
    released["busy0"].set()  # one worker free: the keys run one after another
    order = [woken.get(timeout=TIMEOUT) for _ in range(5)]
    assert order == ["slot-1", "slot-2", "a", "b", "c"]
    for event in released.values():
        event.set()
    time.sleep(0.3)
    assert woken.empty(), "a key was woken twice"
